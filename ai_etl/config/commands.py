"""The `pulumi config` commands the config errors print as fixes: every word quoted for the shell and
every key written as the CLI parses it, so a fix pasted into bash does what it says and nothing else.

How the CLI reads a command line (pulumi/pulumi `pkg/cmd/pulumi/config/config.go`, newConfigSetCmd
and newConfigRemoveCmd; `io.go`, parseConfigKey; `sdk/go/common/resource/properties_path.go`,
parsePropertyPath): a key without a `:` is the project's; with `--path` its name is a property path
(`backend.replicas`, `auditExpectedReaders[0]`, `rotation["a.b"]`); a word starting with `-` is a
flag unless it follows `--`; `--path` turns the value `true` into a boolean and digits without a
leading zero into an integer (`sdk/go/common/resource/config/object.go`, coerce), unless `--type`
says otherwise; and a plain value set at a key whose name looks secret is refused as looking like
a secret unless `--plaintext` says it is meant (config.go, looksLikeSecret).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ai_etl.masking import hidden_credentials

Path = tuple[str | int, ...]
"""A config key as a path: its top-level name (with its namespace when it is not the project's,
`aws-etl:protect`), then the object keys and list indexes inside it."""

SECRET_LOOKING_NAME = re.compile(r"(?i)passwd|pass|password|pwd|secret|token")
"""Key names whose plain values the CLI checks for looking like a secret (config.go, keyPattern)."""


def word(text: str, quoted: bool = False) -> str:
    """`text` as one shell word. Printable text is single-quoted where needed (shlex.quote), or
    always if `quoted` (the house style for property paths), so no `$(...)`, backtick, `;`, `<` or
    `>` in it is ever run or redirected. Text with a control character (a newline, an escape) takes
    bash's `$'...'` form instead, which shlex cannot write: the fix then stays on one line, and no
    raw escape reaches the terminal."""
    if text.isprintable():
        plain = shlex.quote(text)
        return f"'{text}'" if quoted and plain == text else plain
    escaped = "".join(
        {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(ch)
        or (ch if ch.isprintable() else f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        for ch in text
    )
    return f"$'{escaped}'"


def shown(path: Path) -> str:
    """A key as the errors name it: the path as `--path` writes it, control characters escaped."""
    text = key_text(path) or ".".join(map(str, path))
    return text if text.isprintable() else json.dumps(text)[1:-1]


def key_text(path: Path) -> str | None:
    """The key argument of a `pulumi config` command for `path` (with `--path` when it has more
    than one part), or None if no property path can name it (a quoted part that ends in `\\`)."""
    if len(path) == 1:
        return str(path[0])
    parts = [_segment(part, first=i == 0) for i, part in enumerate(path)]
    return None if None in parts else "".join(str(p) for p in parts)


def _segment(part: str | int, first: bool) -> str | None:
    """One part of a property path: `[i]`, `.name`, or `["name"]` for a name holding `.` or `[`
    (or empty), with `"` escaped; the parser reads `\\"` as a quote, so a final `\\` cannot be
    written."""
    if isinstance(part, int):
        return f"[{part}]"
    if part and not set(part) & set(".["):
        return part if first else f".{part}"
    if part.endswith("\\"):
        return None
    return '["' + part.replace('"', '\\"') + '"]'


def value_text(value: Any) -> tuple[str, str | None]:
    """A JSON scalar as `config set --path` takes it, with the `--type` that keeps its type: text the
    CLI would turn into a boolean or an integer keeps `--type string`, a float `--type float`."""
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, int):
        return str(value), None
    if isinstance(value, float):
        return json.dumps(value), "float"
    text = str(value)
    return text, ("string" if coerced(text) is not None else None)


def coerced(text: str) -> bool | int | None:
    """What `config set --path` makes of `text` other than text: a boolean, or an integer that fits
    64 bits without a leading zero (object.go, coerce: strconv.ParseInt, then ParseUint)."""
    if text in ("true", "false"):
        return text == "true"
    if len(text) > 1 and text[0] == "0":
        return None
    if re.fullmatch(r"[+-]?[0-9]{1,20}", text) and -(2**63) <= int(text) < 2**64:  # 2**64 has 20 digits
        return int(text)
    return None


def leaves(path: Path, value: Any) -> Iterator[tuple[Path, Any]]:
    """Every scalar inside `value` with its path: what `config set --path`, once per leaf, rebuilds.
    Empty objects, empty lists and nulls hold nothing to keep."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves((*path, str(key)), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves((*path, index), item)
    elif value is not None:
        yield path, value


