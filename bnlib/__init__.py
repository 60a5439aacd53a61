"""bnlib: batch normalization, exact and explained.

A small numpy package behind the notebooks of this course. Importing it is instant: each name below is
loaded from its module the first time it is used, and torch and matplotlib are imported only by the
functions that need them.

Modules (one concept each):
    batchnorm    forward, staged and compact backward, the BatchNorm layer with running statistics
    layernorm    layer norm, group norm and instance norm, for contrast
    gradcheck    centred-difference numeric gradients to check a backward pass
    renorm       batch renormalization, for small batches
    syncbn       batch norm synchronized across processes (torch.distributed, CPU)
    practice     measurements behind the practice notebook (dropout variance shift, weight norms, small batches)
    data         height/age toy regression, sklearn's bundled digits
    surface      linear-regression loss surfaces over the weights, gradient-descent paths, condition number,
                 the numbers and readouts of the loss-surface figure
    transforms   standardize, min-max, center, whiten; biased vs unbiased variance estimates
    activations  where pre-activations land on sigmoid, tanh and ReLU: saturated and near-linear fractions
    inference    running statistics, folding BN into the previous layer, recalibration, batch noise
    live         the live-figure toolkit (Panel); the panels themselves are in bnlib/panels
    figure_style colours (Okabe–Ito), text sizes, projector mode
    panel_layout where a panel's controls and figure go in a laptop-sized box
    readouts     the numbers under a live figure, in a live region a screen reader announces
    fast_path    what a live figure keeps drawn between updates, so that an update repaints only the data
    figures      the notebooks' static figures (data vs loss, the paper's Figure 1, sweeps, traces)
    experiments  small torch networks on digits
    landscape    internal covariate shift and the loss landscape along the gradient
    scale_invariance  BN(a·W·x) = BN(W·x): gradients orthogonal to W, shrinking as 1/a
    checks       exercise checks with feedback
    training_loop  a hook that shows which statistics each BN call used and how its running ones moved
    diagnostics  activation and gradient histograms, saturation, update-to-data ratios (makemore-style)
    convnet      a small CNN with BatchNorm2d on the 8×8 digits
    token_norms  layer norm and RMSNorm against batch norm on padded sequences
    finetuning   fine-tuning with frozen or updating running statistics
    residual     a tiny residual net with zero-initialized γ
    panels       the live figures of the notebooks, one module per topic
    workspace    learners' own copies of the notebooks, refreshed on course updates, never overwritten
    course       setting up and starting the course on any platform (python -m bnlib.course)
    wheel_platforms  the per-platform wheel sets of an offline install (make wheelhouse)
"""

from importlib import import_module

__version__ = "0.1.0"

# Public name -> module that defines it.
_EXPORTS = {
    "batchnorm_forward": "batchnorm",
    "batchnorm_backward": "batchnorm",
    "batchnorm_backward_compact": "batchnorm",
    "BatchNorm": "batchnorm",
    "reduction_axes": "batchnorm",
    "running_average": "inference",
    "population_statistics": "inference",
    "eval_affine": "inference",
    "fold_batchnorm": "inference",
    "fold_into_linear": "inference",
    "fold_sequential": "inference",
    "recalibrate": "inference",
    "recalibrate_batchnorm": "inference",
    "outputs_in_batches": "inference",
    "layernorm_forward": "layernorm",
    "layernorm_backward": "layernorm",
    "groupnorm_forward": "layernorm",
    "instancenorm_forward": "layernorm",
    "height_age": "data",
    "digits": "data",
    "QuadraticLoss": "surface",
    "Trajectory": "surface",
    "gradient_descent": "surface",
    "excess_loss_curve": "surface",
    "steps_to_converge": "surface",
    "steps_vs_lr": "surface",
    "center": "transforms",
    "standardize": "transforms",
    "minmax_scale": "transforms",
    "whiten": "transforms",
    "transform_by_name": "transforms",
    "FittedTransform": "transforms",
    "HeightAgeData": "data",
    "numerical_gradient": "gradcheck",
    "relative_error": "gradcheck",
    "BatchRenorm": "renorm",
    "batch_renorm_forward": "renorm",
    "batch_renorm_backward": "renorm",
    "torch_batch_renorm": "renorm",
    "sync_batch_norm": "syncbn",
    "torch_sync_batch_norm": "syncbn",
    "run_processes": "syncbn",
    "make_mlp": "experiments",
    "train": "experiments",
    "accuracy": "experiments",
    "learning_rate_sweep": "experiments",
    "init_scale_sweep": "experiments",
    "noisy_batchnorm": "experiments",
    "internal_covariate_shift": "landscape",
    "probe_landscape": "landscape",
    "bn_of_linear": "scale_invariance",
    "bn_of_linear_weight_gradient": "scale_invariance",
    "Panel": "live",
    "Unstable": "live",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'bnlib' has no attribute {name!r}")
    value = getattr(import_module(f"bnlib.{module_name}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
