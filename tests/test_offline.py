"""The offline preview: `python -m ai_etl.offline render` writes the exact desired state of a stack, and
`python -m ai_etl.offline diff` reads two renders the way `pulumi preview --diff` does."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from ai_etl.catalogue import CATALOGUE, CONSUMERS, server_credentials
from ai_etl.config.settings import ConfigError
from ai_etl.config.trail import DECLARE_TRAIL
from ai_etl.offline import diff as diffing
from ai_etl.offline import formats, providers, sdk
from ai_etl.offline.cli import main
from ai_etl.offline.placeholders import PLACEHOLDER_PREFIX
from ai_etl.offline.records import Run, Sensitive
from ai_etl.offline.render import SECRET_MARK, fingerprints, render
from ai_etl.tokens import (
    ENVIRONMENT_COMPONENT,
    IAM_ROLE,
    K8S_DEPLOYMENT,
    K8S_PROVIDER,
    K8S_SERVICE_ACCOUNT,
    KMS_KEY,
    NAMESPACE_COMPONENT,
    RANDOM_PASSWORD,
    S3_BUCKET,
    SM_SECRET,
    SM_VERSION,
    TRAIL,
    sdk_class,
    sdk_function,
)
from tests.helpers import (
    ADMISSION_KINDS,
    PLACEHOLDERS,
    PRODUCTION_GRADE,
    STACKS,
    STANDARD_GRADE,
    absent_stack,
    expected_resources,
    on_rds,
    project_copy,
    settings_of,
    stepped,
)

KEYS = {
    "urn", "type", "name", "parent", "custom", "dependencies", "protect", "retainOnDelete",
    "deleteBeforeReplace", "replaceOnChanges", "ignoreChanges", "inputs",
}  # fmt: skip


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("render")
    for stack in STACKS:
        render(stack, out / stack)
    return {stack: out / stack for stack in STACKS}


def head_stack_dir(tmp_path: Path, stack: str, extra: str) -> Path:
    """The project as a branch changes it: `extra` appended under the stack file's `config:`."""
    return project_copy(tmp_path / "head", stack, extra)


@pytest.mark.parametrize("stack", STACKS)
def test_resources_json_lists_every_resource_with_its_safety_options(
    renders: dict[str, Path], stack: str
) -> None:
    """One object per resource, in declaration order, with type, name, parent, dependencies and the
    options that matter for safety."""
    data = json.loads((renders[stack] / "resources.json").read_text())
    resources = data["resources"]
    assert data["stack"] == stack and len(resources) == expected_resources(stack=stack)
    for record in resources:
        assert set(record) >= KEYS
    assert resources[0]["type"] == ENVIRONMENT_COMPONENT
    assert resources[1]["type"] == K8S_PROVIDER, "the stack's cluster, before any object goes to it"
    assert resources[2]["type"] == NAMESPACE_COMPONENT, "declaration order, not resolution order"
    protected = {r["type"] for r in resources if r["protect"]}
    # Read from the stack file, never from its name: a production-grade stack may have any name.
    kept = {KMS_KEY, SM_SECRET} | (
        {TRAIL, S3_BUCKET} if settings_of(stack).config.audit_trail == DECLARE_TRAIL else set()
    )
    assert protected == (kept if settings_of(stack).config.protect else set())
    assert settings_of(stack).config.protect or stack not in PRODUCTION_GRADE


@pytest.mark.parametrize("stack", STACKS)
def test_render_writes_no_secret_value(renders: dict[str, Path], stack: str) -> None:
    """Secret inputs are written as "[secret]"; the placeholders and passwords appear nowhere."""
    text = (renders[stack] / "resources.json").read_text() + (renders[stack] / "kubernetes.yaml").read_text()
    resources = json.loads((renders[stack] / "resources.json").read_text())["resources"]
    versions = [r for r in resources if r["type"] == SM_VERSION]
    assert versions and all(v["inputs"]["secretString"] == SECRET_MARK for v in versions)
    assert PLACEHOLDER_PREFIX not in text
    assert "@:/#" not in text, "the mock passwords start with these characters"


