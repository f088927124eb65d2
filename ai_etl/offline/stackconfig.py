"""A project's files as the Pulumi CLI reads them: `Pulumi.yaml` (name, program, declared config)
and `Pulumi.<stack>.yaml` beside it; the CLI's checks of the declared config, its defaults, and the
config handed to the program.

The stack file sits next to Pulumi.yaml (pulumi/pulumi sdk/go/common/workspace/paths.go,
ProjectStackPath; a project's `stackConfigDir` is not followed here), read by
sdk/go/common/workspace/loaders.go (LoadProjectBytes, LoadProjectStackBytes) with yaml.v3 through
sdk/go/common/encoding/marshal.go: here, yamlv3.py.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ai_etl.offline import yamlv3
from ai_etl.offline.clitext import cli_text, go_key_text
from ai_etl.offline.yamlv3 import GoMap, GoTime, YamlError

MAX_FILE_BYTES = 256 * 1024
"""The largest project or stack file offline reads. The CLI has no such limit; offline reads the
worst 256 KiB in about 5 seconds on a busy 2-core machine, and a stack file is a few kilobytes (a
thousand secrets, 200)."""

_CREDENTIAL_FIELDS = ("secretsprovider", "encryptedkey", "encryptionsalt")
"""ProjectStack's text fields (sdk/go/common/workspace/project.go): a mapping or a list there is a
yaml.v3 "cannot unmarshal !!map into string"."""

_FIXES = (
    ("already defined", "keep one of them"),
    ("excessive aliasing", "write the values out instead of through so many aliases"),
    ("unknown anchor", "define the anchor (&name) before the alias (*name) that uses it"),
    ("contains itself", "an alias cannot stand inside its own anchor's value"),
    ("cannot decode", "drop the tag, or give a value that fits it"),
    ("!!binary", "give the value as text, or valid base64 of UTF-8 text"),
    ("incompatible YAML document", "drop the %YAML directive (yaml.v3 reads only %YAML 1.1)"),
    ("control characters", "remove the control character (a NUL byte, or another below 0x20)"),
    ("UTF-8", "save the file as UTF-8"),
    ("nested deeper", "flatten the value"),
    ("map merge", "merge a mapping (<<: *anchor) or a list of them"),
    ("end of stream", "close what is open there (a quote or a bracket)"),
    ("escape code", "write a valid escape (\\uXXXX of a character, not a surrogate)"),
    ("a tab", "indent with spaces: YAML forbids tabs in indentation"),
)


STACK_SETTINGS = {"environment": "stack:environment", "secretsprovider": "stack:secretsprovider"}
"""A stack file's top-level settings that a render records beside the provider config (StackFile.settings)."""

STACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
"""A stack's name as the CLI takes it (pulumi/pulumi pkg/backend/diy/backend.go, validateStackName:
`^[A-Za-z0-9_.-]{1,100}$`); anything else, `/` or `..` included, would name another file."""


class StackFileError(ValueError):
    """A project or stack file the Pulumi CLI would not load (or offline cannot read): the message
    names the file, the line, the key and the fix."""


@dataclass(frozen=True)
class StackFile:
    """A stack file's config as the CLI hands it on (full keys), and what the CLI would warn."""

    config: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    """The file's settings besides `config:` that change what reaches the providers, by the name a
    render records them under (STACK_SETTINGS): the ESC environments it imports, whose values the
    CLI merges into the config (pulumi/pulumi sdk/go/common/workspace/project.go, ProjectStack
    Environment), and its secrets provider (where the stack's secrets are decrypted)."""


