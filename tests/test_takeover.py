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

from ai_etl.catalogue import by_key
from ai_etl.config.settings import ConfigError
from ai_etl.guardrails.rules import evaluate
from ai_etl.offline.records import Run, unwrap
from ai_etl.ops.check import subjects_of
from ai_etl.ops.takeover import HAND_MADE_SECRET, main, steps
from ai_etl.tokens import SM_SECRET, SM_VERSION
from tests.helpers import PLACEHOLDERS, manifest, run_cli, run_config, stack_config

STACK = "production"
# What the guide's `kubectl create secret generic ai-etl-secrets --from-literal=...` holds (obviously
# fake values); the guide's other way, `--from-env-file`, names them by env var, webhook key included.
LIVE = {
    "database-url": "postgresql+asyncpg://ai_etl:kept%40db%3Apw@postgres-svc:5432/ai_etl",
    "redis-url": "redis://:kept-redis-pw@redis-svc:6379/0",
    "jwt-secret-key": "kept-jwt-value-not-real",
    "secret-key": "kept-app-secret-not-real",
    "qwen-api-key": "kept-llm-key-not-real",
    "s3-access-key": "kept-s3-id-not-real",
    "s3-secret-key": "kept-s3-secret-not-real",
}
WEBHOOK = "kept-webhook-key-not-real"
FORMS: dict[str, dict[str, str]] = {
    "from-literal": LIVE,
    "from-env-file": {
        str(by_key()[k].env_var): v for k, v in {**LIVE, "webhook-signing-key": WEBHOOK}.items()
    },
}
FAKES = r"""
declare -A HAND=(%s) NEW=(%s)
# kubectl get secret NAME -n NS -o jsonpath={.data.KEY}: base64, as the API serves it
kubectl() {
  local key; key=$(printf %%s "$*" | sed -E 's/.*\{\.data\.([A-Za-z0-9_-]+)\}.*/\1/')
  case "$3" in
    %s) printf %%s "${HAND[$key]:-}" ;;
    "$NEW_SECRET") printf %%s "${NEW[$key]:-}" ;;
    *) echo "unexpected: kubectl $*" >&2; return 1 ;;
  esac
}
pulumi() {
  if [ "$1 $2" = "stack output" ]; then printf %%s "$OUTPUT"; return; fi
  printf '%%s\t%%s\n' "$*" "$(base64 -w0)" >> "$LOG"
}
"""


