"""The Bot Connector's signing keys: fetched when needed, not hammered, and not lost.

A local OpenID metadata server that can fail on demand stands for Microsoft's; the clock is the
test's. What a person would notice: after a moment when Microsoft's key endpoint did not answer,
the bot takes Teams' messages again within seconds (not five minutes later), and keeps taking them
with the keys it knows while the endpoint stays down.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from jwt.algorithms import RSAAlgorithm
from microsoft_agents.activity import Activity

from bot.auth import (
    KEYS_MAX_AGE_SECONDS,
    KEYS_RELOAD_AT_MOST_EVERY_SECONDS,
    KEYS_RETRY_AFTER_FAILURE_SECONDS,
    Authenticator,
    Refused,
)
from tests.activities import message
from tests.conftest import make_settings
from tests.test_auth import APP_ID, ISSUER, SERVICE_URL, TRUSTED_KEY, UNKNOWN_KEY, token


class _FlakyMetadata(BaseHTTPRequestHandler):
    documents: ClassVar[dict[str, bytes]] = {}
    down: ClassVar[bool] = False
    requests: ClassVar[int] = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        body = None if self.down else self.documents.get(self.path)
        self.send_response(200 if body else 503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body or b"{}")

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture(scope="module")
def metadata_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FlakyMetadata)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    jwk = json.loads(RSAAlgorithm.to_jwk(TRUSTED_KEY.public_key()))
    jwk.update(kid="trusted", use="sig", endorsements=["msteams"])
    _FlakyMetadata.documents = {
        "/v1/.well-known/openidconfiguration": json.dumps(
            {"issuer": ISSUER, "jwks_uri": f"{base}/v1/.well-known/keys"}
        ).encode(),
        "/v1/.well-known/keys": json.dumps({"keys": [jwk]}).encode(),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"{base}/v1/.well-known/openidconfiguration"
    server.shutdown()


@dataclass
class Clock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    _FlakyMetadata.down = False
    _FlakyMetadata.requests = 0
    return Clock()


def _authenticator(sqlite_url: str, metadata_url: str, clock: Clock) -> Authenticator:
    settings = make_settings(
        sqlite_url,
        MicrosoftAppId=APP_ID,
        MicrosoftAppPassword="not-used",
        MicrosoftAppTenantId="72f988bf-0000-0000-0000-000000000001",
        CARREFOUR_OPENID_METADATA_URL=metadata_url,
    )
    return Authenticator(settings, clock=clock)


ACTIVITY = Activity.model_validate(message("aide", service_url=SERVICE_URL))


def _bearer(*, key: Any = TRUSTED_KEY, kid: str = "trusted") -> str:
    return "Bearer " + token(key=key, kid=kid, service_url=SERVICE_URL)


async def test_after_a_failed_key_fetch_the_bot_tries_again_within_seconds(
    sqlite_url: str, metadata_url: str, clock: Clock
) -> None:
    auth = _authenticator(sqlite_url, metadata_url, clock)
    _FlakyMetadata.down = True
    with pytest.raises(Refused, match="unknown signing key id"):
        await auth.authenticate(ACTIVITY, _bearer())
    tried = _FlakyMetadata.requests
    assert tried == 1

    # Microsoft answers again, but the bot waits a little before asking (no request per message).
    _FlakyMetadata.down = False
    clock.now += KEYS_RETRY_AFTER_FAILURE_SECONDS - 1
    with pytest.raises(Refused):
        await auth.authenticate(ACTIVITY, _bearer())
    assert _FlakyMetadata.requests == tried

    clock.now += 1
    claims = await auth.authenticate(ACTIVITY, _bearer())
    assert claims.get_claim_value("aud") == APP_ID


async def test_unknown_key_ids_do_not_make_the_bot_hammer_microsoft(
    sqlite_url: str, metadata_url: str, clock: Clock
) -> None:
    auth = _authenticator(sqlite_url, metadata_url, clock)
    await auth.authenticate(ACTIVITY, _bearer())
    fetched = _FlakyMetadata.requests
    for _ in range(20):
        with pytest.raises(Refused, match="unknown signing key id"):
            await auth.authenticate(ACTIVITY, _bearer(key=UNKNOWN_KEY, kid="made-up"))
    assert _FlakyMetadata.requests == fetched

    # A key id Microsoft may have just published is looked for again, once, later on.
    clock.now += KEYS_RELOAD_AT_MOST_EVERY_SECONDS
    with pytest.raises(Refused):
        await auth.authenticate(ACTIVITY, _bearer(key=UNKNOWN_KEY, kid="made-up"))
    assert _FlakyMetadata.requests == fetched + 2  # metadata and key set


async def test_known_keys_keep_serving_while_microsoft_is_unreachable(
    sqlite_url: str, metadata_url: str, clock: Clock
) -> None:
    auth = _authenticator(sqlite_url, metadata_url, clock)
    await auth.authenticate(ACTIVITY, _bearer())
    _FlakyMetadata.down = True
    clock.now += KEYS_MAX_AGE_SECONDS + 60
    claims = await auth.authenticate(ACTIVITY, _bearer())
    assert claims.get_claim_value("aud") == APP_ID
    # It did try to refresh them.
    assert _FlakyMetadata.requests == 3