def _read_yaml(path: Path) -> yamlv3.Document:
    """A project or stack file as the CLI reads it: UTF-8 BOM stripped (loaders.go
    readFileStripUTF8BOM), then yaml.v3's Unmarshal (sdk/go/common/encoding/marshal.go)."""
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise StackFileError(
            f"{path.name}: {len(data):,} bytes, more than offline reads ({MAX_FILE_BYTES:,}); the "
            "Pulumi CLI has no such limit, but no stack file needs that much: move the bulk out"
        )
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return yamlv3.load(data)
    except YamlError as error:
        message = error.message
        if "cannot start any token" in message and _has_tab(data, error.line):
            message += " (a tab)"
        fix = next((fix for clue, fix in _FIXES if clue in message), "fix the YAML there")
        who = (
            "offline stops here (the Pulumi CLI's yaml.v3 would read it)"
            if error.offline
            else "the Pulumi CLI stops on it too (yaml.v3)"
        )
        key = _key_on_line(data, error.line)
        where = f"{_at(path, error.line)}" + (f" (key '{key}')" if key else "")
        raise StackFileError(f"{where}: {message}; {who}: {fix}") from None


_KEY_ON_LINE = re.compile(r"\s*(?:-\s+)*(['\"]?)([^'\"#\s{}\[\],][^#]*?)\1\s*:(?:\s|$)")


def _key_on_line(data: bytes, line: int | None) -> str | None:
    """The key a block mapping's line names, to say where an error is (never the line's value,
    which may be a secret)."""
    lines = data.split(b"\n")
    if line is None or not 0 < line <= len(lines):
        return None
    match = _KEY_ON_LINE.match(lines[line - 1].decode("utf-8", "replace"))
    return "".join(c if c.isprintable() else "?" for c in match.group(2)[:80]) if match else None


def _has_tab(data: bytes, line: int | None) -> bool:
    lines = data.split(b"\n")
    return line is not None and 0 < line <= len(lines) and b"\t" in lines[line - 1]


def _at(path: Path, line: int | None) -> str:
    return f"{path.name} line {line}" if line else path.name


def load_project(project_dir: Path = Path()) -> dict[str, Any]:
    """`Pulumi.yaml`: the project's name, runtime, program and config declarations (shorthand
    declarations rewritten as the CLI does). The project's folder is the current directory unless
    given, as `pulumi -C DIR` (pulumi/pulumi pkg/cmd/pulumi/pulumi.go, the persistent `--cwd` flag)."""
    path = project_dir / "Pulumi.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no Pulumi.yaml in {project_dir}: is it a Pulumi project?")
    document = _read_yaml(path)
    project = document.value
    # sdk/go/common/workspace/loaders.go LoadProjectBytes: ValidateProject, then
    # SimplifyMarshalledProject ("expected project to be an object"), then the name.
    if not isinstance(project, dict):
        raise StackFileError(f"{path.name}: {_not_a_mapping(project)}: a project is a mapping with `name:`")
    name = project.get("name")
    if not isinstance(name, str) or not name:
        raise StackFileError(
            f"{_at(path, document.line_of('name'))}: project is missing a non-empty string 'name' "
            "attribute (the Pulumi CLI refuses it too): set `name: <project>`"
        )
    declared = project.get("config")
    if declared is None:
        return project
    if not isinstance(declared, dict):
        raise StackFileError(
            f"{_at(path, document.line_of('config'))}: `config` must be a mapping of keys to their "
            f"declarations, not {_not_a_mapping(declared)}"
        )
    project["config"] = {key: _declaration(path, document, name, key, spec) for key, spec in declared.items()}
    return project


def _declaration(path: Path, document: yamlv3.Document, project: str, key: str, spec: Any) -> dict[str, Any]:
    """A key's declaration as the CLI reads it: a plain value or a list is shorthand for a default
    (project keys) or a value (other namespaces) (project.go RewriteShorthandConfigValues, whose
    isPrimitiveValue takes text, Go ints and booleans); a null declares nothing."""
    if spec is None:
        return {}
    if isinstance(spec, dict):
        spec = {k: _cli_value(v, path, document, ("config", key, k), default=True) for k, v in spec.items()}
        return {k: v for k, v in spec.items() if not (k in ("default", "value") and v is None)}
    if isinstance(spec, str | bool | list) or (isinstance(spec, int) and -(1 << 63) <= spec < 1 << 63):
        attribute = "default" if ":" not in key or key.startswith(f"{project}:") else "value"
        return {attribute: _cli_value(spec, path, document, ("config", key), default=True)}
    raise StackFileError(
        f"{_at(path, document.line_of('config', key))}: config key '{key}' is declared by "
        f"{type(spec).__name__} {spec!r}: declare it as a mapping (type:, default:) or a plain default"
    )


