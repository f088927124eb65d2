"""A stand-in for `pulumi config set` and `pulumi config rm` that changes a project's stack file as
the Pulumi CLI does, so a test can paste a printed fix into bash exactly as printed, with this on
the PATH as `pulumi` (`python -m tests.fakecli config set ...`).

What it follows, in pulumi/pulumi: the command lines of pkg/cmd/pulumi/config/config.go
(newConfigSetCmd, newConfigRemoveCmd: one key, an optional value, else the value from stdin;
newConfigSetAllCmd: repeated `--plaintext` and `--secret` pairs, no argument, the plain ones set
first, each pair split as io.go parseKeyValuePair splits it;
`--secret`, `--plaintext` and `--type` exclusive; looksLikeSecret) and the cobra/pflag rules they run
under (a word starting with `-` is a flag unless it follows `--`; an unknown flag is an error); keys
as pkg/cmd/pulumi/config/io.go parseConfigKey and sdk/go/common/resource/config/key.go ParseKey read
them; property paths as sdk/go/common/resource/properties_path.go parsePropertyPath (strict) reads
them; values stored as sdk/go/common/resource/config/map.go Set and Remove and object.go Set, Delete
and coerce store them. Where it cannot know what the CLI would do it is stricter: every plain value
set at a key whose name looks secret needs `--plaintext` (the CLI asks that only of values zxcvbn
rates as high-entropy), and every command must name its stack.

A `secure:` value is written as `{secure: "fake:<base64>"}`; `load` decrypts it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ai_etl.offline.stackconfig import is_secure, load_project, load_stack_config

BOOL_FLAGS = {"set": {"path", "secret", "plaintext", "raw"}, "rm": {"path"}, "set-all": {"path"}}
VALUE_FLAGS = {
    "set": {"stack", "type", "config-file"},
    "rm": {"stack", "config-file"},
    "set-all": {"stack", "config-file"},
}
ARRAY_FLAGS = {"set": set(), "rm": set(), "set-all": {"plaintext", "secret"}}
"""Flags given once per value (pflag StringArrayVar); set-all's `--json` is not followed here."""
SHORT = {"s": "stack"}
SECRET_LOOKING_NAME = re.compile(r"(?i)passwd|pass|password|pwd|secret|token")
"""config.go keyPattern."""
FAKE = "fake:"


def cli_stored(value: str, path: bool) -> Any:
    """What `pulumi config set` stores for `value` (pulumi/pulumi sdk/go/common/resource/config/
    object.go coerce): with --path, `true`/`false` become booleans, and digits without a leading
    zero an integer if one fits 64 bits (strconv.ParseInt, then ParseUint); otherwise, and without
    --path, the text as typed."""
    if not path:
        return value
    if value in ("true", "false"):
        return value == "true"
    if len(value) > 1 and value[0] == "0":
        return value
    fits = re.fullmatch(r"[+-]?[0-9]{1,20}", value) and -(2**63) <= int(value) < 2**64
    return int(value) if fits else value


class CliError(Exception):
    """What the CLI would refuse, with its reason."""


def parse_args(argv: list[str]) -> tuple[str, dict[str, Any], list[str]]:
    """`config <verb> ...` as cobra and pflag parse it: flags anywhere before `--`, `--name=value`
    or `--name value`, `-s value`; every other word a positional argument."""
    if argv[:1] != ["config"] or len(argv) < 2:
        raise CliError(f"unsupported command: {argv}")
    verb = {"remove": "rm", "delete": "rm"}.get(argv[1], argv[1])
    if verb not in BOOL_FLAGS:
        raise CliError(f"unsupported command: config {argv[1]}")
    flags: dict[str, Any] = {}
    args: list[str] = []
    words = iter(argv[2:])
    for w in words:
        if w == "--":
            args.extend(words)
            break
        if w.startswith("--"):
            name, eq, value = w[2:].partition("=")
            if name in BOOL_FLAGS[verb]:
                flags[name] = True if not eq else {"true": True, "false": False}[value]
            elif name in ARRAY_FLAGS[verb]:
                given = value if eq else next(words, None)
                if given is None:
                    raise CliError(f"flag needs an argument: --{name}")
                flags.setdefault(name, []).append(given)
            elif name in VALUE_FLAGS[verb]:
                flags[name] = value if eq else next(words, None)
                if flags[name] is None:
                    raise CliError(f"flag needs an argument: --{name}")
            else:
                raise CliError(f"unknown flag: --{name}")
        elif w.startswith("-") and len(w) > 1:
            short = SHORT.get(w[1])
            if short is None or short not in VALUE_FLAGS[verb]:
                raise CliError(f"unknown shorthand flag: {w[1]!r} in {w}")
            flags[short] = w[2:] or next(words, None)
        else:
            args.append(w)
    if verb != "set-all" and len([f for f in ("secret", "plaintext", "type") if f in flags]) > 1:
        raise CliError("if any flags in the group [secret plaintext type] are set none of the others can be")
    if len(args) not in {"rm": (1,), "set": (1, 2), "set-all": (0,)}[verb]:
        raise CliError(f"wrong number of arguments: {args}")
    if not flags.get("stack"):
        raise CliError("stricter than the CLI: every printed command names its stack")
    return verb, flags, args


