"""Build the static HTML gallery of the course (`make site`): every notebook executed fresh, every figure a picture.

    python scripts/build_site.py                        # every notebook, into site/
    python scripts/build_site.py notebooks/00_start_here.ipynb --out .cache/site-00

Each notebook runs top to bottom headless (tests/notebook_runner.py's `execute`, as Restart & Run All) and is
exported with nbconvert's HTML exporter into site/, next to an index.html that lists them in order. Without a
kernel a live figure cannot move, so every figure is shown as the PNG it carries: a live panel's output holds a
widget view plus a PNG of its figure (bnlib.live.Panel), and an ipympl figure's output a widget view plus a PNG
snapshot; the widget view is dropped where a PNG sits next to it. Widgets without a picture (a bare slider)
become a short note. The saved widget state is dropped too, so the pages load no widget code from the web.
Links between notebooks point to the HTML pages.
"""

from __future__ import annotations

import argparse
import html
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from notebook_runner import all_notebooks, execute  # noqa: E402
from paths import NOTEBOOKS  # noqa: E402

SITE = ROOT / "site"
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
                    # ipympl's text/html wraps the same PNG in a widget label: keep the plain picture.
                    data.pop("text/html", None)
                else:
                    data.clear()
                    data["text/html"] = LIVE_ONLY_NOTE
            pictures += PNG in data
    notebook.metadata.pop("widgets", None)  # saved widget state would make the page fetch widget code
    return pictures


def page_name(notebook: Path, root: Path) -> Path:
    return notebook.relative_to(root).with_suffix(".html")


def _link_pages(page_html: str) -> str:
    """Point relative links to notebooks ('x.ipynb#frag') at their pages ('x.html#frag')."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page_html, features="html.parser")
    for anchor in soup.select("a[href]"):
        url = urllib.parse.urlsplit(anchor["href"])
        if not url.scheme and not url.netloc and url.path.endswith(".ipynb"):
            anchor["href"] = urllib.parse.urlunsplit(url._replace(path=url.path[: -len(".ipynb")] + ".html"))
    return str(soup)


def title_of(notebook) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return "Untitled"


def build_page(path: Path, out: Path, root: Path) -> Page:
    """Execute the notebook at ``path`` and write its static page under ``out`` (same layout as ``root``)."""
    from nbconvert import HTMLExporter

    executed = execute(path)
    errors = executed.errors()
    if errors:
        raise RuntimeError(f"{path.name} failed while executing: {errors}")
    pictures = make_static(executed.notebook)
    title = title_of(executed.notebook)
    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(executed.notebook, resources={"metadata": {"name": title}})
    target = out / page_name(path, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(_link_pages(body), encoding="utf-8")
    return Page(path, target, title, pictures, executed.seconds)


def index_html(pages: list[Page], out: Path) -> str:
    def rows(selected):
        return "\n".join(
            f'<li><a href="{p.html.relative_to(out).as_posix()}">{html.escape(p.title)}</a></li>'
            for p in selected
        )

    course = [p for p in pages if len(p.html.relative_to(out).parts) == 1]  # exercises sit in a subfolder
    exercises = [p for p in pages if p not in course]
    sections = f"<h2>The course, in order</h2>\n<ol>\n{rows(course)}\n</ol>"
    if exercises:
        sections += f"\n<h2>Exercises</h2>\n<ul>\n{rows(exercises)}\n</ul>"
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Batch normalization, interactively: the notebooks</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 46em; margin: 2em auto; line-height: 1.5; }}</style>
</head>
<body>
<h1>Batch normalization, interactively</h1>
<p>Every notebook of the course, executed top to bottom. The figures are pictures of the live figures as they
first appear; to move the sliders, open the notebooks in JupyterLab (<code>make lab</code>). Start with the
first one: it maps every learner question to the section that answers it.</p>
{sections}
</body>
</html>
"""


def build(notebooks: list[Path], out: Path = SITE, root: Path = NOTEBOOKS) -> list[Page]:
    """Build a page for each notebook (in the order given) and index.html into ``out``."""
    pages = []
    for path in notebooks:
        page = build_page(path, out, root)
        print(
            f"{page.html.relative_to(out)}: {page.pictures} figures, executed in {page.seconds:.1f} s",
            flush=True,
        )
        pages.append(page)
    (out / "index.html").write_text(index_html(pages, out), encoding="utf-8")
    return pages


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to build (default: all of notebooks/)"
    )
    parser.add_argument("--out", type=Path, default=SITE, help="output folder (default: site/)")
    args = parser.parse_args(argv)
    notebooks = [p.resolve() for p in args.notebooks] or all_notebooks(NOTEBOOKS)
    missing = [str(p) for p in notebooks if not p.exists()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    outside = [str(p) for p in notebooks if not p.is_relative_to(NOTEBOOKS)]
    if outside:
        parser.error(f"notebooks must be inside {NOTEBOOKS}: {', '.join(outside)}")
    start = time.perf_counter()
    pages = build(notebooks, args.out.resolve())
    print(
        f"{len(pages)} pages in {args.out}/ ({time.perf_counter() - start:.0f} s); open {args.out}/index.html"
    )


if __name__ == "__main__":
    main()
