"""The stack's EKS cluster, looked up at deploy time: where its Kubernetes objects go, whom the
operator's role trusts, and whether the cluster encrypts and audits what it holds.

`lookup_cluster()` runs on every preview and update, after the settings and before anything is
declared: `aws.eks.get_cluster` (DescribeCluster, hashicorp/terraform-provider-aws
`internal/service/eks/cluster_data_source.go`) and `aws.iam.get_open_id_connect_provider` by URL
(ListOpenIDConnectProviders then GetOpenIDConnectProvider,
`internal/service/iam/openid_connect_provider_data_source.go`). `check_cluster()` is the pure part.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_aws as aws

from ai_etl.config.commands import Commands, word
from ai_etl.config.problems import ConfigError, Problems
from ai_etl.config.settings import Settings
from ai_etl.eks import ADMISSION_POLICIES, AUDIT_LOG, ENCRYPTED_BY_DEFAULT, audit_log_group, minor_version
from ai_etl.grade import PRODUCTION

EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"
"""The exec credential API `aws eks get-token` speaks (v1alpha1 left client-go in Kubernetes 1.24)."""


@dataclass(frozen=True)
class Cluster:
    """What the program needs of the stack's EKS cluster (none of it secret: the certificate
    authority is public, and the kubeconfig carries a command, not a token)."""

    name: str
    arn: str
    version: str
    """Kubernetes `<major>.<minor>`, e.g. 1.31."""
    endpoint: str
    certificate_authority: str
    """The API server's CA bundle, base64 PEM, as DescribeCluster gives it."""
    oidc_issuer_url: str
    """`https://oidc.eks.<region>.amazonaws.com/id/<id>`; empty when the cluster has none."""
    log_types: tuple[str, ...]
    oidc_provider_arn: str = ""
    """The account's IAM OIDC provider for the issuer; empty when there is none."""

    @property
    def partition(self) -> str:
        return self.arn.split(":")[1]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    @property
    def oidc_issuer(self) -> str:
        """The issuer as IAM condition keys name it: host and path, without `https://`."""
        return self.oidc_issuer_url.removeprefix("https://")

    @property
    def encrypted_at_rest(self) -> bool:
        return minor_version(self.version) >= ENCRYPTED_BY_DEFAULT

    @property
    def audited(self) -> bool:
        return AUDIT_LOG in self.log_types


def cluster_from(result: Any) -> Cluster:
    """A Cluster from `aws.eks.get_cluster`'s result (pulumi_aws/eks/get_cluster.py)."""
    oidcs = [o for identity in result.identities or () for o in identity.oidcs or ()]
    cas = result.certificate_authorities or ()
    return Cluster(
        name=result.name,
        arn=result.arn,
        version=result.version,
        endpoint=result.endpoint,
        certificate_authority=cas[0].data if cas else "",
        oidc_issuer_url=oidcs[0].issuer if oidcs else "",
        log_types=tuple(result.enabled_cluster_log_types or ()),
    )