def test_encrypted_provided_secrets_get_placeholders(tmp_path: Path) -> None:
    """A `secure:` value needs the stack's secrets provider, which offline has not: it gets a
    placeholder, like an absent one."""
    folder = head_stack_dir(tmp_path, "dev", "  ai-etl:qwenApiKey:\n    secure: v1:AAAA\n")
    rendered = render("dev", tmp_path / "out", folder)
    assert "ai-etl:qwenApiKey" in rendered.placeholders
    assert rendered.placeholders == tuple(sorted(PLACEHOLDERS)), "every provided secret, absent or encrypted"


def test_a_provided_secret_set_again_shows_in_the_diff(tmp_path: Path) -> None:
    """A new `secure:` ciphertext (say production's LLM key rotated in a pull request) is a
    changed secret in the diff, never "no changes", and no value or ciphertext is printed."""
    renders = {}
    for side, ciphertext in (("base", "v1:AAAA"), ("head", "v1:BBBB")):
        folder = head_stack_dir(tmp_path / side, "dev", f"  ai-etl:qwenApiKey:\n    secure: {ciphertext}\n")
        renders[side] = render("dev", tmp_path / side / "out", folder)
    changes = diffing.diff(diffing.load(tmp_path / "base" / "out"), diffing.load(tmp_path / "head" / "out"))
    changed = {(c.name, path, new) for c in changes for path, _, new in c.fields}
    assert ("ai-etl-secrets-qwen-api-key-value", "secretString", "[secret] (changed)") in changed
    text = formats.format_text(changes)
    assert "AAAA" not in text and "BBBB" not in text and PLACEHOLDER_PREFIX not in text


def test_nothing_but_provided_secrets_is_invented(tmp_path: Path) -> None:
    """A missing plain key stays missing: the render stops with the program's own message."""
    folder = head_stack_dir(tmp_path, "dev", "")
    path = folder / "Pulumi.dev.yaml"
    path.write_text("\n".join(line for line in path.read_text().splitlines() if "clusterName" not in line))
    with pytest.raises(ConfigError, match="clusterName: is required"):
        render("dev", tmp_path / "bad", folder)


def test_render_is_deterministic(renders: dict[str, Path], tmp_path: Path) -> None:
    """Rendering twice gives the same bytes, so a diff shows only real changes."""
    again = render("production", tmp_path / "again")
    for name in ("resources.json", "kubernetes.yaml"):
        assert (again.resources_path.parent / name).read_bytes() == (
            renders["production"] / name
        ).read_bytes()


@pytest.mark.parametrize("stack", STACKS)
def test_kubernetes_yaml_is_what_kubectl_would_take(renders: dict[str, Path], stack: str) -> None:
    """Multi-document YAML, Namespace first, each built-in object valid against Kubernetes' schema:
    the store's ServiceAccount and SecretStore, each workload's objects, each server credential's
    rotation step (the same but a Job for the Deployment), and the admission policy and binding."""
    docs = list(yaml.safe_load_all((renders[stack] / "kubernetes.yaml").read_text()))
    assert docs[0]["kind"] == "Namespace"
    workload = ["ServiceAccount", "ExternalSecret", "Role", "RoleBinding", "NetworkPolicy"]
    workloads = [*workload, "Deployment"] * len(CONSUMERS)
    step = [*workload, "Job"] * len(stepped(stack))
    bundle = ["ConfigMap"] if on_rds(stack) else []  # the RDS CA bundle (trust.py)
    assert sorted(d["kind"] for d in docs) == sorted(
        ["Namespace", "ServiceAccount", "SecretStore", *workloads, *step, *ADMISSION_KINDS, *bundle]
    )
    for doc in docs:
        assert list(doc)[:3] == ["apiVersion", "kind", "metadata"]
        if not doc["apiVersion"].startswith("external-secrets.io"):
            kubernetes_validate.validate(doc, "1.33", strict=True)


