"""The README and docs/ are what people run: every command, URN, key and example in them must match
the program as it is."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from ai_etl import names
from ai_etl.catalogue import CATALOGUE, admin_secret, server_credentials
from ai_etl.config.settings import ConfigError, StackConfig, WorkloadSettings
from ai_etl.names import PROJECT
from ai_etl.offline.diff import diff
from ai_etl.offline.render import render, resource_record
from ai_etl.offline.runner import run_program
from ai_etl.offline.stackconfig import StackConfigError
from ai_etl.ops.docs import PAGES
from ai_etl.ops.docs import main as docs_main
from ai_etl.ops.impact import ALTERNATES, impact_table, settings_keys
from ai_etl.tokens import KMS_KEY
from tests.fakecli import cli_stored
from tests.helpers import (
    PLACEHOLDERS,
    STACKS,
    copy_project,
    manifests,
    run_stack,
    secrets_manager_values,
    stack_config,
)
from tests.paths import PROGRAM, PROJECT_DIR

README = (PROJECT_DIR / "README.md").read_text()
DOCS = PROJECT_DIR / "docs"


def without(config_key: str) -> dict[str, str]:
    """The provided secrets, less one."""
    return {k: v for k, v in PLACEHOLDERS.items() if k != f"ai-etl:{config_key}"}


def fenced(text: str, after: str, lang: str = "bash") -> str:
    """The first fenced block of `lang` after the line holding `after` (`lang=""`: a block with no
    language). Fences are paired in order, so a closing fence never passes for an opening one."""
    rest = text[text.index(after) :]
    blocks = re.findall(r"^```(\S*)\n(.*?)^```$", rest, re.S | re.M)
    found = next((body for tag, body in blocks if tag == lang), None)
    assert found is not None, f"no {lang or 'plain'} block after {after!r}"
    return str(found)


def test_the_server_rotation_runbook_bumps_to_the_job_and_role_it_describes() -> None:
    """The database-password runbook's bump, applied to production as printed, gives the new
    generation's Job the page names (`ai-etl-db-password-step-<generation>`), and moves
    DATABASE_URL's role to the other colour."""
    text = (DOCS / "runbooks.md").read_text()
    value = re.search(r"config set --path 'rotation.db-password' (\S+) --stack production", text)
    assert value, "the runbook sets the generation"
    assert "ai-etl-db-password-step-<generation>" in text
    before, after = (
        run_stack("production"),
        run_stack("production", overrides={"ai-etl:rotation": {"db-password": cli_stored(value[1], True)}}),
    )
    jobs = {m["metadata"]["name"] for m in manifests(after) if m["kind"] == "Job"}
    assert names.step_job("db-password", int(value[1])) in jobs
    user = stack_config("production").get("ai-etl:database", {}).get("user", "ai_etl")
    roles = [make_url(secrets_manager_values(run)["database-url"]).username for run in (before, after)]
    assert roles == [f"{user}_blue", f"{user}_green"]


def test_the_first_deploy_sets_every_administrator_password_the_steps_need() -> None:
    """The first deploy needs no hand-run step on a server: it asks only for the administrators'
    passwords (by prompt, as every provided secret), one per server credential of the catalogue."""
    block = (DOCS / "runbooks.md").read_text().split("## First deploy", 1)[1].split("\n## ", 1)[0]
    assert "```" not in block, "no script to run by hand"
    asked = re.findall(r"pulumi config set --secret (\S+) --stack (\S+)`", block)
    admins = {str(admin_secret(spec).config_key) for spec in server_credentials(CATALOGUE)}
    assert {key for key, _ in asked} == admins and len({stack for _, stack in asked}) == 1


def test_every_config_key_is_documented() -> None:
    """Each key of Pulumi.yaml's schema and every settings field appears in the configuration docs."""
    text = (DOCS / "configuration.md").read_text()
    for key in yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]:
        assert f"`ai-etl:{key}`" in text, key
    for model in (StackConfig, WorkloadSettings):
        for info in model.model_fields.values():
            assert f"`{info.alias}`" in text or f"`ai-etl:{info.alias}`" in text, info.alias


def test_the_documented_error_is_what_the_program_prints() -> None:
    """The configuration page's example error is, to the character, the program's message."""
    shown = fenced((DOCS / "configuration.md").read_text(), "`pulumi preview` stops with", lang="")
    try:
        run_stack(
            "production",
            overrides={"ai-etl:recoveryWindowInDays": 3, "ai-etl:backend": {"memoryRequst": "1Gi"}},
        )
    except ConfigError as error:
        assert shown == f"error: {error}\n"
    else:
        raise AssertionError("the documented mistakes were accepted")


