"""Shared test helpers: running a stack offline, reading a recorded run, and what the catalogue implies."""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import botocore.session
import jsonschema
import kubernetes_validate
import yaml

from ai_etl.catalogue import (
    CATALOGUE,
    CONSUMERS,
    Consumer,
    SecretSpec,
    Source,
    of_source,
    server_credentials,
    url_of,
)
from ai_etl.components import serverauth
from ai_etl.components.auditpatterns import STAND_IN_KEY_ID, access_path, packed, tamper_path, watch_clauses
from ai_etl.components.serverpasswords import role_suffix
from ai_etl.config import problems
from ai_etl.config.fields import aws_regions
from ai_etl.config.models import set_by_api
from ai_etl.config.reading import RawConfig
from ai_etl.config.settings import Settings, parse_settings
from ai_etl.config.trail import DECLARE_TRAIL, wanted
from ai_etl.grade import GRADE_KEY, PRODUCTION
from ai_etl.names import (
    PROJECT,
    audit_name,
    key_of_secret_name,
    operator_role,
    password_name,
    role_of,
    secret_arn_prefix,
    secret_prefix,
    workload,
)
from ai_etl.names import trail as trail_name
from ai_etl.offline.answers import MOCK_ACCOUNT
from ai_etl.offline.records import Registration, Run, unwrap
from ai_etl.offline.render import mask
from ai_etl.offline.runner import run_program
from ai_etl.offline.stackconfig import load_project, load_stack_config
from ai_etl.tokens import RANDOM_PASSWORD, SM_SECRET, SM_VERSION
from tests.fakecli import cli_stored
from tests.paths import PROJECT_DIR

STACKS = tuple(sorted(p.name.split(".")[1] for p in PROJECT_DIR.glob("Pulumi.*.yaml")))
"""Every stack of the project: one `Pulumi.<stack>.yaml` each."""


def settings_of(stack: str, elsewhere: dict[str, Any] | None = None, **overrides: Any) -> Settings:
    """A stack file's settings, as the program reads them (provided secrets present, encrypted):
    what a test expects of a stack comes from these, never from the stack's name. `overrides` are
    `ai-etl:` values; `elsewhere` adds keys of other namespaces (`aws:endpoints`)."""
    config = load_stack_config(stack, PROJECT_DIR)
    prefix = f"{PROJECT}:"
    values = {k.removeprefix(prefix): v for k, v in config.items() if k.startswith(prefix)}
    provided = {str(s.config_key) for s in CATALOGUE if s.config_key}
    raw = RawConfig(
        stack=stack,
        values={k: v for k, v in values.items() if k not in provided} | overrides,
        region=str(config.get("aws:region")),
        provided_state=dict.fromkeys(provided, "ok"),
        elsewhere={k: v for k, v in config.items() if not k.startswith(prefix)} | (elsewhere or {}),
    )
    return parse_settings(raw, secret_of=lambda key: f"<{key}>")  # type: ignore[arg-type, return-value]


@functools.cache
def stepped(stack: str) -> tuple[SecretSpec, ...]:
    """The stack's server credentials that a rotation step (a Job) sets: not those whose server
    takes its users through its provider's API (ElastiCache, config.models.set_by_api)."""
    s = settings_of(stack)
    connections = s.config.connections()
    return tuple(
        spec
        for spec in server_credentials(s.catalogue)
        if not set_by_api(connections[str(url_of(spec, s.catalogue).connection)])
    )


PRODUCTION_GRADE = tuple(s for s in STACKS if load_stack_config(s, PROJECT_DIR).get(GRADE_KEY) == PRODUCTION)
"""The stacks whose file states `ai-etl:grade: production`, whatever their names."""
STANDARD_GRADE = tuple(s for s in STACKS if s not in PRODUCTION_GRADE)
"""The other stacks."""


def unused(name: str, taken: Iterable[str]) -> str:
    """`name`, or `name` with the first suffix that makes it one `taken` does not hold: a test's own
    secret, workload or stack never collides with one the project has added for real."""
    held = set(taken)
    return next(f"{name}{i or ''}" for i in range(100) if f"{name}{i or ''}" not in held)


