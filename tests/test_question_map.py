"""The learner-question map: every question L1–L25 is mapped in 00_start_here, and every link lands.

L1–L22 are the learners' own questions (``/work/shared/learner-questions.md``, copied verbatim at the top of
``docs/learner-questions.md``); L23 onwards are the questions learners ask next, which the course adds below
them in the docs copy, numbered on from the learners' last.

A link into another notebook's section names the id of the heading's cell, which is how JupyterLab 4 finds it
reliably: ``04_gamma_and_beta.ipynb#cell-id=b8c62a7f`` opens the notebook and scrolls to that cell (the static
HTML gallery gives every cell the id ``cell-id=…`` too). Measured in Chromium on JupyterLab 4.6: a link by
heading text (``…ipynb#2.-Which-axis?-(L7,-L16)``) opens the notebook but does not scroll when the notebook
was not open yet (its headings are not rendered when the fragment is looked up), and never scrolls to a
heading with non-ASCII text (γ, ·, ÷, –), which the browser percent-encodes before JupyterLab compares it.

Within one notebook, a link by heading text works once the page is rendered: '#Recap' is the heading's text
as the browser shows it with spaces replaced by '-' (JupyterLab's ``createHeaderId``); it must be ASCII.

The checker (:func:`link_problems`) is reused for README.md, whose links point into ``notebooks/``.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import mistune
import nbformat
import pytest

from coursetools.paths import NOTEBOOKS, ROOT

START_HERE = NOTEBOOKS / "00_start_here.ipynb"
README = ROOT / "README.md"
QUESTIONS_COPY = ROOT / "docs" / "learner-questions.md"
QUESTIONS_SHARED = ROOT.parent / "shared" / "learner-questions.md"

QUESTION_ROW = re.compile(r"^\|\s*(L\d+)\s*\|(.*)\|\s*$", re.MULTILINE)
ATX_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
# Characters a browser leaves as they are in a URL fragment (WHATWG fragment percent-encode set, inverted);
# '%' is excluded too, since JupyterLab would not decode it.
FOLLOWABLE = re.compile(r"^[!#$&'()*+,\-./0-9:;=?@A-Z\[\\\]^_a-z{|}~]*$")


@dataclass(frozen=True)
class Section:
    """A heading of a notebook, and the text under it up to the next heading of the same or higher level."""

    notebook: Path
    cell_id: str
    level: int
    title: str  # the heading's text as the browser shows it
    text: str

    @property
    def anchor(self) -> str:
        return heading_anchor(self.title)

    @property
    def followable(self) -> bool:
        """Whether JupyterLab 4 scrolls to this heading when a link names its anchor."""
        return "$" not in self.title and bool(FOLLOWABLE.match(self.anchor))


def heading_text(markdown_heading: str) -> str:
    """The text a browser shows for one Markdown heading line, e.g. '## 5 · `eval()` (L2)' -> '5 · eval() (L2)'."""
    rendered = mistune.html(markdown_heading.strip())
    return html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip()


def heading_anchor(title: str) -> str:
    """JupyterLab's id for a heading whose shown text is ``title``: spaces become '-' (nothing else changes)."""
    return title.replace(" ", "-")


@cache
def notebook_sections(path: Path) -> tuple[Section, ...]:
    """Every Markdown heading of the notebook at ``path`` (headings in code fences are not headings)."""
    notebook = nbformat.read(path, as_version=4)
    # (cell id, level or 0 for body text, line) for every line, so that sections can span cells.
    lines: list[tuple[str, int, str]] = []
    for cell in notebook.cells:
        in_fence = False
        for line in cell.source.splitlines():
            if FENCE.match(line):
                in_fence = not in_fence
            match = None if in_fence or cell.cell_type != "markdown" else ATX_HEADING.match(line)
            lines.append((cell.get("id", ""), len(match.group(1)) if match else 0, line))
    sections = []
    for start, (cell_id, level, line) in enumerate(lines):
        if not level:
            continue
        end = next((i for i in range(start + 1, len(lines)) if 0 < lines[i][1] <= level), len(lines))
        body = "\n".join(text for _, _, text in lines[start:end])
        sections.append(Section(path, cell_id, level, heading_text(line), body))
    return tuple(sections)


