"""Build the static HTML gallery of the course (`make site`): every notebook executed fresh, every figure a picture.

    python -m coursetools.build_site               # every notebook, into site/
    python -m coursetools.build_site notebooks/00_start_here.ipynb --out .cache/site-00
    python -m coursetools.build_site --answer-key  # for teachers: the exercises with solutions, into answer-key/

Each notebook runs top to bottom headless (coursetools/notebook_runner.py's `execute`, as Restart & Run All) and is
exported with nbconvert's HTML exporter into site/, next to an index.html that lists them in order. Without a
kernel a live figure cannot move, so every figure is shown as the PNG it carries: a live panel's output holds a
widget view plus a PNG of its figure (bnlib.live.Panel), and an ipympl figure's output a widget view plus a PNG
snapshot; the widget view is dropped where a PNG sits next to it. Widgets without a picture (a bare slider)
become a short note. The saved widget state is dropped too, so the pages load no widget code from the web.
Links between notebooks point to the HTML pages.

The site is what learners get, so it is built from notebooks/: the exercises appear as learners receive them,
without solutions, and are not executed (they stop at their first ``raise NotImplementedError()``). The
answer key (``--answer-key``, ``make answer-key``) is the same kind of site built from the teacher's versions.

Offline: math is typeset in the browser by MathJax 2 from the PyPI package jupyter_server_mathjax, copied into
the site's ``mathjax/`` folder, and every script tag that points at a web address is removed (the widget loader
is not needed once the widget state is gone), so a page makes no request that leaves the machine.
"""

from __future__ import annotations

import argparse
import html
import os
import shutil
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from coursetools.notebook_runner import all_notebooks, execute
from coursetools.paths import NOTEBOOKS, ROOT

SITE = ROOT / "site"
ANSWER_KEY = ROOT / "answer-key"
TEACHER = ROOT / "teacher"
MATHJAX_FOLDER = "mathjax"
# MathJax 2's combined configuration that jupyter_server_mathjax ships (TeX in, HTML-CSS out), plus the
# "Safe" extension nbconvert uses by default: no links or styles from the TeX itself.
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
# jupyter_server_mathjax ships only the STIX-Web fonts: use them, never the fonts installed on the reader's
# machine (which misplace accents) nor MathJax's default TeX web fonts (not shipped: each would be a 404).
MATHJAX_FONTS = (
    'MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", '
    "imageFont: null}});"
)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PNG = "image/png"
LIVE_ONLY_NOTE = (
    "<p><em>A live control: open this notebook in JupyterLab (<code>make lab</code>) to use it.</em></p>"
)


@dataclass
class Page:
    notebook: Path  # the source notebook
    html: Path  # the page written
    title: str
    pictures: int  # figure outputs shown as PNG
    seconds: float  # execution time


def make_static(notebook) -> int:
    """Turn the outputs of an executed notebook (nbformat node, changed in place) into kernel-free ones.

    Returns the number of figure outputs, each now an image/png. Raises if a widget output is left that a
    static page cannot show.
    """
    pictures = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                if PNG in data:
                    # ipympl's text/html wraps the same PNG in a widget label: keep the plain picture. A
                    # panel's own <img> carries alt text for readers who cannot see it: that one stays.
                    if not _is_described_picture(data.get("text/html", "")):
                        data.pop("text/html", None)
                else:
                    data.clear()
                    data["text/html"] = LIVE_ONLY_NOTE
            pictures += PNG in data
    notebook.metadata.pop("widgets", None)  # saved widget state would make the page fetch widget code
    return pictures


def _is_described_picture(html_text) -> bool:
    """True for output HTML that is one picture with alt text (what a live panel adds for static viewers)."""
    text = "".join(html_text) if isinstance(html_text, list) else html_text
    return text.lstrip().startswith("<img") and 'alt="' in text and 'alt=""' not in text


def page_name(notebook: Path, root: Path) -> Path:
    return notebook.relative_to(root).with_suffix(".html")


def _is_web_address(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return bool(parts.netloc) or parts.scheme not in ("", "data")


def _finish_page(page_html: str) -> str:
    """Point relative links to notebooks ('x.ipynb#frag') at their pages ('x.html#frag'), and drop every
    script the page would load from the web (nbconvert adds require.js for widgets, gone here)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page_html, features="html.parser")
    for anchor in soup.select("a[href]"):
        url = urllib.parse.urlsplit(anchor["href"])
        if not url.scheme and not url.netloc and url.path.endswith(".ipynb"):
            anchor["href"] = urllib.parse.urlunsplit(url._replace(path=url.path[: -len(".ipynb")] + ".html"))
    for script in soup.select("script[src]"):
        if _is_web_address(script["src"]):
            script.decompose()
        elif "MathJax.js" in script["src"]:
            fonts = soup.new_tag("script", type="text/x-mathjax-config")
            fonts.string = MATHJAX_FONTS
            script.insert_before(fonts)
    return str(soup)


def web_resources(page_html: str) -> list[str]:
    """Addresses outside the site that a page would load by itself (scripts, styles, images, frames)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page_html, features="html.parser")
    found = [tag.get("src", "") for tag in soup.select("script[src], img[src], iframe[src]")]
    found += [tag["href"] for tag in soup.select("link[href]") if "stylesheet" in tag.get("rel", [])]
    return [url for url in found if _is_web_address(url)]