def _not_a_mapping(value: Any) -> str:
    if isinstance(value, GoMap):
        return "a mapping whose keys are not all text"
    return "empty" if value is None else f"a {_yaml_kind(value)}, not a mapping"


def _yaml_kind(value: Any) -> str:
    return "list" if isinstance(value, list) else "mapping" if isinstance(value, dict) else "plain value"


def program_of(project_dir: Path = Path()) -> Path:
    """The program a project runs: Pulumi.yaml's `main` (sdk/go/common/workspace/project.go, Main:
    "an optional override for the program's main entry-point location"), else the project's folder;
    a folder runs its `__main__.py`, as sdk/python/cmd/pulumi-language-python-exec runs the entry
    point with `runpy.run_path`."""
    main = project_dir / str(load_project(project_dir).get("main") or ".")
    return main / "__main__.py" if main.is_dir() else main


def load_stack_config(stack: str, project_dir: Path = Path()) -> dict[str, Any]:
    """The `config:` of `Pulumi.<stack>.yaml` as the CLI holds it: full keys, and values whose
    `cli_text` is what the program reads."""
    return read_stack_file(stack, project_dir).config


def read_stack_file(stack: str, project_dir: Path = Path()) -> StackFile:
    """`Pulumi.<stack>.yaml` as the CLI loads it (sdk/go/common/workspace/loaders.go
    LoadProjectStackBytes): yaml.v3 decodes it (first document only); a key without a namespace
    gets the project's (stackConfigNamespacedWithProject); each key is parsed as `<namespace>:<name>`
    (sdk/go/common/resource/config/key.go ParseKey, `ns:config:name` being `ns:name`); each value
    goes through yaml.v3 once more and becomes a config.Value (config/value.go, object.go
    unmarshalObject: a timestamp becomes Go's time.Time text). A null value is empty text, with
    the CLI's warning (loaders.go checkForEmptyConfig)."""
    if not STACK_NAME.fullmatch(stack):
        raise StackFileError(
            f"{stack!r} is not a stack name: stack names may only contain alphanumeric, hyphens, "
            "underscores, or periods (the Pulumi CLI's rule)"
        )
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.name}: is '{stack}' a stack of this project?")
    project = str(load_project(project_dir)["name"])
    document = _read_yaml(path)
    warnings = []
    if document.second_document is not None:
        warnings.append(
            f"{path.name} line {document.second_document}: a second YAML document, which the Pulumi "
            "CLI ignores (yaml.v3 reads the first only): merge it into the first, or remove it"
        )
    data = document.value
    if data is None:
        return StackFile({}, warnings)
    if not isinstance(data, dict):
        raise StackFileError(f"{path.name}: {_not_a_mapping(data)}: a stack file is a mapping with `config:`")
    for name in _CREDENTIAL_FIELDS:
        if isinstance(data.get(name), list | dict):
            raise StackFileError(
                f"{_at(path, document.line_of(name))}: `{name}` must be text, not a "
                f"{_yaml_kind(data[name])} (the Pulumi CLI cannot load it); set it back to what "
                "`pulumi stack init` wrote"
            )
    settings = {name: data[key] for key, name in STACK_SETTINGS.items() if data.get(key) not in (None, "")}
    raw = data.get("config")
    if raw is None:
        return StackFile({}, warnings, settings)
    # A key that is not written as text (`!!binary`, `1`, `~`) makes `config:` a Go
    # map[interface{}]interface{} (go-yaml/yaml v3 decode.go, isStringMap), which the CLI's
    # stackConfigNamespacedWithProject (loaders.go) passes on without adding the project's namespace
    # to any key. A !!binary key decodes to Go text (decode.go scalar: `resolved = string(data)`),
    # which the CLI marshals again and reads back as that key (pulumi/pulumi sdk/go/common/resource/
    # config/map.go Map.UnmarshalYAML, key.go ParseKey); any other is refused by ParseKey.
    namespaced = not isinstance(raw, GoMap)
    if isinstance(raw, GoMap):
        odd = [k for _, k in raw if not isinstance(k, str)]
        if odd:
            first = odd[0]
            raise StackFileError(
                f"{_at(path, document.line_of('config', first))}: config key {go_key_text(first)} is "
                f"not text, and the Pulumi CLI cannot load it (could not parse {go_key_text(first)} as "
                "a configuration key): write it as `<namespace>:<name>`"
            )
        raw = {k: value for (_, k), value in raw.items()}
    if not isinstance(raw, dict):
        raise StackFileError(
            f"{_at(path, document.line_of('config'))}: `config` must be a mapping of keys to values, "
            f"not a {_yaml_kind(raw)} (the Pulumi CLI cannot load it)"
        )
    config: dict[str, Any] = {}
    written: dict[str, str] = {}
    for key, value in raw.items():
        line = document.line_of("config", key)
        if not namespaced and ":" not in key:
            raise StackFileError(
                f"{_at(path, line)}: could not parse {key} as a configuration key: the Pulumi CLI gives "
                "no key the project's namespace while another key of `config:` is written `!!binary`: "
                f"write `{project}:{key}`, or that key as text"
            )
        full = _parse_key(key if ":" in key else f"{project}:{key}", path, line)
        if full in config:
            # Go's map iteration order decides which one the CLI keeps: differently on each run.
            raise StackFileError(
                f"{_at(path, line)}: config keys '{written[full]}' (line "
                f"{document.line_of('config', written[full])}) and '{key}' are both '{full}'; the "
                "Pulumi CLI keeps either one, at random: keep one of them"
            )
        written[full] = key
        config[full] = _cli_value(value, path, document, ("config", key))
    empty = [f'"{key}"' for key, value in config.items() if value is None]
    if empty:
        plural = "s" if len(empty) > 1 else ""
        keys = empty[0] if len(empty) == 1 else (", " if len(empty) > 2 else " and ").join(empty)
        warnings.append(
            f"No value for configuration key{plural} {keys}. This is currently treated as an empty "
            'string `""`, but will be treated as `null` in a future version of pulumi.\n'
            f'Set the value{plural} to `""` to avoid this warning.'
        )
    return StackFile(config, warnings, settings)


