"""The admission policy that keeps the External Secrets Operator's identity to the operator
(ai_etl/components/admission.py), evaluated as the API server would: its CEL expressions run in
cel-python (PyPI `cel-python`, a CEL implementation no one here wrote) against the program's own
objects and against the ways around it, and the objects hold against Kubernetes' schemas.

What the API server hands a ValidatingAdmissionPolicy's expressions: `object` (the object admitted)
and `request` (the admission request's attributes: `resource`, `subResource`, `name`, `namespace`,
`operation`, `userInfo`; kubernetes/kubernetes staging/src/k8s.io/api/admission/v1/types.go,
AdmissionRequest). A policy matches a request by its `matchConstraints.resourceRules` (group,
resource or `resource/subresource`, operation) and its binding's namespace selector; every
validation must be true, and one that cannot be evaluated refuses (`failurePolicy: Fail`), so an
expression that errs on a legitimate object is a failure here too. The expressions use only
standard CEL (`has`, `all`, `==`, `!=`, `&&`, `||`), none of Kubernetes' extension libraries, so
nothing is left unevaluated.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import celpy
import kubernetes_validate
import pytest

from ai_etl import names
from ai_etl.components.admission import NAMESPACE_NAME_LABEL
from ai_etl.offline.records import Run
from tests.helpers import KUBERNETES_VERSION, PRODUCTION_GRADE, manifest, manifests

STACK = PRODUCTION_GRADE[0]
FIRST_VERSION = "1.30"
"""The first Kubernetes version that serves admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy."""
INTRUDER = "alice"
ESO = names.OPERATOR_USER


@cache
def _program(expression: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(expression))


def request(
    resource: str,
    operation: str = "CREATE",
    *,
    namespace: str,
    group: str = "",
    sub: str = "",
    name: str = "",
    user: str = INTRUDER,
) -> dict[str, Any]:
    """The admission request's attributes as CEL sees them (AdmissionRequest's JSON names)."""
    return {
        "resource": {"group": group, "version": "v1", "resource": resource},
        "subResource": sub,
        "name": name,
        "namespace": namespace,
        "operation": operation,
        "userInfo": {"username": user, "groups": ["system:authenticated"]},
    }


def matched(policy: dict[str, Any], req: dict[str, Any]) -> bool:
    """Whether the policy's resourceRules select the request (group, resource[/sub], operation)."""
    wanted = req["resource"]["resource"] + (f"/{req['subResource']}" if req["subResource"] else "")
    return any(
        req["resource"]["group"] in rule["apiGroups"]
        and wanted in rule["resources"]
        and req["operation"] in rule["operations"]
        for rule in policy["spec"]["matchConstraints"]["resourceRules"]
    )


def refusals(policy: dict[str, Any], req: dict[str, Any], obj: dict[str, Any] | None) -> list[str]:
    """The messages of the validations that refuse the request ("error: ..." for one that cannot be
    evaluated, which refuses too); [] when it is admitted or not matched at all."""
    if not matched(policy, req):
        return []
    activation = {"request": celpy.json_to_cel(req), "object": celpy.json_to_cel(obj or {})}
    refused = []
    for validation in policy["spec"]["validations"]:
        try:
            result = _program(validation["expression"]).evaluate(activation)
        except celpy.CELEvalError as error:
            result = error
        if isinstance(result, celpy.CELEvalError):
            refused.append(f"error: {result}")
        elif result is not True and result != celpy.celtypes.BoolType(True):
            refused.append(validation["message"])
    return refused


@pytest.fixture(scope="module")
def run(stack_runs: dict[str, Run]) -> Run:
    return stack_runs[STACK]


def pod_of(workload: dict[str, Any]) -> dict[str, Any]:
    """The pod a Deployment's or Job's controller creates from its template."""
    template = workload["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": template["metadata"], "spec": template["spec"]}


def test_the_policy_and_binding_are_valid_kubernetes_objects_from_1_30(stack_run: Run) -> None:
    """Each stack declares one policy and its binding, named after its namespace (they are
    cluster-scoped: two stacks may share a cluster), valid in strict mode (no unknown field) from
    the first version that serves them to the version the suite deploys; strict mode is live on
    them (a misspelt field is caught). The binding selects the namespace by the label the API
    server sets to its name, and acts as the grade says: production denies, the others warn and
    annotate the audit log."""
    namespace = manifest(stack_run, "Namespace")["metadata"]["name"]
    policy = manifest(stack_run, "ValidatingAdmissionPolicy")
    binding = manifest(stack_run, "ValidatingAdmissionPolicyBinding")
    for obj in (policy, binding):
        assert obj["metadata"]["name"] == names.admission_policy(namespace)
        for version in (FIRST_VERSION, KUBERNETES_VERSION):
            kubernetes_validate.validate(obj, version, strict=True)
    typo = copy.deepcopy(binding)
    typo["spec"]["validationAction"] = typo["spec"].pop("validationActions")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, FIRST_VERSION, strict=True)
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["matchResources"] == {
        "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}
    }
    assert policy["spec"]["failurePolicy"] == "Fail"
    actions = binding["spec"]["validationActions"]
    assert actions == (["Deny"] if stack_run.stack in PRODUCTION_GRADE else ["Warn", "Audit"])


