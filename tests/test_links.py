"""Signed links (bot/links.py): one codec for the three link kinds and the erase confirmation,
and link endpoints that answer any token at all with a 4xx, never a 5xx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import RUNTIME, create_app
from bot.links import (
    MAX_TOKEN_LENGTH,
    BadLinkError,
    ExpiredLinkError,
    SignedValue,
    sign,
    signing_key,
    verify,
)
from storage.db import transaction
from storage.models import Membership
from tests import factories
from tests.conftest import make_settings

Client = TestClient[web.Request, web.Application]

NOW = datetime(2027, 5, 4, 13, 0, tzinfo=UTC)
KEY = b"k" * 32
VALUE = SignedValue(
    kind="attestation",
    person_id=42,
    language="en",
    expires_at=datetime(2027, 5, 11, 13, 0, tzinfo=UTC),
    fields=("7", "20270101", "20271231"),
)


def test_a_signed_value_reads_back_and_nothing_else_does() -> None:
    token = sign(KEY, VALUE)
    assert token.isascii()
    assert len(token) < MAX_TOKEN_LENGTH
    assert verify(token, key=KEY, kind="attestation", now=NOW) == VALUE
    body, _, signature = token.rpartition(".")
    fields = body.split(".")
    refused: list[object] = [
        None,
        42,
        "",
        ".",
        "nonsense",
        "é",
        token + "é",
        body + "." + "é" * len(signature),  # non-ASCII where the signature goes
        body + "." + signature.upper(),
        sign(b"x" * 32, VALUE),  # another key
        sign(KEY, SignedValue("export", 42, "en", VALUE.expires_at)),  # another kind
        ".".join([*fields[:2], "43", *fields[3:]]) + "." + signature,  # someone else
        ".".join([*fields[:4], "4102444800", *fields[5:]]) + "." + signature,  # a later expiry
        ".".join(["1", *fields[1:]]) + "." + signature,  # another version
        token[: MAX_TOKEN_LENGTH + 1] + "A" * MAX_TOKEN_LENGTH,
    ]
    for bad in refused:
        with pytest.raises(BadLinkError):
            verify(bad, key=KEY, kind="attestation", now=NOW)
    with pytest.raises(ExpiredLinkError):
        verify(token, key=KEY, kind="attestation", now=VALUE.expires_at)


def test_only_plain_fields_are_signed() -> None:
    for fields in (("a.b",), ("é",), ("",), ("x" * 65,)):
        with pytest.raises(ValueError, match="letters, digits"):
            sign(KEY, SignedValue("attestation", 1, "fr", VALUE.expires_at, fields))


# -- the endpoints, over HTTP ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[Client]:
    test_client = TestClient(TestServer(create_app(make_settings(sqlite_url))))
    await test_client.start_server()
    yield test_client
    await test_client.close()


ROUTES = {
    "attestation": "/attestations/{}.pdf",
    "export": "/privacy/export/{}.json",
    "vitality-csv": "/api/exports/vitality.csv?token={}",
}
# Tokens as they may arrive in a URL: percent-encoded or not, and anything a person, a mail
# client or a scanner could send.
ANY_TOKENS = [
    "x",
    "é",
    "%C3%A9",
    "%FF",
    "%FF%FE",
    "%00",
    "%2F..%2F..%2Fetc%2Fpasswd",
    "😀",
    "%F0%9F%98%80",
    "a+b",
    "a%23b",
    "." * 300,
    "a" * 5000,
    "١٢٣.٤٥",
    "2.attestation.١.fr.1." + "a" * 43,
    "1.2.3.20260101.20261231.fr.9999999999." + "a" * 43,  # the old attestation format
    "1.202610.2.fr.9999999999." + "é" * 43,  # the old CSV format, non-ASCII signature
    "2.export.1.fr.99999999999999999999." + "a" * 43,
]


async def test_every_link_route_answers_any_token_with_a_4xx(client: Client) -> None:
    runtime = client.app[RUNTIME]
    async with transaction(runtime.sessions) as session:
        key = await signing_key(session, runtime.settings)
        person = await factories.person(session, 1)
        community = await factories.community(session)
        session.add(
            Membership(person_id=person.id or 0, community_id=community.id or 0, roles=["animator"])
        )
    p, c = person.id or 0, community.id or 0
    later, earlier = NOW + timedelta(hours=1), NOW - timedelta(seconds=1)
    fields = {
        "attestation": (str(c), "20270101", "20271231"),
        "export": (),
        "vitality-csv": (str(c), "202704"),
    }

    def token(kind: str, *, expires: datetime = later, person_id: int = p) -> str:
        return sign(key, SignedValue(kind, person_id, "fr", expires, fields[kind]))

    answers: dict[tuple[str, str], int] = {}
    for kind, route in ROUTES.items():
        good = token(kind)
        body, _, signature = good.rpartition(".")
        others = [other for other in ROUTES if other != kind]
        specific = {
            "tampered": (body.replace(f".{p}.", f".{p + 1}.", 1) + "." + signature, 403),
            "signature cut": (good[:-1], 403),
            "non-ASCII signature": (body + "." + "é" * len(signature), 403),
            "expired": (token(kind, expires=earlier), 410),
            "wrong kind": (token(others[0]), 403),
            "other wrong kind": (token(others[1]), 403),
            "nobody": (token(kind, person_id=p + 100), 410),
        }
        for name, (bad, status) in specific.items():
            response = await client.get(route.format(bad))
            assert (response.status, response.content_type) == (status, "text/plain"), (
                kind,
                name,
            )
        for bad in ANY_TOKENS:
            response = await client.get(route.format(bad))
            answers[kind, bad] = response.status
        # A refusal after the signature check speaks the link's language.
        english = sign(key, SignedValue(kind, p + 100, "en", later, fields[kind]))
        response = await client.get(route.format(english))
        assert (response.status, await response.text()) == (
            410,
            "This link no longer works: the data it led to has been deleted.",
        )
        # The link itself works: what is refused above is refused for what it is.
        response = await client.get(route.format(good))
        assert response.status in (200, 404), (kind, await response.text())
    assert {where: status for where, status in answers.items() if not 400 <= status < 500} == {}
    # An empty token never reaches a link check (no such route), or is refused by it.
    for route in ROUTES.values():
        assert 400 <= (await client.get(route.format(""))).status < 500
    assert (await client.get("/api/exports/vitality.csv")).status == 403


def test_the_kinds_tokens_stay_short() -> None:
    # The longest: an attestation with large ids and a far expiry.
    longest = SignedValue(
        "attestation",
        10**12 - 1,
        "fr",
        datetime(2099, 12, 31, tzinfo=UTC),
        (str(10**12 - 1), f"{date(2099, 1, 1):%Y%m%d}", f"{date(2099, 12, 31):%Y%m%d}"),
    )
    assert len(sign(KEY, longest)) < MAX_TOKEN_LENGTH
