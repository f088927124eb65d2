"""The takeover of an installation made by hand from the guide (Secret `ai-etl-secrets`, Deployment
`ai-etl-backend`), printed as one bash script for one stack: `.venv/bin/python -m ai_etl.ops.takeover
<stack>`. No credential changes, and no value is typed on a command line or written to a file: each
goes from the live Secret, through pipes, into encrypted stack config.

The script calls this module back (`--value`, `--password`, `--check`, `--compare`, ...) to read the
live Secret: the URLs the way the backend's drivers read them (ai_etl/catalogue/urls.py).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import functools
import json
import re
import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from ai_etl.catalogue import CONSUMERS, SecretSpec, Source, by_key, of_source, read_by
from ai_etl.catalogue.urls import Reading, UnreadableURLError, compose_url, connection_query, read_url
from ai_etl.components.serverauth import login_roles
from ai_etl.names import ENVIRONMENT_LABEL, HAND_MADE_SECRET, PROJECT, workload
from ai_etl.names import namespace as namespace_of
from ai_etl.offline.stackconfig import StackFileError, load_stack_config

COMMAND = ".venv/bin/python -m ai_etl.ops.takeover"
"""How the takeover is run, from the project's root: it needs the project's own environment."""
CONTEXT = "takeover"
"""The context of the script's own kubeconfig, made for the stack's cluster alone."""
GUIDE_NAMESPACE = "default"
"""Where the guide's External Secrets objects sit: its YAML names no namespace (docs/takeover.md)."""
ABSENT = 3
"""The helpers' exit status for a key the hand-made Secret does not hold."""
STACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
"""A stack name the Pulumi CLI accepts (pulumi/pulumi sdk/go/common/tokens/stack_name.go,
ParseStackName: alphanumerics, '-', '_' and '.', at most 100)."""
K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


class TakeoverError(Exception):
    """A problem the operator can fix; the message names it, and never holds a secret value."""


@dataclass(frozen=True)
class Target:
    """What the script takes over: one stack, its namespace, and its own cluster, found as the
    program finds it (the stack's `clusterName` in its `aws:region`)."""

    stack: str
    namespace: str
    cluster: str
    region: str
    cache: tuple[str, str] | None = None
    """Redis on ElastiCache: its replication group and the user group the stack declares."""


def target(stack: str, project_dir: Path = Path()) -> Target:
    """The stack's target, read from its stack file; TakeoverError naming what is missing."""
    if not STACK_NAME.fullmatch(stack):
        raise TakeoverError(
            f"{stack!r} is not a stack name: the Pulumi CLI takes letters, digits, '-', '_' and '.'"
        )
    config = load_stack_config(stack, project_dir)
    missing = [key for key in (f"{PROJECT}:clusterName", "aws:region") if config.get(key) in (None, "")]
    if missing:
        fixes = "; ".join(
            f"pulumi config set {key} {shlex.quote('<' + key.partition(':')[2] + '>')} --stack {stack}"
            for key in missing
        )
        raise TakeoverError(f"stack {stack}: {' and '.join(missing)} not set; fix: {fixes}")
    _refused_by_the_program(stack, project_dir)
    namespace = namespace_of(stack, config.get(f"{PROJECT}:namespace"))
    redis = config.get(f"{PROJECT}:redis") or {}
    cache = None
    if isinstance(redis, dict) and redis.get("kind") == "elasticache":  # valid: the program said so
        cache = (str(redis["replicationGroupId"]), str(redis["userGroupId"]))
    cluster, region = str(config[f"{PROJECT}:clusterName"]), str(config["aws:region"])
    return Target(stack, str(namespace), cluster, region, cache)


def _refused_by_the_program(
    stack: str, project_dir: Path, what: str = "the takeover would stop half-way"
) -> None:
    """TakeoverError if the program refuses the stack's config (a system namespace, a name with
    shell characters, a masterSecretArn of another account...), with the program's own message per
    key: the script's own preview would stop on it, but only after the script has read the live
    Secret of that namespace and written its values into the stack's config; `--database-sql` would
    print grants for settings the program refuses. The program's checks run offline, as `make check`
    runs them, with placeholders for the secrets not set yet: its part before it declares anything
    (ai_etl.program.decide), where it refuses a config, a third of the time of a whole render."""
    from ai_etl.offline.cli import ERRORS
    from ai_etl.offline.runner import offline_run
    from ai_etl.program import decide

    try:
        offline_run(stack, project_dir, entry=decide)
    except ERRORS as error:
        raise TakeoverError(
            f"stack {stack}: the program refuses this stack's config, so {what}; fix it first:\n{error}"
        ) from None


RETIRE_ORPHANS = (
    'OLD=$(kc get replicaset -n "$NS" -o json | helper --orphans "$DEPLOYMENT")',
    'for name in $OLD; do kc delete replicaset "$name" -n "$NS" --cascade=foreground; done',
)
"""The old Deployment's ReplicaSets, left without an owner by step 3's --cascade=orphan, deleted with
their pods: `--cascade=foreground` keeps each ReplicaSet until the garbage collector has deleted its
pods (kubernetes/website content/en/docs/concepts/architecture/garbage-collection.md, foreground
cascading deletion), and `kubectl delete` waits until the object is gone (kubernetes/kubectl
pkg/cmd/delete/delete.go, DeleteResult: the propagation policy, then a wait for IsDeleted)."""