def reads(consumer: Consumer, catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> set[str]:
    """The keys a workload reads, as the docs state the rule (a deliberate second witness of
    `read_by`): those its `keys` lists, or every entry with an env var."""
    if consumer.keys is not None:
        return set(consumer.keys)
    return {s.key for s in catalogue if s.env_var is not None}


def absent_stack(project_dir: Path = PROJECT_DIR) -> str:
    """A stack name no stack file of the project uses: the example of a missing stack, which no
    recipe can make present."""
    return next(f"absent{i}" for i in range(100) if not (project_dir / f"Pulumi.absent{i}.yaml").exists())


K8S_PREFIX = "kubernetes:"
KUBERNETES_VERSION = "1.33"
ESO_GROUP = "external-secrets.io"
ADMISSION_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
"""The cluster-scoped objects a stack declares (on a cluster that serves them, as the mocks' does)."""
CRD_FILES = {"ExternalSecret": "externalsecrets", "SecretStore": "secretstores"}


def placeholders(catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> dict[str, str]:
    """Obviously fake stand-ins for the provided secrets, which no committed file holds."""
    return {
        f"{PROJECT}:{s.config_key}": f"placeholder-{s.key}" for s in of_source(Source.PROVIDED, catalogue)
    }


PLACEHOLDERS = placeholders()


def expected_resources(
    catalogue: tuple[SecretSpec, ...] = CATALOGUE,
    consumers: tuple[Consumer, ...] = CONSUMERS,
    stack: str = "dev",
) -> int:
    """How many resources a stack declares: 6 components, one per workload and one per server
    credential (the audit's counted below); the cluster's Kubernetes provider; a namespace; a
    password per generated secret, but two per server credential (its login roles), with a salt
    each for Postgres's; a KMS key and alias; a secret, its value and its resource policy (the
    region deny) per entry, and per server credential's verifiers; the store's role, policy,
    ServiceAccount and SecretStore; per workload an ExternalSecret, ServiceAccount, Role,
    RoleBinding, Deployment and NetworkPolicy; per server credential's step the same but a Job for
    the Deployment; with a replica region (the stack
    file's `replicaRegion`), its KMS key and alias; and in each region holding the secrets, the
    access audit: its component; per path (access, tamper) a key and alias, topic and topic policy,
    dead-letter queue and queue policy, two alarms (kept alerts, failed deliveries) and a
    subscription per destination (`auditEmail`, `auditEndpoint`); the read rule and the watchers
    (as many as EventBridge's pattern size needs), each with a target and an alarm; on a cluster
    that serves them (1.30+) and audits, the admission policy and its binding, and the cluster
    audit's metric filter and alarm (two more components); and for a database on RDS or Aurora, as
    below."""
    connections = settings_of(stack).config.connections()
    caches = tuple(
        s
        for s in server_credentials(catalogue)
        if set_by_api(connections[str(url_of(s, catalogue).connection)])
    )
    servers = tuple(s for s in server_credentials(catalogue) if s not in caches)
    catalogue = tuple(s for s in catalogue if s.admin_of not in {c.key for c in caches})
    salted = sum(1 for s in servers if s.server == "postgres")
    # Per ElastiCache credential: its two passwords and the disabled default user's; its component,
    # three users and the user group; no step, no administrator's password, no verifiers.
    generated = len(of_source(Source.GENERATED, catalogue)) + len(servers) + 2 * salted + 2 * len(caches)
    config = load_stack_config(stack)
    replica = 2 if "ai-etl:replicaRegion" in config else 0
    destinations = sum(1 for key in ("ai-etl:auditEmail", "ai-etl:auditEndpoint") if key in config)
    # What the access path's watchers name: the trail, and the secrets by name and by each region's ARN.
    setting = config.get("ai-etl:auditTrail")
    trail = watched_trail(stack)
    account, region = (
        str((config.get("aws:allowedAccountIds") or [MOCK_ACCOUNT])[0]),
        str(config["aws:region"]),
    )
    regions = [region, *([config["ai-etl:replicaRegion"]] if replica else [])]
    partition = aws_regions()[region]
    prefixes = [secret_prefix(stack), *(secret_arn_prefix(partition, r, account, stack) for r in regions)]
    quiet = [operator_role(stack), *(role_of(r) for r in config.get("ai-etl:auditExpectedReaders") or [])]
    # The cluster (named as its stack file names it, in the primary region) and its audit log group.
    cluster = (str(config["ai-etl:clusterName"]), f"/aws/eks/{config['ai-etl:clusterName']}/cluster")
    audit = 0
    for watching in [cluster, *([None] if replica else [])]:
        watched = (
            access_path(audit_name(stack), [STAND_IN_KEY_ID] * 2, quiet, trail, prefixes, watching),
            tamper_path(audit_name(stack), [STAND_IN_KEY_ID], ()),
        )
        rules = 1 + sum(len(packed(watch_clauses(w))) for w in watched)
        audit += 1 + 2 * (6 + 2 + destinations) + 3 * rules
    k8s = 1 + 1  # the cluster's provider, the namespace
    per_entry = 3 * (len(catalogue) + len(servers))
    components = 6 + len(consumers) + len(servers) + len(caches)
    workloads = 6 * (len(consumers) + len(servers))
    guards = 2 + 2 + 2
    # On RDS or Aurora: the CA bundle's ConfigMap; with RDS's master user secret, no admin password
    # entry of ours (its secret, value and resource policy).
    managed = (1 if on_rds(stack) else 0) - 3 * (len(catalogue) - len(entries_of(stack, catalogue)))
    # Per ElastiCache credential: its three users, the user group, the two login users' memberships.
    caches_own = 6 * len(caches)
    # A declared trail: its component, the trail, its bucket and the bucket's policy, public access
    # block, encryption and versioning.
    managed += 7 if setting == DECLARE_TRAIL else 0
    return (
        components
        + k8s
        + generated
        + 2
        + replica
        + per_entry
        + 4
        + audit
        + workloads
        + guards
        + caches_own
        + managed
    )


def watched_trail(stack: str) -> str | None:
    """The name of the trail whose changes the stack's tamper rules watch, as its file sets
    `auditTrail`: the one the program declares, the one named (by name or ARN), or none."""
    setting = load_stack_config(stack).get("ai-etl:auditTrail")
    if setting is None:
        return None
    return trail_name(stack) if setting == DECLARE_TRAIL else wanted(str(setting))[0]


def database_config(stack: str) -> dict[str, Any]:
    """The stack file's `ai-etl:database` as it states it ({} if it states none)."""
    return dict(load_stack_config(stack).get("ai-etl:database") or {})


def master_secret(stack: str) -> str | None:
    """RDS's master user secret the stack's Postgres step logs in with, if the stack names one:
    then it stands in for the administrator's password, which has no entry of ours."""
    return database_config(stack).get("masterSecretArn")


def on_rds(stack: str) -> bool:
    """Whether the stack's Postgres is RDS or Aurora (its file says `database.kind`)."""
    return database_config(stack).get("kind", "cluster") != "cluster"


def entries_of(stack: str, catalogue: tuple[SecretSpec, ...] = CATALOGUE) -> list[str]:
    """The catalogue keys the stack keeps in Secrets Manager: all, but an administrator's password
    for which RDS's master user secret stands in."""
    replaced = {str(s.config_key) for s in catalogue if s.replaced_by} if master_secret(stack) else set()
    return [s.key for s in catalogue if s.config_key not in replaced]


def stack_config(
    stack: str, overrides: dict[str, Any] | None = None, remove: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The real Pulumi.<stack>.yaml's config, with `overrides` (objects merged one level deep, as
    `config set --path` would) and without the `remove` keys."""
    config = load_stack_config(stack)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    for key in remove:
        config.pop(key, None)
    return config


def run_config(
    stack: str,
    config: dict[str, Any],
    secrets: dict[str, str] | None = None,
    registrations: list | None = None,
    program: Path = PROJECT_DIR / "__main__.py",
) -> Run:
    """Run the program for `stack` with `config` and the provided `secrets` (marked secret), after
    the CLI's checks of Pulumi.yaml's declarations, as on `pulumi up` (StackConfigError).
    `registrations`, if given, receives what is declared even when the program fails.

    A render is the suite's expensive unit and is deterministic (the mocks' answers are digests of
    the inputs, ai_etl/offline/answers.py), so each distinct input is run once per test process and
    every later caller gets its own deep copy: no test sees what another changed in its Run."""
    secrets = PLACEHOLDERS if secrets is None else secrets
    if registrations is not None:  # the caller watches the run as it happens
        return run_program(
            stack, config, secrets, program=program, registrations=registrations, project=load_project()
        )
    # What the program or the SDK may read of the environment is part of the input, and so is the
    # folder it runs in (Pulumi.yaml and the other stack files, for the cross-stack checks).
    env = {k: v for k, v in os.environ.items() if k.startswith(PROGRAM_ENVIRONMENT)}
    # So is how many problems a message lists (conftest's every_problem lifts the cap).
    cap = (problems.SHOWN, problems.SHOWN_CHARS)
    key = json.dumps(
        [stack, config, secrets, str(program), env, os.getcwd(), cap], sort_keys=True, default=repr
    )
    if key not in _RUNS:
        _RUNS[key] = run_program(stack, config, secrets, program=program, project=load_project())
    return copy.deepcopy(_RUNS[key])


PROGRAM_ENVIRONMENT = ("PULUMI", "AWS", "KUBE", "AI_ETL")
"""The prefixes of the environment variables a run may read (the SDK's and providers' settings)."""
_RUNS: dict[str, Run] = {}
"""The runs of this test process, by their inputs (run_config)."""


def run_stack(
    stack: str,
    *,
    overrides: dict[str, Any] | None = None,
    remove: tuple[str, ...] = (),
    secrets: dict[str, str] | None = None,
    registrations: list | None = None,
    program: Path = PROJECT_DIR / "__main__.py",
) -> Run:
    """Run the program for `stack` from its real Pulumi.<stack>.yaml, changed as `stack_config`
    says; `secrets` replaces the provided secrets."""
    return run_config(stack, stack_config(stack, overrides, remove), secrets, registrations, program)


def run_cli(
    command: str,
    config: dict[str, Any],
    secrets: dict[str, str],
    project: str = PROJECT,
    stdin: str | None = None,
) -> None:
    """Apply a `pulumi config set|rm` command line to `config` and `secrets` as the CLI stores it;
    a value not on the line comes from `stdin`, as the CLI reads it when piped."""
    words = shlex.split(command)
    assert words[:2] == ["pulumi", "config"] and words[-2] == "--stack", command
    verb, flags, args = (
        words[2],
        {w for w in words[3:-2] if w.startswith("--")},
        [w for w in words[3:-2] if not w.startswith("--")],
    )
    key, *value = args
    value = value or [str(stdin)]
    full = key if ":" in key else f"{project}:{key}"
    listed = re.fullmatch(r"([^.\[]+)\[(\d+)\]", full) if "--path" in flags else None
    if listed:  # `--path 'key[i]'`: the i-th item of a list (the CLI appends at i == its length)
        root, index = listed[1], int(listed[2])
        items = list(config.get(root) or [])
        if verb == "rm":
            del items[index]
        else:
            assert index <= len(items), command
            items[index : index + 1] = [cli_stored(value[0], True)]
        config[root] = items
        return
    root, _, field = full.partition(".") if "--path" in flags else (full, "", "")
    if verb == "rm":
        if field and root in secrets:  # a leaf of an object with secure leaves
            secrets[root] = json.dumps({k: v for k, v in json.loads(secrets[root]).items() if k != field})
        elif field:
            config.get(root, {}).pop(field, None)
        else:
            config.pop(root, None)
            secrets.pop(root, None)
    elif "--secret" in flags and field:
        secrets[root] = json.dumps({**json.loads(secrets.get(root, "{}")), field: value[0]})
    elif "--secret" in flags:
        config.pop(full, None)
        secrets[full] = value[0]
    elif field:
        config[root] = {**(config.get(root) or {}), field: cli_stored(value[0], True)}
    else:
        config[root] = cli_stored(value[0], False)


def project_copy(folder: Path, stack: str, extra: str = "") -> Path:
    """A copy of the project's Pulumi.yaml, program and one stack file, with `extra` appended under
    `config:` of the stack file, as a branch would change it."""
    folder.mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py", f"Pulumi.{stack}.yaml"):
        shutil.copy(PROJECT_DIR / name, folder)
    with (folder / f"Pulumi.{stack}.yaml").open("a") as f:
        f.write(extra)
    return folder


def copy_project(dest: Path) -> Path:
    """A working copy of the project at `dest` (its virtual environment linked, not copied), with
    `../shared` beside it as in CI, for tests that run what users run."""
    shutil.copytree(
        PROJECT_DIR,
        dest,
        ignore=shutil.ignore_patterns(
            ".venv*", "build", ".git", "__pycache__", ".*_cache", "venv", "*.egg-info"
        ),
    )
    (dest / ".venv").symlink_to(PROJECT_DIR / ".venv")
    shared = PROJECT_DIR.parent / "shared"
    if shared.exists() and not (dest.parent / "shared").exists():
        (dest.parent / "shared").symlink_to(shared)
    return dest


def start_policy_pack(pack: Path) -> subprocess.Popen[str]:
    """The policy pack in folder `pack`, started as the CLI starts a local Python pack: in that
    folder, `venv/bin/python -u -m pulumi.policy <engine> .`, venv/bin first on PATH, PYTHONHOME
    unset (pulumi/pulumi `sdk/go/common/resource/plugin/analyzer_plugin.go`, NewPolicyAnalyzer, and
    the shim `sdk/python/dist/pulumi-analyzer-policy-python`). Nothing of this environment leaks in
    (no PYTHONPATH). The pack prints the port it serves on; the engine address is not dialled."""
    venv = pack / "venv" / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = f"{venv}:{env.get('PATH', '')}"
    return subprocess.Popen(
        [str(venv / "python"), "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
        cwd=pack,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def aws_client(env: dict[str, str], service: str, region: str | None = None) -> Any:
    """A botocore client of the emulator that the `aws` fixture (tests/conftest.py) runs, for laying
    out the scene a command starts from; the commands under test run through the AWS CLI."""
    session = botocore.session.Session()
    session.set_config_variable("config_file", env["AWS_CONFIG_FILE"])
    session.set_config_variable("credentials_file", env["AWS_SHARED_CREDENTIALS_FILE"])
    return session.create_client(
        service,
        region_name=region or env["AWS_DEFAULT_REGION"],
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def manifests(run: Run) -> list[dict[str, Any]]:
    """Every Kubernetes object the run declares, as the API server would receive it."""
    return [r.inputs for r in run.resources if r.type.startswith(K8S_PREFIX)]


def manifest(run: Run, kind: str, name: str | None = None) -> dict[str, Any]:
    """The one object of `kind` (named `name`, if given)."""
    found = [
        m for m in manifests(run) if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def workload_manifest(run: Run, consumer: str, kind: str) -> dict[str, Any]:
    """Workload `consumer`'s object of `kind` (Deployment, ServiceAccount, NetworkPolicy, Role,
    RoleBinding or its current ExternalSecret), beside the other workloads' and the rotation steps'
    objects of the same kinds."""
    if kind == "ExternalSecret":
        return manifest(run, kind, str(run.exports["secretNames"][consumer]))
    reader = kind in ("Role", "RoleBinding")
    return manifest(run, kind, f"{workload(consumer)}-secret-reader" if reader else workload(consumer))


def backend_manifest(run: Run, kind: str) -> dict[str, Any]:
    """The backend's object of `kind`, beside the other workloads' and the rotation steps'."""
    return workload_manifest(run, "backend", kind)


