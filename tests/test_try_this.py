"""Every "Try this" prompt has an answer a learner can reveal: the cell right after a "Try this" section is a
collapsed answer (an HTML <details> block, closed until clicked, in JupyterLab, on GitHub and on the static
site), with one answer per prompt. Covers every notebook a learner or teacher opens, including new ones."""

import re

import nbformat
import pytest

from coursetools.paths import NOTEBOOKS, ROOT, TEACHER_EXERCISES

ANSWERS_TAG = "try-this-answers"
TRY_THIS = re.compile(r"^#{1,6}\s*Try this\b.*$", re.MULTILINE)
HEADING = re.compile(r"^#{1,6}\s", re.MULTILINE)
LIST_ITEM = re.compile(r"^(?:[*-]|\d+\.)\s+\S", re.MULTILINE)
ANSWER_TEMPLATE = (
    "<details>\n<summary><b>Answers to “Try this”</b> (click to open, once you have tried)</summary>\n\n"
    "1. …\n2. …\n\n</details>"
)
SHORTEST_ANSWER = 60  # characters: an answer says why, not just "yes"


def notebooks():
    found = [*NOTEBOOKS.rglob("*.ipynb"), *TEACHER_EXERCISES.rglob("*.ipynb")]
    return sorted(p for p in found if ".ipynb_checkpoints" not in p.parts)


def prompts(markdown: str) -> list[str]:
    """The list items of the "Try this" section of a cell (up to the next heading), one string per item."""
    section = markdown[TRY_THIS.search(markdown).end() :]
    following = HEADING.search(section)
    return items(section[: following.start()] if following else section)


def items(markdown: str) -> list[str]:
    starts = [m.start() for m in LIST_ITEM.finditer(markdown)]
    return [markdown[a:b].strip() for a, b in zip(starts, [*starts[1:], len(markdown)], strict=True)]


def answer_problems(notebook) -> list[str]:
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown" or not TRY_THIS.search(cell.source):
            continue
        asked = prompts(cell.source)
        following = notebook.cells[index + 1] if index + 1 < len(notebook.cells) else None
        if following is None or ANSWERS_TAG not in following.metadata.get("tags", []):
            problems.append(
                f"cell {index}: no answer cell right after it; insert a markdown cell tagged {ANSWERS_TAG!r} "
                f"holding {ANSWER_TEMPLATE!r}, one numbered answer per prompt"
            )
            continue
        source = following.source.strip()
        if following.cell_type != "markdown" or not (
            source.startswith("<details>") and "<summary>" in source and source.endswith("</details>")
        ):
            problems.append(
                f"cell {index + 1}: answers must sit in a closed <details> block with a <summary>"
            )
            continue
        answered = items(source)
        if len(answered) != len(asked):
            problems.append(f"cell {index}: {len(asked)} prompts but {len(answered)} answers")
        problems += [
            f"cell {index + 1}: answer {n} is too short to explain anything: {text!r}"
            for n, text in enumerate(answered, 1)
            if len(text) < SHORTEST_ANSWER
        ]
    return problems


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_try_this_prompt_has_an_answer_to_reveal(path):
    notebook = nbformat.read(path, as_version=4)
    if not any(c.cell_type == "markdown" and TRY_THIS.search(c.source) for c in notebook.cells):
        pytest.skip(f"{path.name} has no Try this section")
    assert answer_problems(notebook) == []


def test_the_course_has_try_this_sections():
    with_prompts = [
        p for p in notebooks() if any(TRY_THIS.search(c.source) for c in nbformat.read(p, as_version=4).cells)
    ]
    assert len(with_prompts) >= 13, [p.name for p in with_prompts]


def test_the_check_catches_a_missing_or_incomplete_answer():
    prompt = nbformat.v4.new_markdown_cell(
        "## Recap\n\n### Try this\n- first prompt\n- second prompt\n\n## Next"
    )
    answer_lines = [f"{n}. because of a reason long enough to explain something, number {n}" for n in (1, 2)]
    answer = nbformat.v4.new_markdown_cell(
        "<details>\n<summary>Answers</summary>\n\n" + "\n".join(answer_lines) + "\n\n</details>"
    )
    answer.metadata["tags"] = [ANSWERS_TAG]
    complete = nbformat.v4.new_notebook(cells=[prompt, answer])
    assert answer_problems(complete) == []
    assert "no answer cell" in answer_problems(nbformat.v4.new_notebook(cells=[prompt]))[0]
    answer.source = answer.source.replace(answer_lines[1], "")
    assert "2 prompts but 1 answers" in answer_problems(complete)[0]
    answer.source = answer.source.replace("<details>", "")
    assert "closed <details> block" in answer_problems(complete)[0]
