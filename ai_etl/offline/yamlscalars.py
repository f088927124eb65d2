"""Plain scalars as Go's gopkg.in/yaml.v3 (v3.0.1, the Pulumi CLI's YAML) resolves them: which
are numbers, booleans, null or timestamps (go-yaml/yaml resolve.go), with Go's own number syntax
(strconv.ParseInt with base 0: `0777` octal, `0x`, `0o`, `0b`) and Go's time.Parse for timestamps.

Neither YAML 1.1 (PyYAML's resolver) nor YAML 1.2 (ruamel.yaml's) is what yaml.v3 does: it keeps
1.1's `0777` octals and `1_000` underscores, adds 1.2's `0o17`, and takes neither 1.1's `yes`,
`1:00` nor `2001-12-14 21:59:43.10 -5`.
"""

from __future__ import annotations

import calendar
import math
import re
import time
from dataclasses import dataclass
from typing import Any

NULL, BOOL, STR, INT, FLOAT = "!!null", "!!bool", "!!str", "!!int", "!!float"
TIMESTAMP, BINARY, MERGE = "!!timestamp", "!!binary", "!!merge"
_LONG_PREFIX = "tag:yaml.org,2002:"

# resolve.go, resolveMapList: the only words that are not text.
_WORDS: dict[str, tuple[str, Any]] = {
    **dict.fromkeys(("true", "True", "TRUE"), (BOOL, True)),
    **dict.fromkeys(("false", "False", "FALSE"), (BOOL, False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), (NULL, None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), (FLOAT, math.nan)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), (FLOAT, math.inf)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), (FLOAT, -math.inf)),
    "<<": (MERGE, "<<"),
}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
# strconv.ParseFloat of a text that starts with '.': digits, underscores only between digits.
_DOT_FLOAT = re.compile(r"\.[0-9](_?[0-9])*([eE][-+]?[0-9](_?[0-9])*)?")
_MAX_UINT64 = (1 << 64) - 1