@dataclass(frozen=True)
class Step:
    title: str
    commands: tuple[str, ...]


def _quote(target: Target) -> dict[str, str]:
    return {name: shlex.quote(value) for name, value in vars(target).items() if isinstance(value, str)}


def cache_steps(target: Target) -> list[Step]:
    """Redis on ElastiCache: the user group the first `pulumi up` declared (its `default` user holds
    the cache's AUTH token, which the backend still uses) goes onto the replication group; then two
    rotations move the backend onto the stack's own users and turn `default` off. AWS: ModifyReplicationGroup
    UserGroupIdsToAdd, with AuthTokenUpdateStrategy DELETE "allowed only when transitioning to RBAC"
    (botocore's elasticache model, AuthTokenUpdateStrategy); a cache without a token takes the group alone."""
    if target.cache is None:
        return []
    group, users = map(shlex.quote, target.cache)
    rotate = f"pulumi config set --path {shlex.quote('rotation.redis-password')}"
    return [
        Step(
            "ElastiCache: the stack's user group onto the replication group; its `default` user holds the "
            "AUTH token the backend uses, so no connection fails",
            (
                f"GROUP={group}",
                f"USERS={users}",
                'ec() { aws elasticache "$@" --region "$REGION" --replication-group-id "$GROUP"; }',
                "TOKEN=$(ec describe-replication-groups --query 'ReplicationGroups[0].AuthTokenEnabled' --output text)",
                "HAS=$(ec describe-replication-groups --query 'ReplicationGroups[0].UserGroupIds' --output text)",
                # No empty array: bash before 4.4 (macOS's /bin/bash is 3.2) calls "${A[@]}" of an empty
                # array unbound under `set -u` (bash's CHANGES, bash-4.4-rc2, a).
                'if [[ " $HAS " == *" $USERS "* ]]; then echo "user group $USERS: already on $GROUP"',
                'elif [ "$TOKEN" = True ]; then',
                '  ec modify-replication-group --user-group-ids-to-add "$USERS" --auth-token-update-strategy DELETE --apply-immediately >/dev/null',
                "else",
                '  ec modify-replication-group --user-group-ids-to-add "$USERS" --apply-immediately >/dev/null',
                "fi",
                "ec wait replication-group-available",
            ),
        ),
        Step(
            "ElastiCache: two rotations move the backend onto the stack's users (green, then blue); the "
            "hand-made pods go, then the second turns the token's `default` user off, once no pod uses it",
            (
                "confirm \"The user group is on the replication group. Rotate the backend onto the stack's users, "
                'delete the old hand-made ReplicaSets and turn the token off?"',
                f'{rotate} 1 --stack "$STACK"',
                'pulumi up --yes --stack "$STACK"',
                'kc rollout status deployment "$DEPLOYMENT" -n "$NS" --timeout=10m',
                # The hand-made pods still log in with the token: gone before `default` goes off.
                *RETIRE_ORPHANS,
                f'{rotate} 2 --stack "$STACK"',
                'pulumi up --yes --stack "$STACK"',
            ),
        ),
    ]


