"""The plan: what one environment declares, computed from its settings and cluster without Pulumi
(no engine, no mocks), so each name and grant can be checked as plain data."""

from __future__ import annotations

import dataclasses

import pytest

from ai_etl import names
from ai_etl.catalogue import CATALOGUE, CONSUMERS, read_by, server_credentials
from ai_etl.config.cluster import Cluster
from ai_etl.plan import Plan, plan
from tests.helpers import STACKS, settings_of, stepped

CLUSTER = Cluster(
    name="blue",
    arn="arn:aws:eks:us-east-1:111111111111:cluster/blue",
    version="1.31",
    endpoint="https://blue.example.com",
    certificate_authority="Q0E=",
    oidc_issuer_url="https://oidc.eks.us-east-1.amazonaws.com/id/ABC",
    log_types=("api", "audit"),
    oidc_provider_arn="arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
)


@pytest.fixture(params=STACKS)
def stack_plan(request: pytest.FixtureRequest) -> Plan:
    return plan(settings_of(request.param), CLUSTER)


def test_every_secret_name_reads_back_to_its_key(stack_plan: Plan) -> None:
    """The watch, the guardrails and the runbooks read keys back from names: every name the plan
    makes is the stack's, and its inverse gives the key it was made from."""
    for secret in stack_plan.secrets:
        assert secret.name.startswith(stack_plan.secret_name_prefix)
        assert names.key_of_secret_name(stack_plan.stack, secret.name) == secret.key
        assert names.key_of_secret_name("other", secret.name) is None, "another stack's name is not ours"
    verifiers = [names.verifiers_key(s.key) for s in stepped(stack_plan.stack)]
    catalogue = settings_of(stack_plan.stack).catalogue  # the stack's: no unused admin's password
    # An administrator from RDS's master user secret (admin_properties) has no entry of ours.
    theirs = {step.admin_key for step in stack_plan.servers if step.admin_properties}
    ours = [s.key for s in catalogue if s.key not in theirs]
    assert [s.key for s in stack_plan.secrets] == ours + verifiers


def test_the_operator_reads_what_workloads_and_steps_read_and_nothing_more(stack_plan: Plan) -> None:
    """Least privilege: the server passwords stay in AWS; every key a workload reads is synced, and
    the administrators' passwords and verifiers that the rotation steps read."""
    read = {r.key for w in stack_plan.workloads for r in w.reads}
    # An administrator from RDS's master user secret (admin_properties) has no entry of ours to sync.
    steps = {step.verifiers_key for step in stack_plan.servers}
    steps |= {step.admin_key for step in stack_plan.servers if not step.admin_properties}
    assert set(stack_plan.synced_keys) == read | steps
    assert len(steps) == 2 * len(stepped(stack_plan.stack)) - sum(
        bool(s.admin_properties) for s in stack_plan.servers
    )
    assert not read & {s.key for s in server_credentials(CATALOGUE)}
    assert not read & steps
    assert [w.consumer for w in stack_plan.workloads] == [c.name for c in CONSUMERS]
    for w, consumer in zip(stack_plan.workloads, CONSUMERS, strict=True):
        assert [r.key for r in w.reads] == [s.key for s in read_by(consumer, CATALOGUE)]


def test_names_and_ports_come_from_the_stack_and_its_cluster() -> None:
    """A stack's names are its own; the audit spells out the operator's role ARN in the cluster's
    account and partition; a workload may reach exactly its databases' ports."""
    p = plan(settings_of("dev", namespace="team-blue", database={"port": 6432}), CLUSTER)
    assert (p.namespace, p.key_alias) == ("team-blue", "alias/ai-etl-dev-secrets")
    assert p.operator_role_arn == "arn:aws:iam::111111111111:role/ai-etl-dev-secret-store"
    assert p.audit_arn_prefixes == ("arn:aws:secretsmanager:us-east-1:111111111111:secret:ai-etl/dev/",)
    assert p.workloads[0].egress_ports == (6379, 6432)
    assert p.secrets_manager_endpoint == "secretsmanager.us-east-1.amazonaws.com"
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.namespace = "kube-system"  # type: ignore[misc]
