"""The loss-surface explorer's browser front end: an anywidget whose picture is drawn in the page.

``LossSurfaceWidget`` is what ``LossSurfacePanel`` (bnlib/panels/conditioning.py) displays. Its front end,
``loss_surface.js`` next to this file, is a plain ES module shipped with bnlib (no npm, no bundler, no CDN).
The split of work:

* the kernel computes the **bowl** of a setting (units, offsets, correlation, transform): S, r, q, w*, the
  eigen-decompositions, the view and the axis labels (:func:`bowl_message`), and sends it once per setting;
* the browser computes and draws everything that η/η_max, momentum β and the step count change, on every
  frame of a drag (path, excess-loss curve, steps to converge, "diverges"), with functions that mirror
  bnlib.surface and are tested against it in Chromium to 1e-9;
* the kernel learns a control's value when a slider is released or moved by a key (``values``), so
  ``panel.values``, ``panel.readouts`` and ``panel.set(...)`` keep working.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import numpy as np
import traitlets

from bnlib.live import control_values

ES_MODULE = Path(__file__).with_name("loss_surface.js")


def colormap_bytes(name: str = "viridis_r") -> list[int]:
    """The 256 colours of a matplotlib colormap as [r, g, b, r, g, b, …] (0–255), for the loss image."""
    from matplotlib import colormaps

    rgba = colormaps[name](np.linspace(0.0, 1.0, 256), bytes=True)
    return [int(v) for v in rgba[:, :3].ravel()]


def control_description(name: str, widget) -> dict:
    """What the front end needs to build one native control like an ipywidgets one: kind, label, range."""
    kind, allowed = control_values(widget)
    description = {"name": name, "label": widget.description, "kind": kind}
    if kind == "options":
        description["options"] = list(allowed)
    else:
        description |= {
            "min": allowed[0],
            "max": allowed[1],
            "step": widget.step,
            "integer": isinstance(widget.value, int),
            "decimals": max(0, -int(np.floor(np.log10(widget.step)))) if widget.step < 1 else 0,
        }
    return description


def bowl_message(loss, view, x_label: str, y_label: str, key) -> dict:
    """The bowl of one setting as the front end reads it (plain JSON numbers).

    loss: a two-weight bnlib.surface.QuadraticLoss; view: (x0, x1, y0, y1), the square shown;
    key: anything that names the setting (the front end recomputes its loss image when key or view change).
    Eigen-decompositions are numpy's, so κ and η_max are the kernel's to the last bit.
    """
    s_eigenvalues, s_eigenvectors = np.linalg.eigh(loss.S)  # as surface._gradient_descent_steps
    return {
        "key": repr(key),
        "S": loss.S.tolist(),
        "r": loss.r.tolist(),
        "q": loss.q,
        "minimizer": loss.minimizer.tolist(),
        "start_excess": float(loss.excess_loss(np.zeros(2))),
        "hessian_eigenvalues": loss.eigenvalues.tolist(),
        "s_eigenvalues": s_eigenvalues.tolist(),
        "s_eigenvectors": s_eigenvectors.tolist(),
        "view": [float(v) for v in view],
        "x_label": x_label,
        "y_label": y_label,
    }


class LossSurfaceWidget(anywidget.AnyWidget):
    """The loss-surface explorer in the page: native controls beside a canvas, readouts in a live region.

    Traits synced with the front end:
    controls: [description per control] (see :func:`control_description`), in display order;
    values: {control name: value}, the values the kernel knows (the front end sets them on release);
    drawn_here: names of the controls whose picture the browser computes alone (η, β, steps);
    bowl: :func:`bowl_message` of the current setting, or {"problem": text} when it cannot be drawn;
    colormap: 768 bytes of the loss image's colours; title; text_scale: 1 on a laptop, larger on a projector;
    line_scale: the factor on every line's width and dot's size (1.5 on a projector).
    """

    _esm = ES_MODULE
    title = traitlets.Unicode("").tag(sync=True)
    controls = traitlets.List().tag(sync=True)
    values = traitlets.Dict().tag(sync=True)
    drawn_here = traitlets.List().tag(sync=True)
    bowl = traitlets.Dict().tag(sync=True)
    colormap = traitlets.List().tag(sync=True)
    text_scale = traitlets.Float(1.0).tag(sync=True)
    line_scale = traitlets.Float(1.0).tag(sync=True)
