"""`create_app(settings)`: the aiohttp application, built without import-time globals."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes
from microsoft_agents.hosting.core import (
    AccessTokenProviderBase,
    AgentAuthConfiguration,
    TurnContext,
)
from microsoft_agents.hosting.core.authorization import AuthTypes
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.adapter import CarrefourAdapter
from bot.auth import Authenticator, Refused
from bot.claims import TurnClaims
from bot.connectors import ConnectorClients
from bot.dispatcher import Dispatcher
from bot.features import FEATURES
from bot.handler import CarrefourBot
from bot.inbound_limit import InboundLimit, Verdict
from bot.observability import Telemetry, annotate_turn, build_telemetry, observed_turns
from bot.registry import Registry
from bot.scheduler import Jobs, build_scheduler
from bot.settings import Settings, check_runnable
from cards.i18n import normalize_locale, translator
from dialogs.context import TURN_INFO_KEY, TurnInfo
from storage import people
from storage.db import SessionFactory, create_engine, ping, session_factory
from storage.state_store import SqlPrivateConversationState, SqlStorage

logger = logging.getLogger(__name__)


class Runtime:
    """Everything a running bot holds, built in `cleanup_ctx` and closed with the app.

    The app holds it from `create_app` on, empty, and start-up fills it in: aiohttp freezes
    the application's mapping once it starts (setting a key then is deprecated), and handlers
    only run after start-up. Reading a part before then raises AttributeError."""

    __slots__ = (
        "adapter",
        "auth",
        "bot",
        "dispatcher",
        "engine",
        "jobs",
        "sessions",
        "settings",
        "storage",
    )
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    storage: SqlStorage
    auth: Authenticator
    adapter: CarrefourAdapter
    bot: CarrefourBot
    dispatcher: Dispatcher
    jobs: Jobs


# What each feature handles (bot/features/): built at import, so that a command, verb, outbox
# kind, route or job declared twice stops the start-up.
REGISTRY = Registry(FEATURES)

# Every kind of message the outbox can send: the host's and each feature's.
ALL_RENDERERS = dict(REGISTRY.renderers)

SETTINGS = web.AppKey("settings", Settings)
RUNTIME = web.AppKey("runtime", Runtime)
INBOUND_LIMIT = web.AppKey("inbound_limit", InboundLimit)
TELEMETRY = web.AppKey("telemetry", Telemetry)


def _token_provider(settings: Settings) -> AccessTokenProviderBase | None:
    """What signs the bot's own calls to the Bot Connector: MSAL with the app's credentials;
    none without an app id (local development: the Playground takes anonymous calls)."""
    if not settings.app_id:
        return None
    # Imported here: MSAL is heavy, and unused by a bot without credentials.
    from microsoft_agents.authentication.msal import MsalAuth

    single_tenant = settings.app_type == "SingleTenant"
    return MsalAuth(
        AgentAuthConfiguration(
            auth_type=(
                AuthTypes.user_managed_identity
                if settings.app_type == "UserAssignedMSI"
                else AuthTypes.client_secret
            ),
            client_id=settings.app_id,
            client_secret=(
                settings.app_password.get_secret_value() if settings.app_password else None
            ),
            # A multi-tenant bot gets its token from the Bot Framework's own tenant.
            tenant_id=settings.app_tenant_id if single_tenant else "botframework.com",
        )
    )


def _apology_handler(
    dialog_state: SqlPrivateConversationState, settings: Settings
) -> Callable[[TurnContext, Exception], Awaitable[None]]:
    async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
        logger.error("turn failed", exc_info=error)
        info = turn_context.turn_state.get(TURN_INFO_KEY)
        locale = (
            info.locale
            if isinstance(info, TurnInfo)
            else normalize_locale(turn_context.activity.locale, default=settings.default_locale)
        )
        try:
            await turn_context.send_activity(translator(locale)("error.apology"))
        except Exception:  # the apology itself may fail (connector down); the log has the cause
            logger.warning("could not send the apology", exc_info=True)
        try:
            # A dialog that broke would break again on the next message: start fresh.
            await dialog_state.delete(turn_context)
        except Exception:
            logger.warning("could not reset the conversation state", exc_info=True)

    return on_turn_error


async def _runtime(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    storage = SqlStorage(sessions)
    private_state = SqlPrivateConversationState(storage)
    auth = Authenticator(settings)
    clients = ConnectorClients(_token_provider(settings), settings.app_id)
    adapter = CarrefourAdapter(clients, app_id=settings.app_id)
    adapter.on_turn_error = _apology_handler(private_state, settings)
    telemetry = app[TELEMETRY]
    dispatcher = Dispatcher(
        settings=settings,
        sessions=sessions,
        adapter=adapter,
        renderers=ALL_RENDERERS,
        telemetry=telemetry,
    )
    claims = TurnClaims(settings=settings, sessions=sessions)
    bot = CarrefourBot(
        settings=settings,
        sessions=sessions,
        adapter=adapter,
        private_state=private_state,
        wake=dispatcher.wake,
        claims=claims,
        registry=REGISTRY,
        telemetry=telemetry,
    )
    jobs = Jobs(
        jobs=REGISTRY.jobs, settings=settings, sessions=sessions, wake_dispatcher=dispatcher.wake
    )
    runtime = app[RUNTIME]
    runtime.settings, runtime.engine, runtime.sessions = settings, engine, sessions
    runtime.storage, runtime.auth, runtime.adapter = storage, auth, adapter
    runtime.bot, runtime.dispatcher, runtime.jobs = bot, dispatcher, jobs
    scheduler = build_scheduler(jobs, settings) if settings.scheduler_enabled else None
    # Renews the leases of turns that run long, so no replica takes them over meanwhile.
    heartbeat = asyncio.create_task(claims.run(), name="turn-heartbeat")
    telemetry.start(sessions)
    delivering: asyncio.Task[None] | None = None
    if scheduler is not None:
        delivering = asyncio.create_task(dispatcher.run(), name="outbox-dispatcher")
        scheduler.start()
    # What start-up built (modules, the SDK's and our classes, catalogs, card templates) lives as
    # long as the process: moved out of the collector's reach, so that a full collection scans
    # only what turns made since. Unfrozen, each full collection held every turn in flight for
    # 190–270 ms, every 13 s or so at 50 turns a second (bench/turns.py, paced load). Once per
    # process: the first app's start-up is the process's (tests start many apps).
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if delivering is not None:
            dispatcher.stop()
            # A batch in flight finishes; rows not finished keep their lease and are retried.
            try:
                await asyncio.wait_for(delivering, timeout=10)
            except TimeoutError:
                delivering.cancel()
        heartbeat.cancel()
        await telemetry.stop()
        await clients.close()
        await engine.dispose()


def _holds_nul(body: object) -> bool:
    """Whether a string anywhere in the JSON holds U+0000: no Teams activity does, and
    PostgreSQL text cannot store it (the turn would fail on the first write)."""
    pending = [body]
    while pending:  # not recursive: the JSON may nest as deep as its parser allowed
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _absolute_http_url(url: str | None) -> bool:
    """Where replies go: Teams always names an absolute https URL (the Playground an http one);
    anything else could not be reached, and would fail the turn rather than the request."""
    if not url:
        return False
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an unclosed IPv6 bracket, a port that is no number…
        return False


def _malformed_channel_data(data: object) -> bool:
    """Teams names the team, channel and tenant of an activity by string ids; any other id
    (a number, a list…) is not from Teams and would reach the database as such."""
    if not isinstance(data, dict):
        return False  # other channels' channelData is not read
    return any(
        isinstance(part, dict) and "id" in part and not isinstance(part["id"], str)
        for part in (data.get("team"), data.get("channel"), data.get("tenant"))
    )


# The longest ids the database keeps (storage/models.py); Teams' own are far shorter (a channel
# conversation id is about 100 characters). Clipping a longer one would merge two people or two
# conversations, so such an activity is refused instead.
_ID_LIMITS = {"channel": 32, "conversation": 512, "account": 255, "activity": 255, "url": 512}


def _ids_too_long(activity: Activity) -> bool:
    accounts = [activity.from_property, activity.recipient]
    accounts += [*(activity.members_added or []), *(activity.members_removed or [])]
    return (
        len(str(activity.channel_id)) > _ID_LIMITS["channel"]
        or len(str(activity.conversation.id)) > _ID_LIMITS["conversation"]
        or len(str(activity.id or "")) > _ID_LIMITS["activity"]
        or len(str(activity.reply_to_id or "")) > _ID_LIMITS["activity"]
        or len(str(activity.service_url or "")) > _ID_LIMITS["url"]
        or any(len(str(getattr(a, "id", "") or "")) > _ID_LIMITS["account"] for a in accounts)
    )


def _slow_down(runtime: Runtime) -> Callable[[TurnContext], Awaitable[None]]:
    """A turn that only tells the person they go too fast, in their saved language, else
    their client's: no claim, no dialog, nothing recorded."""

    async def say(turn_context: TurnContext) -> None:
        activity = turn_context.activity
        async with runtime.sessions() as session:
            person = await people.get_person(session, teams_user_id=str(activity.from_property.id))
        preferred = person.preferred_locale if person is not None else None
        locale = normalize_locale(
            preferred or activity.locale, default=runtime.settings.default_locale
        )
        await turn_context.send_activity(translator(locale)("inbound.slow_down"))

    return say


