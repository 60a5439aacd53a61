"""Batch normalization in numpy, exact to PyTorch: forward, two backward passes, and a layer.

Layouts: x of shape (N, D) for a fully connected layer, (N, C, L) for sequences, (N, C, H, W) for images.
Batch norm keeps one mean and one variance per feature/channel (axis 1) and averages over every other
axis: the batch axis 0 and the positions L or H, W (see ``reduction_axes``).

Training-mode math, for one channel with n values x_i (n = N for (N, D), N*L or N*H*W otherwise):

    mean   = (1/n) Σ x_i
    var    = (1/n) Σ (x_i - mean)²          (biased: divide by n, as PyTorch does to normalize)
    invstd = 1 / sqrt(var + eps)
    x̂_i    = (x_i - mean) * invstd
    out_i  = γ x̂_i + β                       (γ sets the spread, β the centre)

Functions: ``batchnorm_forward``, ``batchnorm_backward`` (the staged graph, node by node),
``batchnorm_backward_compact`` (closed form, the fast one). Layer: ``BatchNorm`` with running statistics,
``train()``/``eval()`` and PyTorch's semantics.

Explained in notebooks/03_batchnorm_layer.ipynb
"""

import math

import numpy as np

from bnlib._validation import (
    LAYOUTS,
    as_float_array,
    check_batch,
    check_dout,
    check_eps,
    check_momentum,
    check_more_than_one_value,
    check_num_features,
    check_param,
    check_positive_int,
    raise_for_nonfinite,
)


def reduction_axes(ndim):
    """Axes that batch norm averages over for an input with ``ndim`` dimensions.

    Every axis except the channel axis 1: (0,) for (N, D), (0, 2) for (N, C, L), (0, 2, 3) for (N, C, H, W).
    So the statistics are per feature/channel, taken across the mini-batch (and across positions).
    """
    if ndim not in LAYOUTS:
        raise ValueError(
            f"batch norm handles 2, 3 or 4 dimensions {tuple(LAYOUTS.values())}, got ndim={ndim}."
        )
    return (0,) + tuple(range(2, ndim))


def channel_shape(ndim, num_channels):
    """Shape that lines a per-channel vector up with axis 1 for broadcasting: e.g. (1, C, 1, 1)."""
    return (1, num_channels) + (1,) * (ndim - 2)


def values_per_channel(shape, axes):
    """Number of values averaged into one statistic: the product of the reduced axes' lengths."""
    return math.prod(shape[axis] for axis in axes)


def normalize_over_axes(x, axes, eps):
    """Subtract the mean and divide by sqrt(var + eps) over ``axes``; the shared core of every norm here.

    x: float array; axes: tuple of axes to average over; eps: positive float.
    Returns a dict with the nodes of the computation (statistics keep their axes, size 1, for broadcasting):
    ``mean``, ``centered``, ``var`` (biased), ``invstd``, ``x_hat``.
    Raises ValueError naming the feature/channel when x holds NaN or inf.
    """
    n = values_per_channel(x.shape, axes)
    # NaN or inf anywhere in a channel makes its variance NaN or inf (inf − inf = NaN), so checking the
    # variance is enough, and much cheaper than scanning x first. Sums divided by n: the mean without
    # np.mean's per-call overhead.
    with np.errstate(invalid="ignore", over="ignore"):
        mean = x.sum(axis=axes, keepdims=True) / n  # node 1: mean
        centered = x - mean  # node 2: centered
        x_hat = np.square(centered)  # scratch for the squares; holds x̂ from node 5 on (one buffer, not two)
        var = x_hat.sum(axis=axes, keepdims=True) / n  # node 3: var (biased, divide by n)
    if not np.isfinite(var).all():
        raise_for_nonfinite(x, axes)
    invstd = 1.0 / np.sqrt(var + eps)  # node 4: invstd
    np.multiply(centered, invstd, out=x_hat)  # node 5: x̂ = centered · invstd
    return {"mean": mean, "centered": centered, "var": var, "invstd": invstd, "x_hat": x_hat}


def _check_input(x):
    """Validate a batch-norm input; return it as a float array."""
    x = as_float_array(x)
    check_batch(x)
    return x


