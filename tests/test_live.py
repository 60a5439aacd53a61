"""The live-figure base class: errors become messages, code drives controls as a slider does."""

import base64

import ipywidgets as widgets
import numpy as np
import pytest

from bnlib.live import Panel, Unstable
from bnlib.readouts import ES_MODULE


class GeometricGrowth(Panel):
    """Draws r**k for k = 0..n; large r overflows, r = 0 is declared degenerate."""

    abstract = True  # a test fixture, not a course panel
    title = "r to the k"

    def controls(self):
        return {
            "r": widgets.FloatSlider(value=1.5, min=0.0, max=1e6, description="r"),
            "n": widgets.IntSlider(value=10, min=1, max=400, description="n"),
            "scale": widgets.Dropdown(options=[("linear", "linear"), ("log", "log")], value="linear"),
        }

    def setup(self, fig):
        self.ax = fig.add_subplot()
        (self.curve,) = self.ax.plot([], [])

    def render(self, r, n, scale):
        if r == 0:
            raise Unstable("r = 0 draws nothing but zeros: move r above 0.")
        k = np.arange(n + 1, dtype=float)
        values = np.float64(r) ** k
        self.curve.set_data(k, np.log10(values) if scale == "log" else values)
        self.ax.relim()
        self.ax.autoscale_view()
        return {"last value": f"{values[-1]:.3g}"}


def test_render_draws_and_reads_out():
    panel = GeometricGrowth()
    assert panel.message == ""
    assert panel.readouts["last value"] == f"{1.5**10:.3g}"
    np.testing.assert_allclose(panel.drawn()["ax0.line0"][:, 1], 1.5 ** np.arange(11))


def test_unstable_becomes_a_message_and_the_panel_recovers():
    panel = GeometricGrowth()
    panel.set(r=0.0)
    assert panel.message.startswith("r = 0 draws nothing")
    assert isinstance(panel.last_error, Unstable)
    assert panel.readouts == {}
    panel.set(r=2.0)
    assert panel.message == "" and panel.last_error is None
    assert panel.readouts["last value"] == f"{2.0**10:.3g}"


def test_overflow_becomes_a_message_not_an_exception():
    panel = GeometricGrowth().set(r=1e6, n=400)
    assert "overflows" in panel.message
    assert isinstance(panel.last_error, FloatingPointError)


def test_any_exception_in_render_is_caught_named_and_kept():
    class Broken(GeometricGrowth):
        abstract = True

        def render(self, **values):
            raise KeyError("missing column")

    panel = Broken()
    assert "a bug in this panel" in panel.message and "KeyError" in panel.message
    assert "missing column" in panel.message
    assert isinstance(panel.last_error, KeyError)  # what the sweep in test_panels.py fails on


def test_set_checks_names_and_ranges():
    panel = GeometricGrowth()
    with pytest.raises(ValueError, match="no control named 'q'; its controls are r, n, scale"):
        panel.set(q=1)
    with pytest.raises(ValueError, match="outside the range of control 'n'"):
        panel.set(n=1000)
    with pytest.raises(ValueError, match="not an option of control 'scale'"):
        panel.set(scale="cubic")
    assert panel.values == {"r": 1.5, "n": 10, "scale": "linear"}


def test_moving_a_widget_redraws_like_set():
    panel = GeometricGrowth()
    panel.control_widgets["n"].value = 3
    assert panel.drawn()["ax0.line0"].shape == (4, 2)


def test_initial_values_and_unknown_keywords():
    assert GeometricGrowth(n=5).values["n"] == 5
    with pytest.raises(ValueError, match="no control named"):
        GeometricGrowth(speed=3)


def test_without_a_kernel_the_figure_is_a_png():
    bundle = GeometricGrowth()._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_abstract_fixtures_are_not_registered():
    assert GeometricGrowth not in Panel.registry


def test_keep_in_view_grows_at_once_and_shrinks_only_when_loose():
    panel = GeometricGrowth()
    ax = panel.ax
    ax.set_ylim(0, 10)
    Panel.keep_in_view(ax, y=[1, 9])
    assert ax.get_ylim() == (0, 10)  # data inside and filling the view: limits kept
    Panel.keep_in_view(ax, y=[1, 12])
    assert ax.get_ylim()[1] > 12  # data outside: limits grow
    Panel.keep_in_view(ax, y=[0.0, 0.5])
    assert ax.get_ylim()[1] < 1  # data fills a sliver: limits shrink


