# The course in two commands:
#   make lab    set up .venv (first time: a few minutes) and open JupyterLab on 127.0.0.1 with a token
#   make test   set up .venv and run ruff and the whole test suite
#   make reset NB=02_loss_surface_conditioning   a fresh copy of one of your notebooks (the old one is kept)
# Other targets: make lint, make wheelhouse, make bench, make student, make answer-key, make site,
# make screenshots, make clean.
#
# Every set-up step lives in bnlib/course.py, which runs with a bare Python (3.11+) and works the same
# without make: `python -m bnlib.course lab` (Windows: `py -m bnlib.course lab`). These targets only call it.
#
# Options (make VARIABLE=value):
#   PYTHON=python3.12        the Python that creates .venv (default python3)
#   TORCH=cpu | cuda         PyTorch build; default: CPU unless the machine has an NVIDIA GPU
#   TORCH_VERSION=2.13.0     TORCH_INDEX=<a package index for torch>
#   WHEELHOUSE=<folder>      install with no network from a teacher's wheelhouse (default: ./wheelhouse if present)
#   LAB_PORT=8888  LAB_ARGS=<more JupyterLab options>  PYTEST_ARGS=<pytest options>
#   PLATFORMS="linux macos windows"  PYTHONS="3.11 3.12"   for make wheelhouse

PYTHON ?= python3
SETUP_OPTIONS := $(if $(TORCH),--torch $(TORCH)) $(if $(TORCH_VERSION),--torch-version $(TORCH_VERSION)) \
	$(if $(TORCH_INDEX),--torch-index $(TORCH_INDEX)) $(if $(WHEELHOUSE),--wheelhouse $(WHEELHOUSE))
PY := .venv/bin/python

LAB_PORT ?= 8888
LAB_ARGS ?=
PLATFORMS ?= linux macos windows
PYTHONS ?=

.PHONY: lab test lint wheelhouse venv test-venv bench student answer-key reset site screenshots clean

# --- the two commands ---------------------------------------------------------------------------------
lab:
	$(PYTHON) -m bnlib.course lab $(SETUP_OPTIONS) --port $(LAB_PORT) $(LAB_ARGS)

test:
	$(PYTHON) -m bnlib.course test $(SETUP_OPTIONS) $(PYTEST_ARGS)

lint:
	$(PYTHON) -m bnlib.course lint $(SETUP_OPTIONS)

# The teacher, once, with network: every wheel the students need, per platform, into wheelhouse/.
wheelhouse:
	$(PYTHON) -m bnlib.course wheelhouse --platform $(PLATFORMS) $(if $(PYTHONS),--python $(PYTHONS)) \
		$(if $(TORCH_VERSION),--torch-version $(TORCH_VERSION))

# --- environment only -----------------------------------------------------------------------------------
venv:
	$(PYTHON) -m bnlib.course setup $(SETUP_OPTIONS)

test-venv:
	$(PYTHON) -m bnlib.course setup --test $(SETUP_OPTIONS)

# --- the rest ----------------------------------------------------------------------------------------
# Jupyter, IPython and matplotlib keep their state inside the project folder, not in your home folder.
# (Only for these targets: the ones above must find $(PYTHON) outside .venv, which they may have to repair.)
CACHE := $(CURDIR)/.cache
IN_VENV := env PATH="$(CURDIR)/.venv/bin:$$PATH" JUPYTER_RUNTIME_DIR=$(CACHE)/jupyter/runtime \
	JUPYTERLAB_SETTINGS_DIR=$(CACHE)/jupyter/lab/user-settings \
	JUPYTERLAB_WORKSPACES_DIR=$(CACHE)/jupyter/lab/workspaces IPYTHONDIR=$(CACHE)/ipython \
	MPLCONFIGDIR=$(CACHE)/matplotlib

bench: test-venv
	$(IN_VENV) $(PY) -m benchmarks.run_all

# The learners' exercises (notebooks/exercises/) from the teacher's (teacher/exercises/); commit the result.
student: test-venv
	$(IN_VENV) $(PY) -m coursetools.make_student

# For teachers: the exercises with their solutions, run, as web pages in answer-key/.
answer-key: test-venv
	$(IN_VENV) $(PY) -m coursetools.build_site --answer-key

# A fresh copy of one notebook in my-notebooks/; the old one is kept in my-notebooks/backups/.
reset: venv
	$(PY) -m bnlib.workspace reset "$(NB)"

site: test-venv
	$(IN_VENV) $(PY) -m coursetools.build_site

screenshots: test-venv
	$(IN_VENV) $(PY) -m coursetools.screenshots

# Never removes my-notebooks/, student/ or hub-homes/ (learners' work lives there) nor wheelhouse/ (a
# teacher's download).
clean:
	rm -rf .cache site answer-key .pytest_cache .hypothesis .ruff_cache
