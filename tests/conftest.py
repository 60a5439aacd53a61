"""Shared test setup: a non-interactive matplotlib backend, and the project's paths."""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
# Jupyter and matplotlib keep their runtime files inside the project, not in the home folder.
os.environ.setdefault("JUPYTER_RUNTIME_DIR", str(ROOT / ".cache" / "jupyter" / "runtime"))
