"""Forged tokens, with an app id and local OpenID metadata (as in tests/test_auth.py): every one
gets 401 and changes nothing in the database, and the bot sends nothing.

The key set published here holds the trusted key (endorsed for "msteams") and a second real key
endorsed only for another channel. A valid token is accepted (and does change the database), so
the 401s below are the checks at work, not a broken configuration.

Only the Bot Connector's issuer is accepted (bot/auth.py): the Emulator's and skills' tokens are
refused like the wrong issuer below.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import ThreadingHTTPServer
from typing import Any, ClassVar

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from bot.app import RUNTIME, create_app
from storage.db import transaction
from storage.models import ConversationRef, ConversationScope, Person
from tests.activities import BOT_ID, TENANT, message, user
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.test_auth import APP_ID, ISSUER, TRUSTED_KEY, UNKNOWN_KEY, _Metadata, _private_key
from tests.test_fuzz import Rows, database_rows

Client = TestClient[web.Request, web.Application]

# A real key of the Bot Connector's, but endorsed for another channel than Teams.
OTHER_CHANNEL_KEY = _private_key()
SENDER = user(1, "Léa Tremblay")
HOUR = 3600


class _ForgedMetadata(_Metadata):
    documents: ClassVar[dict[str, bytes]] = {}


@pytest.fixture(scope="module")
def openid_metadata_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForgedMetadata)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    keys = []
    for key, kid, endorsements in (
        (TRUSTED_KEY, "trusted", ["msteams"]),
        (OTHER_CHANNEL_KEY, "skype-only", ["skype"]),
    ):
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        jwk.update(kid=kid, use="sig", endorsements=endorsements)
        keys.append(jwk)
    _ForgedMetadata.documents = {
        "/v1/.well-known/openidconfiguration": json.dumps(
            {"issuer": ISSUER, "jwks_uri": f"{base}/v1/.well-known/keys"}
        ).encode(),
        "/v1/.well-known/keys": json.dumps({"keys": keys}).encode(),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"{base}/v1/.well-known/openidconfiguration"
    server.shutdown()


@pytest.fixture
async def secured_client(
    sqlite_url: str, openid_metadata_url: str, connector: FakeConnector
) -> AsyncIterator[Client]:
    """The bot with an app id, its database holding the sender and their personal chat."""
    settings = make_settings(
        sqlite_url,
        MicrosoftAppId=APP_ID,
        MicrosoftAppPassword="not-used-by-these-tests",
        MicrosoftAppTenantId=TENANT,
        CARREFOUR_OPENID_METADATA_URL=openid_metadata_url,
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    async with transaction(client.app[RUNTIME].sessions) as session:
        person = Person(
            teams_user_id=SENDER["id"],
            aad_object_id=SENDER["aadObjectId"],
            tenant_id=TENANT,
            name=SENDER["name"],
            locale="fr-CA",
        )
        session.add(person)
        await session.flush()
        session.add(
            ConversationRef(
                conversation_id=f"a:personal-{SENDER['id']}",
                scope=ConversationScope.PERSONAL,
                service_url=connector.url,
                tenant_id=TENANT,
                bot_id=BOT_ID,
                person_id=person.id,
            )
        )
    yield client
    await client.close()


# -- tokens ------------------------------------------------------------------------------------


def claims(service_url: str, **changes: Any) -> dict[str, Any]:
    """What the Bot Connector signs for this bot; `name=None` leaves a claim out."""
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": APP_ID,
        "serviceurl": service_url,
        "nbf": now - 10,
        "exp": now + 600,
    } | changes
    return {name: value for name, value in payload.items() if value is not None}


def signed(
    service_url: str, *, key: Any = TRUSTED_KEY, kid: str | None = "trusted", **changes: Any
) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims(service_url, **changes), key, algorithm="RS256", headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signing_input(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


def unsigned(service_url: str, *, kid: str | None = "trusted") -> str:
    """`alg: none`: no signature at all."""
    header = {"alg": "none", "typ": "JWT"} | ({"kid": kid} if kid else {})
    return _signing_input(header, claims(service_url)) + "."


def hmac_with_public_key(service_url: str, *, alg: str = "HS256") -> str:
    """Algorithm confusion: an HMAC keyed with the published RSA public key (PEM), which anyone
    can fetch, under the trusted key's id."""
    pem = TRUSTED_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _signing_input(
        {"alg": alg, "typ": "JWT", "kid": "trusted"}, claims(service_url)
    )
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def tampered(service_url: str) -> str:
    """A genuine token for another bot with its audience rewritten to ours (signature kept)."""
    header, _payload, signature = signed(service_url, aud="another-bot").split(".")
    return f"{header}.{_b64(json.dumps(claims(service_url)).encode())}.{signature}"


