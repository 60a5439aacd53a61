"""The loss-surface explorer in a real Chromium: its mathematics is bnlib's, to 1e-9.

The front end (bnlib/panels/loss_surface.js) computes the path, the excess-loss curve, the steps to converge
and "does not converge" itself, on every frame of a drag; the kernel only sends the bowl. Here the ES module
runs in Chromium on every transform × unit and a grid of offsets, correlations, η and β, and everything it
would show is compared with what bnlib computes for the same setting.
"""

import itertools
import json

import numpy as np
import pytest

from bnlib.data import AGE_UNITS, HEIGHT_UNITS
from bnlib.panels.conditioning import PANEL_TRANSFORMS
from bnlib.panels.loss_surface import ES_MODULE, bowl_message
from bnlib.surface import MAX_STEPS, bowl_with_contours, loss_surface_numbers, steps_to_converge
from bnlib.surface import RTOL as CONVERGED
from coursetools.browser.harness import LabNotebook
from coursetools.browser.loss_surface_page import CANVAS_HASH_JS, EsModulePage, Explorer, kernel_output
from coursetools.browser.voila_server import VoilaServer
from coursetools.paths import NOTEBOOKS

pytestmark = pytest.mark.browser

RTOL = 1e-9
# (height offset cm, age offset years, correlation): none, far from zero and strongly correlated, the far ends.
PLACES = [(0.0, 0.0, 0.0), (-170.0, 50.0, 0.8), (100.0, -45.0, -0.95)]
# (η/η_max, β, steps drawn): slow, fast, the zig-zag, the edge itself, past the plain edge but stable with
# momentum, diverging, and momentum near its top.
DYNAMICS = [
    (0.05, 0.0, 200),
    (0.5, 0.0, 40),
    (0.9, 0.0, 60),
    (1.0, 0.0, 60),
    (1.2, 0.5, 80),
    (1.5, 0.0, 200),
    (0.99, 0.95, 200),
    (0.3, 0.6, 1),
]


def settings():
    for transform, height_unit, age_unit, (height_offset, age_offset, correlation) in itertools.product(
        PANEL_TRANSFORMS, HEIGHT_UNITS, AGE_UNITS, PLACES
    ):
        yield (transform, height_unit, age_unit, height_offset, age_offset, correlation)


def bowl_for(setting):
    """The bowl as the panel sends it, with a square view around w = 0 and w*."""
    _, loss, _, _ = bowl_with_contours(*setting)
    centre, half = loss.minimizer / 2, float(np.abs(loss.minimizer).max())
    view = (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)
    return loss, bowl_message(loss, view, "x", "y", setting)


@pytest.fixture(scope="module")
def module(browser):
    page = EsModulePage(browser, ES_MODULE)
    yield page
    page.close()


COMPARE_JS = """
const results = [];
for (const [bowl, cases] of arg) {
  for (const [lrRatio, momentum, steps] of cases) {
    const n = m.surfaceNumbers(bowl, lrRatio, momentum, steps);
    results.push({
      kappa: m.conditionNumber(bowl), etaMax: m.maxStableLr(bowl), lr: n.lr,
      path: n.path.weights, diverged: n.path.diverged, divergedAt: n.path.divergedAt,
      curve: n.curve, stepsNeeded: n.stepsNeeded, message: n.message, readouts: n.readouts,
    });
  }
}
return JSON.stringify(results);  // one string crosses to Python far faster than nested arrays (inf → null)
"""


def test_the_browser_computes_what_bnlib_computes(module):
    bowls = [bowl_for(setting) for setting in settings()]
    results = json.loads(module.evaluate(COMPARE_JS, [[message, DYNAMICS] for _, message in bowls]))
    assert len(results) == len(bowls) * len(DYNAMICS)
    results = iter(results)
    compared = 0
    for (loss, message), (lr_ratio, momentum, steps) in itertools.product(bowls, DYNAMICS):
        browser = next(results)
        where = f"{message['key']}, η/η_max={lr_ratio}, β={momentum}, steps={steps}"
        expected = loss_surface_numbers(loss, lr_ratio, momentum, steps)
        np.testing.assert_allclose(browser["kappa"], loss.condition_number, rtol=RTOL, err_msg=where)
        np.testing.assert_allclose(browser["etaMax"], loss.max_stable_lr, rtol=RTOL, err_msg=where)
        np.testing.assert_allclose(browser["lr"], expected["lr"], rtol=RTOL, err_msg=where)
        path = expected["path"]
        assert (browser["diverged"], browser["divergedAt"]) == (path.diverged, path.diverged_at), where
        # Points are compared relative to the picture's size (a coordinate passing through 0 has no
        # relative error of its own).
        scale = float(np.abs(loss.minimizer).max())
        np.testing.assert_allclose(
            np.array(browser["path"]), path.weights, rtol=RTOL, atol=RTOL * scale, err_msg=where
        )
        curve = np.array([np.inf if v is None else v for v in browser["curve"]], dtype=float)
        np.testing.assert_allclose(curve, expected["curve"], rtol=RTOL, err_msg=where)
        assert browser["message"] == expected["message"], where
        assert browser["readouts"] == expected["readouts"], where
        if not expected["message"]:
            assert browser["stepsNeeded"] == steps_to_converge(
                loss, np.zeros(2), expected["lr"], momentum=momentum, rtol=CONVERGED, max_steps=MAX_STEPS
            ), where
        compared += 1
    assert compared == 5 * 6 * len(PLACES) * len(DYNAMICS)


