"""Whether the stack's ElastiCache user group is on its replication group, looked up at deploy time.

The program declares the backend's users and their user group (ai_etl/components/cacheusers.py),
but the group's ids live on the replication group, which the program does not manage: until
`ModifyReplicationGroup UserGroupIdsToAdd` puts the group there, the cache knows none of the users,
so a backend logging in as one would crash-loop and `pulumi up` would fail at the Deployment's
await. So the lookup reads the replication group first; while the group is not on it, the backend
is declared with no replicas and the preview prints the command that attaches it. A Deployment of
0 replicas is awaited without hanging (pulumi/pulumi-kubernetes
tests/sdk/java/testdata/await/service/step2/Pulumi.yaml, "Scale our replicas to 0"), so the first
`pulumi up` finishes; the second, after the attach, scales the backend to its configured replicas.

The lookup reads two things of the replication group:
- its user groups, through Cloud Control (`aws.cloudcontrol.get_resource`, as the trail's lookup,
  ai_etl/config/trail.py) of type `AWS::ElastiCache::ReplicationGroup`, whose identifier is the
  replication group's id and whose `UserGroupIds` is readable (pulumi/pulumi-aws-native
  aws-cloudformation-schema/aws-elasticache-replicationgroup.json: primaryIdentifier
  ReplicationGroupId; UserGroupIds not write-only; AuthToken write-only);
- whether it has an AUTH token, through pulumi-aws's `elasticache.get_replication_group`
  (pulumi_aws/elasticache/get_replication_group.py, 7.51.1: `auth_token_enabled`; it has no user
  group ids, so it cannot answer the first). A cache with a token takes the group only with
  `AuthTokenUpdateStrategy DELETE`, "allowed only when transitioning to RBAC" (botocore's
  elasticache model, ModifyReplicationGroupMessage), as the takeover's step does
  (ai_etl/ops/takeover.py, cache_steps).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from ai_etl.catalogue import server_credentials
from ai_etl.config.commands import word
from ai_etl.config.models import ELASTICACHE
from ai_etl.config.problems import ConfigError, Problems
from ai_etl.config.settings import Settings
from ai_etl.grade import PRODUCTION

REPLICATION_GROUP_TYPE = "AWS::ElastiCache::ReplicationGroup"
KEY = "redis.replicationGroupId"


@dataclass(frozen=True)
class ReplicationGroup:
    """What the first deploy needs to know of the cache."""

    group_id: str
    user_group_ids: tuple[str, ...]
    auth_token: bool
    """It has an AUTH token: attaching a user group deletes it (AuthTokenUpdateStrategy DELETE)."""


def user_groups_from(properties: str | Mapping[str, Any]) -> tuple[str, ...]:
    """The user group ids in Cloud Control's `properties` (JSON text, as get_resource returns it)."""
    found = json.loads(properties) if isinstance(properties, str) else properties
    ids = found.get("UserGroupIds") if isinstance(found, Mapping) else None
    return tuple(str(i) for i in ids) if isinstance(ids, list) else ()


def attach_command(
    region: str, group: ReplicationGroup, user_group_id: str, removed: tuple[str, ...] = ()
) -> str:
    """The AWS CLI call that puts `user_group_id` on the replication group (taking the `removed`
    groups off), each word quoted for the shell (botocore's elasticache model,
    ModifyReplicationGroupMessage: ReplicationGroupId, UserGroupIdsToAdd, UserGroupIdsToRemove,
    AuthTokenUpdateStrategy, ApplyImmediately)."""
    words = [
        "aws", "elasticache", "modify-replication-group", "--region", region,
        "--replication-group-id", group.group_id, "--user-group-ids-to-add", user_group_id,
    ]  # fmt: skip
    if removed:
        words += ["--user-group-ids-to-remove", *removed]
    if group.auth_token:
        words += ["--auth-token-update-strategy", "DELETE"]
    return " ".join(word(w) for w in [*words, "--apply-immediately"])


def wait_command(region: str, group: ReplicationGroup) -> str:
    """The AWS CLI waiter until the modification is done (botocore's elasticache waiters-2.json,
    ReplicationGroupAvailable)."""
    words = ["aws", "elasticache", "wait", "replication-group-available", "--region", region,
             "--replication-group-id", group.group_id]  # fmt: skip
    return " ".join(word(w) for w in words)