def test_render_cli_prints_a_tree_and_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The summary shows resources as a tree by component and counts by type, and says where it
    wrote; before the wait (seconds, more on a first run), stderr says what the render is doing."""
    assert main(["render", "production", "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert err == "render production: running the program under the Pulumi SDK's mocks...\n"
    assert out.endswith(f"\nwrote {tmp_path / 'resources.json'} and {tmp_path / 'kubernetes.yaml'}\n")
    assert f"stack production: {expected_resources(stack='production')} resources" in out
    assert "└─ ai-etl:environment:Environment  ai-etl" in out
    assert "│  └─ kubernetes:core/v1:Namespace  ai-etl-namespace" in out
    entries = len(CATALOGUE) + len(server_credentials(CATALOGUE))  # and each one's verifiers
    assert f"{entries:>6}  aws:secretsmanager/secret:Secret" in out
    assert "aws:kms/key:Key  ai-etl-secrets-key [protected]" in out


def test_render_cli_reports_a_bad_stack_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown stack is an error naming the missing stack file, exit code 2. The stack is one no
    stack file names, whatever stacks the project has gained (`qa`, say, by the docs' recipe)."""
    missing = absent_stack()
    assert main(["render", missing, "--out", str(tmp_path)]) == 2
    assert f"Pulumi.{missing}.yaml" in capsys.readouterr().err


def test_diff_of_a_rotation_reads_like_pulumi_preview(renders: dict[str, Path], tmp_path: Path) -> None:
    """A keeper bump: the password, its version and the ExternalSecret are replaced; the Role and the
    Deployment are updated; nothing else changes."""
    folder = head_stack_dir(tmp_path, "production", "  ai-etl:rotation:\n    jwt-secret-key: '2026-12-01'\n")
    head = render("production", tmp_path / "head-render", folder).resources_path.parent
    changes = diffing.diff(diffing.load(renders["production"]), diffing.load(head))
    assert {(c.op, c.name) for c in changes} == {
        ("create", "ai-etl-passwords-jwt-secret-key-2026-12-01"),
        ("delete", "ai-etl-passwords-jwt-secret-key-initial"),
        ("replace", "ai-etl-secrets-jwt-secret-key-value"),
        ("replace", "ai-etl-backend-secrets"),
        ("update", "ai-etl-backend-secret-reader"),
        ("update", "ai-etl-backend"),
    }
    by_name = {c.name: c for c in changes}
    assert by_name["ai-etl-secrets-jwt-secret-key-value"].fields == [
        ("secretString", "[secret]", "[secret] (changed)")
    ]
    assert by_name["ai-etl-backend-secrets"].replace_reasons == ["metadata.name"]
    text = formats.format_text(changes)
    assert "1 to create, 2 to update, 2 to replace, 1 to delete" in text


def test_a_new_password_length_rotates_nothing(renders: dict[str, Path], tmp_path: Path) -> None:
    """`passwordLength` applies at each secret's next rotation: alone, it changes no password and
    no value, so `pulumi preview` (which keeps ignored inputs at their old value) shows nothing."""
    folder = head_stack_dir(tmp_path, "production", "  ai-etl:passwordLength: 64\n")
    head = render("production", tmp_path / "head-render", folder).resources_path.parent
    assert diffing.diff(diffing.load(renders["production"]), diffing.load(head)) == []
    lengths = {r["inputs"]["length"] for r in diffing.load(head) if r["type"] == RANDOM_PASSWORD}
    assert lengths == {64}, "the program asks for the new length; the engine keeps the old one"