def plain_text(value: Any) -> str:
    """`value` as text with every secret left out: what anyone reading the plan would see."""
    return json.dumps(mask(value), sort_keys=True)


def depends_on(run: Run, resource: Registration, target: Registration) -> bool:
    """Whether `resource` waits for `target`, directly or through other resources."""
    seen: set[str] = set()
    todo = list(resource.dependencies)
    while todo:
        urn = todo.pop()
        if urn == target.urn:
            return True
        if urn in seen:
            continue
        seen.add(urn)
        todo.extend(run.by_urn(urn).dependencies)
        # A dependency on a component is a dependency on all its children.
        todo.extend(r.urn for r in run.resources if r.parent == urn)
    return False


def password_of(run: Run, key: str) -> Registration:
    """The RandomPassword of a generated secret, at its current rotation value (a server
    credential's: its active role's, at its generation)."""
    if key in run.exports["generations"]:
        generation = run.exports["generations"][key]
        suffix = role_suffix(serverauth.active_index(generation), generation)
        name = f"ai-etl-server-passwords-{key}-{suffix}"
    else:
        name = password_name("ai-etl-passwords", key, run.exports["rotation"][key])
    # A password of restricted characters (ElastiCache's) has a name of its own (serverpasswords.py).
    (found,) = [r for r in run.of_type(RANDOM_PASSWORD) if r.name in (name, f"{name}-restricted")]
    return found


