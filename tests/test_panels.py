"""Every control of every live panel, swept to its extremes: the figure always stays alive, stays on the
fast path where it promises to, and its text is large enough to read.

A panel is alive after a change when everything it draws is finite, or it shows a message on the figure for
a reason a learner can act on: an Unstable setting (divergence, a degenerate case) or a floating-point
overflow. Any other exception in ``render`` is a bug, and fails the sweep even though the learner would
only see a message.
"""

import random

import numpy as np
import pytest

from bnlib.live import STYLES, Panel, Unstable, control_values, projector
from bnlib.panels import course_panels

PANELS = course_panels()


def panel_id(panel_class) -> str:
    """A test id that says which module of bnlib.panels the panel lives in: 'conditioning.LossSurfacePanel'."""
    return f"{panel_class.__module__.split('.')[-1]}.{panel_class.__name__}"


def extremes(widget) -> list:
    """The values to try for one control: both ends and the middle, or every option."""
    kind, allowed = control_values(widget)
    if kind == "range":
        low, high = allowed
        middle = type(low)((low + high) / 2) if isinstance(low, int) else (low + high) / 2
        return [low, high, middle]
    if kind == "options":
        return list(allowed)
    return [widget.value]


def assert_alive(panel: Panel, setting: dict) -> None:
    if panel.last_error is not None:
        assert isinstance(panel.last_error, Unstable | FloatingPointError), (
            f"{type(panel).__name__} raised {type(panel.last_error).__name__} at {setting}: a bug, not a "
            f"setting a learner can fix ({panel.last_error})"
        )
        assert panel.message, f"{type(panel).__name__} failed at {setting} without a message on the figure"
        return
    assert not panel.message, (setting, panel.message)
    drawn = panel.drawn()
    assert drawn, f"{type(panel).__name__} draws nothing at {setting}"
    for name, values in drawn.items():
        assert np.all(np.isfinite(values)), f"{name} is not finite at {setting} and no message explains why"


def test_the_course_has_its_panels():
    assert len(PANELS) >= 10, [cls.__name__ for cls in PANELS]


@pytest.mark.parametrize("panel_class", PANELS, ids=panel_id)
def test_every_control_to_its_extremes(panel_class):
    panel = panel_class()
    assert_alive(panel, panel.values)
    defaults = panel.values
    for name, widget in panel.control_widgets.items():
        for value in extremes(widget):
            panel.set(**{name: value})
            assert_alive(panel, {name: value})
        panel.set(**{name: defaults[name]})
    # All controls at their extremes together, then a few random combinations (seeded).
    rng = random.Random(f"{panel_class.__name__}")
    for _ in range(4):
        setting = {name: rng.choice(extremes(w)) for name, w in panel.control_widgets.items()}
        panel.set(**setting)
        assert_alive(panel, setting)
    panel.set(**defaults)
    assert not panel.message, f"back at its defaults the panel still shows: {panel.message}"


@pytest.mark.parametrize("panel_class", PANELS[:1], ids=lambda cls: cls.__name__)
def test_set_rejects_what_a_slider_cannot_do(panel_class):
    panel = panel_class()
    with pytest.raises(ValueError, match="no control named"):
        panel.set(not_a_control=1)


@pytest.mark.parametrize("panel_class", PANELS, ids=panel_id)
def test_a_blitted_update_looks_exactly_like_a_full_redraw(panel_class):
    """Updates repaint only the data over a kept background; the picture must be the one a full draw makes.
    Eight changes among each control's extremes come back to earlier views, so kept backgrounds are reused."""
    panel = panel_class()
    rng = random.Random(f"blit {panel_class.__name__}")
    for _ in range(8):
        name, widget = rng.choice(sorted(panel.control_widgets.items()))
        panel.set(**{name: rng.choice(extremes(widget))})
        updated = np.asarray(panel.fig.canvas.buffer_rgba()).copy()
        panel.fig.canvas.draw()
        redrawn = np.asarray(panel.fig.canvas.buffer_rgba())
        differing = np.count_nonzero(np.any(updated != redrawn, axis=-1))
        assert differing == 0, f"{differing} pixels differ from a full redraw after setting {name}"


@pytest.mark.parametrize("panel_class", PANELS, ids=panel_id)
def test_a_drawn_panel_is_not_stale(panel_class):
    """Under %matplotlib widget, pyplot redraws every stale figure in full after each widget message, and
    that redraw's own message starts the next one: a panel left stale keeps the kernel busy forever and a
    slider waits behind it. After a draw, and after every update, the figure must be current."""
    panel = panel_class()
    panel.fig.canvas.draw()
    assert not panel.fig.stale, "a full draw leaves the figure stale"
    rng = random.Random(f"stale {panel_class.__name__}")
    for _ in range(6):
        name, widget = rng.choice(sorted(panel.control_widgets.items()))
        value = rng.choice(extremes(widget))
        panel.set(**{name: value})
        assert not panel.fig.stale, f"setting {name}={value!r} leaves the figure stale"


