"""Server credentials (Postgres, Redis) rotated without a window: the pure half.

Two login roles (Postgres) or ACL users (Redis) per server credential, `<base>_blue` and
`<base>_green`. Generation `g` of a server credential (its integer rotation value in stack config;
absent = 0) is served by role `ROLES[g % 2]`. Each role has its own password, whose keeper is the
latest generation that role served; so a bump from g to g+1 changes the password of the role that
no running pod uses, and leaves the other role (the one old pods hold) untouched until g+2.

The rotation step (a Kubernetes Job the program declares, one per generation) sets both roles'
*verifiers*, never a password: Postgres gets a SCRAM-SHA-256 verifier in `PASSWORD '...'`, Redis gets
`#<sha256 hex>`. With a stable salt per role generation, running the step again changes nothing.

This module holds what both halves share (names, generation arithmetic, verifiers, the step's
environment contract, and the step scripts themselves). It imports no Pulumi and no config: the Job
runs `step_command(...)` as it is, and tests/test_server_rotation.py runs the same text with bash
against real servers.

Redis: alternate ACL users, not one user with two passwords. Redis can hold several passwords per
user (`ACL SETUSER u >a >b`), but then the old one must come off once the Deployment has rolled: a
second step that Pulumi would have to run *after* the rollout, and that a failed rollout must not
run. With two users the step is the same one as Postgres's, runs once before the rollout, and the
password a running pod holds is never touched by the rotation that replaces the pod: it changes two
rotations later, when no pod of that generation is left.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

COLOURS = ("blue", "green")
"""Index 0 serves even generations, index 1 odd ones."""

SCRAM_ITERATIONS = 4096
"""PostgreSQL's default (src/include/common/scram-common.h, SCRAM_SHA_256_DEFAULT_ITERATIONS)."""
SALT_BYTES = 16
"""PostgreSQL's default salt length (SCRAM_DEFAULT_SALT_LEN)."""


def login_roles(base: str) -> tuple[str, str]:
    """The two login roles (or Redis ACL users) of a server credential whose group role is `base`."""
    return (f"{base}_{COLOURS[0]}", f"{base}_{COLOURS[1]}")


def active_index(generation: int) -> int:
    """Which of `login_roles` serves generation `generation`."""
    return generation % 2


def role_generation(generation: int, index: int) -> int:
    """The generation whose password role `index` holds while `generation` is current: the latest
    generation <= `generation` that role served. Role 1 at generation 0 holds a password of its own
    (generation -1: made with the first deploy, used by nobody until generation 1 replaces it)."""
    return generation if generation % 2 == index else generation - 1


def scram_sha256_verifier(password: str, salt: bytes, iterations: int = SCRAM_ITERATIONS) -> str:
    """The verifier PostgreSQL stores for `password` (src/common/scram-common.c,
    scram_build_secret): `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64.
    Accepted as is by `CREATE/ALTER ROLE ... PASSWORD '<verifier>'` (the server stores it without
    hashing again). The password must be ASCII (SASLprep leaves ASCII unchanged; generated
    passwords are)."""
    if not password.isascii():
        raise ValueError("SCRAM verifier: the password must be ASCII")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def redis_acl_hash(password: str) -> str:
    """What `ACL SETUSER <user> #<hash>` takes: the SHA-256 of the password, 64 lowercase hex."""
    return hashlib.sha256(password.encode()).hexdigest()


