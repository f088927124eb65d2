"""Provider settings are part of the program's contract: every key a provider or the engine reads from
the stack file is classified (ai_etl/config/providers.py); one that sends the AWS calls elsewhere,
changes their identity or their TLS check is refused at production grade, and said at any other; and
the offline diff shows every provider-setting change first, whatever the grade."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from pathlib import Path

import pytest
from pulumi._types import input_type_py_to_pulumi_names, is_input_type

from ai_etl.config.commands import Commands, shown
from ai_etl.config.providers import PROVIDER_KEYS, REFUSED_AT_PRODUCTION, Kind, classify
from ai_etl.config.reading import SECRET
from ai_etl.config.settings import ConfigError
from ai_etl.offline import diff as diffing
from ai_etl.offline.cli import main as offline_main
from ai_etl.offline.formats import ConfigChanges, config_markdown, config_text
from ai_etl.offline.placeholders import PLACEHOLDER_PREFIX
from ai_etl.offline.records import Run, Sensitive
from ai_etl.offline.render import provider_config_record, render
from ai_etl.ops.diff import main as diff_main
from ai_etl.tokens import K8S_PROVIDER
from tests.helpers import PRODUCTION_GRADE, STACKS, STANDARD_GRADE, project_copy, run_stack, settings_of
from tests.pasting import Project, filled, fixes, project

__all__ = ["project"]  # the fixture

SDKS = {"aws": "pulumi_aws", "kubernetes": "pulumi_kubernetes", "random": "pulumi_random"}

REDIRECTING = (
    "aws:endpoints", "aws:httpProxy", "aws:httpsProxy", "aws:noProxy", "aws:insecure", "aws:customCaBundle",
    "aws:accessKey", "aws:secretKey", "aws:token", "aws:profile", "aws:assumeRoles",
    "aws:assumeRoleWithWebIdentity", "aws:sharedConfigFiles", "aws:sharedCredentialsFiles",
    "aws:ec2MetadataServiceEndpoint", "aws:stsRegion", "aws:skipCredentialsValidation",
)  # fmt: skip
"""What the issue names as sending the calls elsewhere, under another identity or without TLS checks:
a second witness of the table, so that none of them is ever reclassified as harmless by mistake."""

FAKE_PASSWORD = "zz-fake-proxy-password"
HEAD_SETTINGS = f"""\
  aws:endpoints:
    - secretsmanager: https://secrets.example.net
  aws:httpsProxy: http://proxy-user:{FAKE_PASSWORD}@proxy.example.net:3128
  aws:maxRetries: 5
  aws:secretKey:
    secure: v1:ZmFrZS1zZWNyZXQta2V5
  kubernetes:context: somewhere-else
environment:
  - zz-team/proxy-env
secretsprovider: awskms://alias/zz-key?region=us-east-1&endpoint=https%3A%2F%2Fkms.example.net
"""
"""What a pull request adds to a standard-grade stack: two redirects, a secret key, a harmless
setting and one that reaches nothing; and, beside `config:`, an ESC environment it imports and
another secrets provider (a KMS endpoint elsewhere)."""
STACK_FILE_SETTINGS = ("stack:environment", "stack:secretsprovider")
HEAD_KEYS = ("aws:endpoints", "aws:httpsProxy", "aws:maxRetries", "aws:secretKey", "kubernetes:context")


def reason(key: str) -> str:
    """What the table says `key` does."""
    found = classify(key)
    assert found is not None, key
    return found.reason


def installed_keys() -> set[str]:
    """Every setting the installed provider SDKs know: pulumi_aws's config module (generated from the
    "config" section of pulumi/pulumi-aws provider/cmd/pulumi-resource-aws/schema.json) and each SDK's
    Provider inputs, which stack config sets on a default provider (pulumi/pulumi
    pkg/resource/deploy/default_providers.go, GetPackageConfig)."""
    spec = importlib.util.find_spec("pulumi_aws.config.vars")
    assert spec is not None and spec.origin is not None
    config_vars = re.findall(r"__config__\.get\w*\('([^']+)'\)", Path(spec.origin).read_text())
    assert len(config_vars) > 30, "pulumi_aws's config module no longer reads as this test expects"
    keys = {f"aws:{name}" for name in config_vars}
    for namespace, package in SDKS.items():
        args = importlib.import_module(package).ProviderArgs
        if is_input_type(args):
            keys |= {f"{namespace}:{name}" for name in input_type_py_to_pulumi_names(args).values()}
    return keys


def test_every_setting_of_the_installed_providers_is_classified() -> None:
    """A provider upgrade that adds a setting fails here until the table says what it does, so no
    key slips in unclassified; a setting the providers dropped leaves the table too."""
    classified = {key for key in PROVIDER_KEYS if key.partition(":")[0] in SDKS}
    installed = installed_keys()
    assert sorted(installed - classified) == [], "settings the table does not classify"
    assert sorted(classified - installed) == [], "settings the installed providers do not have"
    assert all("\n" not in found.reason for found in PROVIDER_KEYS.values()), "a reason is one line"
    assert {key for key in REDIRECTING if PROVIDER_KEYS[key].kind is not Kind.REDIRECTS} == set()


@pytest.mark.parametrize("stack", STACKS)
def test_aws_keys_reach_the_program_and_kubernetes_keys_do_not(stack: str) -> None:
    """The table's premise, held to what the program declares: every AWS resource and lookup goes
    through the default AWS provider (which the `aws:` keys configure), and every Kubernetes object
    through the stack's own provider, so a `kubernetes:` key reaches nothing (inert)."""
    run = run_stack(stack)
    (own,) = run.of_type(K8S_PROVIDER)
    custom = [r for r in run.resources if r.custom and r.type != K8S_PROVIDER]
    assert {r.name for r in custom if r.type.startswith("aws:") and r.provider} == set()
    kubernetes = [r for r in custom if r.type.startswith("kubernetes:")]
    assert kubernetes and {r.name for r in kubernetes if not r.provider.startswith(own.urn + "::")} == set()
    assert run.calls and {c.token for c in run.calls if not c.token.startswith("aws:")} == set()