def test_diff_exit_code_and_markdown(
    renders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--exit-code` gives 1 only when something changes (as git diff); markdown is a PR comment."""
    base = str(renders["production"])
    assert main(["diff", base, base, "--exit-code"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "Offline preview of stack production"
    assert re.fullmatch(r"no changes, \d+ unchanged", lines[-1])
    folder = head_stack_dir(tmp_path, "production", "")
    text = (folder / "Pulumi.production.yaml").read_text().replace("replicas: 3", "replicas: 4")
    (folder / "Pulumi.production.yaml").write_text(text)
    head = render("production", tmp_path / "h", folder).resources_path.parent
    assert (
        main(["diff", base, str(head), "--exit-code", "--format", "markdown", "--title", "production"]) == 1
    )
    out = capsys.readouterr().out
    assert out.startswith("### production\n\n**1 to update**")
    assert "| ~ | update | `kubernetes:apps/v1:Deployment` | `ai-etl-backend` |  |" in out
    assert "+   spec.replicas: 4" in out


def record(name: str, inputs: dict, type_: str = "test:index:Thing", **extra: object) -> dict:
    return {"urn": f"urn:{name}", "type": type_, "name": name, "inputs": inputs, **extra}


@pytest.mark.parametrize(
    ("type_", "old", "new", "op"),
    [
        (SM_SECRET, {"name": "a/b"}, {"name": "a/c"}, "replace"),
        (SM_SECRET, {"description": "x"}, {"description": "y"}, "update"),
        (
            K8S_SERVICE_ACCOUNT,
            {"metadata": {"namespace": "a"}},
            {"metadata": {"namespace": "b"}},
            "replace",
        ),
        (
            K8S_DEPLOYMENT,
            {"spec": {"selector": {"a": "1"}}},
            {"spec": {"selector": {"a": "2"}}},
            "replace",
        ),
        (IAM_ROLE, {"name": "r1"}, {"name": "r2"}, "replace"),
    ],
)
def test_diff_knows_which_changes_replace(type_: str, old: dict, new: dict, op: str) -> None:
    """Replacement follows the providers: names and identities replace, other fields update."""
    (change,) = diffing.diff([record("x", old, type_)], [record("x", new, type_)])
    assert change.op == op


def test_diff_honours_replace_on_changes_and_sees_creates_and_deletes() -> None:
    """`replaceOnChanges` forces a replacement; new and vanished URNs are creates and deletes."""
    base = [record("x", {"a": 1}, replaceOnChanges=["a"]), record("gone", {})]
    head = [record("x", {"a": 2}, replaceOnChanges=["a"]), record("new", {})]
    ops = {(c.op, c.name) for c in diffing.diff(base, head)}
    assert ops == {("replace", "x"), ("create", "new"), ("delete", "gone")}


def test_a_new_stack_diffs_from_nothing_and_only_when_it_is_new(
    renders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--new-stack` (no stack file at base): every resource of the head is a create, exit 0; a base
    that holds a render is refused, so a failed render never passes for a new stack."""
    head = renders[STACKS[0]]
    assert main(["diff", str(tmp_path / "absent"), str(head), "--new-stack"]) == 0
    out = capsys.readouterr().out
    resources = diffing.load(head)
    assert f"{len(resources)} to create" in out and f"New stack: {STACKS[0]}" in out
    assert main(["diff", str(head), str(head), "--new-stack"]) == 2
    assert "drop --new-stack" in capsys.readouterr().err


def test_diff_of_a_missing_render_says_how_to_make_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", str(tmp_path), str(tmp_path)]) == 2
    assert "render it first" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["{bad", "", '{"x": 1}', '{"resources": [1]}', "[]"])
def test_diff_of_a_broken_render_says_so_in_one_line(
    renders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    """A render cut short or edited by hand is an error naming the file and the command that makes
    it again (its folder quoted for the shell), exit code 2: never a traceback."""
    broken = tmp_path / "my render"
    broken.mkdir()
    (broken / "resources.json").write_text(text)
    assert main(["diff", str(broken), str(renders["dev"])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a render" in err and f"--out '{broken}'" in err


@pytest.mark.parametrize("name", ["x;touch /tmp/ai-etl-pwned", "../../etc/passwd", "a b", ""])
def test_a_stack_name_the_cli_refuses_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """A stack name is the CLI's (letters, digits, '-', '_', '.'), never a path: `../x` or `a;b`
    would name another file than the stack's, and the error would mislead."""
    assert main(["render", name, "--out", str(tmp_path)]) == 2
    assert "is not a stack name" in capsys.readouterr().err


def test_the_replacement_table_names_real_inputs() -> None:
    """Every input the diff treats as forcing a replacement exists on that resource type in the
    installed provider SDK, so a renamed or removed input cannot drift in silently."""
    for token, inputs in diffing.REPLACE_ON.items():
        params = set(inspect.signature(sdk_class(token)._internal_init).parameters)  # type: ignore[attr-defined]
        for name in inputs:
            if name != "*":
                assert re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() in params, (token, name)


def test_every_declared_type_has_a_replacement_entry(stack_runs: dict[str, Run]) -> None:
    """Each custom resource type a committed stack declares has an entry in REPLACE_ON (empty where
    no input forces a replacement), so the offline preview never shows a replacement as an update
    for want of one. A type someone adds fails here until its provider's ForceNew inputs are listed.
    Kubernetes objects follow their own rule (identity and immutable fields); a provider's change
    of cluster is judged by `provider_replaced`."""
    declared = {
        r.type
        for run in stack_runs.values()
        for r in run.resources
        if r.custom and not r.type.startswith(("kubernetes:", "pulumi:providers:"))
    }
    assert declared - set(diffing.REPLACE_ON) == set()
    assert set(diffing.REPLACE_ON) <= set(providers.RESOURCES), "offline knows each type it diffs"


def test_a_new_alert_address_previews_as_a_replacement(renders: dict[str, Path], tmp_path: Path) -> None:
    """terraform-provider-aws has a subscription's `endpoint` ForceNew (internal/service/sns/
    topic_subscription.go): a new auditEmail is a new subscription to each of the two topics of each
    region, and a new confirmation mail each, and the preview says replace, naming the endpoint."""
    folder = head_stack_dir(tmp_path, "production", "")
    stack_file = folder / "Pulumi.production.yaml"
    text = stack_file.read_text()
    assert "ai-etl:auditEmail: secops@example.com" in text
    stack_file.write_text(
        text.replace("ai-etl:auditEmail: secops@example.com", "ai-etl:auditEmail: alerts@example.org")
    )
    head = render("production", tmp_path / "head-render", folder).resources_path.parent
    changes = diffing.diff(diffing.load(renders["production"]), diffing.load(head))
    assert {(c.op, c.type) for c in changes} == {("replace", providers.SNS_SUBSCRIPTION)}
    assert len(changes) == 4, "one subscription per topic, two topics per region"
    assert all(c.replace_reasons == ["endpoint"] for c in changes)


def test_fingerprints_are_keyed_by_a_key_that_stays_on_the_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fingerprint never hashes a plain value: a value left in plain text (an adopted one) could
    be found from sha256(value) by trying candidates. It is an HMAC under a key made on first use,
    readable by its owner only: stable between renders on one machine (what a diff compares),
    different under another machine's key, and never the plain hash."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "one"))
    value = {"password": Sensitive("correct-horse-battery-staple")}
    first, again = fingerprints(value), fingerprints(value)
    assert first == again and set(first) == {"password"}
    plain = hashlib.sha256(json.dumps("correct-horse-battery-staple").encode()).hexdigest()[:16]
    assert first["password"] != plain
    key = tmp_path / "one" / "pulumi-offline" / "fingerprint.key"
    assert len(key.read_bytes()) == 32 and key.stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "two"))
    assert fingerprints(value) != first, "another machine's key: another fingerprint"


