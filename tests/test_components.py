"""Each component stands on its own: built alone by a program of its own, from plain arguments,
with objects that hold against Kubernetes' schemas and the operator's CRDs; and its type token,
module and class agree (`ai-etl:<module>:<Type>` is class <Type> in components/<module>.py)."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

import kubernetes_validate
import pulumi
import pytest

from ai_etl import tokens
from ai_etl.offline.records import Run
from ai_etl.offline.runner import run_program
from tests.helpers import ESO_GROUP, KUBERNETES_VERSION, eso_errors, manifests

COMPONENT_TOKENS = {name: value for name, value in vars(tokens).items() if name.endswith("_COMPONENT")}

CONTAINER = (
    "ContainerSpec(image='registry.example.com/app:1.0.0', replicas=1, port=8080, liveness_path='/live', "
    "readiness_path='/ready', cpu_request='50m', memory_request='64Mi', cpu_limit='1', memory_limit='128Mi')"
)
PROGRAMS = {
    "Namespace": """
from ai_etl.components.namespace import Namespace, NamespaceArgs
Namespace("team", NamespaceArgs(name="team-a", labels={"team": "a"}, annotations={}))
""",
    "Passwords": """
import pulumi
from ai_etl.components.passwords import Passwords, PasswordsArgs
pw = Passwords("pw", PasswordsArgs(rotation={"api": "2026-01-01", "db": "initial"}, length=40))
pulumi.export("results", pw.results)
""",
    "SecretsManager": """
import pulumi
from ai_etl.components.secretsmanager import SecretEntry, SecretsManager, SecretsManagerArgs
sm = SecretsManager("vault", SecretsManagerArgs(
    key_alias="alias/team-a", key_description="team a",
    secrets={"token": SecretEntry("team-a/token", "a token", pulumi.Output.secret("not-a-real-token"))},
    recovery_window_in_days=14, protect=False, tags={"Team": "a"}))
pulumi.export("token", {"name": sm.secrets["token"].name, "arn": sm.secrets["token"].arn,
                        "version": sm.secrets["token"].version_id})
""",
    "AccessAudit": """
from ai_etl.components.accessaudit import AccessAudit, AccessAuditArgs
AccessAudit("watch", AccessAuditArgs(
    name="team-a-reads", region=None, secret_name_prefix="team-a/",
    secret_arn_prefixes=["arn:aws:secretsmanager:eu-west-1:111111111111:secret:team-a/"],
    operator_role_arn="arn:aws:iam::111111111111:role/team-a-reader", expected_readers=[],
    key_policy=None, key_alias="alias/team-a-reads",
    secrets_key_arn="arn:aws:kms:eu-west-1:111111111111:key/k", endpoints=["team-a@example.com"],
    recovery_window_in_days=7, protect=False, tags={"Team": "a"}))
""",
    "Admission": """
from ai_etl.components.admission import Admission, AdmissionArgs
Admission("guard", AdmissionArgs(
    name="team-a-operator-identity", namespace="team-a", service_account="reader", store_name="aws",
    operator_user="system:serviceaccount:eso:eso", actions=["Deny"], labels={"team": "a"}))
""",
    "ClusterAudit": """
from ai_etl.components.clusteraudit import ClusterAudit, ClusterAuditArgs
ClusterAudit("reads", ClusterAuditArgs(
    name="team-a-reads", log_group="/aws/eks/team-a/cluster", pattern='{ $.verb = "get" }',
    metric_namespace="team-a", topic_arn="arn:aws:sns:eu-west-1:111111111111:team-a", tags={"Team": "a"}))
""",
    "AuditBus": """
from ai_etl.components.auditbus import AuditBus, AuditBusArgs
AuditBus("forward", AuditBusArgs(
    role_name="team-a-audit-bus", bus_arn="arn:aws:events:eu-west-1:999999999999:event-bus/security",
    tags={"Team": "a"}))
""",
    "AuditTrail": """
from ai_etl.components.audittrail import AuditTrail, AuditTrailArgs
AuditTrail("trail", AuditTrailArgs(
    trail_name="team-a-trail", trail_arn="arn:aws:cloudtrail:eu-west-1:111111111111:trail/team-a-trail",
    account="111111111111", protect=False, tags={"Team": "a"}))
""",
    "SecretStore": """
from ai_etl.components.secretstore import SecretStore, SecretStoreArgs
SecretStore("store", SecretStoreArgs(
    namespace="team-a", store_name="aws", service_account="reader", role_name="team-a-reader",
    role_description="reads team a",
    oidc_provider_arn="arn:aws:iam::111111111111:oidc-provider/oidc.example.com/id/X",
    oidc_issuer="oidc.example.com/id/X", region="eu-west-1",
    secrets_manager_endpoint="secretsmanager.eu-west-1.amazonaws.com",
    secret_arns=["arn:aws:secretsmanager:eu-west-1:111111111111:secret:team-a/token-AbCdEf"],
    kms_key_arn="arn:aws:kms:eu-west-1:111111111111:key/k", labels={"team": "a"}, tags={"Team": "a"}))
""",
    "Workload": f"""
from ai_etl.components.pods import ContainerSpec
from ai_etl.components.workload import SyncedKey, Workload, WorkloadArgs
Workload("app", WorkloadArgs(
    name="app", component="api", namespace="team-a", labels={{"team": "a"}}, selector_labels={{"team": "a"}},
    store_name="aws", synced=[SyncedKey("token", "API_TOKEN", "team-a/token", "v-1")],
    plain_env={{"LOG_LEVEL": "info"}}, container={CONTAINER}, egress_ports=[5432]))
""",
    "ServerPasswords": """
