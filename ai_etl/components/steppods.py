"""Pure builders of a rotation step's pods (ai_etl/components/rotationstep.py wraps them): the
script each kind of server runs, its environment, the Job and its NetworkPolicy. Why the Job is
shaped so (awaited, replaced when not ready, never deleted by a TTL): rotationstep.py."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from ai_etl.components import serverauth, trust
from ai_etl.components.pods import CONTAINER_SECURITY, POD_SECURITY, SCAN_EXCEPTIONS

REPLACE_UNREADY = {"pulumi.com/replaceUnready": "true"}
DEADLINE_SECONDS = 300
"""The step's pods give up after 5 minutes (a server that does not answer), before Pulumi's own
10-minute await of the Job would."""
BACKOFF_LIMIT = 1
"""One retry inside the Job (a server restarting); a second failure fails the Job, and `pulumi up`."""


def step_scripts() -> dict[str, str]:
    """The script each kind of server's step runs: serverauth's own text, never a copy."""
    return {"postgres": serverauth.POSTGRES_STEP, "redis": serverauth.REDIS_STEP}


def step_env(
    server: str,
    *,
    host: str,
    port: int,
    admin_user: str | None,
    roles: tuple[str, str],
    group: str,
    database: str | None = None,
    root_cert: str | None = None,
) -> dict[str, str]:
    """The step's plain environment (serverauth.STEP_ENV's names): where the server is, who logs
    in (None: the admin's name comes with its password, from a managed secret), the roles it sets,
    and, for a managed server, the CA bundle libpq verifies it against (`sslmode=verify-full`: TLS
    required, the certificate signed by the bundle and naming the host; PostgreSQL docs,
    libpq-ssl). Its secrets (admin password, verifiers) come by secretKeyRef."""
    env = serverauth.STEP_ENV
    if server == "postgres":
        admin = {env.pg_admin_user: admin_user} if admin_user is not None else {}
        tls = {env.pg_sslmode: serverauth.VERIFY_FULL, env.pg_sslrootcert: root_cert} if root_cert else {}
        return {
            env.pg_host: host,
            env.pg_port: str(port),
            env.pg_database: str(database),
            **admin,
            env.pg_group: group,
            **dict(zip(env.pg_roles, roles, strict=True)),
            **tls,
        }
    return {
        env.redis_host: host,
        env.redis_port: str(port),
        env.redis_admin_user: str(admin_user),
        **dict(zip(env.redis_users, roles, strict=True)),
    }


def admin_password_env(server: str) -> str:
    """The env var the step reads its administrator's password from."""
    env = serverauth.STEP_ENV
    return env.pg_admin_password if server == "postgres" else env.redis_admin_password


MASTER_SECRET_PROPERTIES = ("username", "password")
"""The JSON keys of the master user secret RDS manages (the RDS User Guide, rds-secrets-manager: the
secret holds the master user's credentials as `username` and `password`)."""


def admin_properties(server: str) -> dict[str, str]:
    """For an administrator from RDS's master user secret: the step's env var of each of its
    properties (its Secret takes them by the operator's `remoteRef.property`)."""
    if server != "postgres":
        raise ValueError(
            f"only Postgres's administrator can come from RDS's master user secret, not {server}'s"
        )
    env = serverauth.STEP_ENV
    return dict(zip((env.pg_admin_user, env.pg_admin_password), MASTER_SECRET_PROPERTIES, strict=True))


def job_manifest(
    *,
    name: str,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    pod_labels: Mapping[str, str],
    image: str,
    script: str,
    service_account: pulumi.Input[str],
    env: pulumi.Input[list[dict]],
    ca_bundle: pulumi.Input[str] | None = None,
) -> dict:
    """The step's Job: `bash -c <script>`, hardened as the backend's pods are (non-root, read-only
    root, no privilege, no API token), never restarted in place, given up after DEADLINE_SECONDS;
    with the CA bundle's ConfigMap `ca_bundle` mounted read-only, if given (trust.py)."""
    container = {
        "name": "step",
        "image": image,
        "imagePullPolicy": "Always",
        "command": ["bash", "-c", script],
        "env": env,
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "128Mi"},
        },
        "securityContext": dict(CONTAINER_SECURITY),
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            *([trust.volume_mount()] if ca_bundle else []),
        ],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": {**SCAN_EXCEPTIONS, **REPLACE_UNREADY},
        },
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "activeDeadlineSeconds": DEADLINE_SECONDS,
            "template": {
                "metadata": {"labels": dict(pod_labels)},
                "spec": {
                    "serviceAccountName": service_account,
                    "automountServiceAccountToken": False,
                    "restartPolicy": "Never",
                    "securityContext": dict(POD_SECURITY),
                    "containers": [container],
                    "volumes": [
                        {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
                        *([trust.volume(ca_bundle)] if ca_bundle else []),
                    ],
                },
            },
        },
    }


def network_policy_manifest(
    *,
    name: str,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    selector: Mapping[str, str],
    port: int,
) -> dict:
    """The step's pods: nothing in; out, DNS and the one server's port, nothing else."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "podSelector": {"matchLabels": dict(selector)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                {"ports": [{"protocol": "TCP", "port": port}]},
            ],
        },
    }
