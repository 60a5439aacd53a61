"""Every notebook runs top to bottom headless, its asserted claims hold, and a second run prints the same.

The per-notebook budget is 60 s on a 2-core machine (`make bench` reports the real times); this test fails
only on a gross regression, with margin for a slower machine.
"""

import pytest

from coursetools.notebook_runner import execute
from coursetools.paths import NOTEBOOKS, ROOT, runnable_notebooks

GROSS_REGRESSION_SECONDS = 150

NOTEBOOK_PATHS = runnable_notebooks()


def test_the_course_has_notebooks():
    assert NOTEBOOK_PATHS, f"no notebooks found under {NOTEBOOKS}"


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_runs_and_is_deterministic(path):
    first = execute(path)
    assert not first.errors(), first.errors()
    assert first.seconds < GROSS_REGRESSION_SECONDS, f"{path.name} took {first.seconds:.0f} s"
    second = execute(path)
    first_texts, second_texts = first.text_outputs(), second.text_outputs()
    for (cell, text_a), (_, text_b) in zip(first_texts, second_texts, strict=True):
        assert text_a == text_b, f"{path.name}, cell {cell} printed different text on a second run"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_is_stored_clean(path):
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not dirty, f"{path.name}: cells {dirty} are stored with outputs; clear them before committing"
