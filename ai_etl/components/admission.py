"""A ValidatingAdmissionPolicy and its binding that keep the External Secrets Operator's identity in
the environment's namespace to the operator: no pod may run as the SecretStore's ServiceAccount, no
one else may request its token, and no External Secrets object may make the operator act for anyone.

Why each rule: the SecretStore's ServiceAccount lives in the environment's namespace, and its
token is all the operator's IAM role trusts (ai_etl/components/secretstore.py, trust_policy). Anyone
who may create pods there could start one as that ServiceAccount, whose projected token then assumes
the role; anyone who may create `serviceaccounts/token` there could ask for one (`kubectl create
token`); anyone who may create External Secrets objects there could have the operator itself act
for them, silently: another SecretStore with this ServiceAccount, an ExternalSecret naming another
store or a generator, a store whose provider sends the namespace's Secrets out (`webhook`), or a
PushSecret. The operator never runs a pod as this ServiceAccount: it runs in its own namespace and
asks the API server for a token (external-secrets/external-secrets
providers/v1/aws/auth/token_fetcher.go, CreateToken), so "the operator's own pods" are not in this
namespace and need no exception; a ServiceAccount is namespaced, so a pod elsewhere cannot name it.

The binding selects the namespace by `kubernetes.io/metadata.name`, a label the API server sets to
the namespace's name on every namespace and that no one can change (kubernetes/kubernetes
staging/src/k8s.io/api/core/v1/well_known_labels.go, LabelMetadataName). The CEL expressions use
nothing beyond standard CEL (`has`, `all`, comparisons), so the tests evaluate them as written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from ai_etl.components.labels import with_component
from ai_etl.components.outputs import name_of
from ai_etl.tokens import ADMISSION_COMPONENT

API_VERSION = "admissionregistration.k8s.io/v1"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
ESO_GROUP = "external-secrets.io"


@dataclass(frozen=True)
class Rule:
    """One validation: what it guards (a resource of a group), the CEL expression that must hold
    for it, and the message the refused client sees."""

    group: str
    resource: str
    operations: tuple[str, ...]
    expression: str
    message: str


def _cel(text: str) -> str:
    """A CEL string literal (JSON's double-quoted form is CEL's too)."""
    return json.dumps(text)


def rules(service_account: str, store_name: str, operator_user: str) -> tuple[Rule, ...]:
    """The policy's validations. Each holds trivially for any other resource (`request.resource`
    names the one being admitted), so one policy carries them all. The older `serviceAccount` field
    of a pod is checked too: the API server takes it when `serviceAccountName` is empty
    (kubernetes/kubernetes pkg/apis/core/v1/conversion.go, DeprecatedServiceAccount)."""
    sa, store, operator = _cel(service_account), _cel(store_name), _cel(operator_user)
    runs_as = (
        f"(has(object.spec.serviceAccountName) && object.spec.serviceAccountName == {sa}) || "
        f"(has(object.spec.serviceAccount) && object.spec.serviceAccount == {sa})"
    )
    aws_jwt = "object.spec.provider.aws.auth.jwt"
    own_store = (
        f"object.metadata.name == {store} && has(object.spec.provider.aws) && "
        f"has(object.spec.provider.aws.auth) && has({aws_jwt}) && has({aws_jwt}.serviceAccountRef) && "
        f"{aws_jwt}.serviceAccountRef.name == {sa} && !has(object.spec.provider.aws.role)"
    )
    own_refs = (
        f"has(object.spec.secretStoreRef) && object.spec.secretStoreRef.name == {store} && "
        "(!has(object.spec.secretStoreRef.kind) || object.spec.secretStoreRef.kind == 'SecretStore') && "
        "(!has(object.spec.data) || object.spec.data.all(d, !has(d.sourceRef))) && "
        "(!has(object.spec.dataFrom) || object.spec.dataFrom.all(d, !has(d.sourceRef)))"
    )
    return (
        Rule(
            "",
            "pods",
            ("CREATE", "UPDATE"),
            f"request.resource.resource != 'pods' || !({runs_as})",
            f"no pod may run as {service_account}: its token assumes the External Secrets Operator's "
            "role (the operator asks for it by token request; no pod of its own runs here)",
        ),
        Rule(
            "",
            "serviceaccounts/token",
            ("CREATE",),
            f"request.resource.resource != 'serviceaccounts' || request.name != {sa} || "
            f"request.userInfo.username == {operator}",
            f"only the External Secrets Operator ({operator_user}) may request a token of {service_account}",
        ),
        Rule(
            ESO_GROUP,
            "secretstores",
            ("CREATE", "UPDATE"),
            f"request.resource.resource != 'secretstores' || ({own_store})",
            f"the only SecretStore here is {store_name}, reading AWS Secrets Manager as {service_account} "
            "with no role of its own: the operator would act for any other",
        ),
        Rule(
            ESO_GROUP,
            "externalsecrets",
            ("CREATE", "UPDATE"),
            f"request.resource.resource != 'externalsecrets' || ({own_refs})",
            f"an ExternalSecret here reads through the SecretStore {store_name} only (no other store, "
            "ClusterSecretStore or generator)",
        ),
        Rule(
            ESO_GROUP,
            "pushsecrets",
            ("CREATE", "UPDATE"),
            "request.resource.resource != 'pushsecrets'",
            "no PushSecret here: it would have the operator send this namespace's Secrets elsewhere",
        ),
    )


def policy_manifest(name: str, guarded: Sequence[Rule], labels: Mapping[str, str]) -> dict:
    """The ValidatingAdmissionPolicy: every rule's resource matched, every expression validated;
    an expression that cannot be evaluated refuses the request (`failurePolicy: Fail`)."""
    by_group: dict[str, dict[tuple[str, ...], list[str]]] = {}
    for rule in guarded:
        by_group.setdefault(rule.group, {}).setdefault(rule.operations, []).append(rule.resource)
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [group],
                        "apiVersions": ["*"],
                        "operations": list(operations),
                        "resources": resources,
                    }
                    for group, by_operations in by_group.items()
                    for operations, resources in by_operations.items()
                ]
            },
            "validations": [{"expression": r.expression, "message": r.message} for r in guarded],
        },
    }


def binding_manifest(name: str, namespace: str, actions: Sequence[str], labels: Mapping[str, str]) -> dict:
    """The binding: the policy, in the environment's namespace only, with the grade's actions."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "policyName": name,
            "validationActions": list(actions),
            "matchResources": {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}},
        },
    }


