"""Where the real test servers are (tests/servers.py started them): the environment's
AI_ETL_TEST_* variables (`.ci/run` exports them), else the file `make servers` wrote.

No servers is a test failure with the one-line fix, never a skip: a rotation untested against a
real server is not tested."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from tests.paths import PROJECT_DIR

SERVERS_DIR = PROJECT_DIR / "build" / "servers"
"""Where `make servers` starts them (the Makefile says the same path)."""
NO_SERVERS = (
    "no test PostgreSQL/Redis: run `make servers` (Debian's postgresql and redis-server packages), "
    "then the tests again; `make servers-stop` stops them"
)


class NoServersError(Exception):
    """The rotation tests have no servers to run against: the message says how to start them."""


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    superuser: str
    superpassword: str
    log: Path
    version: str


@dataclass(frozen=True)
class Redis:
    host: str
    port: int
    superuser: str
    superpassword: str
    version: str


def _read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            key, value = words[1].split("=", 1)
            values[key] = value
    return values


def _values() -> dict[str, str]:
    if "AI_ETL_TEST_PG_PORT" in os.environ:
        return dict(os.environ)
    env_file = SERVERS_DIR / "env"
    if env_file.is_file():
        return _read_env_file(env_file)
    raise NoServersError(NO_SERVERS)


def postgres() -> Postgres:
    v = _values()
    return Postgres(
        host=v["AI_ETL_TEST_PG_HOST"],
        port=int(v["AI_ETL_TEST_PG_PORT"]),
        superuser=v["AI_ETL_TEST_PG_SUPERUSER"],
        superpassword=v["AI_ETL_TEST_PG_SUPERPASSWORD"],
        log=Path(v["AI_ETL_TEST_PG_LOG"]),
        version=v["AI_ETL_TEST_PG_VERSION"],
    )


def redis() -> Redis:
    v = _values()
    return Redis(
        host=v["AI_ETL_TEST_REDIS_HOST"],
        port=int(v["AI_ETL_TEST_REDIS_PORT"]),
        superuser=v["AI_ETL_TEST_REDIS_SUPERUSER"],
        superpassword=v["AI_ETL_TEST_REDIS_SUPERPASSWORD"],
        version=v["AI_ETL_TEST_REDIS_VERSION"],
    )
