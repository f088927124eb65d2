"""The stack config's shape: frozen pydantic models of the `ai-etl:` keys, with their rules and defaults.

`settings.py` validates a stack's config into these; the crosschecks and operator tools read them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ai_etl.config.fields import (
    ALERT_ENDPOINT,
    CLUSTER_NAME,
    EMAIL,
    EVENT_BUS_ARN,
    LABEL,
    OIDC_PROVIDER_ARN,
    ROLE_ARN,
    TRAIL,
    Flag,
    Hostname,
    HttpPath,
    OptionalFlag,
    Port,
    Quantity,
    Repair,
    Word,
    api_url,
    image_reference,
    mended_grade,
    mended_host,
    mended_image,
    mended_region,
    mended_url,
    text,
    whole,
)
from ai_etl.grade import (
    GRADES,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PRODUCTION,
    RECOVERY_WINDOW_DAYS,
    RECOVERY_WINDOW_FOR,
    STANDARD,
)
from ai_etl.masking import Secret

ROLE_BASE = r"[a-z_][a-z0-9_]{0,56}"
"""A login role's base name: `<base>_green` must stay within PostgreSQL's 63 bytes (NAMEDATALEN - 1)
and be a name neither psql nor redis-cli needs to quote, nor an AWS tag value refuses."""
ROLE_BASE_WHAT = "a role name of lower-case letters, digits and '_' (at most 57)"
DECLARE_TRAIL = "declare"
"""`auditTrail: declare`: the program declares the trail the access alerts see reads through."""
REPLICA_PLACEHOLDER = "<replica region>"
"""What a fix sets the replica region to when the user's cannot be read as one: only the user knows
where the replica may live, and removing it would drop the disaster recovery it gives."""


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class WorkloadSettings(_Model):
    """A workload's Deployment (`ai-etl:<consumer>`, e.g. `ai-etl:backend`)."""

    image: Annotated[
        str,
        image_reference("registry.example.com/ai-etl-backend:1.4.2"),
        Repair(mended_image),
        Field(
            description="the container image",
            examples=["registry.example.com/ai-etl-backend:1.4.2@sha256:<digest>"],
        ),
    ]
    replicas: Annotated[int, whole(1)] = 2
    port: Port = 8000
    liveness_path: HttpPath = "/health"
    readiness_path: HttpPath = "/health"
    cpu_request: Quantity = "100m"
    memory_request: Quantity = "256Mi"
    cpu_limit: Quantity = "1"
    memory_limit: Quantity = "512Mi"


DATABASE_KINDS = ("cluster", "rds", "aurora")
"""Where Postgres lives: in the cluster (the guide's `postgres-svc`), or AWS-managed (RDS, Aurora)."""
MANAGED_DATABASE_KINDS = DATABASE_KINDS[1:]
DATABASE_KINDS_MEANT = (
    "'cluster' (a Postgres in the cluster, plain text, its roles set by a rotation step), 'rds' or "
    "'aurora' (AWS-managed: host is its endpoint, TLS verified against the RDS CA bundle)"
)
RDS_ENDPOINT = re.compile(r"[a-z0-9.-]+\.rds\.amazonaws\.com(\.cn)?")
"""What an RDS or Aurora endpoint (instance, cluster, reader, custom or RDS Proxy) ends in: the names
its server certificate holds, so the only names `sslmode=verify-full` accepts (a CNAME of one fails
the host name check)."""
AURORA_ENDPOINT = re.compile(
    r"[a-z0-9-]+\.cluster-(ro-|custom-)?[a-z0-9]+\.[a-z0-9-]+\.rds\.amazonaws\.com(\.cn)?"
)
"""A DB cluster's endpoint: writer `<cluster>.cluster-<id>.<region>.rds.amazonaws.com`, reader
`cluster-ro-`, custom `cluster-custom-` (Aurora User Guide, Aurora.Overview.Endpoints, "Types of
Aurora endpoints"); an instance's endpoint is `<instance>.<id>.<region>.rds.amazonaws.com` (RDS User
Guide, USER_ConnectToInstance). rds and aurora behave alike here, so the shape decides the name only."""
CACHE_ENDPOINT = re.compile(r"[a-z0-9.-]+\.cache\.amazonaws\.com(\.cn)?")
"""An ElastiCache endpoint: `master.<group>.<id>.<region-code>.cache.amazonaws.com` and its node and
configuration endpoints (ElastiCache User Guide, Endpoints.Find)."""


def managed_kind_of(host: Any) -> str | None:
    """The database.kind an RDS or Aurora endpoint decides: aurora for a cluster endpoint, rds for an
    instance's; None for any other host."""
    if not isinstance(host, str) or not RDS_ENDPOINT.fullmatch(host):
        return None
    return "aurora" if AURORA_ENDPOINT.fullmatch(host) else "rds"


