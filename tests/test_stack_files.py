"""Stack and project files read as the Pulumi CLI reads them: yaml.v3's numbers, booleans, duplicate
keys, aliases and limits; the CLI's keys and values; and every malformed or hostile file refused
with one line (file, line, key, fix), never a traceback or a hang.

Where the CLI's behaviour is claimed, the source is cited, by file and line: go-yaml/yaml at
f6f7691b1fde (v3.0.1, the CLI's gopkg.in/yaml.v3), and pulumi/pulumi at 1b5949891b3c (August 2026,
3.260 in the making). Every value of a stack file goes one way (loaders.go:180-184, then 219 and 222:
yaml.v3 decodes the file into `any`, encodes it again and decodes it into a ProjectStack;
map.go:310-312 and value.go:238-243 decode each value through object.go:455-463, into `any` again,
typed); what the program reads is that object's text (object.go:403-419 MarshalString: text as it
is, anything else as encoding/json writes it; plaintext.go:256-268 for objects).

The review behind issue 24 read an older CLI: until v3.88.0 (pulumi/pulumi #13814, 6756c12fd0)
value.go's unmarshalValue first decoded each value into a Go string (value.go:170-180 there), which
yaml.v3 fills with the literal text (decode.go:611-616); and a timestamp kept as text in an
`interface{}` is yaml.v2's (v2 decode.go:471-480, "TODO(v3) Drop this"), not v3's (decode.go:618-620).
The rows `octal`, `title-bool` and `nested-date` show what the CLI hands over today.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ai_etl.config import stackfiles
from ai_etl.offline.cli import main as offline_main
from ai_etl.offline.clitext import cli_text, go_json
from ai_etl.offline.stackconfig import (
    MAX_FILE_BYTES,
    StackConfigError,
    StackFileError,
    apply_project_config,
    load_project,
    load_stack_config,
)
from tests import fakecli
from tests.helpers import PLACEHOLDERS
from tests.pasting import PROMPTED, Project, filled, project
from tests.paths import PROJECT_DIR
from tests.test_yamlv3 import LAUGHS

__all__ = ["project"]  # the fixture

GUARD_SECONDS = 120
"""A render that takes longer has hung: a guard that stops the test, not a measure of speed."""

PROBE_PROJECT = """\
name: probe
runtime: python
config:
  count:
    type: integer
    default: 3
  flag:
    type: boolean
    default: false
"""
PROBE_PROGRAM = """\
import os

import pulumi
import pulumi_random as random

from ai_etl.config.stackfiles import stack_files

# Every config value as the program reads it, in the render (resources.json); and where it runs:
# its root directory, its folder, and the project's stack files as this project's cross-stack
# checks find them.
seen = {key: pulumi.runtime.get_config(key) for key in sorted(pulumi.runtime.get_config_env())}
seen |= {"root": str(pulumi.get_root_directory()), "cwd": os.getcwd(), "stacks": " ".join(stack_files("probe"))}
random.RandomPassword("seen", length=8, keepers=seen)
"""


def probe(folder: Path, stack_file: bytes, project: str = PROBE_PROJECT) -> Path:
    """A small project whose program records every config value it reads."""
    folder.mkdir(parents=True)
    (folder / "Pulumi.yaml").write_text(project)
    (folder / "__main__.py").write_text(PROBE_PROGRAM)
    (folder / "Pulumi.qa.yaml").write_bytes(stack_file)
    return folder


def render(folder: Path, elsewhere: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m ai_etl.offline render qa`, as a user runs it, in the project's folder; or, given
    `elsewhere`, from there with `-C` naming the project."""
    command = [sys.executable, "-m", "ai_etl.offline", "render", "qa"]
    if elsewhere is not None:
        command += ["-C", str(folder)]
    return subprocess.run(
        command, cwd=elsewhere or folder, capture_output=True, text=True, check=False, timeout=GUARD_SECONDS
    )


def render_in_process(folder: Path) -> subprocess.CompletedProcess[str]:
    """`render` run by `python -m ai_etl.offline`'s own main in this process (its exit code, its
    stderr; an exception it lets out, as the traceback the interpreter would print): for a file
    refused before the program runs, the same outcome without an interpreter started per file."""
    err, cwd = io.StringIO(), os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = offline_main(["render", "qa"])
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    except Exception:
        err.write("Traceback (most recent call last):\n" + traceback.format_exc())
        code = 1
    finally:
        os.chdir(cwd)
    return subprocess.CompletedProcess(["render", "qa"], code, "", err.getvalue())


