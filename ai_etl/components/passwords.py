"""Strong random passwords, one per key, each made anew only when its own rotation value changes.

Every input that shapes a password (length, character classes, minimums) forces a new one in the
provider (hashicorp/terraform-provider-random internal/provider/resource_password.go:
RequiresReplace), so changing the length would rotate every password at once, the database's and
Redis's included. They are therefore `ignoreChanges` on an existing password. But the engine applies
ignoreChanges to the inputs a replacement is created from as well (pulumi/pulumi
pkg/resource/deploy/step_generator.go: processIgnoreChanges runs before Check and Diff), so a
replacement would keep the old length. Hence each rotation value names its own password: a rotation
creates a new resource, with the current length, and deletes the old one after everything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_random as random

from ai_etl.names import password_name
from ai_etl.tokens import PASSWORDS_COMPONENT

GENERATION_INPUTS = (
    "length", "special", "upper", "lower", "number", "numeric",
    "minLower", "minUpper", "minNumeric", "minSpecial", "overrideSpecial",
)  # fmt: skip
"""What shapes a password: a change applies to the next rotation, never to an existing password."""


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
                password_name(name, key, rotation),
                length=args.length,
                special=True,
                min_lower=1,
                min_upper=1,
                min_numeric=1,
                keepers=keepers(rotation),
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=list(GENERATION_INPUTS)),
            )
            self.results[key] = password.result
        self.register_outputs({"results": self.results})