@dataclass(frozen=True)
class Commands:
    """`pulumi config` command lines for one stack."""

    stack: str

    def rm(self, path: Path) -> str | None:
        """Remove the key at `path`; None if no command can name it."""
        key = key_text(path)
        return None if key is None else self._line("rm", ("--path",) if len(path) > 1 else (), key)

    def set(
        self, path: Path, value: Any, accepts: Callable[[Any], bool] | None = None, text_only: bool = False
    ) -> str | None:
        """Set the scalar `value` at `path` in plain text, keeping its type unless the key `accepts`
        what the CLI would store instead (`2` for the quantity '2'). `text_only`: the key holds text
        whatever replaces a placeholder (an account id's digits stay a string)."""
        key = key_text(path)
        if key is None:
            return None
        if isinstance(value, str) and hidden_credentials(value) != value:
            return self.set_prompted(path)  # never printed: the CLI prompts for the value (masking.py)
        flags: tuple[str, ...] = ()
        if len(path) == 1:  # a top-level value is stored as the text typed (no coercion)
            text = value if isinstance(value, str) else json.dumps(value)
        else:
            text, kind = value_text(value)
            stored = coerced(text)
            if kind and not (accepts and accepts(text if stored is None else stored)):
                flags = ("--type", kind)
            if text_only and isinstance(value, str):
                flags = ("--type", "string")
        if SECRET_LOOKING_NAME.search(key) and not flags:
            flags = ("--plaintext",)  # a rotation value at `rotation.db-password` is plain by design
        return self._line("set", flags + (("--path",) if len(path) > 1 else ()), key, text)

    def set_list(self, path: Path, items: Sequence[str]) -> str | None:
        """Make the list at `path` hold `items`, in one paste: remove it, then set every item with one
        `config set-all --path --plaintext '<key>[i]=<item>' ...` (config.go, newConfigSetAllCmd; io.go
        parseKeyValuePair splits each pair at its first `=`). Items that `--path` would store as
        something else than text (set-all takes no `--type`) are set one `config set` each instead."""
        if not items:
            return self.rm(path)
        keys = [key_text((*path, i)) for i in range(len(items))]
        if None in keys or any(coerced(item) is not None for item in items):
            return joined(self.rm(path), *(self.set((*path, i), item) for i, item in enumerate(items)))
        pairs = " ".join(
            f"--plaintext {word(f'{key}={item}')}" for key, item in zip(keys, items, strict=True)
        )
        return joined(self.rm(path), f"pulumi config set-all --path {pairs} --stack {word(self.stack)}")

    def set_secret(self, path: Path) -> str | None:
        """Set the key at `path` encrypted, the value read from the prompt (without echo) or a pipe,
        so it stays out of shell history (config.go: no value argument, then stdin)."""
        key = key_text(path)
        if key is None:
            return None
        return self._line("set", ("--secret",) + (("--path",) if len(path) > 1 else ()), key)

    def set_prompted(self, path: Path) -> str | None:
        """Set the key at `path` in plain text, the value read from the prompt or a pipe: for a
        value the fix must not print (one stored with --secret that belongs in plain text). Without
        a value argument the CLI reads one (pulumi/pulumi `pkg/cmd/pulumi/config/config_set.go`,
        configSetCmd.run: stdin when it is no terminal, else ReadConsole)."""
        key = key_text(path)
        if key is None:
            return None
        flags = ("--plaintext",) if SECRET_LOOKING_NAME.search(key) else ()
        return self._line("set", flags + (("--path",) if len(path) > 1 else ()), key)

    def up(self) -> str:
        """Deploy the stack (`pulumi up` previews, then asks before it changes anything)."""
        return f"pulumi up --stack {word(self.stack)}"

    def _line(self, verb: str, flags: tuple[str, ...], key: str, *value: str) -> str:
        start = " ".join(word(w) for w in ("pulumi", "config", verb, *flags))
        args = " ".join((word(key, quoted="--path" in flags), *map(word, value)))
        stack = f"--stack {word(self.stack)}"
        if any(a.startswith("-") for a in (key, *value)):  # after `--`, a leading `-` is no flag
            return f"{start} {stack} -- {args}"
        return f"{start} {args} {stack}"


def joined(*commands: str | None) -> str | None:
    """Commands run one after another, each only if the one before it worked; None if any of them
    cannot be written."""
    if any(c is None for c in commands):
        return None
    return " && ".join(c for c in commands if c)