def seen(folder: Path) -> dict[str, str]:
    """What the probe's program read, from its render."""
    resources = json.loads((folder / "build" / "qa" / "resources.json").read_text())["resources"]
    (password,) = [r for r in resources if r["name"] == "seen"]
    return dict(password["inputs"]["keepers"])


def test_the_program_reads_go_json_for_objects() -> None:
    """An object reaches the program as Go's json.Marshal writes it (config/object.go MarshalJSON):
    compact, sorted keys, HTML characters escaped, floats without a needless `.0`; text as it is,
    and no value as empty text (config.Value's zero value)."""
    assert (
        go_json({"b": [1.0, 1e21, 1.5e-7], "a": "<&>"})
        == '{"a":"\\u003c\\u0026\\u003e","b":[1,1e+21,1.5e-7]}'
    )
    assert [cli_text(v) for v in ("text", None, True, 1.0, 64)] == ["text", "", "true", "1", "64"]


# --- Stack files end to end -----------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """A value the CLI loads, and the text its program reads."""

    key: str
    yaml: str
    reads: str
    cli: str
    """What the CLI does, and where it says so."""


ACCEPTED = [
    Accepted("octal", "0100", "64", "yaml resolve.go:191-195: ParseInt(plain, 0, 64), a leading 0 is octal; object.go:480-481, 405-407: the int's JSON text, not the literal text"),
    Accepted("octal12", "0o100", "64", "resolve.go:192: ParseInt base 0 takes YAML 1.2's 0o too"),
    Accepted("hex", "0x40", "64", "resolve.go:192: ParseInt base 0"),
    Accepted("underscores", "1_0", "10", "resolve.go:191: underscores removed before ParseInt"),
    Accepted("leading-zero", "08", "8", "resolve.go:204-207: no octal, but a float (yamlStyleFloat); encode.go:398 writes 8 again, read back an int"),
    Accepted("exponent", "1e3", "1000", "resolve.go:204-207 yamlStyleFloat; encode.go:398 FormatFloat 'g', read back as the int 1000"),
    Accepted("whole-float", "1.0", "1", "resolve.go:204-207, then loaders.go:219 writes it as 1"),
    Accepted("negative-zero", "-0.0", "0", "loaders.go:219-222 marshals the stack again: -0 is read back as the int 0"),
    Accepted("big", "18446744073709551616", "18446744073709552000", "resolve.go:200-207: past uint64, a float64; Go's encoding/json writes it whole"),
    Accepted("title-bool", "True", "true", "resolve.go:52: True is a boolean; object.go:469-470, 405-407: its JSON text, not the literal text"),
    Accepted("upper-bool", "TRUE", "true", "resolve.go:52"),
    Accepted("yes", "yes", "yes", "resolve.go:52-54, 161-171: YAML 1.1's yes is not in the map, so text"),
    Accepted("on", "on", "on", "resolve.go:52-54, 161-171: YAML 1.1's on is text"),
    Accepted("sexagesimal", "1:00", "1:00", "resolve.go:165-167: 'Base 60 floats ... purposefully unsupported'"),
    Accepted("null", "~", "", "resolve.go:54; decode.go:406-409 calls no UnmarshalYAML for a null: config.Value's zero value, empty"),
    Accepted("date", "2026-12-01", "2026-12-01 00:00:00 +0000 UTC", "resolve.go:184-188 and decode.go:618-620: an implicit timestamp into interface{} is a time.Time; object.go:490-491: time.Time.String()"),
    Accepted("nested-date", "{db-password: 2026-12-01}", '{"db-password":"2026-12-01 00:00:00 +0000 UTC"}', "object.go:492-504: each value of a mapping through unmarshalObject, a time.Time by :490-491, not its text as yaml.v2 kept it"),
    Accepted("quoted-date", "'2026-12-01'", "2026-12-01", "decode.go:568-570: a quoted scalar is text (indicatedString)"),
    Accepted("binary", "!!binary aGk=", "hi", "decode.go:572-579: a !!binary value is its decoded bytes"),
    Accepted("custom-tag", "!custom text", "text", "resolve.go:128-130: an unknown tag keeps the text"),
    Accepted("object", "{b: 2, a: [1.0, x, '<&>']}", '{"a":[1,"x","\\u003c\\u0026\\u003e"],"b":2}', "object.go:434-436 MarshalJSON: Go's json.Marshal"),
    Accepted("object-keys", "{1: a, true: b, 1.5: c}", '{"1":"a","1.5":"c","true":"b"}', "decode.go:791-795 a map[interface{}]interface{}; object.go:505-510: its keys as fmt %v"),
    Accepted("deep", "[" * 198 + "1" + "]" * 198, "[" * 198 + "1" + "]" * 198, "as deep as offline reads (yamlv3.MAX_DEPTH: the file and config: are two levels)"),
    Accepted("merged", "{<<: {a: 1, b: 2}, b: 3}", '{"a":1,"b":3}', "decode.go:959-995 merge: the mapping's own keys win"),
    Accepted("secure-number", "{secure: 5}", '{"secure":5}', "object.go:540-550 isSecureValue: only text under `secure` is a ciphertext; :492-504 a plain object"),
    Accepted("secure-list", "{secure: [a]}", '{"secure":["a"]}', "object.go:544-545: a list is no text"),
    Accepted("secure-mapping", "{secure: {a: b}}", '{"secure":{"a":"b"}}', "object.go:544-545: a mapping is no text"),
    Accepted("secure-beside", "{secure: x, also: y}", '{"also":"y","secure":"x"}', "object.go:542: a mapping of one key only"),
    Accepted("secure-null", "{secure: ~}", '{"secure":null}', "object.go:521-522: a null is object{}, written null"),
]  # fmt: skip

