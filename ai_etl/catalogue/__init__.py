"""The secrets catalogue: the platform's credentials, and the workloads that read them, as data.

Every list that names secrets (Secrets Manager entries, each workload's ExternalSecret data and env,
the operator's IAM grant, `.env.example`, the docs' table) derives from `CATALOGUE` and
`CONSUMERS`; adding a secret is one entry, adding a workload is one consumer.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Source(enum.Enum):
    """Where a secret's value comes from."""

    GENERATED = "generated"  # a RandomPassword, rotated by its value in `ai-etl:rotation`
    COMPOSED = "composed"  # a URL built from a generated password and plain connection config
    PROVIDED = "provided"  # a value only a human has, set as secret stack config


@dataclass(frozen=True)
class SecretSpec:
    """One secret of the platform."""

    key: str
    """Kubernetes Secret key and the last segment of the Secrets Manager name."""
    env_var: str | None
    """The environment variable a workload reads it as; None when only infrastructure uses it."""
    source: Source
    description: str
    config_key: str | None = None
    """For PROVIDED: the secret stack config key (`ai-etl:<config_key>`)."""
    password_of: str | None = None
    """For COMPOSED: the GENERATED secret whose value is the password in the URL."""
    connection: str | None = None
    """For COMPOSED: the connection settings (stack config object `ai-etl:<connection>`)."""
    url_template: str | None = None
    """For COMPOSED: the URL, with `{password}` and the connection's fields as placeholders."""
    server: str | None = None
    """For GENERATED: the kind of server that holds it too (one of SERVERS). Its rotation value is
    a generation, served by alternating login roles (ai_etl/components/serverauth.py), and a
    rotation step the program declares sets it on the server."""
    admin_of: str | None = None
    """For PROVIDED: the server credential whose rotation step logs in with it (an administrator's
    password); synced to that step alone, never to a workload."""
    replaced_by: str | None = None
    """For an admin_of secret: the field of its server's connection settings (`ai-etl:<connection>.
    <field>`) that, when set, names a secret the server's owner keeps instead (RDS's master user
    secret, `database.masterSecretArn`); then this one is not needed."""


@dataclass(frozen=True)
class Consumer:
    """A workload that reads secrets. Each gets its own generation of ExternalSecret and Secret,
    ServiceAccount, Role and secretKeyRef wiring, and its Secret holds only its keys."""

    name: str
    """Its stack config object (`ai-etl:<name>`) and its Kubernetes names (`ai-etl-<name>`)."""
    description: str
    keys: tuple[str, ...] | None = None
    """The catalogue keys it reads; None: every entry with an env var (new ones included)."""
    plain_env: tuple[str, ...] = ()
    """Plain configuration it reads as env vars (values from settings), never secrets."""


SERVERS = ("postgres", "redis")
"""The servers a rotation step knows how to set a password on (serverauth's step scripts)."""

CATALOGUE: tuple[SecretSpec, ...] = (
    SecretSpec("jwt-secret-key", "JWT_SECRET_KEY", Source.GENERATED, "Signs the backend's JWTs"),
    SecretSpec("secret-key", "SECRET_KEY", Source.GENERATED, "The backend's application secret"),
    # Not `webhook-secret`: a Secrets Manager name must not end in a hyphen and six characters.
    SecretSpec("webhook-signing-key", "WEBHOOK_SECRET", Source.GENERATED, "Signs outgoing webhooks"),
    SecretSpec(
        "db-password",
        None,
        Source.GENERATED,
        "Password of the active Postgres login role",
        server="postgres",
    ),
    SecretSpec(
        "redis-password", None, Source.GENERATED, "Password of the active Redis ACL user", server="redis"
    ),
    SecretSpec(
        "database-url",
        "DATABASE_URL",
        Source.COMPOSED,
        "Postgres connection URL (asyncpg)",
        password_of="db-password",
        connection="database",
        url_template="postgresql+asyncpg://{user}:{password}@{host}:{port}/{name}",
    ),
    SecretSpec(
        "redis-url",
        "REDIS_URL",
        Source.COMPOSED,
        "Redis connection URL",
        password_of="redis-password",
        connection="redis",
        # rediss:// (TLS) where the server requires it (ElastiCache): ai_etl/plan.py sets the scheme.
        url_template="{scheme}://{user}:{password}@{host}:{port}/{db}",
    ),
    SecretSpec("qwen-api-key", "QWEN_API_KEY", Source.PROVIDED, "LLM API key", config_key="qwenApiKey"),
    SecretSpec(
        "s3-access-key", "S3_ACCESS_KEY", Source.PROVIDED, "S3 access key id", config_key="s3AccessKey"
    ),
    SecretSpec(
        "s3-secret-key",
        "S3_SECRET_KEY",
        Source.PROVIDED,
        "S3 secret access key",
        config_key="s3SecretKey",
    ),
    SecretSpec(
        "db-admin-password",
        None,
        Source.PROVIDED,
        "Password of the Postgres role the rotation step logs in as (database.adminUser)",
        config_key="dbAdminPassword",
        admin_of="db-password",
        replaced_by="masterSecretArn",
    ),
    SecretSpec(
        "redis-admin-password",
        None,
        Source.PROVIDED,
        "Password of the Redis user the rotation step logs in as (redis.adminUser)",
        config_key="redisAdminPassword",
        admin_of="redis-password",
    ),
)

PLAIN_ENV: dict[str, str] = {"QWEN_API_BASE": "qwenApiBase"}
"""Plain configuration a consumer may read as env vars: env var -> the `ai-etl:` key holding it."""

CONSUMERS: tuple[Consumer, ...] = (
    Consumer("backend", "The AI-ETL backend (Python API)", plain_env=("QWEN_API_BASE",)),
)

