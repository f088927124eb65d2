"""Connection URLs composed from a generated password and plain connection settings."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from urllib.parse import quote

import pulumi

from ai_etl.catalogue import SecretSpec


def compose_url(spec: SecretSpec, connection: Mapping[str, str | int], password: str) -> str:
    """The URL of a composed secret, every field percent-encoded.

    A generated password may hold `@`, `:`, `/` or `#`; unencoded, any of them would split the URL
    in the wrong place, so each value is quoted with no safe characters.
    """
    if spec.url_template is None:
        raise ValueError(f"{spec.key} is not a composed secret")
    fields = {name: quote(str(value), safe="") for name, value in connection.items()}
    return spec.url_template.format(password=quote(password, safe=""), **fields)


def composed_value(
    spec: SecretSpec, connection: Mapping[str, str | int], password: pulumi.Output[str]
) -> pulumi.Output[str]:
    """A composed secret from its password, built inside apply so that it stays secret."""
    # apply keeps the password's secretness; Output.secret makes the URL secret regardless.
    return pulumi.Output.secret(password.apply(functools.partial(compose_url, spec, connection)))
