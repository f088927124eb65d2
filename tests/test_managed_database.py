"""Postgres on RDS or Aurora (`ai-etl:database.kind`): what a managed stack declares (the committed
stacks on a managed kind, staging among them, rendered as they are), the CA bundle it pins, and the
rotation step and the backend's driver against a TLS-only PostgreSQL whose certificate a throwaway CA
signed for `localhost` (tests/servers.py), verified as on RDS."""

from __future__ import annotations

import datetime
import hashlib
import inspect
import json
import os
import re
import ssl
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import make_url

from ai_etl import names
from ai_etl.catalogue import by_key
from ai_etl.catalogue.urls import compose_url, tls_query
from ai_etl.components import trust
from ai_etl.components.serverauth import (
    POSTGRES_ADMIN_ATTRIBUTES,
    POSTGRES_STEP,
    STEP_ENV,
    login_roles,
    scram_sha256_verifier,
)
from ai_etl.components.steppods import MASTER_SECRET_PROPERTIES, step_env
from ai_etl.config import databases
from ai_etl.config.models import MANAGED_DATABASE_KINDS
from ai_etl.config.problems import ConfigError
from ai_etl.offline.records import Run
from ai_etl.offline.stackconfig import load_stack_config
from ai_etl.ops import rdsbundle
from ai_etl.tokens import IAM_ROLE_POLICY, SM_SECRET
from tests import servers
from tests.helpers import (
    STACKS,
    backend_manifest,
    eso_errors,
    manifests,
    plain_text,
    run_config,
    run_stack,
    secrets_manager_values,
    stack_config,
)
from tests.paths import PROJECT_DIR
from tests.servers import Postgres, Tls
from tests.test_server_rotation import (
    CLIENTS,
    Admin,
    Credential,
    Load,
    image_bin,
    ok,
    pg_state,
    pg_super,
    rotate_twice,
    run,
    server_bin,
    step,
    token,
    unique,
)

__all__ = ["image_bin", "server_bin"]  # fixtures

MANAGED = tuple(
    s
    for s in STACKS
    if (load_stack_config(s, PROJECT_DIR).get("ai-etl:database") or {}).get("kind") in MANAGED_DATABASE_KINDS
)
"""The committed stacks whose Postgres is AWS-managed: rendered, checked and tested on every change."""
DATABASE_URL = by_key()["database-url"]


def test_a_committed_stack_keeps_the_managed_path_rendered() -> None:
    """At least one committed stack (staging) is on RDS or Aurora, with RDS's master user secret,
    so every pull request renders, diffs and checks the managed path beside the in-cluster one."""
    assert MANAGED
    assert any((load_stack_config(s, PROJECT_DIR)["ai-etl:database"]).get("masterSecretArn") for s in MANAGED)


# --- the CA bundle ---------------------------------------------------------------------------------


def test_the_committed_bundle_is_the_pinned_one_and_holds_public_ca_certificates_only() -> None:
    """The bundle the pods verify against is the file whose digest the program pins, and nothing
    but CA certificates of Amazon RDS: no key, no leaf, nothing else slipped in beside them. Read
    by OpenSSL itself (Python's ssl module): every PEM block loads, and each is a CA."""
    text = trust.rds_ca_bundle()
    assert "PRIVATE KEY" not in text
    blocks = re.findall(r"-----BEGIN ([A-Z ]+)-----", text)
    assert blocks and set(blocks) == {"CERTIFICATE"}
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=text)
    cas = context.get_ca_certs()  # OpenSSL lists only the certificates it holds to be CAs
    assert len(cas) == len(blocks)
    for ca in cas:
        subject = {str(k): str(v) for rdn in cast(Any, ca)["subject"] for k, v in rdn}
        assert subject["organizationName"] == "Amazon Web Services, Inc."
        assert subject["organizationalUnitName"] == "Amazon RDS"


def test_a_changed_bundle_is_refused_before_anything_is_declared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bundle edited without its digest (a CA added by hand, a bad merge) stops the program with
    what to do; it never reaches a pod."""
    changed = tmp_path / trust.BUNDLE_FILE.name
    changed.write_bytes(trust.BUNDLE_FILE.read_bytes() + b"\n")
    monkeypatch.setattr(trust, "BUNDLE_FILE", changed)
    trust.rds_ca_bundle.cache_clear()
    try:
        with pytest.raises(trust.BundleChangedError, match="update BUNDLE_SHA256 in the same commit"):
            trust.rds_ca_bundle()
    finally:
        trust.rds_ca_bundle.cache_clear()


# --- what a managed stack declares -------------------------------------------------------------------


def _step_objects(run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Postgres step's Job and its ExternalSecret."""
    step_name = names.rotation_step("db-password")
    (job,) = [m for m in manifests(run) if m["kind"] == "Job" and m["metadata"]["name"].startswith(step_name)]
    (es,) = [
        m
        for m in manifests(run)
        if m["kind"] == "ExternalSecret" and str(m["metadata"]["name"]).startswith(f"{step_name}-secrets")
    ]
    return job, es


