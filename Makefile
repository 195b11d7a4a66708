# Two commands for a newcomer: `make dev` and `make test`. Both install what they need:
# the app with its `dev` extra (Temporal dev server, mail sink) and `test` extra.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: dev test lint typecheck bench install clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Byte-compiled once: the worker's sandbox re-imports a workflow's module for every workflow
# it starts, and compiles it from source each time if there is no .pyc (as where
# PYTHONDONTWRITEBYTECODE is set); an installed wheel is compiled by pip (docs/performance.md).
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,test]'
	$(BIN)/python -m compileall -q workflows activities ehc api ehc_cli worker.py >/dev/null
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/ehc dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest

# Debian's Chromium for tests/browser (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "make browser: run 'sudo apt-get install -y chromium' for the browser tests"; fi; }

bench: $(STAMP)
	$(BIN)/python -m compileall -q workflows activities ehc api ehc_cli worker.py >/dev/null
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.pages

clean:
	rm -rf $(VENV) build *.egg-info