def parse_key(key: str, path: bool, project: str) -> tuple[str, str]:
    """(namespace, name) of a key argument (io.go parseConfigKey, key.go ParseKey)."""
    if path:
        cut = min((i for i in (key.find("["), key.find(".")) if i >= 0), default=-1)
        if cut > 0:
            space, name = parse_key(key[:cut], False, project)
            return space, name + key[cut:]
    if ":" not in key:
        return project, key
    parts = key.split(":")
    if len(parts) == 2:
        return parts[0], parts[1]
    if len(parts) == 3 and parts[1] == "config":
        return parts[0], parts[2]
    raise CliError(f"could not parse {key} as a configuration key")


def parse_path(path: str) -> list[str | int]:
    """properties_path.go parsePropertyPath, strict."""
    elements: list[str | int] = []
    if path.startswith("."):
        raise CliError("expected property path to start with a name or index")
    while path:
        if path[0] == ".":
            path = path[1:]
            if not path:
                raise CliError("expected property path to end with a name or index")
            if path[0] == "[":
                raise CliError("expected property name after '.'")
        elif path[0] == "[":
            if len(path) > 1 and path[1] == '"':
                key, i = [], 2
                while True:
                    if i >= len(path):
                        raise CliError("missing closing quote in property name")
                    if path[i] == '"':
                        i += 1
                        break
                    if path[i] == "\\" and i + 1 < len(path) and path[i + 1] == '"':
                        key.append('"')
                        i += 2
                    else:
                        key.append(path[i])
                        i += 1
                if i >= len(path) or path[i] != "]":
                    raise CliError("missing closing bracket in property access")
                elements.append("".join(key))
                path = path[i + 1 :]
            else:
                end = path.find("]")
                if end < 0:
                    raise CliError("missing closing bracket in array index")
                segment = path[1:end]
                if not re.fullmatch(r"[+-]?[0-9]+", segment):
                    raise CliError(f"invalid array index: {segment!r}")
                elements.append(int(segment))
                path = path[end + 1 :]
        else:
            end = min((i for i in (path.find("."), path.find("[")) if i >= 0), default=len(path))
            elements.append(path[:end])
            path = path[end:]
    return elements


def _container(accessor: str | int) -> Any:
    """object.go newContainer: a list long enough for the index, or a map."""
    return [None] * (accessor + 1) if isinstance(accessor, int) else {}


def _set(node: Any, path: list[str | int], value: Any, depth: int) -> Any:
    """object.go Set: containers made as the path needs them; a scalar at the first level replaced."""
    if not path:
        return value
    head = path[0]
    if node is None or (depth == 1 and not isinstance(node, dict | list)):
        node = _container(head)
    elif not isinstance(node, dict | list):
        raise CliError(f"expected {'an array' if isinstance(head, int) else 'a map'}")
    if isinstance(node, list):
        if not isinstance(head, int):
            raise CliError("key for an array must be an int")
        if head < 0 or head > len(node):
            raise CliError("array index out of range")
        if head == len(node):
            node.append(None)
        node[head] = _set(node[head], path[1:], value, depth + 1)
    else:
        if not isinstance(head, str):
            raise CliError("key for a map must be a string")
        node[head] = _set(node.get(head), path[1:], value, depth + 1)
    return node


def _delete(node: Any, path: list[str | int]) -> None:
    """object.go Delete: a missing member is no error."""
    head, rest = path[0], path[1:]
    found = (isinstance(node, list) and isinstance(head, int) and 0 <= head < len(node)) or (
        isinstance(node, dict) and isinstance(head, str) and head in node
    )
    if found and rest:
        _delete(node[head], rest)
    elif found:
        del node[head]


TYPES: dict[str, Callable[[str], Any]] = {
    "string": str,
    "int": int,
    "float": float,
    "bool": lambda text: {"true": True, "false": False}[text],
}


def _typed(text: str, kind: str | None) -> Any:
    """value.go unmarshalObject for a typed value; without a type, coerce (object.go)."""
    if kind is None:
        return cli_stored(text, True)
    try:
        return TYPES[kind](text)
    except (KeyError, ValueError) as error:
        raise CliError(f"invalid {kind} value") from error


def pair(text: str) -> tuple[str, str]:
    """A set-all `key=value` (io.go parseKeyValuePair): split at the first `=`, or, for a key that
    starts with a quote, at that quote followed by `=`."""
    quote = text[:1] if text[:1] in ("'", '"') else ""
    key, eq, value = text.removeprefix(quote).partition(f"{quote}=")
    if not eq:
        raise CliError("config value must be in the form [key]=[value]")
    return key, value


def _key(text: str, path: bool, project: str) -> tuple[str, list[str | int]]:
    """A key argument's namespace and the parts of its path."""
    space, name = parse_key(text, path, project)
    parts: list[str | int] = parse_path(name) if path else [name]
    if path and (not parts or not isinstance(parts[0], str) or not parts[0]):
        raise CliError("first path segment of config key must be a non-empty string")
    return space, parts