def test_the_wire_form_of_a_secret_is_the_sdks() -> None:
    """ai_etl/offline/sdk.py spells out the SDK's private secret signature; the pinned SDK agrees."""
    from pulumi.runtime import rpc

    assert (rpc._special_sig_key, rpc._special_secret_sig) == (sdk.SIG_KEY, sdk.SECRET_SIG)


def test_an_offline_run_takes_no_stack_traces_and_gives_the_sdks_function_back() -> None:
    """The SDK's per-registration stack trace, which offline runs skip (sdk.no_source_positions), is
    still the function the SDK calls, and an empty trace still reads as "no position"; after a run,
    even one the program ends with an error, the SDK has its own function again, and the cycle
    collector (off during a run: sdk.no_cycle_collection) is on again."""
    import gc
    import inspect

    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    own = resource._get_stack_trace
    for call in (resource.register_resource, resource.read_resource):
        assert "stack_trace = _get_stack_trace()" in inspect.getsource(call), call.__name__
    assert resource._get_source_position(source_pb2.StackTrace()) is None
    with sdk.no_source_positions():
        assert resource._get_stack_trace is not own and not resource._get_stack_trace().frames
    with pytest.raises(RuntimeError), sdk.no_source_positions():
        raise RuntimeError("the program failed")
    assert resource._get_stack_trace is own
    with pytest.raises(RuntimeError), sdk.no_cycle_collection():
        raise RuntimeError("the program failed")
    assert gc.isenabled()


