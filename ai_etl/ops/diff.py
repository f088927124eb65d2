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
import os
import sys
from dataclasses import dataclass
from typing import Any

from ai_etl.catalogue import admin_secret, by_key
from ai_etl.components.serverauth import STEP_ENV, VERIFY_FULL
from ai_etl.config.providers import REFUSED_AT_PRODUCTION, classify
from ai_etl.names import ACTIVE_ROLE_TAG, key_of_cache_user_tags, key_of_secret_name, rotation_step
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

MOVING = "docs/runbooks.md#moving-a-server-elsewhere"
USER_CHANGE = "docs/runbooks.md#redis-on-elasticache"
"""The runbook section that says how to move a server's data, or take the new one over."""
ELASTICACHE = "ElastiCache"
IN_CLUSTER = "kind cluster"
SIGPIPE_EXIT = 141
"""The exit status of a command a closed pipe ended, as shells report one SIGPIPE killed (128 + 13)."""


@dataclass(frozen=True)
class Server:
    """Where a server credential's server is, as a render declares it: ElastiCache (the program's
    users in a user group), or a server its rotation step logs in to, RDS/Aurora when the step
    verifies its certificate (`PGSSLMODE=verify-full`), else one reached from the cluster."""

    kind: str
    where: str

    @property
    def stepped(self) -> bool:
        """Whether a rotation step (a Job) sets the passwords on it, rather than ElastiCache's API."""
        return self.kind != ELASTICACHE

    def __str__(self) -> str:
        return f"{self.where} ({self.kind})"


def server_of(records: list[dict[str, Any]], key: str) -> Server | None:
    """The server of credential `key` in a render: its ElastiCache user group, or the host its
    newest rotation step's Job logs in to (ai_etl/components/steppods.py, step_env); None if the
    render declares neither."""
    users = {
        r["inputs"].get("userId")
        for r in records
        if r["type"] == CACHE_USER and r["urn"] in _users(records, key)
    }
    for group in (r for r in records if r["type"] == CACHE_USER_GROUP):
        if users & set(group["inputs"].get("userIds") or ()):
            return Server(ELASTICACHE, f"user group {group['inputs'].get('userGroupId')}")
    if users:
        return Server(ELASTICACHE, "users")
    prefix = f"{rotation_step(key)}-"
    jobs = [
        r
        for r in records
        if r["type"] == K8S_JOB and str((r["inputs"].get("metadata") or {}).get("name")).startswith(prefix)
    ]
    for job in jobs[-1:]:
        containers = (
            ((job["inputs"].get("spec") or {}).get("template") or {}).get("spec", {}).get("containers")
        )
        env = {e.get("name"): e.get("value") for c in containers or () for e in c.get("env") or ()}
        host = env.get(STEP_ENV.pg_host) or env.get(STEP_ENV.redis_host)
        managed = env.get(STEP_ENV.pg_sslmode) == VERIFY_FULL
        return Server("RDS/Aurora" if managed else IN_CLUSTER, str(host))
    return None


