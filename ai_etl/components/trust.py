"""The CA bundle that TLS to an AWS-managed database is verified against, and the ConfigMap that
carries it to the pods that connect (the rotation step, the backend): pure builders.

Why a ConfigMap the program declares, not a file in the step's image: both the step (libpq) and the
backend (asyncpg) verify the server, and both images are the team's own; one committed, reviewed
bundle, pinned by its digest here, reaches both without rebuilding either, and is never downloaded
at render time. The file is AWS's published RDS bundle (`global-bundle.pem`, every region's root and
intermediate CA, public certificates only; the RDS User Guide, UsingWithRDS.SSL); updating it is a
commit that changes the file and BUNDLE_SHA256 together, which `python -m ai_etl.ops.rdsbundle` writes
(docs/configuration.md, "The RDS CA bundle"). The committed copy is AWS's bundle as of mid-2023 (from
a public repository, matched by a second copy); regions added since (mx-central-1, ap-southeast-5,
...) are refused at preview until it is updated (ai_etl/config/databases.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import pulumi

BUNDLE_FILE = Path(__file__).with_name("data") / "rds-global-bundle.pem"
BUNDLE_SHA256 = "2c151768edd48e9ef6719de74fdcbdebe290d1e87bc02ce9014ea6eea557d2a0"
"""The committed bundle's digest: the program refuses to declare a bundle that is not this one."""
BUNDLE_KEY = "rds-ca-bundle.pem"
"""Its key in the ConfigMap, and its file name where the pods mount it."""
MOUNT_PATH = "/etc/ai-etl/rds-ca"
ROOT_CERT = f"{MOUNT_PATH}/{BUNDLE_KEY}"
"""Where a pod finds it: PGSSLROOTCERT, which libpq (the step's psql) and asyncpg (the backend) both
read (PostgreSQL docs, libpq-envars; MagicStack/asyncpg asyncpg/connect_utils.py,
_parse_connect_dsn_and_args)."""
ROOT_CERT_ENV = "PGSSLROOTCERT"
VOLUME = "rds-ca"


class BundleChangedError(RuntimeError):
    """The committed bundle is not the one BUNDLE_SHA256 names."""


@cache
def rds_ca_bundle() -> str:
    """The committed RDS CA bundle's text, checked against BUNDLE_SHA256."""
    data = BUNDLE_FILE.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != BUNDLE_SHA256:
        raise BundleChangedError(
            f"{BUNDLE_FILE.name} has sha256 {digest}, not {BUNDLE_SHA256} (ai_etl/components/trust.py): "
            "replace it with AWS's published bundle and update BUNDLE_SHA256 in the same commit"
        )
    return data.decode("ascii")


def config_map_manifest(name: str, namespace: pulumi.Input[str], labels: Mapping[str, str]) -> dict:
    """The ConfigMap holding the bundle, immutable: a new bundle is a new ConfigMap (its name carries
    the digest), so no pod ever reads half of an update."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "immutable": True,
        "data": {BUNDLE_KEY: rds_ca_bundle()},
    }


def config_map_name(base: str) -> str:
    """`<base>-<first 10 hex of the digest>`: a changed bundle replaces the ConfigMap (create, then
    delete the old one, after the pods moved to the new one)."""
    return f"{base}-{BUNDLE_SHA256[:10]}"


def volume(config_map: pulumi.Input[str]) -> dict:
    """The pod's volume of the bundle's ConfigMap."""
    return {
        "name": VOLUME,
        "configMap": {"name": config_map, "items": [{"key": BUNDLE_KEY, "path": BUNDLE_KEY}]},
    }


def volume_mount() -> dict:
    """The container's read-only mount of the bundle at MOUNT_PATH."""
    return {"name": VOLUME, "mountPath": MOUNT_PATH, "readOnly": True}