ACCEPTED_FILE = (
    "config:\n"
    + "".join(f"  probe:{case.key}: {case.yaml}\n" for case in ACCEPTED)
    + "  unspaced: from the project's namespace\n"
    + "  probe:config:legacy: the old form\n"
    + "  probe:count: 0x10\n"
    + "  probe:flag: True\n"
    + "---\nprobe:ignored: a second document\n"
)


Accepting = tuple[subprocess.CompletedProcess[str], dict[str, str], Path]
"""The render of ACCEPTED_FILE, what its program read, and the project's folder."""


@pytest.fixture(scope="module")
def accepted(tmp_path_factory: pytest.TempPathFactory) -> Accepting:
    """One render of a stack file that holds every accepted form, each under its own key, run as
    `render -C DIR` from another folder: one of a project of the same name, with stacks of its
    own."""
    root = tmp_path_factory.mktemp("accepted")
    folder = probe(root / "probe", ACCEPTED_FILE.encode())
    elsewhere = probe(root / "elsewhere", config("probe:a: not this project's"))
    (elsewhere / "Pulumi.other.yaml").write_text("config: {}\n")
    result = render(folder, elsewhere)
    assert result.returncode == 0, result.stderr
    return result, seen(folder), folder


@pytest.mark.parametrize("case", ACCEPTED, ids=[c.key for c in ACCEPTED])
def test_a_value_the_cli_accepts_reaches_the_program_as_the_cli_delivers_it(
    accepted: Accepting, case: Accepted
) -> None:
    """The program reads the text the CLI would hand it (see each case's `cli`)."""
    assert accepted[1][f"probe:{case.key}"] == case.reads, case.cli


def test_every_path_is_the_projects_given_by_dash_c(accepted: Accepting) -> None:
    """`render -C DIR` from another project's folder runs the program where `pulumi -C DIR` runs it:
    the CLI moves into DIR (pkg/cmd/pulumi/pulumi.go:317-318), the engine runs the program from its
    folder and names the project's as its root (pkg/engine/project.go:45-72 getPwdMain; the language
    host's --pwd and --root_directory, sdk/python/cmd/pulumi-language-python-exec:128, 148-149). So
    the program's cross-stack checks (ai_etl/config/stackfiles.py) read DIR's other stack files, not
    the folder's it was run from, and the render lands in DIR's build/."""
    _, values, folder = accepted
    assert (values["root"], values["cwd"]) == (str(folder.resolve()), str(folder.resolve()))
    assert values["stacks"] == "qa"
    assert (folder / "build" / "qa" / "resources.json").is_file()


