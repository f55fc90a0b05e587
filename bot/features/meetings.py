"""Meetings: planning, agenda, cancelling, restoring and moving a meeting; joint meetings of
two communities; RSVPs and attendance; their Teams dialogs and per-person agenda views;
reminders; calendar files."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from bot import meetings_flow as flow
from bot.commands import Parsed
from bot.deliveries import render_meeting_reminder
from bot.invokes import Invokes
from bot.meeting_calendar import ROUTE as CALENDAR_ROUTE
from bot.meeting_calendar import meeting_calendar
from bot.registry import Command, Feature, Job, JobContext, Route
from bot.settings import Settings
from bot.turns import FeatureTurn
from cards.help import Audience, Group
from storage import meetings, outbox
from storage.db import transaction

logger = logging.getLogger(__name__)


async def _plan(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_plan_command(turn.context, sessions=turn.sessions, info=turn.info)


async def _agenda(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_agenda_command(
        turn.context, sessions=turn.sessions, settings=turn.settings, info=turn.info
    )


async def _edit_agenda(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_edit_agenda_command(
        turn.context, sessions=turn.sessions, settings=turn.settings, info=turn.info
    )


async def _cancel(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_cancel_meeting_command(
        turn.context,
        sessions=turn.sessions,
        settings=turn.settings,
        info=turn.info,
        wake=turn.wake,
    )


async def _restore(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_restore_meeting_command(
        turn.context,
        sessions=turn.sessions,
        settings=turn.settings,
        info=turn.info,
        wake=turn.wake,
    )


async def _move(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_move_meeting_command(
        turn.context, sessions=turn.sessions, settings=turn.settings, info=turn.info
    )


async def _joint(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_joint_meeting_command(
        turn.context, sessions=turn.sessions, settings=turn.settings, info=turn.info
    )


async def _leave_joint(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_leave_joint_meeting_command(
        turn.context,
        sessions=turn.sessions,
        settings=turn.settings,
        info=turn.info,
        wake=turn.wake,
    )


async def _show_verb(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    """The agenda card's « Voir l'agenda » (and the help card's): the `agenda` command."""
    await _agenda(turn, Parsed("agenda"))


async def _enqueue_reminders(context: JobContext) -> int:
    """Queue the reminders that are due now (J-7, J-1, H-1 by default)."""
    now = context.now()
    queued = 0
    async with transaction(context.sessions) as session:
        for reminder in await meetings.due_reminders(
            session, now=now, default_offsets=context.settings.reminder_offsets
        ):
            queued += await outbox.enqueue(
                session,
                dedup_key=meetings.reminder_key(reminder),
                recipient=outbox.Recipient.person(reminder.person_id),
                kind=meetings.KIND_REMINDER,
                params={"meeting_id": reminder.meeting_id, "offset": reminder.offset},
                not_before=now,
            )
    if queued:
        logger.info("queued %d meeting reminder(s)", queued)
        context.wake()
    return queued


async def _request_attendance(context: JobContext) -> int:
    """After each meeting, its animators get the attendance list to confirm."""
    return await flow.enqueue_attendance_requests(
        sessions=context.sessions, now=context.now(), wake=context.wake
    )


def _invokes(invokes: Invokes, settings: Settings) -> None:
    flow.register_meeting_forms(invokes, settings=settings)
    flow.register_agenda_views(invokes, settings=settings)


_A = Audience.ANIMATOR
_COMMANDS = (
    # « agenda » is French too (« l'agenda de la rencontre »).
    Command("agenda", _agenda, Group.MEETINGS, first=True, menu=True, french=("agenda",)),
    Command(
        "plan",
        _plan,
        audience=_A,
        first=True,
        french=("planifier",),
        english=("plan meeting",),
    ),
    Command("edit_agenda", _edit_agenda, audience=_A, english=("edit agenda",)),
    Command("move_meeting", _move, audience=_A, english=("move meeting",)),
    Command("cancel_meeting", _cancel, audience=_A, english=("cancel meeting",)),
    Command("restore_meeting", _restore, audience=_A, english=("restore meeting",)),
    # Joint meetings: the host invites (its channel), the co-host leaves (its own channel).
    Command("joint_meeting", _joint, audience=_A, english=("invite co-host",)),
    Command(
        "leave_joint_meeting",
        _leave_joint,
        audience=_A,
        french=("retirer la coanimation",),
        english=("withdraw co-hosting",),
    ),
)
# `meetings.view` is a Universal Action only (the agenda card's per-person refresh).
_VERBS = {"meetings.show": _show_verb, **flow.ACTIONS}
# A person in the middle of a dialog can still answer a meeting's card; the planning forms'
# buttons (when not in a Teams dialog) are the dialog's business.
# A co-hosting invitation is answered from a 1:1 card, whatever dialog the facilitator is in.
_IN_DIALOG_VERBS = frozenset(
    {
        "meetings.show",
        "meetings.rsvp",
        "meetings.attendance",
        "meetings.cohost.accept",
        "meetings.cohost.decline",
    }
)

FEATURE = Feature(
    name="meetings",
    commands=_COMMANDS,
    verbs=_VERBS,
    verbs_in_dialog=_IN_DIALOG_VERBS,
    renderers={meetings.KIND_REMINDER: render_meeting_reminder, **flow.MEETING_RENDERERS},
    routes=(Route(CALENDAR_ROUTE, meeting_calendar),),
    invokes=_invokes,
    jobs=(
        Job("meeting_reminders", timedelta(minutes=1), _enqueue_reminders),
        Job("attendance_requests", timedelta(minutes=5), _request_attendance),
    ),
)