@dataclass(frozen=True)
class StepEnv:
    """The rotation step's environment: the names the step script reads. Values marked secret come
    from the step's own Kubernetes Secret (its ExternalSecret) by secretKeyRef; the rest are plain."""

    # Postgres (libpq reads PG* itself: nothing reaches a command line)
    pg_host: str = "PGHOST"
    pg_port: str = "PGPORT"
    pg_database: str = "PGDATABASE"
    pg_admin_user: str = "PGUSER"
    pg_admin_password: str = "PGPASSWORD"  # secret
    pg_group: str = "PG_GROUP_ROLE"
    pg_roles: tuple[str, str] = ("PG_BLUE_ROLE", "PG_GREEN_ROLE")
    pg_verifiers: tuple[str, str] = ("PG_BLUE_VERIFIER", "PG_GREEN_VERIFIER")  # secret
    # An AWS-managed server only (libpq reads these itself: PostgreSQL docs, libpq-envars)
    pg_sslmode: str = "PGSSLMODE"
    pg_sslrootcert: str = "PGSSLROOTCERT"
    # Redis (redis-cli reads REDISCLI_AUTH itself)
    redis_host: str = "REDIS_HOST"
    redis_port: str = "REDIS_PORT"
    redis_admin_user: str = "REDIS_ADMIN_USER"
    redis_admin_password: str = "REDISCLI_AUTH"  # secret
    redis_users: tuple[str, str] = ("REDIS_BLUE_USER", "REDIS_GREEN_USER")
    redis_hashes: tuple[str, str] = ("REDIS_BLUE_HASH", "REDIS_GREEN_HASH")  # secret


STEP_ENV = StepEnv()
VERIFY_FULL = "verify-full"
"""libpq's sslmode for an AWS-managed server: TLS, a certificate chaining to PGSSLROOTCERT, naming
PGHOST (postgres/postgres src/interfaces/libpq/fe-secure-common.c,
pq_verify_peer_name_matches_certificate_name, called from fe-secure-openssl.c for verify-full)."""


POSTGRES_ADMIN_ATTRIBUTES = "LOGIN CREATEROLE"
"""What the Postgres step's admin role needs, and no SUPERUSER. PostgreSQL 15: CREATEROLE may
create and alter any non-superuser role and grant membership in it (postgres/postgres
doc/src/sgml/ref/create_role.sgml, REL_15). From 16 it may alter a role, set its password or add
members to it only with ADMIN OPTION on that role (src/backend/commands/user.c, AlterRole /
AddRoleMems: "Only roles with the CREATEROLE attribute and the ADMIN option on role ..."), and a
non-superuser CREATEROLE role is granted ADMIN OPTION on each role it creates (commit cf5eb37c5,
"Restrict the privileges of CREATEROLE users", PostgreSQL 16; the same since, tested on 18). So from
16 a first deploy by this admin needs nothing more, but a group role it did not create (a takeover's
hand-made user) needs, once, `GRANT <group> TO <admin> WITH ADMIN TRUE, INHERIT FALSE, SET FALSE`
(administer it, not use its data), from a superuser or a holder of ADMIN OPTION on it (RDS's master
user, the previous admin); likewise for login roles made by someone else (ai_etl/ops/takeover.py,
database_sql, prints it).
The step also needs CONNECT and TEMPORARY on its database (PUBLIC has both by default): its input
goes through a temporary table (see the script)."""

REDIS_ADMIN_RULES = ("+acl|whoami", "+acl|setuser", "+acl|save", "+config|get", "+config|rewrite")
"""All the Redis step's admin user needs (`ACL SETUSER <admin> on >... resetchannels -@all` then
these; redis/redis src/acl.c: `+<command>|<subcommand>` rules): who am I, set the two users, and
persist them (CONFIG GET aclfile, then ACL SAVE or CONFIG REWRITE). ACL SETUSER can make any user,
so this admin is as powerful as CREATEROLE: the step alone reads it."""


# --- The rotation step: the Job's container runs `bash -c POSTGRES_STEP` (or REDIS_STEP) ----------
#
# Both scripts share these rules: `set -euo pipefail`; every input comes from STEP_ENV's variables
# (the prelude below copies them to lower-case shell variables, so the names live in one place);
# names and verifiers are checked against a strict pattern before use; no secret reaches a command
# line (argv is visible in /proc and in `ps`): secrets travel in the environment (PGPASSWORD,
# REDISCLI_AUTH) or on a client's stdin, written by bash's `printf` builtin, which runs no process.
# Output says what was done and, on failure, what failed and how to retry; it never holds a secret.