def steps(target: Target) -> list[Step]:
    """The takeover of `target`, step by step. Every value from the stack file is quoted for the
    shell; everything else is this module's own text."""
    from ai_etl.config.reading import ADOPT

    q = _quote(target)
    backend = read_by(CONSUMERS[0])
    setup = (
        f"STACK={q['stack']}",
        f"NS={q['namespace']}",
        f"CLUSTER={q['cluster']}",
        f"REGION={q['region']}",
        f"SECRET={shlex.quote(HAND_MADE_SECRET)}",
        f"DEPLOYMENT={shlex.quote(workload(CONSUMERS[0].name))}",
        "PY=.venv/bin/python",
        ': "${STACK:?}" "${NS:?}" "${CLUSTER:?}" "${REGION:?}"',
        'if [ ! -f Pulumi.yaml ] || [ ! -x "$PY" ]; then echo "run it from the project\'s root, after make setup" >&2; exit 1; fi',
        # The stack must exist and be the one this script was printed for: every pulumi command names it.
        'if [ "$(pulumi config get clusterName --stack "$STACK")" != "$CLUSTER" ] || '
        '[ "$(pulumi config get aws:region --stack "$STACK")" != "$REGION" ]; then',
        '  echo "stack $STACK: its clusterName or aws:region is not this script\'s: print the script again" >&2; exit 1',
        "fi",
        # kubectl talks to the stack's cluster through a kubeconfig of its own, whatever the shell's
        # current context: `update-kubeconfig` writes the named cluster into the --kubeconfig file
        # and makes the --alias context current there (aws/aws-cli awscli/customizations/eks/
        # update_kubeconfig.py; kubeconfig.py, insert_cluster_user_pair); kc names both anyway.
        "KUBE=$(mktemp -d)",
        "trap 'rm -rf -- \"$KUBE\"' EXIT",
        f'aws eks update-kubeconfig --name "$CLUSTER" --region "$REGION" --kubeconfig "$KUBE/config" --alias {CONTEXT} >&2',
        f'kc() {{ kubectl --kubeconfig "$KUBE/config" --context {CONTEXT} "$@"; }}',
        'helper() { "$PY" -m ai_etl.ops.takeover "$STACK" "$@"; }',
        'confirm() { local answer=""; read -r -p "$1 Type yes to go on: " answer || true; '
        '[ "$answer" = yes ] || { echo "stopped: nothing more was done" >&2; exit 1; }; }',
        # The hand-made Secret as the API serves it (values base64), held in this shell only.
        'HAND_MADE=$(kc get secret "$SECRET" -n "$NS" -o json)',
    )
    # keep HOW KEY IF-ABSENT CONFIG-ARGS...: the live value of KEY (--value), or the password of the
    # URL KEY as its driver reads it (--password), piped into encrypted config; `--raw` keeps it
    # byte for byte (without it `config set` drops a trailing newline: pulumi/pulumi
    # pkg/cmd/pulumi/config/config.go, configSetCmd.Run). IF-ABSENT: prompt, new or stop.
    keep = [
        "keep() {",
        "  local value status=0",
        '  value=$(printf %s "$HAND_MADE" | helper "$1" "$2") || status=$?',
        f'  if [ "$status" = {ABSENT} ] && [ "$3" = prompt ]; then pulumi config set --secret "${{@:4}}" --stack "$STACK"; return; fi',
        f'  if [ "$status" = {ABSENT} ] && [ "$3" = new ]; then echo "$2: not in $SECRET: it gets a new value"; return; fi',
        '  [ "$status" = 0 ] || return "$status"',
        '  printf %s "$value" | base64 -d | pulumi config set --raw --secret "${@:4}" --stack "$STACK"',
        "}",
    ]
    for spec in of_source(Source.PROVIDED):  # added since the guide: pulumi prompts, without echo
        keep.append(f"keep --value {shlex.quote(spec.key)} prompt {shlex.quote(str(spec.config_key))}")
    composed = [s for s in of_source(Source.COMPOSED) if s.password_of]
    url_of = {str(s.password_of): s for s in composed}
    for spec in of_source(Source.GENERATED):
        adopt = f"--path {shlex.quote(f'{ADOPT}.{spec.key}')}"
        if spec.key in url_of:  # the server has it: without it, stop
            keep.append(f"keep --password {shlex.quote(url_of[spec.key].key)} stop {adopt}")
        else:  # nothing used one before
            keep.append(f"keep --value {shlex.quote(spec.key)} new {adopt}")
    return [
        Step(
            "The stack and its own cluster (its clusterName and aws:region, as the program finds it)", setup
        ),
        Step(
            "Before anything is written: the live URLs, read as their drivers read them, point where the "
            "stack's database.* and redis.* do",
            tuple(f'printf %s "$HAND_MADE" | helper --check {shlex.quote(spec.key)}' for spec in composed),
        ),
        Step(
            "Keep every live value: from the hand-made Secret into the stack's encrypted config, through pipes only",
            tuple(keep),
        ),
        Step(
            "Preview, then adopt the namespace and make the Deployment anew: the old one's selector is "
            "immutable, so it goes, but its pods keep serving until the new ones are ready",
            (
                # The stack's provider adopts existing objects and takes kubectl's fields while
                # `takeover` is on (ai_etl/environment.py: the provider's own arguments).
                'pulumi config set takeover true --stack "$STACK"',
                'pulumi preview --diff --stack "$STACK"',
                'confirm "The preview above is the takeover of namespace $NS; next: delete Deployment $DEPLOYMENT (its pods stay), then pulumi up."',
                # Only the hand-made one: run again after an up, the script leaves the program's alone.
                'BY_HAND=$(kc get deployment "$DEPLOYMENT" -n "$NS" --ignore-not-found -o json | helper --made-by-hand)',
                'if [ "$BY_HAND" = yes ]; then kc delete deployment "$DEPLOYMENT" -n "$NS" --cascade=orphan; fi',
                'pulumi up --yes --stack "$STACK"',
            ),
        ),
        Step(
            "The backend's new Secret holds the very values it had (compared as the drivers read them, never printed)",
            (
                'NEW=$(pulumi stack output secretNames --json --stack "$STACK" | helper --new-secret)',
                'kc rollout status deployment "$DEPLOYMENT" -n "$NS" --timeout=10m',
                '{ printf %s "$HAND_MADE"; kc get secret "$NEW" -n "$NS" -o json; } | helper --compare '
                + shlex.join(spec.key for spec in backend),
            ),
        ),
        *cache_steps(target),
        Step(
            "Retire what was made by hand: the takeover's provider options, the old ReplicaSets, the guide's objects",
            (
                'confirm "Every value was kept and the new pods are ready. Retire what was made by hand?"',
                'pulumi config rm takeover --stack "$STACK"',
                *RETIRE_ORPHANS,  # none left here after the cache steps
                # The guide's ExternalSecret owns the Secret it makes, in the namespace it was
                # applied to: the stack's, or `default` where its YAML was applied as written.
                f'for ns in "$NS" {GUIDE_NAMESPACE}; do',
                '  kc delete externalsecrets.external-secrets.io "$SECRET" -n "$ns" --ignore-not-found',
                '  kc delete secret "$SECRET" -n "$ns" --ignore-not-found',
                "done",
                'kc delete rolebinding secret-reader -n "$NS" --ignore-not-found',
                'kc delete role secret-reader -n "$NS" --ignore-not-found',
                'echo "The takeover is done; the next pulumi up records the provider\'s options off."',
            ),
        ),
    ]


