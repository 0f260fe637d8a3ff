# pma_lab — the two commands of the README, each setting itself up on a fresh machine.
#   make demo   sample clients -> outputs under out/
#   make test   every test (unit, property, notebooks, CLI)
SHELL := /bin/bash
PY    ?= $(shell command -v python3.11 || command -v python3)
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test setup browser lint bench dashboard clean

setup: $(STAMP)

# (Re)install when pyproject.toml changes. rfc3987-syntax is removed after every install:
# it makes every jupyter/papermill process start 1.5 s slower and nothing here needs it
# (ecosystem.md; pip check stays clean).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	-$(BIN)/python -m pip uninstall --quiet -y rfc3987-syntax
	@touch $(STAMP)

browser:
	@scripts/ensure_chromium.sh

demo: $(STAMP)
	$(BIN)/pma-lab demo --out out/demo

test: $(STAMP) browser
	$(BIN)/python -m pytest

# The advisor dashboard (Voila, bound to 127.0.0.1; settings in notebooks/voila.json).
dashboard: $(STAMP)
	cd notebooks && ../$(BIN)/voila dashboard.ipynb --no-browser --port=8866 --Voila.ip=127.0.0.1

lint: $(STAMP)
	$(BIN)/ruff check pma_lab tests benchmarks scripts

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf out .pytest_cache .ruff_cache
