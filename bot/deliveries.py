"""What each kind of outbox message says, rendered at send time.

A renderer reads current data (a reminder shows the meeting as it is now) and answers in the
recipient's language; it returns None when the message no longer makes sense (meeting
cancelled or already started), and the row is then cancelled rather than sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import MessageFactory

from bot.meeting_calendar import calendar_url
from bot.settings import Settings
from bot.turns import card_activity
from cards.i18n import translator
from cards.meeting_reminder import build_meeting_reminder_card
from storage import cases, meetings, toolbox
from storage.db import SessionFactory
from storage.models import MeetingStatus
from storage.outbox import Claimed


@dataclass(frozen=True, slots=True)
class RenderContext:
    message: Claimed
    locale: str
    timezone: str
    now: datetime
    sessions: SessionFactory
    # For renderers that sign links (a meeting's calendar invitation); None in some tests.
    settings: Settings | None = None


Renderer = Callable[[RenderContext], Awaitable[Activity | None]]

logger = logging.getLogger(__name__)


async def render_notice(context: RenderContext) -> Activity | None:
    """A plain text message from the catalog: params {"text": key, "values": {...}}."""
    params = context.message.params
    key = params.get("text")
    values = params.get("values") or {}
    if not isinstance(key, str) or not isinstance(values, dict):
        raise ValueError("notice needs a catalog key and values")
    return MessageFactory.text(translator(context.locale)(key, **values))


async def render_reply(context: RenderContext) -> Activity | None:
    """A reply of an incoming turn that Teams kept refusing (bot/replies.py), as it was
    rendered then: params {"activity": the activity's JSON, without where it goes}."""
    content = context.message.params.get("activity")
    if not isinstance(content, dict):
        raise ValueError("a reply needs its activity")
    activity: Activity = Activity.model_validate(content)
    return activity


async def render_meeting_reminder(context: RenderContext) -> Activity | None:
    params = context.message.params
    async with context.sessions() as session:
        found = await meetings.meeting_with_community(
            session, meeting_id=int(str(params["meeting_id"]))
        )
        items = await meetings.agenda_of(session, meeting_id=found[0].id or 0) if found else []
        # The complex cases picked for its reflective part, as the agenda card shows them.
        picked = await cases.agenda_cases(session, meeting_id=found[0].id or 0) if found else []
        # The toolbox resources attached to its items (active ones), as the agenda card too.
        attached = (
            await toolbox.agenda_resources(session, meeting_id=found[0].id or 0) if found else {}
        )
    if found is None:
        return None
    meeting, community = found
    if meeting.status != MeetingStatus.SCHEDULED or meeting.starts_at <= context.now:
        return None
    link = None
    if context.settings is not None:
        async with context.sessions() as session:
            link = await calendar_url(
                session,
                context.settings,
                meeting=meeting,
                person_id=context.message.person_id,
                locale=context.locale,
                now=context.now,
            )
    card = build_meeting_reminder_card(
        meeting,
        community,
        offset=meeting.starts_at - context.now,
        locale=context.locale,
        tz=context.timezone,
        items=items,
        calendar_url=link,
        cases=picked,
        resources=attached,
    )
    return card_activity(card)


# -- what a delivery records -----------------------------------------------------------------

Delivered = Callable[[Claimed, SessionFactory, datetime], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RecordedRenderer:
    """A renderer, and what to record once Teams has accepted its message: e.g. that a person
    received a card showing a consultation's content. Recorded by the dispatcher after the
    send succeeded, never for a message that could not be delivered."""

    render: Renderer
    delivered: Delivered

    async def __call__(self, context: RenderContext) -> Activity | None:
        return await self.render(context)


async def after_delivery(
    renderer: Renderer, message: Claimed, *, sessions: SessionFactory, now: datetime
) -> None:
    """Run the renderer's `delivered` step, if it has one. A failure is logged, not retried:
    the message itself went out, and sending it again would be a duplicate."""
    if not isinstance(renderer, RecordedRenderer):
        return
    try:
        await renderer.delivered(message, sessions, now)
    except Exception:
        logger.exception("recording the delivery of outbox message %s failed", message.id)