@pytest.mark.parametrize("stack", MANAGED)
def test_a_managed_stack_verifies_tls_and_takes_its_admin_from_rds_alone(
    stack: str, stack_runs: dict[str, Run], schemas_dir: Path
) -> None:
    """What the stack declares for a managed Postgres, in one render: the bundle's ConfigMap
    (immutable, the committed bundle); the step's Job with libpq's `verify-full` and the bundle
    mounted read-only; with `masterSecretArn`, the step's ExternalSecret taking `username` and
    `password` from RDS's secret, unpinned (RDS rotates it), valid against the operator's CRD, no
    admin password of ours anywhere, and the operator's role reading that one ARN more; the backend
    with the bundle and PGSSLROOTCERT, its URL requiring verified TLS, and neither its ExternalSecret
    nor its Role reaching RDS's secret or the step's Secret."""
    run = stack_runs[stack]
    database = load_stack_config(stack, PROJECT_DIR)["ai-etl:database"]
    master = database.get("masterSecretArn")

    (config_map,) = [m for m in manifests(run) if m["kind"] == "ConfigMap"]
    assert config_map["metadata"]["name"] == trust.config_map_name(names.ca_bundle())
    assert config_map["immutable"] is True and config_map["data"] == {trust.BUNDLE_KEY: trust.rds_ca_bundle()}

    job, es = _step_objects(run)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    plain = {e["name"]: e.get("value") for e in container["env"] if "value" in e}
    assert plain[STEP_ENV.pg_sslmode] == "verify-full" and plain[STEP_ENV.pg_sslrootcert] == trust.ROOT_CERT
    assert plain[STEP_ENV.pg_host] == database["host"]
    assert trust.volume(config_map["metadata"]["name"]) in pod["volumes"]
    assert trust.volume_mount() in container["volumeMounts"]
    assert eso_errors(schemas_dir, es) == []

    refs = {d["secretKey"]: d["remoteRef"] for d in es["spec"]["data"]}
    policy = json.loads(run.one(IAM_ROLE_POLICY, "-read").inputs["policy"])
    readable = policy["Statement"][0]["Resource"]
    stored = {r.inputs["name"] for r in run.of_type(SM_SECRET)}
    if master:
        admin = (STEP_ENV.pg_admin_user, STEP_ENV.pg_admin_password)
        assert {k: refs[k] for k in admin} == {
            env: {"key": master, "property": prop}
            for env, prop in zip(admin, MASTER_SECRET_PROPERTIES, strict=True)
        }
        assert STEP_ENV.pg_admin_user not in plain  # the master's name comes with its password
        assert names.secret_name(stack, "db-admin-password") not in stored
        assert "db-admin-password" not in secrets_manager_values(run)
        assert master in readable
        # RDS's default key, aws/secretsmanager, needs no grant: only the environment's own key.
        assert policy["Statement"][1]["Resource"] == run.exports["kmsKeyArn"]
        # Only the step's ExternalSecret names RDS's secret: no workload's object does.
        naming = [m for m in manifests(run) if master in plain_text(m)]
        assert naming == [es]

    deployment = backend_manifest(run, "Deployment")
    backend = deployment["spec"]["template"]["spec"]
    assert trust.volume(config_map["metadata"]["name"]) in backend["volumes"]
    (app,) = backend["containers"]
    assert {"name": trust.ROOT_CERT_ENV, "value": trust.ROOT_CERT} in app["env"]
    assert trust.volume_mount() in app["volumeMounts"]
    role = backend_manifest(run, "Role")
    assert [r["resourceNames"] for r in role["rules"]] == [[run.exports["secretNames"]["backend"]]]
    assert es["spec"]["target"]["name"] not in json.dumps(role)

    url = make_url(secrets_manager_values(run)["database-url"])
    assert url.host == database["host"] and dict(url.query) == {"ssl": "verify-full"}


