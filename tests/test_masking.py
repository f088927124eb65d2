"""One masking rule (ai_etl/masking.py): no message, warning, fix, export or rendered file
shows the value of a secret key, a credential inside a URL (user-info, query, fragment) or an
image reference's registry credentials; and a URL carrying credentials is refused in a key stored in
plain text.

The keys come from the settings model (every field of StackConfig and of each workload, nested
models included), the catalogue's provided secrets and the generated ones `adopt` keeps: a setting
added there is covered with no edit here. Each key gets a distinct sentinel in a credential
position, many keys per run; every run but one stops at its config error, before anything is
declared, so the whole costs about one render.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_origin

import pytest
import yaml
from pydantic import BaseModel

from ai_etl.catalogue import CONSUMERS, Source, of_source
from ai_etl.config.commands import shown
from ai_etl.config.models import StackConfig, WorkloadSettings
from ai_etl.config.settings import ConfigError
from ai_etl.masking import masked
from ai_etl.names import PROJECT
from ai_etl.offline.records import Run, unwrap
from ai_etl.offline.render import kubernetes_documents, resource_record
from ai_etl.offline.stackconfig import StackConfigError
from ai_etl.tokens import SM_VERSION
from tests import fakecli
from tests.helpers import PLACEHOLDERS, plain_text, run_config, stack_config
from tests.pasting import PROMPTED, Project, fixes, project
from tests.paths import PROJECT_DIR

__all__ = ["project"]  # the fixture

Setting = tuple[tuple[str | int, ...], Any]
"""A setting's path and its type."""
STACK = "dev"


def settings_of(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[Setting]:
    """Every leaf setting of `model`, nested models walked, with its type."""
    for f in model.model_fields.values():
        path = (*prefix, str(f.alias))
        if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel):
            yield from settings_of(f.annotation, path)
        else:
            yield path, f.annotation


SETTINGS = [
    *settings_of(StackConfig),
    *(setting for c in CONSUMERS for setting in settings_of(WorkloadSettings, (c.name,))),
]
GENERATED = [s.key for s in of_source(Source.GENERATED)]
PROVIDED = [f"{PROJECT}:{s.config_key}" for s in of_source(Source.PROVIDED)]


class Sentinels:
    """Distinct values no program text, name or digest holds by chance."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def text(self, part: str = "") -> str:
        self.made.append(f"zqsentinel{len(self.made)}{part}x")
        return self.made[-1]

    def number(self) -> int:
        self.made.append(str(731_000_000 + len(self.made)))
        return int(self.made[-1])

    def url(self) -> str:
        """An https URL with a sentinel in each credential position: user, password, a path
        parameter, the query and the fragment (its host says which key it is, and may be shown)."""
        return (
            f"https://{self.text('user')}:{self.text('password')}@hooks.example.com/v1;token={self.text('path')}"
            f"?token={self.text('query')}&page=1#{self.text('fragment')}"
        )

    def image(self) -> str:
        """An image reference with sentinel registry credentials before its registry."""
        return f"{self.text('user')}:{self.text('password')}@registry.example.com/ai-etl-x:1.0.0"

    def leaked(self, text: str) -> list[str]:
        return [s for s in self.made if s in text]


def value_of(kind: Any, text: Callable[[], Any], number: Callable[[], int] | None) -> Any:
    """A value of a setting's type built from sentinels; None where the type holds none (a flag, or
    a number when no `number` is given)."""
    if kind is bool:
        return None
    if kind is int:
        return number() if number else None
    if get_origin(kind) is list:
        return [text()]
    if get_origin(kind) is dict:  # rotation values, by generated secret
        return {key: text() for key in GENERATED}
    return text()


def top_level(values: dict[tuple[str | int, ...], Any]) -> dict[str, Any]:
    """Leaf values by path, as the stack's `ai-etl:` keys."""
    out: dict[str, Any] = {}
    for path, value in values.items():
        node = out
        for part in path[:-1]:
            node = node.setdefault(str(part), {})
        node[str(path[-1])] = value
    return {f"{PROJECT}:{k}": v for k, v in out.items()}


def encrypted(value: Any) -> Any:
    """`value` as `config set --secret` (with --path, leaf by leaf) stores it."""
    if isinstance(value, dict):
        return {k: encrypted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encrypted(v) for v in value]
    return fakecli.encrypted(value if isinstance(value, str) else json.dumps(value))


def outcome(stored: dict[str, Any], stack: str = STACK) -> Run | str:
    """The run of a stack file's `config:` (as the CLI hands it over), or the error's message (the
    program's, or the CLI's own for what Pulumi.yaml declares)."""
    try:
        return run_config(stack, *fakecli.handed(stored))
    except (ConfigError, StackConfigError) as error:
        return str(error)