@dataclass(frozen=True)
class AdmissionArgs:
    name: str
    """The policy's and binding's name (cluster-scoped: `<namespace>-operator-identity`)."""
    namespace: pulumi.Input[str]
    """The namespace guarded: the environment's."""
    service_account: str
    """The SecretStore's ServiceAccount, which the operator's IAM role trusts."""
    store_name: str
    operator_user: str
    """The user the operator acts as (`system:serviceaccount:<its namespace>:<its account>`)."""
    actions: Sequence[str]
    """What a refusal does (`Deny`; or `Warn` and `Audit`)."""
    labels: Mapping[str, str]


class Admission(pulumi.ComponentResource):
    """The ValidatingAdmissionPolicy and its binding for one namespace."""

    policy_name: pulumi.Output[str]
    """The policy's name (and its binding's)."""

    def __init__(self, name: str, args: AdmissionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ADMISSION_COMPONENT, name, None, opts)
        labels = with_component(args.labels, "admission")
        guarded = rules(args.service_account, args.store_name, args.operator_user)
        policy = policy_manifest(args.name, guarded, labels)
        made = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            f"{name}-policy",
            metadata=policy["metadata"],
            spec=policy["spec"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The binding waits for the namespace (its selector names it) and for the policy it binds.
        binding = pulumi.Output.from_input(args.namespace).apply(
            lambda namespace: binding_manifest(args.name, namespace, args.actions, labels)
        )
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{name}-binding",
            metadata=binding.apply(lambda b: b["metadata"]),
            spec=binding.apply(lambda b: b["spec"]),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[made]),
        )
        self.policy_name = name_of(made)
        self.register_outputs({"policy_name": self.policy_name})
