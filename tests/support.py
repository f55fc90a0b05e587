"""Shared test helpers: a frozen clock, the bot's wired parts without HTTP, a dispatcher; one
dialog driven alone over a TestAdapter; a feature's functions driven as the handler does; what
a person reads in a reply; an outbox row handed to its renderer."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from aiohttp import web
from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationReference,
    HeroCard,
    ResourceResponse,
    TurnContextProtocol,
)
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.dialogs import Dialog, DialogSet, DialogTurnResult, DialogTurnStatus
from microsoft_agents.testing import TestAdapter
from sqlmodel import col, select

from bot.adapter import CarrefourAdapter
from bot.app import ALL_RENDERERS, REGISTRY, RUNTIME, Runtime
from bot.community_actions import Services
from bot.deliveries import RenderContext
from bot.dispatcher import Dispatcher
from bot.scheduler import Jobs
from bot.settings import Settings
from bot.turns import FeatureTurn
from cards.common import Element
from dialogs.context import TURN_INFO_KEY, TurnInfo
from storage.db import SessionFactory
from storage.models import OutboxMessage, Person, utcnow
from storage.outbox import Claimed
from storage.state_store import SqlPrivateConversationState, SqlStorage

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
TZ = "America/Montreal"


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _no_wake() -> None:
    return None


async def _nothing_to_save(_context: TurnContext) -> None:
    return None


def host_services(
    context: TurnContext,
    *,
    sessions: SessionFactory,
    settings: Settings,
    wake: Callable[[], None] = _no_wake,
) -> Services:
    """What the host gives a feature's handlers, over a test adapter: the features' dialogs on
    a real dialog state (not saved between turns: tests that answer dialogs use DialogChat)."""
    state = SqlPrivateConversationState(SqlStorage(sessions))
    services = Services(
        settings=settings,
        sessions=sessions,
        # Only a move to the 1:1 chat uses the CarrefourAdapter's own methods.
        adapter=cast(CarrefourAdapter, context.adapter),
        dialogs=DialogSet(state.create_property("DialogState")),
        wake=wake,
        save_state=_nothing_to_save,
        help_entries=REGISTRY.help_entries,
    )
    for build in REGISTRY.dialogs:
        services.dialogs.add(build(services))
    return services


async def press(
    context: TurnContext,
    value: dict[str, Any],
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    wake: Callable[[], None] = _no_wake,
    clock: Callable[[], datetime] = utcnow,
) -> bool:
    """A card button, routed as the host routes it (bot/registry.py); False when no feature
    declares its verb."""
    turn = FeatureTurn(
        context=context,
        sessions=sessions,
        info=info,
        wake=wake,
        clock=clock,
        services=host_services(context, sessions=sessions, settings=settings, wake=wake),
    )
    return await REGISTRY.press(turn, value)


class started:
    """Run an app's startup and cleanup without serving HTTP."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def __aenter__(self) -> Runtime:
        self._app.freeze()
        await self._app.startup()
        return self._app[RUNTIME]

    async def __aexit__(self, *_exc: object) -> None:
        await self._app.cleanup()


def dispatcher(runtime: Runtime, clock: Clock, owner: str = "test") -> Dispatcher:
    return Dispatcher(
        settings=runtime.settings,
        sessions=runtime.sessions,
        adapter=runtime.adapter,
        renderers=ALL_RENDERERS,
        clock=clock,
        owner=owner,
    )


def scheduled_jobs(runtime: Runtime, clock: Clock) -> Jobs:
    """The scheduler's jobs on the runtime's database, on a frozen clock; their wake-ups are
    ignored (the test dispatches when it wants to)."""
    return Jobs(
        jobs=REGISTRY.jobs,
        settings=runtime.settings,
        sessions=runtime.sessions,
        wake_dispatcher=lambda: None,
        clock=clock,
    )


# -- what a person reads ---------------------------------------------------------------------


def card_content(attachment: Attachment) -> Element:
    """An Adaptive Card attachment's card (the SDK types `content` as any object)."""
    content = attachment.content
    assert isinstance(content, dict), f"not an Adaptive Card: {attachment.content_type}"
    return content


def text_of(activity: Activity) -> str:
    """A message's text (the SDK types it optional); fails on a message without one."""
    assert activity.text is not None, "a message without text"
    return activity.text