def script(target: Target) -> str:
    """The steps as one bash script that stops at the first error."""
    lines = [
        "#!/usr/bin/env bash",
        "# The takeover of a hand-made installation by one stack of this project, every live credential",
        "# kept (docs/takeover.md). Printed by `.venv/bin/python -m ai_etl.ops.takeover` for the stack:",
        "# save it, then run it with bash from the project's root. It stops at the first error, and",
        "# asks before anything destructive.",
        "set -euo pipefail",
    ]
    for number, step in enumerate(steps(target)):
        lines += ["", f"# {number}. {step.title}", *step.commands]
    return "\n".join(lines) + "\n"


# What the Postgres step's administrator needs on roles it did not create: printed as one psql script.

ADMIN_OPTION_FROM = 160000
"""server_version_num from which a CREATEROLE role may alter a role, set its password or grant it
only with ADMIN OPTION on it (postgres/postgres src/backend/commands/user.c, AlterRole and
AddRoleMems; commit cf5eb37c5, PostgreSQL 16); before, CREATEROLE alone did (ai_etl/components/
serverauth.py, POSTGRES_ADMIN_ATTRIBUTES)."""
BOOTSTRAP_SUPERUSER_OID = 10
"""initdb's superuser (postgres/postgres src/include/catalog/pg_authid.dat, BOOTSTRAP_SUPERUSERID):
the official image's POSTGRES_USER. It must stay a superuser: from 16, user.c refuses NOSUPERUSER
on it ("The bootstrap superuser must have the SUPERUSER attribute."); 15 allows it, and the cluster
may be left with no superuser at all, so the grants refuse it on every version."""


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def database_sql(group: str, admin: str | None) -> str:
    """The SQL that lets the rotation step's administrator `admin` (CREATEROLE, not a superuser) run
    the step on the roles of group role `group` that it did not create: a takeover's hand-made user,
    or every role after a change of `database.adminUser`. Run once by whoever may grant them: a
    superuser or, on RDS and Aurora (where the master user is NOSUPERUSER CREATEROLE), the master
    user or the previous administrator, each holding ADMIN OPTION on the roles it created. `admin`
    None: the step's administrator is the master user, from RDS's secret (database.masterSecretArn),
    whose name only the secret holds: the SQL is run connected as that user, and names it
    `session_user`. From PostgreSQL 16 it grants ADMIN OPTION on the group and its login roles,
    without their privileges (INHERIT FALSE, SET FALSE); on any version it takes SUPERUSER from the
    group (the backend's sessions run as it). Running it again changes nothing; so does running it
    where nothing is needed."""
    roles = ", ".join(_sql_text(r) for r in (group, *login_roles(group)))
    if admin is None:
        header = (
            "-- What the rotation step's administrator, RDS's master user, needs on the roles of "
            f"{group} it did not\n-- create (docs/takeover.md, the administrator's grants). Run once, "
            "connected as the master user\n-- (its secret, database.masterSecretArn): it grants to the "
            "role that runs it."
        )
    else:
        header = (
            f"-- What the rotation step's administrator {admin} needs on the roles of {group} it did not create\n"
            "-- (docs/takeover.md, the administrator's grants). Run once, connected as a superuser or, on RDS and\n"
            "-- Aurora, as the master user (or as the previous administrator after a change of database.adminUser)."
        )
    return f"""\\set ON_ERROR_STOP on
{header}
DO $ai_etl$
DECLARE
    admin text := {"session_user" if admin is None else _sql_text(admin)};
    grp text := {_sql_text(group)};
    target text;
BEGIN
    IF to_regrole(admin) IS NULL THEN
        RAISE EXCEPTION 'role % does not exist', admin
            USING HINT = 'create the step''s administrator first (docs/runbooks.md, what the step needs)';
    END IF;
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = grp) THEN
        IF to_regrole(grp)::oid = {BOOTSTRAP_SUPERUSER_OID} THEN
            RAISE EXCEPTION 'role % is the bootstrap superuser (initdb''s, the official image''s POSTGRES_USER), which must stay one', grp
                USING HINT = 'the backend needs an ordinary role: docs/takeover.md, the guide''s user is the bootstrap superuser';
        END IF;
        EXECUTE format('ALTER ROLE %I NOSUPERUSER', grp);
        RAISE NOTICE 'role % is no longer a superuser', grp;
    END IF;
    IF current_setting('server_version_num')::int < {ADMIN_OPTION_FROM}
        OR (SELECT rolsuper FROM pg_roles WHERE rolname = admin) THEN
        RAISE NOTICE 'role % needs no ADMIN OPTION here (a superuser, or PostgreSQL before 16)', admin;
        RETURN;
    END IF;
    FOREACH target IN ARRAY ARRAY[{roles}] LOOP
        CONTINUE WHEN to_regrole(target) IS NULL;
        IF EXISTS (
            SELECT FROM pg_auth_members
            WHERE roleid = to_regrole(target)::oid AND member = to_regrole(admin)::oid AND admin_option
        ) THEN
            RAISE NOTICE 'role % administers % already', admin, target;
            CONTINUE;
        END IF;
        EXECUTE format('GRANT %I TO %I WITH ADMIN TRUE, INHERIT FALSE, SET FALSE', target, admin);
        RAISE NOTICE 'role % may now administer % (not use its privileges)', admin, target;
    END LOOP;
END
$ai_etl$;
"""