def _database_kind_beside(host: Any, siblings: Mapping[str, Any]) -> Mapping[str, Any]:
    """A mended RDS endpoint given with kind cluster (or none): the managed kind goes with it."""
    kind = managed_kind_of(host)
    return {"kind": kind} if kind and siblings.get("kind", "cluster") == "cluster" else {}


def decided_database_kind(siblings: Mapping[str, Any]) -> str | None:
    """The kind the given host decides (an RDS or Aurora endpoint's); None: only the user can say."""
    return managed_kind_of(siblings.get("host"))


SECRET_ARN = r"arn:(aws|aws-cn|aws-us-gov):secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@!-]{1,512}"
"""A Secrets Manager secret's full ARN (its name, then `-` and six random characters)."""
KMS_KEY_ARN = r"arn:(aws|aws-cn|aws-us-gov):kms:[a-z0-9-]+:\d{12}:key/[a-zA-Z0-9-]{1,128}"


class DatabaseSettings(_Model):
    """Where the backend finds Postgres (`ai-etl:database`); the guide's `postgres-svc:5432/ai_etl`."""

    kind: Annotated[
        str,
        text(DATABASE_KINDS_MEANT, "|".join(DATABASE_KINDS)),
        Repair(lambda value: None, decided=decided_database_kind),
        Field(
            description="cluster (a Postgres in the cluster), rds or aurora (AWS-managed: TLS verified "
            "against the RDS CA bundle, and `host` is the endpoint)",
            examples=["<" + "|".join(DATABASE_KINDS) + ">"],
        ),
    ] = DATABASE_KINDS[0]
    host: Annotated[Hostname, Repair(mended_host, beside=_database_kind_beside)] = "postgres-svc"
    port: Port = 5432
    name: Word = "ai_etl"
    user: Annotated[
        str,
        text(ROLE_BASE_WHAT, ROLE_BASE),
        Field(
            description="the group role that owns the schema; the backend logs in as <user>_blue or "
            "<user>_green, its members, which the rotation step makes"
        ),
    ] = "ai_etl"
    admin_user: Annotated[
        str,
        text(ROLE_BASE_WHAT, ROLE_BASE),
        Field(description="the role the rotation step logs in as (CREATEROLE; docs/runbooks.md)"),
    ] = "postgres"
    master_secret_arn: Annotated[
        str | None,
        text(
            "a Secrets Manager secret ARN, arn:aws:secretsmanager:<region>:<account>:secret:<name>",
            SECRET_ARN,
            optional=True,
        ),
        Field(
            description="rds or aurora only: the master user secret RDS manages (manage_master_user_"
            "password); the rotation step logs in with its username and password, and dbAdminPassword "
            "is not needed",
            examples=["<the DB instance's or cluster's MasterUserSecret.SecretArn>"],
        ),
    ] = None
    master_secret_kms_key_arn: Annotated[
        str | None,
        text("a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id>", KMS_KEY_ARN, optional=True),
        Field(
            description="only when the master user secret is encrypted with a customer managed key: "
            "that key (the operator may decrypt with it through Secrets Manager)",
            examples=["<the MasterUserSecret.KmsKeyId, as an ARN>"],
        ),
    ] = None

    @property
    def on_rds(self) -> bool:
        """Whether AWS runs the server (RDS or Aurora): TLS verified, and an endpoint for a host."""
        return self.kind in MANAGED_DATABASE_KINDS


CLUSTER = "cluster"
"""A server in the cluster, as the guide runs it: a rotation step (a Job) sets its login roles."""
ELASTICACHE = "elasticache"
"""Redis on ElastiCache (Valkey 7.2+, Redis OSS 7+): the program declares its users through AWS's API
(ai_etl/components/cacheusers.py), with no step: ElastiCache's RBAC refuses `ACL SETUSER`."""
REDIS_KINDS = (CLUSTER, ELASTICACHE)
REDIS_KINDS_MEANT = (
    "'cluster' (the guide's in-cluster Redis: plain text, its users set by a rotation step) or "
    "'elasticache' (AWS-managed: TLS, its users declared through ElastiCache's API)"
)


def decided_redis_kind(siblings: Mapping[str, Any]) -> str | None:
    """elasticache where the given host is an ElastiCache endpoint; None: only the user can say (a
    guess of cluster would send AUTH in clear to a managed cache)."""
    host = siblings.get("host")
    return ELASTICACHE if isinstance(host, str) and CACHE_ENDPOINT.fullmatch(host) else None


