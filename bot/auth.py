"""Who may post to /api/messages: the Bot Connector, proven by the token it signs.

The Agents SDK's `JwtTokenValidator` checks the signature, the audience and (on request) the
issuer, but not two things the Bot Framework SDK did and Teams relies on: that the signing key
is endorsed for the activity's channel (a key Microsoft publishes for another channel must not
sign Teams activities), and that the token's `serviceurl` claim is the activity's service URL
(else a token for one conversation's region could direct the bot's replies elsewhere). Its key
source is also fixed to Microsoft's public endpoints, where tests and sovereign clouds need
another. So the checks are made here, with PyJWT (which the SDK uses too), on the key set named
by the OpenID metadata of the settings.

Each refusal raises `Refused` with the reason, logged by bot/app.py without the token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import ClaimsIdentity

from bot.settings import Settings

logger = logging.getLogger(__name__)

# The Bot Connector's public key set and the issuer of its tokens (public Azure cloud).
BOT_FRAMEWORK_OPENID_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
# Clocks drift: the Bot Framework SDK accepted five minutes either way, and so does this.
CLOCK_SKEW_SECONDS = 300
# Keys rotate rarely and are announced ahead; an unknown key id reloads them, at most this often
# (a flood of tokens with made-up key ids must not become a flood of requests to Microsoft).
KEYS_MAX_AGE_SECONDS = 24 * 3600
KEYS_RELOAD_AT_MOST_EVERY_SECONDS = 300
# After a failed load (Microsoft's endpoint unreachable for a moment), try again this soon: the
# five minutes above would refuse every request meanwhile when no key was known yet.
KEYS_RETRY_AFTER_FAILURE_SECONDS = 10
_FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)


class Refused(Exception):
    """The request is not from the Bot Connector (or not for this bot)."""


@dataclass
class _KeySet:
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    issuer: str | None = None
    # When these keys were fetched, and when the last attempt was (a failure keeps the keys).
    loaded_at: float = float("-inf")
    tried_at: float = float("-inf")
    failed: bool = False


class Authenticator:
    """Checks incoming requests' tokens; anonymous when the settings have no app id."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._app_id = settings.app_id or None
        self._clock = clock
        self._metadata_url = settings.openid_metadata_url or BOT_FRAMEWORK_OPENID_METADATA
        self._keys = _KeySet()
        self._loading = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return self._app_id is not None

    async def authenticate(self, activity: Activity, authorization: str) -> ClaimsIdentity:
        """The sender's claims, or `Refused`. Without an app id (local development only, see
        bot/settings.check_runnable) every request is anonymous."""
        if self._app_id is None:
            return ClaimsIdentity()
        token = _bearer(authorization)
        header = _header(token)
        key = await self._key(header["kid"])
        channel = str(activity.channel_id or "")
        endorsements = key.get("endorsements")
        if isinstance(endorsements, list) and channel not in endorsements:
            raise Refused(f"signing key not endorsed for channel {channel[:32]!r}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=jwt.PyJWK(key, algorithm="RS256").key,
                algorithms=["RS256"],
                audience=self._app_id,
                issuer=self._keys.issuer or BOT_FRAMEWORK_ISSUER,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise Refused(f"{type(error).__name__}: {error}") from None
        service_url = claims.get("serviceurl")
        if not service_url:
            raise Refused("'serviceurl' claim missing")
        if service_url != activity.service_url:
            raise Refused("'serviceurl' claim is not the activity's service URL")
        return ClaimsIdentity(claims, authentication_type="Bearer", security_token=token)

    async def _key(self, kid: str) -> dict[str, Any]:
        if self._fresh():
            key = self._keys.keys.get(kid)
            if key is not None:
                return key
        async with self._loading:
            # Another request may have reloaded while this one waited.
            if not (self._fresh() and kid in self._keys.keys) and self._may_reload():
                self._keys = await self._load()
        # Keys older than a day, when Microsoft cannot be reached, still serve: they rotate
        # slowly and are announced ahead, and refusing every request would be worse.
        key = self._keys.keys.get(kid)
        if key is None:
            raise Refused("unknown signing key id")
        return key

    def _fresh(self) -> bool:
        return self._clock() - self._keys.loaded_at <= KEYS_MAX_AGE_SECONDS

    def _may_reload(self) -> bool:
        since = self._clock() - self._keys.tried_at
        if self._keys.failed:
            return since >= KEYS_RETRY_AFTER_FAILURE_SECONDS
        return not self._fresh() or since >= KEYS_RELOAD_AT_MOST_EVERY_SECONDS

    async def _load(self) -> _KeySet:
        try:
            async with aiohttp.ClientSession(timeout=_FETCH_TIMEOUT) as session:
                async with session.get(self._metadata_url) as response:
                    response.raise_for_status()
                    metadata = await response.json(content_type=None)
                jwks_uri = str(metadata["jwks_uri"])
                async with session.get(jwks_uri) as response:
                    response.raise_for_status()
                    key_set = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, KeyError, TypeError, ValueError) as error:
            # Kept: the keys known so far (Microsoft's endpoint may be down for a moment).
            logger.warning("could not load the Bot Connector's signing keys: %s", error)
            return _KeySet(
                self._keys.keys,
                self._keys.issuer,
                self._keys.loaded_at,
                tried_at=self._clock(),
                failed=True,
            )
        keys = {
            str(k["kid"]): k
            for k in key_set.get("keys", [])
            if isinstance(k, dict) and k.get("kid") and k.get("kty") == "RSA"
        }
        issuer = metadata.get("issuer")
        now = self._clock()
        return _KeySet(keys, str(issuer) if issuer else None, loaded_at=now, tried_at=now)


def _bearer(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    if scheme != "Bearer" or not token or " " in token:
        raise Refused("malformed Authorization header")
    return token


def _header(token: str) -> dict[str, Any]:
    try:
        header: dict[str, Any] = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise Refused(f"{type(error).__name__}: {error}") from None
    if header.get("alg") != "RS256":
        raise Refused("algorithm not in allowed list")
    if not isinstance(header.get("kid"), str):
        raise Refused("key id missing")
    return header
