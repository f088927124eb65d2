"""Stand-ins for the executables the runbooks call and the tests cannot have (pulumi, kubectl,
redis-cli), each checking its arguments as the real one would parse them and logging what it was
given; and a wrapper of the real `aws` for a region that is out. `bin_dir` puts them on a PATH."""

from __future__ import annotations

import json
import os
import shlex
import stat
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def shim(path: Path, *argv: str) -> Path:
    """An executable at `path` that runs `argv` followed by its own arguments, every word quoted for
    the shell: the interpreter's and the temp folder's paths may hold spaces, `$` or quotes."""
    path.write_text(f'#!/bin/sh\nexec {shlex.join(argv)} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def bin_dir(folder: Path, *names: str) -> Path:
    """A folder of executables `names` (pulumi, kubectl, redis-cli, aws) running this package's
    fakes with this interpreter."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        script = HERE / f"{name.replace('-', '_')}.py"
        assert script.is_file(), script
        shim(folder / name, sys.executable, str(script))
    return folder


def read_log(path: Path) -> list[Any]:
    """What a fake logged, one JSON value a call."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def path_with(env: dict[str, str], *folders: Path) -> str:
    """`env`'s PATH with `folders` first."""
    return os.pathsep.join([*map(str, folders), env.get("PATH", os.environ["PATH"])])
