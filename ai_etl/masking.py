"""The one rule for what a message, a warning, a fix or a rendered file may show of a config value:
never the value of a secret key, the user-info, query or fragment of a URL, or the registry
credentials of an image reference. Every place that prints a config value asks `shown`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

HIDDEN = "***"
"""What stands in for a credential inside a value that is shown."""
SECRET_SHOWN = "a secret value (not shown)"
"""What stands in for the whole value of a secret key."""
UNPARSEABLE = "an unparseable value (not shown)"
"""What stands in for a URL that cannot be split safely into the parts that may be shown."""
LIMIT = 120
"""How much of a value a message shows: a hostile value cannot flood it (or a CI log)."""

CREDENTIAL_WORDS = frozenset(
    ("key", "apikey", "token", "secret", "password", "passwd", "pwd", "pass", "auth", "authorization")
    + ("signature", "sig", "credential", "credentials", "session", "jwt", "bearer")
)
"""Words that make a query parameter's name look like it carries a credential: `api_key`, `key`,
`token`, `access_token`, `X-Amz-Signature`, `apiKey`..."""
IMAGE_CREDENTIALS = re.compile(r"(?P<userinfo>[^/@\s]+)@(?P<rest>[^/@\s]+/\S*)")
"""`user:password@registry/path...`: credentials before an image's registry. A reference has no
place for them (distribution/reference `reference.go`: `reference := name [":" tag] ["@" digest]`,
`domain := host [":" port-number]`); what precedes an `@` there is always a digest, after the path."""


@dataclass(frozen=True)
class Secret:
    """Marks a setting whose value the program hands on only as a secret Output: it may be stored
    with --secret (a URL carrying credentials, refused in plain text, must be)."""


def split_url(value: str) -> SplitResult | None:
    """`value` split as a URL; None if it is not one (a bad port or IPv6 address, a control
    character or a space, which urlsplit would silently drop while the value kept it)."""
    if not value.isprintable() or any(ch.isspace() for ch in value):
        return None
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises on a port that is not one
    except ValueError:
        return None
    return url


def query_pairs(query: str) -> list[tuple[str, str]]:
    """A URL's query parameters, split on `&` and on `;` (which some servers split on too)."""
    return [pair for part in query.split(";") for pair in parse_qsl(part, keep_blank_values=True)]


def credential_params(query: str) -> list[str]:
    """The names of the query parameters that look like credentials (`api_key=`, `token=`,
    `apiKey=`, `X-Amz-Signature=`...): a word of the name, split at `-`, `_` and camelCase, is one
    of CREDENTIAL_WORDS."""
    return sorted({name for name, _ in query_pairs(query) if credential_name(name)})


def _words(name: str) -> list[str]:
    return re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower())


def credential_name(name: str) -> bool:
    """Whether a query parameter's name looks like it carries a credential: a word of it, split at
    `-`, `_` and camelCase, is one of CREDENTIAL_WORDS (`api_key`, `X-Amz-Signature`)."""
    return bool(CREDENTIAL_WORDS & set(_words(name)))


def credential_key(key: str) -> bool:
    """Whether a config key holds a credential by its name: its last word is one of CREDENTIAL_WORDS
    (`aws:secretKey`, `aws:accessKey`, `aws:token`; not `aws:skipCredentialsValidation`)."""
    return _words(key.rpartition(":")[2])[-1] in CREDENTIAL_WORDS


def bare_path(path: str, params: str = "") -> str:
    """`path` with each segment's `;parameters` (RFC 3986 3.3) dropped, or replaced by `params`."""
    return "/".join(
        s.partition(";")[0] + (f";{params}" if params and ";" in s else "") for s in path.split("/")
    )


def _is_url(text: str) -> bool:
    """Whether `text` is, or holds, a URL: one that cannot be split is then not shown at all."""
    return "://" in text


