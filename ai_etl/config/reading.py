"""Reading a stack's config through `pulumi.Config`, without judging it (settings.py judges); and,
from the project's stack files, what the config handed to the program does not say."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from ai_etl.catalogue import CATALOGUE, SecretSpec, Source, of_source
from ai_etl.config.commands import Path
from ai_etl.config.stackfiles import file_stack, plain_leaves, project_values, stack_files
from ai_etl.names import PROJECT


@dataclass(frozen=True)
class OtherStack:
    """Another stack of the project, as its stack file says: where its objects go."""

    namespace: str | None
    """Its `ai-etl:namespace`, None if it sets none (then `ai-etl-<stack>`)."""
    cluster: str | None
    region: str | None


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
    """Whether every value of `ai-etl:adopt` is encrypted."""
    adopt_plain: tuple[Path, ...] = ()
    """The leaves of `ai-etl:adopt` that the stack file holds in plain text beside `secure:` ones."""
    secret: frozenset[str] = frozenset()
    """The `ai-etl:` keys of `values` set with --secret (their values are never shown)."""
    elsewhere: Mapping[str, Any] = field(default_factory=dict)
    """Keys of every other namespace (`aws:region`, `aws-etl:protect`) with their decoded values;
    a secret one's value is SECRET instead."""
    others: Mapping[str, OtherStack] = field(default_factory=dict)
    """The project's other stacks, by name, as their stack files say."""
    stated: frozenset[str] | None = None
    """The keys the stack's own file sets (`ai-etl:protect`), None if it cannot be read: `values`
    also holds Pulumi.yaml's defaults, which the CLI merges in (pulumi/pulumi pkg/workspace/
    config.go, mergeConfig) and no one set."""

    from_project: frozenset[str] = frozenset()
    """The keys of `elsewhere` whose value comes from Pulumi.yaml's `config:`, not the stack's file
    (the CLI merges it in): only editing Pulumi.yaml removes them."""

    def is_set(self, key: str) -> bool:
        """Whether the stack sets the `ai-etl:` key `key` itself, not by a default of Pulumi.yaml."""
        if self.stated is not None:
            return f"{PROJECT}:{key}" in self.stated
        given = key in self.values or self.provided_state.get(key, "missing") != "missing"
        return given or (key == ADOPT and bool(self.adopted))


ADOPT = "adopt"
"""`ai-etl:adopt.<key>`: a generated secret's live value, kept until that secret's first rotation."""
NOT_AN_OBJECT = ""
"""`RawConfig.adopted` when `ai-etl:adopt` is not an object."""
SECRET = object()
"""`RawConfig.elsewhere`'s value of a secret key: never read here."""
IMPORTS = "stack:environment"
"""`RawConfig.elsewhere`'s entry for the ESC environments the stack file imports, if any."""


def _decoded(value: str) -> Any:
    """A config value as the engine hands it: objects, numbers and booleans arrive as JSON text. A
    number of more digits than Python reads (sys.get_int_max_str_digits, a ValueError) stays text,
    which every check refuses with a problem rather than a traceback."""
    try:
        return json.loads(value, parse_int=_integer)
    except (json.JSONDecodeError, RecursionError):  # text, or nested past what Python reads
        return value


INTEGER_DIGITS = 1000
"""The most digits read as a number, well within Python's limit (4300 by default)."""


def _integer(digits: str) -> int | str:
    return int(digits) if len(digits) <= INTEGER_DIGITS else digits


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def read_config(stack: str, catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> RawConfig:
    """The stack's config as raw values, read through `pulumi.Config`, without judging them.

    pulumi.Config reads a key but cannot list the keys a stack sets (needed to catch a misspelt
    one); the language host passes them all as PULUMI_CONFIG (pulumi/pulumi
    sdk/python/cmd/pulumi-language-python-exec), which `pulumi.runtime.get_config_env()` reads.
    The secret ones arrive as a list of keys, PULUMI_CONFIG_SECRET_KEYS (the language host's
    constructConfigSecretKeys, sdk/python/cmd/pulumi-language-python/main.go), which
    set_all_config keeps and is_config_secret looks a key up in (sdk/python/lib/pulumi/runtime/
    config.py); the engine lists a key there when any value inside it is `secure:` (pkg/engine/
    update.go, target.Config.SecureKeys; sdk/go/common/resource/config/object.go, Secure), and
    hands the whole object decrypted. So which leaves of an object are plain only its stack
    file tells.
    """
    config = pulumi.Config(PROJECT)
    secret_keys = {str(s.config_key) for s in of_source(Source.PROVIDED, catalogue)}
    prefix = f"{PROJECT}:"
    env = pulumi.runtime.get_config_env()
    keys = sorted(k.removeprefix(prefix) for k in env if k.startswith(prefix))
    values = {k: _decoded(str(config.get(k))) for k in keys if k not in secret_keys and k != ADOPT}
    secret = frozenset(k for k in values if pulumi.runtime.is_config_secret(config.full_key(k)))
    elsewhere = {
        k: SECRET if pulumi.runtime.is_config_secret(k) else _decoded(str(v))
        for k, v in sorted(env.items())
        if not k.startswith(prefix)
    }
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
    files = stack_files(PROJECT)
    own = files.pop(file_stack(stack), None)
    adopt_plain = tuple(plain_leaves(own.config.get(f"{PROJECT}:{ADOPT}"), (ADOPT,))) if own else ()
    others = {
        name: OtherStack(
            _text(f.config.get(f"{PROJECT}:namespace")),
            _text(f.config.get(f"{PROJECT}:clusterName")),
            _text(f.config.get("aws:region")),
        )
        for name, f in files.items()
    }
    if own and own.environment not in (None, "", [], {}):
        elsewhere[IMPORTS] = own.environment  # judged with the provider settings (providers.py)
    return RawConfig(
        stack,
        values,
        pulumi.Config("aws").get("region"),
        provided_state,
        adopted,
        encrypted and not adopt_plain,
        adopt_plain if encrypted else (),
        secret,
        elsewhere,
        others,
        frozenset(own.config) if own else None,
        frozenset(k for k in project_values(PROJECT) if k in elsewhere and not (own and k in own.config)),
    )
