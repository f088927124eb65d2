"""Pasting a printed fix as a user would: a copy of the project, its stack files written as the CLI
writes them, `bash -c` with the fake `pulumi` of tests/fakecli.py on the PATH, and the program run
again on the result."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ai_etl.config.fields import aws_regions
from ai_etl.config.problems import ConfigError
from ai_etl.grade import GRADE_KEY, STANDARD
from ai_etl.offline.records import Run
from ai_etl.offline.runner import run_program
from ai_etl.offline.stackconfig import StackConfigError, load_project, load_stack_config
from tests import fakecli
from tests.fakes import shim
from tests.helpers import PLACEHOLDERS, STACKS
from tests.paths import PROJECT_DIR

CANARY = "CANARY"
"""Stands for the path of a file that a hostile key name tries to create when its fix is pasted."""
PROMPTED = "typed-at-the-prompt"
"""What the user types when a fix prompts for a secret value."""
SAMPLES = {
    "<cluster>": "ai-etl-dev",
    "<digest>": "0" * 64,
    "<tag>": "1.4.2",
    "<account>": "111111111111",
    "<ci-deploy-role>": "ci-deploy",
    "<standard|production>": "production",
    "<its generation now, plus one>": "1",
    "<address>": "secops@example.com",
    "<https URL, or SQS queue or Lambda function ARN>": "arn:aws:sqs:us-east-1:111111111111:alerts",
    "<https URL of the API, without credentials>": "https://llm.example.com/v1",
    "<true or false>": "true",
    "<whole number>": "48",
    "<region>": "us-east-1",
    "<replica region>": "us-west-2",
    "<replication group id>": "ai-etl-production",
    "<user group id>": "ai-etl-production-users",
    "<primary endpoint>": "master.ai-etl-production.example.use1.cache.amazonaws.com",
    "<endpoint>": "ai-etl.c0example0.us-east-1.rds.amazonaws.com",
    "<cluster|elasticache>": "cluster",
    "<cluster|rds|aurora>": "cluster",
    "<name>": "rds!db-00000000-0000-0000-0000-000000000000-AbCdEf",
    "<MasterUserSecret.SecretArn of the database>": (
        "arn:aws:secretsmanager:eu-west-1:333333333333:secret:rds!db-00000000-0000-0000-0000-000000000000-AbCdEf"
    ),
}
"""What the user puts in place of each placeholder a fix holds (own() gives a stack's own where the
placeholder stands for where that stack lives)."""


@dataclass
class Project:
    """A copy of the project with its stack files, and a shell whose `pulumi` is the fake CLI."""

    root: Path
    env: dict[str, str]
    canary: Path

    def write(
        self,
        stack: str,
        changes: dict[str, Any],
        remove: tuple[str, ...] = (),
        secrets: dict[str, str] | None = None,
    ) -> None:
        """Stack `stack`'s committed config with `changes` (objects merged one level deep, as
        `config set --path` would) and without `remove`, its provided `secrets` (the placeholders
        unless given) encrypted."""
        config = {
            **load_stack_config(stack, PROJECT_DIR),
            **{k: fakecli.encrypted(v) for k, v in (PLACEHOLDERS if secrets is None else secrets).items()},
        }
        for key, value in hostile(changes, self.canary).items():
            merge = isinstance(value, dict) and isinstance(config.get(key), dict) and "secure" not in value
            config[key] = {**config[key], **value} if merge else value
        for key in remove:
            config.pop(key, None)
        fakecli.write(self.root, stack, config)

    def run(self, stack: str) -> Run | str:
        """The program's run of `stack` from its stack file, or its config error's message.

        Many pasted fixes lead back to the same files: a run is a function of the project's files
        (the program reads its stack files where it runs), so each distinct set is run once per
        test process, and each caller gets its own copy."""
        config, secrets = fakecli.load(self.root, stack)
        files = {p.name: p.read_text() for p in sorted(self.root.glob("*")) if p.is_file()}
        key = json.dumps([stack, config, secrets, files], sort_keys=True, default=repr)
        if key not in _RUNS:
            _RUNS[key] = self._run(stack, config, secrets)
        return copy.deepcopy(_RUNS[key])

    def _run(self, stack: str, config: dict[str, Any], secrets: dict[str, Any]) -> Run | str:
        cwd = Path.cwd()
        os.chdir(self.root)  # the program finds the project's stack files where it runs
        try:
            return run_program(
                stack, config, secrets, program=self.root / "__main__.py", project=load_project(self.root)
            )
        except (ConfigError, StackConfigError) as error:  # the program's own, or the CLI's
            return str(error)
        finally:
            os.chdir(cwd)

    def paste(self, line: str, typed: str = "") -> subprocess.CompletedProcess[str]:
        """`line` pasted into bash in the project's folder; `typed` answers its prompts."""
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", line],
            cwd=self.root,
            env=self.env,
            input=typed,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def pasted(self, stack: str, line: str, typed: str = "") -> None:
        """`line` pasted into bash as `paste` does, its `pulumi` a shell function that only records
        each command line; each is then applied to `stack`'s file by the fake CLI in this process.
        One bash, no interpreter started per command: for suites that paste hundreds of fixes. The
        keys keep their places in the file (the CLI writes the whole file anew anyway), so a fix
        that restores a config restores the file, which `run` has rendered before."""
        record = 'pulumi() { printf "%s\\0" "$#" "$@"; }'
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", f"{record}\n{line}"],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            timeout=60,
            check=True,
        )
        words = iter(result.stdout.decode().split("\0")[:-1])
        typed_lines = iter(typed.splitlines())
        config = load_stack_config(stack, self.root)
        places = {key: i for i, key in enumerate(config)}
        for count in words:
            argv = [next(words) for _ in range(int(count))]
            assert fakecli.parse_args(argv)[1]["stack"] == stack, argv
            fakecli.apply(argv, config, str(load_project(self.root)["name"]), lambda: next(typed_lines, None))
        ordered = sorted(config.items(), key=lambda item: places.get(item[0], len(places)))
        fakecli.write(self.root, stack, dict(ordered))

    def stored(self, stack: str) -> dict[str, Any]:
        return load_stack_config(stack, self.root)


