"""Checks of where Postgres lives (`ai-etl:database.kind`): an AWS-managed server (RDS, Aurora) is
reached at its endpoint with verified TLS, and its administrator may be the master user secret RDS
manages; what does not fit is refused before anything is declared, each with its fix."""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from functools import cache
from importlib import resources
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


RDS_BUNDLE = ("ai_etl.components", "data/rds-global-bundle.pem")
"""The committed RDS CA bundle (ai_etl/components/trust.py pins its digest and declares it; a test
holds the two to one file): read here as data, as fields.py reads botocore's region list, so the
config layer refuses a region it lacks before anything is declared."""
REGION_CA = re.compile(r"Amazon RDS (?P<region>[a-z]{2}(-[a-z]+)+-\d) Root CA (RSA2048|RSA4096|ECC384) G1")
"""A region's root CA's common name in AWS's bundle (RDS User Guide, UsingWithRDS.SSL, "Certificate
authorities": `Amazon RDS region-identifier Root CA RSA2048 G1`, and RSA4096, ECC384)."""
UNVERIFIABLE = (
    (
        re.compile(r"[a-z0-9.-]+\.proxy-[a-z0-9]+\.[a-z0-9-]+\.rds\.amazonaws\.com(\.cn)?"),
        "an RDS Proxy endpoint, whose certificate Amazon Trust Services issues, not the RDS CA (RDS "
        'User Guide, rds-proxy.howitworks, "Using TLS/SSL with RDS Proxy"): verifying it would need '
        "Amazon's root CAs (www.amazontrust.com/repository) in place of the RDS bundle; connect to "
        "the database's own endpoint",
    ),
    (
        re.compile(r"[a-z0-9.-]+\.(rds\.)?us-gov-[a-z]+-\d\.(rds\.)?amazonaws\.com"),
        "a GovCloud (aws-us-gov) endpoint: the committed bundle is AWS's commercial-partition one; "
        "verifying it would need the GovCloud bundle (truststore.pki.us-gov-west-1.rds.amazonaws.com)",
    ),
    (
        re.compile(r"[a-z0-9.-]+\.amazonaws\.com\.cn"),
        "a China (aws-cn) endpoint: the committed bundle is AWS's commercial-partition one; verifying "
        "it would need the China regions' bundle (published by Amazon Web Services in China)",
    ),
)
"""Endpoints the committed bundle cannot verify, and why."""
UPDATE_BUNDLE = "python -m ai_etl.ops.rdsbundle"
"""The command that replaces the committed bundle with AWS's current one and rewrites its digest."""
ENDPOINT_REGION = re.compile(r".*\.(?P<region>[a-z]{2}(-[a-z]+)+-\d)\.rds\.amazonaws\.com(\.cn)?")


@cache
def bundle_regions() -> frozenset[str]:
    """The regions whose root CA the committed bundle holds, read from its certificates' subjects by
    OpenSSL (ssl.SSLContext.get_ca_certs), never by hand."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    package, name = RDS_BUNDLE
    context.load_verify_locations(cadata=resources.files(package).joinpath(name).read_text("ascii"))
    names = [
        str(rdn[0][1])
        for cert in context.get_ca_certs()
        for rdn in cert["subject"]
        if rdn[0][0] == "commonName"
    ]
    return frozenset(m["region"] for n in names if (m := REGION_CA.fullmatch(n)))


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
    elif db.on_rds and (why := unverifiable(db.host)):
        problems.add(
            "database.host",
            f"is {why}: every connection to it would fail verify-full",
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
    if db.on_rds and RDS_ENDPOINT.fullmatch(db.host) and not problems.has("database.host"):
        _covered(problems, raw, db.host)
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


def unverifiable(host: str) -> str | None:
    """Why the committed RDS CA bundle cannot verify the endpoint `host`; None if it may."""
    return next((why for shape, why in UNVERIFIABLE if shape.fullmatch(host)), None)


def _covered(problems: Problems, raw: RawConfig, host: str) -> None:
    """The committed bundle holds the CA of the endpoint's region and of the stack's."""
    found = ENDPOINT_REGION.fullmatch(host)
    regions = {r for r in (found["region"] if found else "", str(raw.region)) if r in aws_regions()}
    for region in sorted(regions - bundle_regions()):
        problems.add(
            "database.host",
            f"is an endpoint of region {region}, but the committed bundle predates region {region}: "
            'update it (docs/configuration.md, "The RDS CA bundle"), then commit the file and its digest',
            UPDATE_BUNDLE,
        )
