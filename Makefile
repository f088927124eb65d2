# Every target makes its own virtual environments from the requirements files; only python3 is needed.
PYTHON ?= python3
VENV ?= .venv
TOOLS ?= .venv-tools
STACK ?= dev
PY := $(VENV)/bin/python

.PHONY: render check test lint typecheck setup tools policy-venv schemas bench docs lock clean

## Render a stack offline (no Pulumi CLI, cloud or cluster): build/$(STACK)/{resources.json,kubernetes.yaml}
render: setup
	$(PY) -m ai_etl.offline render $(STACK)

## The guardrails (policy/ rules) on a stack offline, with the guide's validation checklist.
check: setup
	$(PY) -m ai_etl.ops.check $(STACK)

## The whole gate: lint, types, then every test (scanners included).
test: lint typecheck tools policy-venv
	AI_ETL_TOOLS_BIN=$(abspath $(TOOLS))/bin $(PY) -m pytest

setup: $(VENV)/.installed

# The project itself (editable) and the gate's tools, at the versions requirements.lock pins.
$(VENV)/.installed: pyproject.toml requirements.lock requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

tools: $(TOOLS)/.installed

$(TOOLS)/.installed: requirements-tools.lock
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet -r requirements-tools.lock
	touch $@

## The policy pack's environment: `pulumi preview --policy-pack policy` runs policy/venv/bin/python.
policy-venv: policy/venv/.installed

policy/venv/.installed: policy/requirements.txt requirements.lock pyproject.toml
	$(PYTHON) -m venv policy/venv
	policy/venv/bin/python -m pip install --quiet --upgrade pip
	policy/venv/bin/python -m pip install --quiet -r policy/requirements.txt -e .
	touch $@

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: setup
	$(PY) -m mypy ai_etl benchmarks policy/policies.py __main__.py tests

## The External Secrets CRDs the tests validate against (../shared's copy, else the pinned release, verified)
schemas: setup
	$(PY) -m tests.crds

## Regenerate what derives from the program: .env.example, the docs' tables, the takeover's script and
## the README's example output; it rewrites only the files that changed, and names each.
docs: setup
	$(PY) -m ai_etl.ops.docs write

## Render time per stack, and the program's own cost against the SDK's floor (see README).
bench: setup
	$(PY) -m benchmarks

## Re-pin every dependency after a change to pyproject.toml or requirements-tools.in.
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet "pip-tools~=7.6"
	.venv-lock/bin/pip-compile --quiet --strip-extras --extra dev --no-emit-index-url --no-emit-find-links \
		-o requirements.lock pyproject.toml
	.venv-lock/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements-tools.lock requirements-tools.in

clean:
	rm -rf $(VENV) $(TOOLS) .venv-lock policy/venv build .cache .pytest_cache .mypy_cache .ruff_cache
