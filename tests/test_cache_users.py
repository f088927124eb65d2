"""Redis on ElastiCache (`ai-etl:redis.kind: elasticache`): the users the program declares, read from
the committed stack that lives there, and their requests against the AWS emulator (moto) and the
ElastiCache API's own model (botocore's service-2.json, the shapes AWS publishes)."""

from __future__ import annotations

import dataclasses
import re
import string
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from ai_etl import names
from ai_etl.catalogue import by_key, server_credentials
from ai_etl.catalogue.urls import read_url
from ai_etl.components import cacheusers, serverauth
from ai_etl.config.crosschecks import CACHE_PASSWORD_MAX
from ai_etl.config.models import ELASTICACHE
from ai_etl.guardrails.rules import evaluate
from ai_etl.offline.providers import CACHE_USER_GROUP_MEMBER
from ai_etl.offline.records import Registration, Run, secrets_in, unwrap
from ai_etl.ops.check import subjects_of
from ai_etl.tokens import CACHE_USER, CACHE_USER_GROUP, K8S_DEPLOYMENT, K8S_JOB, SM_SECRET
from tests.helpers import STACKS, depends_on, plain_text, run_stack, secrets_manager_values, settings_of

CACHE_STACKS = tuple(s for s in STACKS if settings_of(s).config.redis.kind == ELASTICACHE)
"""The committed stacks whose Redis is on ElastiCache (staging keeps that path rendered)."""
REDIS = next(s for s in server_credentials() if s.server == "redis")
REDIS_URL = next(s for s in by_key().values() if s.password_of == REDIS.key)
ALLOWED = set(string.ascii_letters + string.digits + cacheusers.PASSWORD_SPECIALS)


def test_a_committed_stack_keeps_redis_on_elasticache() -> None:
    """The managed path is rendered, diffed and checked on every pull request only while a committed
    stack uses it."""
    assert CACHE_STACKS


def users_of(run: Run) -> list[Registration]:
    return [
        r for r in run.of_type(CACHE_USER) if names.key_of_cache_user_tags(r.inputs.get("tags")) == REDIS.key
    ]


def password(user: Registration) -> str:
    (value,) = unwrap(user.inputs["authenticationMode"])["passwords"]
    return str(value)