def _parse_key(key: str, path: Path, line: int | None) -> str:
    """sdk/go/common/resource/config/key.go ParseKey: `<namespace>:<name>`, or the old
    `<namespace>:config:<name>`, which is the same key."""
    parts = key.split(":")
    if len(parts) == 2:
        return key
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        return f"{parts[0]}:{parts[2]}"
    raise StackFileError(
        f"{_at(path, line)}: could not parse {key} as a configuration key (configuration keys "
        "should be of the form `<namespace>:<name>`), as the Pulumi CLI says: rename it"
    )


def _cli_value(
    value: Any, path: Path, document: yamlv3.Document, where: tuple[Any, ...], *, default: bool = False
) -> Any:
    """A decoded value as the CLI holds it after its second yaml.v3 pass (loaders.go marshals the
    stack and reads it again) and config/object.go unmarshalObject: a timestamp is Go's time.Time
    text (`2026-12-01 00:00:00 +0000 UTC`; a project's default, json.Marshal's RFC 3339), a key that
    is not text is Go's `%v` of it, -0 is 0, and NaN or infinity stop the CLI (encoding/json:
    "unsupported value")."""
    if isinstance(value, float):
        if not math.isfinite(value):
            shown = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
            raise StackFileError(
                f"{_at(path, document.line_of(*where))}: {'.'.join(where[1:])} is {shown}, which the "
                f"Pulumi CLI cannot load (json: unsupported value: {shown}): quote it for text"
            )
        return 0 if value == 0 else value
    if isinstance(value, GoTime):
        again = yamlv3.parse_timestamp(value.rfc3339nano())
        if again is None:
            return value.rfc3339nano()
        return again.rfc3339nano() if default else again.go_string()
    if isinstance(value, list):
        return [_cli_value(v, path, document, where, default=default) for v in value]
    if isinstance(value, GoMap):
        keys = [go_key_text(k) for _, k in value]
        if len(set(keys)) < len(keys):
            twice = next(k for k in keys if keys.count(k) > 1)
            raise StackFileError(
                f"{_at(path, document.line_of(*where))}: {'.'.join(where[1:])} has two keys that the "
                f"Pulumi CLI reads as '{twice}', keeping either one at random: keep one of them"
            )
        return {
            text: _cli_value(v, path, document, (*where, text), default=default)
            for text, v in zip(keys, value.values(), strict=True)
        }
    if isinstance(value, dict):
        if set(value) == {"secure"} and isinstance(value["secure"], GoTime):
            raise StackFileError(
                f"{_at(path, document.line_of(*where, 'secure'))}: {'.'.join(where[1:])} is `secure:` "
                "an unquoted date, which the Pulumi CLI stores as its text and reads back as a "
                "ciphertext that no secrets provider decrypts (config/object.go UnmarshalJSON, "
                "isSecureValue): quote the ciphertext, or set the value again with "
                "`pulumi config set --secret`"
            )
        return {k: _cli_value(v, path, document, (*where, k), default=default) for k, v in value.items()}
    return value