def test_no_pod_may_run_as_the_operators_service_account(run: Run) -> None:
    """A pod (created or updated) naming the SecretStore's ServiceAccount, by either field, is
    refused; the program's own pods (every workload's and rotation step's), and a pod that names no
    ServiceAccount, are admitted with no expression erring. Deleting a pod is not the policy's."""
    policy = manifest(run, "ValidatingAdmissionPolicy")
    namespace = manifest(run, "Namespace")["metadata"]["name"]
    own = [pod_of(m) for m in manifests(run) if m["kind"] in ("Deployment", "Job")]
    assert len(own) >= 3
    for pod in own:
        for operation in ("CREATE", "UPDATE"):
            assert refusals(policy, request("pods", operation, namespace=namespace), pod) == []
    bare = copy.deepcopy(own[0])
    bare["spec"].pop("serviceAccountName")
    assert refusals(policy, request("pods", namespace=namespace), bare) == []
    sa = names.OPERATOR_SERVICE_ACCOUNT
    for field in ("serviceAccountName", "serviceAccount"):
        pod = copy.deepcopy(bare)
        pod["spec"][field] = sa
        for operation in ("CREATE", "UPDATE"):
            (refused,) = refusals(policy, request("pods", operation, namespace=namespace), pod)
            assert f"no pod may run as {sa}" in refused
        assert refusals(policy, request("pods", "DELETE", namespace=namespace), pod) == []


def test_only_the_operator_may_request_a_token_of_its_service_account(run: Run) -> None:
    """`kubectl create token ai-etl-secret-store` (a create of serviceaccounts/token) is refused for
    anyone but the operator, a workload's ServiceAccount included; tokens of other ServiceAccounts
    are none of the policy's business."""
    policy = manifest(run, "ValidatingAdmissionPolicy")
    namespace = manifest(run, "Namespace")["metadata"]["name"]
    sa = names.OPERATOR_SERVICE_ACCOUNT
    token_request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}

    def token(name: str, user: str) -> list[str]:
        req = request("serviceaccounts", namespace=namespace, sub="token", name=name, user=user)
        return refusals(policy, req, token_request)

    assert token(sa, ESO) == []
    backend = names.service_account_user(namespace, names.workload("backend"))
    for user in (INTRUDER, backend):
        (refused,) = token(sa, user)
        assert f"only the External Secrets Operator ({ESO})" in refused
    assert token(names.workload("backend"), INTRUDER) == []


def test_the_operator_acts_through_the_programs_store_only(run: Run) -> None:
    """The program's SecretStore and every ExternalSecret it declares are admitted; the ways to have
    the operator act for someone else are refused: another store (even one reading AWS as the same
    ServiceAccount), the program's store turned into another provider or given a role to assume, an
    ExternalSecret naming another store, a ClusterSecretStore, or a generator or store per entry,
    and any PushSecret."""
    policy = manifest(run, "ValidatingAdmissionPolicy")
    namespace = manifest(run, "Namespace")["metadata"]["name"]
    store = manifest(run, "SecretStore")
    externals = [m for m in manifests(run) if m["kind"] == "ExternalSecret"]
    assert externals

    def check(resource: str, obj: dict[str, Any], operation: str = "CREATE") -> list[str]:
        req = request(resource, operation, namespace=namespace, group="external-secrets.io", user=ESO)
        return refusals(policy, req, obj)

    for operation in ("CREATE", "UPDATE"):
        assert check("secretstores", store, operation) == []
        assert all(check("externalsecrets", es, operation) == [] for es in externals)

    other = copy.deepcopy(store)
    other["metadata"]["name"] = "mine"
    webhook = copy.deepcopy(store)
    webhook["spec"]["provider"] = {"webhook": {"url": "https://example.invalid/{{ .remoteRef.key }}"}}
    chained = copy.deepcopy(store)
    chained["spec"]["provider"]["aws"]["role"] = "arn:aws:iam::111122223333:role/elsewhere"
    for bad in (other, webhook, chained):
        (refused,) = check("secretstores", bad)
        assert "the only SecretStore here is" in refused

    es = externals[0]
    elsewhere = copy.deepcopy(es)
    elsewhere["spec"]["secretStoreRef"]["name"] = "mine"
    cluster_store = copy.deepcopy(es)
    cluster_store["spec"]["secretStoreRef"]["kind"] = "ClusterSecretStore"
    per_entry = copy.deepcopy(es)
    per_entry["spec"]["data"][0]["sourceRef"] = {"storeRef": {"name": "mine", "kind": "SecretStore"}}
    generated = copy.deepcopy(es)
    generated["spec"]["dataFrom"] = [
        {"sourceRef": {"generatorRef": {"apiVersion": "generators.external-secrets.io/v1alpha1",
                                        "kind": "Webhook", "name": "mine"}}}
    ]  # fmt: skip
    for bad in (elsewhere, cluster_store, per_entry, generated):
        (refused,) = check("externalsecrets", bad)
        assert "reads through the SecretStore" in refused
    push = {"apiVersion": "external-secrets.io/v1alpha1", "kind": "PushSecret", "spec": {}}
    (refused,) = check("pushsecrets", push)
    assert "no PushSecret here" in refused
