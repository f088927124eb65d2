"""Each stack bound to its own EKS cluster, looked up at deploy time: where the Kubernetes objects go,
whom the operator trusts, and whether the cluster encrypts and audits (issue 10, point 3)."""

from __future__ import annotations

import json
import shlex
import subprocess
from typing import Any

import pytest

from ai_etl.config.settings import ConfigError
from ai_etl.offline.diff import diff
from ai_etl.offline.records import Run
from ai_etl.offline.render import resource_record
from ai_etl.offline.runner import run_program
from ai_etl.offline.stackconfig import load_project, load_stack_config
from ai_etl.tokens import (
    AUDIT_ANNOTATION,
    CLUSTER_ANNOTATION,
    GET_EKS_CLUSTER,
    GET_OIDC_PROVIDER,
    K8S_ADMISSION_POLICY,
    K8S_PROVIDER,
    LOG_METRIC_FILTER,
    VERSION_ANNOTATION,
)
from tests.helpers import (
    PLACEHOLDERS,
    PRODUCTION_GRADE,
    STANDARD_GRADE,
    aws_client,
    manifest,
    run_cli,
    stack_config,
)
from tests.helpers import run_config as run_with
from tests.paths import PROGRAM
from tests.test_access import api_errors


def run_against(
    stack: str,
    cluster: dict[str, Any] | None,
    registrations: list | None = None,
    *,
    no_oidc_provider: bool = False,
) -> Run:
    """The stack, with the cluster lookup answering `cluster`'s fields (None: no such cluster), and
    with no IAM OIDC provider for its issuer if `no_oidc_provider`."""
    answers = {GET_EKS_CLUSTER: cluster, **({GET_OIDC_PROVIDER: None} if no_oidc_provider else {})}
    return run_program(
        stack,
        stack_config(stack),
        PLACEHOLDERS,
        program=PROGRAM,
        project=load_project(),
        answers=answers,
        registrations=registrations,
    )


def cluster_of(stack: str) -> tuple[str, str]:
    """The name and region of the stack's cluster, as its stack file gives them."""
    config = stack_config(stack)
    return str(config["ai-etl:clusterName"]), str(config["aws:region"])


def test_every_kubernetes_object_goes_to_the_stacks_own_cluster(stack_run: Run) -> None:
    """Not to whatever cluster the deploying shell's kubeconfig points at: every Kubernetes object
    names the stack's provider, whose kubeconfig holds the looked-up cluster's endpoint and CA and
    gets a token from `aws eks get-token` for that cluster and region. No token is stored, so the
    kubeconfig is the same on every run and the provider never shows a change."""
    (provider,) = stack_run.of_type(K8S_PROVIDER)
    objects = [r for r in stack_run.resources if r.type.startswith("kubernetes:")]
    assert objects and {r.provider.rpartition("::")[0] for r in objects} == {provider.urn}
    cluster = stack_run.answer(GET_EKS_CLUSTER)
    stack = load_stack_config(stack_run.stack)
    assert cluster["name"] == stack["ai-etl:clusterName"]
    config = json.loads(provider.inputs["kubeconfig"])
    (entry,) = config["clusters"]
    assert entry["cluster"] == {
        "server": cluster["endpoint"],
        "certificate-authority-data": cluster["certificateAuthorities"][0]["data"],
    }
    (context,) = config["contexts"]
    assert config["current-context"] == context["name"] and context["context"]["cluster"] == entry["name"]
    (user,) = config["users"]
    exec_ = user["user"]["exec"]
    assert exec_["command"] == "aws" and exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert exec_["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        cluster["name"],
        "--region",
        stack["aws:region"],
    ]
    assert "token" not in json.dumps(user["user"]).replace("get-token", "")


