"""Screenshots of live panels for the README (`make screenshots`), taken the way a learner sees them.

    python -m coursetools.screenshots                  # every shot below, into docs/images/
    python -m coursetools.screenshots gamma_beta       # only the shots whose file name contains this
    python -m coursetools.screenshots --colour-vision  # also as seen with protanopia and deuteranopia

Each notebook is opened in JupyterLab in Debian's Chromium (coursetools/browser/harness.py) at a laptop's 1366×768
with the file browser open, run with Run All, and one live panel (title, controls, figure and readouts) is
saved as a PNG element screenshot, in JupyterLab's light theme or, for the shots marked so, its dark theme.
Files are reduced to a 256-colour palette when larger than the README budget of 200 KB. With
--colour-vision, each shot is also written as a viewer with protanopia or deuteranopia sees it, under
.cache/colour-vision/, for checking by eye that no contrast is lost.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coursetools.browser.fit import LAPTOP, live_outputs, show_screen
from coursetools.browser.harness import JupyterLab, LabNotebook, chromium
from coursetools.paths import NOTEBOOKS, ROOT

IMAGES = ROOT / "docs" / "images"
COLOUR_VISION = ROOT / ".cache" / "colour-vision"
MAX_BYTES = 200_000
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


def choose(description: str, option: str) -> Callable:
    """An action that picks ``option`` in the panel's dropdown labelled ``description``, as a learner does."""

    def act(panel) -> None:
        panel.get_by_label(description, exact=True).select_option(option)

    return act


@dataclass
class Shot:
    file: str  # PNG name in docs/images/
    notebook: str  # relative to notebooks/
    panel: int  # index of the panel among the notebook's live outputs (ipympl or page-drawn), in order
    shows: str  # what the picture shows, for the README
    action: Callable | None = None  # done on the panel before the picture is taken
    theme: str = "light"  # JupyterLab's theme: "light" or "dark"


SHOTS = [
    Shot(
        "input_scales.png",
        "01_normalizing_inputs.ipynb",
        0,
        "heights and ages in their units, raw vs standardized",
    ),
    Shot(
        "loss_surface_raw.png",
        "02_loss_surface_conditioning.ipynb",
        0,
        "the loss over the weights, raw features",
    ),
    Shot(
        "loss_surface_standardized.png",
        "02_loss_surface_conditioning.ipynb",
        0,
        "the same loss after standardizing the features",
        choose("features", "standardized"),
    ),
    Shot(
        "which_axis.png",
        "03_batchnorm_layer.ipynb",
        1,
        "which values share a mean and a variance, (N, C, H, W)",
    ),
    Shot("gamma_beta.png", "04_gamma_and_beta.ipynb", 0, "γ sets the spread, β the centre"),
    Shot(
        "gamma_beta_dark.png",
        "04_gamma_and_beta.ipynb",
        0,
        "the same in JupyterLab's dark theme",
        theme="dark",
    ),
    Shot("running_stats.png", "05_train_vs_inference.ipynb", 0, "running statistics chasing the population"),
    Shot("variance_shift.png", "08_bn_in_practice.ipynb", 0, "dropout before batch norm: the variance shift"),
]


def fit_budget(png: bytes) -> bytes:
    """The PNG itself if it is within the budget, else the same picture in a 256-colour palette."""
    if len(png) <= MAX_BYTES:
        return png
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    if buffer.tell() > MAX_BYTES:
        raise ValueError(
            f"screenshot is {buffer.tell() / 1e3:.0f} KB even with 256 colours; make the panel smaller"
        )
    return buffer.getvalue()


