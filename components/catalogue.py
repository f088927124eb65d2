"""The secrets catalogue: the single list of the platform's credentials.

Every list that names secrets (Secrets Manager entries, ExternalSecret data, the backend's env,
`.env.example`, README's table) is derived from `CATALOGUE`; adding a secret is one entry here.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote


class Source(enum.Enum):
    """Where a secret's value comes from."""

    GENERATED = "generated"  # a RandomPassword, rotated by a keeper in `ai-etl:rotation`
    COMPOSED = "composed"  # a URL built from a generated password and plain connection config
    PROVIDED = "provided"  # a value only a human has, set as secret stack config


@dataclass(frozen=True)
class SecretSpec:
    """One secret of the platform."""

    key: str
    """Kubernetes Secret key and the last segment of the Secrets Manager name."""
    env_var: str | None
    """The backend's environment variable, or None when only infrastructure uses it."""
    source: Source
    description: str
    config_key: str | None = None
    """For PROVIDED: the secret stack config key (`ai-etl:<config_key>`)."""
    password_of: str | None = None
    """For COMPOSED: the GENERATED secret whose value is the password in the URL."""
    connection: str | None = None
    """For COMPOSED: the connection settings (stack config object `ai-etl:<connection>`)."""
    url_template: str | None = None
    """For COMPOSED: the URL, with `{password}` and the connection's fields as placeholders."""


CATALOGUE: tuple[SecretSpec, ...] = (
    SecretSpec("jwt-secret-key", "JWT_SECRET_KEY", Source.GENERATED, "Signs the backend's JWTs"),
    SecretSpec("secret-key", "SECRET_KEY", Source.GENERATED, "The backend's application secret"),
    SecretSpec("webhook-secret", "WEBHOOK_SECRET", Source.GENERATED, "Signs outgoing webhooks"),
    SecretSpec("db-password", None, Source.GENERATED, "Password of the Postgres user"),
    SecretSpec("redis-password", None, Source.GENERATED, "Password of Redis"),
    SecretSpec(
        "database-url",
        "DATABASE_URL",
        Source.COMPOSED,
        "Postgres connection URL (asyncpg)",
        password_of="db-password",
        connection="database",
        url_template="postgresql+asyncpg://{user}:{password}@{host}:{port}/{name}",
    ),
    SecretSpec(
        "redis-url",
        "REDIS_URL",
        Source.COMPOSED,
        "Redis connection URL",
        password_of="redis-password",
        connection="redis",
        url_template="redis://:{password}@{host}:{port}/{db}",
    ),
    SecretSpec("qwen-api-key", "QWEN_API_KEY", Source.PROVIDED, "LLM API key", config_key="qwenApiKey"),
    SecretSpec(
        "s3-access-key", "S3_ACCESS_KEY", Source.PROVIDED, "S3 access key id", config_key="s3AccessKey"
    ),
    SecretSpec(
        "s3-secret-key",
        "S3_SECRET_KEY",
        Source.PROVIDED,
        "S3 secret access key",
        config_key="s3SecretKey",
    ),
)

# Kubernetes Secret keys must match this (core/v1 Secret data keys); env vars are C identifiers.
_SECRET_KEY_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_VAR_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def by_key(catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> dict[str, SecretSpec]:
    """The catalogue indexed by key."""
    return {spec.key: spec for spec in catalogue}


def of_source(source: Source, catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> tuple[SecretSpec, ...]:
    """The entries whose value comes from `source`, in catalogue order."""
    return tuple(spec for spec in catalogue if spec.source is source)


def backend_secrets(catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> tuple[SecretSpec, ...]:
    """The entries the backend reads, i.e. those with an env var, in catalogue order."""
    return tuple(spec for spec in catalogue if spec.env_var is not None)


def check_catalogue(catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> None:
    """Raise ValueError if the catalogue is inconsistent (a programming error, not user input)."""
    keys = [spec.key for spec in catalogue]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys in the secrets catalogue: {sorted(keys)}")
    env_vars = [spec.env_var for spec in catalogue if spec.env_var]
    if len(set(env_vars)) != len(env_vars):
        raise ValueError("duplicate env vars in the secrets catalogue")
    index = by_key(catalogue)
    for spec in catalogue:
        if not _SECRET_KEY_RE.match(spec.key):
            raise ValueError(f"catalogue key {spec.key!r} is not a valid Kubernetes Secret key")
        if spec.env_var is not None and not _ENV_VAR_RE.match(spec.env_var):
            raise ValueError(f"catalogue env var {spec.env_var!r} is not a valid name")
        if (spec.source is Source.PROVIDED) != (spec.config_key is not None):
            raise ValueError(f"{spec.key}: exactly the provided secrets name a config key")
        composed_fields = (spec.password_of, spec.connection, spec.url_template)
        if (spec.source is Source.COMPOSED) != all(f is not None for f in composed_fields):
            raise ValueError(f"{spec.key}: composed secrets, and only they, have a URL recipe")
        if spec.password_of is not None:
            target = index.get(spec.password_of)
            if target is None or target.source is not Source.GENERATED:
                raise ValueError(f"{spec.key}: password_of must name a generated secret")


def compose_url(spec: SecretSpec, connection: Mapping[str, str | int], password: str) -> str:
    """The URL of a composed secret, every field percent-encoded.

    A generated password may hold `@`, `:`, `/` or `#`; unencoded, any of them would split the URL
    in the wrong place, so each value is quoted with no safe characters.
    """
    if spec.url_template is None:
        raise ValueError(f"{spec.key} is not a composed secret")
    fields = {name: quote(str(value), safe="") for name, value in connection.items()}
    return spec.url_template.format(password=quote(password, safe=""), **fields)


def env_example(catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> str:
    """`.env.example`: every variable the backend reads, with a placeholder and never a value."""
    lines = [
        "# Variables the AI-ETL backend reads. Generated from components/catalogue.py:",
        "#   python -m components.catalogue env-example > .env.example",
        "# Copy to .env (git-ignored) for local development and fill in your own values.",
        '# Generate strong values with: python -c "import secrets; print(secrets.token_urlsafe(32))"',
        "",
    ]
    for spec in backend_secrets(catalogue):
        lines.append(f"# {spec.description} ({spec.source.value})")
        lines.append(f"{spec.env_var}=")
    lines += ["# Plain configuration, not a secret", "QWEN_API_BASE=https://api.together.xyz/v1", ""]
    return "\n".join(lines)


def readme_table(catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> str:
    """README's table of secrets, one row per catalogue entry."""
    rows = [
        "| key | backend env var | source | Secrets Manager name |",
        "|---|---|---|---|",
    ]
    for spec in catalogue:
        if spec.source is Source.PROVIDED:
            source = f"provided: secret config `ai-etl:{spec.config_key}`"
        elif spec.source is Source.COMPOSED:
            source = f"composed: `{spec.url_template}` (`ai-etl:{spec.connection}`, `{spec.password_of}`)"
        else:
            source = "generated: RandomPassword, rotated by `ai-etl:rotation`"
        env = f"`{spec.env_var}`" if spec.env_var else "(none: for the service itself)"
        rows.append(f"| `{spec.key}` | {env} | {source} | `ai-etl/<stack>/{spec.key}` |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Print a document derived from the catalogue."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m components.catalogue", description=main.__doc__)
    parser.add_argument("document", choices=("env-example", "readme-table"))
    args = parser.parse_args(argv)
    print(env_example() if args.document == "env-example" else readme_table(), end="")


if __name__ == "__main__":
    main()
