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
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from ai_etl.grade import GRADES
from ai_etl.masking import carries_credentials, credentials, masked, split_url, without_credentials

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
EVENT_BUS_ARN = r"arn:(aws|aws-cn|aws-us-gov):events:[a-z]{2}(-[a-z]+)+-\d:\d{12}:event-bus/[\w.\-/]{1,256}"
"""An EventBridge event bus's ARN (EventBridge API reference, EventBus: a Name of letters, digits, `/._-`)."""
ALERT_ENDPOINT = (
    r"https://([^\s/@]+@)?[^\s/?#@]+([/?#]\S*)?"
    r"|arn:(aws|aws-cn|aws-us-gov):sqs:[a-z0-9-]+:\d{12}:[\w-]{1,80}"
    r"|arn:(aws|aws-cn|aws-us-gov):lambda:[a-z0-9-]+:\d{12}:function:[\w-]{1,64}(:[\w$-]{1,128})?"
)
"""An endpoint SNS delivers to besides email (SNS API reference, Subscribe: Protocol https, sqs,
lambda). An https URL may carry a user and password, which SNS sends as basic or digest access
authentication (Amazon SNS Developer Guide, "Fanout Amazon SNS notifications to HTTPS endpoints",
sns-http-https-endpoint-as-subscriber), or a token in its query: then only stored with --secret
(Problems.validate refuses it in plain text; masking.Secret)."""
TRAIL_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9._-]{1,126}[a-zA-Z0-9])"
"""A CloudTrail trail's name: 3 to 128 letters, digits, '.', '_' and '-', starting and ending with
a letter or digit (AWS::CloudTrail::Trail's schema, TrailName; pulumi/pulumi-aws-native
aws-cloudformation-schema/aws-cloudtrail-trail.json)."""
TRAIL = re.compile(
    rf"(?P<name>{TRAIL_NAME})"
    rf"|arn:(?P<partition>aws|aws-cn|aws-us-gov):cloudtrail:(?P<region>[a-z0-9-]+):(?P<account>\d{{12}}):"
    rf"trail/(?P<arn_name>{TRAIL_NAME})"
)
"""An existing trail, by name (in the stack's region) or by ARN (in its home region)."""
OIDC_PROVIDER_ARN = re.compile(
    r"arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}):oidc-provider/"
    r"(?P<issuer>[a-z0-9.-]+(/[A-Za-z0-9._~-]+)*)"
)


def _rule(
    what: str,
    ok: Callable[[Any], bool],
    coerce: Callable[[Any], Any],
    shown: Callable[[Any], str] = masked,
) -> BeforeValidator:
    """A check whose failure reads as ours: `must be <what>, got <value as shown>` (masking.masked:
    never a credential inside it)."""

    def check(value: Any) -> Any:
        value = coerce(value)
        if not ok(value):
            context = {"what": what, "got": shown(value)}
            raise PydanticCustomError("ai_etl", "must be {what}, got {got}", context)
        return value

    return BeforeValidator(check)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


NUMBER_DIGITS = 30
"""The most digits of text read as a number: more is out of every range here, and Python refuses
to read 4300 or more (sys.get_int_max_str_digits) with a ValueError rather than a problem."""


def whole(low: int, high: int | None = None) -> BeforeValidator:
    """A whole number in range. Text of digits counts: `config set` without --path stores text."""
    span = f"from {low} to {high}" if high is not None else f"of {low} or more"

    def number(value: Any) -> Any:
        digits = isinstance(value, str) and re.fullmatch(rf"[+-]?\d{{1,{NUMBER_DIGITS}}}", value.strip())
        return int(value) if digits else value

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


def api_url_problem(value: str) -> str | None:
    """Why `value` cannot be an API's base URL written in plain text into a Deployment's env: it
    must be https (the key travels in every request's headers), name a host, and carry no
    credential (no user:password@, no `api_key=`-like parameter): the key goes in qwenApiKey,
    which is encrypted and synced as a secret."""
    url = split_url(value)
    if url is None or not url.hostname or url.scheme not in ("http", "https"):
        return "an https URL"
    found = [f for f in credentials(value) if f != "a fragment (#...)"]
    if "user:password@" in found:
        return "an https URL without credentials (user:password@): the key goes in qwenApiKey"
    if url.fragment:
        # Never sent to the server, so an API base has no use for one; a key put there would sit
        # in plain text in the Deployment's env.
        return "an https URL without a fragment (#...): the key goes in qwenApiKey"
    if found:  # a credential-looking parameter of the query or the path (`/v1;api_key=`)
        return f"an https URL without credentials ({found[0]}): the key goes in qwenApiKey"
    if url.scheme != "https":
        return "an https URL: over http:// the API key in every request's headers travels in clear"
    return None


