"""The test servers (tests/servers.py) come and go with the session: a machine without Debian's
packages is told in one line what to install, and no server outlives the tests, however they end.
(That the session starts its own servers when none run is what tests/test_server_rotation.py shows.)"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests import servers
from tests.paths import PROJECT_DIR


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize(
    ("on_path", "said"),
    [
        ((), "the tests need Debian's jq, postgresql and redis-server packages: "
             "run `apt-get install jq postgresql redis-server` as root"),
        (("jq", "redis-cli"), "the tests need Debian's postgresql and redis-server packages: "
                              "run `apt-get install postgresql redis-server` as root"),
        (("jq", "redis-server", "redis-cli", "initdb"), None),
    ],
)  # fmt: skip
def test_the_check_says_in_one_line_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], on_path: tuple[str, ...], said: str | None
) -> None:
    """`python3 -m tests.servers check` (what `make test` runs first) exits 1 with exactly one line
    naming the packages missing here and the apt-get command that installs them (redis-cli comes
    with redis-server), or says nothing when all are there; never dozens of failures later."""
    for name in on_path:
        executable(tmp_path / "bin" / name)
    code = servers.main(["check"], path=str(tmp_path / "bin"), pg_glob=str(tmp_path / "pg/*/bin/initdb"))
    out, err = capsys.readouterr()
    assert (code, out, err) == ((1, "", f"{said}\n") if said else (0, "", ""))


def test_a_test_that_needs_a_server_fails_saying_what_to_install(tmp_path: Path) -> None:
    """What the server fixtures fail with, without the servers' programs: the one line that names
    postgresql and redis-server (not the tests' other packages), which pytest.fail prints alone."""
    executable(tmp_path / "bin" / "jq")
    with pytest.raises(servers.ServerError) as failed:
        servers.server_programs(path=str(tmp_path / "bin"), pg_glob=str(tmp_path / "none/*/bin/initdb"))
    assert str(failed.value) == (
        "the tests need Debian's postgresql and redis-server packages: "
        "run `apt-get install postgresql redis-server` as root"
    )


def test_the_newest_installed_postgresql_is_used(tmp_path: Path) -> None:
    """Debian keeps one folder per major version, /usr/lib/postgresql/<major>/bin: with 9 and 15
    installed, 15's programs run (by number: as text, "9" would sort last)."""
    for major in ("9", "15"):
        executable(tmp_path / major / "bin" / "initdb")
    found = servers.pg_bindir(path=str(tmp_path / "empty"), pg_glob=str(tmp_path / "*/bin/initdb"))
    assert found == tmp_path / "15" / "bin"


def test_a_server_is_stopped_and_removed_however_the_session_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leaving `running` stops the server and removes its folder (credentials included), in a
    TMPDIR whose path holds a space, quotes and `$(...)` (redis reads its config file's values as
    it parses strings); and so does the death of the process that started it, even by SIGKILL,
    which runs no cleanup of its own (a crashed pytest-xdist worker, a CI timeout): its watchdog."""
    hostile = tmp_path / "a b'c\"$(d)"
    hostile.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(hostile))
    with servers.running(lambda root: (root, servers.start_redis(root / "redis"))) as (root, redis):
        pid = int((root / "redis" / "redis.pid").read_text())
        assert servers.running_pid(pid) and redis.port
    assert not servers.running_pid(pid) and not root.exists() and root.parent == hostile

    child = subprocess.Popen(
        [sys.executable, "-c", "import time\n"
         "from tests import servers\n"
         "with servers.running(lambda root: (root, servers.start_redis(root / 'redis'))) as (root, _):\n"
         "    print(root, flush=True)\n"
         "    time.sleep(60)\n"],
        cwd=PROJECT_DIR, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout
    root = Path(child.stdout.readline().strip())
    pid = int((root / "redis" / "redis.pid").read_text())
    child.send_signal(signal.SIGKILL)
    child.wait()
    for _ in range(100):
        if not root.exists():
            break
        time.sleep(0.05)
    assert not servers.running_pid(pid) and not root.exists()


def test_the_aws_emulator_goes_with_the_process_that_started_it() -> None:
    """The session's moto server (conftest's moto_endpoint) stops when its pytest process is
    SIGKILLed (a crashed xdist worker, a CI timeout), which runs no `finally`: none is left
    holding a port and memory on a developer's machine."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import time\n"
         "from tests.conftest import moto_endpoint\n"
         "endpoint = moto_endpoint.__wrapped__()\n"  # kept: a generator let go stops its server
         "print(next(endpoint), flush=True)\n"
         "time.sleep(60)\n"],
        cwd=PROJECT_DIR, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout
    port = child.stdout.readline().strip().rpartition(":")[2]
    (moto,) = [p for p in Path("/proc").glob("[0-9]*") if f"-p\0{port}".encode() in _cmdline(p)]
    child.send_signal(signal.SIGKILL)
    child.wait()
    for _ in range(100):
        if not servers.running_pid(int(moto.name)):
            break
        time.sleep(0.05)
    assert not servers.running_pid(int(moto.name))


def _cmdline(process: Path) -> bytes:
    try:
        return (process / "cmdline").read_bytes()
    except OSError:
        return b""
