"""Each interactive notebook, opened in JupyterLab in a real Chromium: Run All works, no output is an
error, every figure draws, every live figure fits a laptop and a projector screen (coursetools/browser/fit.py),
and moving a slider by keyboard repaints its figure."""

import re

import pytest

from coursetools.browser.fit import LAPTOP, PROJECTOR, live_output_count, show_screen, unfit_outputs
from coursetools.browser.harness import LabNotebook
from coursetools.notebook_runner import interactive_notebooks
from coursetools.paths import NOTEBOOKS

pytestmark = pytest.mark.browser

INTERACTIVE = interactive_notebooks(NOTEBOOKS)


def test_there_are_interactive_notebooks():
    assert INTERACTIVE, "no notebook uses %matplotlib widget"


@pytest.mark.parametrize("path, panel_cells", INTERACTIVE, ids=lambda v: getattr(v, "stem", ""))
def test_notebook_in_jupyterlab(lab, browser, path, panel_cells):
    notebook = LabNotebook.open(browser, lab, str(path.relative_to(NOTEBOOKS)))
    try:
        notebook.run_all()
        assert notebook.errors() == []
        panels = notebook.panel_count()
        assert panels >= min(panel_cells, 1), f"{path.name} builds panels, but none is displayed"
        for panel in range(panels):
            notebook.wait_for_figure(panel)
        # A figure left stale is redrawn after every kernel message, and each redraw sends the next one:
        # the kernel then never rests and every slider waits behind it.
        assert notebook.goes_quiet(), "the kernel keeps sending messages with nothing touched"
        # Every live output, whatever draws it: controls, figure and readouts at one scroll position, on a
        # laptop with the file browser open and on a projector with it collapsed; no label cut.
        assert live_output_count(notebook) >= panels
        unfit = unfit_outputs(notebook, LAPTOP) + unfit_outputs(notebook, PROJECTOR)
        assert not unfit, "\n".join(unfit)
        show_screen(notebook, LAPTOP)  # the sliders below are moved on the laptop screen
        for panel in range(panels):
            before = notebook.wait_for_figure(panel)
            # By keyboard, as a learner without a mouse moves it (fit.py checks every control takes the focus).
            # Not every slider changes every setting's picture (an offset vanishes once features are
            # standardized), so try the sliders in order until one repaints the figure.
            repainted = False
            for slider in range(notebook.slider_count(panel)):
                if notebook.nudge_slider(panel, slider, timeout_ms=8_000) >= 0:
                    repainted = True
                    break
            assert repainted, f"{path.name}: no slider of panel {panel} repainted its figure"
            assert notebook.canvas_png(panel) != before
        assert notebook.errors() == []
    finally:
        notebook.close()


def test_a_question_map_link_opens_its_notebook_at_the_answer(lab, browser):
    """00_start_here's map sends each learner question to a cell of another notebook: clicking a link must
    open that notebook with that cell on screen, where the answer starts, without the learner scrolling.

    Both the first link (an answer near the top of its notebook) and the last (deep in a long notebook) are
    clicked. JupyterLab 4.6 does not always put the cell's top exactly at the top of the notebook (its
    windowed notebook scrolls by estimated cell heights, and an answer near the top may already be in view),
    so the test asks for what a learner needs: the cell visible in the notebook's scroll area."""
    notebook = LabNotebook.open(browser, lab, "00_start_here.ipynb")
    try:
        # JupyterLab rewrites a relative link into its /files/ URL (with a query) and opens it itself on click.
        links = notebook.page.locator(".jp-RenderedMarkdown a[href*='.ipynb'][href*='#cell-id=']")
        assert links.count() > 1, "00_start_here has fewer than two links to answers"
        for link in (links.first, links.last):
            href = link.get_attribute("href")
            target_notebook, cell_id = re.search(
                r"([\w.-]+\.ipynb)(?:\?[^#]*)?#cell-id=([\w-]+)$", href
            ).groups()
            # back to the start page's tab (the previous click opened another notebook)
            notebook.page.evaluate(
                "() => window.jupyterapp.commands.execute('docmanager:open', {path: '00_start_here.ipynb'})"
            )
            link.click()
            notebook.page.wait_for_function(
                """([name, id]) => {
                    const widget = window.jupyterapp.shell.currentWidget;
                    if (!widget?.context?.path?.endsWith(name)) return false;
                    const target = widget.content.widgets.find(cell => cell.model.id === id);
                    const area = widget.content.node.closest('.jp-WindowedPanel-outer') ?? widget.content.node;
                    const visible = area.getBoundingClientRect(), cell = target?.node.getBoundingClientRect();
                    return Boolean(cell) && cell.height > 0 && cell.top < visible.bottom - 40
                        && cell.bottom > visible.top + 40;
                }""",
                arg=[target_notebook, cell_id],
                timeout=60_000,
            )
    finally:
        notebook.close()


def test_the_readouts_stay_one_live_region_while_a_slider_moves(lab, browser):
    """A screen reader announces what changes inside a live region already in the page, so the readouts'
    region must stay the same element while the numbers in it change (an HTML widget's new value replaces its
    content, region and all, on every update)."""
    notebook = LabNotebook.open(browser, lab, "00_start_here.ipynb")
    try:
        notebook.run_all()
        notebook.wait_for_figure(0)
        region = notebook.panels().nth(0).locator("[aria-live]").first.element_handle()
        attributes = region.evaluate(
            "r => [r.getAttribute('role'), r.getAttribute('aria-live'), r.textContent]"
        )
        assert attributes[:2] == ["status", "polite"] and attributes[2]
        assert notebook.nudge_slider(0, 0) >= 0
        notebook.page.wait_for_function(
            "([r, before]) => !r.isConnected || r.textContent !== before", arg=[region, attributes[2]]
        )
        assert region.evaluate("r => r.isConnected"), "the readouts' live region was replaced, not updated"
        assert region.evaluate("r => r.textContent") != attributes[2]
    finally:
        notebook.close()
