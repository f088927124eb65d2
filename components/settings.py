"""Typed settings: the stack's config, read and validated once, before any resource is declared.

`load_settings()` reads `Pulumi.<stack>.yaml` through `pulumi.Config`; `parse_settings()` is the
pure part that checks every value and reports all problems at once, each naming its key and the
`pulumi config set` command that fixes it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlparse

import pulumi

from components.catalogue import CATALOGUE, SecretSpec, Source, check_catalogue, of_source

PROJECT = "ai-etl"
DEFAULT_ROTATION = "initial"
"""The keeper of a generated secret that `ai-etl:rotation` does not name."""

# Defaults of the scalar keys; Pulumi.yaml declares the same (a test holds them equal).
DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "qwenApiBase": "https://api.together.xyz/v1",
        "passwordLength": 48,
        "recoveryWindowInDays": 7,
        "protect": False,
    }
)
BACKEND_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "replicas": 2,
        "port": 8000,
        "livenessPath": "/health",
        "readinessPath": "/health",
        "cpuRequest": "100m",
        "memoryRequest": "256Mi",
        "cpuLimit": "1",
        "memoryLimit": "512Mi",
    }
)
# The guide's defaults: postgres-svc:5432/ai_etl and redis-svc:6379/0.
CONNECTION_DEFAULTS: Mapping[str, Mapping[str, str | int]] = MappingProxyType(
    {
        "database": MappingProxyType(
            {"host": "postgres-svc", "port": 5432, "name": "ai_etl", "user": "ai_etl"}
        ),
        "redis": MappingProxyType({"host": "redis-svc", "port": 6379, "db": 0}),
    }
)

PASSWORD_LENGTH_RANGE = (32, 256)
RECOVERY_WINDOW_RANGE = (7, 30)  # DeleteSecret's RecoveryWindowInDays, per the AWS API reference

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HOSTNAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_OIDC_PROVIDER_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}):oidc-provider/"
    r"(?P<issuer>[a-z0-9.-]+(/[A-Za-z0-9._~-]+)*)$"
)
# A container image reference: [registry[:port]/]path[:tag][@digest], lower-case path.
_IMAGE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")


class ConfigError(pulumi.RunError):
    """The stack's config is invalid; the message lists every problem and its fix."""


@dataclass(frozen=True)
class BackendSettings:
    """The backend Deployment's knobs (`ai-etl:backend`)."""

    image: str
    replicas: int = BACKEND_DEFAULTS["replicas"]
    port: int = BACKEND_DEFAULTS["port"]
    liveness_path: str = BACKEND_DEFAULTS["livenessPath"]
    readiness_path: str = BACKEND_DEFAULTS["readinessPath"]
    cpu_request: str = BACKEND_DEFAULTS["cpuRequest"]
    memory_request: str = BACKEND_DEFAULTS["memoryRequest"]
    cpu_limit: str = BACKEND_DEFAULTS["cpuLimit"]
    memory_limit: str = BACKEND_DEFAULTS["memoryLimit"]


@dataclass(frozen=True)
class Settings:
    """Everything the program needs to know about one environment."""

    stack: str
    namespace: str
    region: str
    oidc_provider_arn: str
    backend: BackendSettings
    provided: Mapping[str, pulumi.Output[str]] = field(repr=False)
    """Secret values of the provided secrets by catalogue key; never plain strings."""
    rotation: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    connections: Mapping[str, Mapping[str, str | int]] = field(default_factory=lambda: CONNECTION_DEFAULTS)
    qwen_api_base: str = DEFAULTS["qwenApiBase"]
    password_length: int = DEFAULTS["passwordLength"]
    recovery_window_in_days: int = DEFAULTS["recoveryWindowInDays"]
    protect: bool = DEFAULTS["protect"]
    catalogue: tuple[SecretSpec, ...] = CATALOGUE

    @property
    def prefix(self) -> str:
        """Prefix of this environment's resource and AWS names: `ai-etl-<stack>`."""
        return f"{PROJECT}-{self.stack}"

    @property
    def oidc_issuer(self) -> str:
        """The OIDC issuer (host and path) that the provider ARN names."""
        match = _OIDC_PROVIDER_ARN.match(self.oidc_provider_arn)
        assert match is not None  # parse_settings checked it
        return match["issuer"]

    def secret_name(self, key: str) -> str:
        """The Secrets Manager name of a catalogue key: `ai-etl/<stack>/<key>`."""
        return f"{PROJECT}/{self.stack}/{key}"

    def rotation_of(self, key: str) -> str:
        """The keeper value of a generated secret; bumping it rotates the secret."""
        return self.rotation.get(key, DEFAULT_ROTATION)

    @property
    def rotation_values(self) -> dict[str, str]:
        """The rotation value of every generated secret, by key."""
        return {spec.key: self.rotation_of(spec.key) for spec in of_source(Source.GENERATED, self.catalogue)}