def test_learning_rate_panel_keeps_its_limits_and_names_an_overflow():
    """Every learning rate is a repaint (fixed loss limits); a run whose recorded loss is not finite shows
    the on-figure message, and a finite rate brings the curves back."""
    from bnlib.experiments import TrainLog
    from bnlib.panels.network import LearningRatePanel

    def run(losses, diverged_at=None):
        return TrainLog(
            losses=losses, evaluated_steps=[len(losses)], test_accuracy=[0.9], diverged_at=diverged_at
        )

    sweep = {
        None: {0.1: run([2.3, 1.0, 0.5]), 10.0: run([2.3, 1e6, float("inf")], diverged_at=3)},
        "batch": {0.1: run([2.3, 0.8, 0.3]), 10.0: run([2.3, 1.5, 0.9])},
    }
    panel = LearningRatePanel(sweep=sweep, lr=0.1)
    limits = panel.loss_ax.get_ylim()
    assert limits[1] == pytest.approx(23.0)  # ten times the loss training starts from
    panel.set(lr=10.0)
    assert "overflowed" in panel.message
    assert panel.loss_ax.get_ylim() == limits
    panel.set(lr=0.1)
    assert panel.message == ""
    assert_alive(panel, {"lr": 0.1})


def fast_path_values(widget) -> list:
    """The values a learner passes through with one control: its extremes and middle, then ten steps across
    its range (or every option), so a limit that moves only at some positions is found."""
    kind, allowed = control_values(widget)
    if kind != "range":
        return extremes(widget) + extremes(widget)[:1]
    low, high = allowed
    across = np.linspace(low, high, 10)
    if isinstance(low, int):
        across = np.round(across).astype(int)
    return extremes(widget) + [type(low)(v) for v in across]


# Panels that do not declare their full-redraw controls yet, and why (strict: the day one passes, remove it).
UNDECLARED: dict[str, str] = {}


def with_known_gaps(panels, gaps):
    return [
        pytest.param(cls, marks=pytest.mark.xfail(strict=True, reason=gaps[cls.__name__]))
        if cls.__name__ in gaps
        else cls
        for cls in panels
    ]


@pytest.mark.parametrize("panel_class", with_known_gaps(PANELS, UNDECLARED), ids=panel_id)
def test_controls_meant_to_repaint_cause_no_full_redraw(panel_class):
    """The fast path, counted: after the first draw, moving any control not listed in the panel's
    ``full_redraw_controls`` repaints the data only. A title set in render, a limit that follows the data or a
    legend that changes would each show up here as a full redraw."""
    panel = panel_class()
    panel.fig.canvas.draw()
    defaults = panel.values
    for name, widget in panel.control_widgets.items():
        if name in panel_class.full_redraw_controls:
            continue
        before = panel.backgrounds.full_draws
        for value in fast_path_values(widget):
            panel.set(**{name: value})
            redraws = panel.backgrounds.full_draws - before
            assert redraws == 0, f"setting {name}={value!r} redrew the whole figure ({redraws} full draws)"
        panel.set(**{name: defaults[name]})
    unknown = set(panel_class.full_redraw_controls) - set(panel.control_widgets)
    assert not unknown, f"full_redraw_controls names no control of the panel: {unknown}"


@pytest.mark.parametrize("mode", ["laptop", "projector"])
@pytest.mark.parametrize("panel_class", PANELS, ids=panel_id)
def test_figure_text_is_large_enough_and_whole(panel_class, mode):
    """Every visible text in the figure (tick labels, titles, legends, keys, the message) is at least 10 pt,
    and 12 pt in projector mode, after a full draw (tick labels are made while drawing); and none is cut by
    the figure's edge."""
    from matplotlib.text import Text

    projector(mode == "projector")
    try:
        panel = panel_class()
    finally:
        projector(False)
    panel.fig.canvas.draw()
    smallest = STYLES[mode].text_pt
    small = [
        (text.get_text(), text.get_fontsize())
        for text in panel.fig.findobj(Text)
        if text.get_visible() and text.get_text().strip() and text.get_fontsize() < smallest
    ]
    assert not small, f"text below {smallest} pt: {small[:5]}"
    # What is drawn: each axes with its tick labels, titles and texts, and the figure's own texts and legends.
    renderer = panel.fig.canvas.get_renderer()
    inside = panel.fig.bbox.padded(1.0)
    drawn = [
        (f"axes {i}", ax.get_tightbbox(renderer, bbox_extra_artists=[t for t in ax.texts if t.get_text()]))
        for i, ax in enumerate(panel.fig.axes)
        if ax.get_visible()
    ]
    drawn += [
        (t.get_text(), t.get_window_extent(renderer))
        for t in panel.fig.texts
        if t.get_visible() and t.get_text()
    ]
    drawn += [("legend", legend.get_window_extent(renderer)) for legend in panel.fig.legends]
    cut = [name for name, box in drawn if not _within(box, inside)]
    assert not cut, f"cut by the figure's edge: {cut}"


def _within(box, outer) -> bool:
    return box.x0 >= outer.x0 and box.x1 <= outer.x1 and box.y0 >= outer.y0 and box.y1 <= outer.y1