CACHE_ENGINES = ("valkey", "redis")
CACHE_ID = r"[a-zA-Z](-?[a-zA-Z0-9])*"
"""An ElastiCache replication group or user group id: botocore's elasticache model (UserGroupId:
`[a-zA-Z][a-zA-Z0-9\\-]*`), and CreateReplicationGroup's rule: no two hyphens in a row, none last."""


def set_by_api(connection: BaseModel) -> bool:
    """Whether the server's login roles are set through its provider's API (ElastiCache users), with
    no rotation step, so no administrator's password."""
    return getattr(connection, "kind", CLUSTER) == ELASTICACHE


class RedisSettings(_Model):
    """Where the backend finds Redis (`ai-etl:redis`); the guide's `redis-svc:6379/0`."""

    kind: Annotated[
        str,
        text(REDIS_KINDS_MEANT, "|".join(REDIS_KINDS)),
        Repair(lambda value: None, decided=decided_redis_kind),
        Field(
            description="where Redis lives: `cluster` (the guide's in-cluster Redis, set by a rotation "
            "step) or `elasticache` (the program declares its users; TLS)",
            examples=["<" + "|".join(REDIS_KINDS) + ">"],
        ),
    ] = CLUSTER
    replication_group_id: Annotated[
        str | None,
        text("an ElastiCache replication group id (letters, digits, '-')", CACHE_ID, optional=True),
        Field(description="with kind elasticache: the replication group (host is its primary endpoint)"),
    ] = Field(default=None, examples=["<replication group id>"])
    user_group_id: Annotated[
        str | None,
        text("an ElastiCache user group id (letters, digits, '-')", CACHE_ID, optional=True),
        Field(description="with kind elasticache: the user group the program declares with its users"),
    ] = Field(default=None, examples=["<user group id>"])
    engine: Annotated[
        str,
        text(" or ".join(map(repr, CACHE_ENGINES)), "|".join(CACHE_ENGINES)),
        Field(description="with kind elasticache: the replication group's engine (its users' too)"),
    ] = "valkey"
    tls: Annotated[
        OptionalFlag,
        Field(description="rediss:// (TLS); required with kind elasticache, which allows AUTH only over TLS"),
    ] = None
    host: Hostname = "redis-svc"
    port: Port = 6379
    db: Annotated[int, whole(0)] = 0
    user: Annotated[
        str,
        text(ROLE_BASE_WHAT, ROLE_BASE),
        Field(description="the backend logs in as the ACL user <user>_blue or <user>_green"),
    ] = "ai_etl"
    admin_user: Annotated[
        str,
        text(ROLE_BASE_WHAT, ROLE_BASE),
        Field(description="the ACL user the rotation step logs in as (it needs +acl; docs/runbooks.md)"),
    ] = "default"

    def uses_tls(self) -> bool:
        """Whether the backend connects with TLS (`rediss://`): unset, where the kind requires it."""
        return self.kind == ELASTICACHE if self.tls is None else self.tls


def url_fields(connection: BaseModel) -> dict[str, Any]:
    """A connection's settings as its composed URL's template reads them: its fields and, for Redis,
    the scheme (`rediss` where the backend uses TLS)."""
    fields = connection.model_dump()
    if isinstance(connection, RedisSettings):
        fields["scheme"] = "rediss" if connection.uses_tls() else "redis"
    return fields