def take(shots: list[Shot], out: Path = IMAGES) -> list[Path]:
    """Take the shots, one JupyterLab tab per notebook, and return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    by_notebook: dict[str, list[Shot]] = {}
    for shot in shots:
        by_notebook.setdefault(shot.notebook, []).append(shot)
    with JupyterLab(NOTEBOOKS) as lab, chromium(viewport=LAPTOP.viewport) as browser:
        for name, notebook_shots in by_notebook.items():
            notebook = LabNotebook.open(browser, lab, name)
            try:
                show_screen(notebook, LAPTOP)
                seconds = notebook.run_all()
                errors = notebook.errors()
                if errors:
                    raise RuntimeError(f"{name}: {errors}")
                print(
                    f"{name}: ran in {seconds:.0f} s, {live_outputs(notebook).count()} live figures",
                    flush=True,
                )
                for shot in notebook_shots:
                    written.append(_shoot(notebook, shot, out))
            finally:
                notebook.close()
    return written


def _shoot(notebook: LabNotebook, shot: Shot, out: Path) -> Path:
    count = live_outputs(notebook).count()
    if shot.panel >= count:
        raise IndexError(f"{shot.notebook} shows {count} live figures; there is no figure {shot.panel}")
    panel = live_outputs(notebook).nth(shot.panel)
    _use_theme(notebook, shot.theme)
    _wait_for_figure(panel)
    if shot.action is not None:
        before = _wait_for_figure(panel)
        shot.action(panel)
        notebook.page.wait_for_timeout(500)
        if _wait_for_figure(panel) == before:
            raise RuntimeError(f"{shot.file}: the figure did not change after the action")
    panel.scroll_into_view_if_needed()
    png = fit_budget(notebook.page.screenshot(clip=_content_box(panel)))
    _use_theme(notebook, "light")
    path = out / shot.file
    path.write_bytes(png)
    print(f"  {path.relative_to(ROOT)}: {len(png) / 1e3:.0f} KB — {shot.shows}", flush=True)
    return path


def _use_theme(notebook: LabNotebook, theme: str) -> None:
    """Switch JupyterLab to the light or dark theme and wait until its colours apply."""
    name = THEMES[theme]
    notebook.page.evaluate(
        "async name => { await window.jupyterapp.commands.execute('apputils:change-theme', {theme: name}); }",
        name,
    )
    notebook.page.wait_for_function(
        "light => document.body.dataset.jpThemeLight === light", arg=str(theme == "light").lower()
    )
    notebook.page.wait_for_timeout(500)


def _wait_for_figure(panel, timeout_s: float = 30.0) -> bytes:
    """Wait until the panel's first canvas shows a drawn picture that stopped changing; returns its PNG."""
    canvas = panel.locator("canvas").first
    deadline, previous = time.monotonic() + timeout_s, b""
    while time.monotonic() < deadline:
        canvas.scroll_into_view_if_needed()
        current = canvas.screenshot()
        if current == previous and len(set(current[100:])) >= 3:  # the same twice, and not blank
            return current
        previous = current
        time.sleep(0.5)
    raise TimeoutError("a live figure never finished drawing")


def _content_box(panel) -> dict:
    """The page area of the panel's box (title, controls, figure, readouts), without the output's empty width."""
    box = panel.locator(":scope > *").first.bounding_box()
    inner = panel.locator(".widget-vbox")
    if inner.count():  # an ipywidgets panel: its outermost box, not the full-width output wrapper
        box = inner.first.bounding_box()
    # A little room on the right and below; none above, where the cell's printed output may sit.
    return {"x": box["x"], "y": box["y"], "width": box["width"] + 6, "height": box["height"] + 4}


def simulate_shots(paths: list[Path], out: Path = COLOUR_VISION) -> list[Path]:
    """Each picture as a viewer with protanopia and with deuteranopia sees it, written under ``out``."""
    import numpy as np
    from PIL import Image

    from bnlib.live import simulate_colour_vision

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        rgb = np.asarray(Image.open(path).convert("RGB"), dtype=float) / 255
        for deficiency in ("protanopia", "deuteranopia"):
            seen = simulate_colour_vision(rgb, deficiency)
            target = out / f"{path.stem}.{deficiency}.png"
            Image.fromarray(np.round(seen * 255).astype(np.uint8)).save(target)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "only", nargs="?", default="", help="take only the shots whose file name contains this"
    )
    parser.add_argument(
        "--colour-vision",
        action="store_true",
        help="also write each shot as seen with protanopia, deuteranopia",
    )
    args = parser.parse_args(argv)
    shots = [s for s in SHOTS if args.only in s.file]
    if not shots:
        parser.error(f"no shot matches {args.only!r}; the shots are {', '.join(s.file for s in SHOTS)}")
    written = take(shots)
    if args.colour_vision:
        for path in simulate_shots(written):
            print(f"  {path.relative_to(ROOT)}", flush=True)


if __name__ == "__main__":
    main()
