"""This project's diff (`python -m ai_etl.ops.diff`): the offline diff of two renders, opened by the
credentials the change rotates; the generic offline diff knows nothing of them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ai_etl.names import ACTIVE_ROLE_TAG, CREDENTIAL_TAG
from ai_etl.offline import diff as diffing
from ai_etl.offline import formats
from ai_etl.offline.cli import main as offline_main
from ai_etl.offline.render import render, resource_record
from ai_etl.ops.diff import (
    ELASTICACHE,
    MOVING,
    USER_CHANGE,
    Server,
    main,
    moved_servers,
    order_of,
    preface,
    preface_of,
    rotated_credentials,
    scaled_to_zero,
)
from ai_etl.ops.impact import MASTER, RDS_HOST
from ai_etl.tokens import CACHE_USER, CACHE_USER_GROUP, SM_VERSION
from tests.helpers import project_copy, stack_config
from tests.helpers import run_config as run_with
from tests.paths import PROJECT_DIR

ROTATE_DB_PASSWORD = "  ai-etl:rotation:\n    db-password: 1\n"


@pytest.fixture(scope="module")
def rotation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Production as it is, and production with db-password rotated: two render folders."""
    tmp = tmp_path_factory.mktemp("rotation")
    base = render("production", tmp / "base").resources_path.parent
    folder = project_copy(tmp / "head", "production", ROTATE_DB_PASSWORD)
    head = render("production", tmp / "head-render", folder).resources_path.parent
    return base, head


def test_a_diff_opens_with_the_credentials_it_rotates(rotation: tuple[Path, Path]) -> None:
    """A reviewer sees first which credentials change and, for a server credential, which login
    role becomes active and that pods not yet rolled keep the other (the secret's ActiveRole tag,
    before and after): bumping db-password changes it, its verifiers and DATABASE_URL."""
    base, head = diffing.load(rotation[0]), diffing.load(rotation[1])
    rotated = rotated_credentials(base, head, "production")
    assert [(c.name, c.key, c.role, c.old_role) for c in rotated] == [
        ("ai-etl/production/database-url", "database-url", None, None),
        ("ai-etl/production/db-password", "db-password", "ai_etl_green", "ai_etl_blue"),
        ("ai-etl/production/db-password-verifiers", "db-password-verifiers", None, None),
    ]
    text = formats.format_text(diffing.diff(base, head), preface=preface(rotated))
    assert text.startswith("Credentials this change rotates (3):\n  ai-etl/production/database-url\n")
    assert (
        "ai-etl/production/db-password  -> login role ai_etl_green becomes active (its rotation step "
        "sets its new password first); pods not yet rolled keep working on ai_etl_blue"
    ) in text
    markdown = formats.format_markdown(diffing.diff(base, head), "production", preface=preface(rotated))
    assert markdown.startswith("### production\n\n**Credentials this change rotates (3):**")
    assert "- `ai-etl/production/db-password`: login role ai_etl_green becomes active" in markdown


def test_the_preview_says_the_order_pulumi_up_runs_a_rotation_in(rotation: tuple[Path, Path]) -> None:
    """A reviewer reads the rotation's phases in the order `pulumi up` will run them, worked out from
    the render's dependencies: the rotation step's Job (awaited until Complete) before the backend's
    new ExternalSecret (awaited until its condition), that before the rollout of the Deployment,
    and the deletions last (the previous generation's Job and ExternalSecrets), both in the text
    diff and in the pull-request comment."""
    base, head = diffing.load(rotation[0]), diffing.load(rotation[1])
    order = order_of(base, head)

    def at(text: str) -> int:
        (found,) = [n for n, line in enumerate(order[:-1]) if text in line]
        return found

    job = at("Job ai-etl-db-password-step-1, until the Job is Complete")
    secret = at("ExternalSecret ai-etl-backend-secrets-")
    rollout = at("Deployment ai-etl-backend: the rollout, until the new pods are ready")
    assert job < secret < rollout < len(order) - 1, order
    assert "until condition=Ready" in order[secret], order[secret]
    last = order[-1]
    assert last.startswith("last, once every other step succeeded, the deletions: ")
    assert (
        "the old Job ai-etl-db-password-step-0" in last
        and "the old ExternalSecret ai-etl-backend-secrets-" in last
    )
    rotated = rotated_credentials(base, head, "production")
    text = formats.format_text(diffing.diff(base, head), preface=preface(rotated, order))
    numbered = [line for line in text.splitlines() if re.match(r"  \d+\. ", line)]
    assert [line.split(". ", 1)[1] for line in numbered] == list(order)
    markdown = formats.format_markdown(
        diffing.diff(base, head), "production", preface=preface(rotated, order)
    )
    assert f"{len(order)}. {last}" in markdown


