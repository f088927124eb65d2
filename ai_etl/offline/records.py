"""What one offline run records: each resource as the program registered it, each lookup, the stack
outputs, and the warnings; what tests and tools read back.

Secret values are wrapped in `Sensitive`, so nothing can mistake them for plain text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ai_etl.offline.sdk import is_secret_wire


@dataclass(frozen=True)
class Sensitive:
    """A value the program marked secret; its repr never shows the value."""

    value: Any

    def __repr__(self) -> str:
        return "Sensitive([redacted])"


@dataclass
class Registration:
    """One resource as the program registered it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    dependencies: list[str]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    replace_on_changes: list[str]
    ignore_changes: list[str]
    additional_secret_outputs: list[str]
    custom_timeouts: dict[str, str]
    """create / update / delete timeouts the program set (e.g. {"delete": "5m"})."""
    property_dependencies: dict[str, list[str]]
    """For each input, the resources its value came from (as the engine tells policies)."""
    provider: str = ""
    """The explicit provider's reference (`<urn>::<id>`); empty for the default provider."""
    inputs: dict[str, Any] = field(default_factory=dict)
    """Inputs as sent to the provider; secret values as `Sensitive`."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """What the mocked provider answered; secret values as `Sensitive`."""


@dataclass(frozen=True)
class Call:
    """One provider function call (an invoke) and what it answered."""

    token: str
    args: dict[str, Any]
    result: dict[str, Any]


@dataclass
class Run:
    """Everything one program run declared, in declaration order, and its stack outputs."""

    stack: str
    resources: list[Registration]
    exports: dict[str, Any]
    """Stack outputs; secret ones as `Sensitive`."""
    calls: list[Call] = field(default_factory=list)
    """The provider functions the program called (lookups), in the order it called them."""
    warnings: list[str] = field(default_factory=list)
    """What the program logged as warnings (`pulumi.log.warn`), as `pulumi preview` would show them."""
    provider_config: dict[str, Any] = field(default_factory=dict)
    """The stack's config outside the project's namespace (`aws:region`, `pulumi:...`): what the engine
    hands the default providers as their inputs, and reads itself; secret values as `Sensitive`."""

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name_suffix: str = "") -> Registration:
        found = [r for r in self.of_type(type_token) if r.name.endswith(name_suffix)]
        if len(found) != 1:
            raise LookupError(f"expected one {type_token} named *{name_suffix}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)

    def answer(self, token: str) -> dict[str, Any]:
        """What the one call of the provider function `token` answered."""
        (call,) = [c for c in self.calls if c.token == token]
        return call.result


def wrap_secrets(value: Any) -> Any:
    """Turn the wire form of secrets into `Sensitive`.

    Whole numbers come back as ints: the wire (a protobuf Struct) knows only doubles, and the
    providers convert them back; Kubernetes' schemas type them `integer`.
    """
    if is_secret_wire(value):
        return Sensitive(wrap_secrets(unwrap(value["value"])))
    if isinstance(value, dict):
        return {k: wrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wrap_secrets(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def unwrap(value: Any) -> Any:
    """The plain value, secrets included (for providers' behaviour and for tests of values)."""
    if isinstance(value, Sensitive):
        return unwrap(value.value)
    if is_secret_wire(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def secrets_in(value: Any) -> Iterator[Any]:
    """Every secret value inside `value`, unwrapped."""
    if isinstance(value, Sensitive):
        yield unwrap(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from secrets_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from secrets_in(item)
