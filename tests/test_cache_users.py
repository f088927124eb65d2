"""Redis on ElastiCache (`ai-etl:redis.kind: elasticache`): the users the program declares, read from
the committed stack that lives there, and their requests against the AWS emulator (moto) and the
ElastiCache API's own model (botocore's service-2.json, the shapes AWS publishes)."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import string
from pathlib import Path
from typing import Any

import botocore.session
import pulumi
import pytest
from botocore.validate import ParamValidator

from ai_etl import names
from ai_etl.catalogue import by_key, server_credentials
from ai_etl.catalogue.urls import read_url
from ai_etl.components import cacheusers, serverauth
from ai_etl.config.cachegroup import ReplicationGroup, check_attached
from ai_etl.config.crosschecks import CACHE_PASSWORD_MAX
from ai_etl.config.models import ELASTICACHE
from ai_etl.config.settings import ConfigError
from ai_etl.grade import PRODUCTION
from ai_etl.guardrails.rules import evaluate
from ai_etl.offline.providers import CACHE_USER_GROUP_MEMBER
from ai_etl.offline.records import Registration, Run, secrets_in, unwrap
from ai_etl.offline.render import resource_record
from ai_etl.offline.runner import run_program
from ai_etl.offline.stackconfig import load_project
from ai_etl.ops.check import subjects_of
from ai_etl.ops.diff import preface_of, scaled_to_zero
from ai_etl.tokens import (
    CACHE_USER,
    CACHE_USER_GROUP,
    GET_CLOUDCONTROL_RESOURCE,
    GET_REPLICATION_GROUP,
    K8S_DEPLOYMENT,
    K8S_JOB,
    SM_SECRET,
)
from tests.helpers import (
    PLACEHOLDERS,
    STACKS,
    depends_on,
    plain_text,
    run_stack,
    secrets_manager_values,
    settings_of,
    stack_config,
)
from tests.pasting import fixes
from tests.paths import PROGRAM

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


# --- the first deploy: the user group must be on the replication group before the backend runs -----


NOT_ATTACHED: dict[str, Any] = {GET_CLOUDCONTROL_RESOURCE: {"properties": {"UserGroupIds": []}}}
"""Cloud Control's answer for a replication group holding no user group (the trail's lookup, the
same function, ignores the property)."""


def first_deploy(stack: str, secrets: dict[str, str] = PLACEHOLDERS) -> Run:
    """`stack` rendered before its user group is on its replication group."""
    return run_program(
        stack, stack_config(stack), secrets, program=PROGRAM, project=load_project(), answers=NOT_ATTACHED
    )


@pytest.fixture(scope="module")
def detached() -> dict[str, Run]:
    """Each ElastiCache stack on a first deploy: its replication group holds no user group yet."""
    return {stack: first_deploy(stack) for stack in CACHE_STACKS}


def cli_request(command: str) -> tuple[str, str, dict[str, Any]]:
    """An `aws <service> <operation> --flag value ...` line as its region, operation and botocore
    request, validated against the operation's input shape: awscli names each member's flag
    `xform_name(member, '-')` (aws/aws-cli awscli/clidriver.py, ServiceOperation); a list member
    takes its values after the flag, a boolean is `--x`. `--region`, `--query` and `--output` are
    the CLI's own options."""
    from botocore import xform_name

    argv = shlex.split(command)
    assert argv[0] == "aws"
    service, operation, rest = argv[1], argv[2], argv[3:]
    model = botocore.session.get_session().get_service_model(service)
    name = next(n for n in model.operation_names if xform_name(n, "-") == operation)
    members = model.operation_model(name).input_shape.members
    flags = {xform_name(m, "-"): m for m in members}
    params: dict[str, Any] = {}
    options: dict[str, str] = {}  # the CLI's own: where it calls, what it prints
    while rest:
        flag = rest.pop(0).removeprefix("--")
        if flag in ("region", "query", "output"):
            options[flag] = rest.pop(0)
            continue
        member = flags[flag]
        shape = members[member]
        if shape.type_name == "boolean":
            params[member] = True
        elif shape.type_name == "list":
            params[member] = [rest.pop(0)]
        else:
            params[member] = rest.pop(0)
    report = ParamValidator().validate(params, model.operation_model(name).input_shape)
    assert not report.has_errors(), report.generate_report()
    return options.get("region", ""), name, params