_STEP_COMMON = r"""
set -euo pipefail
state="nothing was changed"
fail() {
    printf 'rotation step (%s): %s\n' "$where" "$1" >&2
    printf 'rotation step (%s): %s; fix it, then run `pulumi up` again.\n' "$where" "$state" >&2
    exit 1
}
need() {
    local name
    for name in "$@"; do
        [[ -n "${!name:-}" ]] || fail "the environment variable $name is empty (the step's Job sets it)"
    done
}
"""

_POSTGRES_BODY = r"""
where="Postgres ${PGHOST:-?}:${PGPORT:-5432}"
need "${pg_libpq[@]}" "${pg_names[@]}" "${pg_secrets[@]}"
name_re='^[a-z_][a-z0-9_]{0,62}$'
verifier_re='^SCRAM-SHA-256[$][0-9]+:[A-Za-z0-9+/]+=*[$][A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*$'
for name in "${pg_names[@]}"; do
    [[ ${!name} =~ $name_re ]] || fail "$name is not a plain role name (a-z, 0-9, _; 63 at most)"
done
for name in "${pg_secrets[@]}"; do
    [[ ${!name} =~ $verifier_re ]] || fail "$name is not a SCRAM-SHA-256 verifier"
done
# An AWS-managed server: libpq itself requires TLS and checks the certificate against the bundle
# and the host name (PGSSLMODE=verify-full); the script only makes sure the bundle is there.
if [[ -n ${PGSSLROOTCERT:-} ]]; then
    [[ ${PGSSLMODE:-} == verify-full ]] || fail "PGSSLMODE must be verify-full beside a CA bundle, got '${PGSSLMODE:-}'"
    [[ -r $PGSSLROOTCERT ]] || fail "the CA bundle $PGSSLROOTCERT cannot be read (the step's rds-ca volume)"
fi
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}" PGAPPNAME=ai-etl-rotation-step

# The names and verifiers reach the server as COPY data, which log_statement does not log (only the
# statement text a client sends is: postgres/postgres src/backend/tcop/postgres.c, exec_simple_query
# -> check_log_statement); the DO block reads them back and runs CREATE/ALTER ROLE through PL/pgSQL's
# EXECUTE, whose statements are not top-level client statements and are not logged either. An error
# there is re-raised without the statement (which holds a verifier) in its CONTEXT. One transaction:
# a failure changes nothing.
emit() {  # cat, with bash alone: the image needs bash and psql, nothing else
    local text
    IFS= read -r -d '' text || true
    printf '%s' "$text"
}
script() {
    emit <<'SQL'
-- INFO (the step's own lines) always reaches the client; the server's NOTICEs (such as ALTER ROLE
-- SET role's check, made as the admin, which need not be a member) would only confuse the output.
SET client_min_messages = warning;
SET lock_timeout = '10s';
SET statement_timeout = '60s';
BEGIN;
CREATE TEMPORARY TABLE ai_etl_step (kind text NOT NULL, name text NOT NULL, verifier text) ON COMMIT DROP;
COPY ai_etl_step FROM STDIN;
SQL
    printf 'group\t%s\t\\N\n' "$pg_group"
    printf 'login\t%s\t%s\n' "$pg_blue_role" "$pg_blue_verifier" "$pg_green_role" "$pg_green_verifier"
    emit <<'SQL'
\.
DO $step$
DECLARE
    grp text := (SELECT name FROM ai_etl_step WHERE kind = 'group');
    r record;
    failed text;
    why text;
    tip text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = grp) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', grp);
        RAISE INFO 'created the group role % (NOLOGIN)', grp;
    ELSIF (SELECT rolcanlogin FROM pg_roles WHERE rolname = grp) THEN
        -- A hand-made install being taken over: its single user becomes the group. Its LOGIN and
        -- password stay, so pods still using it keep connecting; docs/takeover.md says when to
        -- remove them (ALTER ROLE ... NOLOGIN PASSWORD NULL, once no pod uses it).
        RAISE INFO 'role % can still log in (a hand-made install''s user): left as it is', grp;
    END IF;
    -- PostgreSQL 15 took CREATE on schema public away from PUBLIC (the schema now belongs to
    -- pg_database_owner): the group gets it from an admin that may grant it (the database's owner,
    -- as RDS's master user is of its first database, or a superuser); otherwise the step says what
    -- to run, and goes on (the backend may keep its tables in a schema of its own).
    IF to_regnamespace('public') IS NOT NULL AND NOT has_schema_privilege(grp, 'public', 'CREATE') THEN
        IF has_schema_privilege(current_user, 'public', 'CREATE WITH GRANT OPTION') THEN
            EXECUTE format('GRANT CREATE ON SCHEMA public TO %I', grp);
            RAISE INFO 'granted % CREATE on schema public', grp;
        ELSE
            RAISE WARNING 'role % may not create tables in schema public of database % (PostgreSQL 15 and newer no longer let every role), and the admin % may not grant it', grp, current_database(), current_user
                USING HINT = format('as the database''s owner or a superuser, connected to database %I, run: GRANT CREATE ON SCHEMA public TO %I;', current_database(), grp);
        END IF;
    END IF;
    FOR r IN SELECT name, verifier FROM ai_etl_step WHERE kind = 'login' ORDER BY name LOOP
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r.name) THEN
                EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', r.name, r.verifier);
                RAISE INFO 'created the login role %', r.name;
            ELSE
                EXECUTE format('ALTER ROLE %I LOGIN PASSWORD %L', r.name, r.verifier);
                RAISE INFO 'set the password verifier of role %', r.name;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            -- PostgreSQL's DETAIL and HINT say why (from 16: whose ADMIN OPTION is missing); they
            -- hold no statement text. RAISE takes no empty option, hence the branches.
            GET STACKED DIAGNOSTICS why = PG_EXCEPTION_DETAIL, tip = PG_EXCEPTION_HINT;
            failed := format('setting the login role %s failed: %s', r.name, SQLERRM);
            IF why <> '' AND tip <> '' THEN
                RAISE EXCEPTION '%', failed USING ERRCODE = SQLSTATE, DETAIL = why, HINT = tip;
            ELSIF why <> '' THEN
                RAISE EXCEPTION '%', failed USING ERRCODE = SQLSTATE, DETAIL = why;
            ELSIF tip <> '' THEN
                RAISE EXCEPTION '%', failed USING ERRCODE = SQLSTATE, HINT = tip;
            END IF;
            RAISE EXCEPTION '%', failed USING ERRCODE = SQLSTATE;
        END;
        IF NOT EXISTS (
            SELECT FROM pg_auth_members m
            JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
            WHERE g.rolname = grp AND u.rolname = r.name
        ) THEN
            EXECUTE format('GRANT %I TO %I', grp, r.name);
            RAISE INFO 'granted % to %', grp, r.name;
        END IF;
        -- Sessions of the login role run as the group, so what they create belongs to the group
        -- whichever login role is active.
        IF NOT EXISTS (
            SELECT FROM pg_roles WHERE rolname = r.name AND ('role=' || grp) = ANY (rolconfig)
        ) THEN
            EXECUTE format('ALTER ROLE %I SET role = %L', r.name, grp);
            RAISE INFO 'sessions of % now run as %', r.name, grp;
        END IF;
    END LOOP;
END
$step$;
COMMIT;
SQL
}

if ! out=$(script | psql -X -q -w -v ON_ERROR_STOP=1 2>&1); then
    printf '%s\n' "$out" >&2
    case $out in
        *"certificate verify failed"* | *"does not match host name"* | *"root certificate file"* | *"server does not support SSL"*)
            fail "the server's TLS certificate was not verified (sslmode=${PGSSLMODE:-}, CA bundle ${PGSSLROOTCERT:-none}): database.host must be the endpoint itself and the bundle AWS's (docs/configuration.md)" ;;
        *"password authentication failed"* | *"no password supplied"* | *FATAL*"role"*"does not exist"*)
            fail "the server refused the admin credential (user $PGUSER): correct the admin secret" ;;
        *"could not connect"* | *"Connection refused"* | *"timeout expired"* | *"could not translate host name"* | *"No route to host"*)
            fail "the server is unreachable: check that it runs, its address (database.host/port) and the step's network policy" ;;
        *"permission denied"* | *"must have"* | *"must be superuser"* | *"privilege"*)
            fail "the admin role $PGUSER lacks a privilege the step needs (CREATEROLE, and ADMIN OPTION on the roles from PostgreSQL 16): see docs/runbooks.md" ;;
        *)
            fail "psql failed (its message is above)" ;;
    esac
fi
[[ -z $out ]] || printf '%s\n' "$out"
printf 'rotation step (%s): roles %s and %s (members of %s) hold their current verifiers\n' \
    "$where" "$pg_blue_role" "$pg_green_role" "$pg_group"
"""