def database_sql_of(stack: str, project_dir: Path = Path()) -> str:
    """`database_sql` for the stack's `database.user` and its step's administrator: `database.adminUser`,
    or RDS's master user where `database.masterSecretArn` names its secret (the step logs in as it)."""
    settings = connection_settings("database", stack, project_dir)
    admin = None if settings["master_secret_arn"] else str(settings["admin_user"])
    return database_sql(str(settings["user"]), admin)


def database_sql_run(stack: str, project_dir: Path = Path()) -> str:
    """How to run `database_sql_of`, saved as docs/takeover.md saves it (`takeover-<stack>.sql`), from
    the project's root: psql with the stack's host, port and database and, on RDS or Aurora, TLS
    verified against the committed CA bundle (`sslmode=verify-full`, as the step connects). With
    database.masterSecretArn, as the master user from that secret: its username and password go
    from `aws secretsmanager get-secret-value` through a variable and pipes into psql's environment
    (PGUSER, PGPASSWORD: PostgreSQL docs, libpq-envars), never onto a command line or the screen."""
    from ai_etl.components import trust
    from ai_etl.components.steppods import MASTER_SECRET_PROPERTIES

    validated = _validated("database", stack, project_dir)
    settings = validated.model_dump()
    conninfo = f"host={settings['host']} port={settings['port']} dbname={settings['name']}"
    if validated.on_rds:
        bundle = trust.BUNDLE_FILE.relative_to(Path(__file__).resolve().parents[2])
        conninfo += f" sslmode=verify-full sslrootcert={bundle}"
    psql = f"psql -v ON_ERROR_STOP=1 -f {shlex.quote(f'takeover-{stack}.sql')}"
    arn = settings["master_secret_arn"]
    if not arn:
        return f"{psql} {shlex.quote(conninfo + ' user=<who may grant>')}\n"
    field = f"{COMMAND} {shlex.quote(stack)} --master-field"
    user, password = (f'$(printf %s "$MASTER" | {field} {name})' for name in MASTER_SECRET_PROPERTIES)
    get = ["aws", "secretsmanager", "get-secret-value", "--secret-id", arn, "--region", arn.split(":")[3]]
    return (
        f"MASTER=$({shlex.join(get)} --query SecretString --output text)\n"
        f"PGUSER={user} PGPASSWORD={password} {psql} {shlex.quote(conninfo)}\n"
        "unset MASTER\n"
    )


def _master_field(name: str, stdin: str, _: str) -> str:
    """`username` or `password` of RDS's master user secret (its SecretString on stdin), for psql's
    environment: printed into a pipe or a variable, never to a terminal."""
    from ai_etl.components.steppods import MASTER_SECRET_PROPERTIES

    if name not in MASTER_SECRET_PROPERTIES:
        raise TakeoverError(f"--master-field takes {' or '.join(MASTER_SECRET_PROPERTIES)}")
    if sys.stdout.isatty():
        raise TakeoverError("--master-field prints a credential: pipe it, or read it into a variable")
    try:
        value = json.loads(stdin)[name]
    except (json.JSONDecodeError, TypeError, KeyError):
        raise TakeoverError(
            f"not RDS's master user secret (a JSON object with {name}) as "
            "`aws secretsmanager get-secret-value --query SecretString --output text` prints it"
        ) from None
    if not isinstance(value, str):
        raise TakeoverError(f"the master user secret's {name} is not text")
    return value


# The script's helpers: each reads what kubectl or pulumi printed on stdin, and prints no secret.


def _secret_data(document: Any) -> dict[str, str]:
    """A Secret's `data` (base64 values) from `kubectl get secret -o json`."""
    data = document.get("data") if isinstance(document, dict) else None
    if document is None or not isinstance(data, dict | None) or document.get("kind") != "Secret":
        raise TakeoverError("not a Secret as `kubectl get secret -o json` prints it")
    return {str(k): str(v) for k, v in (data or {}).items()}


def _live(data: Mapping[str, str], spec: SecretSpec) -> bytes | None:
    """The value the guide's Secret holds for `spec`: by key (`--from-literal`) or by env var
    (`--from-env-file`); None when absent or empty."""
    for name in (spec.key, spec.env_var):
        if name and data.get(name):
            try:
                return base64.b64decode(data[name], validate=True)
            except binascii.Error:
                raise TakeoverError(f"{spec.key}: its value in {HAND_MADE_SECRET} is not base64") from None
    return None


