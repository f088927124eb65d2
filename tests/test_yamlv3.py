"""YAML as the Pulumi CLI's gopkg.in/yaml.v3 (v3.0.1) reads it: which plain scalars are numbers,
booleans, null or timestamps, merge keys, keys that are not text, and its limits, held to go-yaml/yaml's
own test tables (branch v3: decode_test.go, limit_test.go)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from ai_etl.offline import yamlv3
from ai_etl.offline.yamlv3 import GoMap, GoTime, YamlError

# go-yaml/yaml decode_test.go, unmarshalTests decoding into interface{} (and the cases it notes as
# unsupported: sexagesimal numbers stay text).
DECODE_TESTS: list[tuple[str, Any]] = [
    ("v: hi", "hi"),
    ("v: true", True),
    ("v: 10", 10),
    ("v: 0b10", 2),
    ("v: 0xA", 10),
    ("v: 4294967296", 4294967296),
    ("v: 0.1", 0.1),
    ("v: .1", 0.1),
    ("v: .Inf", math.inf),
    ("v: -.Inf", -math.inf),
    ("v: -10", -10),
    ("v: -.1", -0.1),
    ("v: 6.8523e+5", 6.8523e5),
    ("v: 685.230_15e+03", 685.23015e03),
    ("v: 685_230.15", 685230.15),
    ("v: True", True),
    ("v: FALSE", False),
    ("v: on", "on"),
    ("v: y", "y"),
    ("v: No", "No"),
    ("v: +685_230", 685230),
    ("v: 02472256", 685230),
    ("v: -02472256", -685230),
    ("v: 0o2472256", 685230),
    ("v: -0o2472256", -685230),
    ("v: 0x_0A_74_AE", 685230),
    ("v: 0b1010_0111_0100_1010_1110", 685230),
    ("v: -0b101010", -42),
    ("v: -0b1000000000000000000000000000000000000000000000000000000000000000", -(1 << 63)),
    ("v:", None),
    ("v: ~", None),
    ("v: null", None),
    ("v: !!float '1.1'", 1.1),
    ("v: !!float 0", 0.0),
    ("v: !!null ''", None),
    ("%TAG !y! tag:yaml.org,2002:\n---\nv: !y!int '1'", 1),
    ("v: ! test", "test"),
    ("v: -b_c", "-b_c"),
    ("v: +b_c", "+b_c"),
    ("v: 50cent_of_dollar", "50cent_of_dollar"),
    ("v: !!str 2015-01-01", "2015-01-01"),
    ('v: "2015-01-01"', "2015-01-01"),
    ("v: 2015-01-01", GoTime(2015, 1, 1)),
    ("v: !!timestamp '2015-01-01'", GoTime(2015, 1, 1)),
    ("v: 190:20:30.15", "190:20:30.15"),
    ("v: 190:20:30", "190:20:30"),
    # resolve.go beyond the tests: Go's ParseInt(s, 0, 64) reads a leading 0 as octal, a number
    # past int64 is a uint64, past uint64 a float; "08" is no octal but matches the float form.
    ("v: 0100", 64),
    ("v: 08", 8.0),
    ("v: 18446744073709551615", 18446744073709551615),
    ("v: 18446744073709551616", 18446744073709551616.0),
    ("v: 1_0", 10),
    ("v: 1e3", 1000.0),
    ("v: 0b+1", 1),
    ("v: !!binary aGVsbG8=", "hello"),
    ("v: !custom text", "text"),
    ("v: 2001-12-14  21:59:43.10", GoTime(2001, 12, 14, 21, 59, 43, 100_000_000)),
    ("v: 2015-02-30", "2015-02-30"),
]


@pytest.mark.parametrize(("text", "expected"), DECODE_TESTS, ids=[t for t, _ in DECODE_TESTS])
def test_a_plain_scalar_means_what_yaml_v3_reads(text: str, expected: Any) -> None:
    """Each value decodes as yaml.v3 decodes it into interface{}: go-yaml/yaml decode_test.go's own
    table, and resolve.go's rules for the rest (YAML 1.1 would make `190:20:30` a number and
    `0o2472256` text; YAML 1.2 would make `02472256` decimal and `1_0` text)."""
    (value,) = yamlv3.load(text.encode()).value.values()
    assert value == expected and type(value) is type(expected)


MERGE_TESTS = """
anchors:
  list:
    - &CENTER { "x": 1, "y": 2 }
    - &LEFT   { "x": 0, "y": 2 }
    - &BIG    { "r": 10 }
    - &SMALL  { "r": 1 }