def pasted(message: str, stored: dict[str, Any]) -> dict[str, Any]:
    """The stack file's `config:` once every fix of `message` ran as the CLI runs it
    (tests/fakecli.py), each prompt answered."""
    stored = json.loads(json.dumps(stored))
    for line in fixes(message):
        for command in line.split(" && "):
            words = shlex.split(command)
            assert words[0] == "pulumi", command
            fakecli.apply(words[1:], stored, PROJECT, lambda: PROMPTED)
    return stored


def plain(stored: dict[str, Any]) -> str:
    """What a stack file holds in plain text."""
    return json.dumps(fakecli.handed(stored)[0])


def surfaces(run: Run | str) -> str:
    """Everything a user or a reader of the plan sees of a run: its error, or its warnings,
    exports, resources.json and kubernetes.yaml, as the offline render writes them."""
    if isinstance(run, str):
        return run
    records = json.dumps([resource_record(r) for r in run.resources])
    kubernetes = yaml.safe_dump_all(kubernetes_documents(run))
    return "\n".join([*run.warnings, plain_text(run.exports), records, kubernetes])


@pytest.fixture(autouse=True)
def _fingerprint_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """resource_record fingerprints secrets with this machine's key: a test's own, here."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.mark.usefixtures("every_problem")
def test_no_secret_value_is_shown_whatever_key_holds_it() -> None:
    """Every setting stored with --secret (each leaf a sentinel of its type), the provided secrets
    and the adopted values too: each key is refused or judged by name, no message or fix shows a
    value, and the fixes, pasted, write none of them back in plain text."""
    made = Sentinels()
    values = {path: value_of(kind, made.text, made.number) for path, kind in SETTINGS}
    keys = top_level({p: v for p, v in values.items() if v is not None})
    keys |= {key: made.text() for key in PROVIDED}
    keys[f"{PROJECT}:adopt"] = {key: made.text() for key in GENERATED}
    stored = {**stack_config(STACK), **{k: encrypted(v) for k, v in keys.items()}}
    message = outcome(stored)
    assert isinstance(message, str), "a secret setting the program writes in plain text was accepted"
    assert made.leaked(message) == []
    for key in keys.keys() - {*PROVIDED, f"{PROJECT}:adopt"}:
        assert f"  - {key.removeprefix(f'{PROJECT}:')}" in message, f"{key} is not judged"
    stored = pasted(message, stored)
    assert made.leaked(plain(stored)) == [], "a fix wrote a secret back in plain text"
    assert made.leaked(surfaces(outcome(stored))) == []


@pytest.mark.usefixtures("every_problem")
@pytest.mark.parametrize("shape", ["url", "image"])
def test_no_credential_inside_a_plain_value_is_shown(shape: str) -> None:
    """Every text setting stored in plain text holding a URL with credentials in each place (or an
    image reference with registry credentials): each is refused, by name, none of the credentials
    shows in the message or its fixes, and the fixes, pasted, store none of them in plain text."""
    made = Sentinels()
    make = made.url if shape == "url" else made.image
    values = {path: value_of(kind, make, None) for path, kind in SETTINGS}
    values = {p: v for p, v in values.items() if v is not None}
    stored = {**stack_config(STACK, top_level(values)), **encrypted(PLACEHOLDERS)}
    message = outcome(stored)
    assert isinstance(message, str), "a credential in plain text was accepted"
    assert made.leaked(message) == []
    for path in values:
        assert f"  - {shown(path)}" in message, f"{shown(path)} is not refused"
    stored = pasted(message, stored)
    assert made.leaked(plain(stored)) == [], "a fix wrote a credential back in plain text"
    assert made.leaked(surfaces(outcome(stored))) == []


def test_secrets_that_reach_the_program_reach_no_plain_text(project: Project) -> None:
    """An alert endpoint carrying credentials is refused in plain text, its fix (pasted as printed,
    the URL typed at its prompt) stores it with --secret; then it, an alert address stored with
    --secret, the provided secrets and the adopted values reach AWS, and no warning, export,
    resources.json or kubernetes.yaml shows them."""
    made = Sentinels()
    endpoint, email = made.url().partition("#")[0], f"{made.text()}@example.com"
    changes = {
        f"{PROJECT}:auditEndpoint": endpoint,
        f"{PROJECT}:auditEmail": fakecli.encrypted(email),
        f"{PROJECT}:adopt": {key: fakecli.encrypted(made.text()) for key in GENERATED},
    }
    provided = {key: made.text() for key in PROVIDED}
    project.write(STACK, changes, secrets=provided)
    message = project.run(STACK)
    assert isinstance(message, str) and "auditEndpoint: holds credentials in plain text" in message
    assert made.leaked(message) == []
    (line,) = fixes(message)
    assert line == f"pulumi config set --secret auditEndpoint --stack {STACK}"
    assert project.paste(line, typed=f"{endpoint}\n").returncode == 0
    run = project.run(STACK)
    assert isinstance(run, Run), run
    assert made.leaked(surfaces(run)) == []
    reached = {str(unwrap(r.inputs.get("endpoint"))) for r in run.resources} | {
        str(unwrap(v.inputs["secretString"])) for v in run.of_type(SM_VERSION)
    }
    assert {endpoint, email, *provided.values()} <= reached, "the sentinels never reached the program"


@pytest.mark.parametrize("stack", ["dev", "production"])
def test_a_secret_image_is_never_written_back(stack: str) -> None:
    """An image stored with --secret, not pinned by digest: a production-grade stack's digest fix
    and a standard one's `:latest` warning would repeat it; instead each is refused without it,
    and every fix prompts for the value."""
    made = Sentinels()
    images = {
        f"{PROJECT}:stepImage": f"registry.example.com/{made.text()}:latest",
        f"{PROJECT}:backend": {"image": f"registry.example.com/{made.text()}:1.0.0"},
    }
    stored = {**stack_config(stack), **encrypted(PLACEHOLDERS), **encrypted(images)}
    message = outcome(stored, stack)
    assert isinstance(message, str)
    assert made.leaked(message) == []
    assert "stepImage: is stored encrypted (--secret)" in message
    if stack == "production":
        assert "stepImage: must be pinned by digest" in message
    commands = [shlex.split(c)[1:] for line in fixes(message) for c in line.split(" && ")]
    assert [
        args for verb, _, args in map(fakecli.parse_args, commands) if verb == "set" and len(args) > 1
    ] == []
    assert made.leaked(plain(pasted(message, stored))) == []


@pytest.mark.usefixtures("every_problem")
def test_a_secret_aliased_into_other_keys_is_not_shown(tmp_path: Path) -> None:
    """A YAML alias copies an adopted live value, encrypted, into other keys of the stack file (the
    CLI then hands them over decrypted and secret): neither the region's check, the namespace's nor
    a generation's shows it."""
    made = Sentinels()
    live = made.text()
    stored = stack_config(STACK)
    text = yaml.safe_dump({"config": {k: v for k, v in stored.items() if k != "aws:region"}})
    secure = json.dumps(fakecli.encrypted(live)["secure"])
    text += (
        f"  {PROJECT}:adopt:\n    db-password: &live\n      secure: {secure}\n"
        f"  aws:region: *live\n  {PROJECT}:namespace: *live\n"
        f"  {PROJECT}:rotation:\n    redis-password: *live\n"
    )
    (tmp_path / f"Pulumi.{STACK}.yaml").write_text(text)
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    stored = {**fakecli.load_stack_config(STACK, tmp_path), **encrypted(PLACEHOLDERS)}
    assert fakecli.decrypted(stored[f"{PROJECT}:rotation"]) == {"redis-password": live}, "the alias is read"
    message = outcome(stored)
    assert isinstance(message, str)
    assert "aws:region: a secret value (not shown) is not an AWS region" in message
    assert made.leaked(message) == []