def _text(spec: SecretSpec, value: bytes) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise TakeoverError(f"{spec.key}: its value is not UTF-8 text, so not a URL") from None


def reading(spec: SecretSpec, value: bytes) -> Reading:
    """The live URL as the backend's driver reads it, refused (without quoting it) when the driver
    reads no host name from it: a raw character of the password then ended or shifted the URL's
    parts, and the backend cannot be using the password as it stands."""
    from ai_etl.config.fields import HOSTNAME

    read = read_url(spec, _text(spec, value))
    if not read.host or not re.fullmatch(HOSTNAME, read.host, re.IGNORECASE):
        raise TakeoverError(
            f"{spec.key}: its driver reads no host name from it: a raw character of the password ends "
            "or shifts the URL's parts there ('@' for SQLAlchemy; '#', '?' or '/' for redis-py). "
            "Percent-encode it in the live Secret (%40, %23, %3F, %2F; the server keeps its password), "
            "then run the takeover again"
        )
    if not read.password:
        raise TakeoverError(f"{spec.key}: its driver reads no password from it")
    return read


def _connection_fields(spec: SecretSpec, connection: Mapping[str, Any], settable: set[str]) -> dict[str, str]:
    """Which setting of the connection (of those `settable`) each part of the URL comes from, found
    by composing the URL with one setting changed at a time and reading it back (the template is the
    only fact)."""
    base = read_url(spec, compose_url(spec, connection, "password"))
    found = {}
    for name, value in connection.items():
        if name not in settable:
            continue
        changed = {**connection, name: value + 1 if isinstance(value, int) else f"{value}x"}
        other = read_url(spec, compose_url(spec, changed, "password"))
        parts = [p for p in vars(base) if getattr(base, p) != getattr(other, p)]
        if len(parts) == 1:
            found[parts[0]] = name
    return found


def _valid(model: Any, settings: Mapping[str, Any]) -> bool:
    from pydantic import ValidationError

    try:
        model.model_validate(settings)
    except ValidationError:
        return False
    return True


def connection_settings(name: str, stack: str, project_dir: Path = Path()) -> dict[str, Any]:
    """The stack's `ai-etl:<name>` connection settings (`database`, `redis`), defaults filled in."""
    return dict(_validated(name, stack, project_dir).model_dump())


def _validated(name: str, stack: str, project_dir: Path = Path()) -> Any:
    """The stack's `ai-etl:<name>` as its settings model validates it, or a TakeoverError."""
    from pydantic import ValidationError

    from ai_etl.config.models import StackConfig
    from ai_etl.offline.stackconfig import load_stack_config

    model = StackConfig.model_fields[name].annotation
    raw = load_stack_config(stack, project_dir).get(f"{PROJECT}:{name}") or {}
    try:
        return model.model_validate(raw)  # type: ignore[union-attr]
    except ValidationError:
        raise TakeoverError(
            f"{PROJECT}:{name} is not valid in Pulumi.{stack}.yaml: pulumi preview lists each problem with its fix"
        ) from None


def check(spec: SecretSpec, value: bytes, stack: str, project_dir: Path = Path()) -> list[str]:
    """The differences between the live URL and the one the stack composes, each with its fix;
    none when the driver reads both alike but for the password."""
    from ai_etl.config.models import StackConfig, url_fields

    live = reading(spec, value)
    name = str(spec.connection)
    model = StackConfig.model_fields[name].annotation
    validated = _validated(name, stack, project_dir)
    settings = url_fields(validated)
    query = connection_query(spec, validated)
    composed = read_url(spec, compose_url(spec, settings, live.password or "", query))
    fields = _connection_fields(spec, settings, set(validated.model_dump()))
    settings = validated.model_dump()  # what the model validates again, with one part changed
    problems = []
    for part in ("scheme", "username", "host", "port", "database", "options"):
        ours, theirs = getattr(composed, part), getattr(live, part)
        if ours == theirs:
            continue
        if part == "username" and theirs is None and _served_by_roles(spec):
            continue  # the server's default user (Redis's requirepass): the step adds the login roles
        if getattr(_with_declared_tls(live, composed), part) == ours:
            continue  # TLS is what the stack adds (ElastiCache, RDS); the takeover keeps the credential
        if part in fields and _valid(model, {**settings, fields[part]: theirs}):
            fix = shlex.join(["pulumi", "config", "set", "--path", f"{name}.{fields[part]}", str(theirs)])
            problems.append(f"{part} is {theirs!r} live, {ours!r} in the stack; fix: {fix} --stack {stack}")
        elif part in fields:
            problems.append(f"{part} is {theirs!r} live, which {PROJECT}:{name}.{fields[part]} cannot be")
        elif part == "options":
            keys, stacks = (", ".join(k for k, _ in o) or "none" for o in (theirs, ours))
            problems.append(f"the live URL's options ({keys}) are not the stack's ({stacks})")
        else:
            problems.append(f"{part} is {theirs!r} live, {ours!r} in the URL the program writes")
    return problems