def test_every_docs_link_resolves() -> None:
    """The README's and the docs' relative links name files (and headings) that exist."""
    for page in [PROJECT_DIR / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(((?!https?://)[^)#]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to {target}"


@pytest.mark.slow  # three offline runs, each its own process, in a copy
def test_the_readme_offline_example_runs_as_printed(tmp_path: Path) -> None:
    """The README's base / change / head / diff commands, run as printed in a clean copy of the
    project, print the output the README shows, and leave the stack file as it was."""
    project = copy_project(tmp_path / "project")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "add", "Pulumi.production.yaml"], cwd=project, check=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", "commit", "-qm", "base"], cwd=project, check=True, env=env)
    before = (project / "Pulumi.production.yaml").read_text()
    commands = fenced(README, "See what a change does")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", commands], cwd=project, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    shown = fenced(README, "See what a change does", lang="").strip()
    assert shown.startswith("Offline preview of stack production") and shown in result.stdout
    assert (project / "Pulumi.production.yaml").read_text() == before


def test_ci_runs_the_readme_test_command() -> None:
    """CI runs exactly the test command README gives."""
    assert "make test " in fenced(README, "## Quick start")
    assert (PROJECT_DIR / ".ci" / "run").read_text().strip().endswith("make test")


def check_impact_table(impact: str) -> None:
    """The configuration page's change-impact table is what the program does today, with a row for
    every setting (a new setting needs its alternate value in ai_etl/ops/impact.py). Only a server
    credential's bump does something on a server: the table names the login role that becomes
    active and says that pods not yet rolled keep working, and a change of kind or host says the
    server moves and its data stays behind; a new password length changes nothing;
    an image rolls pods without touching a credential."""
    assert set(ALTERNATES) == set(settings_keys())
    assert impact in (DOCS / "configuration.md").read_text()
    rows = {row.split(" | ")[0].lstrip("| "): row.split(" | ") for row in impact.splitlines()[2:]}
    servers = {change: cells[6].strip(" |") for change, cells in rows.items() if cells[6].strip(" |") != "-"}
    # A change of kind or host moves a server: the row says from where to where, and that the data stays.
    moves = {change for change in servers if re.match(r"`(database|redis)\.(kind|host)`", change)}
    assert {"`database.host`", "`redis.host`"} <= moves
    assert all(
        " moves from " in servers[change] and "the data stays on" in servers[change] for change in moves
    )
    # A new user name moves the credential onto new login roles, its password kept.
    renamed = {"`database.user`", "`redis.user`"}
    rotations = {f"rotate `{spec.key}`" for spec in server_credentials(CATALOGUE)}
    assert set(servers) - moves - renamed == rotations
    assert all(
        "pods not yet rolled keep working" in servers[change]
        for change in moves
        if change.startswith("`redis.kind`")
    )
    for change in renamed:
        said = servers[change]
        assert re.search(r"login role ai_etl_2_blue becomes active.*keep working on ai_etl_blue", said)
    moves |= renamed
    for said in (said for change, said in servers.items() if change not in moves):
        assert re.search(r"login role \w+_green becomes active", said) and "keep working on" in said
    assert rows["`passwordLength`"][1:6] == ["-", "-", "-", "no", "-"]
    assert rows["`backend.image`"][4:6] == ["yes", "-"]


def test_the_documented_cli_errors_are_the_clis() -> None:
    """The configuration page's examples of what the CLI stops on are, to the character, what the
    CLI's checks (as the offline engine runs them) say for those mistakes."""
    shown = fenced((DOCS / "configuration.md").read_text(), "Its messages are its own", lang="").splitlines()
    mistakes = [
        ({}, without("qwenApiKey")),
        ({"ai-etl:s3AccessKey": "plain"}, without("s3AccessKey")),
        ({"ai-etl:protect": "yes"}, None),
    ]
    said = []
    for overrides, secrets in mistakes:
        try:
            run_stack("production", overrides=overrides, secrets=secrets)
        except StackConfigError as error:
            said.append(f"error: {error.cli_message}")  # what the CLI prints; offline adds the fix
    assert said == shown


def test_no_command_puts_a_secret_value_on_the_command_line() -> None:
    """Every `config set --secret` the docs, the stack files, the takeover and the program's own
    fixes print takes its value from the prompt or a pipe, never as an argument, which would land
    in shell history and the process list."""
    texts = [PROJECT_DIR / "README.md", *DOCS.glob("*.md"), *PROJECT_DIR.glob("Pulumi.*.yaml")]
    corpus = "\n".join(p.read_text() for p in texts)
    try:  # the program's own check, where no CLI checked first (the Automation API, say)
        run_program("production", stack_config("production"), {}, program=PROGRAM, project=PROJECT)
    except ConfigError as error:
        corpus += f"\n{error}"
    commands = re.findall(r"config set --secret(?: --path)? ('[^']*'|[^\s`]+) ([^\s`]+)", corpus)
    assert len(commands) >= 10
    for key, after in commands:
        assert after == "--stack", f"a value on the command line: config set --secret {key} {after}"


def test_the_replica_region_runbook_unprotects_exactly_the_key_it_replaces() -> None:
    """Its `state unprotect` lines name production's replica-region keys (the secrets' replica key
    and that region's audit key), protected; and the region change the runbook makes replaces those
    keys (and nothing else protected) in the offline diff."""
    block = fenced((DOCS / "runbooks.md").read_text(), "## Changing the replica region")
    urns = set(re.findall(r"pulumi state unprotect '([^']+)' --stack production", block))
    region = re.search(r"pulumi config set replicaRegion (\S+) --stack production", block)
    assert region
    base = run_stack("production")
    keys = [r for r in base.resources if r.urn in urns]
    assert len(keys) == len(urns) and all(k.type == KMS_KEY and k.protect for k in keys)
    head = run_stack("production", overrides={"ai-etl:replicaRegion": region[1]})
    changes = diff([resource_record(r) for r in base.resources], [resource_record(r) for r in head.resources])
    protected = {r.urn for r in base.resources if r.protect}
    assert {c.urn for c in changes if c.op == "replace" and c.urn in protected} == urns


@pytest.mark.heavy
def test_make_docs_names_exactly_the_files_it_rewrote_and_every_generated_part_is_current(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make docs` with one generated part stale and `.env.example` missing writes those two files,
    names exactly them, and touches no other; as it works it says, on stderr, which document it is
    making, one line each, the long one marked as such (otherwise a quarter of a minute of
    silence). Run again, on the project as committed, it rewrites nothing and says so: every
    generated part (the README's example output, the secrets and impact tables, the takeover
    script) is what the program makes now; and the impact table says what check_impact_table asks.
    Both runs are the Makefile's recipe (`python -m ai_etl.ops.docs write`: its module's main with
    its arguments) in this process, in the copy's folder, so the impact table (a run of the
    program per setting and rotation, the quarter of a minute) is made once for all three."""
    recipe = re.search(
        r"^docs: setup\n\t\$\(PY\) -m (\S+) (.+)$", (PROJECT_DIR / "Makefile").read_text(), re.M
    )
    assert recipe and recipe[1] == docs_main.__module__, "make docs runs the docs module's main"
    argv = recipe[2].split()

    def make_docs(project: Path) -> tuple[str, str]:
        monkeypatch.chdir(project)
        docs_main(argv)
        said = capsys.readouterr()
        return said.out, said.err

    project = copy_project(tmp_path / "project")
    generated = [project / ".env.example", *(project / page for page in sorted(set(PAGES.values())))]
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace("1 to update", "2 to update"))
    untouched = {path: path.stat().st_mtime_ns for path in generated[1:] if path != readme}
    (project / ".env.example").unlink()
    out, err = make_docs(project)
    assert out.splitlines() == ["wrote .env.example", "wrote README.md"]
    assert {path: path.stat().st_mtime_ns for path in untouched} == untouched
    assert "1 to update" in readme.read_text()
    documents = [".env.example", *(f"{name} in {page}" for name, page in PAGES.items())]
    assert [line.split(" (")[0] for line in err.splitlines()] == [f"docs: making {d}" for d in documents]
    assert [line for line in err.splitlines() if "the long step" in line] == [
        "docs: making impact-table in docs/configuration.md "
        "(the program runs offline once per setting and per rotation: the long step)"
    ]
    # The committed project: its own files, copied anew.
    project = copy_project(tmp_path / "committed")
    generated = [project / ".env.example", *(project / page for page in sorted(set(PAGES.values())))]
    before = {path: (path.stat().st_mtime_ns, path.read_text()) for path in generated}
    out, _ = make_docs(project)
    assert out.startswith("nothing to write: ")
    assert {path: (path.stat().st_mtime_ns, path.read_text()) for path in generated} == before
    check_impact_table(impact_table())


def documented_rbac() -> dict[str, list[dict[str, object]]]:
    """The Roles and ClusterRoles in docs/ci.md's YAML blocks, by name."""
    text = (PROJECT_DIR / "docs" / "ci.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    docs = [d for block in blocks for d in yaml.safe_load_all(block) if d]
    return {d["metadata"]["name"]: d["rules"] for d in docs if d.get("kind") in ("Role", "ClusterRole")}


def covered(rules: list[dict[str, object]], group: str, resource: str, verbs: set[str]) -> bool:
    granted: set[str] = set()
    for rule in rules:
        if group in rule["apiGroups"] and resource in rule["resources"]:  # type: ignore[operator]
            granted |= set(rule["verbs"])  # type: ignore[call-overload]
    return verbs <= granted


def plural(kind: str) -> str:
    return kind.lower()[:-1] + "ies" if kind.endswith("y") else kind.lower() + "s"


def test_the_deploy_role_names_the_elasticache_actions_of_every_rendered_cache_type() -> None:
    """Users write the deploy role from docs/ci.md: for each ElastiCache type a committed stack
    renders (aws:elasticache/user:User, .../userGroup:UserGroup), it names the create, modify,
    delete and describe actions the provider calls (the service authorization reference's names:
    CreateUser, DescribeUsers, ...), each scoped to an ARN of that resource type, not `*`."""
    section = (DOCS / "ci.md").read_text().split("The deploy role, ", 1)[1].split("The preview role, ", 1)[0]
    types = {
        r.type
        for stack in STACKS
        for r in run_stack(stack).resources
        if r.type.startswith("aws:elasticache/")
    }
    assert types, "a committed stack (staging) renders ElastiCache users"
    # A membership is no resource of ElastiCache's: the provider adds and removes it with the
    # group's ModifyUserGroup and reads it with DescribeUserGroups (hashicorp/terraform-provider-aws
    # internal/service/elasticache/user_group_association.go).
    acts_as = {"UserGroupAssociation": "UserGroup"}
    for token in sorted(types):
        name = token.rsplit(":", 1)[1]
        name = acts_as.get(name, name)
        for action in (f"Create{name}", f"Modify{name}", f"Delete{name}", f"Describe{name}s"):
            assert f"`elasticache:{action}`" in section, action
        arn = name.lower()  # the ARN's resource type: user, usergroup
        assert f"arn:aws:elasticache:<region>:111111111111:{arn}:" in section, arn
    # The lookups every preview makes (config/cachegroup.py, config/trail.py): Cloud Control's
    # GetResource and each type's read handler, for the deploy role and the preview role alike.
    for action in (
        "cloudformation:GetResource",
        "elasticache:DescribeReplicationGroups",
        "cloudtrail:GetTrail",
    ):
        assert f"`{action}`" in section, action


@pytest.mark.slow  # renders every stack
@pytest.mark.parametrize("stack", STACKS)
def test_the_documented_kubernetes_roles_cover_every_rendered_kind(tmp_path: Path, stack: str) -> None:
    """Users apply docs/ci.md's Roles as they are: the deploy role can manage, and the preview role
    read, every kind the program renders (the Namespace from a ClusterRole, it being
    cluster-scoped), and the deploy role holds what the program's own Role grants."""
    rules = documented_rbac()
    render(stack, tmp_path / stack)
    docs = [d for d in yaml.safe_load_all((tmp_path / stack / "kubernetes.yaml").read_text()) if d]
    manage = {"get", "create", "update", "patch", "delete"}
    for doc in docs:
        group = doc["apiVersion"].rpartition("/")[0]
        resource = plural(doc["kind"])
        scope = "ai-etl-deploy-<stack>" if "namespace" not in doc["metadata"] else "ai-etl-deploy"
        read = "ai-etl-read-<stack>" if "namespace" not in doc["metadata"] else "ai-etl-read"
        assert covered(rules[scope], group, resource, manage), f"deploy cannot manage {doc['kind']}"
        assert covered(rules[read], group, resource, {"get"}), f"preview cannot read {doc['kind']}"
        if doc["kind"] == "Role":
            for rule in doc["rules"]:
                for g in rule["apiGroups"]:
                    for r in rule["resources"]:
                        assert covered(rules["ai-etl-deploy"], g, r, set(rule["verbs"])), (g, r)