def test_keys_take_the_cli_namespace(accepted: Accepting) -> None:
    """A key without a namespace is the project's (sdk/go/common/workspace/loaders.go
    stackConfigNamespacedWithProject), and `probe:config:legacy` is `probe:legacy`
    (sdk/go/common/resource/config/key.go ParseKey); declared keys keep their text through the
    CLI's type checks (`0x10` is the integer 16, `True` the boolean true)."""
    values = accepted[1]
    assert values["probe:unspaced"] == "from the project's namespace"
    assert values["probe:legacy"] == "the old form"
    assert (values["probe:count"], values["probe:flag"]) == ("16", "true")


def test_the_cli_warnings_of_loading_are_shown(accepted: Accepting) -> None:
    """A null value warns as the CLI warns (loaders.go checkForEmptyConfig); a second document is
    never read (yaml.v3 Unmarshal parses one document), which offline says, naming its line."""
    stderr = accepted[0].stderr
    assert 'warning: No value for configuration key "probe:null".' in stderr
    line = ACCEPTED_FILE.splitlines().index("---") + 1
    assert f"Pulumi.qa.yaml line {line}: a second YAML document, which the Pulumi CLI ignores" in stderr
    assert "probe:ignored" not in accepted[1]


def test_a_key_written_binary_is_the_key_its_base64_holds(tmp_path: Path) -> None:
    """yaml.v3 decodes a `!!binary` key to the text its base64 holds (go-yaml/yaml v3 decode.go,
    scalar: `resolved = string(data)`), and the CLI, marshalling the stack again, reads that text
    as the key (pulumi/pulumi sdk/go/common/workspace/loaders.go, then config/map.go): so
    `!!binary YXdzOmh0dHBzUHJveHk=` is `aws:httpsProxy`, with no traceback, and its line is found."""
    folder = probe(
        tmp_path / "probe", config("probe:a: 1", '!!binary YXdzOmh0dHBzUHJveHk=: "http://proxy.example.net"')
    )
    assert load_stack_config("qa", folder) == {"probe:a": 1, "aws:httpsProxy": "http://proxy.example.net"}
    (folder / "Pulumi.qa.yaml").write_bytes(config("probe:a: 1", "!!binary YXdzOmh0dHBzUHJveHk=: .nan"))
    with pytest.raises(StackFileError, match=r"^Pulumi\.qa\.yaml line 3: aws:httpsProxy is NaN"):
        load_stack_config("qa", folder)


@dataclass(frozen=True)
class Refused:
    """A malformed or hostile stack file, what the CLI does with it, and what offline says."""

    name: str
    text: bytes
    says: str
    """What the one-line error must hold (file and line included)."""
    cli: str
    project: str = PROBE_PROJECT


SECRET_PROJECT = PROBE_PROJECT + "  token:\n    type: string\n    secret: true\n"
"""The probe, with a secret it declares as text, as this project declares its provided secrets."""
FIXED = " (the Pulumi CLI's own check)\n  fix: pulumi config set --secret token --stack qa\n"
"""What offline adds to the CLI's message of a refused secret: the command that sets it (it prompts)."""


def config(*lines: str) -> bytes:
    return ("config:\n" + "".join(f"  {line}\n" for line in lines)).encode()


BOMB = ("config:\n  probe:bomb:\n" + "".join("    " + line + "\n" for line in LAUGHS.splitlines())).encode()

