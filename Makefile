# pma_lab — the two commands of the README, each setting itself up on a fresh machine.
#   make demo   sample clients -> outputs under out/
#   make test   every test (unit, property, notebooks, CLI)
SHELL := /bin/bash
PY    ?= $(shell command -v python3.11 || command -v python3)
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test setup browser lint bench dashboard lock clean

setup: $(STAMP)

# (Re)install when pyproject.toml, setup.py, constraints.txt or the ledger changes.
# `PMA_LAB_COMPILE=1 make setup` also compiles pma_lab/tax/ledger.py in place with mypyc
# (~1.5x faster replays; needs a C compiler; see setup.py). It is not the default: a
# compiled module loses its docstrings (help(Ledger), help(replay)). Every package is
# installed at the version pinned in constraints.txt (refresh it with `make lock`). rfc3987-syntax is
# removed after every install: it makes every jupyter/papermill process start 1.5 s slower
# and nothing here needs it (ecosystem.md; pip check stays clean).
$(STAMP): pyproject.toml setup.py constraints.txt pma_lab/tax/ledger.py
	@test -x $(BIN)/python || { test -n "$(PY)" && $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; } || \
	  { echo "pma_lab needs Python 3.11 (pyproject.toml: >=3.11,<3.12); '$(or $(PY),no python3 on PATH)' is not. Install python3.11 (Debian/Ubuntu: apt install python3.11 python3.11-venv; or conda/pyenv) or run: make $(MAKECMDGOALS) PY=/path/to/python3.11" >&2; exit 1; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || \
	  { rm -rf $(VENV); echo "'$(PY) -m venv' failed: on Debian/Ubuntu install the python3.11-venv package (apt install python3.11-venv), then run make again" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	-$(BIN)/python -m pip uninstall --quiet -y rfc3987-syntax
	@touch $(STAMP)

# Re-resolve pyproject.toml's dependencies from the index in a scratch venv and pin every
# resolved version in constraints.txt (then `make setup` installs exactly those).
lock:
	rm -rf .venv-lock && $(PY) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e '.[dev]'
	{ echo "# Every resolved dependency of pma_lab[dev], pinned. Used by make setup."; \
	  echo "# Refresh: make lock (re-resolves pyproject.toml from the index)."; \
	  echo "# Python $$(.venv-lock/bin/python -c 'import platform; print(platform.python_version())'), resolved $$(date -u +%Y-%m-%d)."; \
	  .venv-lock/bin/python -m pip freeze --all --exclude-editable | grep -v "^pip=="; } > constraints.txt
	rm -rf .venv-lock

browser:  # Debian chromium and poppler-utils (pdftotext) when missing
	@scripts/ensure_chromium.sh

demo: $(STAMP)
	$(BIN)/pma-lab demo --out out/demo

# Two pytest-xdist workers, whole test files per worker (conftest.py); `make test WORKERS=0`
# runs in one process.
WORKERS ?= 2
test: $(STAMP) browser
	$(BIN)/python -m pytest $(if $(filter 0,$(WORKERS)),-p no:xdist,-n $(WORKERS))

# The advisor dashboard (Voila, bound to 127.0.0.1; settings in notebooks/voila.json: local
# Host names only, at most 4 kernels, idle unconnected kernels culled within a minute).
# TOKEN=<secret> requires the token (open http://127.0.0.1:8866/?token=<secret> once).
dashboard: $(STAMP)
	cd notebooks && ../$(BIN)/voila dashboard.ipynb --no-browser --port=8866 --Voila.ip=127.0.0.1 \
	  $(if $(TOKEN),--Voila.token=$(TOKEN))

lint: $(STAMP)
	$(BIN)/ruff check pma_lab tests benchmarks scripts conftest.py notebooks

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf out .pytest_cache .ruff_cache
