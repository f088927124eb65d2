"""YAML as Go's gopkg.in/yaml.v3 (v3.0.1, the Pulumi CLI's YAML) decodes a document into `any`.

The syntax is libyaml's (PyYAML's event parser, libyaml's own C parser when installed: yaml.v3 is a
Go port of libyaml). What the events mean is yaml.v3's, ported here from its source (go-yaml/yaml,
branch v3): plain scalars as resolve.go reads them (yamlscalars.py), duplicate keys, merge keys, the
alias budget and the depth limit (decode.go, scannerc.go).

The result uses Python types for Go's: str, int (int and uint64), float, bool, None, list, dict
(`str` keys: a mapping whose keys are all text), `GoMap` (any other mapping) and `GoTime`.
"""

from __future__ import annotations

import base64
import binascii
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from ai_etl.offline.yamlscalars import (
    BINARY,
    MERGE,
    STR,
    GoTime,
    YamlError,
    parse_timestamp,
    resolve,
    short_tag,
)

__all__ = ["MAX_DEPTH", "Document", "GoMap", "GoTime", "YamlError", "load", "parse_timestamp", "resolve"]

MAX_DEPTH = 200
"""How deep offline reads. yaml.v3 reads up to 10,000 levels (scannerc.go max_flow_level and
max_indents) and libyaml 1,000, but a program reads an object with json.loads, and offline walks it,
both recursively, within Python's limit of 1,000 calls: 200 levels stays clear of it, and no stack
file nests a tenth as deep."""

_TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"
_PARSER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class GoMap(dict):  # type: ignore[type-arg]
    """A mapping with a key that is not text (yaml.v3's map[interface{}]interface{}): keys are
    `_key(value)` pairs, so that `1`, `1.0`, `true` and `"1"` stay apart as Go keeps them."""


def _key(value: Any) -> tuple[str, Any]:
    """A Go map key: Python's True == 1 == 1.0 must not merge keys Go keeps apart."""
    return (type(value).__name__, value)


# --- The parse: libyaml's events into yaml.v3's nodes (decode.go, parser) --------------------------


@dataclass(eq=False)
class Node:
    kind: str
    """scalar, mapping, sequence or alias."""
    tag: str
    value: str = ""
    quoted: bool = False
    line: int = 0
    content: list[Node] = field(default_factory=list)
    alias: Node | None = None
    flow: bool = False
    anchored: bool = False
    resolved: tuple[str, Any] | None = None
    """A plain untagged scalar's tag and value, resolved once."""


def parse(data: bytes) -> tuple[Node | None, int | None]:
    """The first document's root node (None when empty), and the line where a second document
    starts, if one does: yaml.v3's Unmarshal reads the first document only (yaml.go unmarshal: one
    parser.parse())."""
    anchors: dict[str, Node] = {}
    stack: list[Node] = []
    root: Node | None = None
    depth = {True: 0, False: 0}  # flow and block nesting, each limited (scannerc.go)
    events: Iterator[Any] = yaml.parse(data, Loader=_PARSER)
    for event in events:
        line = event.start_mark.line + 1
        if isinstance(event, yaml.DocumentStartEvent):
            if event.version is not None and tuple(event.version) != (1, 1):
                # parserc.go yaml_parser_process_directives: only %YAML 1.1.
                raise YamlError("found incompatible YAML document", line)
            continue
        if isinstance(event, yaml.DocumentEndEvent):
            return root, _next_document(events, line)
        if isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            depth[stack.pop().flow] -= 1
            continue
        if isinstance(event, yaml.AliasEvent):
            target = anchors.get(str(event.anchor))
            if target is None:
                raise YamlError(f"unknown anchor '{event.anchor}' referenced", line)
            node = Node("alias", "", str(event.anchor), line=line, alias=target)
        elif isinstance(event, yaml.ScalarEvent):
            quoted = event.style not in (None, "")
            node = Node("scalar", "", event.value, quoted, line)
            if event.tag not in (None, "!"):
                node.tag = short_tag(str(event.tag))  # parser.node: an explicit tag stays
            elif quoted:
                node.tag = STR  # parser.scalar: a quoted or block scalar is text
            else:
                node.resolved = resolve("", event.value)
                node.tag = MERGE if event.value == "<<" else node.resolved[0]
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            kind = "sequence" if isinstance(event, yaml.SequenceStartEvent) else "mapping"
            tag = event.tag if event.tag not in (None, "!") else ""
            node = Node(kind, short_tag(tag), line=line, flow=bool(event.flow_style))
            depth[node.flow] += 1
            if depth[node.flow] > MAX_DEPTH:
                raise YamlError(_TOO_DEEP, line, offline=True)
        else:
            continue
        if event.anchor is not None and node.kind != "alias":
            anchors[event.anchor] = node
            node.anchored = True
        if stack:
            stack[-1].content.append(node)
        else:
            root = node
        if node.kind in ("sequence", "mapping"):
            stack.append(node)
    return root, None


