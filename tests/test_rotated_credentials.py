"""This project's diff (`python -m ai_etl.ops.diff`): the offline diff of two renders, opened by the
credentials the change rotates; the generic offline diff knows nothing of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_etl.names import ACTIVE_ROLE_TAG
from ai_etl.offline import diff as diffing
from ai_etl.offline import formats
from ai_etl.offline.cli import main as offline_main
from ai_etl.offline.render import render
from ai_etl.ops.diff import main, preface, rotated_credentials
from tests.helpers import project_copy

ROTATE_DB_PASSWORD = "  ai-etl:rotation:\n    db-password: 1\n"


@pytest.fixture(scope="module")
def rotation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Production as it is, and production with db-password rotated: two render folders."""
    tmp = tmp_path_factory.mktemp("rotation")
    base = render("production", tmp / "base").resources_path.parent
    folder = project_copy(tmp / "head", "production", ROTATE_DB_PASSWORD)
    head = render("production", tmp / "head-render", folder).resources_path.parent
    return base, head


def test_a_diff_opens_with_the_credentials_it_rotates(rotation: tuple[Path, Path]) -> None:
    """A reviewer sees first which credentials change and, for a server credential, which login
    role becomes active and that pods not yet rolled keep the other (the secret's ActiveRole tag,
    before and after): bumping db-password changes it, its verifiers and DATABASE_URL."""
    base, head = diffing.load(rotation[0]), diffing.load(rotation[1])
    rotated = rotated_credentials(base, head, "production")
    assert [(c.name, c.key, c.role, c.old_role) for c in rotated] == [
        ("ai-etl/production/database-url", "database-url", None, None),
        ("ai-etl/production/db-password", "db-password", "ai_etl_green", "ai_etl_blue"),
        ("ai-etl/production/db-password-verifiers", "db-password-verifiers", None, None),
    ]
    text = formats.format_text(diffing.diff(base, head), preface=preface(rotated))
    assert text.startswith("Credentials this change rotates (3):\n  ai-etl/production/database-url\n")
    assert (
        "ai-etl/production/db-password  -> login role ai_etl_green becomes active (its rotation step "
        "sets its new password first); pods not yet rolled keep working on ai_etl_blue"
    ) in text
    markdown = formats.format_markdown(diffing.diff(base, head), "production", preface=preface(rotated))
    assert markdown.startswith("### production\n\n**Credentials this change rotates (3):**")
    assert "- `ai-etl/production/db-password`: login role ai_etl_green becomes active" in markdown


def test_the_credential_is_found_by_what_its_value_depends_on() -> None:
    """A value names its secret by an ARN the render does not hold; the secret is the one the value
    depends on, whatever the ARN looks like, and its role is its ActiveRole tag. A value whose
    secret is not in the render is listed by the ARN it names."""
    secret = {
        "urn": "urn:s",
        "type": "aws:secretsmanager/secret:Secret",
        "name": "s",
        "inputs": {"name": "ai-etl/dev/db-password", "tags": {ACTIVE_ROLE_TAG: "ai_etl_blue"}},
    }
    version = {
        "urn": "urn:v",
        "type": "aws:secretsmanager/secretVersion:SecretVersion",
        "name": "v",
        "dependencies": ["urn:s"],
        "inputs": {"secretId": "arn:aws:secretsmanager:us-east-1:1:secret:unrelated-abcdef"},
    }
    orphan = {**version, "urn": "urn:o", "dependencies": [], "inputs": {"secretId": "arn:x"}}
    found, lone = rotated_credentials([], [secret, version, orphan], "dev")
    assert (found.name, found.key, found.role) == ("ai-etl/dev/db-password", "db-password", "ai_etl_blue")
    assert found.step == "its rotation step sets the password of login role ai_etl_blue"
    assert (lone.name, lone.key, lone.role, lone.step) == ("arn:x", None, None, None)


def test_the_projects_diff_command_says_it_and_the_generic_one_does_not(
    rotation: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m ai_etl.ops.diff` (what CI posts) opens with the credentials; `python -m
    ai_etl.offline diff` shows the same changes for any project, without this project's reading."""
    base, head = map(str, rotation)
    assert main([base, head, "--format", "markdown", "--title", "production", "--exit-code"]) == 1
    ours = capsys.readouterr().out
    assert ours.startswith("### production\n\n**Credentials this change rotates (3):**")
    assert offline_main(["diff", base, head, "--format", "markdown", "--title", "production"]) == 0
    generic = capsys.readouterr().out
    assert "Credentials" not in generic and generic.startswith("### production\n\n**2 to create")
    assert ours.endswith(generic.split("\n\n", 1)[1])


@pytest.mark.parametrize(("before", "after"), [(1, 0), (1, 3), (0, 2)])
def test_a_generation_moved_by_more_than_one_is_called_a_danger(
    tmp_path: Path, before: int, after: int
) -> None:
    """Lowering a generation after its rotation, or jumping two, gives the login role the running
    pods use a new password too: they would fail to connect until they roll. The diff says so
    first, instead of promising that old pods keep working; a bump by one says nothing of it."""
    renders = {}
    for generation in (before, after, before + 1):
        folder = project_copy(
            tmp_path / f"g{generation}", "production", f"  ai-etl:rotation:\n    db-password: {generation}\n"
        )
        renders[generation] = diffing.load(
            render("production", tmp_path / f"r{generation}", folder).resources_path.parent
        )
    (moved,) = [
        c
        for c in rotated_credentials(renders[before], renders[after], "production")
        if c.key == "db-password"
    ]
    assert moved.breaks and moved.step is not None and moved.step.startswith("DANGER: login role ")
    (bumped,) = [
        c
        for c in rotated_credentials(renders[before], renders[before + 1], "production")
        if c.key == "db-password"
    ]
    assert not bumped.breaks and "keep working" in str(bumped.step)
