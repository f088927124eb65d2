"""Checks of where Postgres lives (`ai-etl:database.kind`): an AWS-managed server (RDS, Aurora) is
reached at its endpoint with verified TLS, and its administrator may be the master user secret RDS
manages; what does not fit is refused before anything is declared, each with its fix."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ai_etl.catalogue import SecretSpec
from ai_etl.config.commands import Path
from ai_etl.config.fields import aws_regions
from ai_etl.config.models import (
    CACHE_ENDPOINT,
    CLUSTER,
    ELASTICACHE,
    MANAGED_DATABASE_KINDS,
    RDS_ENDPOINT,
    StackConfig,
    managed_kind_of,
)
from ai_etl.config.problems import Problems
from ai_etl.config.reading import RawConfig

CONNECTION = "database"
MASTER_SECRET = "masterSecretArn"
RDS_MASTER_SECRET = re.compile(
    r"arn:(aws|aws-cn|aws-us-gov):secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:"
    r"rds!(db|cluster)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[A-Za-z0-9]{6}"
)
"""The secret RDS makes for a master user (manage_master_user_password): `rds!db-<uuid>` or
`rds!cluster-<uuid>`, and Secrets Manager's six-character suffix, which IAM needs to match it."""
MASTER_KEY = "masterSecretKmsKeyArn"
ENDPOINT_PLACEHOLDER = "<endpoint>"
NAME_PLACEHOLDER = "<name>"
SHOWN_KIND = {"rds": "RDS", "aurora": "Aurora"}


def _given(raw: RawConfig) -> Mapping[str, Any]:
    given = raw.values.get(CONNECTION)
    return given if isinstance(given, dict) else {}


def replaced_admins(raw: RawConfig, catalogue: tuple[SecretSpec, ...]) -> frozenset[str]:
    """The config keys of the administrators' passwords the stack need not set: those whose server
    credential's connection names a managed secret instead (`database.masterSecretArn`)."""
    given = _given(raw)
    return frozenset(
        str(s.config_key)
        for s in catalogue
        if s.replaced_by and s.replaced_by in given and given[s.replaced_by]
    )


def check(problems: Problems, raw: RawConfig, config: StackConfig) -> None:
    """A managed kind needs its endpoint for `host`; the master user secret only with a managed kind,
    in the stack's region; its KMS key only with it."""
    db, given = config.database, _given(raw)
    path = (CONNECTION,)
    if db.on_rds and "host" not in given:
        problems.add(
            "database.host",
            f"is required with database.kind {db.kind}: the endpoint of the {SHOWN_KIND[db.kind]} database "
            "(the program's default, postgres-svc, is a name inside the cluster)",
            problems.set_cmd((*path, "host"), ENDPOINT_PLACEHOLDER),
        )
    elif db.on_rds and not RDS_ENDPOINT.fullmatch(db.host):
        problems.add(
            "database.host",
            f"must be the {SHOWN_KIND[db.kind]} endpoint (<name>.<id>.<region>.rds.amazonaws.com) with "
            f"database.kind {db.kind}, got {problems.shown((*path, 'host'), db.host)}: the connections "
            "verify the server's certificate, which names the endpoint only",
            problems.set_cmd((*path, "host"), ENDPOINT_PLACEHOLDER),
        )
    if db.master_secret_arn and not db.on_rds:
        problems.add(
            f"database.{MASTER_SECRET}",
            f"is RDS's own secret, for database.kind {' or '.join(MANAGED_DATABASE_KINDS)} only (got "
            f"{db.kind}); a Postgres in the cluster takes dbAdminPassword",
            problems.rm_cmd((*path, MASTER_SECRET)),
        )
    # A region that is not one has its own problem; the secret is judged against a real one only.
    elif (
        db.master_secret_arn
        and raw.region in aws_regions()
        and db.master_secret_arn.split(":")[3] != raw.region
    ):
        partition, _, region, account = db.master_secret_arn.split(":")[1:5]
        problems.add(
            f"database.{MASTER_SECRET}",
            f"is a secret of region {region}, but the operator reads Secrets Manager in aws:region "
            f"({raw.region}) only: name the master user secret of the database in that region",
            problems.set_cmd(
                (*path, MASTER_SECRET),
                f"arn:{partition}:secretsmanager:{raw.region}:{account}:secret:{NAME_PLACEHOLDER}",
            ),
        )
    elif db.master_secret_arn and not RDS_MASTER_SECRET.fullmatch(db.master_secret_arn):
        # Any other secret would be synced to the step and readable by the operator's role: another
        # stack's, this stack's own values, anything of the account.
        problems.add(
            f"database.{MASTER_SECRET}",
            "must be the master user secret RDS manages for the database, named rds!db-<id> or "
            'rds!cluster-<id> by RDS (RDS user guide, "Password management with Amazon RDS and AWS '
            'Secrets Manager"): any other secret would be read by the operator and synced to the step',
            problems.set_cmd((*path, MASTER_SECRET), "<MasterUserSecret.SecretArn of the database>"),
        )
    elif (
        db.master_secret_arn
        and isinstance(accounts := raw.elsewhere.get("aws:allowedAccountIds"), list)
        and accounts
    ):
        account = db.master_secret_arn.split(":")[4]
        if account != str(accounts[0]):
            problems.add(
                f"database.{MASTER_SECRET}",
                f"is a secret of account {account}, but the stack deploys into {accounts[0]} "
                "(aws:allowedAccountIds): name the master user secret of the database in that account",
                problems.set_cmd((*path, MASTER_SECRET), "<MasterUserSecret.SecretArn of the database>"),
            )
    if db.master_secret_kms_key_arn and not db.master_secret_arn:
        problems.add(
            f"database.{MASTER_KEY}",
            f"is the key of database.{MASTER_SECRET}, which is not set",
            problems.rm_cmd((*path, MASTER_KEY)),
        )


def clear_text(problems: Problems, config: StackConfig, production: bool) -> list[str]:
    """A server AWS manages reached as if it were in the cluster: `database.kind cluster` with an
    RDS or Aurora endpoint (no certificate verified, the admin's and the backend's passwords sent
    to a server no one checked), `redis.kind cluster` with an ElastiCache endpoint (AUTH in clear,
    and a rotation step ElastiCache refuses: its RBAC has no ACL SETUSER). Refused at production
    grade; below, the warnings returned. The fix is the kind the endpoint names."""
    found: list[tuple[Path, str, str]] = []
    db, redis = config.database, config.redis
    if db.kind == CLUSTER and (kind := managed_kind_of(db.host)):
        found.append(
            (
                (CONNECTION, "kind"),
                f"is cluster, but database.host is an {SHOWN_KIND[kind]} endpoint: the step and the "
                "backend would connect without verifying its certificate; kind "
                f"{kind} verifies it against the RDS CA bundle",
                kind,
            )
        )
    if redis.kind == CLUSTER and CACHE_ENDPOINT.fullmatch(redis.host):
        found.append(
            (
                ("redis", "kind"),
                "is cluster, but redis.host is an ElastiCache endpoint: the backend would send AUTH in "
                "clear and the rotation step's ACL SETUSER is refused there; kind elasticache speaks TLS "
                "and declares the users through ElastiCache's API",
                ELASTICACHE,
            )
        )
    warnings = []
    for path, problem, kind in found:
        fix = problems.set_cmd(path, kind)
        if production:
            problems.add(path, f"{problem} (refused in a production-grade stack)", fix)
        else:
            warnings.append(f"{'.'.join(map(str, path))} {problem}: {fix}")
    return warnings
