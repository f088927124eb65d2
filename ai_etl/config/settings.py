"""Typed settings: the stack's config, validated once into frozen models before anything is declared.

`load_settings()` reads the config through `pulumi.Config`; `parse_settings()` is the pure part. It
reports every problem at once, each naming its key and the `pulumi config` command that fixes it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pulumi

from ai_etl.catalogue import (
    CATALOGUE,
    CONSUMERS,
    Consumer,
    SecretSpec,
    Source,
    check_catalogue,
    of_source,
    server_credentials,
    url_of,
)
from ai_etl.config import crosschecks, databases, providers, readers
from ai_etl.config.models import (
    DEFAULTS,
    DatabaseSettings,
    RedisSettings,
    StackConfig,
    WorkloadSettings,
    set_by_api,
)
from ai_etl.config.problems import ConfigError, Problems, Target, model_target, target_of, value_target
from ai_etl.config.reading import ADOPT, RawConfig, read_config
from ai_etl.grade import (
    PRODUCTION,
)
from ai_etl.names import PROJECT

__all__ = [
    "DEFAULTS",
    "ConfigError",
    "DatabaseSettings",
    "RedisSettings",
    "Settings",
    "StackConfig",
    "WorkloadSettings",
    "load_settings",
    "parse_settings",
]

DEFAULT_ROTATION = "initial"
"""The rotation value of a generated secret that `ai-etl:rotation` does not name."""


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
    rotation: Mapping[str, str] = field(default_factory=dict)
    """The rotation value of every generated secret a server does not hold, by key; bumping one
    rotates that secret."""
    generations: Mapping[str, int] = field(default_factory=dict)
    """The generation of every server credential (its integer rotation value, 0 if unset), by key:
    a bump sets a new password on the login role no running pod uses, and makes it the active one."""
    catalogue: tuple[SecretSpec, ...] = CATALOGUE
    consumers: tuple[Consumer, ...] = CONSUMERS
    secret: frozenset[str] = frozenset()
    """The `ai-etl:` keys stored with --secret: only settings the program hands on as secret Outputs
    (masking.Secret: auditEmail, auditEndpoint); any other is refused."""


def rotation_of(config: StackConfig, catalogue: tuple[SecretSpec, ...]) -> dict[str, str]:
    """The rotation value of every generated secret a server does not hold, by key
    (DEFAULT_ROTATION where none is set)."""
    return {
        s.key: config.rotation.get(s.key, DEFAULT_ROTATION)
        for s in of_source(Source.GENERATED, catalogue)
        if s.server is None
    }


def generations_of(entries: Mapping[str, Any], catalogue: tuple[SecretSpec, ...]) -> dict[str, int]:
    """The generation of every server credential, by key (0 where none is set), from the
    `ai-etl:rotation` entries as read (crosschecks.generations has refused any other value)."""
    values = {s.key: crosschecks.generation(entries.get(s.key, 0)) for s in server_credentials(catalogue)}
    return {key: value or 0 for key, value in values.items()}


def catalogue_of(config: StackConfig, catalogue: tuple[SecretSpec, ...]) -> tuple[SecretSpec, ...]:
    """The stack's catalogue: without the administrator's password of a server credential whose
    users the program sets through AWS's API (ElastiCache, models.set_by_api): no step logs in."""
    connections = config.connections()
    by_api = {
        s.key
        for s in server_credentials(catalogue)
        if set_by_api(connections[str(url_of(s, catalogue).connection)])
    }
    return tuple(s for s in catalogue if s.admin_of not in by_api)


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
    secret_elsewhere = {k for k, v in raw.elsewhere.items() if crosschecks.holds_secret(v)}
    problems = Problems(raw.stack, raw.secret | secret_elsewhere)
    provided = of_source(Source.PROVIDED, catalogue)
    generated = [s.key for s in of_source(Source.GENERATED, catalogue)]
    names = tuple(c.name for c in consumers)
    read_apart = {
        **dict.fromkeys(names, model_target(WorkloadSettings)),
        **{str(s.config_key): Target(secret=True) for s in provided},
    }
    core = {k: v for k, v in raw.values.items() if k not in names}
    given = raw.values.get("rotation")
    entries = given if isinstance(given, dict) else {}
    servers = server_credentials(catalogue)
    if isinstance(given, dict):  # a server credential's rotation value is a generation, judged apart
        core["rotation"] = {k: v for k, v in given.items() if k not in {s.key for s in servers}}
    config = problems.validate(StackConfig, core, extra=read_apart, present=crosschecks.stated(raw))
    workloads = {
        c.name: problems.validate(WorkloadSettings, raw.values.get(c.name), (c.name,)) for c in consumers
    }
    problems.stored_secret(StackConfig, raw.values)
    for c in consumers:
        problems.stored_secret(WorkloadSettings, raw.values.get(c.name), (c.name,))
    entry = value_target(StackConfig.model_fields["rotation"].annotation)
    for key in sorted(set(entries) - set(generated)):
        problems.unknown(("rotation", key), dict.fromkeys(generated, entry), entries[key], entries)
    known = {
        **{str(f.alias): target_of(f, raw.stack) for f in StackConfig.model_fields.values()},
        **read_apart,
        ADOPT: Target(secret=True),
    }
    crosschecks.misspelt_namespaces(problems, raw, known)
    crosschecks.stack_name(problems, raw.stack)
    crosschecks.region_and_partition(problems, raw)
    crosschecks.account_pin(problems, raw.elsewhere)
    if config is not None:
        catalogue = catalogue_of(config, catalogue)
    provided = of_source(Source.PROVIDED, catalogue)
    replaced = databases.replaced_admins(raw, catalogue)
    crosschecks.provided_secrets(problems, raw, provided, replaced)
    clear_text: list[str] = []
    if config is not None:
        crosschecks.replica_region(problems, raw, config)
        crosschecks.namespace(problems, raw, config)
        crosschecks.cache(problems, config)
        databases.check(problems, raw, config)
        clear_text = databases.clear_text(problems, config, config.grade == PRODUCTION)
    if config is not None and config.grade == PRODUCTION:
        crosschecks.production_grade(problems, config, workloads, raw.elsewhere)
    crosschecks.generations(problems, entries, servers)
    crosschecks.adopted(problems, raw, generated)
    # Provider settings that redirect the calls: refused at production grade, said at any other.
    provider_warnings = providers.provider_settings(
        problems, raw.elsewhere, raw.values.get("grade"), raw.stack, raw.from_project
    )
    problems.raise_if_any()
    assert config is not None  # validated
    for warning in crosschecks.image_warnings(config, workloads, raw.stack):
        pulumi.log.warn(warning)
    for warning in crosschecks.pin_and_alert_warnings(config, raw.elsewhere, raw.stack):
        pulumi.log.warn(warning)
    for warning in [*provider_warnings, *clear_text]:
        pulumi.log.warn(warning)
    # A refresh reads one value per entry and per server credential's verifiers (ai_etl/plan.py).
    values = len(catalogue) + len(servers)
    for warning in readers.watch_warnings(config, raw.elsewhere, raw.stack, str(raw.region), values):
        pulumi.log.warn(warning)
    rotation, generations = rotation_of(config, catalogue), generations_of(entries, catalogue)
    never_rotated = {k for k, value in rotation.items() if value == DEFAULT_ROTATION}
    # An adopted server credential stands in for the password of the role serving generation 0
    # (`<user>_blue`), which keeps that password through generation 1, while old pods may use it.
    never_rotated |= {k for k, value in generations.items() if value < 2}
    kept = crosschecks.adopted_in_use(raw, never_rotated)
    if config.takeover:  # left on, a later create would silently take over an object someone else made
        pulumi.log.warn(
            "takeover is on: the Kubernetes provider adopts objects that already exist and takes the "
            "fields others set on them; once the takeover is done (docs/takeover.md), turn it off: "
            f"pulumi config rm takeover --stack {shlex.quote(raw.stack)}"
        )
    return Settings(
        stack=raw.stack,
        region=str(raw.region),
        config=config,
        workloads=MappingProxyType(workloads),
        provided=MappingProxyType(
            {s.key: secret_of(str(s.config_key)) for s in provided if s.config_key not in replaced}
        ),
        adopted=MappingProxyType(adopted_values(kept)),
        rotation=MappingProxyType(rotation),
        generations=MappingProxyType(generations),
        catalogue=catalogue,
        consumers=consumers,
        secret=raw.secret,
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