# Kubernetes Secret keys and object-name parts are RFC 1123 labels; env vars are C identifiers.
_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_VAR_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# AWS CreateSecret: "Do not end your secret name with a hyphen followed by six characters", which
# confuses the lookup of a secret by a partial ARN (its ARN ends in -<six random characters>).
_PARTIAL_ARN_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


def by_key(catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> dict[str, SecretSpec]:
    """The catalogue indexed by key."""
    return {spec.key: spec for spec in catalogue}


def of_source(source: Source, catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> tuple[SecretSpec, ...]:
    """The entries whose value comes from `source`, in catalogue order."""
    return tuple(spec for spec in catalogue if spec.source is source)


def read_by(consumer: Consumer, catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> tuple[SecretSpec, ...]:
    """The entries `consumer` reads, in catalogue order."""
    if consumer.keys is None:
        return tuple(spec for spec in catalogue if spec.env_var is not None)
    return tuple(spec for spec in catalogue if spec.key in consumer.keys)


def synced(
    catalogue: tuple[SecretSpec, ...] = CATALOGUE, consumers: tuple[Consumer, ...] = CONSUMERS
) -> tuple[SecretSpec, ...]:
    """The entries some workload reads (the operator syncs these, and only these), in catalogue order."""
    keys = {spec.key for consumer in consumers for spec in read_by(consumer, catalogue)}
    return tuple(spec for spec in catalogue if spec.key in keys)


def server_credentials(catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> tuple[SecretSpec, ...]:
    """Generated passwords a server holds, each rotated by a step the program declares."""
    return tuple(spec for spec in catalogue if spec.server is not None)


def admin_secret(spec: SecretSpec, catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> SecretSpec:
    """The provided administrator's password the rotation step of server credential `spec` uses."""
    (admin,) = (s for s in catalogue if s.admin_of == spec.key)
    return admin


def url_of(spec: SecretSpec, catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> SecretSpec:
    """The composed URL whose password is the generated `spec`."""
    (url,) = (s for s in catalogue if s.password_of == spec.key)
    return url


def check_catalogue(
    catalogue: tuple[SecretSpec, ...] = CATALOGUE, consumers: tuple[Consumer, ...] = CONSUMERS
) -> None:
    """Raise ValueError if the catalogue is inconsistent (a programming error, not user input)."""
    keys = [spec.key for spec in catalogue]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys in the secrets catalogue: {sorted(keys)}")
    env_vars = [spec.env_var for spec in catalogue if spec.env_var]
    if len(set(env_vars)) != len(env_vars):
        raise ValueError("duplicate env vars in the secrets catalogue")
    index = by_key(catalogue)
    for spec in catalogue:
        if not _LABEL_RE.match(spec.key):
            raise ValueError(f"catalogue key {spec.key!r} is not a valid Kubernetes Secret key")
        if _PARTIAL_ARN_SUFFIX.search(spec.key):
            raise ValueError(
                f"catalogue key {spec.key!r} ends in a hyphen and six characters, which AWS asks of no "
                "secret name (partial-ARN lookups would mistake it for the random suffix)"
            )
        if spec.env_var is not None and not _ENV_VAR_RE.match(spec.env_var):
            raise ValueError(f"catalogue env var {spec.env_var!r} is not a valid name")
        if (spec.source is Source.PROVIDED) != (spec.config_key is not None):
            raise ValueError(f"{spec.key}: exactly the provided secrets name a config key")
        composed_fields = (spec.password_of, spec.connection, spec.url_template)
        if (spec.source is Source.COMPOSED) != all(f is not None for f in composed_fields):
            raise ValueError(f"{spec.key}: composed secrets, and only they, have a URL recipe")
        if spec.password_of is not None:
            target = index.get(spec.password_of)
            if target is None or target.source is not Source.GENERATED:
                raise ValueError(f"{spec.key}: password_of must name a generated secret")
            if target.server is None:
                raise ValueError(f"{spec.key}: its password {target.key} is held by a server: name it")
        if spec.server is not None:
            if spec.server not in SERVERS or spec.source is not Source.GENERATED:
                raise ValueError(f"{spec.key}: server must be one of {SERVERS}, on a generated secret")
            if sum(s.password_of == spec.key for s in catalogue) != 1:
                raise ValueError(f"{spec.key}: a server credential is the password of exactly one URL")
            if sum(s.admin_of == spec.key for s in catalogue) != 1:
                raise ValueError(f"{spec.key}: a server credential needs exactly one admin_of secret")
        if spec.admin_of is not None:
            target = index.get(spec.admin_of)
            if spec.source is not Source.PROVIDED or target is None or target.server is None:
                raise ValueError(f"{spec.key}: admin_of is a provided secret's, naming a server credential")
            if spec.env_var is not None:
                raise ValueError(f"{spec.key}: an administrator's password is read by no workload")
        if spec.replaced_by is not None and spec.admin_of is None:
            raise ValueError(f"{spec.key}: only an administrator's password can be replaced_by a setting")
    names = [consumer.name for consumer in consumers]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate consumers: {names}")
    for consumer in consumers:
        if not _LABEL_RE.match(consumer.name):
            raise ValueError(f"consumer {consumer.name!r} is not a valid Kubernetes name part")
        for name in consumer.plain_env:
            if name not in PLAIN_ENV:
                raise ValueError(f"consumer {consumer.name}: {name!r} is not in PLAIN_ENV")
        for key in consumer.keys or ():
            if key not in index or index[key].env_var is None:
                raise ValueError(f"consumer {consumer.name}: {key!r} is no catalogue key with an env var")
