"""Config problems, collected and reported at once, each with the command that fixes it."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import pulumi
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo


class ConfigError(pulumi.RunError):
    """The stack's config is invalid; the message lists every problem and its fix."""


class Problems:
    """Every problem with its fix, so the user fixes them all in one round."""

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.lines: list[str] = []

    def add(self, key: str, problem: str, fix: str) -> None:
        self.lines.append(f"  - {key}: {problem}\n      fix: {fix}")

    def set_cmd(self, key: str, example: Any) -> str:
        """`pulumi config set`, with --path for a key inside an object (else it sets a new top-level key)."""
        flags = " --path" if _is_path(key) else ""
        return f"pulumi config set{flags} {_quoted(key)} {example} --stack {self.stack}"

    def set_secret_cmd(self, key: str) -> str:
        """`pulumi config set --secret` with no value: the CLI prompts for it without echo (or reads
        a pipe), so the value stays out of shell history (pulumi/pulumi
        `pkg/cmd/pulumi/config/config_set.go`)."""
        return f"pulumi config set --secret {_quoted(key)} --stack {self.stack}"

    def unknown(self, key: str, known: Mapping[str, str | None]) -> None:
        """`key` is not a setting; suggest the closest known one, with a value to set it to if any."""
        parent, _, name = key.rpartition(".")
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; known: {', '.join(sorted(known))}"
        fix = f"pulumi config rm{' --path' if parent else ''} {_quoted(key)} --stack {self.stack}"
        if close and known[close[0]] is not None:
            fix += " && " + self.set_cmd(".".join(filter(None, (parent, close[0]))), known[close[0]])
        self.add(key, "is not a setting of this program" + hint, fix)

    def validate(
        self, model: type[BaseModel], data: Any, prefix: tuple[str, ...] = (), extra: tuple[str, ...] = ()
    ) -> Any:
        """`model` from `data`, or None with each problem added (keys located under `prefix`)."""
        try:
            return model.model_validate({} if data is None else data)
        except ValidationError as error:
            for e in error.errors():
                loc = tuple(map(str, e["loc"]))
                key, info = _path((*prefix, *e["loc"])), _field_at(model, loc)
                if e["type"] == "extra_forbidden":
                    fields = _model_at(model, loc[:-1]).model_fields.values()
                    known: dict[str, str | None] = dict.fromkeys(extra if len(loc) == 1 else ())
                    for f in fields:
                        known[str(f.alias)] = _example(f, self.stack) if _is_scalar(f) else None
                    self.unknown(key, known)
                elif e["type"] in ("model_type", "dict_type"):
                    # Replace the value with an object: remove it, then set each required field.
                    target = _model_at(model, loc) if loc else model
                    fix = f"pulumi config rm {_quoted(key)} --stack {self.stack}"
                    for name, f in target.model_fields.items():
                        if f.is_required():
                            fix += " && " + self.set_cmd(f"{key}.{f.alias or name}", _example(f, self.stack))
                    self.add(key, f"must be an object of settings, got {e['input']!r}", fix)
                else:
                    problem = (
                        f"is required: {info.description}" if e["type"] == "missing" and info else e["msg"]
                    )
                    if info is not None and info.default is None and not info.examples:
                        # Optional, with nothing to suggest: leaving it out is the fix.
                        problem += f" ({info.description})" if info.description else ""
                        self.add(key, problem, f"pulumi config rm {_quoted(key)} --stack {self.stack}")
                    else:
                        self.add(key, problem, self.set_cmd(key, _example(info, self.stack)))
            return None

    def raise_if_any(self, header: str = "") -> None:
        if self.lines:
            header = header or f"invalid configuration for stack '{self.stack}' (nothing was declared):"
            raise ConfigError(header + "\n" + "\n".join(self.lines))


def _path(parts: tuple[str | int, ...]) -> str:
    """A config path as `pulumi config --path` reads it: `backend.replicas`, `readers[0]` (pulumi/pulumi
    sdk/go/common/resource/properties_path.go, ParsePropertyPath: `[i]` indexes a list)."""
    return "".join(
        f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(parts)
    )


def _is_path(key: str) -> bool:
    return "." in key or "[" in key


def _quoted(key: str) -> str:
    """Quoted for the shell when it is a path (`[0]` would otherwise be a glob)."""
    return f"'{key}'" if _is_path(key) else key


def _model_at(model: type[BaseModel], loc: tuple[str, ...]) -> type[BaseModel]:
    """The nested model at `loc` (the deepest one on the way)."""
    for part in loc:
        info = next((f for f in model.model_fields.values() if f.alias == part), None)
        if info is None or not (isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)):
            break
        model = info.annotation
    return model


def _field_at(model: type[BaseModel], loc: tuple[str, ...]) -> FieldInfo | None:
    """The field at `loc`; for an entry of a mapping (`rotation.<key>`), the mapping's field."""
    info = None
    for part in loc:
        found = next((f for f in model.model_fields.values() if f.alias == part), None)
        if found is None:
            break
        info = found
        if isinstance(found.annotation, type) and issubclass(found.annotation, BaseModel):
            model = found.annotation
    return info


def _is_scalar(info: FieldInfo) -> bool:
    """Whether one `pulumi config set` can set the field (not an object or a mapping)."""
    return info.annotation in (str, int, bool) or bool(info.metadata)


def _example(info: FieldInfo | None, stack: str) -> str:
    """A value that fixes the field, as `pulumi config set` takes it."""
    value = (info.examples[0] if info.examples else info.default) if info else "<value>"
    return str(value).lower() if isinstance(value, bool) else str(value).format(stack=stack)