class _Problems:
    """Collects every config problem so the user fixes them in one round."""

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.lines: list[str] = []

    def add(self, key: str, problem: str, fix: str) -> None:
        self.lines.append(f"  - {key}: {problem}\n      fix: {fix}")

    def set_cmd(self, key: str, example: str, *, secret: bool = False, path: bool = False) -> str:
        flags = " --secret" if secret else ""
        flags += " --path" if path else ""
        return f"pulumi config set{flags} {key} {example} --stack {self.stack}"

    def raise_if_any(self) -> None:
        if self.lines:
            raise ConfigError(
                f"invalid configuration for stack '{self.stack}' (nothing was declared):\n"
                + "\n".join(self.lines)
            )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_in(problems: _Problems, key: str, value: Any, low: int, high: int, example: str) -> int | None:
    if not _is_int(value) or not low <= value <= high:
        problems.add(
            key,
            f"must be a whole number from {low} to {high}, got {value!r}",
            problems.set_cmd(key, example),
        )
        return None
    return int(value)


def _object(
    problems: _Problems, key: str, raw: Any, known: Mapping[str, Any], example: str
) -> dict[str, Any]:
    """Check a config object: a mapping whose keys are all known (a typo is an error, not a no-op)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add(key, f"must be an object, got {raw!r}", example)
        return {}
    for name in raw:
        if name not in known:
            problems.add(
                f"{key}.{name}",
                f"is not a known setting; known: {', '.join(sorted(known))}",
                f"pulumi config rm --path '{key}.{name}' --stack {problems.stack}",
            )
    return {name: value for name, value in raw.items() if name in known}


def _parse_backend(problems: _Problems, raw: Any) -> BackendSettings | None:
    known = {"image": None, **BACKEND_DEFAULTS}
    before = len(problems.lines)
    values = {**BACKEND_DEFAULTS, **_object(problems, "backend", raw, known, "see README: backend")}
    image = values.get("image")
    if not isinstance(image, str) or not _IMAGE.match(image):
        problems.add(
            "backend.image",
            "is required: the backend's container image, e.g. registry.example.com/ai-etl-backend:1.4.2"
            + ("" if image is None else f" (got {image!r}, not an image reference)"),
            problems.set_cmd("'backend.image'", "registry.example.com/ai-etl-backend:1.4.2", path=True),
        )
    replicas = values["replicas"]
    if not _is_int(replicas) or replicas < 1:
        problems.add(
            "backend.replicas",
            f"must be a positive whole number, got {replicas!r}",
            problems.set_cmd("'backend.replicas'", "2", path=True),
        )
    port = values["port"]
    if not _is_int(port) or not 1 <= port <= 65535:
        problems.add(
            "backend.port",
            f"must be a port number from 1 to 65535, got {port!r}",
            problems.set_cmd("'backend.port'", "8000", path=True),
        )
    for name in ("livenessPath", "readinessPath"):
        if not isinstance(values[name], str) or not values[name].startswith("/"):
            problems.add(
                f"backend.{name}",
                f"must be an HTTP path starting with '/', got {values[name]!r}",
                problems.set_cmd(f"'backend.{name}'", "/health", path=True),
            )
    for name in ("cpuRequest", "memoryRequest", "cpuLimit", "memoryLimit"):
        if not isinstance(values[name], str) or not _QUANTITY.match(values[name]):
            problems.add(
                f"backend.{name}",
                f"must be a Kubernetes quantity such as '500m' or '512Mi', got {values[name]!r}",
                problems.set_cmd(f"'backend.{name}'", BACKEND_DEFAULTS[name], path=True),
            )
    if len(problems.lines) > before or not isinstance(image, str):
        return None
    return BackendSettings(
        image=image,
        replicas=replicas,
        port=port,
        liveness_path=values["livenessPath"],
        readiness_path=values["readinessPath"],
        cpu_request=values["cpuRequest"],
        memory_request=values["memoryRequest"],
        cpu_limit=values["cpuLimit"],
        memory_limit=values["memoryLimit"],
    )


def _parse_connection(problems: _Problems, name: str, raw: Any) -> Mapping[str, str | int]:
    defaults = CONNECTION_DEFAULTS[name]
    values = {**defaults, **_object(problems, name, raw, defaults, "see README: " + name)}
    for field_name, default in defaults.items():
        value = values[field_name]
        path = f"'{name}.{field_name}'"
        if field_name == "port":
            _int_in(problems, f"{name}.port", value, 1, 65535, str(default))
        elif _is_int(default):
            if not _is_int(value) or value < 0:
                problems.add(
                    f"{name}.{field_name}",
                    f"must be a whole number of 0 or more, got {value!r}",
                    problems.set_cmd(path, str(default), path=True),
                )
        elif field_name == "host":
            if not isinstance(value, str) or not _HOSTNAME.match(value):
                problems.add(
                    f"{name}.host",
                    f"must be a DNS name such as {default!r}, got {value!r}",
                    problems.set_cmd(path, str(default), path=True),
                )
        elif not isinstance(value, str) or not value:
            problems.add(
                f"{name}.{field_name}",
                f"must be a non-empty string, got {value!r}",
                problems.set_cmd(path, str(default), path=True),
            )
    return MappingProxyType(values)


def _parse_rotation(problems: _Problems, raw: Any, catalogue: tuple[SecretSpec, ...]) -> Mapping[str, str]:
    generated = [spec.key for spec in of_source(Source.GENERATED, catalogue)]
    example = problems.set_cmd("'rotation.jwt-secret-key'", "2026-12-01", path=True)
    values = _object(problems, "rotation", raw, dict.fromkeys(generated), example)
    rotation: dict[str, str] = {}
    for key, value in values.items():
        # `config set --path` stores 2026 as a number: a whole number is as good as a string.
        text = str(value) if _is_int(value) else value
        if not isinstance(text, str) or not text.strip():
            problems.add(
                f"rotation.{key}",
                f"must be a non-empty string (a date is a good choice), got {value!r}",
                problems.set_cmd(f"'rotation.{key}'", "2026-12-01", path=True),
            )
        else:
            rotation[key] = text
    return MappingProxyType(rotation)


_OBJECT_KEYS = ("backend", "rotation", *CONNECTION_DEFAULTS)
_SCALAR_KEYS = ("namespace", "oidcProviderArn", "qwenApiBase")
_INT_KEYS = ("passwordLength", "recoveryWindowInDays")
KNOWN_KEYS = (*_SCALAR_KEYS, *_INT_KEYS, "protect", *_OBJECT_KEYS)
"""Every non-secret `ai-etl:` key; the provided secrets' keys come from the catalogue."""


