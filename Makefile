# orderledger — the two commands of the README's Quick start: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint typecheck pytest bench docs clean

# The runtime install; re-run when pyproject changes.
$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

# Everything the tests need on top (pytest, hypothesis, ruff, mypy, stubs).
$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## make run: install into .venv, load the demo orders into ./orderledger.db, audit them,
## then serve the API (and its scheduled jobs) on http://127.0.0.1:8000 with demo keys.
run: $(VENV)/.runtime
	scripts/system-deps.sh fonts || echo "make run: CJK fonts missing: the PDF report will not render"
	$(BIN)/orderledger demo
	$(BIN)/orderledger audit --quiet
	$(BIN)/orderledger serve --host 127.0.0.1 --port $${PORT:-8000}

## make test: install test tools, PostgreSQL, Chromium, CJK fonts and poppler (if
## missing), start PostgreSQL on loopback, run ruff, mypy (strict) and pytest, stop it.
test: $(VENV)/.dev
	scripts/postgres.sh install
	scripts/system-deps.sh
	$(BIN)/ruff check .
	$(BIN)/mypy
	scripts/postgres.sh with $(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

docs: $(VENV)/.runtime
	$(BIN)/orderledger model doc -o docs/state-model.md

bench: $(VENV)/.dev
	scripts/postgres.sh install
	scripts/postgres.sh with $(BIN)/python bench/append.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis orderledger.db* .orderledger
