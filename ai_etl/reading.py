"""Reading a stack's config through `pulumi.Config`, without judging it (settings.py judges)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from ai_etl import PROJECT
from ai_etl.catalogue import CATALOGUE, SecretSpec, Source, of_source


@dataclass(frozen=True)
class RawConfig:
    """The stack config as read, before any check; provided secrets only as presence facts."""

    stack: str
    values: Mapping[str, Any]
    """`ai-etl:` keys other than provided secrets (unknown ones included), JSON already decoded."""
    region: str | None
    provided_state: Mapping[str, str]
    """For each provided secret's config key: 'missing', 'empty', 'plaintext' or 'ok'."""


def _decoded(value: str) -> Any:
    """A config value as the engine hands it: objects, numbers and booleans arrive as JSON text."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def read_config(stack: str, catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> RawConfig:
    """The stack's config as raw values, read through `pulumi.Config`, without judging them.

    pulumi.Config reads a key but cannot list the keys a stack sets (needed to catch a misspelt
    one); the language host passes them all as PULUMI_CONFIG (pulumi/pulumi
    sdk/python/cmd/pulumi-language-python-exec), which `pulumi.runtime.get_config_env()` reads.
    """
    config = pulumi.Config(PROJECT)
    secret_keys = {str(s.config_key) for s in of_source(Source.PROVIDED, catalogue)}
    prefix = f"{PROJECT}:"
    keys = sorted(k.removeprefix(prefix) for k in pulumi.runtime.get_config_env() if k.startswith(prefix))
    values = {k: _decoded(str(config.get(k))) for k in keys if k not in secret_keys}
    provided_state: dict[str, str] = {}
    for key in sorted(secret_keys):
        # Read only to judge presence; the value leaves this module only as a secret Output.
        present = config.get(key)
        state = "ok" if pulumi.runtime.is_config_secret(config.full_key(key)) else "plaintext"
        provided_state[key] = "missing" if present is None else state if present.strip() else "empty"
    return RawConfig(stack, values, pulumi.Config("aws").get("region"), provided_state)