def test_keep_in_view_square_moves_both_axes_together_and_keeps_them_square():
    ax = GeometricGrowth().ax
    assert Panel.keep_in_view(ax, x=[0, 4], y=[0, 1], margin=0.5, edge=0.1, square=True)
    assert ax.get_xlim() == (-2, 6) and ax.get_ylim() == (-3.5, 4.5)  # centred, the wider span for both
    # Well inside: kept.
    assert not Panel.keep_in_view(ax, x=[0, 4.5], y=[0, 1.2], margin=0.5, edge=0.1, square=True)
    assert ax.get_xlim() == (-2, 6)
    # Only y comes near its border (within a tenth of the width, 0.8): both axes move, still square.
    assert Panel.keep_in_view(ax, x=[0, 4.5], y=[0, 4.0], margin=0.5, edge=0.1, square=True)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x1 - x0 == y1 - y0 == 9.0 and (x0 + x1) / 2 == 2.25 and (y0 + y1) / 2 == 2.0
    # The points shrink to under 30 % of the view: a closer view.
    assert Panel.keep_in_view(ax, x=[0, 1], y=[0, 0.5], margin=0.5, edge=0.1, square=True)
    assert ax.get_xlim() == (-0.5, 1.5)


def test_keep_in_view_with_shrink_below_zero_only_grows():
    ax = GeometricGrowth().ax
    ax.set_ylim(0, 10)
    assert not Panel.keep_in_view(ax, y=[0, 0.5], margin=0.0, shrink_below=0.0)
    assert ax.get_ylim() == (0, 10)
    assert Panel.keep_in_view(ax, y=[0, 11], margin=0.0, shrink_below=0.0)
    assert ax.get_ylim() == (0, 11)


def test_returning_to_an_earlier_view_repaints_over_its_kept_background():
    """cm → in → cm: the second cm reuses the first one's background (no full draw), and looks the same."""
    panel = GeometricGrowth().set(n=10, r=2.0)
    full_draws, counted = [], panel.backgrounds.full_draws
    panel.fig.canvas.mpl_connect("draw_event", full_draws.append)
    panel.set(n=20)  # new limits: a full draw
    assert len(full_draws) == 1 and panel.backgrounds.full_draws == counted + 1
    repaints = panel.backgrounds.repaints
    panel.set(n=10)  # the first view again: repainted over its kept background
    assert len(full_draws) == 1 and panel.backgrounds.repaints == repaints + 1
    repainted = np.asarray(panel.fig.canvas.buffer_rgba()).copy()
    panel.fig.canvas.draw()
    np.testing.assert_array_equal(repainted, np.asarray(panel.fig.canvas.buffer_rgba()))


def test_kept_backgrounds_are_bounded():
    panel = GeometricGrowth()
    for n in range(1, 3 * panel.backgrounds_kept):
        panel.set(n=n)
    assert len(panel.backgrounds) == panel.backgrounds_kept


def test_a_fixed_artist_is_drawn_once_and_a_change_to_it_redraws():
    """Declared fixed, an artist is in the kept background (not repainted); changing it anyway costs one
    full redraw, and the picture is still the one a full draw makes."""

    class WithReference(GeometricGrowth):
        abstract = True

        def setup(self, fig):
            super().setup(fig)
            self.reference = self.fixed(self.ax.axhline(1.0, color="black"))

    panel = WithReference()
    assert panel.reference not in panel._dynamic_artists() and panel.curve in panel._dynamic_artists()
    panel.set(r=1.5, n=10)
    draws = panel.backgrounds.full_draws
    panel.reference.set_ydata([2.0, 2.0])
    panel.set(n=10)
    assert panel.backgrounds.full_draws == draws + 1
    shown = np.asarray(panel.fig.canvas.buffer_rgba()).copy()
    panel.fig.canvas.draw()
    np.testing.assert_array_equal(shown, np.asarray(panel.fig.canvas.buffer_rgba()))


def test_panels_fit_the_laptop_box():
    """Controls beside the figure when that leaves it larger, else a strip above; never enlarged."""
    from bnlib.live import PANEL_BOX, arrange

    wide = arrange((8.0, 4.0), control_count=2, dpi=100)
    assert not wide.controls_beside and wide.figure_size[0] * 100 <= PANEL_BOX[0]
    many = arrange((6.0, 4.0), control_count=8, dpi=100)
    assert many.controls_beside and many.figure_size[0] < 6.0
    assert many.figure_size[0] / many.figure_size[1] == pytest.approx(1.5)
    assert arrange((3.0, 2.0), control_count=1, dpi=100).figure_size == (3.0, 2.0)