@pytest.mark.parametrize("stack", CACHE_STACKS)
def test_elasticache_users_replace_the_step(stack: str) -> None:
    """What users of an ElastiCache stack rely on, from one render: two login users and a disabled
    `default` in one user group; passwords ElastiCache takes, secret; no Job, no administrator's
    password and no verifiers for Redis; the backend's URL is rediss://, read by redis-py as TLS with
    the active user; and the backend's Deployment waits for every user and the group."""
    run = run_stack(stack)
    settings = settings_of(stack)
    redis = settings.config.redis
    users = users_of(run)
    blue, green = serverauth.login_roles(redis.user)
    by_name = {u.inputs["userName"]: u for u in users}
    assert set(by_name) == {blue, green, names.CACHE_DEFAULT_USER}
    for user in users:
        assert re.fullmatch(
            r"[a-z][a-z0-9]*(-[a-z0-9]+)*", user.inputs["userId"]
        )  # botocore's UserId, lower-case
        assert user.inputs["engine"] == redis.engine
        value = password(user)
        assert 16 <= len(value) <= CACHE_PASSWORD_MAX and set(value) <= ALLOWED, (
            "ElastiCache's password rules"
        )
        assert any(value in str(unwrap(v)) for v in secrets_in(user.inputs)), "the password is secret"
        assert value not in plain_text(user.inputs)
    for role in (blue, green):
        access = by_name[role].inputs["accessString"].split()
        assert access[0] == "on" and "-@dangerous" in access
        assert not {"+@dangerous", "+acl", "+@admin"} & set(access) and not any("reset" in a for a in access)
    assert by_name[names.CACHE_DEFAULT_USER].inputs["accessString"].split()[0] == "off"
    assert len({password(u) for u in users}) == 3, "each user its own password"

    (group,) = run.of_type(CACHE_USER_GROUP)
    assert group.inputs["userGroupId"] == redis.user_group_id
    # Made with its `default` user; the login users join one membership each (cacheusers.py says why).
    assert group.inputs["userIds"] == [by_name[names.CACHE_DEFAULT_USER].inputs["userId"]]
    assert "userIds" in group.ignore_changes
    members = run.of_type(CACHE_USER_GROUP_MEMBER)
    assert sorted(m.inputs["userId"] for m in members) == sorted(
        by_name[r].inputs["userId"] for r in (blue, green)
    )
    assert {m.inputs["userGroupId"] for m in members} == {redis.user_group_id}

    steps = [j for j in run.of_type(K8S_JOB) if REDIS.key in j.inputs["metadata"]["name"]]
    assert steps == [], "ElastiCache refuses ACL SETUSER: no step"
    stored = {names.key_of_secret_name(stack, r.inputs["name"]) for r in run.of_type(SM_SECRET)}
    assert names.verifiers_key(REDIS.key) not in stored
    assert not {s.key for s in by_key().values() if s.admin_of == REDIS.key} & stored

    url = secrets_manager_values(run)[REDIS_URL.key]
    reading = read_url(REDIS_URL, url)
    generation = run.exports["generations"][REDIS.key]
    assert reading.scheme == "rediss" and reading.host == redis.host
    assert reading.username == (blue, green)[serverauth.active_index(generation)]
    assert reading.password == password(by_name[reading.username])
    from redis.asyncio.connection import SSLConnection, parse_url

    assert parse_url(url)["connection_class"] is SSLConnection, "the driver connects with TLS"

    (deployment,) = run.of_type(K8S_DEPLOYMENT)
    for resource in (*users, group):
        assert depends_on(run, deployment, resource), f"the rollout waits for {resource.name}"


@pytest.mark.parametrize("stack", CACHE_STACKS)
def test_a_rotation_changes_only_the_idle_users_password(stack: str) -> None:
    """Bumping the generation changes the password of the user no running pod uses, and the URL
    moves to it; the other user's password (the one old pods hold) stays until the next bump."""
    before = run_stack(stack)
    generation = before.exports["generations"][REDIS.key]
    after = run_stack(stack, overrides={"ai-etl:rotation": {REDIS.key: generation + 1}})
    old = {u.inputs["userName"]: password(u) for u in users_of(before)}
    new = {u.inputs["userName"]: password(u) for u in users_of(after)}
    roles = serverauth.login_roles(settings_of(stack).config.redis.user)
    idle, serving = roles[serverauth.active_index(generation + 1)], roles[serverauth.active_index(generation)]
    assert new[idle] != old[idle] and new[serving] == old[serving]
    assert new[names.CACHE_DEFAULT_USER] == old[names.CACHE_DEFAULT_USER]
    assert read_url(REDIS_URL, secrets_manager_values(after)[REDIS_URL.key]).username == idle
    findings = [f for f in evaluate(subjects_of(after)) if f.rule == "server-rotation-automated"]
    assert findings == []


def test_the_guardrail_sees_a_rollout_that_does_not_wait_for_the_users() -> None:
    """The policy's witness: a Deployment that does not depend on the users is reported."""
    (stack,) = CACHE_STACKS[:1]
    subjects = [
        dataclasses.replace(s, dependencies=tuple(d for d in s.dependencies if CACHE_USER not in d))
        if s.type == K8S_DEPLOYMENT
        else s
        for s in subjects_of(run_stack(stack))
    ]
    findings = [f for f in evaluate(subjects) if f.rule == "server-rotation-automated"]
    assert findings and "ElastiCache users" in findings[0].message


# --- the API's side: moto, and AWS's published shapes -----------------------------------------------


def elasticache_model() -> dict[str, Any]:
    """botocore's copy of the ElastiCache API model (AWS's service-2.json)."""
    loader = botocore.session.get_session().get_component("data_loader")
    return dict(loader.load_service_model("elasticache", "service-2"))


