"""Shared test setup: a non-interactive matplotlib backend, Jupyter's runtime files inside the project."""

import os

import matplotlib
from paths import ROOT

matplotlib.use("Agg")
os.environ.setdefault("JUPYTER_RUNTIME_DIR", str(ROOT / ".cache" / "jupyter" / "runtime"))