@pytest.mark.parametrize("stack", CACHE_STACKS)
def test_a_first_deploy_runs_no_backend_until_the_user_group_is_attached(
    stack: str, detached: dict[str, Run]
) -> None:
    """On a new stack the replication group does not hold the stack's user group yet (the group is
    made by this very `pulumi up`), so pods logging in as its users would crash-loop and the
    Deployment's await would fail the deploy. Then: the users and the group are declared as ever,
    the backend with 0 replicas and nothing else different; one warning prints the attach, exactly
    as ModifyReplicationGroup takes it (flags and values checked against botocore's model: moto's
    ModifyReplicationGroup ignores UserGroupIdsToAdd, getmoto/moto moto/elasticache/responses.py),
    the wait, and the second `pulumi up`. Once attached (the offline runner's default answer: the
    committed stack renders as a stack past its first deploy) the backend has its replicas and no
    such warning."""
    settings, redis = settings_of(stack), settings_of(stack).config.redis
    attached, first = run_stack(stack), detached[stack]
    (scaled,), (waiting,) = attached.of_type(K8S_DEPLOYMENT), first.of_type(K8S_DEPLOYMENT)
    assert scaled.inputs["spec"]["replicas"] == settings.workloads["backend"].replicas > 0
    assert waiting.inputs["spec"]["replicas"] == 0
    assert {**waiting.inputs["spec"], "replicas": None} == {**scaled.inputs["spec"], "replicas": None}
    assert [u.inputs for u in users_of(first)] == [u.inputs for u in users_of(attached)]
    assert [g.inputs for g in first.of_type(CACHE_USER_GROUP)] == [
        g.inputs for g in attached.of_type(CACHE_USER_GROUP)
    ]
    assert not [w for w in attached.warnings if str(redis.user_group_id) in w]

    (warning,) = [w for w in first.warnings if str(redis.user_group_id) in w]
    assert warning.startswith("redis.replicationGroupId: ") and "0 replicas" in warning
    attach, wait = re.findall(r"(aws elasticache [^;&]*?)(?: &&|;)", warning)
    region, operation, params = cli_request(attach)
    assert (region, operation) == (settings.region, "ModifyReplicationGroup")
    assert params == {
        "ReplicationGroupId": redis.replication_group_id,
        "UserGroupIdsToAdd": [redis.user_group_id],
        "ApplyImmediately": True,
    }, "no AUTH token on the offline cache: nothing deleted"
    region, operation, params = cli_request(
        wait.replace(" wait replication-group-available", " describe-replication-groups")
    )
    assert params == {"ReplicationGroupId": redis.replication_group_id} and region == settings.region
    waiters = botocore.session.get_session().get_waiter_model("elasticache")
    assert "ReplicationGroupAvailable" in waiters.waiter_names
    assert f"then run `pulumi up --stack {shlex.quote(stack)}` again" in warning


@pytest.mark.parametrize("stack", CACHE_STACKS)
def test_the_diff_calls_a_running_backend_scaled_to_zero_a_danger(
    stack: str, detached: dict[str, Run]
) -> None:
    """A running stack whose user group left its replication group would lose its backend on the
    next `pulumi up`: the diff a reviewer reads opens with a DANGER line naming the Deployment, its
    replicas before and after, and why. (A first deploy has no base to diff, and a takeover attaches
    the group before its `pulumi up`, docs/takeover.md.) The reverse, the second `pulumi up`, is
    no danger."""
    base = [resource_record(r) for r in run_stack(stack).resources]
    head = [resource_record(r) for r in detached[stack].resources]
    replicas = settings_of(stack).workloads["backend"].replicas
    (line,) = scaled_to_zero(base, head)
    assert line.startswith(
        f"DANGER: Deployment {names.workload('backend')} goes from {replicas} replicas to 0"
    )
    assert "user group is not on the replication group" in line
    assert line in preface_of(base, head, stack).text
    assert scaled_to_zero(head, base) == () and scaled_to_zero(base, base) == ()