def clean_url(value: str) -> str | None:
    """`value` as the URL it should have been: https, without surrounding spaces, user:password@,
    the credential-looking query parameters, path parameters or a fragment; None if it names no host."""
    url = split_url(value.strip())
    if url is None or not url.hostname or url.scheme not in ("http", "https"):
        return None
    return "https" + without_credentials(value.strip()).removeprefix(url.scheme)


@dataclass(frozen=True)
class Repair:
    """A field's note of how to mend a bad value: `mend(value)` is what the fix sets instead,
    keeping what the user meant, or None to fall back on the field's example."""

    mend: Callable[[Any], Any]
    beside: Callable[[Any, Mapping[str, Any]], Mapping[str, Any]] = lambda value, siblings: {}
    """What the other settings of the same object (`siblings`, as given) must be set to with the
    mended value, where that value decides them (an RDS endpoint, its kind)."""
    decided: Callable[[Mapping[str, Any]], Any] = lambda siblings: None
    """The value the other settings of the object decide, where `mend` keeps nothing (the kind an
    endpoint names); None: the field's example, a placeholder only the user fills in."""


def mended_url(value: Any) -> str | None:
    """A refused API URL made acceptable (clean_url), if it can be."""
    url = clean_url(value) if isinstance(value, str) else None
    return url if url is not None and api_url_problem(url) is None else None


def mended_host(value: Any) -> str | None:
    """A host given as a URL, with `user:password@`, a port, a path or in capitals: the host alone,
    which never carries the credentials; None where no DNS name is left."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    url = split_url(text if "://" in text else f"//{text}")
    host = url.hostname if url is not None else None
    return host if host and re.fullmatch(HOSTNAME, host) else None


def mended_region(value: Any) -> str | None:
    """A region written in another case or with spaces (`EU-WEST-1`): the same region, as AWS
    writes it; None for anything else, which only the user can name."""
    text = value.strip().lower() if isinstance(value, str) else None
    return text if text in aws_regions() else None


def mended_grade(value: Any) -> str | None:
    """A grade written in another case or with spaces (`PRODUCTION`, ` production`): the grade meant."""
    text = value.strip().lower() if isinstance(value, str) else None
    return text if text in GRADES else None


def api_url() -> BeforeValidator:
    """An API's base URL (api_url_problem), its credentials never echoed (masking.masked)."""

    def check(value: Any) -> Any:
        value = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        problem = api_url_problem(value) if isinstance(value, str) else "an https URL"
        if problem:
            raise PydanticCustomError(
                "ai_etl", "must be {what}, got {got}", {"what": problem, "got": masked(value)}
            )
        return value

    return BeforeValidator(check)


def image_reference(example: str) -> BeforeValidator:
    """A container image reference; one carrying registry credentials is refused as such, and its
    credentials are not shown (masking.masked)."""
    plain = text(f"a container image reference such as {example}", IMAGE)

    def check(value: Any) -> Any:
        if isinstance(value, str) and carries_credentials(value):
            what = (
                "a container image reference without registry credentials (user:password@): nodes "
                "pull with their own credentials or an imagePullSecret's"
            )
            context = {"what": what, "got": masked(value)}
            raise PydanticCustomError("ai_etl", "must be {what}, got {got}", context)
        return plain.func(value)  # type: ignore[call-arg]

    return BeforeValidator(check)


def mended_image(value: Any) -> str | None:
    """A refused image reference without its registry credentials, if that is one."""
    image = without_credentials(value) if isinstance(value, str) else None
    return image if image is not None and image != value and re.fullmatch(IMAGE, image) else None


def image_tag(image: str) -> str | None:
    """The tag of an image reference, None if it has none: the part after a `:` in its last path
    component, before any `@digest` (a registry's `host:port/` is no tag)."""
    last = image.partition("@")[0].rpartition("/")[2]
    return last.partition(":")[2] if ":" in last else None


def pinned(image: str) -> bool:
    """Whether an image reference names its content by digest: the digest then wins over any tag
    (distribution/reference `normalize.go`, ParseDockerRef)."""
    return "@sha256:" in image


def _flag(value: Any) -> Any:
    return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value


Flag = Annotated[bool, _rule("true or false", lambda v: isinstance(v, bool), _flag)]
OptionalFlag = Annotated[
    bool | None, _rule("true or false", lambda v: v is None or isinstance(v, bool), _flag)
]
"""A flag whose default depends on another key (unset: None)."""
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
