"""The ai-etl policy pack: `pulumi preview --policy-pack policy` runs every guardrail.

How the CLI starts a Python pack (pulumi/pulumi): `NewPolicyAnalyzer` in
`sdk/go/common/resource/plugin/analyzer_plugin.go` runs the `pulumi-analyzer-policy-python` shim in
this folder, with PulumiPolicy.yaml's `virtualenv: venv` as `-virtualenv=venv`; the shim
(`sdk/python/dist/pulumi-analyzer-policy-python`) runs `venv/bin/python -u -m pulumi.policy
<engine> .`, which runs this file by `runpy.run_path` with this folder first on sys.path
(`sdk/python/lib/pulumi/policy/__main__.py`). So `policies`, beside it, imports as is.

policy/venv holds pulumi and pulumi-policy only (policy/requirements.txt), not this project: the
rules' package, `ai_etl`, comes from this repository, whose root goes first on sys.path here. The
rules import only ai_etl's light modules (no pydantic, no provider SDK), which tests/test_policy_pack.py
proves by starting the pack from policy/venv.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies import PACK_NAME, POLICIES
from pulumi_policy import PolicyPack

PolicyPack(name=PACK_NAME, policies=POLICIES)