def test_the_namespace_records_what_was_found_of_the_cluster(stack_run: Run) -> None:
    """The policy pack and `make check` see the cluster's version and audit log on the namespace."""
    annotations = manifest(stack_run, "Namespace")["metadata"]["annotations"]
    cluster = stack_run.answer(GET_EKS_CLUSTER)
    assert annotations == {
        CLUSTER_ANNOTATION: cluster["name"],
        VERSION_ANNOTATION: cluster["version"],
        AUDIT_ANNOTATION: "enabled",
    }


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        ({"version": "1.27"}, "runs Kubernetes 1.27: EKS envelope-encrypts"),
        ({"enabledClusterLogTypes": ["api", "authenticator"]}, "has the audit log off"),
        ({"version": "1.29"}, "runs Kubernetes 1.29: the admission policy"),
    ],
)
def test_a_production_grade_stack_refuses_a_cluster_that_does_not_encrypt_or_audit(
    change: dict[str, Any], expect: str
) -> None:
    """Before anything is declared, naming the cluster, what is wrong and the aws command that fixes
    it; a stack is production-grade by its stack file, whatever its name."""
    stack = PRODUCTION_GRADE[0]
    cluster, region = cluster_of(stack)
    declared: list = []
    with pytest.raises(ConfigError) as raised:
        run_against(stack, change, registrations=declared)
    message = str(raised.value)
    assert f"cluster '{cluster}' refused for stack '{stack}' (nothing was declared)" in message
    assert expect in message and "required of a production-grade stack" in message
    assert "fix: aws eks update-cluster-" in message and f"--name {cluster} --region {region}" in message
    assert declared == []


def test_a_standard_stack_deploys_to_such_a_cluster_with_a_warning() -> None:
    """A standard-grade stack (dev) may run on an older cluster, or with the audit log off; the
    preview says so, with the fix."""
    stack = STANDARD_GRADE[0]
    cluster, region = cluster_of(stack)
    run = run_against(stack, {"version": "1.27", "enabledClusterLogTypes": []})
    assert manifest(run, "Namespace")["metadata"]["annotations"][AUDIT_ANNOTATION] == "disabled"
    text = "\n".join(run.warnings)
    assert "runs Kubernetes 1.27" in text and "has the audit log off" in text
    # Neither the admission policy (no such API before 1.30) nor the alarm on a log EKS does not
    # write is declared: either would fail the deploy.
    assert "no alarm on such a read is declared" in text
    assert not run.of_type(K8S_ADMISSION_POLICY) and not run.of_type(LOG_METRIC_FILTER)
    assert f"aws eks update-cluster-config --name {cluster} --region {region} --logging" in text


def test_a_missing_cluster_is_a_clear_error() -> None:
    """The fix lists the clusters, then sets one; its placeholder is quoted, so pasted unfilled it
    sets a name the program refuses rather than redirecting the shell."""
    with pytest.raises(ConfigError) as raised:
        run_against("dev", None)
    message = str(raised.value)
    assert "clusterName: no EKS cluster 'ai-etl-dev' in us-east-1 for these credentials" in message
    fix = "fix: aws eks list-clusters --region us-east-1 && pulumi config set clusterName '<cluster>'"
    assert f"{fix} --stack dev" in message


def test_a_cluster_without_an_iam_oidc_provider_is_refused() -> None:
    """IRSA needs the account's IAM OIDC provider for the cluster's issuer; eksctl creates it."""
    with pytest.raises(ConfigError) as raised:
        run_against("dev", {}, no_oidc_provider=True)
    assert (
        "fix: eksctl utils associate-iam-oidc-provider --cluster ai-etl-dev --region us-east-1 --approve"
        in str(raised.value)
    )


def test_a_stack_file_from_before_the_lookup_works_once_it_names_its_cluster() -> None:
    """A stack file that still states the right `oidcProviderArn` deploys unchanged; a wrong one is
    refused, and the printed fix, run as printed, leaves a stack the program accepts."""
    right = run_against("dev", {}).answer(GET_OIDC_PROVIDER)["arn"]
    config = stack_config("dev", {"ai-etl:oidcProviderArn": right})
    assert run_with("dev", config).exports["namespace"] == "ai-etl-dev"
    wrong = stack_config("dev", {"ai-etl:oidcProviderArn": right.replace("/id/", "/id/X")})
    with pytest.raises(ConfigError) as raised:
        run_with("dev", wrong)
    (fix,) = [line.split("fix: ", 1)[1] for line in str(raised.value).splitlines() if "fix: " in line]
    secrets = dict(PLACEHOLDERS)
    run_cli(fix, wrong, secrets)
    assert "ai-etl:oidcProviderArn" not in wrong
    run_with("dev", wrong, secrets)


