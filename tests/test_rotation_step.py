"""The Pulumi side of a server credential's rotation: the login roles' passwords and verifiers, the
step's Job and its own Secret, identity and network policy, and the order Pulumi runs them in.
Every stack runs; every server credential of the catalogue is checked (adding one needs no edit)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from ai_etl import names
from ai_etl.catalogue import CATALOGUE, admin_secret, read_by, server_credentials, url_of
from ai_etl.catalogue.urls import read_url
from ai_etl.components import serverauth
from ai_etl.components.steppods import step_scripts
from ai_etl.offline.records import Registration, Run, Sensitive, unwrap
from ai_etl.tokens import ESO_EXTERNAL_SECRET, K8S_DEPLOYMENT, K8S_JOB, RANDOM_BYTES, RANDOM_PASSWORD
from tests.helpers import (
    PLACEHOLDERS,
    database_config,
    manifest,
    manifests,
    master_secret,
    run_stack,
    secrets_manager_values,
    stepped,
)

SERVERS = server_credentials(CATALOGUE)


def step_env_names(server: str, stack: str) -> tuple[set[str], set[str]]:
    """The plain and the secret names of serverauth.STEP_ENV a step of `server` reads in `stack`:
    on RDS or Aurora libpq's TLS settings too, and with RDS's master user secret the admin's name
    from it, beside its password."""
    env = serverauth.STEP_ENV
    if server == "postgres":
        plain = {env.pg_host, env.pg_port, env.pg_database, env.pg_admin_user, env.pg_group, *env.pg_roles}
        secret = {env.pg_admin_password, *env.pg_verifiers}
        if database_config(stack).get("kind", "cluster") != "cluster":
            plain |= {env.pg_sslmode, env.pg_sslrootcert}
        if master_secret(stack):
            plain, secret = plain - {env.pg_admin_user}, secret | {env.pg_admin_user}
        return plain, secret
    return (
        {env.redis_host, env.redis_port, env.redis_admin_user, *env.redis_users},
        {env.redis_admin_password, *env.redis_hashes},
    )


def has_step(run: Run, spec: Any) -> bool:
    """Whether the stack sets `spec` by a step; where it does not (ElastiCache: its users, through
    AWS's API, tests/test_cache_users.py), the stack has no Job for it."""
    if spec in stepped(run.stack):
        return True
    assert not [r for r in run.of_type(K8S_JOB) if r.name.endswith(f"-{spec.key}-step-job")]
    return False


def job_of(run: Run, key: str) -> Registration:
    (job,) = [r for r in run.of_type(K8S_JOB) if r.name.endswith(f"-{key}-step-job")]
    return job


def container_of(job: dict[str, Any]) -> dict[str, Any]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container  # type: ignore[no-any-return]


@pytest.mark.parametrize("spec", SERVERS, ids=lambda s: s.key)
def test_the_job_runs_serverauths_own_script_with_the_step_environment(stack_run: Run, spec: Any) -> None:
    """The Job runs `bash -c` with serverauth's step script itself, the very text part A's tests run
    against real servers; its environment is serverauth.STEP_ENV's names, the secret ones by
    secretKeyRef to the step's own Secret, the plain ones as values."""
    if not has_step(stack_run, spec):
        return
    job = job_of(stack_run, spec.key).inputs
    container = container_of(job)
    script = {"postgres": "POSTGRES_STEP", "redis": "REDIS_STEP"}[spec.server]
    assert container["command"] == ["bash", "-c", getattr(serverauth, script)]
    assert step_scripts()[spec.server] is getattr(serverauth, script)
    plain, secret = step_env_names(spec.server, stack_run.stack)
    env = {e["name"]: e for e in container["env"]}
    assert set(env) == plain | secret
    secret_name = job_secret(stack_run, spec.key)
    for name in secret:
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": secret_name, "key": name, "optional": False}
    assert all("value" in env[name] for name in plain)


def job_secret(run: Run, key: str) -> str:
    """The name of the step's Secret: its ExternalSecret's."""
    (es,) = [m for m in manifests(run) if m["kind"] == "ExternalSecret" and key in m["metadata"]["name"]]
    return str(es["metadata"]["name"])


@pytest.mark.parametrize("spec", SERVERS, ids=lambda s: s.key)
def test_the_step_reads_its_admin_and_verifiers_and_nothing_else_does(stack_run: Run, spec: Any) -> None:
    """Least privilege: the administrator's password and the verifiers reach the step's Secret
    alone (its Role reads that Secret, by name, and nothing else); no workload's Secret holds them."""
    if not has_step(stack_run, spec):
        return
    secret = job_secret(stack_run, spec.key)
    es = manifest(stack_run, "ExternalSecret", secret)
    remote = {d["remoteRef"]["key"] for d in es["spec"]["data"]}
    stack = stack_run.stack
    admin = (master_secret(stack) if spec.server == "postgres" else None) or names.secret_name(
        stack, admin_secret(spec).key
    )
    assert remote == {admin, names.secret_name(stack, names.verifiers_key(spec.key))}
    role = manifest(stack_run, "Role", f"{names.rotation_step(spec.key)}-secret-reader")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [secret], "verbs": ["get"]}
    ]
    for other in (m for m in manifests(stack_run) if m["kind"] == "ExternalSecret" and m is not es):
        assert not {d["remoteRef"]["key"] for d in other["spec"]["data"]} & remote


