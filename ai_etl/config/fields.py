"""Constrained config field types whose problems read as ours (`must be <what>, got <value>`), and
the real references some are checked against (AWS's region list).

Each type takes every form the Pulumi CLI can store for a valid value: `config set --path` stores
`2` as an integer, plain `config set` stores text.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
HOSTNAME = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
QUANTITY = r"\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?"
IMAGE = (  # [registry[:port]/]path[:tag][@sha256:digest], lower-case path
    r"(?:[a-zA-Z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?"
)
CLUSTER_NAME = r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}"
"""An EKS cluster's name: botocore's eks model, shape ClusterName (pattern, at most 100)."""
ROLE_ARN = r"arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:role/[\w+=,.@/-]{1,512}"
"""An IAM role's ARN (IAM's role name and path characters)."""
EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
OIDC_PROVIDER_ARN = re.compile(
    r"arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}):oidc-provider/"
    r"(?P<issuer>[a-z0-9.-]+(/[A-Za-z0-9._~-]+)*)"
)


def _rule(what: str, ok: Callable[[Any], bool], coerce: Callable[[Any], Any]) -> BeforeValidator:
    """A check whose failure reads as ours: `must be <what>, got <value>`."""

    def check(value: Any) -> Any:
        value = coerce(value)
        if not ok(value):
            raise PydanticCustomError(
                "ai_etl", "must be {what}, got {got}", {"what": what, "got": repr(value)}
            )
        return value

    return BeforeValidator(check)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def whole(low: int, high: int | None = None) -> BeforeValidator:
    """A whole number in range. Text of digits counts: `config set` without --path stores text."""
    span = f"from {low} to {high}" if high is not None else f"of {low} or more"

    def number(value: Any) -> Any:
        return int(value) if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()) else value

    def in_range(value: Any) -> bool:
        return _is_int(value) and low <= value and (high is None or value <= high)

    return _rule(f"a whole number {span}", in_range, number)


def text(
    what: str, pattern: str = r".*\S.*", ok: Callable[[str], bool] = bool, optional: bool = False
) -> BeforeValidator:
    """A string matching `pattern`. A number counts as its text: `config set --path` stores 2 as 2."""

    def as_text(value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    def good(value: Any) -> bool:
        if value is None:
            return optional
        return isinstance(value, str) and bool(re.fullmatch(pattern, value)) and ok(value)

    return _rule(what, good, as_text)


def http_url_without_credentials(value: str) -> bool:
    url = urlsplit(value)
    return url.scheme in ("http", "https") and bool(url.hostname) and not (url.username or url.password)


Flag = Annotated[
    bool,
    _rule("true or false", lambda v: isinstance(v, bool), lambda v: {"true": True, "false": False}.get(v, v)),
]
Port = Annotated[int, whole(1, 65535)]
Quantity = Annotated[str, text("a Kubernetes quantity such as '500m' or '512Mi'", QUANTITY)]
HttpPath = Annotated[str, text("an HTTP path starting with '/'", r"/\S*")]
Hostname = Annotated[str, text("a DNS name such as 'postgres-svc'", HOSTNAME)]
Word = Annotated[str, text("a non-empty string")]
Label = Annotated[str, text("an RFC 1123 label (lower-case letters, digits and '-', at most 63)", LABEL)]


@cache
def _partitions() -> list[dict[str, Any]]:
    """botocore/data/partitions.json, read directly: botocore's loader would import its HTTP stack."""
    spec = importlib.util.find_spec("botocore")
    assert spec is not None and spec.origin is not None, "botocore is a dependency"
    return list(json.loads((Path(spec.origin).parent / "data" / "partitions.json").read_text())["partitions"])


@cache
def aws_regions() -> Mapping[str, str]:
    """Every AWS region, with its partition, as botocore's data lists them."""
    return {r: p["id"] for p in _partitions() for r in p["regions"] if not r.endswith("-global")}


def dns_suffix(partition: str) -> str:
    """The partition's DNS suffix (`amazonaws.com`, `amazonaws.com.cn`, ...), for service names."""
    return str(next(p["outputs"]["dnsSuffix"] for p in _partitions() if p["id"] == partition))