def _array(values: dict[str, str]) -> str:
    return " ".join(f"[{k}]={base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def run_steps(
    tmp_path: Path, numbers: tuple[int, ...], form: str = "from-literal", run: Run | None = None
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The takeover's steps `numbers`, as printed, with kubectl and pulumi faked, the hand-made
    Secret made the guide's way `form` and, given `run`, the operator's Secret holding what the
    program stored; returns the run and the log of what pulumi was given (arguments, stdin)."""
    log = tmp_path / "pulumi.log"
    names = run.exports["secretNames"] if run else {"backend": "none"}
    chosen = [s for i, s in enumerate(steps(STACK), 1) if i in numbers]
    new = stored(run) if run else {}
    script = FAKES % (_array(FORMS[form]), _array(new), HAND_MADE_SECRET)
    script += "\n".join(c for s in chosen for c in s.commands)
    env = {
        "LOG": str(log),
        "PATH": "/usr/bin:/bin",
        "OUTPUT": json.dumps(names),
        "NEW_SECRET": names["backend"],
    }
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    return result, log


def taken_over(tmp_path: Path, form: str = "from-literal") -> tuple[dict, dict[str, str]]:
    """The stack's config and secrets once step 1 ran, stored as the CLI stores them."""
    result, log = run_steps(tmp_path, (1,), form)
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


@pytest.mark.parametrize("form", FORMS)
def test_the_takeover_keeps_every_live_credential(tmp_path: Path, form: str) -> None:
    """After step 1 the program writes the very values the hand-made Secret holds, made either way
    the guide shows, the URLs included (composed again from the kept passwords), and tags the kept
    ones; a generated secret the Secret lacks gets a new value."""
    config, secrets = taken_over(tmp_path, form)
    assert set(secrets) == {*PLACEHOLDERS, "ai-etl:adopt"}, "every value went to encrypted config"
    run = run_config(STACK, config, secrets)
    values = stored(run)
    for key, value in LIVE.items():
        assert values[key] == value, key
    assert (values["webhook-signing-key"] == WEBHOOK) == (form == "from-env-file")
    tags = {r.inputs["name"].rsplit("/", 1)[-1]: r.inputs["tags"] for r in run.of_type(SM_SECRET)}
    adopted = {k for k, t in tags.items() if t.get("ValueSource") == "adopted"}
    kept = {"jwt-secret-key", "secret-key", "db-password", "redis-password", "database-url", "redis-url"}
    assert adopted == kept | ({"webhook-signing-key"} if form == "from-env-file" else set())
    assert [f.message for f in evaluate(subjects_of(run)) if not f.advisory] == []


@pytest.mark.parametrize("form", FORMS)
def test_the_check_after_the_deploy_finds_every_value_kept(tmp_path: Path, form: str) -> None:
    """Step 4, against the Secret the operator makes from what the program stored, reads `kept`
    for every value the hand-made Secret had, and nothing CHANGED."""
    config, secrets = taken_over(tmp_path, form)
    run = run_config(STACK, config, secrets)
    result, _ = run_steps(tmp_path, (1, 4), form, run)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ") for line in result.stdout.splitlines())
    assert {k for k, v in lines.items() if v == "kept"} == set(LIVE) | (
        {"webhook-signing-key"} if form == "from-env-file" else set()
    )
    assert "CHANGED" not in lines.values()


def test_the_check_after_the_deploy_shows_a_changed_value(tmp_path: Path) -> None:
    """Had a value changed, step 4 says which one (and only its name)."""
    config, secrets = taken_over(tmp_path)
    config["ai-etl:rotation"] = {"secret-key": "2026-12-01"}
    result, _ = run_steps(tmp_path, (1, 4), run=run_config(STACK, config, secrets))
    assert "secret-key: CHANGED" in result.stdout.splitlines()
    assert LIVE["secret-key"] not in result.stdout


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


def test_a_kept_value_gives_way_at_the_first_rotation(tmp_path: Path) -> None:
    """Rotating a taken-over secret makes a new random value for it alone; the others stay kept,
    and the preview says how to remove the value no longer used."""
    config, secrets = taken_over(tmp_path)
    config["ai-etl:rotation"] = {"jwt-secret-key": "2026-12-01"}
    run = run_config(STACK, config, secrets)
    values = stored(run)
    assert values["jwt-secret-key"] != LIVE["jwt-secret-key"]
    assert values["secret-key"] == LIVE["secret-key"] and values["database-url"] == LIVE["database-url"]
    fix = "pulumi config rm --path 'adopt.jwt-secret-key' --stack production"
    assert any(fix in warning for warning in run.warnings)
    run_cli(fix, config, secrets)
    assert set(json.loads(secrets["ai-etl:adopt"])) == {"secret-key", "db-password", "redis-password"}
    assert stored(run_config(STACK, config, secrets))["secret-key"] == LIVE["secret-key"], "the rest stay"


def test_adopt_takes_generated_secrets_only_and_encrypted() -> None:
    """A provided or unknown key under adopt is an error, as is adopt set in plain text."""
    secrets = {**PLACEHOLDERS, "ai-etl:adopt": json.dumps({"qwen-api-key": "x"})}
    with pytest.raises(ConfigError, match=r"adopt\.qwen-api-key: is not a setting of this program"):
        run_config(STACK, stack_config(STACK), secrets)
    with pytest.raises(ConfigError, match="adopt: must be an object"):
        run_config(STACK, stack_config(STACK), {**PLACEHOLDERS, "ai-etl:adopt": "a-value"})
    with pytest.raises(ConfigError, match="adopt: holds live credentials in plain text"):
        run_config(STACK, stack_config(STACK, {"ai-etl:adopt": {"secret-key": "x"}}), dict(PLACEHOLDERS))


def test_an_unknown_stack_is_named_with_the_stacks_there_are(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m ai_etl.ops.takeover prod` exits 2 naming the stack files that exist."""
    with pytest.raises(SystemExit) as exit_:
        main(["prod"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "no stack file Pulumi.prod.yaml" in err and "production" in err
