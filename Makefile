# Every target makes its own virtual environments from the requirements files; only python3 is needed.
PYTHON ?= python3
VENV ?= .venv
TOOLS ?= .venv-tools
STACK ?= dev
PY := $(VENV)/bin/python

.PHONY: render check test lint typecheck setup tools bench clean

## Render a stack offline (no Pulumi CLI, cloud or cluster): build/$(STACK)/{resources.json,kubernetes.yaml}
render: setup
	$(PY) -m offline render $(STACK)

## The guardrails (policy/ rules) on a stack offline, with the guide's validation checklist.
check: setup
	$(PY) -m offline check $(STACK)

## The whole gate: lint, types, then every test (scanners included).
test: lint typecheck tools
	AI_ETL_TOOLS_BIN=$(abspath $(TOOLS))/bin $(PY) -m pytest

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

tools: $(TOOLS)/.installed

$(TOOLS)/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet -r requirements-tools.txt
	touch $@

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: setup
	$(PY) -m mypy components offline benchmarks guardrails policy/policies.py __main__.py

## Render time per stack, and the program's own cost against the SDK's floor (see README).
bench: setup
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(TOOLS) policy/venv build .pytest_cache .mypy_cache .ruff_cache