def _channel_params(x, gamma, beta):
    """Check γ and β against x's channel count; return them shaped to broadcast over x, in x's dtype."""
    num_channels = x.shape[1]
    shape = channel_shape(x.ndim, num_channels)
    gamma = check_param(gamma, (num_channels,), "gamma", x.dtype).reshape(shape)
    beta = check_param(beta, (num_channels,), "beta", x.dtype).reshape(shape)
    return gamma, beta


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Batch norm forward pass with batch statistics (training mode).

    x: array of shape (N, D), (N, C, L) or (N, C, H, W), float32 or float64.
    gamma, beta: arrays of shape (D,) or (C,): the learned spread and centre of each feature/channel.
    eps: positive float added to the variance.
    Returns (out, cache): out has x's shape and dtype; cache is a dict of the graph's nodes for the backward
    passes: ``x_hat`` and ``centered`` (x's shape); ``mean``, ``var`` (biased), ``invstd`` and ``gamma``
    shaped to broadcast over x, e.g. (1, C, 1, 1); ``eps``; ``axes`` (the reduced axes).

    Explained in notebooks/03_batchnorm_layer.ipynb
    """
    x = _check_input(x)
    eps = check_eps(eps, positive=True)
    axes = reduction_axes(x.ndim)
    check_more_than_one_value(x, axes)
    gamma, beta = _channel_params(x, gamma, beta)

    cache = normalize_over_axes(x, axes, eps)  # nodes 1-5: mean -> centered -> var -> invstd -> x̂
    out = cache["x_hat"] * gamma  # node 6: out = γ x̂ + β
    out += beta
    cache.update(gamma=gamma, eps=eps, axes=axes)
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass through the staged graph, one node at a time (the way it is derived by hand).

    dout: upstream gradient dL/dout, same shape as the forward output.
    cache: from ``batchnorm_forward``.
    Returns (dx, dgamma, dbeta): dx of x's shape and dtype, dgamma and dbeta of shape (D,) or (C,).

    Forward graph (per channel, n values):  1 mean = Σx/n   2 centered = x - mean   3 var = Σcentered²/n
    4 invstd = (var + eps)^(-1/2)   5 x̂ = centered · invstd   6 out = γ x̂ + β.
    Each line below applies the chain rule to one node, from 6 back to 1. A node used twice (centered feeds
    nodes 3 and 5, x feeds nodes 1 and 2) collects the gradient from both uses.

    Explained in notebooks/03_batchnorm_layer.ipynb
    """
    x_hat, centered, invstd, gamma, axes = (
        cache[k] for k in ("x_hat", "centered", "invstd", "gamma", "axes")
    )
    dout = check_dout(dout, x_hat.shape, x_hat.dtype)
    n = values_per_channel(x_hat.shape, axes)

    dbeta = dout.sum(axis=axes)  # node 6: out = γ x̂ + β  ->  dβ = Σ dout
    dgamma = (dout * x_hat).sum(axis=axes)  # node 6: dγ = Σ dout · x̂
    dx_hat = dout * gamma  # node 6: dx̂ = γ · dout
    dinvstd = (dx_hat * centered).sum(axis=axes, keepdims=True)  # node 5: x̂ = centered · invstd
    dcentered = dx_hat * invstd  # node 5: first path into centered
    dvar = -0.5 * invstd**3 * dinvstd  # node 4: invstd = (var + eps)^(-1/2)
    dcentered += (2.0 / n) * centered * dvar  # node 3: var = Σ centered² / n, second path into centered
    dmean = -dcentered.sum(axis=axes, keepdims=True)  # node 2: centered = x - mean  ->  dmean = -Σ dcentered
    dx = dcentered + dmean / n  # nodes 2 and 1: x reaches out directly and through mean = Σ x / n
    return dx, dgamma, dbeta


def batchnorm_backward_compact(dout, cache):
    """Backward pass in closed form: the same gradients as ``batchnorm_backward``, in a few array passes.

    dout: upstream gradient dL/dout, same shape as the forward output.
    cache: from ``batchnorm_forward``.
    Returns (dx, dgamma, dbeta) with the same shapes and dtypes as ``batchnorm_backward``.

    With n values per channel and dy = dout:

        dβ = Σ dy        dγ = Σ dy · x̂        dx = (γ · invstd / n) · (n · dy − Σ dy − x̂ · Σ (dy · x̂))

    Read per channel, the bracket is n times dy with its mean removed and its component along x̂ removed:
    shifting a channel's inputs or scaling them does not change x̂, so the gradient can have no part along
    those two directions (the constant vector and x̂ itself). What is left is scaled by γ · invstd.

    Explained in notebooks/03_batchnorm_layer.ipynb
    """
    x_hat, invstd, gamma, axes = (cache[k] for k in ("x_hat", "invstd", "gamma", "axes"))
    dy = check_dout(dout, x_hat.shape, x_hat.dtype)
    n = values_per_channel(x_hat.shape, axes)

    dbeta = dy.sum(axis=axes, keepdims=True)
    dx = dy * x_hat  # the products dy·x̂; the same buffer then becomes dx, so only one array is allocated
    dgamma = dx.sum(axis=axes, keepdims=True)

    # dx = (γ·invstd) · (dy − (Σdy + x̂·Σ(dy·x̂)) / n), built in place.
    np.multiply(x_hat, dgamma / n, out=dx)
    dx += dbeta / n
    np.subtract(dy, dx, out=dx)
    dx *= gamma * invstd
    return dx, dgamma.reshape(-1), dbeta.reshape(-1)


def _forward_with_fixed_stats(x, mean, var, gamma, beta, eps):
    """Normalize with given per-channel statistics (eval mode): an affine map of x, valid for one example.

    x: array of shape (N, C, ...); mean, var, gamma, beta: arrays of shape (C,).
    Returns (out, cache) where the cache serves ``_fixed_stats_backward``.
    """
    gamma, beta = _channel_params(x, gamma, beta)
    axes = reduction_axes(x.ndim)
    if not np.isfinite(x).all():
        raise_for_nonfinite(x, axes)
    shape = channel_shape(x.ndim, x.shape[1])
    with np.errstate(divide="ignore"):
        invstd = 1.0 / np.sqrt(var.astype(x.dtype).reshape(shape) + eps)
    if not np.isfinite(invstd).all():
        zero = np.flatnonzero(~np.isfinite(invstd))
        raise ValueError(
            f"running_var + eps is 0 in channel(s) {zero.tolist()}: division by zero; use eps > 0 "
            "(e.g. eps=1e-5)."
        )
    x_hat = (x - mean.astype(x.dtype).reshape(shape)) * invstd
    out = x_hat * gamma
    out += beta
    return out, {"x_hat": x_hat, "invstd": invstd, "gamma": gamma, "axes": axes}


def _fixed_stats_backward(dout, cache):
    """Backward pass of the eval-mode affine map out = γ (x − mean) · invstd + β with constant statistics."""
    x_hat, invstd, gamma, axes = (cache[k] for k in ("x_hat", "invstd", "gamma", "axes"))
    dout = check_dout(dout, x_hat.shape, x_hat.dtype)
    dx = dout * (gamma * invstd)
    return dx, (dout * x_hat).sum(axis=axes), dout.sum(axis=axes)


class BatchNorm:
    """Batch-norm layer with learnable γ, β and running statistics, with PyTorch's semantics to the letter.

    Works for inputs of shape (N, D) (like torch.nn.BatchNorm1d), (N, C, L) (BatchNorm1d) and
    (N, C, H, W) (BatchNorm2d); num_features is D or C.

    Training mode (``train()``, the default): normalize with the batch's statistics (biased variance) and,
    when tracking, update  running = (1 − momentum)·running + momentum·batch, where running_var takes the
    *unbiased* batch variance (times n/(n − 1), n = values per channel) and ``num_batches_tracked`` grows by
    one. momentum=None averages all batches so far (factor 1/num_batches_tracked).
    Eval mode (``eval()``): normalize with the running statistics, an affine map that works for a single
    example. With track_running_stats=False there are no running buffers and both modes use batch statistics.

    A call that raises leaves the layer exactly as it was (buffers, counter, cached forward).

    Attributes: ``gamma``/``beta`` (aliases ``weight``/``bias``; None when affine=False), ``running_mean``,
    ``running_var``, ``num_batches_tracked`` (None when not tracking), ``training``, and after ``backward``
    ``dgamma``/``dbeta``.

    Explained in notebooks/03_batchnorm_layer.ipynb
    """

    def __init__(
        self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=np.float64
    ):
        self.num_features = check_positive_int(num_features, "num_features")
        self.eps = eps
        self.momentum = momentum
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"dtype must be a float type such as np.float64 or np.float32, got {self.dtype}.")
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        self.training = True
        self.gamma = np.ones(self.num_features, self.dtype) if self.affine else None
        self.beta = np.zeros(self.num_features, self.dtype) if self.affine else None
        self.dgamma = self.dbeta = None
        self.running_mean = self.running_var = self.num_batches_tracked = None
        self.reset_running_stats()
        self._cache = None

    # Validated on every assignment, so a bad value is caught where it is set, not at the next forward.
    @property
    def eps(self):
        return self._eps

    @eps.setter
    def eps(self, value):
        self._eps = check_eps(value)

    @property
    def momentum(self):
        return self._momentum

    @momentum.setter
    def momentum(self, value):
        self._momentum = check_momentum(value)

    # PyTorch's names for γ and β.
    @property
    def weight(self):
        return self.gamma

    @weight.setter
    def weight(self, value):
        self.gamma = value

    @property
    def bias(self):
        return self.beta

    @bias.setter
    def bias(self, value):
        self.beta = value

    def reset_running_stats(self):
        """Running mean 0, running variance 1, counter 0 (no-op when not tracking)."""
        if self.track_running_stats:
            self.running_mean = np.zeros(self.num_features, self.dtype)
            self.running_var = np.ones(self.num_features, self.dtype)
            self.num_batches_tracked = 0

    def train(self, mode=True):
        """Switch to training mode (batch statistics); returns self."""
        self.training = bool(mode)
        return self

    def eval(self):
        """Switch to eval mode (running statistics when tracking); returns self."""
        return self.train(False)

    def __repr__(self):
        return (
            f"BatchNorm({self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats})"
        )

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        """Normalize x of shape (N, D), (N, C, L) or (N, C, H, W); returns an array of x's shape and dtype."""
        x = _check_input(x)
        check_num_features(x, self.num_features)
        gamma, beta = self._params_for(x)
        if self.training or not self.track_running_stats:
            out, cache = batchnorm_forward(x, gamma, beta, self.eps)
            if self.training and self.track_running_stats:
                self._update_running_stats(cache)
            cache["mode"] = "batch"
        else:
            out, cache = _forward_with_fixed_stats(
                x, self.running_mean, self.running_var, gamma, beta, self.eps
            )
            cache["mode"] = "fixed"
        self._cache = cache
        return out

    def backward(self, dout):
        """Gradient of the loss with respect to the last forward's input; stores ``dgamma`` and ``dbeta``.

        dout: array of the forward output's shape. Returns dx of the same shape and dtype.
        """
        if self._cache is None:
            raise RuntimeError(
                "backward needs the cache of a forward pass: call layer(x) before layer.backward(dout)."
            )
        if self._cache["mode"] == "batch":
            dx, dgamma, dbeta = batchnorm_backward_compact(dout, self._cache)
        else:
            dx, dgamma, dbeta = _fixed_stats_backward(dout, self._cache)
        if self.affine:
            self.dgamma, self.dbeta = dgamma.astype(self.dtype), dbeta.astype(self.dtype)
        return dx

    def _params_for(self, x):
        """γ and β of shape (C,) in x's dtype: the learned ones, or 1 and 0 when affine=False."""
        if self.affine:
            return self.gamma, self.beta
        ones = np.ones(self.num_features, x.dtype)
        return ones, np.zeros_like(ones)

    def _update_running_stats(self, cache):
        """Blend the batch statistics into the running ones: running = (1 − f)·running + f·batch.

        f = momentum, or 1/num_batches_tracked when momentum is None (cumulative average).
        """
        n = values_per_channel(cache["x_hat"].shape, cache["axes"])
        batch_mean = cache["mean"].reshape(-1).astype(self.dtype)
        unbiased_var = cache["var"].reshape(-1).astype(self.dtype) * (n / (n - 1))
        count = self.num_batches_tracked + 1
        factor = 1.0 / count if self.momentum is None else self.momentum
        self.running_mean = (1.0 - factor) * self.running_mean + factor * batch_mean
        self.running_var = (1.0 - factor) * self.running_var + factor * unbiased_var
        self.num_batches_tracked = count