def find_section(notebook: Path, fragment: str) -> Section | None:
    """The section a link fragment (an anchor or 'cell-id=…', already percent-decoded) names."""
    for section in notebook_sections(notebook):
        if fragment in (section.anchor, f"cell-id={section.cell_id}"):
            return section
    return None


def markdown_links(markdown: str) -> list[tuple[str, str]]:
    """(link text, URL with percent-escapes decoded) for every Markdown link, in order."""
    found = []

    def walk(tokens):
        for token in tokens:
            if token.get("type") == "link":
                text = "".join(child.get("raw", "") for child in token.get("children", []))
                found.append((text, urllib.parse.unquote(token["attrs"]["url"])))
            walk(token.get("children", []))

    walk(mistune.create_markdown(renderer=None, plugins=["table"])(markdown))
    return found


def resolve_link(url: str, base: Path, document: Path | None = None) -> Section | Path | None:
    """The section (for a notebook link with a fragment) or file a relative ``url`` points to, else None.

    ``base`` is the folder of the document the link is in; ``document`` that notebook, for links like '#…'.
    """
    target, _, fragment = url.partition("#")
    path = (base / target).resolve() if target else document
    if path is None or not path.exists():
        return None
    if fragment and path.suffix == ".ipynb":
        return find_section(path, fragment)
    return path


def link_problems(markdown: str, base: Path, document: Path | None = None) -> list[str]:
    """Every relative link in ``markdown`` (a file in folder ``base``) that does not land where it says.

    A link into another notebook's section must name its heading cell's id; a link within the document
    ('#…', checked when ``document`` is the notebook it is in) may name the heading's ASCII anchor.
    Web links (http, https, mailto) are not checked.
    """
    problems = []
    for text, url in markdown_links(markdown):
        if re.match(r"^[a-z][a-z0-9+.-]*:", url) or (url.startswith("#") and document is None):
            continue
        landed = resolve_link(url, base, document)
        target, _, fragment = url.partition("#")
        notebook = (base / target).resolve() if target else document
        if landed is None:
            if not notebook.exists():
                problems.append(f"[{text}]({url}): {target} does not exist")
            else:
                headings = [s.anchor for s in notebook_sections(notebook)]
                problems.append(
                    f"[{text}]({url}): no heading '{fragment}' in {target}; its headings: {headings}"
                )
        elif isinstance(landed, Section) and fragment == landed.anchor and target:
            problems.append(
                f"[{text}]({url}): JupyterLab does not scroll to a heading of another notebook named by its "
                f"text; link the heading's cell instead: {target}#cell-id={landed.cell_id}"
            )
        elif isinstance(landed, Section) and fragment == landed.anchor and not landed.followable:
            problems.append(
                f"[{text}]({url}): JupyterLab cannot scroll to a heading with non-ASCII text, quotes or math; "
                f"link the heading's cell instead: #cell-id={landed.cell_id}"
            )
    return problems


def learner_questions(path: Path) -> dict[str, str]:
    """Question ID -> question, from the table of a learner-questions Markdown file."""
    return {qid: question.strip() for qid, question in QUESTION_ROW.findall(path.read_text())}


def question_map(markdown: str) -> dict[str, list[str]]:
    """Question ID -> the URLs linked from that question's row, for every map row '| L7 | … |'."""
    return {qid: [url for _, url in markdown_links(row)] for qid, row in QUESTION_ROW.findall(markdown)}


def markdown_of(notebook: Path) -> str:
    cells = nbformat.read(notebook, as_version=4).cells
    return "\n\n".join(cell.source for cell in cells if cell.cell_type == "markdown")


