"""Real PostgreSQL and Redis servers on loopback for the rotation tests, from Debian's packages.

`python3 -m tests.servers start DIR` starts a private PostgreSQL cluster (initdb, pg_ctl; as the
`postgres` user when run as root, since initdb refuses root) and a Redis with a config file and an
ACL file, on free loopback ports, with throwaway admin credentials generated now; it writes their
addresses and credentials to DIR/env as `export` lines. `stop DIR` stops both. `.ci/run` and
`make servers` use it; the tests read the variables (tests/server_env.py). Standard library only:
CI runs it with the system's python3 before any virtual environment exists.
"""

from __future__ import annotations

import glob
import hashlib
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

PG_SUPERUSER = "ai_etl_test_super"
REDIS_SUPERUSER = "ai_etl_test_super"
ENV_FILE = "env"
INSTALL_HINT = "apt-get install postgresql redis-server (as root; `.ci/run` does it on CI)"


class ServerError(Exception):
    """A server could not be started or stopped: the message says which and why."""


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bindir() -> Path:
    """Debian's PostgreSQL server programs (/usr/lib/postgresql/<major>/bin), newest major first."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not dirs:
        raise ServerError(f"PostgreSQL's initdb is not installed: {INSTALL_HINT}")
    return Path(dirs[-1]).parent


def _as_server_user(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: as root, run them as Debian's `postgres` user."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ServerError(f"{what} failed: {(done.stderr or done.stdout).strip()[-400:]}")


def start_postgres(root: Path) -> dict[str, str]:
    """A private cluster under root/pg, `log_statement=all`, password (SCRAM) auth everywhere."""
    bindir = pg_bindir()
    pg = root / "pg"
    pg.mkdir(parents=True)
    password = secrets.token_urlsafe(24)
    pwfile = pg / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if os.geteuid() == 0:
        root.chmod(0o755)
        shutil.chown(pg, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    data = pg / "data"
    port = free_port()
    _run(
        _as_server_user(
            [str(bindir / "initdb"), "-D", str(data), "-U", PG_SUPERUSER, f"--pwfile={pwfile}",
             "-A", "scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"]
        ),
        "initdb",
    )  # fmt: skip
    pwfile.unlink()
    options = " ".join(
        [f"-c port={port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={pg}",
         "-c log_statement=all", "-c max_connections=300", "-c fsync=off", "-c logging_collector=off"]
    )  # fmt: skip
    log = pg / "postgres.log"
    _run(
        _as_server_user(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", options, "start"]
        ),
        "pg_ctl start",
    )
    return {
        "AI_ETL_TEST_PG_HOST": "127.0.0.1",
        "AI_ETL_TEST_PG_PORT": str(port),
        "AI_ETL_TEST_PG_SUPERUSER": PG_SUPERUSER,
        "AI_ETL_TEST_PG_SUPERPASSWORD": password,
        "AI_ETL_TEST_PG_LOG": str(log),
        "AI_ETL_TEST_PG_VERSION": (data / "PG_VERSION").read_text().strip(),
    }


def stop_postgres(root: Path) -> None:
    data = root / "pg" / "data"
    if (data / "postmaster.pid").exists():
        _run(_as_server_user([str(pg_bindir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
             "pg_ctl stop")  # fmt: skip


def _redis_cli(port: int, *args: str, stdin: str | None = None, user: str = "", password: str = "") -> str:
    env = dict(os.environ, REDISCLI_AUTH=password) if password else dict(os.environ)
    auth = ["--user", user] if user else []
    done = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *auth, *args],
        input=stdin, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    return (done.stdout + done.stderr).strip()


def start_redis(directory: Path, *, aclfile: bool = True, config_file: bool = True) -> dict[str, str]:
    """A Redis under `directory` on a free port, its default user off and an admin user with a
    throwaway password. With `aclfile`, users live in an ACL file; with `config_file` (and no ACL
    file), in the config file; with neither, only in memory."""
    if not shutil.which("redis-server"):
        raise ServerError(f"redis-server is not installed: {INSTALL_HINT}")
    directory.mkdir(parents=True)
    port = free_port()
    password = secrets.token_urlsafe(24)
    settings = {
        "port": str(port),
        "bind": "127.0.0.1",
        "daemonize": "yes",
        "pidfile": str(directory / "redis.pid"),
        "logfile": str(directory / "redis.log"),
        "dir": str(directory),
        "save": '""',
        "appendonly": "no",
    }
    digest = hashlib.sha256(password.encode()).hexdigest()
    if aclfile:
        # The admin is in the file from the start (a throwaway hash, in a private directory).
        acl = directory / "users.acl"
        acl.write_text(f"user default off\nuser {REDIS_SUPERUSER} on #{digest} ~* &* +@all\n")
        acl.chmod(0o600)
        settings["aclfile"] = str(acl)
    if config_file:
        conf = directory / "redis.conf"
        conf.write_text("".join(f"{k} {v}\n" for k, v in settings.items()))
        cmd = ["redis-server", str(conf)]
    else:
        cmd = ["redis-server", *(a for k, v in settings.items() for a in (f"--{k}", v.strip('"')))]
    _run(cmd, "redis-server")
    for _ in range(100):
        if _redis_cli(port, "PING") in ("PONG", "NOAUTH Authentication required."):
            break
        time.sleep(0.05)
    else:
        raise ServerError(f"redis-server on port {port} does not answer: see {directory / 'redis.log'}")
    if not aclfile:
        # The default user (no password) makes the admin, the hash on stdin (`-x`) as the step
        # does, then goes off.
        reply = _redis_cli(
            port, "-x", "ACL", "SETUSER", REDIS_SUPERUSER, "on", "~*", "&*", "+@all", stdin=f"#{digest}"
        )
        if reply != "OK":
            raise ServerError(f"redis: creating the admin user failed: {reply}")
        reply = _redis_cli(port, "ACL", "SETUSER", "default", "off")
        if reply != "OK":
            raise ServerError(f"redis: turning the default user off failed: {reply}")
    if _redis_cli(port, "ACL", "WHOAMI", user=REDIS_SUPERUSER, password=password) != REDIS_SUPERUSER:
        raise ServerError("redis: the admin user cannot log in")
    return {
        "AI_ETL_TEST_REDIS_HOST": "127.0.0.1",
        "AI_ETL_TEST_REDIS_PORT": str(port),
        "AI_ETL_TEST_REDIS_SUPERUSER": REDIS_SUPERUSER,
        "AI_ETL_TEST_REDIS_SUPERPASSWORD": password,
        "AI_ETL_TEST_REDIS_VERSION": _redis_cli(port, "--version"),
    }


def stop_redis(directory: Path) -> None:
    pidfile = directory / "redis.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text().strip())
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def start(root: Path) -> dict[str, str]:
    """Both servers under root; root/env holds their `export` lines."""
    root.mkdir(parents=True, exist_ok=True)
    if (root / ENV_FILE).exists():
        raise ServerError(
            f"{root} already holds running servers: stop them first "
            f"(`make servers-stop`, or `python3 -m tests.servers stop {shlex.quote(str(root))}`)"
        )
    env: dict[str, str] = {}
    try:
        env |= start_postgres(root)
        env |= start_redis(root / "redis")
    except BaseException:
        stop(root)
        raise
    text = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    env_file = root / ENV_FILE
    env_file.write_text(text)
    env_file.chmod(0o600)
    return env


def stop(root: Path) -> None:
    """Stop what `start(root)` started (either may be missing) and remove its data and credentials."""
    errors = []
    for stopper, where in ((stop_postgres, root), (stop_redis, root / "redis")):
        try:
            stopper(where)
        except ServerError as error:
            errors.append(str(error))
    (root / ENV_FILE).unlink(missing_ok=True)
    if not errors:
        shutil.rmtree(root / "pg", ignore_errors=True)
        shutil.rmtree(root / "redis", ignore_errors=True)
    if errors:
        raise ServerError("; ".join(errors))


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python3 -m tests.servers start|stop DIR", file=sys.stderr)
        return 2
    root = Path(argv[1]).resolve()
    try:
        if argv[0] == "start":
            start(root)
            print(f"test servers: started; their addresses and credentials are in {root / ENV_FILE}")
        else:
            stop(root)
            print(f"test servers: stopped ({root})")
    except ServerError as error:
        print(f"test servers: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