def check_cluster(settings: Settings, cluster: Cluster) -> tuple[Problems, list[str]]:
    """The cluster's problems: errors (with their fixes) and warnings. Encryption at rest and the
    audit log are errors for a production-grade stack, warnings for the others; a missing OIDC
    provider, or one that differs from `oidcProviderArn`, is an error for every stack."""
    problems, warnings = Problems(settings.stack), []
    where = f"--name {word(cluster.name)} --region {word(settings.region)}"
    if not cluster.oidc_issuer_url or not cluster.oidc_provider_arn:
        problems.add(
            "clusterName",
            f"cluster {cluster.name!r} has no IAM OIDC provider in account {cluster.account}: the "
            "External Secrets Operator authenticates through it (IRSA)",
            f"eksctl utils associate-iam-oidc-provider --cluster {word(cluster.name)} --region "
            f"{word(settings.region)} --approve",
        )
    stated = settings.config.oidc_provider_arn
    if stated and cluster.oidc_provider_arn and stated != cluster.oidc_provider_arn:
        problems.add(
            "oidcProviderArn",
            f"is {stated}, but cluster {cluster.name!r} trusts {cluster.oidc_provider_arn} (the "
            "program derives it from the cluster: leave it out)",
            problems.rm_cmd(("oidcProviderArn",)),
        )
    graded: list[tuple[str, str]] = []
    if not cluster.encrypted_at_rest:
        major, minor = minor_version(cluster.version)
        graded.append(
            (
                f"cluster {cluster.name!r} runs Kubernetes {cluster.version}: EKS envelope-encrypts "
                "Kubernetes API data (the synced Secrets included) by default only from 1.28 (EKS "
                "upgrades one minor version at a time: repeat up to 1.28)",
                f"aws eks update-cluster-version {where} --kubernetes-version {major}.{minor + 1}",
            )
        )
    elif minor_version(cluster.version) < ADMISSION_POLICIES:
        major, minor = minor_version(cluster.version)
        graded.append(
            (
                f"cluster {cluster.name!r} runs Kubernetes {cluster.version}: the admission policy that "
                "keeps the External Secrets Operator's ServiceAccount to the operator "
                "(admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy) is served only from "
                f"{'.'.join(map(str, ADMISSION_POLICIES))}, so it is not declared (repeat up to it)",
                f"aws eks update-cluster-version {where} --kubernetes-version {major}.{minor + 1}",
            )
        )
    if not cluster.audited:
        logging = json.dumps({"clusterLogging": [{"types": [AUDIT_LOG], "enabled": True}]})
        graded.append(
            (
                f"cluster {cluster.name!r} has the {AUDIT_LOG} log off: nothing records who reads "
                "the synced Secrets inside the cluster, and no alarm on such a read is declared (it "
                f"reads the log group EKS writes, {audit_log_group(cluster.name)})",
                f"aws eks update-cluster-config {where} --logging {word(logging)}",
            )
        )
    for problem, fix in graded:
        if settings.config.grade == PRODUCTION:
            problems.add("clusterName", problem + " (required of a production-grade stack)", fix)
        else:
            warnings.append(f"{problem}; fix: {fix}")
    return problems, warnings


def kubeconfig(cluster: Cluster, region: str) -> str:
    """A kubeconfig for the cluster alone, authenticating with `aws eks get-token` as pulumi-eks
    does (pulumi/pulumi-eks `nodejs/eks/cluster.ts`, generateKubeconfig): no token is stored, and
    the text is the same on every run, so the provider sees no change (pulumi/pulumi-kubernetes
    `provider/pkg/provider/provider.go`, DiffConfig, replaces only when the active cluster changes)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster.name,
                    "cluster": {
                        "server": cluster.endpoint,
                        "certificate-authority-data": cluster.certificate_authority,
                    },
                }
            ],
            "contexts": [{"name": cluster.name, "context": {"cluster": cluster.name, "user": "aws"}}],
            "current-context": cluster.name,
            "users": [
                {
                    "name": "aws",
                    "user": {
                        "exec": {
                            "apiVersion": EXEC_API_VERSION,
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", cluster.name, "--region", region],
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )


def lookup_cluster(settings: Settings) -> Cluster:
    """Look the stack's cluster up and check it; raise ConfigError (nothing declared) on an error,
    log each warning."""
    name, stack = settings.config.cluster_name, settings.stack
    try:
        cluster = cluster_from(aws.eks.get_cluster(name=name))
    except Exception as error:  # the provider's own words follow ours
        raise ConfigError(
            f"cannot look up the cluster of stack '{stack}' (nothing was declared):\n"
            f"  - clusterName: no EKS cluster {name!r} in {settings.region} for these credentials ({error}); "
            "set it to one that `aws eks list-clusters` lists\n"
            f"      fix: aws eks list-clusters --region {word(settings.region)} && "
            f"{Commands(stack).set(('clusterName',), '<cluster>')}"
        ) from None
    if cluster.oidc_issuer_url:
        try:
            provider = aws.iam.get_open_id_connect_provider(url=cluster.oidc_issuer_url)
            cluster = replace(cluster, oidc_provider_arn=provider.arn)
        except Exception:  # none for this issuer: check_cluster names the fix
            pass
    problems, warnings = check_cluster(settings, cluster)
    problems.raise_if_any(f"cluster {cluster.name!r} refused for stack '{stack}' (nothing was declared):")
    for warning in warnings:
        pulumi.log.warn(warning)
    return cluster
