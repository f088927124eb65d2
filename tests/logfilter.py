"""A small evaluator of CloudWatch Logs' JSON filter patterns, the part the cluster audit uses.

moto stores a metric filter but does not evaluate a JSON pattern (getmoto/moto moto/logs/utils.py,
EventMessageFilter: a pattern that starts with `{` is an UnsupportedFilterPattern, which matches
every message) and has no TestMetricFilter, so the pattern is evaluated here, by the grammar of the
CloudWatch Logs user guide ("Using filter patterns to match terms in JSON log events"):
`{ <expression> }`; a selector `$.a.b`; `=` and `!=` against a quoted string in which `*` is a
wildcard; `NOT EXISTS`; `&&`, `||` and parentheses. A mix of `&&` and `||` without parentheses is
refused rather than given a precedence the guide does not state, and so is anything else, so a
pattern that leans on more than this is caught here, not in production.

A comparison with a field the record lacks is false, whether `=` or `!=` (the safe reading for an
alarm: `NOT EXISTS` is how the pattern asks for a missing field).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

TOKEN = re.compile(r'\s*(\{|\}|\(|\)|&&|\|\||!=|=|NOT EXISTS|\$(?:\.[A-Za-z_][A-Za-z0-9_]*)+|"[^"\\]*")')

Test = Callable[[dict[str, Any]], bool]


class PatternError(ValueError):
    """The pattern is outside the grammar this evaluator (and the pattern) keeps to."""


def _tokens(pattern: str) -> list[str]:
    found, at = [], 0
    while at < len(pattern.rstrip()):
        match = TOKEN.match(pattern, at)
        if not match:
            raise PatternError(f"unexpected text at {at}: {pattern[at : at + 20]!r}")
        found.append(match[1])
        at = match.end()
    return found


def _lookup(record: Any, selector: str) -> tuple[bool, Any]:
    value = record
    for part in selector.split(".")[1:]:
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def compile_pattern(pattern: str) -> Test:
    """The pattern as a test of one parsed JSON record (PatternError outside the grammar)."""
    tokens = _tokens(pattern)
    if tokens[:1] != ["{"] or tokens[-1:] != ["}"]:
        raise PatternError("a JSON pattern is enclosed in { }")
    body, at = tokens[1:-1], 0

    def peek() -> str | None:
        return body[at] if at < len(body) else None

    def take(expected: str | None = None) -> str:
        nonlocal at
        if at >= len(body) or (expected is not None and body[at] != expected):
            raise PatternError(f"expected {expected or 'more'} at token {at}, found {peek()!r}")
        at += 1
        return body[at - 1]

    def expression() -> Test:
        first = operand()
        joiner = peek() if peek() in ("&&", "||") else None
        terms = [first]
        while peek() in ("&&", "||"):
            if take() != joiner:
                raise PatternError("&& and || mixed without parentheses")
            terms.append(operand())
        if joiner == "&&":
            return lambda r: all(t(r) for t in terms)
        if joiner == "||":
            return lambda r: any(t(r) for t in terms)
        return first

    def operand() -> Test:
        if peek() == "(":
            take("(")
            inner = expression()
            take(")")
            return inner
        selector = take()
        if not selector.startswith("$."):
            raise PatternError(f"expected a selector, found {selector!r}")
        operator = take()
        if operator == "NOT EXISTS":
            return lambda r: not _lookup(r, selector)[0]
        if operator not in ("=", "!="):
            raise PatternError(f"unsupported operator {operator!r}")
        quoted = take()
        if not quoted.startswith('"'):
            raise PatternError(f"expected a quoted value, found {quoted!r}")
        wanted = quoted[1:-1]

        def compare(record: dict[str, Any]) -> bool:
            present, value = _lookup(record, selector)
            if not present or not isinstance(value, str):
                return False
            equal = fnmatch.fnmatchcase(value, wanted) if "*" in wanted else value == wanted
            return equal if operator == "=" else not equal

        return compare

    test = expression()
    if at != len(body):
        raise PatternError(f"unexpected {peek()!r} at token {at}")
    return test