def said(activity: Activity) -> str:
    """What a person reads in a reply: its text, a hero card's text and buttons, or a card."""
    if activity.text:
        return str(activity.text)
    parts: list[str] = []
    for attachment in activity.attachments or []:
        content = attachment.content
        if isinstance(content, HeroCard):
            parts.append(content.text or "")
            parts.extend(f"[{b.title}]" for b in content.buttons or [])
        else:
            parts.append(json.dumps(content, ensure_ascii=False))
    return "\n".join(parts)


async def queued(sessions: SessionFactory) -> list[OutboxMessage]:
    """Everything in the outbox, oldest first."""
    async with sessions() as session:
        return list(
            (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
        )


def card_actions(card: Element) -> list[Element]:
    """The card's buttons: its own, then those of its action sets (nested containers too)."""
    found: list[Element] = list(card.get("actions", []))

    def walk(items: list[Element]) -> None:
        for item in items:
            if item.get("type") == "ActionSet":
                found.extend(item["actions"])
            walk(item.get("items", []))

    walk(card["body"])
    return found


def render_context(
    sessions: SessionFactory,
    row: OutboxMessage,
    *,
    now: datetime = START,
    locale: str = "fr-CA",
) -> RenderContext:
    """What the dispatcher hands a renderer for a queued row, claimed once at `now`."""
    message = Claimed(
        id=row.id or 0,
        dedup_key=row.dedup_key,
        kind=row.kind,
        params=dict(row.params),
        person_id=row.person_id,
        conversation_ref_id=None,
        attempts=1,
        created_at=now,
    )
    return RenderContext(message=message, locale=locale, timezone=TZ, now=now, sessions=sessions)


# -- an adapter that keeps what the bot did ----------------------------------------------------

Logic = Callable[[TurnContext], Awaitable[None]]


class ChatAdapter(TestAdapter):
    """The SDK's TestAdapter, plus what these tests read: every activity the bot sent
    (`activity_buffer`), updated in place (`updated_activities`) or deleted
    (`deleted_activities`), and `receive_activity`, which completes a message from `template`
    (its sender and conversation, which a test may change between turns) and runs the turn
    through the middleware to `logic`.

    The SDK's own `process_activity` always stamps its one test conversation and the wall
    clock on the activity; the tests need Teams' sender and conversation ids (personal chat
    or channel) and no clock."""

    def __init__(self, logic: Logic | None = None) -> None:
        super().__init__()
        self.logic = logic
        self.updated_activities: list[Activity] = []
        self.deleted_activities: list[ConversationReference] = []
        self.template = Activity(
            type=ActivityTypes.message,
            channel_id="test",
            service_url="https://test.example/",
            from_property=ChannelAccount(id="User1", name="user"),
            recipient=ChannelAccount(id="bot", name="Bot"),
            conversation=ConversationAccount(id="Convo1"),
        )
        self._received = 0

    @property
    def activity_buffer(self) -> list[Activity]:
        """What the bot sent, oldest first; tests read it and clear it."""
        return self.activity_queue

    async def receive_activity(self, activity: Activity | str) -> None:
        """One turn: `activity` (a message's text, or an activity whose unset fields come
        from `template`) through the middleware to `logic`."""
        if isinstance(activity, str):
            activity = Activity(type=ActivityTypes.message, text=activity)
        given = {name: getattr(activity, name) for name in type(activity).model_fields}
        request = self.template.model_copy(
            update={name: value for name, value in given.items() if value is not None}
        )
        if not request.id:
            self._received += 1
            request.id = f"received-{self._received}"
        await self.run_pipeline(self.create_turn_context(request), self.logic)

    async def update_activity(  # type: ignore[override]  # TestAdapter's differs from its protocol
        self, context: TurnContextProtocol[Any], activity: Activity
    ) -> ResourceResponse:
        # Kept apart: the buffer keeps what was first sent.
        self.updated_activities.append(activity)
        return ResourceResponse(id=activity.id)

    async def delete_activity(
        self, context: TurnContextProtocol[Any], reference: ConversationReference
    ) -> None:
        self.deleted_activities.append(reference)


# -- a dialog alone, over a TestAdapter ------------------------------------------------------


class TurnInfoMiddleware:
    """What bot/handler.py sets before running dialogs (an SDK Middleware)."""

    def __init__(self, info: TurnInfo) -> None:
        self.info = info

    async def on_turn(self, context: TurnContext, logic: Logic) -> None:
        context.turn_state[TURN_INFO_KEY] = self.info
        await logic(context)


@dataclass
class DialogChat(ABC):
    """One dialog alone, driven turn by turn (begun by the first message, continued by the
    next ones), its state kept in the bot's SQL storage between turns. A subclass says which
    dialog (`dialog`) and with which options it begins (`begin_options`)."""

    sessions: SessionFactory
    who: Person
    locale: str = "fr-CA"
    in_channel: bool = False
    result: object = None
    adapter: ChatAdapter = field(init=False)
    _state: SqlPrivateConversationState = field(init=False)
    _dialogs: DialogSet = field(init=False)
    _dialog_id: str = field(init=False)

    def __post_init__(self) -> None:
        info = TurnInfo(
            person_id=self.who.id, locale=self.locale, timezone=TZ, in_channel=self.in_channel
        )
        self.adapter = ChatAdapter(self._logic)
        self.adapter.use(TurnInfoMiddleware(info))
        # The bot's own state, stored as JSON between turns as in production: each turn
        # rebuilds the dialog stack and its answers from the stored text. One per chat.
        self._state = SqlPrivateConversationState(SqlStorage(self.sessions))
        self._dialogs = DialogSet(self._state.create_property("DialogState"))
        dialog = self.dialog()
        self._dialog_id = dialog.id
        self._dialogs.add(dialog)

    @abstractmethod
    def dialog(self) -> Dialog:
        """The dialog under test (a new instance)."""

    def begin_options(self) -> object:
        return None

    async def _logic(self, turn_context: TurnContext) -> None:
        dialog_context = await self._dialogs.create_context(turn_context)
        # The SDK leaves continue_dialog unannotated.
        continued = dialog_context.continue_dialog()  # type: ignore[no-untyped-call]
        turn: DialogTurnResult = await continued
        if turn.status == DialogTurnStatus.Empty:
            turn = await dialog_context.begin_dialog(self._dialog_id, self.begin_options())
        if turn.status == DialogTurnStatus.Complete:
            self.result = turn.result
        await self._state.save(turn_context)

    async def say(self, text: str) -> list[str]:
        await self.adapter.receive_activity(
            Activity(type=ActivityTypes.message, text=text, locale=self.locale)
        )
        replies = [said(a) for a in self.adapter.activity_buffer]
        self.adapter.activity_buffer.clear()
        return replies


# -- a feature's functions, over a TestAdapter -----------------------------------------------


@dataclass
class FeatureBot:
    """Calls a feature's functions as the handler does, on turn contexts over a TestAdapter
    that keeps what was said; counts the dispatcher's wake-ups. Subclasses add the calls."""

    sessions: SessionFactory
    adapter: ChatAdapter = field(default_factory=ChatAdapter)
    wakes: int = 0
    now: datetime = START

    def _wake(self) -> None:
        self.wakes += 1

    def info(self, who: Person, locale: str = "fr-CA", channel: bool = False) -> TurnInfo:
        return TurnInfo(person_id=who.id, locale=locale, timezone=TZ, in_channel=channel)

    def message(
        self,
        value: dict[str, Any] | None = None,
        *,
        sender_id: str = "29:user",
        conversation_id: str = "a:personal",
        channel: bool = False,
        channel_data: dict[str, Any] | None = None,
    ) -> TurnContext:
        """A Teams message (a card's `value` for a button) in a 1:1 chat or a channel."""
        activity = Activity(
            type=ActivityTypes.message,
            id=f"activity-{len(self.adapter.activity_buffer)}-{self.wakes}",
            channel_id="msteams",
            service_url="https://smba.example/",
            from_property=ChannelAccount(id=sender_id),
            recipient=ChannelAccount(id="28:carrefour-bot"),
            conversation=ConversationAccount(
                id=conversation_id, conversation_type="channel" if channel else "personal"
            ),
            channel_data=channel_data,
            value=value,
        )
        return TurnContext(self.adapter, activity)

    def replies(self) -> list[Activity]:
        """What was sent since the last call."""
        sent = list(self.adapter.activity_buffer)
        self.adapter.activity_buffer.clear()
        return sent
