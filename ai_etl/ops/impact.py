"""What each change does to a running environment, found by the program itself: every setting and
every secret's rotation is made once on the dev stack (standard grade, where each may change alone),
rendered offline and diffed against the unchanged stack. `make docs` writes the table into
docs/configuration.md; a test keeps it true.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from pydantic import BaseModel

from ai_etl.catalogue import CATALOGUE, CONSUMERS, Source, of_source
from ai_etl.config.settings import DatabaseSettings, RedisSettings, StackConfig, WorkloadSettings
from ai_etl.grade import PRODUCTION, RECOVERY_WINDOW_FOR
from ai_etl.names import PROJECT
from ai_etl.offline.diff import Change, diff
from ai_etl.offline.render import resource_record
from ai_etl.offline.runner import run_program
from ai_etl.offline.stackconfig import load_project, load_stack_config, program_of
from ai_etl.ops.diff import RotatedCredential, ServerMove, moved_servers, rotated_credentials

STACK = "dev"  # standard grade, where every setting may change alone
RDS_HOST = "ai-etl-dev.c0example0.us-east-1.rds.amazonaws.com"
MASTER = (
    "arn:aws:secretsmanager:us-east-1:111111111111:secret:rds!db-00000000-0000-0000-0000-000000000000-AbCdEf"
)
# A different valid value for every setting: a new setting needs one here (a test says so).
ALTERNATES: dict[str, Any] = {
    "namespace": "ai-etl-blue",
    "clusterName": "ai-etl-blue",
    # Stating the ARN the cluster's own lookup gives changes nothing (any other is refused).
    "oidcProviderArn": (
        "arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/"
        "EB7950D320E1321AD587D5A99223E088"
    ),
    "replicaRegion": "us-west-2",
    "auditEmail": "alerts@example.org",
    "auditEndpoint": "https://alerts.example.com/ai-etl",
    "auditExpectedReaders": ["arn:aws:iam::111111111111:role/ci-deploy"],
    "auditBus": "arn:aws:events:us-east-1:333333333333:event-bus/security-audit",
    "auditTrail": "declare",
    "qwenApiBase": "https://api.example.com/v1",
    "passwordLength": 64,
    "recoveryWindowInDays": 14,
    "protect": True,
    "takeover": True,
    # Production grade requires protection, 30 days, a replica region and a trail: the row shows them
    # together (an existing trail, looked up: only what watches it changes).
    "grade": {
        "grade": PRODUCTION,
        "protect": True,
        "recoveryWindowInDays": RECOVERY_WINDOW_FOR[PRODUCTION],
        "replicaRegion": "us-west-2",
        "auditTrail": "account-trail",
    },
    "database.host": "db.internal",
    "database.port": 5433,
    "database.name": "ai_etl_2",
    "database.user": "ai_etl_2",
    "database.adminUser": "ai_etl_admin",
    # A managed kind needs its endpoint; RDS's master user secret (and its key) a managed kind.
    "database.kind": {"database.kind": "rds", "database.host": RDS_HOST},
    "database.masterSecretArn": {
        "database.kind": "rds",
        "database.host": RDS_HOST,
        "database.masterSecretArn": MASTER,
    },
    "database.masterSecretKmsKeyArn": {
        "database.kind": "rds",
        "database.host": RDS_HOST,
        "database.masterSecretArn": MASTER,
        "database.masterSecretKmsKeyArn": "arn:aws:kms:us-east-1:111111111111:key/" + "0" * 8,
    },
    "redis.host": "cache.internal",
    "redis.port": 6380,
    "redis.db": 1,
    "redis.user": "ai_etl_2",
    "redis.adminUser": "ai_etl_admin",
    # ElastiCache's keys apply with its kind: each row moves the dev stack there, as one stack would.
    "redis.kind": (
        ELASTICACHE_MOVE := {
            "redis.kind": "elasticache",
            "redis.replicationGroupId": "ai-etl-dev",
            "redis.userGroupId": "ai-etl-dev-users",
            "redis.host": "master.ai-etl-dev.example.use1.cache.amazonaws.com",
        }
    ),
    "redis.replicationGroupId": ELASTICACHE_MOVE,  # one row: the same change (impacts() says it once)
    "redis.userGroupId": ELASTICACHE_MOVE,
    "redis.engine": ELASTICACHE_MOVE,
    "redis.tls": False,  # in the cluster, as the dev stack's Redis is: no TLS, nothing changes
    "stepImage": "registry.example.com/ai-etl-step:1.0.1@sha256:" + "1" * 64,
}
# Every workload's settings (the catalogue's CONSUMERS), each changed alone like the others.
WORKLOAD_ALTERNATES: dict[str, Any] = {
    "image": "registry.example.com/ai-etl-{name}:1.0.1@sha256:" + "1" * 64,
    "replicas": 3,  # neither the default (2) nor the dev stack's backend (1)
    "port": 8080,
    "livenessPath": "/livez",
    "readinessPath": "/readyz",
    "cpuRequest": "200m",
    "memoryRequest": "512Mi",
    "cpuLimit": "3",
    "memoryLimit": "2Gi",
}
ALTERNATES |= {
    f"{c.name}.{field}": value.format(name=c.name) if isinstance(value, str) else value
    for c in CONSUMERS
    for field, value in WORKLOAD_ALTERNATES.items()
}
NESTED: dict[str, type[BaseModel]] = {
    "database": DatabaseSettings,
    "redis": RedisSettings,
    **{c.name: WorkloadSettings for c in CONSUMERS},
}


@dataclass(frozen=True)
class Impact:
    """One change and what it does."""

    change: str
    changes: list[Change]
    rotated: list[RotatedCredential]
    moves: list[ServerMove]


def settings_keys() -> list[str]:
    """Every setting a stack can change, as `key` or `object.field`."""
    keys = [str(f.alias) for n, f in StackConfig.model_fields.items() if f.alias not in (*NESTED, "rotation")]
    for name, model in NESTED.items():
        keys += [f"{name}.{f.alias}" for f in model.model_fields.values()]
    return keys


def _set(config: dict[str, Any], key: str, value: Any) -> None:
    root, _, field = key.partition(".")
    full = f"{PROJECT}:{root}"
    if field:
        config[full] = {**(config.get(full) or {}), field: value}
    else:
        config[full] = value


def _set_config(config: dict[str, Any], secrets: dict[str, str], *, values: dict[str, Any]) -> None:
    for key, value in values.items():
        _set(config, key, value)


def _set_secret(config: dict[str, Any], secrets: dict[str, str], *, key: str) -> None:
    secrets[key] = "placeholder-new-value"


def _records(config: dict[str, Any], secrets: dict[str, str]) -> list[dict[str, Any]]:
    run = run_program(STACK, config, secrets, program=program_of(), project=load_project())
    return [resource_record(r) for r in run.resources]


def impacts() -> list[Impact]:
    """Each change, made alone on the STACK stack, diffed against that stack as it is."""
    config = load_stack_config(STACK)
    secrets = {f"{PROJECT}:{s.config_key}": f"placeholder-{s.key}" for s in of_source(Source.PROVIDED)}
    base = _records(config, secrets)
    changes: list[tuple[str, Callable[[dict[str, Any], dict[str, str]], None]]] = []
    for key in settings_keys():
        together = ALTERNATES[key] if isinstance(ALTERNATES[key], dict) else {key: ALTERNATES[key]}
        label = ", ".join(f"`{k}`" for k in together)
        if label not in (made for made, _ in changes):  # keys that only change together: one row
            changes.append((label, partial(_set_config, values=together)))
    for spec in of_source(Source.GENERATED, CATALOGUE):
        # A server credential's rotation value is its generation (0 when unset): the bump is to 1.
        value = 1 if spec.server else "2026-12-01"
        changes.append((f"rotate `{spec.key}`", partial(_set_config, values={f"rotation.{spec.key}": value})))
    for spec in of_source(Source.PROVIDED, CATALOGUE):
        changes.append((f"new `{spec.config_key}`", partial(_set_secret, key=f"{PROJECT}:{spec.config_key}")))
    found = []
    for label, apply in changes:
        head_config, head_secrets = copy.deepcopy(config), dict(secrets)
        apply(head_config, head_secrets)
        head = _records(head_config, head_secrets)
        moves = moved_servers(base, head, STACK)
        found.append(Impact(label, diff(base, head), rotated_credentials(base, head, STACK), moves))
    return found


def _kind(token: str) -> str:
    """`iam.Role` for aws:iam/role:Role, plain `Role` for a Kubernetes one."""
    package, module, name = token.split(":")
    if package == "pulumi":  # pulumi:providers:kubernetes
        return f"{name} provider"
    return f"{module.split('/')[0]}.{name}" if package == "aws" else name


def _kinds(changes: list[Change], *ops: str) -> str:
    counts = Counter(_kind(c.type) for c in changes if c.op in ops)
    return ", ".join(f"{kind} x{n}" if n > 1 else kind for kind, n in sorted(counts.items())) or "-"


def _pods_roll(changes: list[Change]) -> bool:
    """New pods: a Deployment replaced or created, or its pod template changed."""
    deployments = [c for c in changes if c.type.endswith(":Deployment")]
    return any(
        c.op in ("replace", "create") or any(p.startswith("spec.template") for p, _, _ in c.fields)
        for c in deployments
    )


@cache
def impact_table() -> str:
    """The change-impact table, one row per change."""
    rows = [
        "| change | replaced | updated in place | created / deleted | pods roll | credentials that change "
        "| on the servers |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in impacts():
        rotated = ", ".join(f"`{c.key or c.name}`" for c in item.rotated) or "-"
        moved = [f"`{m.key}`: {m.summary}" for m in item.moves]
        steps = "; ".join(moved + [f"`{c.key or c.name}`: {c.step}" for c in item.rotated if c.step]) or "-"
        replaced, updated = _kinds(item.changes, "replace"), _kinds(item.changes, "update")
        created, roll = _kinds(item.changes, "create", "delete"), "yes" if _pods_roll(item.changes) else "no"
        rows.append(f"| {item.change} | {replaced} | {updated} | {created} | {roll} | {rotated} | {steps} |")
    return "\n".join(rows) + "\n"
