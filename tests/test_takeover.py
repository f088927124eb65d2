"""The takeover of a hand-made installation, run as printed: every live value piped into the stack's
encrypted config, and the program then writes exactly those values (no credential changes), names
the objects the commands name, and takes over a generated secret only until its rotation."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

import pytest

from ai_etl.settings import ConfigError
from ai_etl.takeover import HAND_MADE_SECRET, main, steps
from ai_etl.tokens import SM_SECRET, SM_VERSION
from guardrails.rules import evaluate
from offline.check import subjects_of
from offline.engine import Run, unwrap
from tests.helpers import PLACEHOLDERS, manifest, run_cli, run_config, stack_config

STACK = "production"
# What the guide's `kubectl create secret generic ai-etl-secrets` holds (obviously fake values).
LIVE = {
    "database-url": "postgresql+asyncpg://ai_etl:kept%40db%3Apw@postgres-svc:5432/ai_etl",
    "redis-url": "redis://:kept-redis-pw@redis-svc:6379/0",
    "jwt-secret-key": "kept-jwt-value-not-real",
    "secret-key": "kept-app-secret-not-real",
    "qwen-api-key": "kept-llm-key-not-real",
    "s3-access-key": "kept-s3-id-not-real",
    "s3-secret-key": "kept-s3-secret-not-real",
}
FAKES = r"""
declare -A LIVE=(%s)
# kubectl get secret ai-etl-secrets -n NS -o jsonpath={.data.KEY}: base64, as the API serves it
kubectl() {
  [ "$3" = "%s" ] || { echo "unexpected: kubectl $*" >&2; return 1; }
  local key; key=$(printf %%s "$*" | sed -E 's/.*\{\.data\.([a-z0-9-]+)\}.*/\1/')
  printf %%s "${LIVE[$key]:-}"
}
pulumi() { printf '%%s\t%%s\n' "$*" "$(base64 -w0)" >> "$LOG"; }
"""


def run_steps(tmp_path: Path, numbers: tuple[int, ...]) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The takeover's steps `numbers`, as printed, with kubectl and pulumi faked; returns the run and
    the log of what pulumi was given (its arguments and its standard input)."""
    log = tmp_path / "pulumi.log"
    live = " ".join(f"[{k}]={base64.b64encode(v.encode()).decode()}" for k, v in LIVE.items())
    chosen = [s for i, s in enumerate(steps(STACK), 1) if i in numbers]
    script = FAKES % (live, HAND_MADE_SECRET) + "\n".join(c for s in chosen for c in s.commands)
    env = {"LOG": str(log), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    return result, log


def taken_over(tmp_path: Path) -> tuple[dict, dict[str, str]]:
    """The stack's config and secrets once step 1 ran, stored as the CLI stores them."""
    result, log = run_steps(tmp_path, (1,))
    assert result.returncode == 0, result.stderr
    config, secrets = stack_config(STACK), dict[str, str]()
    for line in log.read_text().splitlines():
        args, stdin = line.split("\t")
        value = base64.b64decode(stdin).decode()
        if not value:  # a secret added since the guide: the operator types it at the prompt
            value = PLACEHOLDERS[f"ai-etl:{args.split()[3]}"]
        run_cli(f"pulumi {args}", config, secrets, stdin=value)
    return config, secrets


def stored(run: Run) -> dict[str, str]:
    """What each Secrets Manager secret holds, by key."""
    names = {r.outputs["arn"]: r.inputs["name"].rsplit("/", 1)[-1] for r in run.of_type(SM_SECRET)}
    return {names[v.inputs["secretId"]]: unwrap(v.inputs["secretString"]) for v in run.of_type(SM_VERSION)}


def test_the_takeover_keeps_every_live_credential(tmp_path: Path) -> None:
    """After step 1 the program writes the very values the hand-made Secret holds, the URLs
    included (composed again from the kept passwords), and tags the kept ones."""
    config, secrets = taken_over(tmp_path)
    assert set(secrets) == {*PLACEHOLDERS, "ai-etl:adopt"}, "every value went to encrypted config"
    run = run_config(STACK, config, secrets)
    values = stored(run)
    for key, value in LIVE.items():
        assert values[key] == value, key
    tags = {r.inputs["name"].rsplit("/", 1)[-1]: r.inputs["tags"] for r in run.of_type(SM_SECRET)}
    adopted = {k for k, t in tags.items() if t.get("ValueSource") == "adopted"}
    assert adopted == {
        "jwt-secret-key",
        "secret-key",
        "db-password",
        "redis-password",
        "database-url",
        "redis-url",
    }
    assert [f.message for f in evaluate(subjects_of(run)) if not f.advisory] == []


def test_no_live_value_is_on_a_command_line(tmp_path: Path) -> None:
    """Values travel through pipes only: none is in the printed commands or pulumi's arguments."""
    _, log = run_steps(tmp_path, (1,))
    text = "\n".join(c for s in steps(STACK) for c in s.commands)
    arguments = "\n".join(line.split("\t")[0] for line in log.read_text().splitlines())
    for value in LIVE.values():
        assert value not in text and value not in arguments


def test_the_connection_check_prints_no_password(tmp_path: Path) -> None:
    """Step 2 shows what the URLs point at, to compare with database.* and redis.*, never a password."""
    result, _ = run_steps(tmp_path, (1, 2))
    assert result.returncode == 0, result.stderr
    assert "postgresql+asyncpg postgres-svc 5432 /ai_etl ai_etl" in result.stdout
    assert "kept" not in result.stdout


def test_the_commands_name_the_programs_own_objects(tmp_path: Path) -> None:
    """The namespace and the Deployment the takeover touches are those the program declares, and
    step 5 retires only objects the program does not declare."""
    config, secrets = taken_over(tmp_path)
    run = run_config(STACK, config, secrets)
    text = "\n".join(c for s in steps(STACK) for c in s.commands)
    namespace = re.search(r"NS=(\S+)", text)
    assert namespace and namespace[1] == run.exports["namespace"]
    deployment = re.search(r"kubectl delete deployment (\S+)", text)
    assert deployment and deployment[1] == manifest(run, "Deployment")["metadata"]["name"]
    assert "backend" in run.exports["secretNames"]
    retired = re.findall(r"kubectl delete (\S+) (\S+) -n", "\n".join(steps(STACK)[-1].commands))
    assert len(retired) == 4, "step 5 deletes the hand-made objects"
    declared = _declared_names(run)
    for kind, name in retired:
        assert name not in declared, f"step 5 deletes {kind} {name}, which the program declares"


def _declared_names(run: Run) -> set[str]:
    """The names of the Kubernetes objects the program declares."""
    return {r.inputs["metadata"]["name"] for r in run.resources if r.type.startswith("kubernetes:")}


def test_a_kept_value_gives_way_at_the_first_rotation(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Rotating a taken-over secret makes a new random value for it alone; the others stay kept,
    and the preview says how to remove the value no longer used."""
    config, secrets = taken_over(tmp_path)
    config["ai-etl:rotation"] = {"jwt-secret-key": "2026-12-01"}
    values = stored(run_config(STACK, config, secrets))
    assert values["jwt-secret-key"] != LIVE["jwt-secret-key"]
    assert values["secret-key"] == LIVE["secret-key"] and values["database-url"] == LIVE["database-url"]
    fix = "pulumi config rm --path 'adopt.jwt-secret-key' --stack production"
    assert any(fix in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    run_cli(fix, config, secrets)
    assert set(json.loads(secrets["ai-etl:adopt"])) == {"secret-key", "db-password", "redis-password"}
    assert stored(run_config(STACK, config, secrets))["secret-key"] == LIVE["secret-key"], "the rest stay"


def test_adopt_takes_generated_secrets_only_and_encrypted() -> None:
    """A provided or unknown key under adopt is an error, as is adopt set in plain text."""
    secrets = {**PLACEHOLDERS, "ai-etl:adopt": json.dumps({"qwen-api-key": "x"})}
    with pytest.raises(ConfigError, match=r"adopt\.qwen-api-key: is not a setting of this program"):
        run_config(STACK, stack_config(STACK), secrets)
    with pytest.raises(ConfigError, match="adopt: holds live credentials in plain text"):
        run_config(STACK, stack_config(STACK, {"ai-etl:adopt": {"secret-key": "x"}}), dict(PLACEHOLDERS))


def test_an_unknown_stack_is_named_with_the_stacks_there_are(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m ai_etl.takeover prod` exits 2 naming the stack files that exist."""
    with pytest.raises(SystemExit) as exit_:
        main(["prod"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "no stack file Pulumi.prod.yaml" in err and "production" in err
