"""The policy pack as the Pulumi engine runs it: started from policy/ as its own process, asked
over gRPC (the engine's Analyzer protocol) what it enforces, and given a resource to analyze."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from ai_etl.guardrails.rules import RULES
from tests.paths import PROJECT_DIR

# PulumiPolicy.yaml's `virtualenv: venv`: the CLI starts a local Python pack through the
# `pulumi-analyzer-policy-python` shim with the runtime options as flags (`-virtualenv=venv`), which
# runs policy/venv's python and does not create it (pulumi/pulumi
# `sdk/go/common/resource/plugin/analyzer_plugin.go`, NewPolicyAnalyzer), so `make policy-venv`
# must have made it; the tests start the pack from there, not from the project's .venv.
POLICY_PYTHON = PROJECT_DIR / "policy" / "venv" / "bin" / "python"


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack, launched like the engine launches it: `python __main__.py` in policy/, with the
    pack's own environment (`make policy-venv`), which prints the port it serves on."""
    if not POLICY_PYTHON.exists():
        pytest.fail(f"{POLICY_PYTHON} is missing: run `make policy-venv` (make test does)")
    process = subprocess.Popen(
        [str(POLICY_PYTHON), "__main__.py"],
        cwd=PROJECT_DIR / "policy",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().decode().strip()
        assert port.isdigit(), process.stderr.read().decode() if process.stderr else port
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