_RUNS: dict[str, Run | str] = {}
"""The runs of this test process, by the project's files (Project.run)."""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        (root / name).write_text((PROJECT_DIR / name).read_text())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim(bin_dir / "pulumi", sys.executable, "-m", "tests.fakecli")
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "PYTHONPATH": str(PROJECT_DIR),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }
    made = Project(root, env, tmp_path / "canary")
    for stack in STACKS:
        made.write(stack, {})
    return made


def hostile(value: Any, canary: Path) -> Any:
    """`value` with CANARY, in keys and values, the canary file's path."""
    if isinstance(value, dict):
        return {hostile(k, canary): hostile(v, canary) for k, v in value.items()}
    if isinstance(value, list):
        return [hostile(v, canary) for v in value]
    return value.replace(CANARY, str(canary)) if isinstance(value, str) else value


def fixes(message: str) -> list[str]:
    """The `fix:` lines of a config error, each one line of shell."""
    found = re.findall(r"^ +fix: (.*)$", message, re.M)
    assert len(found) == message.count("fix: "), "a fix spans lines"
    return found


def own(stack: str) -> dict[str, str]:
    """What the user of `stack` fills in for the placeholders of where it lives: its committed
    region, replica region (another region of its partition if it keeps none), account and grade."""
    config = load_stack_config(stack, PROJECT_DIR)
    region = str(config["aws:region"])
    partition = aws_regions()[region]
    replica = config.get("ai-etl:replicaRegion") or next(
        r for r in sorted(aws_regions()) if aws_regions()[r] == partition and r != region
    )
    return {
        "<region>": region,
        "<replica region>": str(replica),
        "<account>": str(config["aws:allowedAccountIds"][0]),
        "<standard|production>": str(config.get(GRADE_KEY, STANDARD)),
    }


def filled(line: str, stack: str | None = None) -> str:
    """A fix with each placeholder replaced as the user would replace it: with `stack`'s own
    region, replica region and account where one stands for those."""
    for placeholder, sample in {**SAMPLES, **(own(stack) if stack else {})}.items():
        line = line.replace(placeholder, sample)
    return line
