"""The static gallery (coursetools/build_site.py): without a kernel, every figure is a PNG and no widget waits
for code that will never load; a learner's exercise is shown unsolved; offline, the math is typeset and no
request leaves the machine."""

import base64
import contextlib
import functools
import http.server
import re
import threading

import nbformat
import pytest

from coursetools import build_site
from coursetools.build_site import LIVE_ONLY_NOTE, build
from coursetools.paths import LEARNER_EXERCISES, NOTEBOOKS, ROOT, TEACHER_EXERCISES

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
MATH = (
    r"Inline $\hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \varepsilon}}$, and on its own line"
    "\n\n"
    r"$$\sigma^2 = \tfrac{1}{3}\big[(4 - \mu)^2 + (5 - \mu)^2\big] \quad\text{(hours}^2\text{)}$$"
)


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
        source / "01_figures.ipynb",
        "Figures",
        FIRST,
        f"{MATH}\n\nNext: [the second](02_text.ipynb#cell-id=abc).",
    )
    write_notebook(source / "02_text.ipynb", "Text", SECOND)
    (source / "exercises").mkdir(exist_ok=True)
    write_notebook(source / "exercises" / "ex1_unsolved.ipynb", "Exercise", [LEARNERS_CELL])
    exercise = nbformat.read(source / "exercises" / "ex1_unsolved.ipynb", as_version=4)
    exercise.cells[1].metadata["nbgrader"] = {
        "solution": True,
        "grade": False,
        "grade_id": "f",
        "locked": False,
    }
    nbformat.write(exercise, source / "exercises" / "ex1_unsolved.ipynb")
    notebooks = [
        source / "01_figures.ipynb",
        source / "02_text.ipynb",
        source / "exercises" / "ex1_unsolved.ipynb",
    ]
    pages = build(notebooks, out, root=source)
    return pages, out


LEARNERS_CELL = "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\n\nf()"


def test_every_figure_is_a_png(site):
    pages, _ = site
    figures = pages[0].html.read_text()
    assert pages[0].pictures == 2  # the plain figure and the panel
    images = IMG.findall(figures)
    assert len(images) == 2, f"expected 2 inline PNGs, found {len(images)}"
    for data in images:
        assert base64.b64decode(data).startswith(PNG_SIGNATURE)


def test_a_panels_picture_keeps_its_alt_text(site):
    """A reader who cannot see the picture of a live panel is told what it shows (its title and readouts)."""
    pages, _ = site
    alts = re.findall(r'<img[^>]*alt="([^"]+)"', pages[0].html.read_text())
    assert any("Now:" in alt and len(alt) > 40 for alt in alts), f"no panel picture with alt text: {alts}"


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


def test_a_learners_exercise_is_shown_unsolved_and_not_run(site):
    pages, out = site
    exercise = pages[2].html.read_text()
    assert "YOUR CODE HERE" in exercise and "NotImplementedError" in exercise
    assert "Traceback" not in exercise and pages[2].seconds == 0  # not executed: no error output
    assert 'href="exercises/ex1_unsolved.html"' in (out / "index.html").read_text()


def test_the_site_is_built_from_the_learners_notebooks_and_the_key_from_the_teachers():
    assert build_site.NOTEBOOKS == NOTEBOOKS and build_site.TEACHER == ROOT / "teacher"
    for learners in sorted(LEARNER_EXERCISES.glob("ex*.ipynb")):
        teachers = TEACHER_EXERCISES / learners.name
        assert build_site.needs_a_learner(nbformat.read(learners, as_version=4)), learners.name
        assert not build_site.needs_a_learner(nbformat.read(teachers, as_version=4)), teachers.name  # runs
    assert "For teachers" in build_site.index_html([], ROOT, answer_key=True)


def test_no_page_loads_anything_from_the_web(site):
    pages, out = site
    for page in pages:
        assert build_site.web_resources(page.html.read_text()) == [], page.html.name
        assert 'src="../mathjax/MathJax.js' in page.html.read_text() or page.html.parent == out
    assert build_site.web_resources('<script src="https://cdn.example/x.js"></script>') == [
        "https://cdn.example/x.js"
    ]


@contextlib.contextmanager
def serve(folder):
    """A static web server for ``folder`` on 127.0.0.1, on a free port, as a teacher would host the site."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_offline_the_math_is_typeset_and_no_request_leaves_the_machine(site, browser):
    """Chromium with every request outside the local server blocked: the page must typeset its math."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    pages, out = site
    left_the_machine, served = [], []
    with serve(out) as origin:
        page = browser.new_page()

        def only_local(route):
            url = route.request.url
            if url.startswith(origin + "/"):
                served.append(url)
                route.continue_()
            else:
                left_the_machine.append(url)
                route.abort()

        page.route("**/*", only_local)
        missing = []  # files the page asked the site for and did not get (a font MathJax does not ship, say)
        page.on("response", lambda response: response.status >= 400 and missing.append(response.url))
        page.goto(f"{origin}/{pages[0].html.relative_to(out).as_posix()}")
        try:
            page.wait_for_function("window.MathJax && MathJax.isReady", timeout=20_000)
        except PlaywrightTimeout:
            mathjax_ready = False
        else:
            mathjax_ready = True
            page.evaluate(
                "() => new Promise(done => MathJax.Hub.Queue(done))"
            )  # after the typesetting queued
        typeset = page.locator(".jp-RenderedMarkdown .MathJax, .jp-RenderedMarkdown .MathJax_Display").count()
        shown = page.evaluate(
            """() => [...document.querySelectorAll('.jp-RenderedMarkdown')].map(element => {
                   const copy = element.cloneNode(true);
                   copy.querySelectorAll('script, code, pre').forEach(e => e.remove());
                   return copy.innerText;
               }).join('\\n')"""
        )
        page.close()
    assert left_the_machine == [], f"requests that left the machine: {left_the_machine}"
    assert mathjax_ready and any("/mathjax/" in url for url in served), "MathJax did not load from the site"
    assert missing == [], f"the site lacks files its pages load: {missing}"
    assert typeset >= 2, f"expected the inline and the display formula typeset, found {typeset}"
    raw = re.findall(r"\$|\\[A-Za-z]+", shown)
    assert not raw, f"raw TeX on the page: {raw}: {shown!r}"
    assert "Inline" in shown and "σ" in shown  # the text is there, and the formula shows as symbols