def _served_by_roles(spec: SecretSpec) -> bool:
    """Whether a URL's password is a server credential's, which the stack serves by its alternating
    login roles (`<user>_blue`, `<user>_green`): its user changes at the takeover by design."""
    return bool(spec.password_of) and by_key()[str(spec.password_of)].server is not None


def declared(spec: SecretSpec, stack: str, project_dir: Path = Path()) -> Reading:
    """The URL the stack composes for `spec` (with a stand-in password), as its driver reads it: its
    scheme and options are those the stack's settings declare (connection_query, url_fields)."""
    return _declared(spec, stack, project_dir.resolve())


@functools.cache  # a process compares a stack's few URLs: one read of its file each
def _declared(spec: SecretSpec, stack: str, project_dir: Path) -> Reading:
    from ai_etl.config.models import url_fields

    validated = _validated(str(spec.connection), stack, project_dir)
    query = connection_query(spec, validated)
    return read_url(spec, compose_url(spec, url_fields(validated), "stand-in", query))


def _with_declared_tls(live: Reading, stack: Reading) -> Reading:
    """`live` with the TLS that the stack's URL (`stack`, from `declared`) adds by design, where the
    live URL has none: `rediss` for `redis` (redis.kind elasticache, or tls), and the stack's options
    for none (asyncpg's `ssl=verify-full` on database.kind rds or aurora). Nothing else changes, and
    a live URL that has TLS or options of its own keeps them."""
    if (live.scheme, stack.scheme) == ("redis", "rediss"):
        live = dataclasses.replace(live, scheme=stack.scheme)
    if not live.options and stack.options:
        live = dataclasses.replace(live, options=stack.options)
    return live


def _same_credential(spec: SecretSpec, before: Reading, after: Reading, stack: Reading) -> bool:
    """Whether the new reading of a URL holds the credential of the live one, as the stack composes
    it (`stack`): with the TLS the stack's kind adds (`_with_declared_tls`), and, for a server
    credential, from the guide's single user to a login role of the stack's (docs/takeover.md)."""
    before = _with_declared_tls(before, stack)
    if _served_by_roles(spec):
        before, after = dataclasses.replace(before, username=None), dataclasses.replace(after, username=None)
    return before == after


def compare(
    keys: list[str], old: Mapping[str, str], new: Mapping[str, str], stack: str, project_dir: Path = Path()
) -> dict[str, str]:
    """kept, new or CHANGED for each key, the hand-made Secret against the operator's: URLs as
    their drivers read them (`!` raw and `%21` are the same password; a server credential's user
    may become a login role; the URL gains the TLS the stack declares), other values byte for byte."""
    specs, said = by_key(), {}
    for key in keys:
        spec = specs[key]
        before, after = _live(old, spec), _live(new, SecretSpec(key, None, spec.source, ""))
        if before is None:
            said[key] = "new"
        elif after is None:
            said[key] = "CHANGED"
        elif spec.url_template:
            ours = declared(spec, stack, project_dir)  # a stack the program refuses: stop, not CHANGED
            try:
                same = _same_credential(
                    spec, read_url(spec, _text(spec, before)), read_url(spec, _text(spec, after)), ours
                )
            except (UnreadableURLError, TakeoverError):
                same = before == after
            said[key] = "kept" if same else "CHANGED"
        else:
            said[key] = "kept" if before == after else "CHANGED"
    return said


def _documents(text: str) -> list[Any]:
    """The JSON documents printed one after another (`kubectl get -o json`, twice)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while text[at:].strip():
        at += len(text[at:]) - len(text[at:].lstrip())
        try:
            document, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            raise TakeoverError("expected JSON as kubectl or pulumi prints it") from None
        found.append(document)
    return found


def _one(text: str) -> Any:
    documents = _documents(text)
    if len(documents) != 1:
        raise TakeoverError("expected one JSON document as kubectl or pulumi prints it")
    return documents[0]


def _spec(key: str) -> SecretSpec:
    specs = by_key()
    if key not in specs:
        raise TakeoverError(f"{key}: not a secret of the catalogue ({', '.join(specs)})")
    return specs[key]


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _value(key: str, stdin: str, _: str) -> str:
    spec = _spec(key)
    value = _live(_secret_data(_one(stdin)), spec)
    if value is None:
        raise AbsentError(spec)
    return _b64(value)


def _password(key: str, stdin: str, _: str) -> str:
    spec = _spec(key)
    if not spec.url_template:
        raise TakeoverError(f"{key}: not a URL")
    value = _live(_secret_data(_one(stdin)), spec)
    if value is None:
        raise AbsentError(spec)
    return _b64(str(reading(spec, value).password).encode())


def _check(key: str, stdin: str, stack: str) -> str:
    spec = _spec(key)
    value = _live(_secret_data(_one(stdin)), spec)
    if value is None:
        raise AbsentError(spec)
    problems = check(spec, value, stack)
    if problems:
        raise TakeoverError("\n  ".join([f"{key}: the live URL is not the stack's:", *problems]))
    return f"{key}: {reading(spec, value).without_password()}, as the stack composes it\n"


def _new_secret(_: str, stdin: str, __: str) -> str:
    names = _one(stdin)
    name = names.get(CONSUMERS[0].name) if isinstance(names, dict) else None
    if not isinstance(name, str) or not K8S_NAME.fullmatch(name):
        raise TakeoverError(f"no Secret of {CONSUMERS[0].name} in the stack output secretNames")
    return name


def _made_by_hand(_: str, stdin: str, stack: str) -> str:
    """yes for a Deployment without the program's label of this stack; no when there is none."""
    if not stdin.strip():
        return "no\n"
    labels = (_one(stdin).get("metadata") or {}).get("labels") or {}
    return "no\n" if labels.get(ENVIRONMENT_LABEL) == stack else "yes\n"