class YamlError(ValueError):
    """What yaml.v3 refuses, with the line it names (1-based) when there is one; or, `offline`,
    what offline does not read although yaml.v3 would."""

    def __init__(self, message: str, line: int | None = None, *, offline: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.offline = offline


@dataclass(frozen=True)
class GoTime:
    """A timestamp as yaml.v3 decodes it (a Go time.Time): wall clock and UTC offset (None: UTC)."""

    year: int
    month: int
    day: int
    hour: int = 0
    minute: int = 0
    second: int = 0
    nanosecond: int = 0
    offset: int | None = None
    """Seconds east of UTC as written; None for `Z` or no zone (time.UTC)."""

    def _fraction(self) -> str:
        return f".{self.nanosecond:09d}".rstrip("0") if self.nanosecond else ""

    def rfc3339nano(self) -> str:
        """time.RFC3339Nano, what yaml.v3's encoder writes (encode.go timev) and json.Marshal gives."""
        wall = f"{self.year:04d}-{self.month:02d}-{self.day:02d}T{self.hour:02d}:{self.minute:02d}"
        if not self.offset:
            return f"{wall}:{self.second:02d}{self._fraction()}Z"
        sign, minutes = ("-" if self.offset < 0 else "+"), abs(self.offset) // 60
        return f"{wall}:{self.second:02d}{self._fraction()}{sign}{minutes // 60:02d}:{minutes % 60:02d}"

    def go_string(self) -> str:
        """time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST". A numeric offset gets
        the machine's zone name when the machine's local zone has that offset then (Go's
        time.Parse), else none (printed as the offset)."""
        wall = f"{self.year:04d}-{self.month:02d}-{self.day:02d} {self.hour:02d}:{self.minute:02d}"
        offset = self.offset or 0
        sign, minutes = ("-" if offset < 0 else "+"), abs(offset) // 60
        numeric = f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
        name = "UTC" if not self.offset else (_local_zone_name(self) or numeric)
        return f"{wall}:{self.second:02d}{self._fraction()} {numeric} {name}"


def _local_zone_name(t: GoTime) -> str | None:
    """The local zone's abbreviation if its offset at that instant is the time's (Go's time.Parse)."""
    days = _days_from_civil(t.year, t.month, t.day)
    instant = days * 86400 + t.hour * 3600 + t.minute * 60 + t.second - (t.offset or 0)
    try:
        local = time.localtime(instant)
    except (OverflowError, OSError, ValueError):
        return None
    return local.tm_zone if local.tm_gmtoff == t.offset else None


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (year 0 included, as Go's)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def short_tag(tag: str) -> str:
    return "!!" + tag[len(_LONG_PREFIX) :] if tag.startswith(_LONG_PREFIX) else tag


def _go_parse_uint(s: str, base: int) -> int | None:
    """strconv.ParseUint(s, base, 64) for base 0, 2 or 8, on text without underscores."""
    if not s:
        return None
    if base == 0:
        base = 10
        if s[0] == "0":
            prefix = s[1:2].lower()
            if len(s) >= 3 and prefix in ("b", "o", "x"):
                base, s = {"b": 2, "o": 8, "x": 16}[prefix], s[2:]
            else:
                base, s = 8, s[1:]
    digits = "0123456789abcdef"[:base]
    if any(c.lower() not in digits for c in s):
        return None
    value = int(s, base) if s else 0
    return value if value <= _MAX_UINT64 else None


def _go_parse_int(s: str, base: int) -> int | None:
    """strconv.ParseInt(s, base, 64): an optional sign, then ParseUint, within int64."""
    if not s:
        return None
    negative = s[0] == "-"
    magnitude = _go_parse_uint(s[1:] if s[0] in "+-" else s, base)
    if magnitude is None or magnitude > (1 << 63) - (0 if negative else 1):
        return None
    return -magnitude if negative else magnitude


def _finite(text: str) -> float | None:
    """strconv.ParseFloat on decimal text: an overflow is an error, not infinity."""
    value = float(text)
    return value if math.isfinite(value) else None


def resolve(tag: str, text: str) -> tuple[str, Any]:
    """resolve.go resolve(): the tag and value of a scalar; an explicit tag the text does not fit
    fails as yaml.v3 fails ("cannot decode !!str `abc` as a !!int")."""
    tag = short_tag(tag)
    if tag not in ("", STR, BOOL, INT, FLOAT, NULL, TIMESTAMP):
        return tag, text
    rtag, out = _resolve(tag, text)
    if tag in ("", rtag, STR, BINARY):
        return rtag, out
    if tag == FLOAT and rtag == INT:
        return FLOAT, float(out)
    shown = text if len(text) <= 10 else text[:7] + "..."
    raise YamlError(f"cannot decode {rtag} `{shown}` as a {tag}")


def _resolve(tag: str, text: str) -> tuple[str, Any]:
    hint = text[:1]
    if tag == STR or not (hint == "" or hint in "+-0123456789yYnNtTfFoO~."):
        return STR, text
    if text in _WORDS:
        return _WORDS[text]
    if hint == ".":
        if _DOT_FLOAT.fullmatch(text) and (value := _finite(text.replace("_", ""))) is not None:
            return FLOAT, value
        return STR, text
    if hint not in "+-0123456789":
        return STR, text
    if tag in ("", TIMESTAMP) and (stamp := parse_timestamp(text)) is not None:
        return TIMESTAMP, stamp
    plain = text.replace("_", "")
    for number in (_go_parse_int(plain, 0), _go_parse_uint(plain, 0)):
        if number is not None:
            return INT, number
    if _YAML_STYLE_FLOAT.fullmatch(plain) and (value := _finite(plain)) is not None:
        return FLOAT, value
    # The 0b and 0o branches, which take a sign after the prefix ("0b-1" is -1).
    for prefix, base in (("0b", 2), ("0o", 8)):
        if plain.startswith(prefix):
            number = _go_parse_int(plain[2:], base)
            number = number if number is not None else _go_parse_uint(plain[2:], base)
            if number is not None:
                return INT, number
        elif plain.startswith("-" + prefix) and (number := _go_parse_int("-" + plain[3:], base)) is not None:
            return INT, number
    return STR, text


_TIMESTAMP_FORMAT = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})"
    r"(?:(?P<sep>[Tt]| +)(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{1,2}):(?P<second>[0-9]{1,2})"
    r"(?:[.,](?P<fraction>[0-9]+))?(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})?)?"
)


def parse_timestamp(text: str) -> GoTime | None:
    """resolve.go parseTimestamp: Go's time.Parse with the layouts "2006-1-2T15:4:5.999999999Z07:00"
    (and lower-case t), "2006-1-2 15:4:5.999999999" and "2006-1-2"; Go reads one or two digits for
    month, day, hour, minute and second, any number of fraction digits (nine kept), and checks ranges."""
    match = _TIMESTAMP_FORMAT.fullmatch(text)
    if match is None:
        return None
    parts = match.groupdict()
    if parts["sep"] and parts["sep"].startswith(" ") == bool(parts["zone"]):
        return None
    year, month, day = int(parts["year"]), int(parts["month"]), int(parts["day"])
    hour, minute, second = (int(parts[k] or 0) for k in ("hour", "minute", "second"))
    if not 1 <= month <= 12 or not 1 <= day <= _days_in(year, month):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    nanosecond = int((parts["fraction"] or "")[:9].ljust(9, "0"))
    offset = None
    if parts["zone"] and parts["zone"] != "Z":
        hours, minutes = int(parts["zone"][1:3]), int(parts["zone"][4:6])
        if hours > 24 or minutes > 60:
            return None
        offset = (hours * 60 + minutes) * 60 * (-1 if parts["zone"][0] == "-" else 1)
    return GoTime(year, month, day, hour, minute, second, nanosecond, offset)


def _days_in(year: int, month: int) -> int:
    if month == 2:
        return 29 if calendar.isleap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31