@dataclass(frozen=True)
class ServerMove:
    """A server credential whose server a change moves (another kind, or another host): its data
    does not follow."""

    key: str
    before: Server
    after: Server
    active: str | None
    """The login role the backend's new pods use on the new server."""
    group_deleted: bool = False
    """Whether the change deletes the old ElastiCache user group (refused while on a replication
    group: ElastiCache's DeleteUserGroup)."""

    @property
    def summary(self) -> str:
        """The move in one line: from where to where, and that the data stays."""
        return f"moves from {self.before} to {self.after}; the data stays on {self.before.where} ({MOVING})"

    @property
    def words(self) -> str:
        """What the move does to the running environment, in the order `pulumi up` does it."""
        name = {"postgres": "Postgres", "redis": "Redis"}.get(str(by_key()[self.key].server), "the server")
        role = self.active or "the active role"
        if self.after.stepped:
            arrive = f"The rotation step's Job sets login role {role}'s password there before the rollout"
            if self.after.kind == IN_CLUSTER and self.before.kind != IN_CLUSTER:
                admin = admin_secret(by_key()[self.key])
                arrive += (
                    f", logging in with {admin.key}: `{admin.config_key}` must hold the in-cluster server's "
                    "real administrator password before this `pulumi up` (a managed server's stack file "
                    "has it filled with `not-used`)"
                )
        else:
            arrive = (
                f"Its ElastiCache users are created ({role} active) before the rollout, and the user group "
                "must be on the replication group before the new pods start"
            )
        if self.before.stepped:
            leave = (
                f"on {self.before.where} the login roles keep their passwords (no step logs in there again): "
                "pods not yet rolled keep working on it until the rollout replaces them, and nothing "
                "rotates them after; drop them there once it is retired"
            )
        else:
            leave = (
                f"the ElastiCache users of {self.before.where} are deleted last, after the rollout: whatever "
                "still uses them then (a pod still stopping, a client outside this stack) is refused"
            )
            if self.group_deleted:
                group = self.before.where.removeprefix("user group ")
                leave += (
                    f"; this `pulumi up` rolls the backend onto {self.after.where}, then fails deleting "
                    f"user group {group}, which the replication group still holds (ElastiCache's "
                    "DeleteUserGroup); only then detach it (`--user-group-ids-to-remove` of `aws "
                    f"elasticache modify-replication-group`, {MOVING}) and run `pulumi up` again. "
                    "Detaching it first would refuse the running pods at once"
                )
        return (
            f"{name} moves from {self.before} to {self.after}: the data stays on {self.before.where}, "
            f"the backend's new pods find only what {self.after.where} holds. {arrive}; {leave}. "
            f"Move the data first, or take over a server that already holds it ({MOVING})"
        )


def moved_servers(base: list[dict[str, Any]], head: list[dict[str, Any]], stack: str) -> list[ServerMove]:
    """The server credentials whose server differs between the two renders (server_of each)."""
    found = []
    for spec in by_key().values():
        if spec.server is None:
            continue
        before, after = server_of(base, spec.key), server_of(head, spec.key)
        if before is None or after is None or before == after:
            continue
        groups = {str(r["inputs"].get("userGroupId")) for r in head if r["type"] == CACHE_USER_GROUP}
        gone = not before.stepped and before.where.removeprefix("user group ") not in groups
        found.append(ServerMove(spec.key, before, after, _active_role(head, stack, spec.key), gone))
    return found


