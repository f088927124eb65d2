"""The passwords of the credentials a server holds (Postgres, Redis): two login roles each, their
passwords, the salts of their verifiers, and the verifiers the rotation step sets on the server.

Role `i` of a credential at generation `g` holds the password of generation `role_generation(g, i)`
(ai_etl/components/serverauth.py): its RandomPassword (and its salt, a RandomBytes) is named and
kept by that number, so a bump replaces the password of the role no running pod uses, and nothing
else. The salt is random per role generation and stable after, so the verifier of a password is the
same on every run: running the step again changes nothing on the server.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_random as random

from ai_etl.components import serverauth
from ai_etl.components.passwords import GENERATION_INPUTS
from ai_etl.tokens import SERVER_PASSWORDS_COMPONENT


@dataclass(frozen=True)
class ServerCredential:
    """One server credential: its key, its server's kind, its generation."""

    key: str
    server: str
    """`postgres` (SCRAM-SHA-256 verifiers, salted) or `redis` (ACL `#<sha256>` hashes)."""
    generation: int
    specials: str | None = None
    """The special characters its passwords may hold (RandomPassword's overrideSpecial), where the
    server restricts them (ElastiCache); None: the provider's default set."""
    verified: bool = True
    """Whether a rotation step sets it by verifier; False where the provider's API takes the
    passwords themselves (ElastiCache users): no verifiers are made."""


def role_suffix(index: int, generation: int) -> str:
    """`<colour>-g<n>` for a role's password of generation n; `<colour>-initial` for role 1's
    password made with the first deploy (generation -1, used by nobody until generation 1)."""
    colour = serverauth.COLOURS[index]
    return f"{colour}-g{generation}" if generation >= 0 else f"{colour}-initial"


def keepers(generation: int) -> dict[str, str]:
    """A role's password's keepers: only the generation it serves, so a bump replaces one role's."""
    return {"generation": str(generation)}


def verifier_names(server: str) -> tuple[str, str]:
    """The step's environment names of the two roles' verifiers (serverauth.STEP_ENV), which are
    also their keys in the verifiers' Secrets Manager entry and in the step's Secret."""
    env = serverauth.STEP_ENV
    return env.pg_verifiers if server == "postgres" else env.redis_hashes


def verifiers_document(server: str, passwords: Sequence[str], salts: Sequence[str]) -> str:
    """The verifiers of both roles as one JSON object, by `verifier_names` (salts in base64)."""
    if server == "postgres":
        values = [
            serverauth.scram_sha256_verifier(p, base64.b64decode(s))
            for p, s in zip(passwords, salts, strict=True)
        ]
    else:
        values = [serverauth.redis_acl_hash(p) for p in passwords]
    return json.dumps(dict(zip(verifier_names(server), values, strict=True)), sort_keys=True)


def _document(server: str, values: list[str]) -> str:
    """`verifiers_document` from the two passwords followed by their salts (if any)."""
    return verifiers_document(server, values[:2], values[2:])


@dataclass(frozen=True)
class ServerPasswordsArgs:
    credentials: Sequence[ServerCredential]
    length: int
    kept: Mapping[str, pulumi.Input[str]] = field(default_factory=dict, repr=False)
    """A live value kept at a takeover, by key: it stands in for role 0's password of generation 0
    (so for generations 0 and 1), and must be a secret."""


class ServerPasswords(pulumi.ComponentResource):
    """Per server credential: two RandomPasswords (and, for Postgres, two RandomBytes salts) and the
    verifiers computed from them, inside apply."""

    active: dict[str, pulumi.Output[str]]
    """The active role's password, by key; secret."""
    passwords: dict[str, tuple[pulumi.Output[str], ...]]
    """Both roles' passwords, by key; secret (for the ElastiCache users, which take them as such)."""
    unused: dict[str, pulumi.Output[str]]
    """Per credential set by its provider's API: a password no one is given, for the user group's
    disabled `default` user (a valkey user group holds only users with a password); secret."""
    verifiers: dict[str, pulumi.Output[str]]
    """Both roles' verifiers as a JSON object (`verifiers_document`), by key; secret."""

    def __init__(
        self, name: str, args: ServerPasswordsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(SERVER_PASSWORDS_COMPONENT, name, None, opts)
        # Inputs that shape a password apply at its next generation (ai_etl/components/passwords.py).
        keep = pulumi.ResourceOptions(parent=self, ignore_changes=list(GENERATION_INPUTS))
        self.active, self.verifiers, self.passwords, self.unused = {}, {}, {}, {}
        for c in args.credentials:

            def password_of(
                logical: str, kept_by: dict[str, str], c: ServerCredential = c
            ) -> pulumi.Output[str]:
                return random.RandomPassword(
                    # Its own name where the characters differ: ignoreChanges would keep a password
                    # the server refuses (a stack moving onto ElastiCache gets new ones).
                    logical + ("-restricted" if c.specials else ""),
                    length=args.length,
                    special=True,
                    override_special=c.specials,
                    min_lower=1,
                    min_upper=1,
                    min_numeric=1,
                    keepers=kept_by,
                    opts=keep,
                ).result

            passwords: list[pulumi.Output[str]] = []
            salts: list[pulumi.Output[str]] = []
            for index in range(len(serverauth.COLOURS)):
                generation = serverauth.role_generation(c.generation, index)
                suffix = role_suffix(index, generation)
                password = password_of(f"{name}-{c.key}-{suffix}", keepers(generation))
                if index == 0 and generation == 0 and c.key in args.kept:
                    password = pulumi.Output.secret(args.kept[c.key])
                passwords.append(password)
                if c.server == "postgres" and c.verified:
                    salt = random.RandomBytes(
                        f"{name}-{c.key}-{suffix}-salt",
                        length=serverauth.SALT_BYTES,
                        keepers=keepers(generation),
                        opts=pulumi.ResourceOptions(parent=self),
                    )
                    salts.append(salt.base64)
            self.active[c.key] = pulumi.Output.secret(passwords[serverauth.active_index(c.generation)])
            self.passwords[c.key] = tuple(pulumi.Output.secret(p) for p in passwords)
            if c.verified:
                self.verifiers[c.key] = pulumi.Output.secret(
                    pulumi.Output.all(*passwords, *salts).apply(functools.partial(_document, c.server))
                )
            else:  # for the disabled `default` user: never rotated, never given to anyone
                unused = password_of(f"{name}-{c.key}-unused", {"use": "the disabled default user"})
                self.unused[c.key] = pulumi.Output.secret(unused)
        self.register_outputs({"active": self.active, "verifiers": self.verifiers, "unused": self.unused})