def _next_document(events: Iterator[Any], end_line: int) -> int | None:
    """The line of the document after the first, if any; whatever it holds, yaml.v3 never reads it."""
    try:
        following = next(events, None)
    except yaml.YAMLError:
        return end_line
    if following is None or isinstance(following, yaml.StreamEndEvent):
        return None
    return int(following.start_mark.line) + 1


# --- The decode (decode.go decoder, into interface{}) ---------------------------------------------


def _alias_ratio(decodes: int) -> float:
    """decode.go allowedAliasRatio: 99% of decodes may come from aliases up to 400,000, scaling
    down to 10% at 4,000,000."""
    if decodes <= 400_000:
        return 0.99
    if decodes >= 4_000_000:
        return 0.10
    return 0.99 - 0.89 * ((decodes - 400_000) / 3_600_000)


class _Decoder:
    def __init__(self) -> None:
        self.decodes = 0
        self.aliased = 0
        self.alias_depth = 0
        self.expanding: set[int] = set()
        self.merged: set[Any] | None = None
        self.memo: dict[tuple[int, bool], tuple[Any, int, int]] = {}
        """Per anchored node: its value, its decodes and its height (levels of nesting)."""
        self.depth = 0
        self.deepest = 0
        """Aliases nest values deeper than the text does: the depth limit holds for values."""
        self.alias_line = 0
        """The line of the outermost alias being expanded: where the document spends its budget."""

    def unmarshal(self, n: Node, as_text: bool = False, into: dict[Any, Any] | None = None) -> Any:
        """decode.go d.unmarshal: counts every decode and refuses excessive aliasing as yaml.v3
        does. `as_text` decodes a key of a text-keyed mapping (into a Go string); `into` is the
        mapping a merge adds to."""
        self.decodes += 1
        if self.alias_depth > 0:
            self.aliased += 1
        self.check(n)
        if n.kind == "alias":
            assert n.alias is not None
            if id(n) in self.expanding:
                raise YamlError(f"anchor '{n.value}' value contains itself", n.line)
            self.expanding.add(id(n))
            if self.alias_depth == 0:
                self.alias_line = n.line
            self.alias_depth += 1
            try:
                return self.unmarshal(n.alias, as_text, into)
            finally:
                self.alias_depth -= 1
                self.expanding.discard(id(n))
        if not n.anchored or into is not None:
            return self.decode(n, as_text, into)
        memo = self.memo.get((id(n), as_text))
        if memo is not None and self.alias_depth > 0:
            # An anchor decodes alike every time; inside an alias every decode counts as aliased,
            # so both counts grow alike: the ratio only rises and the allowed ratio only falls,
            # and checking once, after counting them all, refuses exactly what yaml.v3 refuses.
            self.decodes += memo[1] - 1
            self.aliased += memo[1] - 1
            self.check(n)
            self.nest(memo[2], n)
            return memo[0]
        before, deepest = self.decodes - 1, self.deepest
        self.deepest = self.depth
        value = self.decode(n, as_text, into)
        self.memo[(id(n), as_text)] = (value, self.decodes - before, self.deepest - self.depth)
        self.deepest = max(deepest, self.deepest)
        return value

    def nest(self, height: int, n: Node) -> None:
        """A value `height` levels deep at the current depth: within MAX_DEPTH, or refused."""
        if self.depth + height > MAX_DEPTH:
            raise YamlError(_TOO_DEEP, self.alias_line or n.line, offline=True)
        self.deepest = max(self.deepest, self.depth + height)

    def check(self, n: Node) -> None:
        if (
            self.aliased > 100
            and self.decodes > 1000
            and self.aliased / self.decodes > _alias_ratio(self.decodes)
        ):
            raise YamlError("document contains excessive aliasing", self.alias_line or n.line)

    def decode(self, n: Node, as_text: bool, into: dict[Any, Any] | None) -> Any:
        if n.kind == "scalar":
            return self.scalar(n, as_text)
        if as_text:
            raise YamlError(f"cannot unmarshal {_shown_tag(n)} into string", n.line)
        if into is not None:  # a merge adds to the mapping it merges into: no deeper
            return self.mapping(n, into)
        self.nest(1, n)
        self.depth += 1
        try:
            if n.kind == "sequence":
                return [self.unmarshal(child) for child in n.content]
            return self.mapping(n, None)
        finally:
            self.depth -= 1

    def scalar(self, n: Node, as_text: bool) -> Any:
        if n.tag == STR:
            return n.value
        if n.resolved is not None:
            return n.value if as_text else n.resolved[1]
        try:
            tag, value = resolve(n.tag, n.value)
        except YamlError as error:
            raise YamlError(error.message, n.line) from None
        if tag == BINARY:
            return _binary(n)
        return n.value if as_text else value

    def mapping(self, n: Node, into: dict[Any, Any] | None) -> dict[Any, Any]:
        seen: dict[tuple[str, str], int] = {}
        for key in n.content[::2]:
            ident = (key.kind, key.value)
            if ident in seen:
                raise YamlError(f'mapping key "{key.value}" already defined at line {seen[ident]}', key.line)
            seen[ident] = key.line
        if into is None:
            into = {} if _is_text_map(n) else GoMap()
        merged, self.merged = self.merged, None
        merge_node = None
        for key, value in zip(n.content[::2], n.content[1::2], strict=True):
            if _is_merge(key):
                merge_node = value
                continue
            k = self.unmarshal(key, as_text=not isinstance(into, GoMap))
            if isinstance(k, list | dict):
                raise YamlError(f"invalid map key: {k!r}", key.line)
            if merged is not None:
                if _key(k) in merged:
                    continue
                merged.add(_key(k))
            into[_key(k) if isinstance(into, GoMap) else k] = self.unmarshal(value)
        self.merged = merged
        if merge_node is not None:
            self.merge(n, merge_node, into)
        return into

    def merge(self, parent: Node, merge: Node, into: dict[Any, Any]) -> None:
        """decode.go d.merge: the parent's own keys win, then each merged mapping's, in order."""
        outer = self.merged
        if outer is None:
            self.merged = {_key(self.unmarshal(key)) for key in parent.content[::2]}
        sources = merge.content if merge.kind == "sequence" else [merge]
        for source in sources:
            target = source.alias if source.kind == "alias" else source
            if merge.kind == "scalar" or target is None or target.kind != "mapping":
                raise YamlError("map merge requires map or sequence of maps as the value", merge.line)
            self.unmarshal(source, into=into)
        self.merged = outer


