"""Bot Connector clients built once, not for every turn and every proactive message.

botbuilder's CloudAdapter asks its authentication for a new `ConnectorClient` and a new
`UserTokenClient` on each incoming turn and each proactive send. Each is an msrest client with
its own requests session, configuration and retry policy: about a tenth of a turn's CPU
(bench/turns.py), and a fresh TCP connection to the Bot Connector for every reply. They hold
nothing specific to one turn (credentials keep and renew their own token), so one client per
app id, service URL and audience serves every turn.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)

# Service URLs are few (one per Teams region a tenant lives in); the bound only guards memory.
MAX_CLIENTS = 64


def _app_id(claims_identity: ClaimsIdentity) -> str | None:
    """Whose credentials a client carries: as botbuilder reads it (audience, else app id)."""
    app_id = claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
    if app_id is None:
        app_id = claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)
    return None if app_id is None else str(app_id)


class _Clients:
    """A small least-recently-used map of clients."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str | None, ...], Any] = OrderedDict()

    def get(self, key: tuple[str | None, ...]) -> Any:
        client = self._entries.get(key)
        if client is not None:
            self._entries.move_to_end(key)
        return client

    def put(self, key: tuple[str | None, ...], client: Any) -> None:
        self._entries[key] = client
        while len(self._entries) > MAX_CLIENTS:
            self._entries.popitem(last=False)


class _ReusingConnectorFactory(ConnectorFactory):  # type: ignore[misc]  # botframework is untyped
    def __init__(self, inner: ConnectorFactory, clients: _Clients, app_id: str | None) -> None:
        self._inner = inner
        self._clients = clients
        self._app_id = app_id

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = ("connector", self._app_id, service_url, audience)
        client = self._clients.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            self._clients.put(key, client)
        return client


class ReusingBotFrameworkAuthentication(ConfigurationBotFrameworkAuthentication):  # type: ignore[misc]
    """ConfigurationBotFrameworkAuthentication whose connector and user-token clients are
    reused across turns (see the module's docstring)."""

    def __init__(self, configuration: object) -> None:
        super().__init__(configuration)
        self._clients = _Clients()

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return _ReusingConnectorFactory(
            super().create_connector_factory(claims_identity),
            self._clients,
            _app_id(claims_identity),
        )

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        # Incoming turns get their connector factory here, not from create_connector_factory.
        result: AuthenticateRequestResult = await super().authenticate_request(
            activity, auth_header
        )
        result.connector_factory = _ReusingConnectorFactory(
            result.connector_factory, self._clients, _app_id(result.claims_identity)
        )
        return result

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        key = ("user-token", _app_id(claims_identity))
        client = self._clients.get(key)
        if client is None:
            client = await super().create_user_token_client(claims_identity)
            self._clients.put(key, client)
        return client
