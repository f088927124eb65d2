"""How a diff reads: as text like `pulumi preview --diff`, or as markdown for a pull-request comment.

A project may open either with its own reading of the change (a `Preface`, e.g. which credentials it
rotates); offline knows no project's meaning, only how to place it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ai_etl.offline.diff import Change, config_key


@dataclass(frozen=True)
class Preface:
    """Lines a project puts before the changes, in each format (each ends with its blank line)."""

    text: tuple[str, ...] = ()
    markdown: tuple[str, ...] = ()


NO_PREFACE = Preface()


@dataclass(frozen=True)
class ConfigChanges:
    """The provider settings a change makes (config_changes), and what the project says of each key."""

    fields: tuple[tuple[str, Any, Any], ...] = ()
    notes: Mapping[str, str] = field(default_factory=dict)
    """A line per config key (`aws:endpoints`), where the project has one."""

    def by_key(self) -> dict[str, list[tuple[str, Any, Any]]]:
        """The changed fields grouped by config key, in the order the keys first change."""
        grouped: dict[str, list[tuple[str, Any, Any]]] = {}
        for path, old, new in self.fields:
            grouped.setdefault(config_key(path), []).append((path, old, new))
        return grouped

    def heading(self) -> str:
        count = len(self.by_key())
        return f"Provider configuration this change makes ({count} key{'s' if count != 1 else ''})"


NO_CONFIG_CHANGES = ConfigChanges()


def _key_symbol(fields: list[tuple[str, Any, Any]]) -> str:
    if all(old is None for _, old, _ in fields):
        return "+"
    return "-" if all(new is None for _, _, new in fields) else "~"


PLAIN_KEY = re.compile(r"[A-Za-z0-9_.:\[\]/-]+")
"""A config key or path shown as it is; any other (a newline, an escape, a backtick in it: a stack
file's keys are anyone's text) is shown as a JSON string, its backticks escaped too, so that it
cannot end a line, colour a terminal, or close the markdown code it stands in."""


def _shown_key(text: str) -> str:
    return text if PLAIN_KEY.fullmatch(text) else json.dumps(text).replace("`", "\\u0060")


def config_text(config: ConfigChanges) -> list[str]:
    """The provider settings a change makes, as the text diff opens (nothing when there are none)."""
    if not config.fields:
        return []
    lines = [f"{config.heading()}, before any resource:"]
    for key, fields in config.by_key().items():
        note = config.notes.get(key)
        lines.append(f" {_key_symbol(fields)} {_shown_key(key)}" + (f"  ({note})" if note else ""))
        lines += [f"      ~ {_shown_key(path)}: {_value(old)} => {_value(new)}" for path, old, new in fields]
    return [*lines, ""]


def config_markdown(config: ConfigChanges) -> list[str]:
    """The same, as the pull-request comment opens."""
    if not config.fields:
        return []
    lines = [f"**{config.heading()}, before any resource:**", ""]
    diff = ["```diff"]
    for key, fields in config.by_key().items():
        note = config.notes.get(key)
        lines.append(f"- `{_shown_key(key)}`" + (f": {note}" if note else ""))
        diff.append(f"@@ {_shown_key(key)} @@")
        for path, old, new in fields:
            diff += [f"-   {_shown_key(path)}: {_value(old)}", f"+   {_shown_key(path)}: {_value(new)}"]
    return [*lines, "", *diff, "```", ""]


SYMBOL = {"create": "+", "delete": "-", "update": "~", "replace": "+-"}


def _value(v: Any) -> str:
    return "(none)" if v is None else json.dumps(v)


COLOUR = {"create": "\033[32m", "delete": "\033[31m", "update": "\033[33m", "replace": "\033[35m"}
RESET = "\033[0m"


def format_text(
    changes: list[Change],
    stack: str | None = None,
    unchanged: int | None = None,
    colour: bool = False,
    *,
    preface: Preface = NO_PREFACE,
    config: ConfigChanges = NO_CONFIG_CHANGES,
) -> str:
    """Like `pulumi preview --diff`: a header naming the stack, the provider settings changed, the
    preface, each change with its fields, and a closing count, unchanged resources included; colour
    only when asked (a terminal)."""
    lines = [f"Offline preview of stack {stack}", ""] if stack else []
    lines += config_text(config)
    lines += preface.text
    shared = shared_fields(changes)
    for c in changes:
        why = f"  [replace: {', '.join(c.replace_reasons)}]" if c.replace_reasons else ""
        line = f"{SYMBOL[c.op]:>2} {c.op:<7} {c.type}  {c.name}{why}"
        lines.append(f"{COLOUR[c.op]}{line}{RESET}" if colour else line)
        for path, old, new in c.fields:
            if _key(path, old, new) not in shared:
                lines.append(f"      ~ {path}: {_value(old)} => {_value(new)}")
    for names, fields in _grouped(shared).items():
        lines += ["", f"The same change on {len(names)} resources ({', '.join(names)}):"]
        lines += [f"      ~ {path}: {_value(old)} => {_value(new)}" for path, old, new in fields]
    if changes:
        lines.append("")
    lines.append(counts_line(changes, unchanged, len(config.by_key())))
    return "\n".join(lines)


def _key(path: str, old: Any, new: Any) -> tuple[str, str, str]:
    return path, json.dumps(old, sort_keys=True), json.dumps(new, sort_keys=True)


def shared_fields(changes: list[Change]) -> dict[tuple[str, str, str], list[str]]:
    """Each field change made alike on more than one resource (a label on every object, say), with
    the resources it is made on, so the text diff says it once."""
    on: dict[tuple[str, str, str], list[str]] = {}
    for c in changes:
        for path, old, new in c.fields:
            on.setdefault(_key(path, old, new), []).append(c.name)
    return {key: names for key, names in on.items() if len(names) > 1}


def _grouped(
    shared: dict[tuple[str, str, str], list[str]],
) -> dict[tuple[str, ...], list[tuple[str, Any, Any]]]:
    """The shared field changes, grouped by the resources they are made on."""
    groups: dict[tuple[str, ...], list[tuple[str, Any, Any]]] = {}
    for (path, old, new), names in shared.items():
        groups.setdefault(tuple(names), []).append((path, json.loads(old), json.loads(new)))
    return groups


def counts_line(changes: list[Change], unchanged: int | None = None, settings: int = 0) -> str:
    """`1 to update, 103 unchanged`, opened by the provider settings changed (`settings` keys), if any."""
    counts = {op: sum(1 for c in changes if c.op == op) for op in ("create", "update", "replace", "delete")}
    parts = [f"{settings} provider setting{'s' if settings != 1 else ''} changed"] if settings else []
    parts += [f"{n} to {op}" for op, n in counts.items() if n] or [
        "no resource changes" if settings else "no changes"
    ]
    if unchanged is not None:
        parts.append(f"{unchanged} unchanged")
    return ", ".join(parts)


def format_markdown(
    changes: list[Change],
    title: str = "Offline preview",
    *,
    preface: Preface = NO_PREFACE,
    config: ConfigChanges = NO_CONFIG_CHANGES,
) -> str:
    """A pull-request comment: the provider settings changed, the preface, a summary line, a table,
    and the changed fields folded."""
    lines = [f"### {title}", ""]
    if not changes and not config.fields:
        return "\n".join([*lines, "No changes."]) + "\n"
    lines += config_markdown(config)
    lines += preface.markdown
    if not changes:
        return "\n".join([*lines, f"**{counts_line(changes, settings=len(config.by_key()))}**"]) + "\n"
    lines += [
        f"**{counts_line(changes, settings=len(config.by_key()))}**",
        "",
        "| | operation | type | name | why |",
        "|---|---|---|---|---|",
    ]
    for c in changes:
        why = ("replaces on " + ", ".join(f"`{r}`" for r in c.replace_reasons)) if c.replace_reasons else ""
        lines.append(f"| {SYMBOL[c.op]} | {c.op} | `{c.type}` | `{c.name}` | {why} |")
    details = [c for c in changes if c.fields]
    if details:
        lines += ["", "<details><summary>Changed fields</summary>", "", "```diff"]
        for c in details:
            # A hunk header, not a `+`/`-` line: GitHub would paint a resource's name as added.
            lines.append(f"@@ {c.op} {c.name} @@")
            for path, old, new in c.fields:
                lines.append(f"-   {path}: {_value(old)}")
                lines.append(f"+   {path}: {_value(new)}")
        lines += ["```", "", "</details>"]
    return "\n".join(lines) + "\n"
