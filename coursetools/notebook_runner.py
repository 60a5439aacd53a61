"""Execute a notebook headless with nbclient, the way `Restart & Run All` does, read its outputs, and find
the notebooks that hold live figures.

Used by tests, benchmarks and the static site's build.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

CELL_TIMEOUT_SECONDS = 180
# Cells tagged "timing" print wall-clock measurements: their text legitimately differs between runs.
NONDETERMINISTIC_TAG = "timing"


@dataclass
class ExecutedNotebook:
    path: Path
    notebook: nbformat.NotebookNode
    seconds: float

    def text_outputs(self) -> list[tuple[int, str]]:
        """(cell index, text) for every text output of every deterministic cell, in order."""
        texts = []
        for index, cell in enumerate(self.notebook.cells):
            if cell.cell_type != "code" or NONDETERMINISTIC_TAG in cell.metadata.get("tags", []):
                continue
            for output in cell.get("outputs", []):
                if output.output_type == "stream":
                    # One print may arrive in several chunks: join a cell's consecutive stream text.
                    if texts and texts[-1][0] == index and texts[-1][2]:
                        texts[-1] = (index, texts[-1][1] + output.text, True)
                    else:
                        texts.append((index, output.text, True))
                elif output.output_type in ("execute_result", "display_data"):
                    data = output.get("data", {})
                    if "application/vnd.jupyter.widget-view+json" in data:
                        continue  # widget model ids are random by design
                    if "text/plain" in data and not any(k.startswith("image/") for k in data):
                        texts.append((index, data["text/plain"], False))
        return [(index, text) for index, text, _ in texts]

    def errors(self) -> list[str]:
        return [
            f"cell {index}: {output.ename}: {output.evalue}"
            for index, cell in enumerate(self.notebook.cells)
            if cell.cell_type == "code"
            for output in cell.get("outputs", [])
            if output.output_type == "error"
        ]


def execute(path: Path) -> ExecutedNotebook:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=False,
        coalesce_streams=True,  # one print can arrive in several chunks
    )
    start = time.perf_counter()
    client.execute()
    return ExecutedNotebook(path, notebook, time.perf_counter() - start)


def all_notebooks(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


# A cell that displays a live panel calls a Panel class: SomethingPanel(...).
PANEL_CALL = re.compile(r"\b[A-Z]\w*Panel\(")


def interactive_notebooks(root: Path) -> list[tuple[Path, int]]:
    """Every notebook under ``root`` that uses ``%matplotlib widget``, with how many of its cells show an
    ipympl panel (panels drawn by their own front end, like the loss-surface explorer, have no ipympl canvas
    and are not counted)."""
    from bnlib.panels import course_panels

    drawn_in_browser = {cls.__name__ for cls in course_panels() if getattr(cls, "drawn_in_browser", ())}
    found = []
    for path in all_notebooks(root):
        sources = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        if any("%matplotlib widget" in s for s in sources):
            ipympl_cells = sum(
                any(m.group(0)[:-1] not in drawn_in_browser for m in PANEL_CALL.finditer(s)) for s in sources
            )
            found.append((path, ipympl_cells))
    return found
