"""Every declared object holds against references no one here wrote.

Kubernetes objects: kubernetes-validate in strict mode (unknown fields are errors). External
Secrets objects: the operator's own v1 CRDs, with unknown fields rejected, because the API server
prunes them silently and a misspelt field would simply vanish.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from offline.engine import Run
from tests.helpers import manifest, manifests

KUBERNETES_VERSION = "1.33"
ESO_GROUP = "external-secrets.io"
CRD_FILES = {"ExternalSecret": "externalsecrets", "SecretStore": "secretstores"}


def _closed(schema: Any) -> Any:
    """An OpenAPI v3 structural schema as JSON Schema that rejects unknown fields."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _closed(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if (
        schema.get("type") == "object"
        and "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_schema(schemas_dir: Path, kind: str) -> dict:
    crd = yaml.safe_load((schemas_dir / f"{ESO_GROUP}_{CRD_FILES[kind]}.yaml").read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    assert version["served"], "the program must use a version the operator serves"
    return _closed(version["schema"]["openAPIV3Schema"])


def eso_errors(schemas_dir: Path, obj: dict) -> list[str]:
    """Problems of an External Secrets object: against its CRD, and its metadata against ObjectMeta."""
    validator = jsonschema.Draft7Validator(crd_schema(schemas_dir, obj["kind"]))
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(obj)]
    # The CRD types metadata as a bare object; the API server holds it to ObjectMeta.
    probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]}
    try:
        kubernetes_validate.validate(probe, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        errors.append(f"metadata: {e.message}")
    return errors


def test_kubernetes_objects_validate_strictly(stack_run: Run) -> None:
    """Every built-in Kubernetes object is exactly what the API server accepts, no unknown field."""
    objects = [m for m in manifests(stack_run) if not m["apiVersion"].startswith(ESO_GROUP)]
    assert {m["kind"] for m in objects} >= {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Deployment",
    }
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_strict_kubernetes_validation_rejects_an_unknown_field(stack_run: Run) -> None:
    """The strict check is live: a misspelt Deployment field is caught."""
    deployment = copy.deepcopy(manifest(stack_run, "Deployment"))
    deployment["spec"]["template"]["spec"]["serviceAcountName"] = "typo"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("kind", sorted(CRD_FILES))
def test_external_secrets_objects_match_the_operator_crds(
    stack_run: Run, schemas_dir: Path, kind: str
) -> None:
    """SecretStore and ExternalSecret are valid external-secrets.io/v1 objects, no unknown field."""
    obj = manifest(stack_run, kind)
    assert obj["apiVersion"] == f"{ESO_GROUP}/v1"
    assert eso_errors(schemas_dir, obj) == []


def test_crd_check_rejects_unknown_and_misplaced_fields(stack_run: Run, schemas_dir: Path) -> None:
    """The CRD check is live: a field the operator does not know is reported, not pruned."""
    obj = copy.deepcopy(manifest(stack_run, "ExternalSecret"))
    obj["spec"]["data"][0]["remoteRef"]["versionId"] = "x"
    obj["spec"]["target"]["creationPolicy"] = "Owned"
    errors = eso_errors(schemas_dir, obj)
    assert any("versionId" in e for e in errors)
    assert any("creationPolicy" in e or "Owned" in e for e in errors)
