# Every target makes its own virtual environment from the requirements files; only python3 is needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: test lint typecheck setup clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## The whole gate: lint, types, then every test.
test: lint typecheck
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: setup
	$(PY) -m mypy components offline __main__.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