def _active_role(records: list[dict[str, Any]], stack: str, key: str) -> str | None:
    """The ActiveRole tag of credential `key`'s secret in a render."""
    return next(
        (
            (r["inputs"].get("tags") or {}).get(ACTIVE_ROLE_TAG)
            for r in records
            if r["type"] == SM_SECRET and key_of_secret_name(stack, str(r["inputs"].get("name"))) == key
        ),
        None,
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
    """Whether the change moves the credential to another server (server_of differs): the running
    pods keep theirs until they roll."""
    server: Server | None = None
    """Where the new value is set (server_of the head render)."""
    dropped: bool = False
    """Whether the ElastiCache user group stops holding `old_role`'s user before the rollout (its
    userIds updated in place), so the running pods' user is refused from then."""
    created: str | None = None
    """For an ElastiCache credential whose `role` is a user this change creates (a new `redis.user`:
    ElastiCache's CreateUser, before the rollout): "the same" password or "a new" one."""

    @property
    def step(self) -> str | None:
        """What the change does on the server, in words; None for a credential no server holds.
        ElastiCache has no step: the provider's ModifyUser changes the idle user's password."""
        if self.role is None:
            return None
        stepped = self.server is None or self.server.stepped
        what = "login role" if stepped else "ElastiCache user"
        sets = "its rotation step sets" if stepped else "ElastiCache's ModifyUser, no step, sets"
        if self.moved:
            return (
                f"a new server ({self.server}): {what} {self.role} is set there before the rollout; "
                "pods not yet rolled keep working on the server they use"
            )
        if self.dropped:
            return (
                f"DANGER: the user group drops ElastiCache user {self.old_role}, which the running pods "
                f"use, before the rollout: their new connections are refused until they roll "
                f"({USER_CHANGE})"
            )
        if self.breaks:
            return (
                f"DANGER: {what} {self.old_role}, which the running pods use, gets a new password "
                "too, so they fail to connect until they roll: move the generation by exactly one "
                "(docs/runbooks.md)"
            )
        if self.old_role in (None, self.role):
            return f"{sets} the password of {what} {self.role}"
        if self.created:
            return (
                f"new ElastiCache user {self.role} is created with {self.created} password (ElastiCache's "
                f"CreateUser, no step) and joins the user group before the rollout; pods not yet rolled "
                f"keep working on {self.old_role}"
            )
        return (
            f"{what} {self.role} becomes active ({sets} its new password first); "
            f"pods not yet rolled keep working on {self.old_role}"
        )


def rotated_credentials(
    base: list[dict[str, Any]], head: list[dict[str, Any]], stack: str
) -> list[RotatedCredential]:
    """The secrets whose value changes from `base` to `head`: each SecretVersion whose (fingerprinted)
    value differs or that is new, named by its secret, with the login role it makes active (for a
    server credential); and a server credential whose login role changes with its value kept (a
    new `redis.user`).

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
        earlier = old.get(version["urn"])
        same = earlier is not None and earlier.get("secretFingerprints") == version.get("secretFingerprints")
        secret = next((secrets[u] for u in version.get("dependencies") or [] if u in secrets), None)
        if secret is None:
            if not same:
                found.append(RotatedCredential(str(version["inputs"].get("secretId", "")), None))
            continue
        name = str(secret["inputs"].get("name"))
        role = (secret["inputs"].get("tags") or {}).get(ACTIVE_ROLE_TAG)
        key, old_role = key_of_secret_name(stack, name), old_roles.get(name)
        if same and role == old_role:  # neither its value nor the role it logs in as changes
            continue
        server = server_of(head, key) if key else None
        previous = server_of(base, key) if key else None
        moved = None not in (server, previous) and server != previous
        breaks = not moved and bool(key and old_role and _renewed(base, head, key, old_role))
        dropped = not moved and bool(key and old_role and _dropped(base, head, key, old_role))
        made = key and server and not server.stepped and _created(base, head, key, str(role))
        password = ("the same" if same else "a new") if made else None
        found.append(RotatedCredential(name, key, role, old_role, breaks, moved, server, dropped, password))
    return sorted(found, key=lambda c: c.name)


def _users(records: list[dict[str, Any]], key: str) -> set[str]:
    """The ElastiCache users holding server credential `key` (ai_etl/components/cacheusers.py)."""
    return {
        r["urn"]
        for r in records
        if r["type"] == CACHE_USER and key_of_cache_user_tags(r["inputs"].get("tags")) == key
    }


def _created(base: list[dict[str, Any]], head: list[dict[str, Any]], key: str, role: str) -> bool:
    """Whether `head` declares an ElastiCache user of login role `role` of credential `key` that
    `base` does not: pulumi-aws creates it (CreateUser; a new user name forces a new user,
    hashicorp/terraform-provider-aws internal/service/elasticache/user.go)."""
    made = _users(head, key) - {r["urn"] for r in base}
    return any(r["urn"] in made and r["inputs"].get("userName") == role for r in head)


def _dropped(base: list[dict[str, Any]], head: list[dict[str, Any]], key: str, role: str) -> bool:
    """Whether `head`'s user group, updated in place, no longer holds the ElastiCache user of login
    role `role` of credential `key`, which `base`'s group held: ModifyUserGroup removes it before
    anything that depends on the group (the rollout) runs (hashicorp/terraform-provider-aws
    internal/service/elasticache/user_group.go, resourceUserGroupUpdate: UserIdsToRemove)."""
    ids = {
        r["inputs"].get("userId")
        for r in base
        if r["urn"] in _users(base, key) and r["inputs"].get("userName") == role
    }
    old = {r["urn"]: r for r in base if r["type"] == CACHE_USER_GROUP}
    for group in (r for r in head if r["type"] == CACHE_USER_GROUP and r["urn"] in old):
        if "userIds" in (group.get("ignoreChanges") or []):
            continue
        held = set(old[group["urn"]]["inputs"].get("userIds") or ())
        if ids & held and not ids & set(group["inputs"].get("userIds") or ()):
            return True
    return False


def _renewed(base: list[dict[str, Any]], head: list[dict[str, Any]], key: str, role: str) -> bool:
    """Whether `head` makes a new password for login role `role` of server credential `key`: a
    RandomPassword of that role's (ai_etl/components/serverpasswords.py, role_suffix) not in `base`."""
    marker = f"-{key}-{role.rpartition('_')[2]}-"
    before = {r["urn"] for r in base if r["type"] == RANDOM_PASSWORD}
    return any(r["type"] == RANDOM_PASSWORD and marker in r["name"] and r["urn"] not in before for r in head)


def preface(
    rotated: list[RotatedCredential], order: tuple[str, ...] = (), moves: tuple[ServerMove, ...] = ()
) -> Preface:
    """The servers a change moves (`moved_servers`), the credentials it rotates, then the order of its
    steps (`order_of`), as the diff's opening lines in text and in markdown."""
    if not rotated and not moves:
        return Preface()
    text: list[str] = []
    markdown: list[str] = []
    if moves:
        heading = f"Servers this change moves, their data does not ({len(moves)})"
        text += [f"{heading}:"] + [f"  {m.key}: {m.words}" for m in moves] + [""]
        markdown += [f"**{heading}:**", ""] + [f"- `{m.key}`: {m.words}" for m in moves] + [""]
    if rotated:
        text += [f"Credentials this change rotates ({len(rotated)}):"]
        text += [f"  {c.name}" + (f"  -> {c.step}" if c.step else "") for c in rotated]
        markdown += [f"**Credentials this change rotates ({len(rotated)}):**", ""]
        markdown += [f"- `{c.name}`" + (f": {c.step}" if c.step else "") for c in rotated]
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
    ai_etl/config/cachegroup.py). A user group this change creates (a running stack switched to
    ElastiCache by config) cannot be on the replication group during the `pulumi up` that creates
    it, so that `up` scales the backend to 0 even where the offline render, which assumes the group
    attached (docs/offline.md), keeps its replicas. A new stack (nothing running) is no danger."""
    old = {r["urn"]: r for r in base if r["type"] == K8S_DEPLOYMENT}
    before_urns = {r["urn"] for r in base}
    made = [
        r["inputs"].get("userGroupId")
        for r in head
        if r["type"] == CACHE_USER_GROUP and r["urn"] not in before_urns
    ]
    lines = []
    for record in (r for r in head if r["type"] == K8S_DEPLOYMENT and r["urn"] in old):
        before, after = _replicas(old[record["urn"]]), _replicas(record)
        name = (record["inputs"].get("metadata") or {}).get("name")
        if before and made:
            lines.append(
                f"DANGER: Deployment {name} goes from {before} replicas to 0 on this `pulumi up`, so "
                f"nothing serves: it creates ElastiCache user group {made[0]}, which cannot be on the "
                "replication group yet (this render assumes it is, docs/offline.md); the backend runs "
                "again only once the group is attached and `pulumi up` runs again "
                f"({USER_CHANGE}, the user group must be on the replication group)"
            )
            continue
        if not before or after != 0:
            continue
        if not any(r["type"] == CACHE_USER_GROUP for r in head):
            continue  # config cannot ask for 0 (backend.replicas is 1 or more): only the program does
        why = (
            "its ElastiCache user group is not on the replication group, so the cache would refuse its "
            "users; the preview's warning prints the command that attaches it"
        )
        lines.append(f"DANGER: Deployment {name} goes from {before} replicas to 0, so nothing serves: {why}")
    return tuple(lines)


def preface_of(base: list[dict[str, Any]], head: list[dict[str, Any]], stack: str) -> Preface:
    """What this project says first about a change of `stack`: a running Deployment scaled to
    nothing, the servers it moves, the credentials it rotates and, for a server credential's
    rotation or move, the order its steps run in."""
    rotated = rotated_credentials(base, head, stack)
    moves = tuple(moved_servers(base, head, stack))
    server = bool(moves) or any(c.role is not None for c in rotated)
    made = preface(rotated, order_of(base, head) if server else (), moves)
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
    args = parser.parse_args(argv)
    try:
        code = diff_command(args, preface_of, note_of)
        sys.stdout.flush()
    except BrokenPipeError:  # a reader that stopped early (`| head`): quiet, as the Python docs'
        # signal module page recommends, with stdout pointed at devnull so the exit's flush is quiet too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return SIGPIPE_EXIT
    return code


if __name__ == "__main__":
    sys.exit(main())
