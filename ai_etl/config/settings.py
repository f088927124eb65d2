"""Typed settings: the stack's config, validated once into frozen models before anything is declared.

`load_settings()` reads the config through `pulumi.Config`; `parse_settings()` is the pure part. It
reports every problem at once, each naming its key and the `pulumi config` command that fixes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any

import pulumi
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ai_etl import PROJECT
from ai_etl.catalogue import (
    CATALOGUE,
    CONSUMERS,
    PLAIN_ENV,
    Consumer,
    SecretSpec,
    Source,
    check_catalogue,
    of_source,
)
from ai_etl.config import crosschecks
from ai_etl.config.fields import (
    CLUSTER_NAME,
    EMAIL,
    IMAGE,
    LABEL,
    OIDC_PROVIDER_ARN,
    ROLE_ARN,
    Flag,
    Hostname,
    HttpPath,
    Port,
    Quantity,
    Word,
    aws_regions,
    dns_suffix,
    http_url_without_credentials,
    text,
    whole,
)
from ai_etl.config.problems import ConfigError, Problems
from ai_etl.config.reading import ADOPT, RawConfig, read_config

__all__ = ["ConfigError", "Settings", "StackConfig", "WorkloadSettings", "load_settings", "parse_settings"]

PRODUCTION_GRADE = "production"
DEFAULT_ROTATION = "initial"
"""The rotation value of a generated secret that `ai-etl:rotation` does not name."""


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class WorkloadSettings(_Model):
    """A workload's Deployment (`ai-etl:<consumer>`, e.g. `ai-etl:backend`)."""

    image: Annotated[
        str,
        text("a container image reference such as registry.example.com/ai-etl-backend:1.4.2", IMAGE),
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


class DatabaseSettings(_Model):
    """Where the backend finds Postgres (`ai-etl:database`); the guide's `postgres-svc:5432/ai_etl`."""

    host: Hostname = "postgres-svc"
    port: Port = 5432
    name: Word = "ai_etl"
    user: Word = "ai_etl"


class RedisSettings(_Model):
    """Where the backend finds Redis (`ai-etl:redis`); the guide's `redis-svc:6379/0`."""

    host: Hostname = "redis-svc"
    port: Port = 6379
    db: Annotated[int, whole(0)] = 0


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
    qwen_api_base: Annotated[
        str,
        text(
            "an http(s) URL without credentials (the key goes in qwenApiKey)",
            ok=http_url_without_credentials,
        ),
    ] = "https://api.together.xyz/v1"
    replica_region: Annotated[
        str | None,
        text("an AWS region such as us-west-2", r"[a-z]{2}(-[a-z]+)+-\d", optional=True),
        Field(
            description="a second region holding a replica of every secret, encrypted with a key of "
            "its own there (required of a production-grade stack)",
        ),
    ] = None
    audit_email: Annotated[
        str | None,
        text("an email address", EMAIL, optional=True),
        Field(description="where the access alerts go (SNS mails a confirmation link first)"),
    ] = None
    audit_expected_readers: list[
        Annotated[str, text("an IAM role ARN, arn:aws:iam::<account>:role/<name>", ROLE_ARN)]
    ] = Field(default_factory=list, examples=["arn:aws:iam::<account>:role/<ci-deploy-role>"])
    password_length: Annotated[int, whole(32, 256)] = 48
    # DeleteSecret's RecoveryWindowInDays; the fix suggests 30, which every stack may take.
    recovery_window_in_days: Annotated[int, whole(7, 30)] = Field(default=7, examples=[30])
    protect: Flag = False
    grade: Annotated[str, text("'standard' or 'production'", r"standard|production")] = Field(
        default="standard",
        description="production: protection, the 30-day recovery window, images by digest and the "
        "production guardrails",
    )
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    rotation: dict[str, Annotated[str, text("a non-empty string (a date is a good choice)")]] = Field(
        default_factory=dict, examples=["2026-12-01"]
    )


DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        str(f.alias): f.default
        for f in StackConfig.model_fields.values()
        if not f.is_required() and f.default_factory is None and f.default is not None
    }
)
"""Defaults of the scalar keys by config key; Pulumi.yaml declares the same (a test holds them equal)."""