_REDIS_BODY = r"""
redis_port=${redis_port:-6379}
where="Redis ${redis_host:-?}:$redis_port"
need "${redis_plain[@]}" "${redis_names[@]}" "${redis_secrets[@]}"
name_re='^[A-Za-z0-9_.-]{1,64}$'
hash_re='^[0-9a-f]{64}$'
for name in "${redis_names[@]}"; do
    [[ ${!name} =~ $name_re ]] || fail "$name is not a plain user name (A-Z, a-z, 0-9, _ . -)"
done
for name in "${redis_secrets[@]}"; do
    [[ ${!name} =~ $hash_re ]] || fail "$name is not a SHA-256 in lower-case hex"
done

# redis-cli reads the admin password from REDISCLI_AUTH (redis/redis src/redis-cli.c); `-x` makes
# stdin the command's last argument, so the `#<hash>` never is on a command line. Each reply is
# checked: redis-cli exits 0 on an error reply. A refused AUTH is told by what redis-cli prints, not
# by its exit status, which differs by version (redis/redis src/redis-cli.c, cliAuth and main):
# 6.0 to 6.2.5 print "Warning: AUTH failed" and go on as the default user (exit 0); 6.2.6 and later
# 6.2 print "AUTH failed: <the server's error>" and exit 1 before sending the command; 7.0 and later
# print the same and go on unauthenticated (exit 0; Debian 12 ships 7.0).
cli() { redis-cli -h "$redis_host" -p "$redis_port" --user "$redis_admin_user" "$@" 2>&1; }
status=0
out=$(cli ACL WHOAMI) || status=$?
case $out in
    *"AUTH failed"*) fail "the server refused the admin credential (user $redis_admin_user): correct the admin secret" ;;
esac
if [[ $status != 0 ]]; then
    fail "the server is unreachable ($out): check that it runs, its address (redis.host/port) and the step's network policy"
fi
if [[ $out != "$redis_admin_user" ]]; then
    case $out in
        *NOPERM*) fail "the admin user $redis_admin_user may not run ACL WHOAMI: see docs/runbooks.md for its ACL" ;;
        *) fail "the server refused the admin credential (user $redis_admin_user): correct the admin secret" ;;
    esac
fi

# The step sets only the two users. The default user (a hand-made install's `requirepass`) is left
# as it is, so pods still using it keep working; docs/takeover.md says when to turn it off.
setuser() {
    # On, only the given password, every key and channel, every command: what the single
    # requirepass gave the backend before (redis/redis src/acl.c, ACLSetUser: resetpass, #<hash>).
    local reply
    reply=$(printf '#%s' "$2" | cli -x ACL SETUSER "$1" on resetpass '~*' '&*' '+@all')
    [[ $reply == OK ]] || fail "ACL SETUSER $1 failed: $reply"
}
setuser "$redis_blue_user" "$redis_blue_hash"
setuser "$redis_green_user" "$redis_green_hash"
state="the users are set on the running server but not saved"
printf 'rotation step (%s): users %s and %s hold their current passwords\n' "$where" "$redis_blue_user" "$redis_green_user"

# Persist (redis/redis src/acl.c: ACL SAVE needs an aclfile; src/config.c: CONFIG REWRITE needs a
# config file, and writes the users there only when there is no aclfile).
reply=$(cli CONFIG GET aclfile)
[[ $reply == aclfile* ]] || fail "CONFIG GET aclfile failed: $reply"
aclfile=${reply#aclfile}
aclfile=${aclfile#$'\n'}
if [[ -n $aclfile ]]; then
    reply=$(cli ACL SAVE)
    [[ $reply == OK ]] || fail "ACL SAVE failed: $reply"
    printf 'rotation step (%s): saved to the ACL file (ACL SAVE)\n' "$where"
else
    reply=$(cli CONFIG REWRITE)
    case $reply in
        OK) printf 'rotation step (%s): saved to the config file (CONFIG REWRITE)\n' "$where" ;;
        *"without a config file"*)
            printf 'rotation step (%s): WARNING: this Redis has neither an ACL file nor a config file, so users %s and %s live in memory only and a restart loses them; start Redis with an aclfile (or a config file), or run this step again after every restart (docs/runbooks.md)\n' \
                "$where" "$redis_blue_user" "$redis_green_user" >&2 ;;
        *) fail "CONFIG REWRITE failed: $reply" ;;
    esac
fi
"""