@pytest.mark.parametrize("stack", CACHE_STACKS)
def test_another_owners_user_group_on_the_cache_is_refused_at_production_grade(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replication group holding another user group has another owner, whose users are not the
    stack's: a production-grade stack is refused before anything is declared; its fix, for when
    nothing uses the other group any more, swaps it for the stack's in one ModifyReplicationGroup
    (the `--auth-token-update-strategy DELETE` a cache with a token needs included). Below that
    grade the same is a warning, and the backend waits at 0 replicas as on any first deploy."""
    settings = settings_of(stack)
    production = dataclasses.replace(
        settings, config=settings.config.model_copy(update={"grade": PRODUCTION})
    )
    other = ReplicationGroup(str(settings.config.redis.replication_group_id), ("someone-elses-users",), True)
    with pytest.raises(ConfigError) as raised:
        check_attached(production, other)
    message = str(raised.value)
    assert "redis.replicationGroupId:" in message and "someone-elses-users" in message
    (fix,) = fixes(message)
    _, _, params = cli_request(fix)
    assert params["UserGroupIdsToAdd"] == [settings.config.redis.user_group_id]
    assert params["UserGroupIdsToRemove"] == ["someone-elses-users"]
    assert params["AuthTokenUpdateStrategy"] == "DELETE"
    assert check_attached(production, dataclasses.replace(other, user_group_ids=(
        "someone-elses-users", str(settings.config.redis.user_group_id)))) is True  # fmt: skip
    warned: list[str] = []  # outside a run, the SDK's log would go to the last run's logger
    monkeypatch.setattr(pulumi.log, "warn", warned.append)
    assert check_attached(settings, other) is False  # standard grade: warned, not refused
    assert len(warned) == 2 and "someone-elses-users" in warned[0] and "0 replicas" in warned[1]


@pytest.mark.parametrize("stack", CACHE_STACKS)
def test_a_missing_replication_group_is_one_clear_error_before_anything(stack: str) -> None:
    """A replicationGroupId these credentials cannot find stops the program before anything is
    declared, naming the key, with the command that lists the groups of the stack's region."""
    registrations: list[Registration] = []
    with pytest.raises(ConfigError) as raised:
        run_program(stack, stack_config(stack), PLACEHOLDERS, program=PROGRAM, project=load_project(),
                    answers={GET_REPLICATION_GROUP: None}, registrations=registrations)  # fmt: skip
    assert not [r for r in registrations if r.custom], "something was declared before the error"
    message = str(raised.value)
    assert "redis.replicationGroupId: no ElastiCache replication group" in message
    (fix,) = fixes(message)
    region, operation, _ = cli_request(fix)
    assert (region, operation) == (settings_of(stack).region, "DescribeReplicationGroups")


@pytest.mark.parametrize("stack", CACHE_STACKS)
def test_a_takeovers_backend_keeps_running_on_the_token_before_the_attach(stack: str) -> None:
    """The takeover's first `pulumi up` (its step 3) runs before its step 5 attaches the group, with
    the cache's AUTH token kept on the group's `default` user: the backend logs in with that token,
    which the cache knows, so it keeps its replicas; the warning names the takeover's attach instead
    of a scale-down (docs/takeover.md)."""
    secrets = {**PLACEHOLDERS, "ai-etl:adopt": json.dumps({REDIS.key: "fake-kept-token-0000"})}
    run = first_deploy(stack, secrets)
    (deployment,) = run.of_type(K8S_DEPLOYMENT)
    assert deployment.inputs["spec"]["replicas"] == settings_of(stack).workloads["backend"].replicas
    (warning,) = [w for w in run.warnings if "replication group" in w]
    assert "AUTH token" in warning and "takeover's step 5" in warning and "0 replicas" not in warning


def test_the_documented_first_deploy_runs_what_the_preview_prints(detached: dict[str, Run]) -> None:
    """docs/configuration.md's "Adding a stack" shows a committed stack's first deploy: its attach
    and wait lines are the very commands that stack's preview prints, and they sit between two
    `pulumi up`s of that stack."""
    text = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    block = text.split("## Adding a stack", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    (group,) = {m for line in lines for m in re.findall(r"--replication-group-id (\S+)", line)}
    (stack,) = [s for s in CACHE_STACKS if settings_of(s).config.redis.replication_group_id == group]
    (warning,) = [w for w in detached[stack].warnings if "0 replicas" in w]
    up = f"pulumi up --stack {shlex.quote(stack)}"
    assert lines[0] == lines[3] == up
    assert f"{lines[1]} && {lines[2]};" in warning
