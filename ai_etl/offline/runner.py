"""Runs a Pulumi program for a stack under the Pulumi SDK's own mocks, and returns what it declared.

No Pulumi CLI is needed. The program gets its config as the language host hands it over
(PULUMI_CONFIG), runs under `pulumi.runtime.test` with `set_mocks`, and registers with the
recording monitor (monitor.py), which the provider answers (answers.py) stand behind.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import runpy
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pulumi

from ai_etl.offline.answers import MOCK_ACCOUNT, ProviderMocks
from ai_etl.offline.monitor import RecordingMonitor
from ai_etl.offline.placeholders import offline_config
from ai_etl.offline.records import Registration, Run, Sensitive
from ai_etl.offline.sdk import no_cycle_collection, no_source_positions
from ai_etl.offline.stackconfig import (
    apply_project_config,
    engine_config,
    is_secure,
    load_project,
    program_of,
    read_stack_file,
)


class _Collect(logging.Handler):
    """Keeps the message of every record of WARNING or above."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


def user_groups_of(config: Mapping[str, Any], project: str) -> dict[str, str]:
    """The ElastiCache user group the stack names, by the replication group it names (its `redis`
    object), which offline answers as attached: a render shows a stack past its first deploy."""
    redis = config.get(f"{project}:redis")
    if not isinstance(redis, Mapping) or not redis.get("replicationGroupId") or not redis.get("userGroupId"):
        return {}
    return {str(redis["replicationGroupId"]): str(redis["userGroupId"])}


