"""What the offline engine needs of the Pulumi SDK beyond its public API, in one place.

Only the wire form of a secret: the SDK's names for it are private (`pulumi.runtime.rpc.
_special_sig_key`, `_special_secret_sig`), so the values stand here as the protocol defines them
(pulumi/pulumi sdk/go/common/resource/sig/sig.go). pyproject.toml pins the SDK to one exact
version, and tests/test_offline.py holds these equal to the SDK's own.
"""

from __future__ import annotations

from typing import Any

SIG_KEY = "4dabf18193072939515e22adb298388d"
"""The key that marks a special value on the wire."""
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
"""Its value for a secret: `{SIG_KEY: SECRET_SIG, "value": ...}`."""


def is_secret_wire(value: Any) -> bool:
    """Whether `value` is a secret in its wire form."""
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def secret_wire(value: Any) -> dict[str, Any]:
    """`value` in the wire form of a secret."""
    return {SIG_KEY: SECRET_SIG, "value": value}