def test_moving_a_stack_to_another_cluster_replaces_every_kubernetes_object() -> None:
    """pulumi-kubernetes replaces its provider when the kubeconfig's active cluster changes, and the
    engine replaces every resource of a replaced provider (ai_etl/offline/diff.py cites both). The offline
    diff says so, rather than a harmless-looking update; AWS resources stay, but for the cluster
    audit's metric filter, which moves to the new cluster's log group (a filter belongs to its group)."""
    base = [resource_record(r) for r in run_with("dev", stack_config("dev")).resources]
    moved = run_with("dev", stack_config("dev", {"ai-etl:clusterName": "ai-etl-blue"}))
    changes = {c.name: c for c in diff(base, [resource_record(r) for r in moved.resources])}
    objects = [r.name for r in moved.resources if r.type.startswith("kubernetes:")]
    assert objects and all(
        changes[n].op == "replace" and changes[n].replace_reasons == ["provider"] for n in objects
    )
    assert changes["ai-etl-cluster"].replace_reasons == ["kubeconfig (another cluster)"]
    replaced = [c for c in changes.values() if c.type.startswith("aws:") and c.op == "replace"]
    assert [(c.type, c.replace_reasons) for c in replaced] == [(LOG_METRIC_FILTER, ["logGroupName"])]


def enabled_log_types(logging: dict[str, Any]) -> list[str]:
    """DescribeCluster's `logging` as the provider hands it to the program: the types of every
    enabled setup (hashicorp/terraform-provider-aws internal/service/eks/cluster.go, flattenLogging)."""
    return [t for setup in logging.get("clusterLogging", []) if setup.get("enabled") for t in setup["types"]]


@pytest.mark.slow  # an AWS emulator and the AWS CLI
def test_the_printed_audit_log_fix_works_as_printed(aws: dict[str, str]) -> None:
    """A production-grade stack's cluster with the audit log off is refused; the `aws eks
    update-cluster-config` the error prints, run as printed (against moto's EKS,
    tests/conftest.py), turns it on, and the stack is accepted."""
    stack = PRODUCTION_GRADE[0]
    cluster, region = cluster_of(stack)
    logging = {
        "clusterLogging": [{"types": ["api"], "enabled": True}, {"types": ["audit"], "enabled": False}]
    }
    eks = aws_client(aws, "eks", region)
    eks.create_cluster(
        name=cluster,
        roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
        logging=logging,
    )

    def described() -> dict[str, Any]:
        found = eks.describe_cluster(name=cluster)["cluster"]
        return {"enabledClusterLogTypes": enabled_log_types(found["logging"])}

    with pytest.raises(ConfigError) as raised:
        run_against(stack, described())
    (fix,) = [
        line.split("fix: ", 1)[1]
        for line in str(raised.value).splitlines()
        if "update-cluster-config" in line
    ]
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", fix], env=aws, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "audit" in described()["enabledClusterLogTypes"]
    assert run_against(stack, described()).exports["cluster"] == cluster


def test_the_printed_upgrade_fix_names_the_next_version_in_the_api_shape() -> None:
    """EKS upgrades one minor version at a time: for 1.26 the fix asks for 1.27, in the shape
    UpdateClusterVersion takes (botocore's eks model)."""
    stack = PRODUCTION_GRADE[0]
    cluster, region = cluster_of(stack)
    with pytest.raises(ConfigError) as raised:
        run_against(stack, {"version": "1.26"})
    (fix,) = [
        line.split("fix: ", 1)[1]
        for line in str(raised.value).splitlines()
        if "update-cluster-version" in line
    ]
    words = shlex.split(fix)
    assert words[:3] == ["aws", "eks", "update-cluster-version"]
    options = dict(zip(words[3::2], words[4::2], strict=True))
    assert options == {"--name": cluster, "--region": region, "--kubernetes-version": "1.27"}
    assert api_errors("eks", "UpdateClusterVersion", {"name": options["--name"], "version": "1.27"}) == []