class StackConfig(_Model):
    """The stack's plain `ai-etl:` keys (workloads and provided secrets are read apart)."""

    namespace: Annotated[
        str | None,
        text("an RFC 1123 label (lower-case letters, digits and '-', at most 63)", LABEL, optional=True),
    ] = Field(default=None, examples=["ai-etl-{stack}"])
    cluster_name: Annotated[
        str,
        text("an EKS cluster name (letters, digits, '-' and '_', at most 100)", CLUSTER_NAME),
        Field(
            description="the name of the stack's EKS cluster: its Kubernetes objects go there, and the "
            "operator's trust derives from its OIDC issuer",
            examples=["<cluster>"],
        ),
    ]
    oidc_provider_arn: Annotated[
        str | None,
        text(
            "an IAM OIDC provider ARN, arn:aws:iam::<account>:oidc-provider/<issuer>",
            OIDC_PROVIDER_ARN.pattern,
            optional=True,
        ),
        Field(description="optional: the program derives it from the cluster; leave it out"),
    ] = None
    qwen_api_base: Annotated[str, api_url(), Repair(mended_url)] = Field(
        default="https://api.together.xyz/v1",
        # A URL that cannot be mended gets a placeholder, never the default: pasting a fix must not
        # send the API key to another provider's host.
        examples=["<https URL of the API, without credentials>"],
    )
    replica_region: Annotated[
        str | None,
        text("an AWS region such as us-west-2", r"[a-z]{2}(-[a-z]+)+-\d", optional=True),
        Repair(mended_region),
        Field(
            description="a second region holding a replica of every secret, encrypted with a key of "
            "its own there (required of a production-grade stack)",
            # A fix never removes it: `config rm` would pass and drop the replica without a word.
            examples=[REPLICA_PLACEHOLDER],
        ),
    ] = None
    audit_email: Annotated[
        str | None,
        text("an email address", EMAIL, optional=True),
        Secret(),
        Field(
            description="where the access alerts go (SNS mails a confirmation link first)",
            examples=["<address>"],  # a fix sets one: removing it is refused at production grade
        ),
    ] = None
    audit_endpoint: Annotated[
        str | None,
        text("an https URL, or an SQS queue or Lambda function ARN", ALERT_ENDPOINT, optional=True),
        Secret(),
        Field(
            description="another place the access alerts go: an https endpoint (which confirms the "
            "subscription), an SQS queue or a Lambda function the team already watches",
            examples=["<https URL, or SQS queue or Lambda function ARN>"],
        ),
    ] = None
    audit_bus: Annotated[
        str | None,
        text(
            "an event bus ARN, arn:aws:events:<region>:<account>:event-bus/<name>",
            EVENT_BUS_ARN,
            optional=True,
        ),
        Field(
            description="an event bus in a security account that the tamper alerts are forwarded to as "
            "well (its policy must let this account put events on it)",
            examples=["arn:aws:events:<region>:<security account>:event-bus/<name>"],
        ),
    ] = None
    audit_trail: Annotated[
        str | None,
        text(
            "a CloudTrail trail's name (3 to 128 letters, digits, '.', '_' or '-'), its ARN "
            f"(arn:aws:cloudtrail:<region>:<account>:trail/<name>), or {DECLARE_TRAIL!r}",
            TRAIL.pattern,
            optional=True,
        ),
        Field(
            description="the multi-region trail logging read management events that the access "
            f"alerts see reads through: an existing one, looked up by name or ARN, or {DECLARE_TRAIL!r} "
            "for one the program declares (required of a production-grade stack)",
            # The fix that always works pasted: a trail of the stack's own.
            examples=[DECLARE_TRAIL],
        ),
    ] = None
    audit_expected_readers: list[
        Annotated[str, text("an IAM role ARN, arn:aws:iam::<account>:role/<name>", ROLE_ARN)]
    ] = Field(default_factory=list, examples=["arn:aws:iam::<account>:role/<ci-deploy-role>"])
    password_length: Annotated[int, whole(MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH)] = 48
    # DeleteSecret's RecoveryWindowInDays; the fix suggests 30, which every stack may take.
    recovery_window_in_days: Annotated[int, whole(*RECOVERY_WINDOW_DAYS)] = Field(
        default=RECOVERY_WINDOW_FOR[STANDARD], examples=[RECOVERY_WINDOW_FOR[PRODUCTION]]
    )
    protect: Flag = False
    takeover: Annotated[
        Flag,
        Field(
            description="only while taking over a hand-made installation (docs/takeover.md): the "
            "stack's Kubernetes provider adopts objects that already exist and takes the fields "
            "kubectl set on them",
        ),
    ] = False
    grade: Annotated[str, text(" or ".join(map(repr, GRADES)), "|".join(GRADES)), Repair(mended_grade)] = (
        Field(
            default=STANDARD,
            # A fix never guesses the grade: `standard` for a misspelt `production` would drop every
            # production requirement without a word.
            examples=["<" + "|".join(GRADES) + ">"],
            description="production: protection, the 30-day recovery window, images by digest and the "
            "production guardrails",
        )
    )
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    rotation: dict[str, Annotated[str, text("a non-empty string (a date is a good choice)")]] = Field(
        default_factory=dict, examples=["2026-12-01"]
    )
    step_image: Annotated[
        str,
        image_reference("registry.example.com/ai-etl-step:1.0.0"),
        Repair(mended_image),
        Field(
            description="the rotation steps' image: bash, psql 15 or newer and redis-cli 6 or newer "
            "(docs/runbooks.md)",
            examples=["registry.example.com/ai-etl-step:1.0.0@sha256:<digest>"],
        ),
    ]

    def connections(self) -> dict[str, DatabaseSettings | RedisSettings]:
        """The connection settings by the name the catalogue's composed secrets give them."""
        return {"database": self.database, "redis": self.redis}


DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        str(f.alias): f.default
        for f in StackConfig.model_fields.values()
        if not f.is_required() and f.default_factory is None and f.default is not None
    }
)
"""Defaults of the scalar keys by config key; Pulumi.yaml declares the same (a test holds them equal)."""