import pulumi
from ai_etl.components.serverpasswords import ServerCredential, ServerPasswords, ServerPasswordsArgs
sp = ServerPasswords("srv", ServerPasswordsArgs(
    credentials=[ServerCredential("pg", "postgres", 3), ServerCredential("cache", "redis", 0)], length=40))
pulumi.export("active", sp.active)
pulumi.export("verifiers", sp.verifiers)
""",
    "RotationStep": """
from ai_etl.components.rotationstep import RotationStep, RotationStepArgs, StepRead
RotationStep("rotate", RotationStepArgs(
    name="pg-step", job_name="pg-step-3", server="postgres", namespace="team-a", labels={"team": "a"},
    selector_labels={"team": "a"}, store_name="aws",
    reads=[StepRead("PGPASSWORD", "team-a/pg-admin", "v-1"),
           StepRead("PG_BLUE_VERIFIER", "team-a/pg-verifiers", "v-2", "PG_BLUE_VERIFIER"),
           StepRead("PG_GREEN_VERIFIER", "team-a/pg-verifiers", "v-2", "PG_GREEN_VERIFIER")],
    plain_env={"PGHOST": "db.team-a", "PGPORT": "5433"},
    image="registry.example.com/step:1.0.0", port=5433))
""",
    "CacheUsers": """
import pulumi
from ai_etl.components.cacheusers import CacheUser, CacheUsers, CacheUsersArgs
users = CacheUsers("cache", CacheUsersArgs(
    key="cache-password", engine="valkey", user_group_id="team-a-users",
    users=[CacheUser("team-a-app-blue", "app_blue", "on ~* +@read"),
           CacheUser("team-a-default", "default", "off")],
    passwords=[pulumi.Output.secret("fake-password-one-0000"),
               pulumi.Output.secret("fake-password-two-0000")],
    tags={"team": "a"}))
pulumi.export("group", users.user_group_id)
""",
}


def run_alone(tmp_path: Path, component: str) -> Run:
    program = tmp_path / f"{component}.py"
    program.write_text(PROGRAMS[component])
    return run_program("test", {}, {}, program=program, project="other-project")


def test_every_component_token_names_its_module_and_class() -> None:
    """`ai-etl:<module>:<Type>` is class <Type> in ai_etl/components/<module>.py (the Environment, which
    composes them, in ai_etl/environment.py), registered under that token."""
    assert set(COMPONENT_TOKENS.values()) >= {f"ai-etl:{c.lower()}:{c}" for c in ("Namespace", "Passwords")}
    for token in COMPONENT_TOKENS.values():
        _, module, name = token.split(":")
        package = "ai_etl" if module == "environment" else "ai_etl.components"
        cls = getattr(importlib.import_module(f"{package}.{module}"), name)
        constant = next(k for k, v in COMPONENT_TOKENS.items() if v == token)
        assert issubclass(cls, pulumi.ComponentResource)
        assert f"super().__init__({constant}," in inspect.getsource(cls.__init__), (
            f"{name} registers as {token}"
        )


def test_every_component_has_a_program_of_its_own() -> None:
    """The programs below cover every component but the whole environment."""
    assert set(PROGRAMS) == {t.split(":")[2] for t in COMPONENT_TOKENS.values()} - {"Environment"}


@pytest.mark.parametrize("component", sorted(PROGRAMS))
def test_a_component_builds_alone_from_plain_arguments(
    tmp_path: Path, schemas_dir: Path, component: str
) -> None:
    """Built by itself, in another project, each component declares valid objects under its own name."""
    run = run_alone(tmp_path, component)
    (root,) = [r for r in run.resources if tokens.STACK in r.parent]
    assert root.type == f"ai-etl:{component.lower()}:{component}" and not root.custom
    assert all(r.urn.startswith("urn:pulumi:test::other-project::") for r in run.resources)
    children = [r for r in run.resources if r is not root]
    assert children and all(r.name.startswith(root.name) for r in children), "children are scoped by its name"
    for obj in manifests(run):
        if obj["apiVersion"].startswith(ESO_GROUP):
            assert eso_errors(schemas_dir, obj) == []
        else:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_secrets_manager_outputs_are_grouped_per_secret(tmp_path: Path) -> None:
    """A caller gets each secret's name, ARN and version id together, never its value."""
    run = run_alone(tmp_path, "SecretsManager")
    token = run.exports["token"]
    (secret,) = run.of_type(tokens.SM_SECRET)
    (version,) = run.of_type(tokens.SM_VERSION)
    assert token == {
        "name": "team-a/token",
        "arn": secret.outputs["arn"],
        "version": version.outputs["versionId"],
    }
    assert "not-a-real-token" not in json.dumps(token)


def test_passwords_follow_their_own_rotation_values(tmp_path: Path) -> None:
    """One RandomPassword per key, each kept by its own rotation value."""
    run = run_alone(tmp_path, "Passwords")
    keepers = {p.name: p.inputs["keepers"] for p in run.of_type(tokens.RANDOM_PASSWORD)}
    assert keepers == {
        "pw-api-2026-01-01": {"rotation": "2026-01-01"},
        "pw-db-initial": {"rotation": "initial"},
    }


def test_a_workload_reads_only_what_it_is_given(tmp_path: Path) -> None:
    """Its Secret holds its keys, its Role reads that Secret only, its env names them by secretKeyRef."""
    run = run_alone(tmp_path, "Workload")
    objects = {m["kind"]: m for m in manifests(run)}
    secret_name = objects["ExternalSecret"]["metadata"]["name"]
    assert secret_name.startswith("app-secrets-")
    assert objects["Role"]["rules"][0]["resourceNames"] == [secret_name]
    (container,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "api"
    assert container["env"] == [
        {
            "name": "API_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": secret_name, "key": "token", "optional": False}},
        },
        {"name": "LOG_LEVEL", "value": "info"},
    ]
