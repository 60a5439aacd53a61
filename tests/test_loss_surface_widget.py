"""The loss-surface explorer's kernel side: the Python API a notebook and the panel sweep use, and what it
sends to the browser (the drawing and the mathematics in the browser are tested in tests/browser/)."""

import subprocess
import sys

import numpy as np
import pytest
import tomllib

from bnlib import live
from bnlib.panels import course_panels
from bnlib.panels.conditioning import LossSurfacePanel
from bnlib.panels.loss_surface import ES_MODULE, LossSurfaceWidget
from bnlib.surface import surface_setting
from coursetools.paths import ROOT

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def from_browser(panel, **values):
    """What the front end does when a slider is released: it sets the widget's values and saves them."""
    panel.widget().values = {**panel.widget().values, **values}


def test_the_panel_sweep_finds_it():
    assert LossSurfacePanel in course_panels()


def test_its_front_end_ships_inside_bnlib():
    assert ES_MODULE.parent == ROOT / "bnlib" / "panels" and ES_MODULE.exists()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "*.js" in package_data["bnlib.panels"]
    source = ES_MODULE.read_text()
    assert "export default" in source
    assert "http://" not in source and "https://" not in source, (
        "the front end must load nothing from the web"
    )


def test_the_browser_gets_the_controls_values_and_bowl():
    panel = LossSurfacePanel(transform="standardized", correlation=0.8, lr_ratio=0.5, steps=40)
    front = panel.widget()
    assert isinstance(front, LossSurfaceWidget)
    assert [c["name"] for c in front.controls] == list(panel.control_widgets)
    lr = next(c for c in front.controls if c["name"] == "lr_ratio")
    assert (lr["min"], lr["max"], lr["step"], lr["kind"]) == (0.05, 1.5, 0.01, "range")
    assert front.values == panel.values
    assert set(front.drawn_here) == {"lr_ratio", "momentum", "steps"}
    _, _, bowl = surface_setting("standardized", correlation=0.8)
    np.testing.assert_array_equal(front.bowl["S"], bowl.S)
    np.testing.assert_array_equal(front.bowl["minimizer"], bowl.minimizer)
    np.testing.assert_array_equal(front.bowl["hessian_eigenvalues"], bowl.eigenvalues)
    # The browser shows the view and labels of the static picture.
    assert front.bowl["view"] == [*panel.ax.get_xlim(), *panel.ax.get_ylim()]
    assert (front.bowl["x_label"], front.bowl["y_label"]) == (panel.ax.get_xlabel(), panel.ax.get_ylabel())
    assert len(front.colormap) == 3 * 256


def test_a_value_from_the_browser_reaches_values_readouts_and_the_picture():
    panel = LossSurfacePanel()
    front = panel.widget()
    before = panel.png()
    from_browser(panel, lr_ratio=0.5)
    assert panel.values["lr_ratio"] == 0.5
    assert "(= 0.50·η_max)" in panel.readouts["η used"]
    assert panel.png() != before, "the static picture must show the value the learner chose"
    from_browser(panel, lr_ratio=1.2)
    assert "stability edge" in panel.message
    from_browser(panel, momentum=0.5)  # heavy ball is stable up to (1 + β)·η_max
    assert not panel.message
    assert front.values == panel.values


def test_moving_eta_sends_no_new_bowl_and_changing_a_unit_does():
    panel = LossSurfacePanel()
    front = panel.widget()
    sent = []
    front.observe(lambda change: sent.append(change.new), names="bowl")
    panel.set(lr_ratio=0.3, momentum=0.4, steps=100)
    from_browser(panel, lr_ratio=0.6)
    assert sent == [], "η, β and the steps are the browser's own work"
    panel.set(height_unit="m")
    assert len(sent) == 1 and "'m'" in sent[0]["key"]
    assert front.values["height_unit"] == "m"


def test_browser_moves_do_not_redraw_the_kernels_figure(monkeypatch):
    """The browser has drawn the move; the kernel only computes (its figure is drawn when a picture is asked for)."""
    panel = LossSurfacePanel()
    draws = []
    panel.fig.canvas.mpl_connect("draw_event", lambda event: draws.append(event))
    monkeypatch.setattr(panel.fig.canvas, "blit", lambda *args: draws.append("blit"))
    from_browser(panel, lr_ratio=0.4)
    from_browser(panel, transform="standardized")
    assert draws == []
    panel.set(lr_ratio=0.7)  # the kernel's own change redraws as every panel does
    assert draws


def test_output_is_the_widget_plus_a_png_never_an_ipympl_canvas(monkeypatch):
    monkeypatch.setattr(live, "_is_widget_backend", lambda: True)  # as under %matplotlib widget
    panel = LossSurfacePanel()
    assert type(panel.fig.canvas).__name__ == "FigureCanvasAgg"
    data, _ = panel._repr_mimebundle_()
    assert WIDGET_VIEW in data and data["image/png"]


def test_displaying_it_needs_no_ipympl():
    code = (
        "import sys; from bnlib.panels.conditioning import LossSurfacePanel; "
        "LossSurfacePanel()._repr_mimebundle_(); print('ipympl' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "False"


def test_bad_values_are_refused_with_the_range():
    with pytest.raises(ValueError, match="outside the range"):
        LossSurfacePanel(lr_ratio=3.0)


def test_its_text_and_lines_follow_projector_mode():
    """The canvas's text is 10 pt (text_scale 1) on a laptop and 12 pt (1.2) after projector(), its lines 1.5
    times as thick, as every panel's; a scale that would draw below 10 pt is refused (the browser test
    measures the pixels)."""
    laptop = LossSurfacePanel().widget()
    assert laptop.text_scale == 1.0 and laptop.line_scale == 1.0
    live.projector(True)
    try:
        projected = LossSurfacePanel().widget()
        assert projected.text_scale == pytest.approx(1.2) and projected.line_scale == 1.5
    finally:
        live.projector(False)
    assert LossSurfacePanel(text_scale=1.5).widget().text_scale == 1.5
    with pytest.raises(ValueError, match="below 10 pt"):
        LossSurfacePanel(text_scale=0.8)