def _orphans(deployment: str, stdin: str, _: str) -> str:
    """The ReplicaSets of a deleted Deployment `deployment`: its name, a hash, and no owner."""
    items = (_one(stdin) or {}).get("items") or []
    names = [
        str(item["metadata"]["name"])
        for item in items
        if str(item.get("metadata", {}).get("name", "")).startswith(f"{deployment}-")
        and not item["metadata"].get("ownerReferences")
    ]
    return "".join(f"{n}\n" for n in names if K8S_NAME.fullmatch(n))


class AbsentError(TakeoverError):
    def __init__(self, spec: SecretSpec) -> None:
        names = " nor ".join(n for n in (spec.key, spec.env_var) if n)
        super().__init__(f"{spec.key}: not in {HAND_MADE_SECRET} (neither {names})")


HELPERS: dict[str, Callable[[str, str, str], str]] = {
    "value": _value,
    "password": _password,
    "check": _check,
    "new_secret": _new_secret,
    "made_by_hand": _made_by_hand,
    "orphans": _orphans,
    "master_field": _master_field,
}


def _fail(message: str, status: int = 1) -> NoReturn:
    print(f"takeover: {message}", file=sys.stderr)
    raise SystemExit(status)


def main(argv: list[str] | None = None) -> None:
    """Print the takeover of a stack as a bash script (the other options are its helpers)."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=main.__doc__)
    parser.add_argument("stack", help="a stack of this project: reads its Pulumi.<stack>.yaml")
    helpers = parser.add_mutually_exclusive_group()
    helpers.add_argument("--value", metavar="KEY", help="the live value of KEY, base64 (stdin: the Secret)")
    helpers.add_argument("--password", metavar="KEY", help="the password of the live URL KEY, base64")
    helpers.add_argument("--check", metavar="KEY", help="the live URL KEY against the stack's settings")
    helpers.add_argument(
        "--new-secret", action="store_true", help="the backend's Secret (stdin: secretNames)"
    )
    helpers.add_argument("--made-by-hand", action="store_true", help="yes or no (stdin: the Deployment)")
    helpers.add_argument("--orphans", metavar="DEPLOYMENT", help="ReplicaSets left by DEPLOYMENT's deletion")
    helpers.add_argument("--compare", metavar="KEY", nargs="+", help="kept or CHANGED (stdin: both Secrets)")
    helpers.add_argument(
        "--database-sql",
        action="store_true",
        help="the SQL that lets the step's administrator run it on roles it did not create (stderr: "
        "how to run it)",
    )
    helpers.add_argument(
        "--master-field", metavar="FIELD", help="username or password (stdin: RDS's master user secret)"
    )
    args = parser.parse_args(argv)
    if not STACK_NAME.fullmatch(args.stack):
        _fail(
            f"{args.stack!r} is not a stack name: the Pulumi CLI takes letters, digits, '-', '_' and '.'", 2
        )
    try:
        if args.database_sql:
            load_stack_config(args.stack)  # an unknown stack: named below, with the stacks there are
            _refused_by_the_program(args.stack, Path(), "its grants would be for settings it refuses")
            print(database_sql_of(args.stack), end="")
            print(
                f"Save it as takeover-{args.stack}.sql, then run, from the project's root:", file=sys.stderr
            )
            print(database_sql_run(args.stack), end="", file=sys.stderr)
            return
        if args.compare:
            secrets = [_secret_data(d) for d in _documents(sys.stdin.read())]
            if len(secrets) != 2:
                raise TakeoverError("--compare reads two Secrets: the hand-made one, then the new one")
            said = compare([_spec(k).key for k in args.compare], secrets[0], secrets[1], args.stack)
            print("".join(f"{key}: {word}\n" for key, word in said.items()), end="")
            if "CHANGED" in said.values():
                _fail(
                    "a value CHANGED: nothing made by hand was deleted (docs/takeover.md, if a value changed)"
                )
            return
        chosen = [(name, getattr(args, name)) for name in HELPERS if getattr(args, name)]
        if chosen:
            (name, arg), stack = chosen[0], args.stack
            print(HELPERS[name](str(arg), sys.stdin.read(), stack), end="")
            return
        print(script(target(args.stack)), end="")
    except AbsentError as error:
        _fail(str(error), ABSENT)
    except (TakeoverError, UnreadableURLError, StackFileError) as error:
        _fail(str(error))
    except FileNotFoundError as error:
        stacks = ", ".join(sorted(p.name[7:-5] for p in Path().glob("Pulumi.*.yaml")))
        _fail(f"{error} (the stacks: {stacks})", 2)


if __name__ == "__main__":
    main()