FOREIGN_PROGRAM = """
import gc
import json
import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

role = aws.iam.Role("app", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": []}))
aws.iam.RolePolicy("app-read", role=role.id, policy=json.dumps({"Version": "2012-10-17", "Statement": []}))
k8s.core.v1.ConfigMap("settings", data={"LOG_LEVEL": "info"})
pulumi.export("token", pulumi.Config().require_secret("token"))
pulumi.export("collecting", gc.isenabled())
"""


def test_render_runs_any_pulumi_program_with_auto_naming(tmp_path: Path) -> None:
    """Another project, whose resources rely on Pulumi's auto-naming (an IAM role and RolePolicy
    without `name`, a ConfigMap without metadata), renders as `pulumi up` would name them; its
    `secret: true` key, unset here, gets a placeholder. The run goes without the cycle collector
    (sdk.no_cycle_collection), which is on again after it."""
    import gc

    (tmp_path / "Pulumi.yaml").write_text(
        "name: other\nruntime: python\nmain: app/\nconfig:\n  token:\n    type: string\n    secret: true\n"
    )
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__main__.py").write_text(FOREIGN_PROGRAM)
    (tmp_path / "Pulumi.qa.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    rendered = render("qa", tmp_path / "out", tmp_path)
    assert rendered.run.exports["collecting"] is False and gc.isenabled()
    names = {
        r.type: r.inputs.get("name") or r.inputs.get("metadata", {}).get("name")
        for r in rendered.run.resources
    }
    policy = rendered.run.one("aws:iam/rolePolicy:RolePolicy")
    assert re.fullmatch(r"app-read-[0-9a-f]{7}", str(policy.outputs["name"]))
    assert names["aws:iam/role:Role"] is None and rendered.run.one("aws:iam/role:Role").outputs[
        "name"
    ].startswith("app-")
    assert rendered.placeholders == ("other:token",)
    assert rendered.run.resources[0].urn == "urn:pulumi:qa::other::aws:iam/role:Role::app"


def _record(inputs: dict, name: str = "r", type_: str = "kubernetes:apps/v1:Deployment") -> dict:
    return {"urn": f"urn:{name}", "type": type_, "name": name, "inputs": inputs}


SHOP_PROJECT = """name: shop
runtime: python
config:
  greeting:
    type: string
  logLevel:
    type: string
    default: info
  apiToken:
    type: string
    secret: true
"""
SHOP_PROGRAM = """
import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

config = pulumi.Config()
if config.get("fail"):
    raise {error}(config.get("fail"))
password = random.RandomPassword("db", length=24, special=False)
k8s.core.v1.ConfigMap(
    "settings",
    metadata={{"name": "shop-settings"}},
    data={{"GREETING": config.require("greeting"), "LOG_LEVEL": config.require("logLevel")}},
)
pulumi.export("password", password.result)
pulumi.export("token", config.require_secret("apiToken"))
"""


def shop(
    folder: Path, stack_config: str = "  shop:greeting: hello\n", error: str = "pulumi.RunError"
) -> Path:
    """Another project than this one: its own name, stack file and program (a random password and
    a Kubernetes ConfigMap), and none of this repository's files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Pulumi.yaml").write_text(SHOP_PROJECT)
    (folder / "Pulumi.qa.yaml").write_text("config:\n" + stack_config)
    (folder / "__main__.py").write_text(SHOP_PROGRAM.format(error=error))
    return folder


def offline(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m ai_etl.offline ...` as a user runs it, from `cwd`."""
    command = [sys.executable, "-m", "ai_etl.offline", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def test_render_runs_another_project_from_its_folder(tmp_path: Path) -> None:
    """Run from another project's folder, the render knows that project only: its name from its
    Pulumi.yaml (in every URN), its stack file, its declared default, its secret key's placeholder,
    and its output folder; nothing of this project's name or files."""
    project = shop(tmp_path / "shop")
    result = offline("render", "qa", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "placeholders (secret here, not decryptable offline): shop:apiToken" in result.stdout
    resources = json.loads((project / "build" / "qa" / "resources.json").read_text())["resources"]
    assert [(r["type"], r["urn"]) for r in resources] == [
        (RANDOM_PASSWORD, f"urn:pulumi:qa::shop::{RANDOM_PASSWORD}::db"),
        ("kubernetes:core/v1:ConfigMap", "urn:pulumi:qa::shop::kubernetes:core/v1:ConfigMap::settings"),
    ]
    (config_map,) = yaml.safe_load_all((project / "build" / "qa" / "kubernetes.yaml").read_text())
    assert config_map["data"] == {"GREETING": "hello", "LOG_LEVEL": "info"}
    assert "ai-etl" not in (project / "build" / "qa" / "resources.json").read_text()


def test_render_takes_the_project_folder_as_pulumi_does(tmp_path: Path) -> None:
    """`-C DIR` names the project's folder, as `pulumi -C DIR`; the render lands in its build/."""
    project = shop(tmp_path / "shop")
    result = offline("render", "qa", "-C", str(project), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (project / "build" / "qa" / "resources.json").exists()


def test_a_programs_error_reads_as_pulumi_shows_it(tmp_path: Path) -> None:
    """A program's `pulumi.RunError` (a missing required key, say) is its message alone, as the
    language host prints it, after the line saying the program runs; any other exception keeps its
    traceback, as the host prints it; the CLI's own checks of declared config come first, in the
    CLI's words and then the command that fixes it, before the program runs."""
    missing = offline(
        "render", "qa", cwd=shop(tmp_path / "a", "  shop:greeting: hello\n  shop:fail: no cluster\n")
    )
    running = "render qa: running the program under the Pulumi SDK's mocks...\n"
    assert (missing.returncode, missing.stderr) == (2, f"{running}error: no cluster\n")
    crash = shop(tmp_path / "b", "  shop:greeting: hello\n  shop:fail: boom\n", error="KeyError")
    crashed = offline("render", "qa", cwd=crash)
    assert crashed.returncode != 0 and "Traceback" in crashed.stderr and "KeyError: 'boom'" in crashed.stderr
    undeclared = offline("render", "qa", cwd=shop(tmp_path / "c", "  shop:logLevel: debug\n"))
    assert (undeclared.returncode, undeclared.stderr) == (
        2,
        "error: Stack 'qa' is missing configuration value 'greeting' (the Pulumi CLI's own check)\n"
        "  fix: pulumi config set greeting '<text>' --stack qa\n",
    )


def test_offline_knows_real_provider_types() -> None:
    """Offline keeps its own list of the provider types and functions it answers for (it imports
    nothing of this project); each is a real one of the installed provider SDKs."""
    for token in providers.RESOURCES:
        assert isinstance(sdk_class(token), type), token
    for token in providers.FUNCTIONS:
        assert callable(sdk_function(token)), token


def test_offline_knows_the_aws_partitions_botocore_knows() -> None:
    """Offline's AWS partitions (for ARNs and endpoints) are botocore's: every partition's region
    pattern and DNS suffix, and the partition of every region botocore lists."""
    spec = importlib.util.find_spec("botocore")
    assert spec is not None and spec.origin is not None
    data = json.loads((Path(spec.origin).parent / "data" / "partitions.json").read_text())["partitions"]
    assert set(providers.PARTITIONS) == {(p["id"], p["regionRegex"], p["outputs"]["dnsSuffix"]) for p in data}
    for p in data:
        for region in p["regions"]:
            if not region.endswith("-global"):
                assert providers.partition(region) == p["id"], region
        assert providers.dns_suffix(p["id"]) == p["outputs"]["dnsSuffix"]


def test_the_diff_names_list_entries_and_follows_json_into_policies() -> None:
    """An env var is named, not numbered, so adding one shows one addition, not every later entry
    shifted; a one-statement change to an IAM policy (a JSON string) shows that field alone."""
    env = [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]
    base = _record({"env": env})
    head = _record({"env": [env[0], {"name": "B", "value": "2"}, env[1]]})
    assert [path for path, _, _ in diffing.changed_fields(base, head)] == ["env[B].name", "env[B].value"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt"}]}
    wider = {**policy, "Statement": [{"Effect": "Allow", "Action": "kms:*"}]}
    old = _record({"policy": json.dumps(policy)}, type_="aws:iam/rolePolicy:RolePolicy")
    new = _record({"policy": json.dumps(wider)}, type_="aws:iam/rolePolicy:RolePolicy")
    assert diffing.changed_fields(old, new) == [("policy.Statement[0].Action", "kms:Decrypt", "kms:*")]


def test_the_text_diff_reads_like_pulumi_preview() -> None:
    """A header naming the stack, a closing count of unchanged resources, colour only when asked."""
    base, head = [_record({"replicas": 1}), _record({}, "s")], [_record({"replicas": 2}), _record({}, "s")]
    changes = diffing.diff(base, head)
    plain = formats.format_text(changes, stack="dev", unchanged=diffing.unchanged_count(head, changes))
    assert plain.splitlines()[0] == "Offline preview of stack dev"
    assert plain.splitlines()[-1] == "1 to update, 1 unchanged"
    assert "\033[" not in plain
    assert "\033[33m" in formats.format_text(changes, colour=True)


def test_the_markdown_diff_paints_no_resource_as_added() -> None:
    """In the comment's ```diff block only field lines start with + or -; a resource's name is a
    hunk header."""
    changes = diffing.diff([_record({"replicas": 1})], [_record({"replicas": 2})])
    block = formats.format_markdown(changes).split("```diff\n")[1].split("```")[0].splitlines()
    assert block[0] == "@@ update r @@"
    assert all(line.startswith(("-   ", "+   ", "@@ ")) for line in block)


def test_a_change_made_alike_on_many_resources_is_said_once() -> None:
    """A label changed on every object is one line naming the resources, not one per object; a
    resource's own changes stay under it."""
    base = [_record({"labels": {"grade": "standard"}, "replicas": 1}, n) for n in ("a", "b", "c")]
    head = [_record({"labels": {"grade": "production"}, "replicas": 2 if n == "a" else 1}, n) for n in "abc"]
    text = formats.format_text(diffing.diff(base, head))
    assert text.count('labels.grade: "standard" => "production"') == 1
    assert "The same change on 3 resources (a, b, c):" in text
    assert "      ~ replicas: 1 => 2" in text.split("The same change")[0]


def test_answers_let_a_render_meet_another_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--answers FILE` replaces what a provider function answers: a standard-grade stack renders
    on a 1.27 cluster with the preview's warning on stderr; a production-grade one (by its stack
    file, whatever its name) refuses it, as `pulumi preview` would."""
    standard, production = STANDARD_GRADE[0], PRODUCTION_GRADE[0]
    answers = tmp_path / "answers.yaml"
    answers.write_text("aws:eks/getCluster:getCluster:\n  version: '1.27'\n")
    assert main(["render", standard, "--out", str(tmp_path / "s"), "--answers", str(answers)]) == 0
    cluster = settings_of(standard).config.cluster_name
    assert f"warning: cluster '{cluster}' runs Kubernetes 1.27" in capsys.readouterr().err
    assert main(["render", production, "--out", str(tmp_path / "p"), "--answers", str(answers)]) == 2
    err = capsys.readouterr().err
    cluster = settings_of(production).config.cluster_name
    assert f"error: cluster '{cluster}' refused" in err and "--kubernetes-version 1.28" in err
    answers.write_text("- not a mapping\n")
    assert main(["render", "dev", "--out", str(tmp_path / "dev"), "--answers", str(answers)]) == 2
    assert "expected a mapping of function tokens" in capsys.readouterr().err