def _shown_tag(n: Node) -> str:
    return n.tag or ("!!seq" if n.kind == "sequence" else "!!map")


def _is_merge(n: Node) -> bool:
    return n.kind == "scalar" and n.value == "<<" and n.tag in ("", "!", MERGE)


def _is_text_map(n: Node) -> bool:
    """decode.go isStringMap: every key's tag is !!str (or a merge)."""
    return all(_node_short_tag(key) in (STR, MERGE) for key in n.content[::2])


def _node_short_tag(n: Node) -> str:
    while n.kind == "alias" and n.alias is not None:
        n = n.alias
    if n.kind == "scalar" and n.quoted and n.tag in ("", "!"):
        return STR
    return n.tag or ("!!seq" if n.kind == "sequence" else "!!map" if n.kind == "mapping" else "")


def _binary(n: Node) -> str:
    """decode.go: a !!binary scalar is its base64 decoded (Go's decoder skips line breaks)."""
    try:
        data = base64.b64decode(re.sub(r"[\r\n]", "", n.value), validate=True)
    except (binascii.Error, ValueError):
        raise YamlError("!!binary value contains invalid base64 data", n.line) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise YamlError(
            "!!binary value is not UTF-8 text, which offline cannot hand a Python program as config",
            n.line,
            offline=True,
        ) from None


