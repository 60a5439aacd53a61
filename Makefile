# The course in two commands:
#   make lab    set up .venv (first time: a few minutes) and open JupyterLab on 127.0.0.1 with a token
#   make test   set up .venv and run the whole test suite
#   make reset NB=02_loss_surface_conditioning   a fresh copy of one of your notebooks (the old one is kept)
# Other targets: make bench, make student, make answer-key, make site, make screenshots, make clean.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

# PyTorch CPU build. On Linux, PyPI's default torch wheel carries CUDA (several GB); to get the CPU build
# elsewhere, run e.g.  make lab TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?=
TORCH_INDEX_ARG := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)

# Jupyter, IPython and matplotlib keep their state inside the project folder, not in your home folder.
CACHE := $(CURDIR)/.cache
export JUPYTER_RUNTIME_DIR := $(CACHE)/jupyter/runtime
export JUPYTERLAB_SETTINGS_DIR := $(CACHE)/jupyter/lab/user-settings
export JUPYTERLAB_WORKSPACES_DIR := $(CACHE)/jupyter/lab/workspaces
export IPYTHONDIR := $(CACHE)/ipython
export MPLCONFIGDIR := $(CACHE)/matplotlib
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

LAB_PORT ?= 8888
LAB_ARGS ?=

.PHONY: lab test lint bench student answer-key reset site screenshots clean venv test-venv

# --- environment ---------------------------------------------------------------------------------------
# Stamps make the setup a quick no-op when nothing changed; editing pyproject.toml refreshes it.
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.torch: | $(VENV)/bin/python
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install "torch==$(TORCH_VERSION)" $(TORCH_INDEX_ARG)
	@touch $@

$(VENV)/.lab: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.lab
	$(PIP) install --quiet -e ".[test,teach]"
	@# nbgrader (for make student) ships Jupyter extensions that slow every server start; the course needs none.
	$(VENV)/bin/jupyter server extension disable --sys-prefix nbgrader.server_extensions.formgrader \
		nbgrader.server_extensions.validate_assignment nbgrader.server_extensions.assignment_list \
		nbgrader.server_extensions.course_list >/dev/null 2>&1
	$(VENV)/bin/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader >/dev/null 2>&1
	@touch $@

venv: $(VENV)/.lab
test-venv: $(VENV)/.test

# --- the two commands ---------------------------------------------------------------------------------
lab: venv
	@mkdir -p $(JUPYTER_RUNTIME_DIR)
	$(PY) -m bnlib.workspace prepare
	@token=$$($(PY) -c "import secrets; print(secrets.token_urlsafe(32))"); \
	echo ""; \
	echo "  JupyterLab: http://127.0.0.1:$(LAB_PORT)/lab/tree/00_start_here.ipynb?token=$$token"; \
	echo "  (if port $(LAB_PORT) is busy, JupyterLab picks the next free one and prints its own link below)"; \
	echo ""; \
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
		--IdentityProvider.token="$$token" --ServerApp.root_dir=my-notebooks \
		$$( [ "$$(id -u)" = 0 ] && echo --allow-root ) $(LAB_ARGS)

test: test-venv lint
	$(PY) -m pytest $(PYTEST_ARGS)

lint: test-venv
	$(VENV)/bin/ruff check .

# --- the rest ----------------------------------------------------------------------------------------
bench: test-venv
	$(PY) benchmarks/run_all.py

# The learners' exercises (notebooks/exercises/) from the teacher's (teacher/exercises/); commit the result.
student: test-venv
	$(PY) scripts/make_student.py

# For teachers: the exercises with their solutions, run, as web pages in answer-key/.
answer-key: test-venv
	$(PY) scripts/build_site.py --answer-key

# A fresh copy of one notebook in my-notebooks/; the old one is kept in my-notebooks/backups/.
reset: venv
	$(PY) -m bnlib.workspace reset "$(NB)"

site: test-venv
	$(PY) scripts/build_site.py

screenshots: test-venv
	$(PY) scripts/screenshots.py

# Never removes my-notebooks/ or student/: learners' work lives there.
clean:
	rm -rf .cache site answer-key .pytest_cache .hypothesis .ruff_cache
