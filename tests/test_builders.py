"""The pure builders, without Pulumi: the facts the components rely on."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from ai_etl.catalogue import by_key
from ai_etl.catalogue.urls import compose_url
from ai_etl.components.externalsecrets import generation_name
from ai_etl.components.secretstore import trust_policy

ENTRIES = [
    ("jwt-secret-key", "ai-etl/dev/jwt-secret-key", "v1"),
    ("secret-key", "ai-etl/dev/secret-key", "v2"),
]


def test_generation_name_is_a_valid_stable_secret_name() -> None:
    """Same values, same name, whatever the order: a re-run never churns the Secret."""
    name = generation_name("ai-etl-backend-secrets", ENTRIES)
    assert name == generation_name("ai-etl-backend-secrets", list(reversed(ENTRIES)))
    assert name.startswith("ai-etl-backend-secrets-") and len(name) == len("ai-etl-backend-secrets-") + 10


@pytest.mark.parametrize("index", [0, 1, 2])
def test_generation_name_changes_with_any_part(index: int) -> None:
    """A new version id, a new source or a new key each give a new generation."""
    changed = [list(e) for e in ENTRIES]
    changed[0][index] += "x"
    assert generation_name("s", [(e[0], e[1], e[2]) for e in changed]) != generation_name("s", ENTRIES)


@pytest.mark.parametrize("password", ["p@ss:w/rd#1", "%41", "a b?c&d=e"])
def test_composed_url_round_trips_any_password(password: str) -> None:
    """Whatever a password holds, the URL parses back to the same host and password."""
    connection: dict[str, str | int] = {
        "host": "postgres-svc",
        "port": 5432,
        "name": "ai_etl",
        "user": "ai etl",
    }
    url = urlsplit(compose_url(by_key()["database-url"], connection, password))
    assert (url.hostname, url.port, url.path) == ("postgres-svc", 5432, "/ai_etl")
    assert unquote(url.password or "") == password and unquote(url.username or "") == "ai etl"


def test_compose_url_refuses_a_secret_that_is_not_composed() -> None:
    with pytest.raises(ValueError):
        compose_url(by_key()["jwt-secret-key"], {}, "x")


def test_trust_policy_names_one_subject_and_the_sts_audience() -> None:
    """The trust is for one ServiceAccount of one namespace; nothing broader (no wildcard, no
    StringLike)."""
    policy = trust_policy("arn:aws:iam::1:oidc-provider/issuer/id/X", "issuer/id/X", "ns", "sa")
    (statement,) = policy["Statement"]
    assert statement["Condition"] == {
        "StringEquals": {
            "issuer/id/X:sub": "system:serviceaccount:ns:sa",
            "issuer/id/X:aud": "sts.amazonaws.com",
        }
    }
