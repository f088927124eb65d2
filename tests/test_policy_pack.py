"""The policy pack as the Pulumi engine runs it: started from policy/ as its own process, with its
own environment, asked over gRPC (the engine's Analyzer protocol) what it enforces, and given a
resource to analyze."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from ai_etl.guardrails.rules import RULES
from tests.helpers import start_policy_pack
from tests.paths import PROJECT_DIR

# PulumiPolicy.yaml's `virtualenv: venv`: the CLI runs policy/venv's python and does not create it
# (tests/helpers.py, start_policy_pack), so `make policy-venv` must have made it; the tests start the
# pack from there, not from the project's .venv.
PACK = PROJECT_DIR / "policy"
POLICY_PYTHON = PACK / "venv" / "bin" / "python"


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack, launched as the engine launches it, which prints the port it serves on."""
    if not POLICY_PYTHON.exists():
        pytest.fail(f"{POLICY_PYTHON} is missing: run `make policy-venv` (make test does)")
    process = start_policy_pack(PACK)
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read() if process.stderr else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.kill()
        process.wait(timeout=10)


def test_pack_serves_every_rule(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "ai-etl-guardrails"
    levels = {p.name: p.enforcementLevel for p in info.policies}
    assert set(levels) == {rule.name for rule in RULES}
    assert levels["rotate-regularly"] == analyzer_pb2.ADVISORY
    assert levels["no-plain-credentials"] == analyzer_pb2.MANDATORY


def test_pack_stops_a_configmap_with_a_password(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    props = struct_pb2.Struct()
    props.update({"apiVersion": "v1", "kind": "ConfigMap", "data": {"DB_PASSWORD": "not-a-real-one"}})
    request = analyzer_pb2.AnalyzeRequest(
        type="kubernetes:core/v1:ConfigMap",
        properties=props,
        urn="urn:pulumi:dev::ai-etl::kubernetes:core/v1:ConfigMap::leaky",
        name="leaky",
        options=analyzer_pb2.AnalyzerResourceOptions(),
    )
    response = analyzer.Analyze(request)
    mandatory = [d for d in response.diagnostics if d.enforcementLevel == analyzer_pb2.MANDATORY]
    assert [d.policyName for d in mandatory] == ["no-plain-credentials"]
    assert "not-a-real-one" not in mandatory[0].message, "a finding never repeats the value"


@pytest.mark.parametrize("module", ["ai_etl", "pydantic", "pulumi_aws", "pulumi_kubernetes", "botocore"])
def test_the_packs_environment_holds_pulumi_and_the_policy_sdk_only(module: str) -> None:
    """policy/venv is not the program's environment: the rules come from this repository (found by
    policy/__main__.py), and they import nothing heavier than the pack's own SDKs, so a rule that
    reached for pydantic or a provider SDK would stop the pack from starting (above)."""
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is not None)"
    assert subprocess.run([str(POLICY_PYTHON), "-c", probe], cwd="/", check=False).returncode == 0