@pytest.mark.usefixtures("every_problem")
def test_a_production_grade_stack_refuses_every_setting_that_redirects() -> None:
    """Each setting that redirects, reaches nothing or is no provider's is one problem, with its
    reason and the `pulumi config rm` that removes it, before anything is declared; no value is
    shown; the expected and harmless settings pass."""
    stack = PRODUCTION_GRADE[0]
    refused = {k for k, v in PROVIDER_KEYS.items() if v.kind in REFUSED_AT_PRODUCTION}
    refused |= {"aws:endpoint", "random:seed", "pulumi:frobnicate"}  # no provider's settings
    refused |= {"AWS:endpoints", "\u0430ws:endpoints", "aws-native:region"}  # no namespace of ours
    harmless = {k for k, v in PROVIDER_KEYS.items() if v.kind is Kind.HARMLESS}
    given = {key: "zz-fake-value" for key in refused | harmless} | {"aws:secretKey": SECRET}
    with pytest.raises(ConfigError) as raised:
        settings_of(stack, elsewhere=given)
    message = str(raised.value)
    rotate = "; and it is a credential in plain text in the stack file: rotate it"
    for key in refused:
        said = reason(key) + (rotate if key in ("aws:accessKey", "aws:token") else "")  # secretKey: SECRET
        assert (
            f"  - {shown((key,))}: is refused in a production-grade stack (ai-etl:grade): {said}\n"
            f"      fix: {Commands(stack).rm((key,))}\n"
        ) in message + "\n", key
    assert {key for key in harmless if f"- {key}:" in message} == set()
    assert "zz-fake-value" not in message
    assert message.count("\n  - ") == len(refused), "nothing else is wrong with the stack file"


def test_a_redirect_added_to_a_production_stack_is_refused_by_the_offline_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What CI runs on the pull request: the render of the head stops, exit 2, naming the setting
    and its fix, before the program declares anything; the URL is not printed. A key written
    `!!binary` is the key its base64 holds, as the CLI reads it (ai_etl/offline/stackconfig.py): a
    proxy hidden so is refused like any other."""
    stack = PRODUCTION_GRADE[0]
    hidden = "  !!binary YXdzOmh0dHBzUHJveHk=: http://proxy.example.net:3128\n"  # aws:httpsProxy
    folder = project_copy(
        tmp_path / "head", stack, "  aws:endpoints:\n    - kms: https://kms.example.net\n" + hidden
    )
    assert offline_main(["render", stack, "-C", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"error: invalid configuration for stack '{stack}' (nothing was declared):\n" in err
    assert "aws:endpoints: is refused in a production-grade stack" in err
    assert f"fix: pulumi config rm aws:endpoints --stack {stack}" in err
    assert "aws:httpsProxy: is refused in a production-grade stack" in err
    assert "kms.example.net" not in err and "proxy.example.net" not in err
    assert not (tmp_path / "out" / "resources.json").exists()
    # An ESC environment's values would reach the providers unreviewed: refused too.
    folder = project_copy(tmp_path / "imports", stack, "environment:\n  - zz-team/proxy-env\n")
    assert offline_main(["render", stack, "-C", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "stack:environment: is refused in a production-grade stack" in err
    assert f"fix: remove `environment:` from Pulumi.{stack}.yaml by hand" in err


@pytest.mark.heavy
def test_a_redirect_set_in_pulumi_yaml_is_removed_from_pulumi_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A provider key that Pulumi.yaml's `config:` sets (the CLI hands its `value` to every stack
    without one: pulumi/pulumi pkg/workspace/config.go, mergeConfig) is not in the stack file, so
    `pulumi config rm` would not remove it: the refusal at production grade, and the warning below
    it, say to remove it from Pulumi.yaml instead."""
    in_project = "  aws:endpoints:\n    value:\n      - kms: https://kms.example.net\n"
    said = "remove `aws:endpoints` from the `config:` of Pulumi.yaml"
    for stack in (PRODUCTION_GRADE[0], STANDARD_GRADE[0]):
        folder = project_copy(tmp_path / stack, stack)
        with (folder / "Pulumi.yaml").open("a") as f:
            f.write(in_project)
        code = offline_main(["render", stack, "-C", str(folder), "--out", str(tmp_path / stack / "out")])
        err = capsys.readouterr().err
        if stack in PRODUCTION_GRADE:
            assert code == 2 and "aws:endpoints: is refused in a production-grade stack" in err
            assert f"      fix: {said}\n" in err
        else:
            assert code == 0
            assert f"aws:endpoints is set (redirects): {reason('aws:endpoints')}" in err
            assert f"Remove it once it is no longer needed: {said}\n" in err
        assert "pulumi config rm aws:endpoints" not in err and "kms.example.net" not in err


