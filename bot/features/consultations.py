"""Consultations: asking for one, the requests one made or was assigned, volunteering as a
consultant, the coordination's audit, and the requests' buttons."""

from __future__ import annotations

from datetime import timedelta

from bot import consultations_flow as flow
from bot.commands import Parsed
from bot.registry import Command, Feature, Job, JobContext
from bot.turns import FeatureTurn
from cards.help import Audience, Group
from dialogs.consultation_dialog import ConsultationDialog


async def _request(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_request_command(turn, community_id=await turn.channel_community_id())


async def _mine(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_my_requests_command(turn)


async def _assigned(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_assigned_requests_command(turn)


async def _volunteer(turn: FeatureTurn, parsed: Parsed) -> None:
    await flow.on_volunteer_consultant_command(
        turn, community_id=await turn.channel_community_id(), argument=parsed.argument
    )


async def _audit(turn: FeatureTurn, parsed: Parsed) -> None:
    await flow.on_audit_command(turn, community_id=None, argument=parsed.argument)


async def _escalate(context: JobContext) -> int:
    """Unassigned requests: a reminder to coordinators, then a word to the animators."""
    settings = context.settings
    return await flow.escalate(
        sessions=context.sessions,
        now=context.now(),
        reminder_after_working_days=settings.consultation_reminder_working_days,
        escalate_after_working_days=settings.consultation_escalation_working_days,
        timezone=settings.timezone,
        extra_non_working_days=settings.extra_non_working_days,
        wake=context.wake,
    )


_COMMANDS = (
    Command(
        "consultation",
        _request,
        Group.SUPPORT,
        first=True,
        menu=True,
        verb="consultations.request",
        french=("demander une consultation",),
        english=("consultation", "ask for a consultation"),
    ),
    Command("my_requests", _mine, Group.SUPPORT),
    Command("assigned_requests", _assigned, Group.SUPPORT),
    Command(
        "volunteer_consultant",
        _volunteer,
        Group.SUPPORT,
        french=("consultante", "devenir consultante"),
        english=("become a consultant",),
        shared=("consultant",),
        takes_argument=True,
    ),
    Command(
        "consultation_audit",
        _audit,
        audience=Audience.COORDINATOR,
        first=True,
        takes_argument=True,
    ),
)

FEATURE = Feature(
    name="consultations",
    commands=_COMMANDS,
    verbs=flow.ACTIONS,
    verbs_in_dialog=frozenset(flow.ACTIONS),
    renderers=flow.CONSULTATION_RENDERERS,
    dialogs=(lambda services: ConsultationDialog(services.sessions, services.wake),),
    form_confirmations={ConsultationDialog.ID: "consultation.request.send"},
    jobs=(Job("escalate_consultations", timedelta(minutes=30), _escalate),),
)
