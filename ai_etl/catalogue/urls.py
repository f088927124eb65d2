"""Connection URLs composed from a generated password and plain connection settings, and read back
the way the backend's drivers read them."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ai_etl.catalogue import SecretSpec

if TYPE_CHECKING:  # the takeover's helpers read URLs in a process of their own, without the SDK
    import pulumi


TLS_QUERIES: dict[str, str] = {"postgresql+asyncpg": "ssl=verify-full"}
"""What makes each backend driver require TLS and verify the server's certificate and name, by the
scheme of its template. SQLAlchemy's asyncpg dialect passes the URL's query to `asyncpg.connect` as
keyword arguments (sqlalchemy/sqlalchemy lib/sqlalchemy/dialects/postgresql/asyncpg.py,
create_connect_args: `opts.update(url.query)`), and `connect` takes `ssl`, not libpq's `sslmode` or
`sslrootcert` (a TypeError); asyncpg reads the CA bundle from PGSSLROOTCERT (MagicStack/asyncpg
asyncpg/connect_utils.py, _parse_connect_dsn_and_args), which the workload's env sets."""


def tls_query(spec: SecretSpec) -> str:
    """The query that makes `spec`'s driver verify the server (TLS_QUERIES)."""
    scheme = str(spec.url_template).partition("://")[0]
    if scheme not in TLS_QUERIES:
        raise ValueError(
            f"{spec.key}: no driver's TLS options are known for {scheme}:// (add them to TLS_QUERIES)"
        )
    return TLS_QUERIES[scheme]


def connection_query(spec: SecretSpec, connection: object) -> str:
    """The options the program adds to `spec`'s URL for its connection's settings: verified TLS to
    a server AWS runs (RDS or Aurora, `on_rds`), else none. The plan composes the backend's URL with
    them; the takeover allows them as the one change of a live URL it keeps."""
    return tls_query(spec) if getattr(connection, "on_rds", False) else ""


def compose_url(spec: SecretSpec, connection: Mapping[str, str | int], password: str, query: str = "") -> str:
    """The URL of a composed secret, every field percent-encoded, `query` (the program's own
    options, never user input) appended as it is.

    A generated password may hold `@`, `:`, `/` or `#`; unencoded, any of them would split the URL
    in the wrong place, so each value is quoted with no safe characters.
    """
    if spec.url_template is None:
        raise ValueError(f"{spec.key} is not a composed secret")
    fields = {name: quote(str(value), safe="") for name, value in connection.items()}
    url = spec.url_template.format(password=quote(password, safe=""), **fields)
    return f"{url}?{query}" if query else url


def composed_value(
    spec: SecretSpec, connection: Mapping[str, str | int], password: pulumi.Output[str], query: str = ""
) -> pulumi.Output[str]:
    """A composed secret from its password, built inside apply so that it stays secret."""
    import pulumi

    # apply keeps the password's secretness; Output.secret makes the URL secret regardless.
    compose = functools.partial(compose_url, spec, connection, query=query)
    return pulumi.Output.secret(password.apply(compose))


@dataclass(frozen=True)
class Reading:
    """What the backend's driver connects with, read from a URL: two URLs that read the same are
    the same credential, however each is spelled (`!` raw or `%21`)."""

    scheme: str
    username: str | None
    password: str | None = field(repr=False)
    host: str | None
    port: int | None
    database: str | None
    options: tuple[tuple[str, str], ...]
    """The query's options, and any the driver derives from the scheme, as text, sorted."""

    def without_password(self) -> str:
        """The URL as the driver reads it, its password shown as `***`."""
        user = self.username or ""
        secret = ":***" if self.password else ""
        port = f":{self.port}" if self.port is not None else ""
        query = "?" + "&".join(name for name, _ in self.options) if self.options else ""
        return f"{self.scheme}://{user}{secret}@{self.host or ''}{port}/{self.database or ''}{query}"


class UnreadableURLError(ValueError):
    """The driver refuses the URL. The message names the key only: a parser's own message may quote
    any part of the URL, the password included, so it is never passed on."""


def _sqlalchemy(url: str) -> Reading:
    """SQLAlchemy's rules (`create_async_engine(DATABASE_URL)` reads it with `make_url`;
    sqlalchemy/sqlalchemy lib/sqlalchemy/engine/url.py, `_parse_url`): the password runs to the
    first `@` after the user (`[^@]*`), so a raw `#`, `/` or `?` in it is kept, and is then
    percent-decoded (`unquote`)."""
    from sqlalchemy.engine import make_url

    url_ = make_url(url)
    options = tuple(sorted((k, str(v)) for k, v in url_.query.items()))
    return Reading(
        url_.drivername, url_.username, url_.password, url_.host, url_.port, url_.database, options
    )


def _redis_py(url: str) -> Reading:
    """redis-py's rules (`redis.asyncio.from_url(REDIS_URL)` -> `parse_url`; redis/redis-py
    redis/asyncio/connection.py, the same as redis/connection.py): `urllib.parse.urlparse`, then
    `unquote` of the user and password. So unlike SQLAlchemy, a raw `#`, `?` or `/` ends the URL's
    authority there, and the password read is cut short."""
    from redis.asyncio.connection import parse_url

    kwargs: dict[str, Any] = dict(parse_url(url))
    scheme = url.partition("://")[0].lower()
    known = {"username", "password", "host", "port", "db", "connection_class"}
    options = tuple(sorted((k, str(v)) for k, v in kwargs.items() if k not in known))
    db = kwargs.get("db")
    return Reading(
        scheme,
        kwargs.get("username"),
        kwargs.get("password"),
        kwargs.get("host"),
        kwargs.get("port"),
        None if db is None else str(db),
        options,
    )


READERS: dict[str, Callable[[str], Reading]] = {
    "postgresql+asyncpg": _sqlalchemy,
    "redis": _redis_py,
    # TLS: redis-py's parse_url reads `rediss` as `redis` with connection_class SSLConnection, whose
    # ssl_cert_reqs default is "required" (redis/redis-py redis/connection.py, SSLConnection).
    "rediss": _redis_py,
}
"""The backend's driver for each composed secret, by the scheme of its template (or, where the
template leaves the scheme to the connection, `{scheme}://`, of the URL)."""


def read_url(spec: SecretSpec, url: str) -> Reading:
    """`url` as the backend's driver for `spec` reads it; UnreadableURLError (naming the key, quoting
    nothing of the URL) when the driver refuses it."""
    scheme = str(spec.url_template).partition("://")[0]
    if scheme.startswith("{"):  # the connection's: the URL's own, if it is one of the known
        scheme = url.partition("://")[0].lower()
    if scheme not in READERS:
        raise UnreadableURLError(
            f"{spec.key}: no driver's rules are known for {scheme}:// (add them to READERS)"
        )
    try:
        return READERS[scheme](url)
    except Exception:  # ArgumentError, ValueError("Port could not be cast ... '<part of it>'"), ...
        raise UnreadableURLError(
            f"{spec.key}: the backend's driver cannot read it as a URL (its text is not shown: it "
            "holds the password)"
        ) from None