def test_each_fix_pasted_as_printed_removes_the_setting(project: Project) -> None:
    """The user's way out: each printed fix, pasted into bash, removes its setting and only it (a
    harmless one stays), and the program then accepts the stack file."""
    stack = PRODUCTION_GRADE[0]
    given = {
        "aws:endpoints": [{"secretsmanager": "https://secrets.example.net"}],
        "aws:profile": "someone-else",
        "kubernetes:context": "elsewhere",
        "aws:maxRetries": 5,
    }
    project.write(stack, given)
    message = project.run(stack)
    assert isinstance(message, str), "a redirecting setting was accepted at production grade"
    printed = fixes(message)
    assert len(printed) == 3
    for line in printed:
        result = project.paste(filled(line))
        assert result.returncode == 0, f"{line}\n{result.stderr}"
    stored = project.stored(stack)
    assert {key for key in given if key in stored} == {"aws:maxRetries"}
    assert isinstance(project.run(stack), Run)


@pytest.fixture(scope="module")
def head_and_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Run]:
    """A standard-grade stack rendered as committed and with HEAD_SETTINGS added (render folders,
    and the head's run)."""
    stack = STANDARD_GRADE[0]
    tmp = tmp_path_factory.mktemp("provider-settings")
    render(stack, tmp / "base")
    rendered = render(stack, tmp / "head", project_copy(tmp / "project", stack, HEAD_SETTINGS))
    return tmp / "base", tmp / "head", rendered.run


def test_below_production_a_redirect_is_allowed_and_said(head_and_base: tuple[Path, Path, Run]) -> None:
    """A standard-grade stack may point the provider elsewhere (a test account, a proxy), but every
    preview says so, with the command that removes it; a harmless setting is not warned of."""
    *_, run = head_and_base
    said = {key: w for w in run.warnings for key in HEAD_KEYS if w.startswith(f"{key} is set (")}
    assert set(said) == set(HEAD_KEYS) - {"aws:maxRetries"}
    for key, warning in said.items():
        assert warning.endswith(f"pulumi config rm {key} --stack {run.stack}")
    assert FAKE_PASSWORD not in "\n".join(run.warnings)
    (imports,) = [w for w in run.warnings if w.startswith("stack:environment is set (redirects)")]
    assert imports.endswith(f"remove `environment:` from Pulumi.{run.stack}.yaml by hand")
    assert not [w for w in run.warnings if w.startswith("stack:secretsprovider")]


def test_the_render_records_the_provider_settings_without_credentials(
    head_and_base: tuple[Path, Path, Run],
) -> None:
    """resources.json holds the stack's provider settings, so a diff can show them: a secret as
    "[secret]" and a proxy's password as "***" (each with a fingerprint), the rest as given."""
    _, head, _ = head_and_base
    text = (head / "resources.json").read_text()
    assert FAKE_PASSWORD not in text and PLACEHOLDER_PREFIX not in text
    recorded = json.loads(text)["providerConfig"]
    assert {k: recorded["values"][k] for k in HEAD_KEYS} == {
        "aws:endpoints": [{"secretsmanager": "https://secrets.example.net"}],
        "aws:httpsProxy": "http://***@proxy.example.net:3128",
        "aws:maxRetries": 5,
        "aws:secretKey": "[secret]",
        "kubernetes:context": "somewhere-else",
    }
    assert set(recorded["secretFingerprints"]) == {"aws:httpsProxy", "aws:secretKey", "stack:secretsprovider"}
    assert {k: recorded["values"][k] for k in STACK_FILE_SETTINGS} == {
        "stack:environment": ["zz-team/proxy-env"],
        "stack:secretsprovider": "awskms://alias/zz-key?region=***&endpoint=***",
    }