def copy_mathjax(out: Path) -> Path:
    """Copy MathJax (from the jupyter_server_mathjax package) into ``out/mathjax/``; return that folder."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise SystemExit(
            "build_site: jupyter_server_mathjax is not installed; it is in the test extra: "
            'pip install -e ".[test]"  (the site typesets its math with it, offline).'
        ) from None
    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    target = out / MATHJAX_FOLDER
    if not (target / "MathJax.js").exists():
        shutil.copytree(source, target, dirs_exist_ok=True)
    return target


def needs_a_learner(notebook) -> bool:
    """True for a learner's exercise: an nbgrader solution cell whose solution is not there (the teacher's
    version keeps it between ### BEGIN SOLUTION and ### END SOLUTION)."""
    return any(
        cell.metadata.get("nbgrader", {}).get("solution") and "### BEGIN SOLUTION" not in cell.source
        for cell in notebook.cells
        if cell.cell_type == "code"
    )


def title_of(notebook) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return "Untitled"


def build_page(path: Path, out: Path, root: Path) -> Page:
    """Execute the notebook at ``path`` and write its static page under ``out`` (same layout as ``root``).

    A learner's exercise is shown as it is, unexecuted. Expects MathJax in ``out/mathjax/`` (copy_mathjax).
    """
    import nbformat
    from nbconvert import HTMLExporter

    notebook, seconds = nbformat.read(path, as_version=4), 0.0
    if not needs_a_learner(notebook):
        executed = execute(path)
        errors = executed.errors()
        if errors:
            raise RuntimeError(f"{path.name} failed while executing: {errors}")
        notebook, seconds = executed.notebook, executed.seconds
    pictures = make_static(notebook)
    title = title_of(notebook)
    target = out / page_name(path, root)
    mathjax = Path(os.path.relpath(out / MATHJAX_FOLDER / "MathJax.js", target.parent)).as_posix()
    exporter = HTMLExporter(template_name="lab", mathjax_url=f"{mathjax}?config={MATHJAX_CONFIG}")
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
    body = _finish_page(body)
    leaving = web_resources(body)
    if leaving:
        raise RuntimeError(
            f"{path.name}: the page would load {leaving} from the web; the site must work offline"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    return Page(path, target, title, pictures, seconds)


COURSE_INTRODUCTION = """<p>Every notebook of the course, executed top to bottom. The figures are pictures of the
live figures as they first appear; to move the sliders, open the notebooks in JupyterLab (<code>make lab</code>).
Start with the first one: it maps every learner question to the section that answers it. The exercises are shown
as you receive them, to be solved in JupyterLab.</p>"""
ANSWER_KEY_INTRODUCTION = """<p><strong>For teachers, not for learners.</strong> The exercises with their worked
solutions and hidden tests, executed top to bottom (from <code>teacher/exercises/</code>).</p>"""


def index_html(pages: list[Page], out: Path, answer_key: bool = False) -> str:
    def rows(selected):
        return "\n".join(
            f'<li><a href="{p.html.relative_to(out).as_posix()}">{html.escape(p.title)}</a></li>'
            for p in selected
        )

    course = [p for p in pages if len(p.html.relative_to(out).parts) == 1]  # exercises sit in a subfolder
    exercises = [p for p in pages if p not in course]
    sections = f"<h2>The course, in order</h2>\n<ol>\n{rows(course)}\n</ol>" if course else ""
    if exercises:
        sections += f"\n<h2>Exercises</h2>\n<ul>\n{rows(exercises)}\n</ul>"
    title = "answer key" if answer_key else "the notebooks"
    introduction = ANSWER_KEY_INTRODUCTION if answer_key else COURSE_INTRODUCTION
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Batch normalization, interactively: {title}</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 46em; margin: 2em auto; line-height: 1.5; }}</style>
</head>
<body>
<h1>Batch normalization, interactively{": answer key" if answer_key else ""}</h1>
{introduction}
{sections}
</body>
</html>
"""


def build(
    notebooks: list[Path], out: Path = SITE, root: Path = NOTEBOOKS, answer_key: bool = False
) -> list[Page]:
    """Build a page for each notebook (in the order given), index.html and MathJax into ``out``."""
    copy_mathjax(out)
    pages = []
    for path in notebooks:
        page = build_page(path, out, root)
        print(
            f"{page.html.relative_to(out)}: {page.pictures} figures, executed in {page.seconds:.1f} s",
            flush=True,
        )
        pages.append(page)
    (out / "index.html").write_text(index_html(pages, out, answer_key), encoding="utf-8")
    return pages


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to build (default: all of notebooks/)"
    )
    parser.add_argument("--out", type=Path, help="output folder (default: site/, or answer-key/)")
    parser.add_argument(
        "--answer-key", action="store_true", help="build the teacher's exercises, with solutions, instead"
    )
    args = parser.parse_args(argv)
    root = TEACHER if args.answer_key else NOTEBOOKS
    out = args.out or (ANSWER_KEY if args.answer_key else SITE)
    notebooks = [p.resolve() for p in args.notebooks] or all_notebooks(root)
    missing = [str(p) for p in notebooks if not p.exists()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    outside = [str(p) for p in notebooks if not p.is_relative_to(root)]
    if outside:
        parser.error(f"notebooks must be inside {root}: {', '.join(outside)}")
    start = time.perf_counter()
    pages = build(notebooks, out.resolve(), root, answer_key=args.answer_key)
    print(f"{len(pages)} pages in {out}/ ({time.perf_counter() - start:.0f} s); open {out}/index.html")


if __name__ == "__main__":
    main()