def test_a_customer_managed_key_of_the_master_secret_is_the_one_key_more_the_operator_may_use() -> None:
    """RDS's master secret encrypted with a customer managed key: the operator's role may decrypt
    with that key too, through Secrets Manager only, and with no other."""
    stack = MANAGED[0]
    key = "arn:aws:kms:eu-west-1:333333333333:key/00000000-0000-0000-0000-000000000000"
    database = load_stack_config(stack, PROJECT_DIR)["ai-etl:database"]
    run = run_stack(stack, overrides={"ai-etl:database": {**database, "masterSecretKmsKeyArn": key}})
    decrypt = json.loads(run.one(IAM_ROLE_POLICY, "-read").inputs["policy"])["Statement"][1]
    assert decrypt["Resource"] == [run.exports["kmsKeyArn"], key]
    assert decrypt["Action"] == "kms:Decrypt" and list(decrypt["Condition"]["StringEquals"]) == [
        "kms:ViaService"
    ]


def test_the_backend_url_is_what_its_driver_takes_and_libpq_options_are_not() -> None:
    """The URL's TLS option is the one the backend's own dialect hands asyncpg and asyncpg accepts;
    libpq's spelling (`sslmode=verify-full&sslrootcert=...`), which psql would take, is a TypeError
    in the backend at its first connection: the reason the URL says `ssl` and the pod PGSSLROOTCERT."""
    fields: dict[str, str | int] = {
        "user": "app_blue",
        "host": "db.example.com",
        "port": 5432,
        "name": "ai_etl",
    }

    def connect_kwargs(query: str) -> dict[str, Any]:
        args, kwargs = PGDialect_asyncpg().create_connect_args(
            make_url(compose_url(DATABASE_URL, fields, "pw", query))
        )
        assert args == []
        return dict(kwargs)

    taken = connect_kwargs(tls_query(DATABASE_URL))
    assert taken["ssl"] == "verify-full"
    inspect.signature(asyncpg.connect).bind(**taken)
    with pytest.raises(TypeError, match="sslmode"):
        inspect.signature(asyncpg.connect).bind(
            **connect_kwargs(f"sslmode=verify-full&sslrootcert={trust.ROOT_CERT}")
        )


# --- a TLS-only server: the step and the backend's driver, verified -----------------------------------


@pytest.fixture(scope="session")
def tls_pg(server_bin: Path, image_bin: Path) -> Iterator[tuple[Postgres, Tls]]:
    """This session's TLS-only PostgreSQL (`hostssl` only), its certificate for `localhost` signed
    by a CA made for the session."""
    made: list[Tls] = []

    def tls(folder: Path) -> Tls:
        made.append(servers.make_server_cert(folder, servers.make_ca(folder, "ca"), "localhost"))
        return made[0]

    try:
        with servers.running(lambda root: servers.start_postgres(root, server_bin, tls)) as server:
            yield server, made[0]
    except servers.ServerError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def tls_admin(tls_pg: tuple[Postgres, Tls]) -> Admin:
    """An RDS-like master: LOGIN CREATEROLE, not a superuser."""
    admin = Admin(unique("master"), token())
    verifier = scram_sha256_verifier(admin.password, os.urandom(16))  # never the password in the log
    run(
        pg_super(
            tls_pg[0],
            f"CREATE ROLE {admin.user} {POSTGRES_ADMIN_ATTRIBUTES} NOSUPERUSER PASSWORD '{verifier}'",
        )
    )
    return admin


def tls_env(pg: Postgres, ca: Path, admin: Admin, cred: Credential, generation: int) -> dict[str, str]:
    """The step's environment as the program builds the Job's (steppods.step_env, a managed server),
    with the secrets the step's Secret holds."""
    e = STEP_ENV
    plain = step_env(
        "postgres",
        host="localhost",
        port=pg.port,
        admin_user=admin.user,
        roles=login_roles(cred.base),
        group=cred.base,
        database="postgres",
        root_cert=str(ca),
    )
    return {
        **plain,
        e.pg_admin_password: admin.password,
        **dict(zip(e.pg_verifiers, cred.verifiers(generation), strict=True)),
    }