@pytest.mark.parametrize("spec", SERVERS, ids=lambda s: s.key)
def test_the_steps_pods_reach_dns_and_their_server_only(stack_run: Run, spec: Any) -> None:
    """A NetworkPolicy selects the step's pods: nothing in; out, DNS and the server's port only."""
    if not has_step(stack_run, spec):
        return
    policy = manifest(stack_run, "NetworkPolicy", names.rotation_step(spec.key))["spec"]
    job = job_of(stack_run, spec.key).inputs
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["ingress"] == [] and sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    port = int(container_env(job)[port_env(spec.server)])
    assert policy["egress"] == [
        {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {"ports": [{"protocol": "TCP", "port": port}]},
    ]


def container_env(job: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container_of(job)["env"]}


def port_env(server: str) -> str:
    return serverauth.STEP_ENV.pg_port if server == "postgres" else serverauth.STEP_ENV.redis_port


@pytest.mark.parametrize("spec", SERVERS, ids=lambda s: s.key)
def test_pulumi_awaits_the_job_and_replaces_a_failed_one(stack_run: Run, spec: Any) -> None:
    """The Job is awaited until Complete (no skipAwait), a failed one is replaced by the next
    `pulumi up` (replaceUnready: the retry), it stays once complete (no ttlSecondsAfterFinished,
    whose deletion would read as drift), never restarts in place, and gives up within the
    provider's 10-minute await (pulumi/pulumi-kubernetes provider/pkg/await/job.go)."""
    if not has_step(stack_run, spec):
        return
    job = job_of(stack_run, spec.key).inputs
    annotations = job["metadata"]["annotations"]
    assert annotations["pulumi.com/replaceUnready"] == "true"
    assert "pulumi.com/skipAwait" not in annotations
    assert "ttlSecondsAfterFinished" not in job["spec"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert 0 < job["spec"]["activeDeadlineSeconds"] < 10 * 60
    assert job["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def depends_on(run: Run, resource: Registration, target: Registration) -> bool:
    return target.urn in resource.dependencies


def test_the_backends_new_secret_and_rollout_wait_for_every_step(stack_run: Run) -> None:
    """If a step fails, `pulumi up` stops before any pod rolls: every workload's ExternalSecret and
    Deployment depend on each step's Job, so Pulumi starts them only after the Job completed."""
    jobs = [job_of(stack_run, spec.key) for spec in SERVERS if has_step(stack_run, spec)]
    waiting = stack_run.of_type(K8S_DEPLOYMENT) + [
        r for r in stack_run.of_type(ESO_EXTERNAL_SECRET) if "-step-" not in r.name
    ]
    assert waiting
    for resource in waiting:
        for job in jobs:
            assert depends_on(stack_run, resource, job), f"{resource.name} waits for {job.name}"


def run_at(generations: dict[str, int]) -> Run:
    return run_stack("dev", overrides={"ai-etl:rotation": generations})


@pytest.fixture(scope="module")
def generations() -> dict[int, Run]:
    """The dev stack at generations 0 (unset), 1 and 2 of every server credential."""
    runs = {0: run_stack("dev")}
    runs.update({g: run_at({spec.key: g for spec in SERVERS}) for g in (1, 2)})
    return runs


def passwords_of(run: Run, key: str) -> dict[str, Registration]:
    return {
        r.name: r
        for r in run.of_type(RANDOM_PASSWORD) + run.of_type(RANDOM_BYTES)
        if r.name.startswith(f"ai-etl-server-passwords-{key}-")
    }


@pytest.mark.parametrize("spec", SERVERS, ids=lambda s: s.key)
def test_a_bump_changes_only_the_password_of_the_role_no_pod_uses(
    generations: dict[int, Run], spec: Any
) -> None:
    """From generation g to g+1 the role that served g keeps its password (old pods keep working),
    the other role gets a new one (and salt), and the URL names that other role with its new
    password; g+2 comes back to the first role, with a new password for it."""
    for g in (0, 1):
        before, after = passwords_of(generations[g], spec.key), passwords_of(generations[g + 1], spec.key)
        active = serverauth.COLOURS[serverauth.active_index(g)]
        kept = {n for n in before if f"-{active}-" in n}
        assert kept and kept <= set(after), "the role old pods use keeps its password"
        assert {n: r.inputs["keepers"] for n, r in before.items() if n in kept} == {
            n: r.inputs["keepers"] for n, r in after.items() if n in kept
        }
        new = set(after) - set(before)
        inactive = serverauth.COLOURS[1 - serverauth.active_index(g)]
        assert new and all(f"-{inactive}-g{g + 1}" in n for n in new)
        assert {r.inputs["keepers"]["generation"] for r in after.values() if r.name in new} == {str(g + 1)}
    for g, run in generations.items():
        url = read_url(url_of(spec), secrets_manager_values(run)[url_of(spec).key])
        roles = serverauth.login_roles(role_base(run, spec))
        assert url.username == roles[serverauth.active_index(g)]
        current = [r for n, r in passwords_of(run, spec.key).items() if n.endswith(f"-g{g}")]
        (password,) = [r for r in current if r.type == RANDOM_PASSWORD]
        assert url.password == unwrap(password.outputs["result"])
        assert secrets_manager_values(run)[spec.key] == url.password


def role_base(run: Run, spec: Any) -> str:
    env = container_env(job_of(run, spec.key).inputs)
    group = serverauth.STEP_ENV.pg_group
    if spec.server == "postgres":
        return env[group]
    return env[serverauth.STEP_ENV.redis_users[0]].removesuffix("_" + serverauth.COLOURS[0])


@pytest.mark.parametrize("spec", SERVERS, ids=lambda s: s.key)
def test_the_verifiers_are_the_roles_passwords_and_stay_secret(
    generations: dict[int, Run], spec: Any
) -> None:
    """The verifiers in Secrets Manager are those of the two roles' passwords (SCRAM-SHA-256 with
    the role's own stable salt for Postgres, SHA-256 for Redis ACL), marked secret wherever they
    pass; a new generation's Job has a new name, so Pulumi replaces it rather than patching it."""
    run = generations[1]
    (version,) = [
        v
        for v in run.of_type("aws:secretsmanager/secretVersion:SecretVersion")
        if f"{spec.key}-verifiers" in v.name
    ]
    assert isinstance(version.inputs["secretString"], Sensitive)
    document = json.loads(unwrap(version.inputs["secretString"]))
    found = passwords_of(run, spec.key)
    for index, colour in enumerate(serverauth.COLOURS):
        generation = serverauth.role_generation(1, index)
        suffix = f"{colour}-g{generation}" if generation >= 0 else f"{colour}-initial"
        password = unwrap(found[f"ai-etl-server-passwords-{spec.key}-{suffix}"].outputs["result"])
        if spec.server == "postgres":
            salt = base64.b64decode(
                unwrap(found[f"ai-etl-server-passwords-{spec.key}-{suffix}-salt"].outputs["base64"])
            )
            expected = serverauth.scram_sha256_verifier(password, salt)
            name = serverauth.STEP_ENV.pg_verifiers[index]
        else:
            expected = serverauth.redis_acl_hash(password)
            name = serverauth.STEP_ENV.redis_hashes[index]
        assert document[name] == expected
    names_by_generation = {g: job_of(r, spec.key).inputs["metadata"]["name"] for g, r in generations.items()}
    assert names_by_generation == {g: names.step_job(spec.key, g) for g in generations}


def test_the_redis_url_names_its_user_as_redis_py_reads_it(stack_run: Run) -> None:
    """REDIS_URL carries the active ACL user (redis-py's parse_url reads `username`), and
    DATABASE_URL the active login role (SQLAlchemy's make_url)."""
    values = secrets_manager_values(stack_run)
    for spec in stepped(stack_run.stack):  # ElastiCache's: tests/test_cache_users.py
        url = url_of(spec)
        reading = read_url(url, values[url.key])
        assert reading.username == serverauth.login_roles(role_base(stack_run, spec))[0]
    assert make_url(values["database-url"]).username is not None


def test_no_workload_reads_a_server_credentials_admin_password() -> None:
    """The administrators' passwords are synced to the steps only: no consumer reads them."""
    from ai_etl.catalogue import CONSUMERS

    admins = {admin_secret(spec).key for spec in SERVERS}
    for consumer in CONSUMERS:
        assert not admins & {s.key for s in read_by(consumer)}


@pytest.mark.parametrize("spec", SERVERS, ids=lambda s: s.key)
def test_a_kept_password_stays_on_the_first_role_while_pods_may_use_it(spec: Any) -> None:
    """At a takeover (or a restore) the kept live password stands in for `<user>_blue`'s at
    generation 0, so the backend moves onto that role with the password it had; at generation 1 the
    backend moves to `<user>_green` while `<user>_blue` keeps the kept password (pods not yet
    rolled use it); from generation 2 it is no longer used, and the program says to remove it."""
    kept = "kept-not-real-#?/@"
    secrets = {**PLACEHOLDERS, "ai-etl:adopt": json.dumps({spec.key: kept})}
    verifiers = {}
    for g in (0, 1, 2):
        run = run_stack("dev", overrides={"ai-etl:rotation": {spec.key: g}}, secrets=secrets)
        values = secrets_manager_values(run)
        url = read_url(url_of(spec), values[url_of(spec).key])
        assert (url.password == kept) is (g == 0)
        verifiers[g] = json.loads(values[names.verifiers_key(spec.key)])
        blue = (
            serverauth.STEP_ENV.pg_verifiers
            if spec.server == "postgres"
            else serverauth.STEP_ENV.redis_hashes
        )[0]
        if spec.server == "redis":
            assert (verifiers[g][blue] == serverauth.redis_acl_hash(kept)) is (g < 2)
        assert any(f"adopt.{spec.key} is ignored" in w for w in run.warnings) is (g == 2)
    assert verifiers[0][blue] == verifiers[1][blue] != verifiers[2][blue]