REFUSED = [
    Refused("malformed", config("probe:a: [unclosed"), "Pulumi.qa.yaml line 3: did not find expected ',' or ']'", "yaml parserc.go:954: the same message"),
    Refused("unclosed quote", config("probe:a: 'open"), "Pulumi.qa.yaml line 3: found unexpected end of stream", "yaml scannerc.go:2464"),
    Refused("tab indentation", b"config:\n\tprobe:a: x\n", "Pulumi.qa.yaml line 2 (key 'probe:a'): found character that cannot start any token (a tab); the Pulumi CLI stops on it too (yaml.v3): indent with spaces", "yaml scannerc.go:880: a tab cannot start a token"),
    Refused("NUL byte", config("probe:a: x\x00y"), "Pulumi.qa.yaml line 2 (key 'probe:a'): control characters are not allowed", "yaml readerc.go:379: 'control characters are not allowed'"),
    Refused("escape control", config('probe:a: "\\ud800"'), "Pulumi.qa.yaml line 2 (key 'probe:a'): found invalid Unicode character escape code", "yaml scannerc.go:2575"),
    Refused("invalid UTF-8", b"config:\n  probe:a: \xff\xfe\xfd\n", "Pulumi.qa.yaml", "yaml readerc.go:214: invalid UTF-8"),
    Refused("binary not base64", config("probe:a: !!binary '%%%'"), "Pulumi.qa.yaml line 2 (key 'probe:a'): !!binary value contains invalid base64 data", "yaml decode.go:575-577 scalar"),
    Refused("binary not text", config("probe:a: !!binary /w=="), "Pulumi.qa.yaml line 2 (key 'probe:a'): !!binary value is not UTF-8 text", "a program's config is text (the language host's PULUMI_CONFIG)"),
    Refused("duplicate key", config("probe:a: 1", "probe:a: 2"), 'Pulumi.qa.yaml line 3 (key \'probe:a\'): mapping key "probe:a" already defined at line 2', "yaml decode.go:769-781 mapping: uniqueKeys"),
    Refused("duplicate quoted key", config("probe:a: 1", '"probe:a": 2'), 'mapping key "probe:a" already defined at line 2', "yaml decode.go:775: keys compared by kind and text"),
    Refused("duplicate nested key", config("probe:a:", "  x: 1", "  x: 2"), 'Pulumi.qa.yaml line 4 (key \'x\'): mapping key "x" already defined at line 3', "yaml decode.go:769-781, at every level"),
    Refused("duplicate top-level key", b"config: {}\nconfig: {}\n", 'line 2 (key \'config\'): mapping key "config" already defined at line 1', "yaml decode.go:769-781"),
    Refused("same key twice by namespace", config("a: 1", "probe:a: 2"), "Pulumi.qa.yaml line 3: config keys 'a' (line 2) and 'probe:a' are both 'probe:a'; the Pulumi CLI keeps either one, at random", "pulumi loaders.go:61 stackConfigNamespacedWithProject ranges over a Go map"),
    Refused("same key by the config: form", config("probe:config:a: 1", "probe:a: 2"), "config keys 'probe:config:a' (line 2) and 'probe:a' are both 'probe:a'", "pulumi key.go:45-69 ParseKey: both are probe:a"),
    Refused("key with two colons", config("probe:a:b: 1"), "Pulumi.qa.yaml line 2: could not parse probe:a:b as a configuration key", "pulumi key.go:68-69 ParseKey"),
    Refused("key that is not text", config("1: x"), "Pulumi.qa.yaml line 2: config key 1 is not text", "pulumi map.go:318-321 Map.UnmarshalYAML: ParseKey('1') fails"),
    Refused("null key", config("probe:a: 1", "~: x"), "Pulumi.qa.yaml line 3: config key <nil> is not text", "yaml decode.go isStringMap: not all keys !!str, a map[interface{}]interface{}; pulumi key.go ParseKey of Go's %v"),
    Refused("boolean key", config("probe:a: 1", "true: x"), "Pulumi.qa.yaml line 3: config key true is not text", "yaml decode.go isStringMap; key.go ParseKey('true') fails"),
    Refused("date key", config("probe:a: 1", "2026-12-01: x"), "Pulumi.qa.yaml line 3: config key 2026-12-01 00:00:00 +0000 UTC is not text", "yaml decode.go: an implicit timestamp is a time.Time; key.go ParseKey of its text fails"),
    Refused("binary key beside a short key", config("!!binary cHJvYmU6Yg==: x", "c: 1"), "Pulumi.qa.yaml line 3: could not parse c as a configuration key: the Pulumi CLI gives no key the project's namespace", "yaml decode.go isStringMap: a !!binary key makes a map[interface{}]interface{}, which pulumi loaders.go stackConfigNamespacedWithProject leaves as it is; key.go ParseKey('c') fails"),
    Refused("nested keys read alike", config("probe:a: {True: 1, 'true': 2}"), "probe:a has two keys that the Pulumi CLI reads as 'true'", "pulumi object.go:505-510: fmt %v of each key, into a Go map"),
    Refused("billion laughs", BOMB, "Pulumi.qa.yaml line 6 (key 'd'): document contains excessive aliasing", "yaml decode.go:490: 'document contains excessive aliasing'"),
    Refused("alias in its own anchor", config("probe:a: &a [*a]"), "anchor 'a' value contains itself", "yaml decode.go:536 alias"),
    Refused("unknown anchor", config("probe:a: *nowhere"), "Pulumi.qa.yaml line 2 (key 'probe:a'): unknown anchor 'nowhere' referenced", "yaml decode.go:218 parser.alias"),
    Refused("merge of a scalar", config("probe:a: {<<: 5}"), "map merge requires map or sequence of maps", "yaml decode.go:955, 992 failWantMap"),
    Refused("YAML 1.2 directive", b"%YAML 1.2\n---\nconfig: {}\n", "Pulumi.qa.yaml line 1: found incompatible YAML document", "yaml parserc.go:1197: only %YAML 1.1"),
    Refused("tag that does not fit", config("probe:a: !!int abc"), "Pulumi.qa.yaml line 2 (key 'probe:a'): cannot decode !!str `abc` as a !!int", "yaml resolve.go:150"),
    Refused("infinity", config("probe:a: .inf"), "Pulumi.qa.yaml line 2: probe:a is +Inf, which the Pulumi CLI cannot load (json: unsupported value: +Inf)", "pulumi object.go:405-407 MarshalString: encoding/json"),
    Refused("NaN inside", config("probe:a: [1, .nan]"), "json: unsupported value: NaN", "pulumi object.go:434-436 MarshalJSON"),
    Refused("integer given 1:00", config("probe:count: 1:00"), "error: Stack 'qa' with configuration key 'count' must be of type 'integer'", "pulumi pkg/workspace/config.go:145-153; project.go:777-793 Atoi('1:00')"),
    Refused("integer given True", config("probe:count: True"), "error: Stack 'qa' with configuration key 'count' must be of type 'integer'", "config.go:145-153; project.go:789-792 Atoi('true')"),
    Refused("integer given an object", config("probe:count: {a: 1}"), "must be of type 'integer'", "config.go:136-153; project.go:777-795: a map is no integer"),
    Refused("boolean given yes", config("probe:flag: yes"), "error: Stack 'qa' with configuration key 'flag' must be of type 'boolean' (the Pulumi CLI's own check)\n  fix: pulumi config set flag '<true or false>' --stack qa\n", "resolve.go: yes is text; project.go:798-807 ValidateConfigValue: only 'true'/'false'"),
    Refused("secret a secure number", config("probe:token: {secure: 5}"), f"error: Stack 'qa' with configuration key 'token' must be encrypted as it's secret{FIXED}", "object.go:540-550 isSecureValue: a number is no ciphertext; pkg/workspace/config.go:128-133", project=SECRET_PROJECT),
    Refused("string secret an object", config("probe:token: {inner: {secure: v1}}"), f"error: Stack 'qa' with configuration key 'token' must be of type 'string'{FIXED}", "object.go:51-72 Secure: the object holds one; config.go:136-153 decodes it; project.go:772-774: no string", project=SECRET_PROJECT),
    Refused("secure an unquoted date", config("probe:a: {secure: 2026-12-01}"), "Pulumi.qa.yaml line 2: probe:a is `secure:` an unquoted date", "object.go:490-491 keeps its text, object.go:438-449 reads the JSON back and :540-550 takes it for a ciphertext; pkg/cmd/pulumi/config/io.go:175-181 no decrypter that could"),
    Refused("file is a list", b"- config\n", "Pulumi.qa.yaml: a list, not a mapping", "pulumi project.go:554-563 SimplifyMarshalledProject: 'expected project to be an object'"),
    Refused("config is a list", b"config: [a, b]\n", "Pulumi.qa.yaml line 1: `config` must be a mapping of keys to values, not a list", "pulumi map.go:310-314 Map.UnmarshalYAML"),
    Refused("secretsprovider a mapping", b"secretsprovider: {a: 1}\nconfig: {}\n", "Pulumi.qa.yaml line 1: `secretsprovider` must be text", "pulumi project.go:1231: ProjectStack.SecretsProvider is a string"),
    Refused("too deep", b"config:\n  probe:a: " + b"[" * 2000 + b"]" * 2000 + b"\n", "Pulumi.qa.yaml line 2 (key 'probe:a'): nested deeper than 200 levels; offline stops here", "yaml scannerc.go:956, 990 allow 10,000; offline stops at 200 (yamlv3.MAX_DEPTH)"),
    Refused("too big", b"config:\n  probe:a: '" + b"x" * MAX_FILE_BYTES + b"'\n", "more than offline reads (262,144)", "the CLI reads any size; offline stops"),
    Refused("Pulumi.yaml duplicate key", config("probe:a: 1"), 'Pulumi.yaml line 2 (key \'runtime\'): mapping key "runtime" already defined at line 1', "pulumi loaders.go LoadProjectBytes, the same yaml.v3 (decode.go:769-781)", project="runtime: python\nruntime: python\nname: probe\n"),
    Refused("Pulumi.yaml without a name", config("probe:a: 1"), "Pulumi.yaml: project is missing a non-empty string 'name' attribute", "pulumi project.go:591 ValidateProject", project="runtime: python\n"),
    Refused("Pulumi.yaml with a tab", config("probe:a: 1"), "Pulumi.yaml line 3 (key 'count'): found character that cannot start any token (a tab)", "yaml scannerc.go:880", project="name: probe\nconfig:\n\tcount: 1\n"),
]  # fmt: skip