LAPTOP = {"width": 1366, "height": 768}


def test_in_jupyterlab_on_a_laptop_screen(lab, browser):
    """Notebook 02 in JupyterLab at 1366×768 with the file browser open: the explorer fits beside it, a key
    press repaints it, a mouse drag repaints it on every frame with no kernel message, and the kernel learns
    the value at the release (panel.values and readouts follow)."""
    notebook = LabNotebook.open(browser, lab, "02_loss_surface_conditioning.ipynb")
    page = notebook.page
    try:
        page.set_viewport_size(LAPTOP)
        notebook.run_all()
        assert notebook.errors() == []
        assert page.locator(".jp-FileBrowser").first.is_visible(), "the file browser should be open"
        explorer = Explorer(page, 0)
        explorer.root.scroll_into_view_if_needed()
        page.wait_for_function("e => Number(e.dataset.frames) > 0", arg=explorer.root.element_handle())

        # Fits: nothing wider than the notebook's output area, nothing taller than the window.
        box = explorer.root.bounding_box()
        output = page.locator(".jp-OutputArea-output", has=page.locator(".bnlib-ls")).first.bounding_box()
        assert box["x"] + box["width"] <= output["x"] + output["width"] + 1, (box, output)
        assert box["height"] <= LAPTOP["height"] - 200, box
        canvas = explorer.canvas.bounding_box()
        assert canvas["x"] > box["x"] + 250, "the canvas should sit beside the controls, not below them"

        # The readouts are a live region, and they are the kernel's readouts.
        assert explorer.root.locator("[aria-live='polite']").count() == 1
        kernel = kernel_output(notebook, "explorer.readouts")
        for name, value in explorer.readouts().items():
            assert f"'{name}': '{value}'" in kernel, (name, value, kernel)

        # A key press: the picture changes in the page.
        before = explorer.canvas_hash()
        explorer.control("lr_ratio").focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(
            "([c, h]) => (" + CANVAS_HASH_JS + ")(c) !== h", arg=[explorer.canvas.element_handle(), before]
        )
        assert notebook.goes_quiet(window_s=1.0)

        # A mouse drag at 60 moves per second: a repaint per move, not one message to or from the kernel.
        messages, frames = page.evaluate("window.__socketMessages"), explorer.frames()
        explorer.drag("lr_ratio", 0.1, 0.6, moves=30, release=False)
        during = page.evaluate("window.__socketMessages") - messages
        repaints = explorer.frames() - frames
        page.mouse.up()
        assert during == 0, f"{during} kernel messages during the drag"
        assert repaints >= 25, f"only {repaints} repaints for 30 moves"
        # The release tells the kernel: panel.values and the readouts follow.
        shown = float(explorer.control("lr_ratio").input_value())
        assert notebook.goes_quiet(window_s=0.5)
        assert float(kernel_output(notebook, "explorer.values['lr_ratio']")) == shown
        kernel = kernel_output(notebook, "explorer.readouts")
        assert f"(= {shown:.2f}·η_max)" in kernel, kernel
        assert explorer.readouts()["η used"] in kernel

        # Dragging the correlation asks the kernel for each new bowl, one at a time: the picture follows
        # during the drag, and the kernel ends with the value shown.
        frames = explorer.frames()
        explorer.drag("correlation", 0.5, 0.9, moves=30, release=False)
        assert explorer.frames() - frames >= 3, "the ellipse should tilt while the correlation is dragged"
        page.mouse.up()
        shown = float(explorer.control("correlation").input_value())
        assert notebook.goes_quiet(window_s=0.5)
        assert float(kernel_output(notebook, "explorer.values['correlation']")) == shown
    finally:
        notebook.close()


