"""The gate a contributor lives in, as a new machine meets it: `make test` says first what the machine
lacks, CI's `.ci/run` installs that and runs README's test command, and the long targets say what
they are doing before the silence of a quiet pip install."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests import servers
from tests.helpers import copy_project
from tests.paths import PROJECT_DIR

MAKE = shutil.which("make") or "make"


def bin_with(folder: Path, programs: dict[str, str]) -> Path:
    """A PATH folder holding `programs`: a name and the shell text it runs (or `->path`, a link)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in programs.items():
        if text.startswith("->"):
            (folder / name).symlink_to(text[2:])
        else:
            (folder / name).write_text(f"#!/bin/sh\n{text}\n")
            (folder / name).chmod(0o755)
    return folder


def which(name: str) -> str:
    """A link to `name` as installed; python3 is this interpreter's own (no pyenv shim, which needs
    more than the PATH under test holds): the check it runs is standard library only."""
    found = os.path.realpath(sys.executable) if name == "python3" else shutil.which(name)
    assert found, f"{name} is not installed"
    return f"->{found}"


def outside_make() -> dict[str, str]:
    """This environment as a shell has it, not as a `make` that runs pytest hands it down (its
    MAKEFLAGS and MAKELEVEL would make the inner make another's sub-make, `make[1]`)."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def test_make_test_first_says_in_one_line_what_to_install(tmp_path: Path) -> None:
    """On a machine without jq and Redis, `make test` stops before the lint, the environments and
    pytest, with the check's one line and a non-zero exit, not dozens of failed tests later."""
    path = bin_with(tmp_path / "bin", {"python3": which("python3")})
    # Were the check gone, what follows would run in tmp_path and stop at once (PY=false).
    fenced = [f"VENV={tmp_path / 'venv'}", f"TOOLS={tmp_path / 'tools'}", "PY=false"]
    done = subprocess.run(
        [MAKE, "--no-print-directory", "test", *fenced],
        cwd=PROJECT_DIR,
        env={**outside_make(), "PATH": str(path)},
        capture_output=True,
        text=True,
        check=False,
    )
    missing = servers.missing_packages(path=str(path))
    assert {"jq", "redis-server"} <= set(missing)
    assert done.returncode != 0
    assert done.stdout == ""
    said = [line for line in done.stderr.splitlines() if not line.startswith("make: ***")]
    assert said == [servers.install_hint(missing)]


def test_ci_installs_what_the_tests_need_then_runs_make_test(tmp_path: Path) -> None:
    """`.ci/run` on a machine lacking the packages installs them all, then runs `make test` and
    nothing else (it starts no server: the tests do); on a machine with them it installs nothing."""
    log = tmp_path / "ran"
    record = f'echo "${{0##*/}} $*" >> {log}'
    stubs = bin_with(tmp_path / "stubs", {"apt-get": record, "make": record})
    tools = {name: which(name) for name in ("bash", "python3", "dirname")}
    bare = bin_with(tmp_path / "bare", tools)
    for path in (f"{stubs}:{bare}", f"{stubs}:{os.environ['PATH']}"):
        log.write_text("")
        env = {**outside_make(), "PATH": path}
        done = subprocess.run(
            [str(PROJECT_DIR / ".ci" / "run")], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        ran = log.read_text().splitlines()
        if path.endswith(str(bare)):
            assert ran[:-1] == [
                "apt-get update -q",
                "apt-get install -y -q --no-install-recommends jq postgresql redis-server",
            ]
        else:
            assert ran[:-1] == []
        assert ran[-1] == "make test"


def test_the_long_targets_say_what_they_do_before_they_do_it(tmp_path: Path) -> None:
    """`make setup tools policy-venv` on a new machine: each says what it installs, and where,
    before its quiet pip install (half a minute and more of silence otherwise). Run for real in a
    copy, with python stubbed (`true`) so nothing is installed."""
    project = copy_project(tmp_path / "project")
    for folder in (tmp_path / "venv", tmp_path / "tools", project / "policy" / "venv"):
        folder.mkdir()  # what the stubbed `python -m venv` would make
    done = subprocess.run(
        [MAKE, "--no-print-directory", "setup", "tools", "policy-venv", "PYTHON=true", "PY=true",
         f"VENV={tmp_path / 'venv'}", f"TOOLS={tmp_path / 'tools'}"],
        cwd=project, env=outside_make(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    for target, where, installs in (
        ("setup", tmp_path / "venv", "-r requirements-dev.txt"),
        ("tools", tmp_path / "tools", "-r requirements-tools.lock"),
        ("policy-venv", "policy/venv", "-r policy/requirements.txt"),
    ):
        (said,) = [i for i, line in enumerate(lines) if line.startswith(f"{target}: ") and "install" in line]
        (ran,) = [i for i, line in enumerate(lines) if line.endswith(installs)]
        assert said < ran and f" into {where}" in lines[said], lines


@pytest.mark.slow
@pytest.mark.heavy  # some 20 s of pip
def test_every_pin_installs_on_the_oldest_python_the_readme_allows() -> None:
    """README's prerequisite is Python 3.11+ (pyproject's requires-python), and Debian 12's python3 is
    3.11.2: a pin that needs a later Python (soupsieve 3.0 and later need 3.11.5) stops `make tools`
    there with pip's "No matching distribution". Each lock the Makefile installs is resolved by pip
    for the oldest Python allowed, from the index the install would use."""
    floor = re.fullmatch(
        r">=(\d+\.\d+)",
        tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["requires-python"],
    )
    assert floor, "requires-python is a single floor"
    assert f"Python {floor[1]}+" in (PROJECT_DIR / "README.md").read_text()
    locks = re.findall(r"install \$\(PIP_FLAGS\) -r (\S+)", (PROJECT_DIR / "Makefile").read_text())
    assert len(locks) == 3, locks
    for lock in locks:
        pip = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--quiet",
            "--no-deps",
            "--ignore-installed",
        ]
        done = subprocess.run(
            [*pip, "--python-version", f"{floor[1]}.0", "-r", lock],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{lock} on Python {floor[1]}.0: {done.stderr.strip()[-600:]}"