def credentials(text: str) -> list[str]:
    """Where a text may carry a credential, described (empty if nowhere): a URL's user-info, the
    credential-looking parameters of its query or path, its fragment (or the whole of a URL that
    cannot be split into them); an image reference's user-info."""
    if not _is_url(text):
        return ["user:password@"] if IMAGE_CREDENTIALS.fullmatch(text) else []
    url = split_url(text)
    if url is None:
        return ["a URL that cannot be split into its parts"]
    found = ["user:password@"] if "@" in url.netloc else []
    params = [segment.partition(";")[2] for segment in url.path.split("/") if ";" in segment]
    names = sorted({*credential_params(url.query), *credential_params(";".join(params))})
    found += [f"query {', '.join(names)}"] if names else []
    return found + (["a fragment (#...)"] if url.fragment else [])


def carries_credentials(value: Any) -> bool:
    """Whether `value`, or any text inside it, is a URL or an image reference carrying credentials."""
    if isinstance(value, dict):
        return any(carries_credentials(v) for v in value.values())
    if isinstance(value, list):
        return any(carries_credentials(v) for v in value)
    return isinstance(value, str) and bool(credentials(value))


def mask_url(text: str) -> str:
    """A URL as a message may show it: user-info, every query value, path parameters and the
    fragment replaced by `***`; scheme, host and path kept, so the user sees which setting it is."""
    url = split_url(text)
    if url is None:
        return UNPARSEABLE
    host = url.netloc.rpartition("@")[2]
    netloc = f"{HIDDEN}@{host}" if "@" in url.netloc else host
    query = "&".join(f"{name}={HIDDEN}" for name, _ in query_pairs(url.query))
    fragment = HIDDEN if url.fragment else ""
    return urlunsplit((url.scheme, netloc, bare_path(url.path, HIDDEN), query, fragment))


def mask_image(text: str) -> str:
    """An image reference as a message may show it: registry credentials replaced by `***`."""
    found = IMAGE_CREDENTIALS.fullmatch(text)
    return f"{HIDDEN}@{found['rest']}" if found else text


def without_credentials(text: str) -> str:
    """`text` with the credentials `url_credentials` or an image's user-info name dropped: the
    value a fix may set in plain text."""
    if not _is_url(text):
        found = IMAGE_CREDENTIALS.fullmatch(text)
        return found["rest"] if found else text
    url = split_url(text)
    if url is None:
        return text
    secret = set(credential_params(url.query))
    query = urlencode([(k, v) for k, v in query_pairs(url.query) if k not in secret])
    return urlunsplit((url.scheme, url.netloc.rpartition("@")[2], bare_path(url.path), query, ""))


SCHEMELESS_USERINFO = re.compile(r"^[^/@\s]*:[^/@\s]*@(?!(?:sha256|sha384|sha512|blake3):)")
"""`user:password@` at the start of a text that is no URL (`user:pw@host/path`, a URL without its
scheme): an address has no `:` before its `@`, and an image's `name:tag@` is followed by a digest
(`@sha256:...`, the OCI image spec's registered algorithms), never by a host."""


def hidden_credentials(text: str) -> str:
    """`text` as a message or a rendered file may hold it: a URL masked (`mask_url`); any other text
    with an image's registry credentials masked (`mask_image`), and what would be the user-info,
    query or fragment of a URL written without its scheme (`host/path?token=...`) as `***`."""
    if _is_url(text):
        return mask_url(text)
    text = SCHEMELESS_USERINFO.sub(f"{HIDDEN}@", mask_image(text))
    cut = min((i for i in (text.find("?"), text.find("#")) if i >= 0), default=-1)
    return text if cut < 0 else text[: cut + 1] + HIDDEN


def _masked_leaf(value: Any) -> Any:
    if isinstance(value, dict):
        return {_masked_leaf(k): _masked_leaf(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked_leaf(v) for v in value]
    return hidden_credentials(value) if isinstance(value, str) else value


def masked(value: Any, limit: int = LIMIT) -> str:
    """`repr(value)` with every credential inside it masked, cut to `limit` characters."""
    if isinstance(value, int) and abs(value) >= 10**limit:  # repr refuses past 4300 digits
        return f"a number of more than {limit} digits"
    leaf = _masked_leaf(value)
    text = UNPARSEABLE if leaf == UNPARSEABLE else repr(leaf)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shown(value: Any, secret: bool, limit: int = LIMIT) -> str:
    """What a message may say of a config value: nothing of a secret key's, else `masked`."""
    return SECRET_SHOWN if secret else masked(value, limit)