def _config_keys() -> set[str]:
    """Every config key the engine handed the program (set directly, or in PULUMI_CONFIG)."""
    return set(pulumi.runtime.config.CONFIG.get()) | set(pulumi.runtime.config.get_config_env())


@dataclass(frozen=True)
class RawConfig:
    """The stack config as read, before any check; `provided` holds only presence facts."""

    stack: str
    values: Mapping[str, Any]
    """Non-secret `ai-etl:` keys (objects already parsed from JSON); absent keys are missing."""
    region: str | None
    provided_state: Mapping[str, str]
    """For each provided secret's config key: 'missing', 'empty', 'plaintext' or 'ok'."""
    unknown: tuple[str, ...] = ()
    """`ai-etl:` keys the program does not read (a typo would otherwise be silently ignored)."""


def parse_settings(
    raw: RawConfig,
    secret_of: Callable[[str], pulumi.Output[str]],
    catalogue: tuple[SecretSpec, ...] = CATALOGUE,
) -> Settings:
    """Validate `raw` into Settings, or raise ConfigError listing every problem.

    `secret_of(config_key)` returns a provided secret's value as a secret Output; it is called
    only once every check has passed.
    """
    check_catalogue(catalogue)
    problems = _Problems(raw.stack)
    values = raw.values

    known = sorted(
        KNOWN_KEYS + tuple(s.config_key for s in of_source(Source.PROVIDED, catalogue) if s.config_key)
    )
    for key in raw.unknown:
        close = difflib.get_close_matches(key, known, n=1)
        problems.add(
            key,
            "is not a setting of this program" + (f"; did you mean {close[0]}?" if close else ""),
            f"pulumi config rm {key} --stack {raw.stack}"
            + (f", then set {close[0]} instead" if close else ""),
        )

    if not _DNS_LABEL.match(raw.stack) or len(raw.stack) > 40:
        problems.add(
            "stack name",
            f"{raw.stack!r} must be lower-case letters, digits and '-' (at most 40): it names "
            "the namespace, Secrets Manager paths and IAM roles",
            "pulumi stack rename <name> (e.g. dev, production)",
        )

    namespace = values.get("namespace", f"{PROJECT}-{raw.stack}")
    if not isinstance(namespace, str) or not _DNS_LABEL.match(namespace) or len(namespace) > 63:
        problems.add(
            "namespace",
            f"{namespace!r} is not a valid namespace name (RFC 1123 label: lower-case letters, "
            "digits and '-', at most 63 characters)",
            problems.set_cmd("namespace", f"{PROJECT}-{raw.stack}"),
        )

    if raw.region is None or not _REGION.match(raw.region):
        problems.add(
            "aws:region",
            "is required: the AWS region of Secrets Manager"
            + ("" if raw.region is None else f" ({raw.region!r} is not a region name)"),
            f"pulumi config set aws:region us-east-1 --stack {raw.stack}",
        )

    oidc = values.get("oidcProviderArn")
    if not isinstance(oidc, str) or not _OIDC_PROVIDER_ARN.match(oidc):
        problems.add(
            "oidcProviderArn",
            "is required: the ARN of the cluster's IAM OIDC provider, "
            "arn:aws:iam::<account>:oidc-provider/<issuer host/path>"
            + ("" if oidc is None else f" (got {oidc!r})"),
            problems.set_cmd(
                "oidcProviderArn",
                "arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>",
            ),
        )

    for spec in of_source(Source.PROVIDED, catalogue):
        assert spec.config_key is not None
        state = raw.provided_state.get(spec.config_key, "missing")
        fix = problems.set_cmd(spec.config_key, "<value>", secret=True)
        if state == "missing":
            problems.add(spec.config_key, f"is required: {spec.description}", fix)
        elif state == "empty":
            problems.add(spec.config_key, "is empty", fix)
        elif state == "plaintext":
            problems.add(
                spec.config_key,
                "is stored in plain text in the stack file; it must be encrypted",
                fix + " (and rotate the value: it has been exposed)",
            )

    qwen_api_base = values.get("qwenApiBase", DEFAULTS["qwenApiBase"])
    parsed = urlparse(qwen_api_base) if isinstance(qwen_api_base, str) else None
    if parsed is None or parsed.scheme not in ("https", "http") or not parsed.netloc:
        problems.add(
            "qwenApiBase",
            f"must be an http(s) URL, got {qwen_api_base!r}",
            problems.set_cmd("qwenApiBase", DEFAULTS["qwenApiBase"]),
        )
    elif parsed.username or parsed.password:
        problems.add(
            "qwenApiBase",
            "must not carry credentials: the API key goes in qwenApiKey",
            problems.set_cmd("qwenApiBase", DEFAULTS["qwenApiBase"]),
        )

    password_length = _int_in(
        problems,
        "passwordLength",
        values.get("passwordLength", DEFAULTS["passwordLength"]),
        *PASSWORD_LENGTH_RANGE,
        "48",
    )
    recovery = _int_in(
        problems,
        "recoveryWindowInDays",
        values.get("recoveryWindowInDays", DEFAULTS["recoveryWindowInDays"]),
        *RECOVERY_WINDOW_RANGE,
        "30",
    )
    protect = values.get("protect", DEFAULTS["protect"])
    if not isinstance(protect, bool):
        problems.add(
            "protect", f"must be true or false, got {protect!r}", problems.set_cmd("protect", "true")
        )

    backend = _parse_backend(problems, values.get("backend"))
    connections = MappingProxyType(
        {name: _parse_connection(problems, name, values.get(name)) for name in CONNECTION_DEFAULTS}
    )
    rotation = _parse_rotation(problems, values.get("rotation"), catalogue)

    problems.raise_if_any()
    assert backend is not None and password_length is not None and recovery is not None
    provided = {}
    for spec in of_source(Source.PROVIDED, catalogue):
        assert spec.config_key is not None
        provided[spec.key] = secret_of(spec.config_key)
    return Settings(
        stack=raw.stack,
        namespace=namespace,
        region=raw.region or "",
        oidc_provider_arn=oidc or "",
        backend=backend,
        provided=MappingProxyType(provided),
        rotation=rotation,
        connections=connections,
        qwen_api_base=qwen_api_base,
        password_length=password_length,
        recovery_window_in_days=recovery,
        protect=protect,
        catalogue=catalogue,
    )