@pytest.mark.parametrize(
    ("value", "seen"),
    [
        (
            "https://u:pw@h.example.com/a;k=v?x=1&token=t#f",
            "'https://***@h.example.com/a;***?x=***&token=***#***'",
        ),
        ("u:pw@registry.example.com/x:1", "'***@registry.example.com/x:1'"),
        ("registry.example.com/x:1@sha256:" + "0" * 64, repr("registry.example.com/x:1@sha256:" + "0" * 64)),
        ("see https://u:pw@h.example.com", "an unparseable value (not shown)"),
        ({"a": ["https://u:pw@h.example.com"]}, "{'a': ['https://***@h.example.com']}"),
        # Without a scheme: what would be user-info, query and fragment; an image's `name:tag@` is
        # followed by its digest, and is kept.
        ("u:pw@h.example.com:8080/v1?token=t#f", "'***@h.example.com:8080/v1?***'"),
        ("ubuntu:22.04@sha256:" + "0" * 64, repr("ubuntu:22.04@sha256:" + "0" * 64)),
    ],
)
def test_what_a_message_shows_of_a_value(value: Any, seen: str) -> None:
    """The masks: a URL keeps its scheme, host and path, an image its registry and name; a digest
    is no credential; a URL that cannot be split is not shown at all, nor one inside an object."""
    assert masked(value) == seen
