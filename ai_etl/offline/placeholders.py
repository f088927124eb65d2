"""A stack's config as offline can have it: every value only the stack's secrets provider could
decrypt (a `secure:` value, or a `secret: true` key the stack leaves unset) gets a placeholder;
nothing else is invented.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ai_etl.offline.stackconfig import is_secure, load_project, load_stack_config

PLACEHOLDER_PREFIX = "offline-placeholder-"


def offline_config(
    stack: str, project_dir: Path = Path()
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """The stack's config, and placeholders for the secrets it cannot decrypt here.

    A `secure:` value needs the stack's secrets provider, which offline has not, so it gets a
    placeholder, as does a key that Pulumi.yaml declares `secret: true` and the stack leaves unset.
    A key is secret as a whole when any value inside it is (as the CLI marks it): an object or a
    list keeps its shape, with a placeholder for each `secure:` value in it, so that the CLI's type
    checks see what they would see decrypted. Nothing else is invented: a missing plain key stays
    missing, and a mapping that only looks like a `secure:` value is plain (`is_secure`).
    """
    config = load_stack_config(stack, project_dir)
    project = load_project(project_dir)
    declared = project.get("config") or {}
    secret_keys = [
        key if ":" in key else f"{project['name']}:{key}"
        for key, spec in declared.items()
        if isinstance(spec, dict) and spec.get("secret")
    ]
    encrypted = [key for key, value in config.items() if _holds_secure(value)]
    secrets: dict[str, Any] = {}
    for key in sorted({*encrypted, *(k for k in secret_keys if k not in config)}):
        value, name = config.pop(key, None), f"{PLACEHOLDER_PREFIX}{key.split(':', 1)[-1]}"
        secrets[key] = name if value is None else _placeholders(value, name)
    return config, secrets, sorted(secrets)


def _holds_secure(value: Any) -> bool:
    """Whether `value` is, or holds, an encrypted `secure:` value."""
    if is_secure(value):
        return True
    if isinstance(value, dict):
        return any(_holds_secure(v) for v in value.values())
    return isinstance(value, list) and any(_holds_secure(v) for v in value)


def _placeholders(value: Any, name: str) -> Any:
    """`value` with every `secure:` value inside it replaced by a placeholder named by its path,
    which holds a digest of the ciphertext: the ciphertext is in the committed stack file and its
    digest says nothing of the value, but a new ciphertext (a provided secret set again) makes a new
    placeholder, which the diff reports as a changed secret instead of "no changes"."""
    if is_secure(value):
        return f"{name}-{hashlib.sha256(value['secure'].encode()).hexdigest()[:12]}"
    if isinstance(value, dict):
        return {k: _placeholders(v, f"{name}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v, f"{name}[{i}]") for i, v in enumerate(value)]
    return value