async def backend_login(pg: Postgres, user: str, password: str) -> tuple[str, str]:
    """A connection as the backend makes it: its URL (the program's composition, TLS query included),
    read by SQLAlchemy's asyncpg dialect, handed to asyncpg; PGSSLROOTCERT from the environment."""
    fields: dict[str, str | int] = {"user": user, "host": "localhost", "port": pg.port, "name": "postgres"}
    url = compose_url(DATABASE_URL, fields, password, tls_query(DATABASE_URL))
    args, kwargs = PGDialect_asyncpg().create_connect_args(make_url(url))
    conn = await asyncpg.connect(*args, timeout=10, **kwargs)
    try:
        row = await conn.fetchrow("SELECT session_user, current_user")
        return (row[0], row[1])
    finally:
        await conn.close()


def test_the_step_rotates_a_tls_only_server_verified_and_refuses_what_it_cannot_verify(
    tls_pg: tuple[Postgres, Tls], tls_admin: Admin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the program's own step environment for a managed server (verify-full, the CA bundle),
    the step creates and rotates the roles on a server that takes TLS only, and the backend's URL
    connects over verified TLS as the active role. A CA that did not sign the server's certificate,
    or a host name the certificate does not hold (an endpoint's CNAME), fails the step with one line
    saying so and changes nothing; no secret appears in its output."""
    pg, tls = tls_pg
    monkeypatch.setenv(trust.ROOT_CERT_ENV, str(tls.ca))
    cred = Credential(unique("app"))
    for generation in (0, 1):
        ok(step(POSTGRES_STEP, tls_env(pg, tls.ca, tls_admin, cred, generation)))
        user, password = cred.active(generation)
        assert run(backend_login(pg, user, password)) == (user, cred.base)

    async def plain() -> None:  # the server takes TLS only: every connection accepted above used it
        await asyncpg.connect(
            host="localhost", port=pg.port, user=user, password=password, database="postgres", ssl=False
        )

    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="no encryption"):
        run(plain())

    other_ca, _ = servers.make_ca(tmp_path, "other")
    before = pg_state(pg, cred.base)
    env = tls_env(pg, tls.ca, tls_admin, cred, 2)
    for changed in ({STEP_ENV.pg_sslrootcert: str(other_ca)}, {STEP_ENV.pg_host: "127.0.0.1"}):
        done = step(POSTGRES_STEP, {**env, **changed})
        assert done.returncode == 1, done.stdout + done.stderr
        assert "the server's TLS certificate was not verified (sslmode=verify-full" in done.stderr
        assert "nothing was changed; fix it, then run `pulumi up` again" in done.stderr
        assert pg_state(pg, cred.base) == before
        for value in [*cred.secrets(), tls_admin.password]:
            assert value not in done.stdout + done.stderr
    missing = step(POSTGRES_STEP, {**env, STEP_ENV.pg_sslrootcert: str(tmp_path / "absent.pem")})
    assert missing.returncode == 1 and "cannot be read (the step's rds-ca volume)" in missing.stderr


@pytest.mark.slow
def test_rotation_on_a_tls_only_server_drops_no_connection(
    tls_pg: tuple[Postgres, Tls], tls_admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load test on the TLS-only server: CLIENTS clients per generation connect afresh as the
    backend does (its URL through its dialect and driver, the certificate verified), through two
    rotations; not one connection fails."""
    pg, tls = tls_pg
    monkeypatch.setenv(trust.ROOT_CERT_ENV, str(tls.ca))
    cred = Credential(unique("app"))
    ok(step(POSTGRES_STEP, tls_env(pg, tls.ca, tls_admin, cred, 0)))

    def attempt_at(generation: int) -> Any:
        user, password = cred.active(generation)

        async def attempt() -> None:
            assert await backend_login(pg, user, password) == (user, cred.base)

        return attempt

    load, phases = run(
        rotate_twice(lambda g: step(POSTGRES_STEP, tls_env(pg, tls.ca, tls_admin, cred, g)), attempt_at)
    )
    print(
        f"\npostgres over verified TLS: {CLIENTS} clients per generation, {sum(load.attempts)} "
        f"connections, failed: {phases.counts}"
    )
    assert isinstance(load, Load) and load.failed == 0, load.errors[:3]


UNVERIFIABLE = {
    "ai-etl.proxy-c0example0.eu-west-1.rds.amazonaws.com": "an RDS Proxy endpoint, whose certificate",
    "ai-etl.c0example0.us-gov-west-1.rds.amazonaws.com": "a GovCloud (aws-us-gov) endpoint",
    "ai-etl.c0example0.rds.us-gov-west-1.amazonaws.com": "a GovCloud (aws-us-gov) endpoint",
    "ai-etl.c0example0.rds.cn-north-1.amazonaws.com.cn": "a China (aws-cn) endpoint",
    "ai-etl.c0example0.mx-central-1.rds.amazonaws.com": (
        "the committed bundle predates region mx-central-1: update it",
        "fix: python -m ai_etl.ops.rdsbundle",
    ),
}
"""Endpoints the committed bundle cannot verify (ai_etl/config/databases.py UNVERIFIABLE; the last
of a region the 2023 bundle lacks): each refused at preview, saying why and what would be needed."""


@pytest.mark.parametrize("host", sorted(UNVERIFIABLE))
def test_an_endpoint_the_bundle_cannot_verify_is_refused_before_anything_is_declared(host: str) -> None:
    """Every connection to such an endpoint would fail `verify-full` after the deploy (the step's
    Job, the backend's pods crash-looping): the preview refuses it instead, with the reason."""
    declared: list = []
    config = stack_config("staging", {"ai-etl:database": {**_staging_database(), "host": host}})
    with pytest.raises(ConfigError) as raised:
        run_config("staging", config, registrations=declared)
    said = UNVERIFIABLE[host]
    for fragment in (said,) if isinstance(said, str) else said:
        assert fragment in str(raised.value)
    assert declared == []


def _staging_database() -> dict[str, Any]:
    return dict(load_stack_config("staging", PROJECT_DIR)["ai-etl:database"])


def test_the_bundle_covers_each_committed_managed_stacks_region_read_from_its_certificates() -> None:
    """The regions come from the certificates' subjects as OpenSSL parses them (a region's root CA
    is `Amazon RDS <region> Root CA ...`), and the config layer reads the very file trust.py pins."""
    package, name = databases.RDS_BUNDLE
    assert resources.files(package).joinpath(name) == trust.BUNDLE_FILE
    regions = databases.bundle_regions()
    assert {"us-east-1", "eu-west-1", "ap-southeast-4"} <= regions and "mx-central-1" not in regions
    for stack in MANAGED:
        assert load_stack_config(stack, PROJECT_DIR)["aws:region"] in regions


def _served(directory: Path, pem: bytes) -> str:
    (directory / "served.pem").write_bytes(pem)
    return (directory / "served.pem").as_uri()


def test_the_bundle_update_takes_a_superset_and_refuses_what_is_not_one(tmp_path: Path) -> None:
    """`python -m ai_etl.ops.rdsbundle` (docs/configuration.md): fed offline from a file:// URL, it
    writes the new bundle and its digest into trust.py together; it refuses text that is not PEM, a
    certificate OpenSSL cannot parse, and a bundle that drops a certificate still valid, writing
    nothing then."""
    current = trust.BUNDLE_FILE.read_bytes()
    bundle, module = tmp_path / "bundle.pem", tmp_path / "trust.py"
    bundle.write_bytes(current)
    module.write_text(f'BUNDLE_SHA256 = "{trust.BUNDLE_SHA256}"\n')
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", current, re.S)
    broken = blocks[0].replace(b"MII", b"MIX", 1)
    valid = next(  # a certificate still valid at `now`: dropping it is refused (an expired one may go)
        i
        for i, b in enumerate(blocks)
        if ssl.cert_time_to_seconds(next(iter(rdsbundle.certificates(b.decode()).values()))) > now.timestamp()
    )
    for bad, why in (
        (b"<html>not found</html>\n", "not a PEM bundle"),
        (current + b"# a comment\n", "not a PEM bundle"),
        (current + broken, "cannot parse"),
        (b"".join(blocks[:valid] + blocks[valid + 1 :]), "drops 1 certificate"),
    ):
        with pytest.raises(rdsbundle.BundleRefusedError, match=why):
            rdsbundle.update(_served(tmp_path, bad), bundle, module, now)
        assert bundle.read_bytes() == current and trust.BUNDLE_SHA256 in module.read_text()
    newer = current + blocks[0]  # a bundle with one certificate more (here: twice) is refused...
    with pytest.raises(rdsbundle.BundleRefusedError, match="twice"):
        rdsbundle.update(_served(tmp_path, newer), bundle, module, now)
    taken = b"".join(blocks[::-1])  # ...the same certificates in another order are taken
    digest = rdsbundle.update(_served(tmp_path, taken), bundle, module, now)
    assert bundle.read_bytes() == taken and module.read_text() == f'BUNDLE_SHA256 = "{digest}"\n'
    assert digest == hashlib.sha256(taken).hexdigest()