def request(user: Registration) -> dict[str, Any]:
    """The CreateUser request the provider makes of a rendered user (hashicorp/terraform-provider-aws
    internal/service/elasticache/user.go, resourceUserCreate: UserId, UserName, Engine, AccessString,
    AuthenticationMode; tags)."""
    mode = unwrap(user.inputs["authenticationMode"])
    return {
        "UserId": user.inputs["userId"],
        "UserName": user.inputs["userName"],
        "Engine": user.inputs["engine"],
        "AccessString": user.inputs["accessString"],
        "AuthenticationMode": {"Type": mode["type"], "Passwords": list(mode["passwords"])},
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(user.inputs["tags"].items())],
    }


@pytest.mark.slow
@pytest.mark.parametrize("stack", CACHE_STACKS)
def test_the_users_requests_are_what_elasticache_takes(
    stack: str, aws: dict[str, str], tmp_path: Path
) -> None:
    """Against moto (getmoto/moto moto/elasticache/responses.py implements CreateUser, DescribeUsers
    and DeleteUser, and refuses a password under 16 characters), each rendered user is created and
    reads back as declared. moto implements neither ModifyUser, CreateUserGroup, ModifyUserGroup nor
    a replication group's UserGroupIdsToAdd, so those requests (a rotation's ModifyUser of the idle
    user, the group, the takeover's ModifyReplicationGroup) are checked against the API's own model
    instead: botocore's ParamValidator over AWS's service-2.json shapes (required members, types,
    enums, lengths), and the UserId/UserGroupId patterns it states."""
    from tests.helpers import aws_client

    run = run_stack(stack)
    client = aws_client(aws, "elasticache", run.provider_config.get("aws:region"))
    users = users_of(run)
    for user in users:
        client.create_user(**request(user))
    described = {u["UserId"]: u for u in client.describe_users()["Users"]}
    for user in users:
        got = described[user.inputs["userId"]]
        assert (got["UserName"], got["AccessString"], got["Engine"]) == (
            user.inputs["userName"], user.inputs["accessString"], user.inputs["engine"],
        )  # fmt: skip
        assert got["Authentication"] == {"Type": "password", "PasswordCount": 1}

    model = elasticache_model()
    shapes = model["shapes"]
    validator = ParamValidator()
    from botocore.model import ServiceModel

    service = ServiceModel(model, "elasticache")
    (group,) = run.of_type(CACHE_USER_GROUP)
    redis = settings_of(stack).config.redis
    idle = users[1]
    calls = {
        "CreateUser": request(idle),
        "ModifyUser": {
            "UserId": idle.inputs["userId"],
            "AuthenticationMode": request(idle)["AuthenticationMode"],
        },
        "CreateUserGroup": {
            "UserGroupId": group.inputs["userGroupId"],
            "Engine": group.inputs["engine"],
            "UserIds": list(group.inputs["userIds"]),
        },
        "ModifyUserGroup": {
            "UserGroupId": group.inputs["userGroupId"],
            "UserIdsToAdd": [idle.inputs["userId"]],
        },
        "ModifyReplicationGroup": {
            "ReplicationGroupId": str(redis.replication_group_id),
            "UserGroupIdsToAdd": [str(redis.user_group_id)],
            "AuthTokenUpdateStrategy": "DELETE",
            "ApplyImmediately": True,
        },
    }
    for operation, params in calls.items():
        report = validator.validate(params, service.operation_model(operation).input_shape)
        assert not report.has_errors(), f"{operation}: {report.generate_report()}"
    for value, shape in [(u.inputs["userId"], "UserId") for u in users] + [
        (group.inputs["userGroupId"], "UserGroupId")
    ]:
        assert re.fullmatch(shapes[shape]["pattern"], value), f"{value} is no {shape}"
    assert model["metadata"]["serviceId"] == "ElastiCache"
