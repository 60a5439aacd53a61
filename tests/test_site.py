"""The static gallery (scripts/build_site.py): without a kernel, every figure is a PNG and no widget waits
for code that will never load."""

import base64
import re
import sys

import nbformat
import pytest
from paths import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from build_site import LIVE_ONLY_NOTE, build  # noqa: E402

pytestmark = pytest.mark.notebook

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMG = re.compile(r'<img[^>]*src="data:image/png;base64,([^"]+)"')

# A tiny course: a plain ipympl figure, a live panel, a bare slider, and a link to a second notebook.
FIRST = [
    "%matplotlib widget\nimport matplotlib.pyplot as plt\nimport ipywidgets as widgets",
    "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot([0, 1, 2], [1, 0, 1])",
    "from bnlib.panels.inputs import VarianceEstimatorPanel\n\nVarianceEstimatorPanel()",
    "widgets.IntSlider(description='n')",
]
SECOND = ["print('no figure here')"]


def write_notebook(path, title, sources, markdown=""):
    cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n{markdown}")]
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=metadata), path)


@pytest.fixture(scope="module")
def site():
    work = ROOT / ".cache" / "test_site"
    source, out = work / "notebooks", work / "site"
    source.mkdir(parents=True, exist_ok=True)
    write_notebook(
        source / "01_figures.ipynb", "Figures", FIRST, "Next: [the second](02_text.ipynb#cell-id=abc)."
    )
    write_notebook(source / "02_text.ipynb", "Text", SECOND)
    pages = build([source / "01_figures.ipynb", source / "02_text.ipynb"], out, root=source)
    return pages, out


def test_every_figure_is_a_png(site):
    pages, _ = site
    figures = pages[0].html.read_text()
    assert pages[0].pictures == 2  # the plain figure and the panel
    images = IMG.findall(figures)
    assert len(images) == 2, f"expected 2 inline PNGs, found {len(images)}"
    for data in images:
        assert base64.b64decode(data).startswith(PNG_SIGNATURE)


def test_no_widget_is_left_waiting_for_a_kernel(site):
    pages, _ = site
    figures = pages[0].html.read_text()
    assert "Loading widget" not in figures
    assert "application/vnd.jupyter.widget-view+json" not in figures
    assert "application/vnd.jupyter.widget-state+json" not in figures
    assert "Canvas(" not in figures  # no text repr of an ipympl canvas instead of its picture
    assert LIVE_ONLY_NOTE in figures  # the bare slider says where it can be used


def test_index_lists_the_pages_in_order_and_links_point_to_pages(site):
    pages, out = site
    index = (out / "index.html").read_text()
    assert index.index('href="01_figures.html"') < index.index('href="02_text.html"')
    assert 'href="02_text.html#cell-id=abc"' in pages[0].html.read_text()
    assert "no figure here" in pages[1].html.read_text()