def is_secure(value: Any) -> bool:
    """A `secure:` value as the CLI knows one: a mapping of the one key `secure` to text
    (pulumi/pulumi sdk/go/common/resource/config/object.go isSecureValue, lines 540-550 at
    1b5949891b3c). Any other mapping that holds `secure` (a number, a list, a mapping, a second
    key) is a plain object, which the CLI hands to the program as it is. The program's reading of
    its stack files (ai_etl/config/stackfiles.py) is a second witness of the same rule: offline
    runs any program and imports none of it."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("secure"), str)


class StackConfigError(Exception):
    """The stack's config fails what the Pulumi CLI checks before the program runs: the CLI's own
    message (`cli_message`), then, on a line `  fix: ...` as the program prints its own, the
    command that fixes it (`fix`), which the CLI does not print."""

    def __init__(self, cli_message: str, fix: str) -> None:
        super().__init__(f"{cli_message} (the Pulumi CLI's own check)\n  fix: {fix}")
        self.cli_message = cli_message
        self.fix = fix


def _cli_list(keys: list[str]) -> str:
    """Keys as the CLI lists them: 'a', 'a' and 'b', 'a', 'b' and 'c'."""
    quoted = [f"'{k}'" for k in sorted(keys)]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def validate_config_value(type_name: str, items: Any, value: Any) -> bool:
    """sdk/go/common/workspace/project.go ValidateConfigValue. A stack's scalar reaches it as the
    text the program reads, an object as encoding/json decodes it (numbers are float64)
    (pkg/workspace/config.go validateStackConfigValue)."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int | float):
            return float(value).is_integer()
        return isinstance(value, str) and _go_atoi(value)
    if type_name == "boolean":
        return value in ("true", "false") or isinstance(value, bool)
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or not isinstance(items, dict) or "type" not in items:
        return False
    return all(validate_config_value(str(items["type"]), items.get("items"), item) for item in value)


def _go_atoi(text: str) -> bool:
    """strconv.Atoi: base-10 digits after an optional sign, within int64."""
    return bool(re.fullmatch(r"[+-]?[0-9]+", text)) and -(1 << 63) <= int(text) < 1 << 63


def _type_name(spec: Mapping[str, Any]) -> str:
    """project.go InferFullTypeName: array<integer> for an array of integers."""
    items = spec.get("items")
    return f"array<{_type_name(items)}>" if isinstance(items, dict) else str(spec["type"])


def _checked_value(value: Any) -> Any:
    """What validateStackConfigValue checks: the program's text of a scalar, or the object."""
    return value if isinstance(value, dict | list) else cli_text(value)