def test_the_diff_shows_provider_settings_first_even_when_nothing_else_changes(
    head_and_base: tuple[Path, Path, Run], capsys: pytest.CaptureFixture[str]
) -> None:
    """The pull request changes no resource: the diff still opens with each setting it adds, noted
    with its kind (a redirect refused at production grade), and never reads "no changes"; the
    markdown CI posts does the same, and `--exit-code` counts it as a change."""
    base, head, run = head_and_base
    assert diff_main([str(base), str(head)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        f"Offline preview of stack {run.stack}",
        "",
        "Provider configuration this change makes (7 keys), before any resource:",
    ]
    assert f" + aws:endpoints  (redirects: {reason('aws:endpoints')}; refused at production grade)" in lines
    assert '      ~ aws:endpoints[0].secretsmanager: (none) => "https://secrets.example.net"' in lines
    assert '      ~ aws:httpsProxy: (none) => "http://***@proxy.example.net:3128"' in lines
    assert (
        f" + stack:environment  (redirects: {reason('stack:environment')}; refused at production grade)"
        in lines
    )
    assert re.fullmatch(r"7 provider settings changed, no resource changes, \d+ unchanged", lines[-1])
    assert diff_main([str(base), str(head), "--format", "markdown", "--exit-code"]) == 1
    markdown = capsys.readouterr().out
    assert markdown.startswith(
        "### Offline preview\n\n**Provider configuration this change makes (7 keys), before any resource:**\n"
    )
    assert f"- `aws:httpsProxy`: redirects: {reason('aws:httpsProxy')}" in markdown
    assert markdown.rstrip().endswith("**7 provider settings changed, no resource changes**")
    assert FAKE_PASSWORD not in markdown and "ZmFrZS1zZWNyZXQta2V5" not in markdown


def test_a_changed_credential_in_a_setting_shows_as_changed() -> None:
    """A new proxy password, or a new secret key, is hidden on both sides, and still a change."""
    before = provider_config_record(
        {"aws:httpsProxy": "http://u:zz-old@proxy.example.net", "aws:secretKey": Sensitive("zz-old")}
    )
    after = provider_config_record(
        {"aws:httpsProxy": "http://u:zz-new@proxy.example.net", "aws:secretKey": Sensitive("zz-new")}
    )
    assert diffing.config_changes(before, after) == [
        ("aws:httpsProxy", "[secret]", "[secret] (changed)"),
        ("aws:secretKey", "[secret]", "[secret] (changed)"),
    ]
    assert diffing.config_changes(before, before) == []
    assert "zz-old" not in json.dumps(before) and "zz-new" not in json.dumps(after)
    # A key named for a credential is one in plain text too; a URL without its scheme keeps nothing
    # of its user-info or query either.
    plain = provider_config_record(
        {"aws:accessKey": "zz-plain-key", "aws:skipCredentialsValidation": True,
         "aws:httpProxy": "u:zz-pw@proxy.example.net:3128/x?token=zz-q"}
    )  # fmt: skip
    assert plain["values"] == {
        "aws:accessKey": "[secret]",
        "aws:skipCredentialsValidation": True,
        "aws:httpProxy": "***@proxy.example.net:3128/x?***",
    }
    assert "zz-" not in json.dumps(plain)


def test_a_hostile_key_cannot_hide_the_rest_of_the_diff() -> None:
    """A stack file's keys are anyone's text: one holding a backtick, newlines and `<!--` would
    close the inline code of the pull-request comment and open an HTML comment that hides every
    line after it (a redirect included); one holding an escape would rewrite the terminal's line.
    Such keys are shown as JSON strings, their backticks escaped: every line stays one line."""
    hostile = {
        "AWS:z`\n\n<!--": 1,
        "aws:a\x1b[2K\rx": 2,
        "aws:endpoints": [{"sts": "https://sts.example.net"}],
    }
    changes = ConfigChanges(tuple(diffing.config_changes({}, provider_config_record(hostile))))
    text, markdown = config_text(changes), config_markdown(changes)
    assert not any(c in line for line in text + markdown for c in "\n\r\x1b")
    listed = [line for line in markdown if line.startswith("- `")]
    assert len(listed) == 3 and all(line.count("`") == 2 for line in listed), listed
    assert [line for line in markdown if line.startswith("```")] == ["```diff", "```"]
    assert '+   aws:endpoints[0].sts: "https://sts.example.net"' in markdown
    assert ' + "AWS:z\\u0060\\n\\n<!--"' in text
