"""Bot Connector clients that share their HTTP connections across turns.

The Agents SDK's own factory (`RestChannelServiceClientFactory`) opens a new aiohttp
`ClientSession` for every incoming turn and every proactive send, and closes it at the end of
the turn: a new TCP (and TLS) connection to the Bot Connector for each reply, and a user-token
client the bot never uses (Carrefour has no sign-in) built each time. Here one session per
service URL (Teams has one per region) is kept for the life of the app, with one client over it
whose `close()` (called by the adapter after each turn) leaves it open.

The access token: from the app's credentials (MSAL, cached and renewed by MSAL), added to each
request when it is made, or none without an app id (local development, see bot/settings.py).
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from aiohttp import (
    ClientHandlerType,
    ClientRequest,
    ClientResponse,
    ClientSession,
    ClientTimeout,
    TCPConnector,
)
from microsoft_agents.activity import Activity, ResourceResponse
from microsoft_agents.hosting.core import (
    AccessTokenProviderBase,
    ChannelServiceClientFactoryBase,
    ClaimsIdentity,
    ConnectorClientBase,
    TeamsConnectorClient,
    TurnContext,
    UserTokenClient,
)
from microsoft_agents.hosting.core.connector.client.connector_client import (
    ConversationsOperations,
)

logger = logging.getLogger(__name__)

# Service URLs are few (one per Teams region a tenant lives in); the bound only guards memory.
MAX_SESSIONS = 64
# Requests in flight to one service URL: enough for the dispatcher's concurrency (it keeps
# its own, lower, limit per service URL) plus the replies of turns running meanwhile.
CONNECTIONS_PER_SERVICE_URL = 32
# The Bot Connector answers within seconds; a stuck connection must not hold a turn past the
# 15 s Teams waits, nor an outbox lease.
REQUEST_TIMEOUT = ClientTimeout(total=30, connect=10)
# The token service the SDK would use for sign-in; never called (no OAuth in Carrefour).
_TOKEN_SERVICE = "https://api.botframework.com"
# Who the app's token is for: the Bot Connector (public cloud).
BOT_CONNECTOR_AUDIENCE = "https://api.botframework.com"


def _without_nulls(activity: Activity) -> Activity:
    """The activity with its unset fields left out. The SDK's adapter sets `id = None` on
    what it sends, and its new-message and update calls serialise set fields even when None:
    `"id": null` and the like, which a strict Bot Connector (the Agents Playground) refuses
    with a 400. Replies (`reply_to_activity`) already leave them out."""
    return Activity.model_validate(activity.model_dump(by_alias=True, exclude_none=True))


class _Conversations(ConversationsOperations):
    async def send_to_conversation(self, conversation_id: str, body: Activity) -> ResourceResponse:
        sent: ResourceResponse = await super().send_to_conversation(
            conversation_id, _without_nulls(body)
        )
        return sent

    async def update_activity(
        self, conversation_id: str, activity_id: str, body: Activity
    ) -> ResourceResponse:
        updated: ResourceResponse = await super().update_activity(
            conversation_id, activity_id, _without_nulls(body)
        )
        return updated


class _SharedSessionConnector(TeamsConnectorClient):
    """A connector client over a session that outlives the turn."""

    def __init__(self, *, endpoint: str, token: str, session: ClientSession) -> None:
        super().__init__(endpoint=endpoint, token=token, session=session)
        self._conversations = _Conversations(self.client)

    async def close(self) -> None:
        return None


class _NoSignIn(UserTokenClient):
    """The adapter insists on a user-token client per turn; one idle instance serves all."""

    async def close(self) -> None:
        return None


class ConnectorClients(ChannelServiceClientFactoryBase):
    """Connector clients for the adapter (see the module's docstring)."""

    def __init__(self, token_provider: AccessTokenProviderBase | None, app_id: str | None) -> None:
        self._token_provider = token_provider
        self._app_id = app_id
        self._clients: OrderedDict[str, _SharedSessionConnector] = OrderedDict()
        self._no_sign_in: _NoSignIn | None = None
        # Sessions pushed out of the map: closed with the app, not under a request in flight.
        self._closing: list[ClientSession] = []

    def _client_for(self, service_url: str) -> _SharedSessionConnector:
        base = service_url if service_url.endswith("/") else f"{service_url}/"
        client = self._clients.get(base)
        if client is not None and not client.client.closed:
            self._clients.move_to_end(base)
            return client
        session = ClientSession(
            base_url=base,
            connector=TCPConnector(limit_per_host=CONNECTIONS_PER_SERVICE_URL),
            timeout=REQUEST_TIMEOUT,
            middlewares=(self._sign,) if self._token_provider is not None else (),
        )
        # Built once per service URL: the SDK's constructor looks its own version up in the
        # installed distributions (half a millisecond) to name itself in User-Agent.
        client = _SharedSessionConnector(endpoint=base, token="", session=session)
        self._clients[base] = client
        while len(self._clients) > MAX_SESSIONS:
            _url, oldest = self._clients.popitem(last=False)
            self._closing.append(oldest.client)
        return client

    async def _sign(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """The app's token on each call, asked for only when a call is made: a turn that
        sends nothing (typing, a re-delivery) needs none, and MSAL caches and renews it."""
        assert self._token_provider is not None  # only installed with a provider
        token = await self._token_provider.get_access_token(
            BOT_CONNECTOR_AUDIENCE, [f"{BOT_CONNECTOR_AUDIENCE}/.default"]
        )
        request.headers["Authorization"] = f"Bearer {token}"
        return await handler(request)

    async def create_connector_client(
        self,
        context: TurnContext | None,
        claims_identity: ClaimsIdentity,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        if not service_url:
            raise TypeError("a service URL is required to reach the Bot Connector")
        # Every turn of this app, incoming or proactive, talks to the Bot Connector with the
        # app's own token (or anonymously without an app id): one client per service URL.
        return self._client_for(service_url)

    async def create_user_token_client(
        self,
        context: TurnContext,
        claims_identity: ClaimsIdentity,
        use_anonymous: bool = False,
    ) -> UserTokenClient:
        if self._no_sign_in is None:
            self._no_sign_in = _NoSignIn(
                _TOKEN_SERVICE,
                "",
                app_id=self._app_id or "anonymous",
                session=ClientSession(base_url=f"{_TOKEN_SERVICE}/"),
            )
        return self._no_sign_in

    async def close(self) -> None:
        """Close every session (the app is stopping)."""
        sessions = [c.client for c in self._clients.values()] + self._closing
        if self._no_sign_in is not None:
            sessions.append(self._no_sign_in.client)
        self._clients.clear()
        self._closing = []
        for session in sessions:
            if not session.closed:
                await session.close()