def attach_message(settings: Settings, group: ReplicationGroup, kept: bool = False) -> str:
    """What to run between the two `pulumi up`s of a first deploy on ElastiCache; `kept`: a
    takeover keeps the cache's AUTH token, which the backend goes on using until the attach."""
    redis, stack = settings.config.redis, settings.stack
    if kept:
        return (
            f"user group {redis.user_group_id!r} is not on ElastiCache replication group "
            f"{group.group_id!r} yet: the backend keeps logging in with the cache's AUTH token "
            "(kept on the group's `default` user) until the takeover's step 5 attaches it: "
            f"{attach_command(settings.region, group, str(redis.user_group_id))} (docs/takeover.md)"
        )
    token = (
        " The cache's AUTH token is deleted with it: a client still using the token loses access "
        "(a backend already running on it is a takeover instead: docs/takeover.md)."
        if group.auth_token
        else ""
    )
    return (
        f"user group {redis.user_group_id!r} is not on ElastiCache replication group {group.group_id!r}, "
        "so the cache does not know the backend's users yet: the backend is declared with 0 replicas "
        "(nothing logs in as an unknown user). After this `pulumi up`, attach it and wait: "
        f"{attach_command(settings.region, group, str(redis.user_group_id))} && "
        f"{wait_command(settings.region, group)}; then run `pulumi up --stack {word(stack)}` again, "
        f"which scales the backend up.{token}"
    )


def keeps_token(settings: Settings, key: str) -> bool:
    """Whether server credential `key` is served by the cache's AUTH token a takeover keeps on the
    group's `default` user (adopted, generation 0): pods log in with the token, which the cache
    knows whatever user group it holds (docs/takeover.md, its step 3 runs before step 5 attaches)."""
    return key in settings.adopted and settings.generations.get(key) == 0


def refused(settings: Settings, problems: Problems) -> str:
    """The error of a replication group refused, as the other config errors print (one line per
    problem and its fix)."""
    return "\n".join(
        (f"ElastiCache refused for stack '{settings.stack}' (nothing was declared):", *problems.lines)
    )


def check_attached(settings: Settings, group: ReplicationGroup) -> bool:
    """Whether the stack's user group is on the replication group; warns (with the command) when it
    is not. Another user group on it is a second owner of the cache, whose users the backend's are
    not: refused at production grade (ConfigError, nothing declared), a warning below it."""
    ours = str(settings.config.redis.user_group_id)
    if ours in group.user_group_ids:
        return True
    others = tuple(g for g in group.user_group_ids if g != ours)
    if others:
        swap = attach_command(settings.region, group, ours, others)
        problem = (
            f"ElastiCache replication group {group.group_id!r} holds user group(s) {', '.join(others)}, "
            f"not this stack's {ours!r}: another owner's users, and this stack's would be a second "
            "owner's. Name a cache this stack owns; or, if nothing uses those groups any more (their "
            "users lose access), swap them for this stack's"
        )
        if settings.config.grade == PRODUCTION:
            problems = Problems(settings.stack)
            problems.add(KEY, problem + " (refused at production grade: two owners of one cache)", swap)
            raise ConfigError(refused(settings, problems))
        pulumi.log.warn(f"{KEY}: {problem}: {swap}")
    cached = (spec for spec in server_credentials(settings.catalogue) if spec.server == "redis")
    kept = any(keeps_token(settings, spec.key) for spec in cached)
    pulumi.log.warn(f"{KEY}: {attach_message(settings, group, kept)}")
    return False


def lookup_replication_group(settings: Settings) -> ReplicationGroup | None:
    """The stack's ElastiCache replication group (None: Redis is not on ElastiCache); ConfigError,
    before anything is declared, if these credentials find no such group in the stack's region."""
    redis = settings.config.redis
    if getattr(redis, "kind", None) != ELASTICACHE:
        return None
    group_id, region = str(redis.replication_group_id), settings.region
    try:
        found = aws.elasticache.get_replication_group(replication_group_id=group_id)
        state = aws.cloudcontrol.get_resource(type_name=REPLICATION_GROUP_TYPE, identifier=group_id)
    except Exception as error:  # the provider's own words follow ours
        listing = " ".join(
            word(w)
            for w in ("aws", "elasticache", "describe-replication-groups", "--region", region,
                      "--query", "ReplicationGroups[].ReplicationGroupId")
        )  # fmt: skip
        problems = Problems(settings.stack)
        problems.add(
            KEY,
            f"no ElastiCache replication group {group_id!r} in {region} for these credentials "
            f"({error}): set it to one of those the fix lists (`pulumi config set --path "
            f"redis.replicationGroupId ID --stack {word(settings.stack)}`)",
            listing,
        )
        raise ConfigError(refused(settings, problems)) from None
    return ReplicationGroup(group_id, user_groups_from(state.properties), bool(found.auth_token_enabled))


def lookup_cache_group(settings: Settings) -> bool:
    """Whether the backend may run: True unless Redis is on ElastiCache and the stack's user group
    is not on the replication group (then a warning says what to run)."""
    group = lookup_replication_group(settings)
    return group is None or check_attached(settings, group)