async def messages(request: web.Request) -> web.StreamResponse:
    runtime = request.app[RUNTIME]
    if "application/json" not in request.headers.get("Content-Type", ""):
        raise web.HTTPUnsupportedMediaType(text="expected application/json")
    try:
        # A client that stalls or trickles its body is cut off here, before it holds a turn.
        # read() raises 413 above client_max_size; json() then parses what it kept.
        # asyncio.timeout rather than wait_for, which wraps the read in a task of its own.
        async with asyncio.timeout(request.app[SETTINGS].request_body_timeout_seconds):
            await request.read()
    except TimeoutError:
        raise web.HTTPRequestTimeout(text="request body too slow") from None
    try:
        text = await request.text()
        body = json.loads(text)
    # ValueError: not JSON, not in its charset, or a number of more than 4,300 digits;
    # LookupError: an unknown charset; RecursionError: nesting deeper than the parser's stack.
    except (ValueError, LookupError, RecursionError):
        raise web.HTTPBadRequest(text="malformed JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected an activity object")
    # The parser refuses a raw control character in a string, so U+0000 can only come
    # written `\u0000`: without that text there is nothing to look for.
    if "\\u0000" in text and _holds_nul(body):
        raise web.HTTPBadRequest(text="NUL character in the activity")
    try:
        activity = Activity.model_validate(body)
    except (ValidationError, ValueError, TypeError):
        raise web.HTTPBadRequest(text="not an activity") from None
    if not activity.type:
        raise web.HTTPBadRequest(text="activity type missing")
    annotate_turn(activity_type=str(activity.type))
    if not (
        activity.channel_id
        and getattr(activity.conversation, "id", None)
        and getattr(activity.from_property, "id", None)
        and getattr(activity.recipient, "id", None)
        and _absolute_http_url(activity.service_url)
    ):
        # Every channel sends all five; without them no state can be loaded and no reply sent.
        raise web.HTTPBadRequest(
            text="channelId, serviceUrl (an absolute URL), conversation.id, from.id or "
            "recipient.id missing"
        )
    if _malformed_channel_data(activity.channel_data):
        raise web.HTTPBadRequest(text="malformed channelData")
    if None in (activity.members_added or []) or None in (activity.members_removed or []):
        raise web.HTTPBadRequest(text="malformed membersAdded or membersRemoved")
    if _ids_too_long(activity):
        raise web.HTTPBadRequest(text="an id is longer than any Teams sends")

    try:
        # Authenticated before the turn: nothing of the activity is read or written until then.
        claims = await runtime.auth.authenticate(activity, request.headers.get("Authorization", ""))
    except Refused as error:
        logger.warning("rejected an unauthenticated request: %s", error)
        logger.debug("authentication failure detail", exc_info=True)
        raise web.HTTPUnauthorized() from None

    # Counted only once authenticated: a forged sender id cannot use up someone's budget.
    if activity.type in (ActivityTypes.message, ActivityTypes.invoke):
        sender = f"{activity.channel_id}:{activity.from_property.id}"
        verdict = request.app[INBOUND_LIMIT].admit(sender)
        if verdict is not Verdict.ACT:
            if verdict is Verdict.WARN:
                await runtime.adapter.process_activity(claims, activity, _slow_down(runtime))
            # A dropped message is accepted (Teams would otherwise retry it); an invoke waits
            # for its answer, which says why.
            return web.Response(status=429 if activity.type == ActivityTypes.invoke else 201)

    invoke_response = await runtime.adapter.process_activity(claims, activity, runtime.bot.on_turn)
    if invoke_response:
        return web.json_response(data=invoke_response.body, status=invoke_response.status)
    return web.Response(status=201)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        await asyncio.wait_for(ping(runtime.engine), timeout=3)
    except Exception as error:
        logger.warning("not ready: database unavailable (%s)", type(error).__name__)
        return web.json_response({"status": "unavailable", "database": "down"}, status=503)
    return web.json_response({"status": "ready", "database": "up"})


def create_app(settings: Settings, *, telemetry: Telemetry | None = None) -> web.Application:
    """`telemetry`: where traces and metrics go (tests read them in memory); by default as
    the settings say (off unless APPLICATIONINSIGHTS_CONNECTION_STRING is set)."""
    check_runnable(settings)
    if not settings.auth_enabled:
        logger.warning(
            "MicrosoftAppId is not set: requests are NOT authenticated. "
            "This is for local development with the Agents Playground only."
        )
    app = web.Application(client_max_size=settings.max_request_bytes)
    app[SETTINGS] = settings
    app[INBOUND_LIMIT] = InboundLimit.from_settings(settings)
    app[TELEMETRY] = telemetry if telemetry is not None else build_telemetry(settings)
    app[RUNTIME] = Runtime()
    app.cleanup_ctx.append(_runtime)
    app.router.add_post("/api/messages", observed_turns(messages, app[TELEMETRY]))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    # The features' routes: signed, expiring links (the token is the authorisation).
    for route in REGISTRY.routes:
        app.router.add_get(route.path, route.handler)
    return app