def test_projector_mode_enlarges_text_and_lines():
    from bnlib.live import projector

    normal = GeometricGrowth()
    projector(True)
    try:
        big = GeometricGrowth()
    finally:
        projector(False)
    assert big.ax.xaxis.label.get_fontsize() == 12 and normal.ax.xaxis.label.get_fontsize() == 10
    assert big.curve.get_linewidth() == pytest.approx(1.5 * normal.curve.get_linewidth())
    assert big.fig.get_size_inches().tolist() == normal.fig.get_size_inches().tolist()


def test_readouts_go_to_one_region_that_shows_them_or_the_message():
    """The region itself (role status, polite, one unbreakable line per item) is made once in the page by
    readouts.js; the browser test checks it stays the same element while a slider moves."""
    panel = GeometricGrowth()
    region = panel._readout_region
    assert region in panel.widget().children
    assert region.items == [[name, value] for name, value in panel.readouts.items()] and region.message == ""
    assert region.items[0][0] == "last value"
    panel.set(r=0.0)  # the panel says why it cannot draw: the message replaces the readouts
    assert region.items == [] and region.message == panel.message and "move r above 0" in region.message
    panel.set(r=2.0)
    assert region.message == "" and region.items[0][0] == "last value"
    source = ES_MODULE.read_text()
    for attribute in ('"role", "status"', '"aria-live", "polite"', '"aria-atomic", "true"'):
        assert attribute in source
    assert "white-space: nowrap" in region._css
    assert "http://" not in source and "https://" not in source


def test_the_static_picture_has_alt_text():
    bundle = GeometricGrowth()._repr_mimebundle_()
    assert 'alt="r to the k. Draws r**k' in bundle["text/html"]


def lab(rgb):
    """CIELAB (D65) of sRGB colours in [0, 1], shape (..., 3)."""
    rgb = np.asarray(rgb, dtype=float)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    f = np.cbrt(xyz / np.array([0.9505, 1.0, 1.089]))
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


@pytest.mark.parametrize("deficiency", ["protanopia", "deuteranopia"])
def test_contrasted_colours_stay_apart_for_red_green_colour_blindness(deficiency):
    """The pairs the panels contrast (before/after, with/without BN, height/age, saturated/linear shading)
    stay clearly apart (CIELAB ΔE > 20) as a viewer with protanopia or deuteranopia sees them. The old red
    and green shading of the saturation regions did not."""
    from matplotlib.colors import to_rgb

    from bnlib.live import PALETTE, simulate_colour_vision

    pairs = [("vermillion", "blue"), ("orange", "blue"), ("sky", "vermillion"), ("black", "orange")]
    pairs = [(PALETTE[a], PALETTE[b]) for a, b in pairs] + [
        ("#fde9cc", "#d6ecfa"),
        ("#e3e3e3", PALETTE["sky"]),
    ]
    for first, second in pairs:
        seen = simulate_colour_vision([to_rgb(first), to_rgb(second)], deficiency)
        distance = np.linalg.norm(lab(seen[0]) - lab(seen[1]))
        assert distance > 20, f"{first} and {second} look alike with {deficiency}: ΔE = {distance:.1f}"
    old_red, old_green = simulate_colour_vision([to_rgb("#fecaca"), to_rgb("#bbf7d0")], deficiency)
    assert np.linalg.norm(lab(old_red) - lab(old_green)) < 20


def test_histogram_counts_in_fixed_bins_and_padded_range_widens_both_sides():
    from bnlib.live import histogram, padded_range

    edges = np.array([-1.0, 0.0, 1.0])
    centres, counts = histogram([-5.0, 0.1, 0.2, 5.0], edges)
    assert centres.tolist() == [-0.5, 0.5] and counts.tolist() == [0, 2]  # values beyond the bins left out
    assert histogram([-5.0, 0.1, 0.2, 5.0], edges, clip=True)[1].tolist() == [1, 3]  # piled into the edges
    assert padded_range([3.0, 1.0, 2.0], 0.25) == (0.5, 3.5)