def _prelude(pairs: dict[str, str], arrays: dict[str, tuple[str, ...]]) -> str:
    """Shell lines that copy STEP_ENV's variables into the script's own names, so the environment
    names are written in one place (StepEnv) and the bodies read only lower-case variables."""
    lines = [f'{var}="${{{env}:-}}"' for var, env in pairs.items()]
    lines += [f"{var}=({' '.join(names)})" for var, names in arrays.items()]
    return "\n".join(lines) + "\n"


def _postgres_step(env: StepEnv) -> str:
    prelude = _prelude(
        {
            "pg_group": env.pg_group,
            "pg_blue_role": env.pg_roles[0],
            "pg_green_role": env.pg_roles[1],
            "pg_blue_verifier": env.pg_verifiers[0],
            "pg_green_verifier": env.pg_verifiers[1],
        },
        {
            # libpq reads these itself (PostgreSQL docs, libpq-envars): the script only checks them.
            "pg_libpq": (env.pg_host, env.pg_database, env.pg_admin_user, env.pg_admin_password),
            "pg_names": (env.pg_group, *env.pg_roles),
            "pg_secrets": env.pg_verifiers,
        },
    )
    return _STEP_COMMON + prelude + _POSTGRES_BODY


def _redis_step(env: StepEnv) -> str:
    prelude = _prelude(
        {
            "redis_host": env.redis_host,
            "redis_port": env.redis_port,
            "redis_admin_user": env.redis_admin_user,
            "redis_blue_user": env.redis_users[0],
            "redis_green_user": env.redis_users[1],
            "redis_blue_hash": env.redis_hashes[0],
            "redis_green_hash": env.redis_hashes[1],
        },
        {
            # redis-cli reads REDISCLI_AUTH itself (redis/redis src/redis-cli.c)
            "redis_plain": (env.redis_host, env.redis_admin_password),
            "redis_names": (env.redis_admin_user, *env.redis_users),
            "redis_secrets": env.redis_hashes,
        },
    )
    return _STEP_COMMON + prelude + _REDIS_BODY


POSTGRES_STEP = _postgres_step(STEP_ENV)
"""The Postgres rotation step, a bash script, run as `bash -c POSTGRES_STEP` with STEP_ENV's Postgres
variables: needs bash and psql."""
REDIS_STEP = _redis_step(STEP_ENV)
"""The Redis rotation step, a bash script, run as `bash -c REDIS_STEP` with STEP_ENV's Redis variables:
needs bash and redis-cli; the server 6.2 or newer (`&*`)."""
