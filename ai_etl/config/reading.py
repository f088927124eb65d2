"""Reading a stack's config through `pulumi.Config`, without judging it (settings.py judges)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from ai_etl.catalogue import CATALOGUE, SecretSpec, Source, of_source
from ai_etl.names import PROJECT


@dataclass(frozen=True)
class RawConfig:
    """The stack config as read, before any check; provided secrets only as presence facts."""

    stack: str
    values: Mapping[str, Any]
    """`ai-etl:` keys other than provided secrets (unknown ones included), JSON already decoded."""
    region: str | None
    provided_state: Mapping[str, str]
    """For each provided secret's config key: 'missing', 'empty', 'plaintext' or 'ok'."""
    adopted: tuple[str, ...] = ()
    """The keys of `ai-etl:adopt` (live values kept at a takeover); their values are not read here."""
    adopt_encrypted: bool = True
    """Whether `ai-etl:adopt` was set with --secret."""


ADOPT = "adopt"
"""`ai-etl:adopt.<key>`: a generated secret's live value, kept until that secret's first rotation."""
NOT_AN_OBJECT = ""
"""`RawConfig.adopted` when `ai-etl:adopt` is not an object."""


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
    values = {k: _decoded(str(config.get(k))) for k in keys if k not in secret_keys and k != ADOPT}
    provided_state: dict[str, str] = {}
    for key in sorted(secret_keys):
        # Read only to judge presence; the value leaves this module only as a secret Output.
        present = config.get(key)
        state = "ok" if pulumi.runtime.is_config_secret(config.full_key(key)) else "plaintext"
        provided_state[key] = "missing" if present is None else state if present.strip() else "empty"
    # Only the adopted keys are read here, to check them; the values leave only as secret Outputs.
    adopt = _decoded(str(config.get(ADOPT))) if ADOPT in keys else {}
    adopted = tuple(sorted(adopt)) if isinstance(adopt, dict) else (NOT_AN_OBJECT,)
    encrypted = ADOPT not in keys or pulumi.runtime.is_config_secret(config.full_key(ADOPT))
    return RawConfig(stack, values, pulumi.Config("aws").get("region"), provided_state, adopted, encrypted)
