"""The floor: the program's resources registered raw through the same SDK classes.

Reads the registrations `worker.py record` saved (path in AI_ETL_BENCH_FLOOR) and declares each
with plain values, its parent and its dependencies, and nothing else.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

# The SDK classes the program declares, by type token; the floor registers through them too.
SDK_CLASSES: dict[str, Any] = {
    "aws:kms/key:Key": aws.kms.Key,
    "aws:kms/alias:Alias": aws.kms.Alias,
    "aws:secretsmanager/secret:Secret": aws.secretsmanager.Secret,
    "aws:secretsmanager/secretVersion:SecretVersion": aws.secretsmanager.SecretVersion,
    "aws:iam/role:Role": aws.iam.Role,
    "aws:iam/rolePolicy:RolePolicy": aws.iam.RolePolicy,
    "random:index/randomPassword:RandomPassword": random.RandomPassword,
    "kubernetes:core/v1:Namespace": k8s.core.v1.Namespace,
    "kubernetes:core/v1:ServiceAccount": k8s.core.v1.ServiceAccount,
    "kubernetes:rbac.authorization.k8s.io/v1:Role": k8s.rbac.v1.Role,
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": k8s.rbac.v1.RoleBinding,
    "kubernetes:apps/v1:Deployment": k8s.apps.v1.Deployment,
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": k8s.networking.v1.NetworkPolicy,
}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def sdk_resource(
    token: str, name: str, inputs: dict[str, Any], opts: pulumi.ResourceOptions
) -> pulumi.Resource:
    """The resource through its SDK class, from the inputs the program sent (camelCase)."""
    if token.startswith("kubernetes:external-secrets.io/"):
        return k8s.apiextensions.CustomResource(
            name, api_version=inputs["apiVersion"], kind=inputs["kind"],
            metadata=inputs["metadata"], spec=inputs["spec"], opts=opts,
        )  # fmt: skip
    kwargs = {_CAMEL.sub("_", k).lower(): v for k, v in inputs.items() if k not in ("apiVersion", "kind")}
    return SDK_CLASSES[token](name, opts=opts, **kwargs)


def declare_all(resources: list[dict[str, Any]]) -> None:
    made: dict[str, pulumi.Resource] = {}
    for r in resources:
        depends_on = [made[d] for d in r["dependencies"] if d in made]
        opts = pulumi.ResourceOptions(parent=made.get(r["parent"]), depends_on=depends_on)
        if r["custom"]:
            made[r["urn"]] = sdk_resource(r["type"], r["name"], r["inputs"], opts)
        else:
            made[r["urn"]] = pulumi.ComponentResource(r["type"], r["name"], None, opts)


if __name__ == "__main__":
    declare_all(json.loads(Path(os.environ["AI_ETL_BENCH_FLOOR"]).read_text()))