ADDED_HEADING = "## Questions the course adds"


def questions_in(text: str) -> dict[str, str]:
    return {qid: question.strip() for qid, question in QUESTION_ROW.findall(text)}


def learners_and_added() -> tuple[dict[str, str], dict[str, str]]:
    """The learners' questions (the shared file's, or the top of the docs copy) and the course's added ones."""
    learners_part, _, added_part = QUESTIONS_COPY.read_text().partition(ADDED_HEADING)
    learners = (
        learner_questions(QUESTIONS_SHARED) if QUESTIONS_SHARED.exists() else questions_in(learners_part)
    )
    return learners, questions_in(added_part)


def question_ids() -> list[str]:
    learners, added = learners_and_added()
    return list(learners) + list(added)


def map_row_questions(markdown: str) -> dict[str, str]:
    """Question ID -> the text of the second column of its map row ('| L7 | question | where |')."""
    return {qid: row.split("|")[0].strip() for qid, row in QUESTION_ROW.findall(markdown)}


# ----- the course's map ---------------------------------------------------------------------------------


def test_the_copy_of_the_learner_questions_is_current():
    if not QUESTIONS_SHARED.exists():
        pytest.skip(
            f"{QUESTIONS_SHARED} is not here (a clone of the course alone); the copy in docs/ is used"
        )
    learners_part = QUESTIONS_COPY.read_text().partition(ADDED_HEADING)[0]
    assert learners_part.rstrip("\n") == QUESTIONS_SHARED.read_text().rstrip("\n"), (
        f"the top of {QUESTIONS_COPY} (above '{ADDED_HEADING}') differs from {QUESTIONS_SHARED}: copy the shared "
        "file over it and keep the course's added questions below that heading"
    )


def test_the_course_answers_22_learner_questions_and_3_of_its_own():
    learners, added = learners_and_added()
    assert list(learners) == [f"L{i}" for i in range(1, 23)]
    assert list(added) == ["L23", "L24", "L25"], (
        "the course's own questions are numbered on from the learners'"
    )


def test_the_added_questions_are_mapped_in_their_own_words():
    _, added = learners_and_added()
    for document, markdown in (("00_start_here", markdown_of(START_HERE)), ("README.md", README.read_text())):
        rows = map_row_questions(markdown)
        differing = {q: rows.get(q) for q, text in added.items() if rows.get(q) != text}
        assert not differing, (
            f"{document} words these questions differently from {QUESTIONS_COPY.name}: {differing}"
        )


def test_every_question_is_mapped_to_a_notebook_section():
    mapped = question_map(markdown_of(START_HERE))
    missing = [qid for qid in question_ids() if not any(".ipynb#" in url for url in mapped.get(qid, []))]
    assert not missing, f"00_start_here has no map row linking a notebook section for {missing}"


def test_every_link_in_start_here_lands():
    assert link_problems(markdown_of(START_HERE), START_HERE.parent, START_HERE) == []


def test_every_mapped_section_names_the_question_it_answers():
    unnamed = []
    for qid, urls in question_map(markdown_of(START_HERE)).items():
        for url in urls:
            section = resolve_link(url, START_HERE.parent)
            if isinstance(section, Section) and not re.search(rf"\b{qid}\b", section.text):
                unnamed.append(f"{qid} -> {section.notebook.name} '{section.title}'")
    assert not unnamed, f"these sections do not mention the question they are mapped to: {unnamed}"