def backend_secret(run: Run) -> str:
    """The name of the backend's current Secret, from the stack outputs."""
    return str(run.exports["secretNames"]["backend"])


def _closed(schema: Any) -> Any:
    """An OpenAPI v3 structural schema as JSON Schema that rejects unknown fields."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _closed(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if (
        schema.get("type") == "object"
        and "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_schema(schemas_dir: Path, kind: str) -> dict:
    crd = yaml.safe_load((schemas_dir / f"{ESO_GROUP}_{CRD_FILES[kind]}.yaml").read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    assert version["served"], "the program must use a version the operator serves"
    return _closed(version["schema"]["openAPIV3Schema"])


def eso_errors(schemas_dir: Path, obj: dict) -> list[str]:
    """Problems of an External Secrets object: against its CRD, and its metadata against ObjectMeta."""
    validator = jsonschema.Draft7Validator(crd_schema(schemas_dir, obj["kind"]))
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(obj)]
    # The CRD types metadata as a bare object; the API server holds it to ObjectMeta.
    probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]}
    try:
        kubernetes_validate.validate(probe, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        errors.append(f"metadata: {e.message}")
    return errors


def secrets_manager_values(run: Run) -> dict[str, str]:
    """What each Secrets Manager secret of the run holds, by catalogue key."""
    names = {r.outputs["arn"]: r.inputs["name"] for r in run.of_type(SM_SECRET)}
    return {
        str(key_of_secret_name(run.stack, names[v.inputs["secretId"]])): unwrap(v.inputs["secretString"])
        for v in run.of_type(SM_VERSION)
    }
