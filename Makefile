# Every target makes its own virtual environments from the requirements files; only python3 is needed.
# `make help` lists the targets, each with the `## ` comment right above it.
PYTHON ?= python3
VENV ?= .venv
TOOLS ?= .venv-tools
STACK ?= dev
PY := $(VENV)/bin/python
PYTEST := AI_ETL_TOOLS_BIN='$(abspath $(TOOLS))/bin' $(PY) -m pytest -n auto --dist worksteal
# .venv's pip installs into the other environments too (`pip --python`): they need no pip of their
# own. Nothing is byte-compiled at install: the SDKs ship thousands of modules the program never
# imports (pulumi_aws alone: 150 MB of bytecode for some 250 services, of which it uses 6). Python
# writes the bytecode of what the targets do import, once, on first use; so it may even where the
# shell sets PYTHONDONTWRITEBYTECODE (as container images do), or every process would compile its
# imports anew (about 3 s more per offline render here).
PIP := $(PY) -m pip
PIP_FLAGS := --quiet --no-compile
unexport PYTHONDONTWRITEBYTECODE

.PHONY: render check test quick packages lint typecheck setup tools policy-venv schemas docs bench lock rds-ca-bundle clean help

## Render a stack offline (STACK=dev; no Pulumi CLI, cloud or cluster): build/<stack>/{resources.json,kubernetes.yaml}
render: setup
	$(PY) -m ai_etl.offline render $(STACK)

## The guardrails (policy/ rules) on a stack offline, with the guide's validation checklist.
check: setup
	$(PY) -m ai_etl.ops.check $(STACK)

# `make test` runs lint, mypy (one core, some 25 s on a new machine) and the two environments' pip
# installs side by side; each line is printed whole (--output-sync=line), and a step that fails stops
# the gate before pytest, as it did when they ran one after the other.
## The whole gate, as CI runs it: lint, types, then every test (scanners and slow tests included).
test: packages setup
	@$(MAKE) --no-print-directory -j 3 --output-sync=line lint typecheck tools policy-venv
	$(PYTEST)

## The everyday loop, about two minutes on 2 cores: lint, then every test not marked slow (no mypy: `make typecheck`).
quick: packages lint tools policy-venv
	$(PYTEST) -m "not slow"

## Check the Debian packages the tests need beyond Python (jq, postgresql, redis-server): one line says what to install.
packages:
	@$(PYTHON) -m tests.servers check

## The program (editable) and the gate's tools in .venv, at the versions requirements.lock pins.
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock requirements.txt requirements-dev.txt
	@echo "setup: creating $(VENV) and updating its pip"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "setup: installing the program and the gate's tools into $(VENV) at requirements.lock's versions (about a minute on a new machine)"
	$(PIP) install $(PIP_FLAGS) -r requirements-dev.txt
	touch $@

## The scanners and the AWS emulator in their own environment, .venv-tools (requirements-tools.lock).
tools: $(TOOLS)/.installed

$(TOOLS)/.installed: requirements-tools.lock | $(VENV)/.installed
	@echo "tools: installing the scanners and the AWS emulator into $(TOOLS) at requirements-tools.lock's versions (about half a minute)"
	$(PYTHON) -m venv --without-pip $(TOOLS)
	$(PIP) --python $(TOOLS)/bin/python install $(PIP_FLAGS) -r requirements-tools.lock
	touch $@

## The policy pack's environment, policy/venv: pulumi and pulumi-policy (policy/__main__.py finds the rules here).
policy-venv: policy/venv/.installed

policy/venv/.installed: policy/requirements.txt requirements.lock | $(VENV)/.installed
	@echo "policy-venv: installing pulumi and pulumi-policy into policy/venv, the policy pack's environment"
	$(PYTHON) -m venv --without-pip policy/venv
	$(PIP) --python policy/venv/bin/python install $(PIP_FLAGS) -r policy/requirements.txt
	touch $@

## ruff check and ruff format --check.
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## mypy on the program, the policy pack, the benchmarks and the tests.
typecheck: setup
	$(PY) -m mypy ai_etl benchmarks policy/policies.py __main__.py tests

## The External Secrets CRDs the tests validate against (../shared's copy, else the pinned release, verified).
schemas: setup
	$(PY) -m tests.crds

## Regenerate what derives from the program: .env.example, the docs' tables, the takeover's script and
## the README's example output, saying which as it goes; it rewrites only the files that changed, and names each.
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

## Replace the committed RDS CA bundle with AWS's current one and rewrite its digest (docs/configuration.md).
rds-ca-bundle: setup
	$(VENV)/bin/python -m ai_etl.ops.rdsbundle

## Remove every environment, build output and cache.
clean:
	rm -rf $(VENV) $(TOOLS) .venv-lock policy/venv build .cache .pytest_cache .mypy_cache .ruff_cache

## This list: each target with the `## ` comment right above it.
help:
	@awk '/^## /{doc = doc (doc ? " " : "") substr($$0, 4); next} \
		/^[a-z][a-z-]*:/ && doc {sub(/:.*/, ""); printf "  %-12s %s\n", $$0, doc} {doc = ""}' $(MAKEFILE_LIST)