plain: {"x": 1, "y": 2, "r": 10, label: center/big}
mergeOne: {<< : *CENTER, "r": 10, label: center/big}
mergeMultiple: {<< : [ *CENTER, *BIG ], label: center/big}
override: {<< : [ *BIG, *LEFT, *SMALL ], "x": 1, label: center/big}
shortTag: {!!merge "<<" : [ *CENTER, *BIG ], label: center/big}
longTag: {!<tag:yaml.org,2002:merge> "<<" : [ *CENTER, *BIG ], label: center/big}
inlineMap: {<< : {"x": 1, "y": 2, "r": 10}, label: center/big}
inlineSequenceMap: {<< : [ *CENTER, {"r": 10} ], label: center/big}
"""


def test_merge_keys_merge_as_in_yaml_v3() -> None:
    """go-yaml/yaml decode_test.go mergeTests (TestMerge): every way of merging gives the plain map;
    the mapping's own keys win, then the merged maps in order."""
    value = yamlv3.load(MERGE_TESTS.encode()).value
    want = {"x": 1, "y": 2, "r": 10, "label": "center/big"}
    assert {name: m for name, m in value.items() if name != "anchors"} == dict.fromkeys(
        ("plain", "mergeOne", "mergeMultiple", "override", "shortTag", "longTag", "inlineMap",
         "inlineSequenceMap"), want
    )  # fmt: skip


def test_a_key_that_is_not_text_stays_apart_as_in_go() -> None:
    """yaml.v3 decodes a mapping with a key that is not text into map[interface{}]interface{}
    (decode.go isStringMap), where `1`, `1.5`, `true` and null are distinct keys."""
    value = yamlv3.load(b"{1: a, 1.5: b, true: c, ~: d, x: e}").value
    assert isinstance(value, GoMap)
    assert sorted(map(repr, value.values())) == ["'a'", "'b'", "'c'", "'d'", "'e'"]


LAUGHS = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)
K = 1024
# go-yaml/yaml limit_test.go: its cases at a tenth of their size (the "1kb"..."1000kb of maps"
# family), and the deep ones, which offline stops at 200 levels rather than 10,000.
LIMIT_TESTS = [
    ("billion laughs", LAUGHS, "document contains excessive aliasing"),
    ("100kb of maps with 100 aliases",
     "{a: &a [{a}" + ",{a}" * (100 * K // 4 - 100) + "], b: &b [*a" + ",*a" * 99 + "]}",
     "document contains excessive aliasing"),
    ("100kb of maps", "a: &a [{a}" + ",{a}" * (100 * K // 4 - 1) + "]", None),
    ("10kb of maps with 10 aliases", "a: &a [{a}" + ",{a}" * (10 * K // 4 - 1) + "]\nb: [" + ",".join(["*a"] * 10) + "]", None),
    ("1000kb of deeply nested slices", "[" * (1000 * K), "nested deeper than 200 levels"),
    ("1000kb of deeply nested maps", "x: " + "{" * (1000 * K), "nested deeper than 200 levels"),
    ("1000kb of deeply nested indents", "- " * (1000 * K), "nested deeper than 200 levels"),
    ("slice nested 200 deep", "[" * 200 + "1" + "]" * 200, None),
    ("an alias inside its own anchor", "a: &a [*a]", "anchor 'a' value contains itself"),
    ("aliases nesting deeper than the text", "a: &a [[[[1]]]]\nb: " + "[" * 197 + "*a" + "]" * 197, "nested deeper than 200 levels"),
    ("a chain of anchors", "".join(f"k{i}: &a{i} [{f'*a{i - 1}' if i else 'x'}]\n" for i in range(300)), "nested deeper than 200 levels"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "error"), LIMIT_TESTS, ids=[c[0] for c in LIMIT_TESTS])
def test_hostile_yaml_is_refused_or_read_within_bounds(name: str, text: str, error: str | None) -> None:
    """Aliases expand within yaml.v3's budget (decode.go allowedAliasRatio: "document contains
    excessive aliasing"), counted in one step per anchor so that a bomb costs no more than its text;
    nesting is bounded. Each either reads or fails with the message, and returns."""
    if error is None:
        assert yamlv3.load(text.encode()).value is not None
    else:
        with pytest.raises(YamlError, match=error):
            yamlv3.load(text.encode())


def test_an_alias_bomb_counts_as_yaml_v3_counts() -> None:
    """The budget is yaml.v3's, not a stricter one: 99% of decodes may come from aliases in a small
    document, so 9 aliases of a 9-item list pass, as they do in yaml.v3, and 9 levels of them do not."""
    assert yamlv3.load(LAUGHS.split("c:")[0].encode()).value["b"] == [["lol"] * 9] * 9
    with pytest.raises(YamlError, match="excessive aliasing"):
        yamlv3.load(LAUGHS.encode())
