"""With an app id, only requests signed by the Bot Connector's published keys get through.

The keys and OpenID metadata are made here and served from a local HTTP server, so a valid
token is really accepted (the 401s below are not an accident of configuration).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import ValidationError
from sqlmodel import select

from bot.app import RUNTIME, create_app
from bot.settings import ConfigurationError
from storage.models import Person
from tests.activities import message
from tests.conftest import make_settings

APP_ID = "3f1c2a9e-5b7d-4e21-9c1a-2b3c4d5e6f70"
ISSUER = "https://api.botframework.com"
Client = TestClient[web.Request, web.Application]


def _private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


TRUSTED_KEY = _private_key()
UNKNOWN_KEY = _private_key()


class _Metadata(BaseHTTPRequestHandler):
    documents: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.documents.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body or b"{}")

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture(scope="module")
def openid_metadata_url() -> Iterator[str]:
    """A local OpenID configuration + key set, in a thread: the SDK fetches it with blocking
    `requests`, which would deadlock a server on the test's own event loop."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metadata)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    jwk = json.loads(RSAAlgorithm.to_jwk(TRUSTED_KEY.public_key()))
    jwk.update(kid="trusted", use="sig", endorsements=["msteams"])
    _Metadata.documents = {
        "/v1/.well-known/openidconfiguration": json.dumps(
            {"issuer": ISSUER, "jwks_uri": f"{base}/v1/.well-known/keys"}
        ).encode(),
        "/v1/.well-known/keys": json.dumps({"keys": [jwk]}).encode(),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"{base}/v1/.well-known/openidconfiguration"
    server.shutdown()


@pytest.fixture
async def secured_client(sqlite_url: str, openid_metadata_url: str) -> AsyncIterator[Client]:
    settings = make_settings(
        sqlite_url,
        MicrosoftAppId=APP_ID,
        MicrosoftAppPassword="not-used-by-these-tests",
        MicrosoftAppTenantId="72f988bf-0000-0000-0000-000000000001",
        CARREFOUR_OPENID_METADATA_URL=openid_metadata_url,
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    yield client
    await client.close()


def token(*, key: rsa.RSAPrivateKey, kid: str, service_url: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": APP_ID,
        "serviceurl": service_url,
        "nbf": now - 10,
        "exp": now + 600,
    } | claims
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


SERVICE_URL = "https://smba.trafficmanager.net/amer/"


def _typing_activity() -> dict[str, Any]:
    # A typing activity runs a full turn (the sender is recorded) without the bot replying,
    # so the valid-token case needs no outbound credentials.
    activity = message(None, service_url=SERVICE_URL)
    activity["type"] = "typing"
    return activity


async def _people(client: Client) -> int:
    async with client.app[RUNTIME].sessions() as session:
        return len((await session.exec(select(Person))).all())


async def test_a_token_signed_by_the_published_key_is_accepted(secured_client: Client) -> None:
    response = await secured_client.post(
        "/api/messages",
        json=_typing_activity(),
        headers={
            "Authorization": "Bearer "
            + token(key=TRUSTED_KEY, kid="trusted", service_url=SERVICE_URL)
        },
    )
    assert response.status in (200, 201)
    assert await _people(secured_client) == 1


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no header"),
        pytest.param("Bearer", id="bearer without token"),
        pytest.param("Bearer not.a.jwt", id="malformed token"),
        pytest.param("Basic dXNlcjpwYXNz", id="wrong scheme"),
        pytest.param(
            "Bearer " + token(key=UNKNOWN_KEY, kid="trusted", service_url=SERVICE_URL),
            id="signed by an unknown key with a known kid",
        ),
        pytest.param(
            "Bearer " + token(key=UNKNOWN_KEY, kid="someone-else", service_url=SERVICE_URL),
            id="unknown key id",
        ),
        pytest.param(
            "Bearer "
            + token(key=TRUSTED_KEY, kid="trusted", service_url=SERVICE_URL, aud="another-bot"),
            id="another bot's audience",
        ),
        pytest.param(
            "Bearer "
            + token(key=TRUSTED_KEY, kid="trusted", service_url=SERVICE_URL, exp=1_000_000),
            id="expired",
        ),
        pytest.param(
            "Bearer " + token(key=TRUSTED_KEY, kid="trusted", service_url="https://evil.example/"),
            id="service url not the activity's",
        ),
    ],
)
async def test_requests_without_a_valid_token_get_401_and_change_nothing(
    secured_client: Client, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await secured_client.post(
        "/api/messages", json=message("aide", service_url=SERVICE_URL), headers=headers
    )
    assert response.status == 401
    assert await _people(secured_client) == 0


def test_production_without_an_app_id_refuses_to_start(sqlite_url: str) -> None:
    with pytest.raises(ValidationError, match="production requires MicrosoftAppId"):
        create_app(make_settings(sqlite_url, CARREFOUR_ENV="production"))


def test_single_tenant_without_a_tenant_id_refuses_to_start(sqlite_url: str) -> None:
    with pytest.raises(ConfigurationError, match="MicrosoftAppTenantId"):
        create_app(make_settings(sqlite_url, MicrosoftAppId=APP_ID, MicrosoftAppPassword="x"))


def test_no_app_id_warns_loudly(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    create_app(make_settings(sqlite_url))
    assert any(
        r.levelname == "WARNING" and "NOT authenticated" in r.getMessage() for r in caplog.records
    )