def thing(urn: str, *needs: str, name: str = "", **options: Any) -> dict[str, Any]:
    """A resource record as a render writes it (ai_etl/offline/render.py, resource_record)."""
    metadata = {"metadata": {"name": name, "namespace": "ns"}} if name else {}
    kind = "kubernetes:batch/v1:Job" if name else "test:index:Thing"
    return {"urn": urn, "type": kind, "name": urn, "custom": True, "dependencies": list(needs),
            "inputs": {"v": options.pop("v", 0), **metadata}, **options}  # fmt: skip


def test_the_phases_follow_the_declared_dependencies_not_a_list() -> None:
    """The order comes from the render alone: a change waits for every resource it needs, even
    through an unchanged one (which takes no step of its own); a resource that needs nothing
    changed goes first whatever its type; deletions come last, dependents first; and a replacement
    that must delete first (deleteBeforeReplace, or a Kubernetes object keeping its name) says so in
    its own phase instead of among the deletions."""
    base = [thing("a"), thing("b", "a"), thing("c", "b"), thing("job", name="j"), thing("x"), thing("y", "x")]
    head = [
        thing("a", v=1), thing("b", "a"), thing("c", "b", v=1), thing("d", "c"),
        thing("job", name="j", v=1), thing("e", deleteBeforeReplace=True, v=1),
    ]  # fmt: skip
    base.append(thing("e"))
    changes = diffing.diff(base, head)
    changes = [
        diffing.Change("replace", c.urn, c.type, c.name, c.fields, ["v"]) if c.urn in ("job", "e") else c
        for c in changes
    ]
    found = diffing.phases(base, head, changes)
    assert [[c.urn for c in p.changes] for p in found] == [["a", "job", "e"], ["c"], ["d"], ["y", "x"]]
    assert found[0].deleted_first == ("job", "e") and found[-1].deletions
    unchained = [thing("c", v=1) if r["urn"] == "c" else r for r in head]
    assert [[c.urn for c in p.changes] for p in diffing.phases(base, unchained, changes)][:2] == [
        ["a", "c", "job", "e"],
        ["d"],
    ]


def test_the_credential_is_found_by_what_its_value_depends_on() -> None:
    """A value names its secret by an ARN the render does not hold; the secret is the one the value
    depends on, whatever the ARN looks like, and its role is its ActiveRole tag. A value whose
    secret is not in the render is listed by the ARN it names."""
    secret = {
        "urn": "urn:s",
        "type": "aws:secretsmanager/secret:Secret",
        "name": "s",
        "inputs": {"name": "ai-etl/dev/db-password", "tags": {ACTIVE_ROLE_TAG: "ai_etl_blue"}},
    }
    version = {
        "urn": "urn:v",
        "type": "aws:secretsmanager/secretVersion:SecretVersion",
        "name": "v",
        "dependencies": ["urn:s"],
        "inputs": {"secretId": "arn:aws:secretsmanager:us-east-1:1:secret:unrelated-abcdef"},
    }
    orphan = {**version, "urn": "urn:o", "dependencies": [], "inputs": {"secretId": "arn:x"}}
    found, lone = rotated_credentials([], [secret, version, orphan], "dev")
    assert (found.name, found.key, found.role) == ("ai-etl/dev/db-password", "db-password", "ai_etl_blue")
    assert found.step == "its rotation step sets the password of login role ai_etl_blue"
    assert (lone.name, lone.key, lone.role, lone.step) == ("arn:x", None, None, None)


