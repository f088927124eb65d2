"""Strong random passwords, one per name, each replaced only when its own rotation value changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_random as random

from ai_etl.tokens import PASSWORDS_COMPONENT


def keepers(rotation: str) -> dict[str, str]:
    """A password's keepers: only its rotation value, so bumping it replaces that password alone."""
    return {"rotation": rotation}


@dataclass(frozen=True)
class PasswordsArgs:
    rotation: Mapping[str, str]
    """One password per key, with its rotation value (any change makes a new password)."""
    length: int


class Passwords(pulumi.ComponentResource):
    """RandomPasswords with upper, lower, digits and specials, rotated by their keepers."""

    results: dict[str, pulumi.Output[str]]
    """Each password by key; marked secret by the provider."""

    def __init__(self, name: str, args: PasswordsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(PASSWORDS_COMPONENT, name, None, opts)
        self.results = {}
        for key, rotation in args.rotation.items():
            password = random.RandomPassword(
                f"{name}-{key}",
                length=args.length,
                special=True,
                min_lower=1,
                min_upper=1,
                min_numeric=1,
                keepers=keepers(rotation),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.results[key] = password.result
        self.register_outputs({"results": self.results})
