"""What EKS guarantees by Kubernetes version and log type: one place for the program's cluster
check (ai_etl/config/cluster.py) and the policy rule that holds a stack to it (ai_etl/guardrails/rules.py)."""

from __future__ import annotations

import re

ENCRYPTED_BY_DEFAULT = (1, 28)
"""EKS envelope-encrypts all Kubernetes API data (Secrets included) with KMS by default from
Kubernetes 1.28 (EKS user guide, "Default envelope encryption for all Kubernetes API data")."""
AUDIT_LOG = "audit"
"""The control plane log type that records who read which Secret (EKS `enabledClusterLogTypes`)."""
ADMISSION_POLICIES = (1, 30)
"""ValidatingAdmissionPolicy is served as admissionregistration.k8s.io/v1 from Kubernetes 1.30, where
it went GA (kubernetes/kubernetes staging/src/k8s.io/api/admissionregistration/v1/types.go)."""


def minor_version(version: object) -> tuple[int, int]:
    """`1.31` (or `1.31.2`, `v1.31`) as (1, 31); (0, 0) when it is not a version."""
    match = re.match(r"v?(\d+)\.(\d+)", str(version or ""))
    return (int(match[1]), int(match[2])) if match else (0, 0)


def audit_log_group(cluster: str) -> str:
    """The CloudWatch Logs group EKS writes a cluster's control plane logs to, the audit log's stream
    (`kube-apiserver-audit-*`) among them (EKS user guide, "Send control plane logs to CloudWatch
    Logs": `/aws/eks/<cluster-name>/cluster`)."""
    return f"/aws/eks/{cluster}/cluster"
