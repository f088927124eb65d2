"""Every declared object holds against references no one here wrote.

Kubernetes objects: kubernetes-validate in strict mode (unknown fields are errors). External
Secrets objects: the operator's own v1 CRDs, with unknown fields rejected, because the API server
prunes them silently and a misspelt field would simply vanish.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest

from ai_etl.offline.records import Run
from tests.crds import RELEASE, SHA256, URL, CrdError, crd_dir, holds_release
from tests.helpers import (
    ESO_GROUP,
    KUBERNETES_VERSION,
    backend_manifest,
    copy_project,
    eso_errors,
    manifests,
)
from tests.paths import PROJECT_DIR

CRD_FILES = ("ExternalSecret", "SecretStore")


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
    deployment = copy.deepcopy(backend_manifest(stack_run, "Deployment"))
    deployment["spec"]["template"]["spec"]["serviceAcountName"] = "typo"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("kind", CRD_FILES)
def test_external_secrets_objects_match_the_operator_crds(
    stack_run: Run, schemas_dir: Path, kind: str
) -> None:
    """SecretStore and every ExternalSecret (the workloads' and the rotation steps', whose
    `remoteRef.property` picks a verifier out of a JSON value) are valid external-secrets.io/v1
    objects, no unknown field."""
    objects = [m for m in manifests(stack_run) if m["kind"] == kind]
    assert objects
    for obj in objects:
        assert obj["apiVersion"] == f"{ESO_GROUP}/v1"
        assert eso_errors(schemas_dir, obj) == []


def test_crd_check_rejects_unknown_and_misplaced_fields(stack_run: Run, schemas_dir: Path) -> None:
    """The CRD check is live: a field the operator does not know is reported, not pruned."""
    obj = copy.deepcopy(backend_manifest(stack_run, "ExternalSecret"))
    obj["spec"]["data"][0]["remoteRef"]["versionId"] = "x"
    obj["spec"]["target"]["creationPolicy"] = "Owned"
    errors = eso_errors(schemas_dir, obj)
    assert any("versionId" in e for e in errors)
    assert any("creationPolicy" in e or "Owned" in e for e in errors)


def test_without_shared_the_crds_are_the_pinned_release_verified(tmp_path: Path, schemas_dir: Path) -> None:
    """A clone with no ../shared beside it gets the same CRDs: downloaded once from the pinned
    release into the cache, each held to its SHA-256, and not downloaded again."""
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return (schemas_dir / url.rsplit("/", 1)[-1]).read_bytes()

    cache = tmp_path / "cache"
    assert crd_dir(tmp_path / "no-shared", cache, fetch) == cache
    assert len(fetched) == len(SHA256) and all(f"/{RELEASE}/config/crds/bases/" in u for u in fetched)
    assert holds_release(cache)
    assert crd_dir(tmp_path / "no-shared", cache, fetch) == cache and len(fetched) == len(SHA256)


def test_a_download_that_is_not_the_release_is_refused(tmp_path: Path) -> None:
    """A changed or cut file is an error naming it, and nothing of it is kept."""
    with pytest.raises(CrdError, match="not the release's"):
        crd_dir(tmp_path / "no-shared", tmp_path / "cache", lambda url: b"kind: Something")
    assert not any((tmp_path / "cache").iterdir())


def test_an_unreachable_release_says_how_to_get_it(tmp_path: Path) -> None:
    """Offline, the error says what failed, that the network is needed once, and which files of
    the release to copy by hand, and where."""

    def offline(url: str) -> bytes:
        raise OSError("network is unreachable")

    with pytest.raises(CrdError) as raised:
        crd_dir(tmp_path / "no-shared", tmp_path / "cache", offline)
    message = str(raised.value)
    assert "network is unreachable" in message and "needed once" in message
    assert f"{tmp_path / 'cache'}/" in message
    assert all(URL.format(release=RELEASE, name=name) in message for name in SHA256)


def test_make_schemas_without_network_gives_one_clear_message(tmp_path: Path) -> None:
    """`make schemas` on a clone with no ../shared, the network unreachable (every request sent to
    a proxy on a closed port): one message on stderr with what failed and the way out, exit 1, and
    no traceback."""
    recipe = re.search(r"^schemas: setup\n\t\$\(PY\) (.+)$", (PROJECT_DIR / "Makefile").read_text(), re.M)
    assert recipe and recipe[1] == "-m tests.crds"
    project = copy_project(tmp_path / "project")
    (tmp_path / "shared").unlink(missing_ok=True)
    shutil.rmtree(project / ".cache", ignore_errors=True)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "https_proxy", "http_proxy")}
    env |= {"https_proxy": closed, "HTTPS_PROXY": closed}
    result = subprocess.run(
        [sys.executable, *recipe[1].split()],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("make schemas: cannot download the External Secrets CRDs of release ")
    assert "needed once" in result.stderr and "refused" in result.stderr.lower()
    assert f"{project / '.cache' / f'external-secrets-{RELEASE}'}/" in result.stderr
    assert not any((project / ".cache" / f"external-secrets-{RELEASE}").iterdir())