def refusal_problems(case: Refused, result: subprocess.CompletedProcess[str]) -> list[str]:
    """What is wrong with the render of a refused file: it must exit 2 with one `error:` line
    naming the file, the line and what to do (the CLI's meaning: the case's `cli`), or, for the
    CLI's own checks, the CLI's line and a `  fix:` line; never a traceback."""
    problems = []
    if "Traceback" in result.stderr:
        problems.append("a traceback")
    if result.returncode != 2:
        problems.append(f"exit {result.returncode}")
    if case.says not in result.stderr:
        problems.append(f"does not say {case.says!r} ({case.cli})")
    first, *rest = result.stderr.strip().splitlines() or [""]
    if (
        not first.startswith("error:")
        or [line for line in rest if not line.startswith("  fix: ")]
        or len(rest) > 1
    ):
        problems.append("not one error: line (and its fix)")
    return [f"{case.name}: {p}: {result.stderr.strip()[:300]!r}" for p in problems]


def test_a_file_the_cli_refuses_stops_the_render_with_one_clear_line(tmp_path: Path) -> None:
    """Each refused file (REFUSED), rendered by `python -m ai_etl.offline render`'s own main: exit 2
    and one `error:` line naming the file, the line and what to do; never a traceback. In this
    process (an interpreter per file cost the quick gate 16 s of CPU; the module's entry point is
    run as a process by the tests of accepted files), one test naming every case that fails."""
    folders = {case.name: probe(tmp_path / str(i), case.text, case.project) for i, case in enumerate(REFUSED)}
    results = {name: render_in_process(folder) for name, folder in folders.items()}
    problems = [p for case in REFUSED for p in refusal_problems(case, results[case.name])]
    assert not problems, "\n".join(problems)