@dataclass(frozen=True)
class Settings:
    """Everything the program needs to know about one environment."""

    stack: str
    region: str
    config: StackConfig
    workloads: Mapping[str, WorkloadSettings]
    """Each consumer's Deployment settings, by consumer name."""
    provided: Mapping[str, pulumi.Output[str]] = field(repr=False)
    """Secret values of the provided secrets by catalogue key; never plain strings."""
    adopted: Mapping[str, pulumi.Output[str]] = field(default_factory=dict, repr=False)
    """Live values kept at a takeover (`ai-etl:adopt`), by generated key, for the keys not yet
    rotated; secret Outputs."""
    catalogue: tuple[SecretSpec, ...] = CATALOGUE
    consumers: tuple[Consumer, ...] = CONSUMERS

    @property
    def prefix(self) -> str:
        """Prefix of this environment's AWS names: `ai-etl-<stack>`."""
        return f"{PROJECT}-{self.stack}"

    @property
    def namespace(self) -> str:
        return self.config.namespace or self.prefix

    @property
    def partition(self) -> str:
        """The AWS partition of the stack's region (`aws`, `aws-cn`, `aws-us-gov`)."""
        return aws_regions()[self.region]

    @property
    def secrets_manager_endpoint(self) -> str:
        """Secrets Manager's service name in the region, as `kms:ViaService` sees it."""
        return f"secretsmanager.{self.region}.{dns_suffix(self.partition)}"

    def secret_name(self, key: str) -> str:
        """The Secrets Manager name of a catalogue key: `ai-etl/<stack>/<key>`."""
        return f"{PROJECT}/{self.stack}/{key}"

    @property
    def rotation(self) -> dict[str, str]:
        """The rotation value of every generated secret, by key; bumping one rotates that secret."""
        return rotation_of(self.config, self.catalogue)

    def connection(self, name: str) -> dict[str, str | int]:
        """A connection's fields (`database`, `redis`) as the URL templates name them."""
        return dict(getattr(self.config, name).model_dump())

    def plain_env(self, names: tuple[str, ...]) -> dict[str, str]:
        """Values of plain env vars (PLAIN_ENV) from this stack's config."""
        values = self.config.model_dump(by_alias=True)
        return {name: str(values[PLAIN_ENV[name]]) for name in names}


def rotation_of(config: StackConfig, catalogue: tuple[SecretSpec, ...]) -> dict[str, str]:
    """The rotation value of every generated secret, by key (DEFAULT_ROTATION where none is set)."""
    return {
        s.key: config.rotation.get(s.key, DEFAULT_ROTATION) for s in of_source(Source.GENERATED, catalogue)
    }


def parse_settings(
    raw: RawConfig,
    secret_of: Callable[[str], pulumi.Output[str]],
    catalogue: tuple[SecretSpec, ...] = CATALOGUE,
    consumers: tuple[Consumer, ...] = CONSUMERS,
    adopted_values: Callable[[list[str]], dict[str, pulumi.Output[str]]] = lambda keys: {},
) -> Settings:
    """Validate `raw` into Settings, or raise ConfigError listing every problem.

    `secret_of(config_key)` gives a provided secret as a secret Output, `adopted_values(keys)` the
    adopted values of those keys; both are called only once every check has passed.
    """
    check_catalogue(catalogue, consumers)
    problems = Problems(raw.stack)
    provided = of_source(Source.PROVIDED, catalogue)
    generated = [s.key for s in of_source(Source.GENERATED, catalogue)]
    names = tuple(c.name for c in consumers)
    extra = (*names, *(str(s.config_key) for s in provided))
    core = {k: v for k, v in raw.values.items() if k not in names}
    config = problems.validate(StackConfig, core, extra=extra)
    workloads = {
        c.name: problems.validate(WorkloadSettings, raw.values.get(c.name), (c.name,)) for c in consumers
    }
    rotation = raw.values.get("rotation")
    for key in sorted(set(rotation or ()) - set(generated)) if isinstance(rotation, dict) else ():
        problems.unknown(f"rotation.{key}", dict.fromkeys(generated, "2026-12-01"))
    crosschecks.stack_name(problems, raw.stack)
    crosschecks.region_and_partition(problems, raw)
    crosschecks.provided_secrets(problems, raw, provided)
    if config is not None:
        crosschecks.replica_region(problems, raw, config)
    if config is not None and config.grade == PRODUCTION_GRADE:
        crosschecks.production_grade(problems, config, workloads, str(raw.region))
    crosschecks.adopted(problems, raw, generated)
    problems.raise_if_any()
    assert config is not None  # validated
    never_rotated = {k for k, value in rotation_of(config, catalogue).items() if value == DEFAULT_ROTATION}
    kept = crosschecks.adopted_in_use(raw, never_rotated)
    return Settings(
        stack=raw.stack,
        region=str(raw.region),
        config=config,
        workloads=MappingProxyType(workloads),
        provided=MappingProxyType({s.key: secret_of(str(s.config_key)) for s in provided}),
        adopted=MappingProxyType(adopted_values(kept)),
        catalogue=catalogue,
        consumers=consumers,
    )


def load_settings(
    catalogue: tuple[SecretSpec, ...] = CATALOGUE, consumers: tuple[Consumer, ...] = CONSUMERS
) -> Settings:
    """Read and validate the current stack's config; raise ConfigError before anything is declared."""
    raw = read_config(pulumi.get_stack(), catalogue)
    config = pulumi.Config(PROJECT)

    def adopted(keys: list[str]) -> dict[str, pulumi.Output[str]]:
        if not keys:
            return {}
        values: pulumi.Output[Any] = config.require_secret_object(ADOPT)

        def value_of(key: str) -> pulumi.Output[str]:
            return pulumi.Output.secret(values.apply(lambda v: str(v[key])))

        return {key: value_of(key) for key in keys}

    return parse_settings(raw, config.require_secret, catalogue, consumers, adopted)