def _key_of(n: Node) -> tuple[str, Any] | None:
    """What a scalar key decodes to, as a Go map key (decode.go scalar: a !!binary key is the text
    its base64 holds); None if it does not decode."""
    try:
        if n.tag == STR:
            return _key(n.value)
        tag, value = n.resolved or resolve(n.tag, n.value)
        return _key(_binary(n) if tag == BINARY else value)
    except YamlError:
        return None


@dataclass(frozen=True)
class Document:
    """A decoded document, and where its keys are."""

    root: Node | None
    value: Any
    second_document: int | None = None
    """The line where a second document starts: yaml.v3 never reads it."""
    _keys: dict[int, dict[Any, int]] = field(default_factory=dict, repr=False, compare=False)

    def line_of(self, *keys: Any) -> int | None:
        """The line of the deepest of these nested keys that is written in the file (a key that
        comes through a merge is not). A key is found by what its node decodes to (`~` is None,
        `true` True, a `!!binary` key its text), else by its text as written."""
        node, line = self.root, None
        for key in keys:
            while node is not None and node.kind == "alias":
                node = node.alias
            if node is None or node.kind != "mapping":
                break
            if id(node) not in self._keys:
                scalars = [(k, i) for i, k in enumerate(node.content[::2]) if k.kind == "scalar"]
                written = [((True, _key_of(k)), i) for k, i in scalars] + [
                    ((False, k.value), i) for k, i in scalars
                ]
                self._keys[id(node)] = dict(reversed(written))  # the first of duplicates
            index = self._keys[id(node)]
            found = index.get((True, _key(key)), index.get((False, str(key))))
            if found is None:
                break
            line, node = node.content[2 * found].line, node.content[2 * found + 1]
        return line


def load(data: bytes) -> Document:
    """The first document of `data` as yaml.v3 decodes it into `any`. Raises YamlError with what
    yaml.v3 says, or with offline's own limits (MAX_DEPTH)."""
    try:
        root, second = parse(data)
    except yaml.MarkedYAMLError as error:
        if "maximum nesting depth" in str(error.problem):
            raise YamlError(
                _TOO_DEEP, error.problem_mark.line + 1 if error.problem_mark else None, offline=True
            ) from None
        mark = error.problem_mark or error.context_mark
        raise YamlError(str(error.problem or error.context), mark.line + 1 if mark else None) from None
    except yaml.reader.ReaderError as error:
        line = data[: error.position].count(b"\n") + 1 if isinstance(error.position, int) else None
        raise YamlError(str(error.reason), line) from None
    except yaml.YAMLError as error:
        raise YamlError(str(error).splitlines()[0]) from None
    if root is None:
        return Document(None, None, second)
    # Decoding recurses once per level: at most MAX_DEPTH levels of nesting, and alias chains
    # that the alias budget keeps short.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20 * MAX_DEPTH))
    try:
        return Document(root, _Decoder().unmarshal(root), second)
    except RecursionError:
        raise YamlError(_TOO_DEEP, offline=True) from None
    finally:
        sys.setrecursionlimit(limit)