ANSWERS = {
    "malformed": (b"aws:eks/getCluster:getCluster: {version: '1.27'\n", "answers.yaml line 2: did not find expected ',' or '}'"),
    "billion laughs": (b"aws:eks/getCluster:getCluster:\n  laughs:\n" + "".join(f"    {line}\n" for line in LAUGHS.splitlines()).encode(), "answers.yaml line 6: document contains excessive aliasing"),
    "keys not text": (b"aws:eks/getCluster:getCluster: {1: a}\n", "answers.yaml: keys must be text"),
}  # fmt: skip


@pytest.mark.parametrize("name", ANSWERS)
def test_an_answers_file_is_read_within_the_same_bounds(tmp_path: Path, name: str) -> None:
    """`--answers FILE` is offline's own YAML, read by the same bounded reader: a malformed file or
    an alias bomb is one `error:` line and exit 2, not a traceback or an expansion without end
    (the answers end up in JSON digests, which would expand every alias)."""
    text, says = ANSWERS[name]
    folder = probe(tmp_path / "probe", config("probe:a: 1"))
    (folder / "answers.yaml").write_bytes(text)
    command = [sys.executable, "-m", "ai_etl.offline", "render", "qa", "--answers", "answers.yaml"]
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=GUARD_SECONDS)
    assert "Traceback" not in result.stderr
    assert (result.returncode, result.stderr.strip()) == (2, f"error: {says}")


