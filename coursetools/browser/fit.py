"""Does every live figure fit the screen? Measured in the page, for any widget output (ipympl or not).

The visible area is the notebook panel's scroll area (JupyterLab's ``.jp-WindowedPanel-outer``): what is
left of the window under the menu, the tabs and the notebook's toolbar, right of the side bar, above the
status bar. A live output is any output area holding a canvas and a control (slider, menu, checkbox, input).
It fits when, scrolled to its top, all of its controls, its canvases and its readouts (``[aria-live]``) lie
inside that area, no label or readout is cut (its text wider than its box) or broken over two lines (a
readout item, a span or a readout table's cell, counted by the line boxes of its text), no
control sticks out of its column, and every control can take the keyboard focus.

    problems = unfit_outputs(notebook, LAPTOP)   # [] when every live output of the open notebook fits
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Screen:
    name: str
    viewport: tuple[int, int]
    file_browser_open: bool


# A live output: an output area with a canvas and a control, whatever draws it (ipympl or a page-drawn widget).
LIVE_OUTPUT_SELECTOR = ".jp-OutputArea-output:has(canvas):has(input, select, [role=slider])"

LAPTOP = Screen("laptop 1366×768, file browser open", (1366, 768), True)
PROJECTOR = Screen("projector 1280×720, file browser collapsed", (1280, 720), False)

# For each live output: scroll its top to the top of the visible area, then measure. Cells off screen may
# be laid out lazily (content-visibility), so nothing is measured before it was scrolled into view.
_MEASURE_JS = """
async () => {
  const frame = () => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  const notebook = window.jupyterapp.shell.currentWidget.node;
  const scroller = notebook.querySelector('.jp-WindowedPanel-outer');
  const outputs = [...notebook.querySelectorAll('.jp-OutputArea-output')].filter(output =>
    output.querySelector('canvas') && output.querySelector('input, select, [role=slider]'));
  const shown = element => {
    const box = element.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(element).visibility !== 'hidden';
  };
  // The lines an element's text is laid out on: the distinct line boxes of its text (a table cell is one box
  // however many lines its text takes, so its getClientRects() cannot tell).
  const lineCount = element => {
    const range = document.createRange();
    range.selectNodeContents(element);
    const lines = [];
    for (const rect of range.getClientRects()) {
      if (rect.width < 0.5 || rect.height < 0.5) continue;
      if (!lines.some(line => rect.top < line.bottom - 1 && rect.bottom > line.top + 1)) lines.push(rect);
    }
    return lines.length;
  };
  const describe = element => (element.textContent || element.getAttribute('aria-label') || element.tagName)
    .trim().slice(0, 60);
  const results = [];
  for (const [index, output] of outputs.entries()) {
    output.scrollIntoView({block: 'start'});
    await frame();
    const parts = [
      ...[...output.querySelectorAll('input, select, [role=slider], button, .widget-label, .widget-label-basic')]
        .map(element => ['control', element]),
      ...[...output.querySelectorAll('canvas')].map(element => ['figure', element]),
      ...[...output.querySelectorAll('[aria-live]')].map(element => ['readouts', element]),
    ].filter(([, element]) => shown(element));
    // Cells above may change height as they come into view: scroll again until the output stays put.
    for (let attempt = 0; attempt < 5; attempt++) {
      const top = Math.min(...parts.map(([, element]) => element.getBoundingClientRect().top));
      const offset = top - scroller.getBoundingClientRect().top - 2;
      if (Math.abs(offset) < 1) break;
      scroller.scrollTop += offset;
      await frame();
    }
    const area = scroller.getBoundingClientRect();
    const outside = [], cut = [];
    for (const [kind, element] of parts) {
      const box = element.getBoundingClientRect();
      if (box.left < area.left - 0.5 || box.right > area.right + 0.5 || box.top < area.top - 0.5
          || box.bottom > area.bottom + 0.5) {
        outside.push(`${kind} "${describe(element)}" at x ${box.left.toFixed(0)}–${box.right.toFixed(0)}, `
          + `y ${box.top.toFixed(0)}–${box.bottom.toFixed(0)}`);
      }
    }
    // Text cut by its box (an ellipsis), or a readout broken over two lines: a readout item (a span, or a
    // table cell of a readout table) must show its text on one line.
    const readoutItems = '[aria-live] span, [aria-live] td, [aria-live] th';
    const texts = output.querySelectorAll(`label, .widget-label-basic, .widget-readout, ${readoutItems}`);
    for (const element of texts) {
      if (!shown(element)) continue;
      if (element.scrollWidth > element.clientWidth + 1) cut.push(`"${describe(element)}" is cut`);
      if (element.matches(readoutItems) && lineCount(element) > 1) {
        cut.push(`readout "${describe(element)}" wraps over ${lineCount(element)} lines`);
      }
    }
    // A control wider than the column or strip that holds it is clipped there (a menu's right end).
    for (const holder of output.querySelectorAll('.widget-inline-hbox')) {
      if (!shown(holder)) continue;
      const box = holder.getBoundingClientRect(), room = holder.parentElement.getBoundingClientRect();
      if (box.right > room.right + 0.5) cut.push(`control "${describe(holder)}" sticks out of its column`);
    }
    // Every control reachable with the Tab key (a keyboard user's only way in).
    for (const [kind, element] of parts) {
      const focusable = element.matches('input, select, [role=slider], button');
      if (kind === 'control' && focusable && (element.tabIndex < 0 || element.disabled)) {
        cut.push(`control "${describe(element)}" cannot take the keyboard focus`);
      }
    }
    const figures = parts.filter(([kind]) => kind === 'figure').length;
    const controls = parts.filter(([kind]) => kind === 'control').length;
    const readouts = parts.filter(([kind]) => kind === 'readouts').length;
    results.push({index, figures, controls, readouts, outside, cut,
                  area: [area.left, area.top, area.width, area.height].map(Math.round)});
  }
  return results;
}
"""


def show_screen(notebook, screen: Screen) -> None:
    """Resize the window and open or collapse the file browser, as on ``screen``; waits for the re-layout."""
    page = notebook.page
    page.set_viewport_size({"width": screen.viewport[0], "height": screen.viewport[1]})
    if screen.file_browser_open:
        page.evaluate("window.jupyterapp.shell.activateById('filebrowser')")
    else:
        page.evaluate("window.jupyterapp.shell.collapseLeft()")
    page.wait_for_timeout(400)  # Lumino lays the panels out on the resize message, a frame or two later


def unfit_outputs(notebook, screen: Screen) -> list[str]:
    """What does not fit ``screen`` in the open notebook, one line per problem ([] when everything fits)."""
    show_screen(notebook, screen)
    problems = []
    for output in notebook.page.evaluate(_MEASURE_JS):
        where = f"{notebook.name}, live output {output['index']} on the {screen.name} (area {output['area']})"
        if not (output["figures"] and output["controls"] and output["readouts"]):
            problems.append(
                f"{where}: found {output['figures']} figures, {output['controls']} controls, "
                f"{output['readouts']} readout regions (aria-live)"
            )
        problems += [f"{where}: outside the visible area: {item}" for item in output["outside"]]
        problems += [f"{where}: {item}" for item in output["cut"]]
    return problems


def live_outputs(notebook):
    """The open notebook's live outputs, in order, as a Playwright locator."""
    return notebook.page.locator(f".jp-NotebookPanel:not(.lm-mod-hidden) {LIVE_OUTPUT_SELECTOR}")


def live_output_count(notebook) -> int:
    return live_outputs(notebook).count()