def read_config(
    config: pulumi.Config, stack: str, catalogue: tuple[SecretSpec, ...] = CATALOGUE
) -> RawConfig:
    """Read the stack's config as raw values, without judging them (that is parse_settings' job)."""
    values: dict[str, Any] = {}
    for key in KNOWN_KEYS:
        text = config.get(key)
        if text is None:
            continue
        if key in _SCALAR_KEYS:
            values[key] = text
            continue
        try:
            # Integers, booleans and objects all arrive as JSON text from the engine.
            values[key] = json.loads(text)
        except json.JSONDecodeError:
            values[key] = text  # parse_settings reports it with the key's expected type
    provided_state: dict[str, str] = {}
    for spec in of_source(Source.PROVIDED, catalogue):
        assert spec.config_key is not None
        # Read once, only to judge presence; the value itself leaves here only as a secret Output.
        present = config.get(spec.config_key)
        if present is None:
            provided_state[spec.config_key] = "missing"
        elif not present.strip():
            provided_state[spec.config_key] = "empty"
        elif not pulumi.runtime.is_config_secret(config.full_key(spec.config_key)):
            provided_state[spec.config_key] = "plaintext"
        else:
            provided_state[spec.config_key] = "ok"
    region = pulumi.Config("aws").get("region")
    readable = set(KNOWN_KEYS) | set(provided_state)
    prefix = f"{PROJECT}:"
    unknown = tuple(
        sorted(
            k.removeprefix(prefix)
            for k in _config_keys()
            if k.startswith(prefix) and k.removeprefix(prefix) not in readable
        )
    )
    return RawConfig(
        stack=stack, values=values, region=region, provided_state=provided_state, unknown=unknown
    )


def load_settings(catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> Settings:
    """Read and validate the current stack's config; raise ConfigError before anything is declared."""
    config = pulumi.Config(PROJECT)
    raw = read_config(config, pulumi.get_stack(), catalogue)
    return parse_settings(raw, config.require_secret, catalogue)
