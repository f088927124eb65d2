"""`python -m ai_etl.ops.diff BASE HEAD`: the offline diff of two renders of this project
(ai_etl/offline), opened by the provider settings the change makes (each with its kind: one that
redirects the calls is refused at production grade) and the credentials it rotates, a server
credential's with the login role it makes active. CI posts it on every pull request.

Offline knows no project's meaning; this module reads ours: a credential is a Secrets Manager
secret of the stack, named and read back through ai_etl/names.py; a server credential's secret
names the role its value is the password of in its ActiveRole tag.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from ai_etl.config.providers import REFUSED_AT_PRODUCTION, classify
from ai_etl.names import ACTIVE_ROLE_TAG, key_of_cache_user_tags, key_of_secret_name
from ai_etl.offline.cli import add_diff_arguments, diff_command
from ai_etl.offline.diff import Change, Phase, diff, phases
from ai_etl.offline.formats import Preface
from ai_etl.tokens import (
    CACHE_USER,
    CACHE_USER_GROUP,
    K8S_DEPLOYMENT,
    K8S_JOB,
    RANDOM_PASSWORD,
    SM_SECRET,
    SM_VERSION,
)


@dataclass(frozen=True)
class RotatedCredential:
    """A Secrets Manager secret whose value a change replaces."""

    name: str
    key: str | None
    """Its catalogue key (None if the secret is not named as one of the stack's)."""
    role: str | None = None
    """For a server credential: the login role its new value is the password of (ActiveRole tag)."""
    old_role: str | None = None
    """For a server credential: the role its old value was the password of, which the pods not yet
    rolled keep using (None for a new secret)."""
    breaks: bool = False
    """Whether the change gives `old_role` a new password too: a generation moved by more than one,
    or lowered after its rotation, so the running pods' role changes under them."""
    moved: bool = False
    """Whether the change moves the credential onto ElastiCache users it creates: a new server, so
    the running pods keep theirs until they roll."""

    @property
    def step(self) -> str | None:
        """What the change does on the server, in words; None for a credential no server holds."""
        if self.role is None:
            return None
        if self.moved:
            return (
                f"its ElastiCache users are created, {self.role} active; pods not yet rolled keep "
                "working on the server they use"
            )
        if self.breaks:
            return (
                f"DANGER: login role {self.old_role}, which the running pods use, gets a new password "
                "too, so they fail to connect until they roll: move the generation by exactly one "
                "(docs/runbooks.md)"
            )
        if self.old_role in (None, self.role):
            return f"its rotation step sets the password of login role {self.role}"
        return (
            f"login role {self.role} becomes active (its rotation step sets its new password first); "
            f"pods not yet rolled keep working on {self.old_role}"
        )


def rotated_credentials(
    base: list[dict[str, Any]], head: list[dict[str, Any]], stack: str
) -> list[RotatedCredential]:
    """The secrets whose value changes from `base` to `head`: each SecretVersion whose (fingerprinted)
    value differs or that is new, named by its secret, with the login role it makes active (for a
    server credential).

    A value names its secret by ARN, an output a render does not hold; the engine records the secret
    among the value's dependencies (its `secretId` comes from it), which is how it is found here.
    A value whose secret is not in the render is listed by the ARN it names."""
    old = {r["urn"]: r for r in base}
    secrets = {r["urn"]: r for r in head if r["type"] == SM_SECRET}
    old_roles = {
        r["inputs"].get("name"): (r["inputs"].get("tags") or {}).get(ACTIVE_ROLE_TAG)
        for r in base
        if r["type"] == SM_SECRET
    }
    found = []
    for version in (r for r in head if r["type"] == SM_VERSION):
        before = old.get(version["urn"])
        if before is not None and before.get("secretFingerprints") == version.get("secretFingerprints"):
            continue
        secret = next((secrets[u] for u in version.get("dependencies") or [] if u in secrets), None)
        if secret is None:
            found.append(RotatedCredential(str(version["inputs"].get("secretId", "")), None))
            continue
        name = str(secret["inputs"].get("name"))
        tags = secret["inputs"].get("tags") or {}
        role = tags.get(ACTIVE_ROLE_TAG)
        key, old_role = key_of_secret_name(stack, name), old_roles.get(name)
        users = _users(head, str(key)) if key else set()
        moved = bool(users) and not users & _users(base, str(key))  # every user new: a new server
        breaks = not moved and bool(key and old_role and _renewed(base, head, key, old_role))
        found.append(RotatedCredential(name, key, role, old_role, breaks, moved))
    return sorted(found, key=lambda c: c.name)


def _users(records: list[dict[str, Any]], key: str) -> set[str]:
    """The ElastiCache users holding server credential `key` (ai_etl/components/cacheusers.py)."""
    return {
        r["urn"]
        for r in records
        if r["type"] == CACHE_USER and key_of_cache_user_tags(r["inputs"].get("tags")) == key
    }


def _renewed(base: list[dict[str, Any]], head: list[dict[str, Any]], key: str, role: str) -> bool:
    """Whether `head` makes a new password for login role `role` of server credential `key`: a
    RandomPassword of that role's (ai_etl/components/serverpasswords.py, role_suffix) not in `base`."""
    marker = f"-{key}-{role.rpartition('_')[2]}-"
    before = {r["urn"] for r in base if r["type"] == RANDOM_PASSWORD}
    return any(r["type"] == RANDOM_PASSWORD and marker in r["name"] and r["urn"] not in before for r in head)


def preface(rotated: list[RotatedCredential], order: tuple[str, ...] = ()) -> Preface:
    """The credentials a change rotates, then the order of its steps (`order_of`), as the diff's
    opening lines in text and in markdown."""
    if not rotated:
        return Preface()
    text = [f"Credentials this change rotates ({len(rotated)}):"]
    text += [f"  {c.name}" + (f"  -> {c.step}" if c.step else "") for c in rotated]
    markdown = [f"**Credentials this change rotates ({len(rotated)}):**", ""]
    for c in rotated:
        markdown.append(f"- `{c.name}`" + (f": {c.step}" if c.step else ""))
    if order:
        heading = "The order `pulumi up` runs it in, from what each resource depends on"
        text += ["", f"{heading} (a step starts once those it needs are done):"]
        text += [f"  {n}. {line}" for n, line in enumerate(order, 1)]
        markdown += ["", f"**{heading}:**", ""]
        markdown += [f"{n}. {line}" for n, line in enumerate(order, 1)]
    return Preface(text=(*text, ""), markdown=(*markdown, ""))


def _named(change: Change, record: dict[str, Any]) -> str:
    """A step as a reviewer knows its object: a Kubernetes object by its own name."""
    name = (record["inputs"].get("metadata") or {}).get("name") or change.name
    return f"{change.type.rpartition(':')[2]} {name}"


def _awaited(change: Change, record: dict[str, Any]) -> str:
    """What `pulumi up` waits for before the step counts as done, as the render declares it:
    pulumi-kubernetes awaits a Job until Complete and a Deployment until its rollout is ready
    (pulumi/pulumi-kubernetes provider/pkg/await/job.go, deployment.go), any object until its
    `pulumi.com/waitFor` condition, and none with `pulumi.com/skipAwait`."""
    annotations = (record["inputs"].get("metadata") or {}).get("annotations") or {}
    if annotations.get("pulumi.com/skipAwait") == "true":
        return ""
    if "pulumi.com/waitFor" in annotations:
        return f", until {annotations['pulumi.com/waitFor']}"
    if change.type == K8S_JOB:
        return ", until the Job is Complete"
    if change.type == K8S_DEPLOYMENT:
        return ": the rollout, until the new pods are ready"
    return ""


def order_of(base: list[dict[str, Any]], head: list[dict[str, Any]]) -> tuple[str, ...]:
    """A line per phase of `pulumi up` (ai_etl/offline/diff.py, phases): what each creates, updates
    or replaces and what it waits for, the deletions last."""
    old, new = {r["urn"]: r for r in base}, {r["urn"]: r for r in head}
    lines = []
    for phase in phases(base, head, diff(base, head)):
        if phase.deletions:
            gone = [("the old " if c.op == "replace" else "") + _named(c, old[c.urn]) for c in phase.changes]
            lines.append(f"last, once every other step succeeded, the deletions: {', '.join(gone)}")
            continue
        lines.append("; ".join(_phase_step(c, new[c.urn], phase) for c in phase.changes))
    return tuple(lines)


def _phase_step(change: Change, record: dict[str, Any], phase: Phase) -> str:
    first = " (the old one deleted first)" if change.urn in phase.deleted_first else ""
    return f"{change.op} {_named(change, record)}{_awaited(change, record)}{first}"


def _replicas(record: dict[str, Any]) -> Any:
    return (record["inputs"].get("spec") or {}).get("replicas")


def scaled_to_zero(base: list[dict[str, Any]], head: list[dict[str, Any]]) -> tuple[str, ...]:
    """A DANGER line per running Deployment the change scales to 0 replicas, with the reason the
    program has for it: its ElastiCache user group is not on the replication group (the program
    declares a backend reading a cache's users with no replicas until it is,
    ai_etl/config/cachegroup.py). A stack reaches ElastiCache through the takeover, which attaches
    the group before its `pulumi up` (docs/takeover.md), so only a group detached since shows this."""
    old = {r["urn"]: r for r in base if r["type"] == K8S_DEPLOYMENT}
    lines = []
    for record in (r for r in head if r["type"] == K8S_DEPLOYMENT and r["urn"] in old):
        before, after = _replicas(old[record["urn"]]), _replicas(record)
        if not before or after != 0:
            continue
        if not any(r["type"] == CACHE_USER_GROUP for r in head):
            continue  # config cannot ask for 0 (backend.replicas is 1 or more): only the program does
        why = (
            "its ElastiCache user group is not on the replication group, so the cache would refuse its "
            "users; the preview's warning prints the command that attaches it"
        )
        name = (record["inputs"].get("metadata") or {}).get("name")
        lines.append(f"DANGER: Deployment {name} goes from {before} replicas to 0, so nothing serves: {why}")
    return tuple(lines)


def preface_of(base: list[dict[str, Any]], head: list[dict[str, Any]], stack: str) -> Preface:
    """What this project says first about a change of `stack`: a running Deployment scaled to
    nothing, the credentials it rotates and, for a server credential's rotation, the order its steps
    run in."""
    rotated = rotated_credentials(base, head, stack)
    server = any(c.role is not None for c in rotated)
    made = preface(rotated, order_of(base, head) if server else ())
    danger = scaled_to_zero(base, head)
    if not danger:
        return made
    return Preface(
        text=(*danger, "", *made.text), markdown=(*(f"**{line}**" for line in danger), "", *made.markdown)
    )


def note_of(key: str) -> str | None:
    """What this project says of a provider setting: its kind and what it does (ai_etl/config/providers.py),
    and whether a production-grade stack refuses it."""
    found = classify(key)
    if found is None:
        return None
    refused = "; refused at production grade" if found.kind in REFUSED_AT_PRODUCTION else ""
    return f"{found.kind.value}: {found.reason}{refused}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ai_etl.ops.diff",
        description="Compare two offline renders of this project like `pulumi preview --diff`, "
        "opened by the credentials the change rotates.",
    )
    add_diff_arguments(parser)
    return diff_command(parser.parse_args(argv), preface_of, note_of)


if __name__ == "__main__":
    sys.exit(main())
