"""A server credential's users on ElastiCache (Valkey 7.2+, Redis OSS 7+), declared through AWS's API.

ElastiCache's RBAC refuses `ACL SETUSER` (its users are made with CreateUser/ModifyUser), so there is
no rotation step here: the program declares the two users of the credential, `<user>_blue` and
`<user>_green`, alternating by generation exactly as the in-cluster roles do (serverauth:
login_roles, active_index, role_generation). A bump changes the password of the user no running pod
uses (a ModifyUser), and the backend's new Secret and its rollout depend on these users, so they
wait for it: the provider's update returns only once the user is `active` again
(hashicorp/terraform-provider-aws internal/service/elasticache/user.go: resourceUserUpdate calls
ModifyUser, then waitUserUpdated from `modifying` to `active`; pulumi-aws bridges that provider),
and Pulumi runs a resource's update after those of what it depends on (pulumi/docs
content/docs/iac/concepts/resources/options/dependson: "resource creation, update, and deletion
operations are executed in the correct order"; the Python SDK sends a resource's registration only
once its dependencies' URNs resolved, pulumi/pulumi sdk/python/lib/pulumi/runtime/resource.py,
prepare_resource, and _depends_on.py).

Every user group must hold a user named `default` (ElastiCache's RBAC documentation); ours is off,
with a password no one is given, unless a takeover keeps the cache's AUTH token on it while pods
still use the token (docs/takeover.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ai_etl.names import CREDENTIAL_TAG
from ai_etl.tokens import CACHE_USERS_COMPONENT

ACCESS_STRING = "on ~* &* +@all -@dangerous"
"""What the backend's users may do: every key and channel, every command but the dangerous ones
(`@dangerous` holds ACL, CONFIG, FLUSHALL, KEYS, DEBUG, ...: redis/redis src/commands/*.json,
`acl_categories`), so no `+acl`, no `+@dangerous`. ElastiCache refuses `reset` and passwords inside
an access string (its RBAC documentation); `on` makes the user usable."""
DEFAULT_OFF = "off -@all"
"""The group's `default` user, disabled: a client that sends no user name (or `AUTH <password>`)
authenticates as `default`, and is refused."""
DEFAULT_KEPT = "on ~* &* +@all"
"""The `default` user while a takeover keeps the cache's AUTH token on it: what the token gave every
client before (ElastiCache's own default user has `on ~* +@all`)."""
PASSWORD_SPECIALS = "!&#$^<>-"
"""The only non-alphanumeric characters ElastiCache accepts in an AUTH token (its AUTH
documentation: "Nonalphanumeric characters are restricted to (!, &, #, $, ^, <, >, -)"), which
also keep clear of the `"`, `/`, `@` and spaces its users' passwords may not hold: a generated
password that a takeover moves onto the `default` user is valid both ways."""
AUTHENTICATION = "password"
"""CreateUser's AuthenticationMode.Type (botocore's elasticache model, InputAuthenticationType):
a user group of engine valkey holds only users that authenticate (ElastiCache's RBAC
documentation), so even the disabled default user has a password."""


@dataclass(frozen=True)
class CacheUser:
    """One ElastiCache user: its id (unique per account and region), name and access string."""

    user_id: str
    user_name: str
    access_string: str


@dataclass(frozen=True)
class CacheUsersArgs:
    key: str
    """The server credential (catalogue key) whose passwords the users hold: tagged on each."""
    engine: str
    user_group_id: str
    users: Sequence[CacheUser]
    """The login users, blue then green, then the group's `default` user."""
    passwords: Sequence[pulumi.Input[str]] = field(repr=False)
    """One secret per user, in the same order."""
    tags: Mapping[str, str] = field(default_factory=dict)


class CacheUsers(pulumi.ComponentResource):
    """The credential's ElastiCache users and its user group; depend on `ready` to run after them."""

    ready: list[pulumi.Resource]
    """The users, the group and the login users' memberships: what the backend's new Secret and
    Deployment wait for."""
    user_group_id: pulumi.Output[str]
    """The user group, once it holds the users."""

    def __init__(self, name: str, args: CacheUsersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(CACHE_USERS_COMPONENT, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        users = [
            aws.elasticache.User(
                f"{name}-{user.user_name.replace('_', '-')}",
                user_id=user.user_id,
                user_name=user.user_name,
                engine=args.engine,
                access_string=user.access_string,
                tags={**args.tags, CREDENTIAL_TAG: args.key},
                authentication_mode=aws.elasticache.UserAuthenticationModeArgs(
                    type=AUTHENTICATION, passwords=[pulumi.Output.secret(password)]
                ),
                opts=child,
            )
            for user, password in zip(args.users, args.passwords, strict=True)
        ]
        # The login users join the group one association each, not through the group's list: a new
        # `redis.user` makes new users whose associations are created before the rollout, while the
        # old users' go with the deletions, after it (an update of the group's list would remove the
        # running pods' user first: internal/service/elasticache/user_group.go, resourceUserGroupUpdate,
        # UserIdsToRemove). The group is made with its `default` user (DefaultUserRequired) and
        # ignores the list the associations change (user_group_association.go, and the resource's
        # documentation; concurrent associations are retried on InvalidUserGroupStateFault there).
        *logins, default = users
        group = aws.elasticache.UserGroup(
            f"{name}-group",
            user_group_id=args.user_group_id,
            engine=args.engine,
            user_ids=[default.user_id],
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["userIds"]),
        )
        members = [
            aws.elasticache.UserGroupAssociation(
                f"{name}-{user.user_name.replace('_', '-')}-member",
                user_group_id=group.user_group_id,
                user_id=login.user_id,
                opts=child,
            )
            for user, login in zip(args.users[:-1], logins, strict=True)
        ]
        self.ready = [*users, group, *members]
        self.user_group_id = group.user_group_id
        self.register_outputs({"user_group_id": self.user_group_id})
