"""Generated secrets: one RandomPassword per generated catalogue entry, and the URLs built on them."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.catalogue import SecretSpec, Source, compose_url, of_source


def keepers(rotation: str) -> dict[str, str]:
    """A password's keepers: only its rotation value, so bumping it replaces that password alone."""
    return {"rotation": rotation}


@dataclass(frozen=True)
class GeneratedSecretsArgs:
    catalogue: tuple[SecretSpec, ...]
    length: int
    rotation: Mapping[str, str]
    """The rotation value of every generated key (Settings.rotation_of)."""


class GeneratedSecrets(pulumi.ComponentResource):
    """Strong random passwords, rotated by bumping `ai-etl:rotation.<key>` in stack config."""

    values: dict[str, pulumi.Output[str]]
    """Secret value of every generated key; marked secret by the provider."""

    def __init__(self, name: str, args: GeneratedSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-etl:passwords:GeneratedSecrets", name, None, opts)
        self.values = {}
        for spec in of_source(Source.GENERATED, args.catalogue):
            password = random.RandomPassword(
                f"{name}-{spec.key}",
                length=args.length,
                special=True,
                min_lower=1,
                min_upper=1,
                min_numeric=1,
                keepers=keepers(args.rotation[spec.key]),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.values[spec.key] = password.result
        self.register_outputs({"values": self.values})


def composed_values(
    catalogue: tuple[SecretSpec, ...],
    connections: Mapping[str, Mapping[str, str | int]],
    generated: Mapping[str, pulumi.Output[str]],
) -> dict[str, pulumi.Output[str]]:
    """The composed secrets (connection URLs), each built inside apply so it stays secret."""
    values: dict[str, pulumi.Output[str]] = {}
    for spec in of_source(Source.COMPOSED, catalogue):
        assert spec.password_of is not None and spec.connection is not None
        compose = functools.partial(compose_url, spec, connections[spec.connection])
        # apply keeps the password's secretness; Output.secret makes the URL secret regardless.
        values[spec.key] = pulumi.Output.secret(generated[spec.password_of].apply(compose))
    return values