def test_the_projects_diff_command_says_it_and_the_generic_one_does_not(
    rotation: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m ai_etl.ops.diff` (what CI posts) opens with the credentials; `python -m
    ai_etl.offline diff` shows the same changes for any project, without this project's reading."""
    base, head = map(str, rotation)
    assert main([base, head, "--format", "markdown", "--title", "production", "--exit-code"]) == 1
    ours = capsys.readouterr().out
    assert ours.startswith("### production\n\n**Credentials this change rotates (3):**")
    assert offline_main(["diff", base, head, "--format", "markdown", "--title", "production"]) == 0
    generic = capsys.readouterr().out
    assert "Credentials" not in generic and generic.startswith("### production\n\n**2 to create")
    assert ours.endswith(generic.split("\n\n", 1)[1])


def test_a_reader_that_stops_early_gets_no_traceback(rotation: tuple[Path, Path]) -> None:
    """`python -m ai_etl.ops.diff A B | head -5` is how a reviewer glances at a diff: once the reader
    has gone, the command ends quietly with 141 (as a command SIGPIPE ends, to a shell), as the
    Python docs' signal page recommends for BrokenPipeError, not with a traceback. The reader here
    is gone before the first write, so every write meets the closed pipe."""
    command = [sys.executable, "-m", "ai_etl.ops.diff", *map(str, rotation)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=PROJECT_DIR)
    assert process.stdout is not None
    process.stdout.close()
    _, errors = process.communicate(timeout=120)
    assert (process.returncode, errors.decode()) == (141, "")


@pytest.mark.parametrize(("before", "after"), [(1, 0), (1, 3), (0, 2)])
def test_a_generation_moved_by_more_than_one_is_called_a_danger(
    tmp_path: Path, before: int, after: int
) -> None:
    """Lowering a generation after its rotation, or jumping two, gives the login role the running
    pods use a new password too: they would fail to connect until they roll. The diff says so
    first, instead of promising that old pods keep working; a bump by one says nothing of it."""
    renders = {}
    for generation in (before, after, before + 1):
        folder = project_copy(
            tmp_path / f"g{generation}", "production", f"  ai-etl:rotation:\n    db-password: {generation}\n"
        )
        renders[generation] = diffing.load(
            render("production", tmp_path / f"r{generation}", folder).resources_path.parent
        )
    (moved,) = [
        c
        for c in rotated_credentials(renders[before], renders[after], "production")
        if c.key == "db-password"
    ]
    assert moved.breaks and moved.step is not None and moved.step.startswith("DANGER: login role ")
    (bumped,) = [
        c
        for c in rotated_credentials(renders[before], renders[before + 1], "production")
        if c.key == "db-password"
    ]
    assert not bumped.breaks and "keep working" in str(bumped.step)


MANAGED = {
    "ai-etl:database": {
        "kind": "rds",
        "host": RDS_HOST,
        "masterSecretArn": MASTER,
    },
    "ai-etl:redis": {
        "kind": "elasticache",
        "replicationGroupId": "ai-etl-dev",
        "userGroupId": "ai-etl-dev-users",
        "host": "master.ai-etl-dev.example.use1.cache.amazonaws.com",
    },
}
"""The dev stack with both servers AWS-managed (the impact table's alternates)."""


@pytest.fixture(scope="module")
def kinds() -> dict[str, list[dict[str, Any]]]:
    """The dev stack's render as committed (both servers of kind cluster) and with both managed."""
    return {
        "cluster": [resource_record(r) for r in run_with("dev", stack_config("dev")).resources],
        "managed": [resource_record(r) for r in run_with("dev", stack_config("dev", MANAGED)).resources],
    }


@pytest.mark.parametrize(("before", "after"), [("cluster", "managed"), ("managed", "cluster")])
def test_a_switch_of_kind_says_the_data_stays_and_what_each_side_does(
    kinds: dict[str, list[dict[str, Any]]], before: str, after: str
) -> None:
    """A switch of kind on a running stack (cluster <-> RDS, cluster <-> ElastiCache) moves no data:
    the reviewer reads, first, that each server moves, from where to where (read off the two renders:
    the step's host and TLS mode, the ElastiCache user group), that the data stays behind, how the
    new server gets its credential before the rollout and what becomes of the old one's, and the
    runbook section to follow. The credential itself is a new server's, never a DANGER: the step
    that sets `<user>_blue` on the in-cluster Redis does not touch ElastiCache's user of that name."""
    base, head = kinds[before], kinds[after]
    moves = {m.key: m for m in moved_servers(base, head, "dev")}
    assert sorted(moves) == ["db-password", "redis-password"]
    db, cache = moves["db-password"], moves["redis-password"]
    rds = Server("RDS/Aurora", RDS_HOST)
    elasticache = Server(ELASTICACHE, "user group ai-etl-dev-users")
    in_cluster = {
        "db-password": Server("kind cluster", "postgres-svc"),
        "redis-password": Server("kind cluster", "redis-svc"),
    }
    if before == "cluster":
        assert (db.before, db.after) == (in_cluster["db-password"], rds)
        assert (cache.before, cache.after) == (in_cluster["redis-password"], elasticache)
        assert "Its ElastiCache users are created (ai_etl_blue active) before the rollout" in cache.words
        assert "on redis-svc the login roles keep their passwords" in cache.words
        assert all("AdminPassword" not in m.words for m in (db, cache)), "RDS's master secret logs in"
    else:
        assert (db.before, db.after) == (rds, in_cluster["db-password"])
        assert (cache.before, cache.after) == (elasticache, in_cluster["redis-password"])
        # the step logs in to the in-cluster server as its administrator: a managed stack's file
        # holds `not-used` there (Pulumi.staging.yaml's comment)
        for move, config_key in ((db, "dbAdminPassword"), (cache, "redisAdminPassword")):
            assert (
                f"`{config_key}` must hold the in-cluster server's real administrator password before "
                "this `pulumi up`" in move.words
            )
        # the group is detached only after the rollout: detaching it first refuses the running pods
        assert cache.group_deleted and "remove it from there first" not in cache.words
        rolls, fails, detach, again = (
            cache.words.index(part)
            for part in (
                "this `pulumi up` rolls the backend onto redis-svc",
                "then fails deleting user group ai-etl-dev-users",
                "only then detach it (`--user-group-ids-to-remove`",
                "and run `pulumi up` again",
            )
        )
        assert rolls < fails < detach < again
        assert (
            "ElastiCache users of user group ai-etl-dev-users are deleted last, after the rollout"
            in cache.words
        )
        assert "The rotation step's Job sets login role ai_etl_blue's password there" in cache.words
    for move in (db, cache):
        assert f"the data stays on {move.before.where}" in move.words and MOVING in move.words
    section = MOVING.split("#")[1]
    assert f"## {section.replace('-', ' ')}" in (PROJECT_DIR / "docs" / "runbooks.md").read_text().lower()
    rotated = {c.key: c for c in rotated_credentials(base, head, "dev")}
    assert rotated["redis-password"].moved and not rotated["redis-password"].breaks
    assert "DANGER" not in str(rotated["redis-password"].step)
    text = "\n".join(preface_of(base, head, "dev").text)
    assert "Servers this change moves, their data does not (2):\n  db-password: Postgres moves" in text
    # The offline render assumes the user group attached (docs/offline.md), so head keeps the
    # backend's replicas; yet the `pulumi up` that creates the group finds it unattached
    # (ai_etl/config/cachegroup.py) and runs the backend at 0 until the attach and a second `up`.
    danger = scaled_to_zero(base, head)
    if before == "cluster":
        (line,) = danger
        assert line.startswith(
            "DANGER: Deployment ai-etl-backend goes from 1 replicas to 0 on this `pulumi up`"
        )
        assert "creates ElastiCache user group ai-etl-dev-users" in line and USER_CHANGE in line
        assert "attached and `pulumi up` runs again" in line
        assert text.startswith(f"{line}\n\nServers this change moves")
        assert scaled_to_zero([], head) == (), "a new stack runs nothing yet"
    else:
        assert danger == () and "DANGER" not in text


def test_an_elasticache_credential_is_set_by_its_api_not_a_step() -> None:
    """ElastiCache has no rotation step: the provider's ModifyUser changes the idle user's password.
    The diff says so for a credential whose users are in a user group, and keeps the step's words
    for a server the step logs in to."""
    secret: dict[str, Any] = {
        "urn": "urn:s",
        "type": "aws:secretsmanager/secret:Secret",
        "name": "s",
        "inputs": {"name": "ai-etl/dev/redis-password", "tags": {ACTIVE_ROLE_TAG: "ai_etl_green"}},
    }
    version = {"urn": "urn:v", "type": SM_VERSION, "name": "v", "dependencies": ["urn:s"], "inputs": {}}
    user = {
        "urn": "urn:u",
        "type": CACHE_USER,
        "name": "u",
        "inputs": {
            "userId": "ai-etl-dev-ai-etl-green",
            "userName": "ai_etl_green",
            "tags": {CREDENTIAL_TAG: "redis-password"},
        },
    }
    group = {
        "urn": "urn:g",
        "type": CACHE_USER_GROUP,
        "name": "g",
        "inputs": {"userGroupId": "g1", "userIds": ["ai-etl-dev-ai-etl-green"]},
    }
    old_secret = {**secret, "inputs": {**secret["inputs"], "tags": {ACTIVE_ROLE_TAG: "ai_etl_blue"}}}
    (found,) = rotated_credentials([old_secret, user, group], [secret, version, user, group], "dev")
    assert found.step == (
        "ElastiCache user ai_etl_green becomes active (ElastiCache's ModifyUser, no step, sets its new "
        "password first); pods not yet rolled keep working on ai_etl_blue"
    )
    assert "rotation step" not in str(found.step)


def test_a_new_redis_user_on_elasticache_keeps_the_running_pods_user_until_they_roll() -> None:
    """A change of `redis.user` on ElastiCache makes new users (their ids carry the name: user_id and
    user_name force a new user, hashicorp/terraform-provider-aws internal/service/elasticache/user.go,
    and a fixed id could not be made anew before the old one is gone). The running pods' user must
    stay in the user group until they roll: its membership goes in the deletions, after the
    rollout, with the user itself; the diff's phases show it and no DANGER is raised."""
    base = [resource_record(r) for r in run_with("staging", stack_config("staging")).resources]
    renamed = stack_config("staging", {"ai-etl:redis": {"user": "ai_etl_2"}})
    head = [resource_record(r) for r in run_with("staging", renamed).resources]
    (redis,) = [c for c in rotated_credentials(base, head, "staging") if c.key == "redis-password"]
    assert (redis.old_role, redis.role) == ("ai_etl_blue", "ai_etl_2_blue")
    assert not redis.dropped and "DANGER" not in str(redis.step), redis.step
    # the plan creates the new users (CreateUser) with the password the secret keeps: no ModifyUser
    assert str(redis.step) == (
        "new ElastiCache user ai_etl_2_blue is created with the same password (ElastiCache's CreateUser, "
        "no step) and joins the user group before the rollout; pods not yet rolled keep working on "
        "ai_etl_blue"
    )
    order = order_of(base, head)
    (rollout,) = [n for n, line in enumerate(order) if "Deployment ai-etl-backend: the rollout" in line]
    (made,) = [
        n for n, line in enumerate(order) if "create UserGroupAssociation" in line and "ai-etl-2-blue" in line
    ]
    assert made < rollout < len(order) - 1
    last = order[-1]
    for gone in (
        "UserGroupAssociation ai-etl-redis-password-users-ai-etl-blue",
        "User ai-etl-redis-password-users-ai-etl-blue",
    ):
        assert gone in last and all(gone not in line for line in order[:-1]), (gone, order)