def run_program(
    stack: str,
    config: Mapping[str, Any],
    secret_keys: Mapping[str, Any] | None = None,
    *,
    program: Path,
    project: str | Mapping[str, Any],
    registrations: list[Registration] | None = None,
    answers: Mapping[str, Mapping[str, Any] | None] | None = None,
    root: Path | None = None,
    entry: Callable[[], object] | None = None,
) -> Run:
    """Run `program` for `stack` under the SDK's mocks.

    `config` maps full keys (`<project>:<key>`) to YAML values; `secret_keys` maps full keys to the
    plain value the stack's secrets provider would decrypt (they are marked secret, as the CLI
    marks `secure:` values). `project` is the project's name, or its whole Pulumi.yaml
    (`load_project`), whose config declarations are then checked and applied as the CLI does
    (StackConfigError). Exceptions of the program propagate (a `pulumi.RunError` is the program's
    own clean error); pass a list as `registrations` to see what was declared before one.
    `answers` replaces fields of what provider functions answer, by token (None: "not found"),
    e.g. an older cluster for `aws:eks/getCluster:getCluster`. `root`, the project's folder if
    given, is where the program runs as under the CLI: `pulumi.get_root_directory()` returns it (the
    language host's --root_directory) and the program runs from its own folder (the host's --pwd:
    pulumi/pulumi pkg/engine/project.go getPwdMain, lines 45-72 at 1b5949891b3c, and
    sdk/python/cmd/pulumi-language-python-exec, lines 128 and 148-149); else the program runs from
    the current directory, with no root directory. `entry`, if given, is run instead of the
    program's file: a function of the program, under the same mocks and config.
    """
    secret_keys = dict(secret_keys or {})
    if isinstance(project, Mapping):
        config = apply_project_config(stack, project, config, secret_keys)
        project = str(project["name"])
    # The credentials' account: the first the AWS provider is allowed to use, if the stack says.
    allowed = config.get("aws:allowedAccountIds")
    account = str(allowed[0]) if isinstance(allowed, list) and allowed else MOCK_ACCOUNT
    provider_mocks = ProviderMocks(
        stack, str(config.get("aws:region", "us-east-1")), account, answers, user_groups_of(config, project)
    )
    monitor = RecordingMonitor(provider_mocks)
    if registrations is not None:
        monitor.registrations = registrations
    plain = {k: v for k, v in config.items() if not is_secure(v)}
    # The engine makes each package's default provider with that package's config as its inputs
    # (pulumi/pulumi pkg/resource/deploy/default_providers.go, newRegisterDefaultProviderEvent).
    ours = f"{project}:"
    provider_config = {
        **{k: v for k, v in plain.items() if not k.startswith(ours)},
        **{k: Sensitive(v) for k, v in secret_keys.items() if not k.startswith(ours)},
    }
    # As the language host does (pulumi/pulumi sdk/python/cmd/pulumi-language-python-exec): the
    # config in PULUMI_CONFIG, its secret keys in PULUMI_CONFIG_SECRET_KEYS, then set_all_config.
    handed = {
        "PULUMI_CONFIG": json.dumps(engine_config({**plain, **secret_keys})),
        "PULUMI_CONFIG_SECRET_KEYS": json.dumps(sorted(secret_keys)),
    }
    saved = {name: os.environ.get(name) for name in handed}
    os.environ.update(handed)
    declared: dict[tuple[str, str], int] = {}
    exports: dict[str, Any] = {}
    # The program's log, as the engine would show it: warnings (and errors) kept for the Run.
    warnings: list[str] = []
    logger = logging.getLogger(f"{__name__}.program.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(_Collect(warnings))

    def note_declaration(args: pulumi.ResourceTransformationArgs) -> None:
        declared.setdefault((args.type_, args.name), len(declared))

    async def collect_exports() -> None:
        root = pulumi.runtime.get_root_resource()
        for name, value in getattr(root, "outputs", {}).items():
            output = pulumi.Output.from_input(value)
            resolved = await output.future()
            exports[name] = Sensitive(resolved) if await output.is_secret() else resolved

    @pulumi.runtime.test
    def body() -> Any:
        pulumi.runtime.register_stack_transformation(note_declaration)
        if entry is None:
            runpy.run_path(str(program), run_name="__main__")
        else:
            entry()
        return collect_exports()

    # Resolved first: both may be relative to the current folder, which becomes the program's.
    where, program = os.getcwd(), program.resolve()
    folder = str(root.resolve()) if root is not None else None
    try:
        if folder is not None:
            os.chdir(program.parent)
        pulumi.runtime.reset_options(project=project, stack=stack, root_directory=folder, preview=False)
        pulumi.runtime.set_all_config(
            pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env()
        )
        pulumi.runtime.set_mocks(
            provider_mocks, project=project, stack=stack, preview=False, monitor=monitor, logger=logger
        )
        with no_source_positions(), no_cycle_collection():
            body()
    finally:
        os.chdir(where)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    # Registrations reach the monitor in the order their inputs resolve, which varies from run to
    # run; the stack transformation saw each resource as the program declared it, in program order.
    monitor.registrations.sort(key=lambda r: declared.get((r.type, r.name), len(declared)))
    return Run(
        stack=stack,
        resources=monitor.registrations,
        exports=exports,
        calls=monitor.calls,
        warnings=warnings,
        provider_config=dict(sorted(provider_config.items())),
    )


def offline_run(
    stack: str,
    project_dir: Path = Path(),
    answers: Mapping[str, Any] | None = None,
    starting: Callable[[], None] | None = None,
    entry: Callable[[], object] | None = None,
) -> tuple[Run, list[str]]:
    """Run a project's program for `stack` offline; and which provided secrets got placeholders.

    `project_dir` is the project (the current directory unless given): its `Pulumi.yaml`, its
    program (`main`, or `__main__.py`) and the `Pulumi.<stack>.yaml` to read; any Pulumi Python
    project. `answers` replaces what provider functions answer (answers.load_answers). `starting`
    is called when the program starts (the part that takes time), once every check of the
    project's files has passed: a file refused is its one error, nothing before it.
    """
    config, secrets, placeholders = offline_config(stack, project_dir)
    # What the CLI warns of when it loads the stack file comes first, as `pulumi preview` shows it.
    stack_file = read_stack_file(stack, project_dir)
    loading = stack_file.warnings
    program, project = program_of(project_dir), load_project(project_dir)
    config = apply_project_config(stack, project, config, secrets)
    if starting:
        starting()
    run = run_program(
        stack,
        config,
        secrets,
        program=program,
        project=str(project["name"]),
        answers=answers,
        root=project_dir,
        entry=entry,
    )
    # The stack file's own settings that change what reaches the providers are shown as theirs are.
    reaching = dict(sorted({**run.provider_config, **stack_file.settings}.items()))
    return dataclasses.replace(
        run, warnings=[*loading, *run.warnings], provider_config=reaching
    ), placeholders
