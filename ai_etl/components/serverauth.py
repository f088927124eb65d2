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
environment contract). It imports no Pulumi and no config: the step script and the tests against
real servers use it as they are.
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
    # Redis (redis-cli reads REDISCLI_AUTH itself)
    redis_host: str = "REDIS_HOST"
    redis_port: str = "REDIS_PORT"
    redis_admin_user: str = "REDIS_ADMIN_USER"
    redis_admin_password: str = "REDISCLI_AUTH"  # secret
    redis_users: tuple[str, str] = ("REDIS_BLUE_USER", "REDIS_GREEN_USER")
    redis_hashes: tuple[str, str] = ("REDIS_BLUE_HASH", "REDIS_GREEN_HASH")  # secret


STEP_ENV = StepEnv()


# --- PLACEHOLDER (issue 16 part B) ---------------------------------------------------------------
# Part A (branch i16-servers) writes the step scripts here, under these two names, and tests them
# against real PostgreSQL and Redis servers. Until that branch is merged, these stand-ins let the
# program render its Jobs; each fails at once if it were ever run. At the merge, keep part A's
# definitions and delete this block.
POSTGRES_STEP = "echo 'placeholder: the Postgres step script is part A of issue 16' >&2; exit 1\n"
REDIS_STEP = "echo 'placeholder: the Redis step script is part A of issue 16' >&2; exit 1\n"