def test_in_voila(browser):
    """Voilà serving notebook 02 shows the three explorers, and a key press and a drag repaint one."""
    with VoilaServer(NOTEBOOKS / "02_loss_surface_conditioning.ipynb") as voila:
        page = browser.new_page()
        try:
            page.set_viewport_size(LAPTOP)
            page.goto(voila.url)
            page.wait_for_selector(".bnlib-ls", timeout=90_000)
            assert page.locator(".bnlib-ls").count() == 3
            explorer = Explorer(page, 0)
            explorer.root.scroll_into_view_if_needed()
            page.wait_for_function("e => Number(e.dataset.frames) > 0", arg=explorer.root.element_handle())
            assert "condition number κ = λ_max/λ_min" in explorer.readouts()
            before = explorer.canvas_hash()
            explorer.control("lr_ratio").press("ArrowLeft")
            page.wait_for_function(
                "([c, h]) => (" + CANVAS_HASH_JS + ")(c) !== h",
                arg=[explorer.canvas.element_handle(), before],
            )
            frames = explorer.frames()
            explorer.drag("lr_ratio", 0.1, 0.6, moves=20)
            assert explorer.frames() - frames >= 15
        finally:
            page.close()


# Renders the explorer into a blank page from the kernel's traits (a stand-in for anywidget's model), with the
# canvas's drawing calls recorded: every fillText with the CSS pixel size of its font, every stroke with its
# line width, every arc with its radius.
CANVAS_CALLS_JS = """
const traits = arg;
const calls = {texts: [], strokes: [], arcs: []};
const context = CanvasRenderingContext2D.prototype;
const originals = {
  fillText: context.fillText, stroke: context.stroke, strokeRect: context.strokeRect, arc: context.arc,
};
context.fillText = function (text, ...rest) {
  calls.texts.push([String(text), parseFloat(this.font.match(/([\\d.]+)px/)[1])]);
  return originals.fillText.call(this, text, ...rest);
};
context.stroke = function (...rest) { calls.strokes.push(this.lineWidth); return originals.stroke.apply(this, rest); };
context.strokeRect = function (...rest) {
  calls.strokes.push(this.lineWidth);
  return originals.strokeRect.apply(this, rest);
};
context.arc = function (x, y, radius, ...rest) {
  calls.arcs.push(radius);
  return originals.arc.call(this, x, y, radius, ...rest);
};
const model = {get: name => traits[name], set() {}, save_changes() {}, on() {}};
const el = document.createElement('div');
el.style.width = '900px';
document.body.replaceChildren(el);
m.default.render({model, el});
return new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(() => {
  Object.assign(context, originals);
  resolve(calls);
})));
"""


def canvas_calls(module, projector: bool) -> dict:
    """The explorer's drawing calls when the kernel made it in laptop or projector mode, diverging (so the
    warning on the canvas is drawn too)."""
    import anywidget

    from bnlib import live
    from bnlib.panels.conditioning import LossSurfacePanel

    live.projector(projector)
    try:
        front = LossSurfacePanel(lr_ratio=1.5).widget()
    finally:
        live.projector(False)
    # Every trait the widget itself adds to anywidget's, as the page receives them.
    synced = set(front.trait_names(sync=True)) - set(anywidget.AnyWidget.class_trait_names(sync=True))
    assert {"text_scale", "line_scale", "bowl"} <= set(synced)
    return module.evaluate(CANVAS_CALLS_JS, {name: getattr(front, name) for name in synced})


@pytest.mark.parametrize("mode, smallest_px", [("laptop", 10 * 96 / 72), ("projector", 12 * 96 / 72)])
def test_canvas_text_is_at_least_10_pt_or_12_pt_on_a_projector(module, mode, smallest_px):
    """Every text the explorer draws on its canvas (tick labels, axis labels, titles, keys) is at least the
    course's figure text: 10 pt = 13.3 CSS px, 12 pt = 16 px in projector mode (text_scale from the kernel)."""
    sizes = canvas_calls(module, projector=mode == "projector")["texts"]
    texts = {text for text, _ in sizes}
    assert {"step", "loss over the weights", "converged", "1e−6"} <= texts, texts
    assert any("does not converge" in text for text in texts), texts
    small = [(text, size) for text, size in sizes if size < smallest_px - 0.01]
    assert not small, f"canvas text below {smallest_px:.2f} px: {small[:5]}"


def test_canvas_lines_and_dots_are_one_and_a_half_times_as_thick_on_a_projector(module):
    """As in every other panel after projector(): each line the explorer strokes (contours, path, curve, frames,
    ticks, the warning's box) and each dot it draws is 1.5 times the laptop's."""
    laptop, projector = canvas_calls(module, projector=False), canvas_calls(module, projector=True)
    for kind in ("strokes", "arcs"):
        assert len(laptop[kind]) == len(projector[kind]) > 5, kind
        assert projector[kind] == pytest.approx([1.5 * value for value in laptop[kind]]), kind
    assert min(laptop["strokes"]) > 0.89 and min(projector["strokes"]) > 1.34  # canvas widths are float32