def test_start_here_links_every_notebook_of_the_course():
    linked = {
        (START_HERE.parent / url.partition("#")[0]).resolve()
        for _, url in markdown_links(markdown_of(START_HERE))
        if ".ipynb" in url
    }
    course = {p.resolve() for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
    unlisted = sorted(p.relative_to(NOTEBOOKS).as_posix() for p in course - linked - {START_HERE.resolve()})
    assert not unlisted, f"00_start_here does not link {unlisted}"


def test_every_link_in_the_readme_lands():
    if not README.exists():
        pytest.skip("no README.md")
    assert link_problems(README.read_text(), README.parent) == []


# ----- the checker itself -------------------------------------------------------------------------------


def test_heading_text_is_what_the_browser_shows():
    assert heading_text("## 2. Which axis? (L7, L16)") == "2. Which axis? (L7, L16)"  # not a list item
    assert heading_text("## 5 · Forgetting `model.eval()` (L2)") == "5 · Forgetting model.eval() (L2)"
    assert heading_text("### *Min–max* & friends") == "Min–max & friends"
    assert heading_anchor("2. Which axis? (L7, L16)") == "2.-Which-axis?-(L7,-L16)"


def test_the_checker_catches_bad_links(tmp_path):
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("## Plain heading (L3)\ntext", id="plain"),
            nbformat.v4.new_markdown_cell("## γ heading (L1)", id="greek"),
            nbformat.v4.new_code_cell("```\n## not a heading\n```"),
        ]
    )
    nbformat.write(notebook, tmp_path / "nb.ipynb")
    good = "[a](nb.ipynb#cell-id=plain) [b](nb.ipynb#cell-id=greek) [c](https://example.org) [d](nb.ipynb)"
    assert link_problems(good, tmp_path) == []
    assert link_problems("[e](#Plain-heading-(L3))", tmp_path, tmp_path / "nb.ipynb") == []
    bad = {
        "[x](nb.ipynb#Missing-(L3))": "no heading",
        "[x](other.ipynb#cell-id=plain)": "does not exist",
        "[x](nb.ipynb#Plain-heading-(L3))": "nb.ipynb#cell-id=plain",
        "[x](#γ-heading-(L1))": "#cell-id=greek",
        "[x](nb.ipynb#cell-id=nope)": "no heading",
        "[x](nb.ipynb#not-a-heading)": "no heading",
    }
    for markdown, expected in bad.items():
        problems = link_problems(markdown, tmp_path, tmp_path / "nb.ipynb")
        assert len(problems) == 1 and expected in problems[0], (markdown, problems)
    sections = notebook_sections(tmp_path / "nb.ipynb")
    assert [s.title for s in sections] == ["Plain heading (L3)", "γ heading (L1)"]
    assert "text" in sections[0].text and "γ" not in sections[0].text  # a section ends at the next heading


def test_the_start_pages_totals_add_up():
    """The path's stated total reading time is the sum of its table's rows, and the counts of notebooks and
    exercises in its words are the rows of its tables."""
    start = nbformat.read(NOTEBOOKS / "00_start_here.ipynb", as_version=4)
    path = next(cell.source for cell in start.cells if cell.get("id") == "path")
    minutes = [int(m) for m in re.findall(r"^\| \d\d \|.*\| (\d+) min \| ≈ \d+ s \|$", path, flags=re.M)]
    notebooks = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") if not p.name.startswith("00_"))
    assert len(minutes) == len(notebooks), f"path table rows: {len(minutes)}, notebooks: {len(notebooks)}"
    total = re.search(r"in all \((\d+) h (\d+) min\)", path)
    assert total, "the path no longer states its total reading time as '(H h M min)'"
    assert 60 * int(total[1]) + int(total[2]) == sum(minutes), f"the rows add up to {sum(minutes)} min"
    words = {3: "Three", 4: "Four", 5: "Five", 6: "Six", 8: "Eight", 9: "Nine", 10: "Ten", 11: "Eleven"}
    assert path.startswith(f"## The path through the course\n\n{words[len(notebooks)]} notebooks")
    recap = next(cell.source for cell in start.cells if cell.get("id") == "recap")
    exercises = sorted((NOTEBOOKS / "exercises").glob("ex*.ipynb"))
    assert f"* {words[len(notebooks)]} notebooks" in recap
    assert f"; {words[len(exercises)].lower()}\n  exercises check themselves" in recap
