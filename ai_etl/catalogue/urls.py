"""Connection URLs composed from a generated password and plain connection settings."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from urllib.parse import quote

import pulumi

from ai_etl.catalogue import SecretSpec, Source, of_source


def compose_url(spec: SecretSpec, connection: Mapping[str, str | int], password: str) -> str:
    """The URL of a composed secret, every field percent-encoded.

    A generated password may hold `@`, `:`, `/` or `#`; unencoded, any of them would split the URL
    in the wrong place, so each value is quoted with no safe characters.
    """
    if spec.url_template is None:
        raise ValueError(f"{spec.key} is not a composed secret")
    fields = {name: quote(str(value), safe="") for name, value in connection.items()}
    return spec.url_template.format(password=quote(password, safe=""), **fields)


def composed_values(
    catalogue: tuple[SecretSpec, ...],
    connection: Callable[[str], Mapping[str, str | int]],
    passwords: Mapping[str, pulumi.Output[str]],
) -> dict[str, pulumi.Output[str]]:
    """The composed secrets by key, each built inside apply so that it stays secret."""
    values: dict[str, pulumi.Output[str]] = {}
    for spec in of_source(Source.COMPOSED, catalogue):
        assert spec.password_of is not None and spec.connection is not None
        compose = functools.partial(compose_url, spec, connection(spec.connection))
        # apply keeps the password's secretness; Output.secret makes the URL secret regardless.
        values[spec.key] = pulumi.Output.secret(passwords[spec.password_of].apply(compose))
    return values