# --- The fix printed after the CLI's own refusal -------------------------------------------------

ENCRYPT = "Stack 'production' with configuration key 's3AccessKey' must be encrypted as it's secret"
CLI_REFUSALS: dict[str, tuple[dict[str, Any], str | None, str]] = {
    "protect given yes": ({"ai-etl:protect": "yes"}, None, "key 'protect' must be of type 'boolean'"),
    "password length given text": ({"ai-etl:passwordLength": "long"}, None, "'passwordLength' must be of type 'integer'"),
    "provided secret in plain text": ({"ai-etl:s3AccessKey": "plain-text-value"}, "ai-etl:s3AccessKey", ENCRYPT),
    "provided secret a secure number": ({"ai-etl:s3AccessKey": {"secure": 5}}, "ai-etl:s3AccessKey", ENCRYPT),
    "provided secret an object": ({"ai-etl:s3AccessKey": {"id": fakecli.encrypted("x")}}, "ai-etl:s3AccessKey", "'s3AccessKey' must be of type 'string'"),
}  # fmt: skip
"""Config that the CLI refuses itself, as this project's Pulumi.yaml declares its keys: the change,
the provided secret it stands in for, and what the CLI says."""


def cli_refusal(project: Project, stack: str) -> StackConfigError | None:
    """What the CLI's checks of Pulumi.yaml's declarations say of the stack file, as the CLI decrypts
    it (tests/fakecli.py); None when they pass."""
    config, secrets = fakecli.load(project.root, stack)
    try:
        apply_project_config(stack, load_project(project.root), config, secrets)
    except StackConfigError as error:
        return error
    return None


@pytest.mark.parametrize("name", CLI_REFUSALS)
def test_the_fix_after_the_clis_own_refusal_works_as_printed(project: Project, name: str) -> None:
    """A value the Pulumi CLI refuses itself (pkg/workspace/config.go:119-157) stops offline with the
    CLI's message and the command that fixes it; pasted into bash as printed (placeholder filled,
    prompt answered) with a `pulumi` that stores config as the CLI does, it leaves nothing the CLI
    refuses. The CLI's messages come without a fix: this is the one the docs' troubleshooting gives."""
    changes, replaced, says = CLI_REFUSALS[name]
    project.write("production", changes, secrets={k: v for k, v in PLACEHOLDERS.items() if k != replaced})
    refusal = cli_refusal(project, "production")
    assert refusal is not None and says in refusal.cli_message, refusal
    pasted = project.paste(filled(refusal.fix), typed=f"{PROMPTED}\n")
    assert pasted.returncode == 0, f"{refusal.fix}\n{pasted.stderr}"
    assert cli_refusal(project, "production") is None


LOADER_CASES = [
    "config:\n  ai-etl:db:\n    password:\n      secure: v1:AAAA\n  ai-etl:when: 2026-12-01\n",
    "config:\n  a: &x {b: [1, '2', \"3\"]}\n  c: *x\n  d: ~\n  e: yes\n  f: 0x1F\n",
    'config:\n  k: |\n    two\n    lines\n  u: "caf\\u00e9 \\t tab"\n  n: !!str 5\n---\nconfig: {second: doc}\n',
    "config: [not, a, mapping]\n",
    "",
]


COMMITTED = sorted(PROJECT_DIR.glob("Pulumi*.yaml"))


@pytest.mark.parametrize(
    "text",
    [*LOADER_CASES, *(p.read_text() for p in COMMITTED)],
    ids=[f"case{i}" for i in range(len(LOADER_CASES))] + [p.name for p in COMMITTED],
)
def test_the_programs_stack_file_reader_reads_as_pythons_base_loader(tmp_path: Path, text: str) -> None:
    """The program reads the project's stack files with libyaml's parser (stackfiles._LOADER, for
    speed: every run reads them all) and gets what PyYAML's pure-Python BaseLoader reads: every
    scalar as its text, anchors resolved, the first document only."""
    path = tmp_path / "Pulumi.qa.yaml"
    path.write_text(text)
    assert stackfiles._LOADER is yaml.CBaseLoader, "PyYAML's wheel has libyaml here"
    python = next(yaml.load_all(text, Loader=yaml.BaseLoader), None)
    assert stackfiles._read(path) == (python if isinstance(python, dict) else None)