def apply_project_config(
    stack: str, project: Mapping[str, Any], config: Mapping[str, Any], secret_keys: Mapping[str, Any]
) -> dict[str, Any]:
    """What the CLI does with Pulumi.yaml's `config:` before the program runs: stop on keys the
    project declares without a default that the stack lacks, on a `secret: true` key set in plain
    text, or on a value of the wrong type; then add the declared defaults (pulumi/pulumi
    sdk/go/common/workspace/config.go mergeConfig and validateStackConfigValues, since moved to
    pkg/workspace/config.go, lines 119-157 at 1b5949891b3c). Each message is the CLI's, followed by
    the command that fixes it. `secret_keys` holds what the secrets provider would decrypt: text, or
    an object or list holding secrets, which a `type: string` key refuses as the CLI does."""
    name = str(project.get("name"))
    declared = {
        (key if ":" in key else f"{name}:{key}"): spec
        for key, spec in (project.get("config") or {}).items()
        if isinstance(spec, dict)
    }
    merged = dict(config)
    missing = []
    for key in sorted(declared):
        spec = declared[key]
        if key in merged or key in secret_keys:
            continue
        if "default" in spec or "value" in spec:
            merged[key] = spec.get("default", spec.get("value"))
        elif key.startswith(f"{name}:"):
            missing.append(key.split(":", 1)[1])
    if missing:
        values = "values" if len(missing) > 1 else "value"
        raise StackConfigError(
            f"Stack '{stack}' is missing configuration {values} {_cli_list(missing)}",
            " && ".join(_fix(stack, k, declared[f"{name}:{k}"]) for k in sorted(missing)),
        )
    for key in sorted(declared):
        spec, short = declared[key], key.split(":", 1)[1] if key.startswith(f"{name}:") else key
        if "type" not in spec or (key not in merged and key not in secret_keys):
            continue
        if spec.get("secret") and key not in secret_keys:
            raise StackConfigError(
                f"Stack '{stack}' with configuration key '{short}' must be encrypted as it's secret",
                _fix(stack, short, spec),
            )
        value = _checked_value(secret_keys[key] if key in secret_keys else merged[key])
        if not validate_config_value(str(spec["type"]), spec.get("items"), value):
            raise StackConfigError(
                f"Stack '{stack}' with configuration key '{short}' must be of type '{_type_name(spec)}'",
                _fix(stack, short, spec),
            )
    return merged


_EXAMPLES = {"string": "<text>", "integer": "<whole number>", "boolean": "<true or false>"}
_SECRET_LOOKING = re.compile(r"(?i)passwd|pass|password|pwd|secret|token")


def _fix(stack: str, key: str, spec: Mapping[str, Any]) -> str:
    """The command that sets a declared key as Pulumi.yaml declares it, every word quoted for the
    shell. A secret is set with `--secret`, which prompts for it; an object or a list key by key
    (`--path`); a scalar as text, which the CLI's check reads as its type (project.go
    ValidateConfigValue: "true", "42")."""
    where = f"--stack {shlex.quote(stack)}"
    if spec.get("secret"):
        return f"pulumi config set --secret {shlex.quote(key)} {where}"
    kind = spec.get("type")
    # A key named like a secret needs --plaintext for a value the CLI rates as one (pkg/cmd/pulumi/
    # config/config.go:1432 keyPattern, 1446-1460 looksLikeSecret): said whatever the value.
    flags = "--plaintext " if _SECRET_LOOKING.search(key) else ""
    if kind in ("object", "array"):
        path = f"{key}.<name>" if kind == "object" else f"{key}[0]"
        return f"pulumi config set {flags}--path {shlex.quote(path)} {shlex.quote('<value>')} {where}"
    example = shlex.quote(_EXAMPLES.get(str(kind), "<value>"))
    return f"pulumi config set {flags}{shlex.quote(key)} {example} {where}"


def engine_config(values: Mapping[str, Any]) -> dict[str, str]:
    """Config as the engine hands it to a program: each value's `cli_text`."""
    return {key: cli_text(value) for key, value in values.items()}
