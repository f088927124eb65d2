"""Config values as the Pulumi CLI hands them to a program: the text of a config.Value, written by
Go (encoding/json, fmt's %v), not by Python's json.

pulumi/pulumi sdk/go/common/resource/config/object.go: MarshalString keeps text as it is and writes
any other value with json.Marshal; unmarshalObject names a mapping key that is not text by fmt's %v.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ai_etl.offline import yamlv3
from ai_etl.offline.yamlv3 import GoTime


def cli_text(value: Any) -> str:
    """The text a program reads for a top-level key (config/object.go MarshalString): text as it
    is, no value as empty text (config.Value's zero value: yaml.v3 skips UnmarshalYAML for a null),
    any other value as Go's encoding/json writes it."""
    if isinstance(value, str):
        return value
    return "" if value is None else go_json(value)


def go_json(value: Any) -> str:
    """Go's json.Marshal: compact, keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped, floats
    as encoding/json's floatEncoder writes them, and no NaN or infinity."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"json: unsupported value: {value}")
        return _go_float(value, "json")
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            text = text.replace(char, escape)
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(value, GoTime):
        return go_json(value.go_string())
    if isinstance(value, Mapping):
        pairs = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{go_json(k)}:{go_json(v)}" for k, v in pairs) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    raise ValueError(f"json: unsupported type: {type(value).__name__}")


def _go_float(value: float, style: str) -> str:
    """A float64 as Go writes it, from its shortest round-tripping digits (Python's repr and Go's
    are the same digits). `json`: encoding/json's floatEncoder ('f', or 'e' below 1e-6 and from
    1e21, with `e-07` written `e-7`); `g`: strconv.FormatFloat(f, 'g', -1, 64), as yaml.v3's
    encoder writes a float ('e' below 1e-4 and from 1e6, the shortest precision counting as 6)."""
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + int(exponent)  # digits before the decimal point
    magnitude = abs(value)
    if style == "json":
        scientific = magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21)
    else:
        scientific = magnitude != 0 and not -4 <= point - 1 < 6
    if scientific:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        power = point - 1
        shown = f"{'-' if power < 0 else '+'}{abs(power):02d}"
        if style == "json" and shown.startswith("-0"):
            shown = "-" + shown[2:]
        body = f"{mantissa}e{shown}"
    elif point <= 0:
        body = "0." + "0" * -point + text
    elif point >= len(text):
        body = text + "0" * (point - len(text))
    else:
        body = text[:point] + "." + text[point:]
    return ("-" if sign else "") + body


def go_key_text(key: Any) -> str:
    """Go's `%v` of a mapping key that yaml.v3 read again (config/object.go unmarshalObject)."""
    if isinstance(key, str):
        return key
    if key is None:
        return "<nil>"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float):
        if math.isnan(key):
            return "NaN"
        if math.isinf(key):
            return "+Inf" if key > 0 else "-Inf"
        text = _go_float(key, "g")
        tag, number = yamlv3.resolve("", text)
        return str(number) if tag == "!!int" else text
    if isinstance(key, GoTime):
        stamp = yamlv3.parse_timestamp(key.rfc3339nano())
        return stamp.go_string() if stamp else key.rfc3339nano()
    return str(key)