def _store(config: dict[str, Any], space: str, parts: list[str | int], value: Any) -> None:
    """map.go Set: a top-level key replaced, a path set inside its object."""
    root = f"{space}:{parts[0]}"
    config[root] = value if len(parts) == 1 else _set(config.get(root), parts[1:], value, 1)


def _set_all(flags: dict[str, Any], config: dict[str, Any], project: str) -> None:
    """`config set-all`: the plain pairs, then the secret ones. A plain value is untyped
    (config.NewValue), so `--path` coerces it where it goes inside an object (map.go Set)."""
    path = bool(flags.get("path"))
    for text in flags.get("plaintext", []):
        key, value = pair(text)
        space, parts = _key(key, path, project)
        _store(config, space, parts, value if len(parts) == 1 else _typed(value, None))
    for text in flags.get("secret", []):
        key, value = pair(text)
        _store(config, *_key(key, path, project), encrypted(value))


def apply(argv: list[str], config: dict[str, Any], project: str, stdin: Callable[[], str | None]) -> None:
    """Apply one `pulumi config set|set-all|rm` command line to a stack file's `config:`; `stdin()`
    gives the value a `set` without one reads."""
    verb, flags, args = parse_args(argv)
    path = bool(flags.get("path"))
    if verb == "set-all":
        _set_all(flags, config, project)
        return
    space, parts = _key(args[0], path, project)
    name = parse_key(args[0], path, project)[1]
    root = f"{space}:{parts[0]}"
    if verb == "rm":
        if len(parts) == 1:
            config.pop(root, None)
        elif root in config:
            _delete(config[root], parts[1:])
        return
    text = args[1] if len(args) == 2 else stdin()
    if text is None:
        raise CliError("config value must be specified in non-interactive mode")
    if flags.get("secret"):
        value: Any = encrypted(text)
    else:
        if SECRET_LOOKING_NAME.search(name) and not flags.get("plaintext") and "type" not in flags:
            raise CliError(f"config value for '{space}:{name}' looks like a secret (stricter than the CLI)")
        value = text if len(parts) == 1 and "type" not in flags else _typed(text, flags.get("type"))
    _store(config, space, parts, value)


def decrypted(value: Any) -> Any:
    """`value` with every fake `secure:` value in it decrypted."""
    if isinstance(value, dict) and set(value) == {"secure"} and str(value["secure"]).startswith(FAKE):
        return base64.b64decode(value["secure"][len(FAKE) :]).decode()
    if isinstance(value, dict):
        return {k: decrypted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decrypted(v) for v in value]
    return value


def holds_secure(value: Any) -> bool:
    """Whether `value` is or holds a `secure:` value as the CLI knows one (`is_secure`)."""
    if is_secure(value):
        return True
    if isinstance(value, dict):
        return any(holds_secure(v) for v in value.values())
    return isinstance(value, list) and any(holds_secure(v) for v in value)


def load(project_dir: Path, stack: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A stack's config as the CLI hands it to the program: plain keys, and the secret ones (any
    `secure:` inside) decrypted; an object stays one, which the CLI's type checks see and the
    program reads as Go's JSON of it."""
    return handed(load_stack_config(stack, project_dir))


def handed(stored: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A stack file's `config:` as the CLI hands it to the program (see `load`)."""
    config = dict(stored)
    secrets = {key: decrypted(config.pop(key)) for key in [k for k, v in config.items() if holds_secure(v)]}
    return config, secrets


DUMPER: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""libyaml's emitter (PyYAML's own is several times slower): the suites write hundreds of files."""


def write(project_dir: Path, stack: str, config: dict[str, Any]) -> None:
    """Write a stack file holding `config`."""
    (project_dir / f"Pulumi.{stack}.yaml").write_text(
        yaml.dump({"config": config}, Dumper=DUMPER, sort_keys=False)
    )


def encrypted(value: str) -> dict[str, str]:
    """A value as `config set --secret` stores it here."""
    return {"secure": FAKE + base64.b64encode(value.encode()).decode()}


def main(argv: list[str]) -> int:
    """`pulumi config ...` in the current directory's project; a value not on the line is read
    from stdin: one line, as a terminal prompt reads it."""
    project_dir = Path.cwd()
    try:
        _, flags, _ = parse_args(argv)
        stack = str(flags["stack"])
        path = project_dir / f"Pulumi.{stack.replace('/', '-')}.yaml"
        if not path.exists():
            raise CliError(f"no stack named '{stack}' found")
        config = load_stack_config(stack, project_dir)

        def prompt() -> str | None:
            line = sys.stdin.readline()
            return line.removesuffix("\n") if line else None

        apply(argv, config, str(load_project(project_dir)["name"]), prompt)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return 255
    write(project_dir, stack, config)
    with open(os.environ.get("FAKE_PULUMI_LOG", os.devnull), "a") as log:
        log.write(json.dumps(argv) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