# Each forged token, and what bot/auth.py's refusal says (so a 401 for another reason, such as a
# key set that failed to load, does not pass for the check meant).
FORGED: dict[str, tuple[Any, str]] = {
    "wrong issuer": (lambda url: signed(url, iss="https://evil.example/"), "InvalidIssuerError"),
    "no issuer": (lambda url: signed(url, iss=None), 'missing the "iss" claim'),
    "wrong audience": (lambda url: signed(url, aud="another-bot"), "InvalidAudienceError"),
    "no audience": (lambda url: signed(url, aud=None), 'missing the "aud" claim'),
    "audience rewritten after signing": (tampered, "InvalidSignatureError"),
    "expired an hour ago": (
        lambda url: signed(url, nbf=int(time.time()) - 2 * HOUR, exp=int(time.time()) - HOUR),
        "ExpiredSignatureError",
    ),
    "not valid for another hour": (
        lambda url: signed(url, nbf=int(time.time()) + HOUR, exp=int(time.time()) + 2 * HOUR),
        "not yet valid (nbf)",
    ),
    "issued in the future": (
        lambda url: signed(url, iat=int(time.time()) + HOUR),
        "not yet valid (iat)",
    ),
    "unknown key id": (
        lambda url: signed(url, key=UNKNOWN_KEY, kid="someone-else"),
        "unknown signing key id",
    ),
    "no key id": (lambda url: signed(url, kid=None), "key id missing"),
    "published key id, another key": (
        lambda url: signed(url, key=UNKNOWN_KEY),
        "InvalidSignatureError",
    ),
    "alg none": (unsigned, "algorithm not in allowed list"),
    "alg none without key id": (lambda url: unsigned(url, kid=None), "algorithm not in allowed"),
    "HS256 keyed with the public key": (hmac_with_public_key, "algorithm not in allowed list"),
    "RS256 header over an HMAC": (
        lambda url: hmac_with_public_key(url, alg="RS256"),
        "InvalidSignatureError",
    ),
    "key endorsed for another channel": (
        lambda url: signed(url, key=OTHER_CHANNEL_KEY, kid="skype-only"),
        "not endorsed for channel",
    ),
    "service url of another region": (
        lambda url: signed("https://smba.trafficmanager.net/emea/"),
        "'serviceurl' claim is not the activity's service URL",
    ),
    "no service url claim": (
        lambda url: signed(url, serviceurl=None),
        "'serviceurl' claim missing",
    ),
}


# -- the tests ---------------------------------------------------------------------------------


def activity(service_url: str, **changes: Any) -> dict[str, Any]:
    """A typing activity: a full turn that records the sender, without a reply (a reply would
    need a token from Azure AD for the outbound call)."""
    sent = message(None, service_url=service_url, sender=user(1, "Mallory"))
    sent["type"] = "typing"
    return sent | changes


async def snapshot(client: Client) -> Rows:
    return await database_rows(client.app[RUNTIME].engine)


def refusal(caplog: pytest.LogCaptureFixture) -> str:
    """The exception behind the last 401, as bot/app.py logs it."""
    details = [r for r in caplog.records if r.name == "bot.app" and r.exc_info]
    assert details, "no refusal logged"
    error = details[-1].exc_info[1]  # type: ignore[index]
    return f"{type(error).__name__}: {error}"


async def post(client: Client, body: dict[str, Any], authorization: str) -> int:
    response = await client.post(
        "/api/messages", json=body, headers={"Authorization": authorization}
    )
    await response.read()
    return response.status


async def test_a_valid_token_is_accepted_and_the_turn_changes_the_database(
    secured_client: Client, connector: FakeConnector
) -> None:
    """The positive control: the same request with a genuine token goes through."""
    before = await snapshot(secured_client)
    status = await post(secured_client, activity(connector.url), "Bearer " + signed(connector.url))
    assert status in (200, 201)
    after = await snapshot(secured_client)
    assert after != before
    (person,) = after["person"].values()
    assert person["name"] == "Mallory"


@pytest.mark.parametrize(("forge", "reason"), list(FORGED.values()), ids=list(FORGED))
async def test_a_forged_token_gets_401_and_changes_nothing(
    secured_client: Client,
    connector: FakeConnector,
    caplog: pytest.LogCaptureFixture,
    forge: Any,
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.app")
    before = await snapshot(secured_client)
    status = await post(secured_client, activity(connector.url), "Bearer " + forge(connector.url))
    assert status == 401
    assert reason in refusal(caplog)
    assert await snapshot(secured_client) == before
    assert connector.received == []


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(lambda url: "bearer " + signed(url), id="scheme in lower case"),
        pytest.param(lambda url: f"Bearer {signed(url)} {signed(url)}", id="two tokens"),
        pytest.param(lambda url: signed(url), id="no scheme"),
        pytest.param(lambda url: "Bearer " + signed(url) + "x", id="signature one byte longer"),
        pytest.param(lambda url: "Bearer " + "." * 3, id="empty segments"),
    ],
)
async def test_a_malformed_authorization_header_gets_401_and_changes_nothing(
    secured_client: Client, connector: FakeConnector, authorization: Any
) -> None:
    before = await snapshot(secured_client)
    assert await post(secured_client, activity(connector.url), authorization(connector.url)) == 401
    assert await snapshot(secured_client) == before
    assert connector.received == []


async def test_a_teams_key_does_not_sign_for_another_channel(
    secured_client: Client, connector: FakeConnector
) -> None:
    """Endorsements the other way round: the Teams key on an activity from another channel."""
    before = await snapshot(secured_client)
    sent = activity(connector.url, channelId="webchat")
    assert await post(secured_client, sent, "Bearer " + signed(connector.url)) == 401
    assert await snapshot(secured_client) == before


@pytest.mark.parametrize(
    "forge",
    [FORGED["alg none"][0], FORGED["published key id, another key"][0]],
    ids=["alg none", "another key"],
)
async def test_forged_card_actions_change_nothing(
    secured_client: Client, connector: FakeConnector, forge: Any
) -> None:
    """A message that would act (choose a language, claim a role) with a forged token."""
    before = await snapshot(secured_client)
    sent = message(
        None,
        service_url=connector.url,
        sender=SENDER,
        value={"verb": "language.set", "locale": "en", "role": "animator", "is_animator": True},
    )
    assert await post(secured_client, sent, "Bearer " + forge(connector.url)) == 401
    assert await snapshot(secured_client) == before
    assert connector.received == []
