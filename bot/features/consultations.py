"""Consultations: asking for one, the requests one made or was assigned, volunteering as a
consultant, the coordination's audit, and the requests' buttons."""

from __future__ import annotations

from typing import Any

from bot import consultations_flow as flow
from bot.commands import Command, Parsed
from bot.registry import CommandHandler, Feature
from bot.turns import FeatureTurn
from cards.consultations import VERBS as CARD_VERBS
from dialogs.consultation_dialog import ConsultationDialog


async def _request(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_request_command(
        turn.host, turn.context, community_id=await turn.channel_community_id()
    )


async def _mine(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_my_requests_command(turn.context, sessions=turn.sessions, info=turn.info)


async def _assigned(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_assigned_requests_command(turn.context, sessions=turn.sessions, info=turn.info)


async def _volunteer(turn: FeatureTurn, parsed: Parsed) -> None:
    await flow.on_volunteer_consultant_command(
        turn.context,
        sessions=turn.sessions,
        info=turn.info,
        community_id=await turn.channel_community_id(),
        argument=parsed.argument,
    )


async def _audit(turn: FeatureTurn, parsed: Parsed) -> None:
    await flow.on_audit_command(
        turn.context,
        sessions=turn.sessions,
        info=turn.info,
        community_id=None,
        argument=parsed.argument,
    )


async def _card_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """The requests' buttons: the flow's own dispatcher (it reads the verb from `value`)."""
    await flow.handle_consultation_action(
        turn.context,
        value,
        sessions=turn.sessions,
        settings=turn.settings,
        info=turn.info,
        wake=turn.wake,
        services=turn.host,
        clock=turn.clock,
    )


_COMMANDS: dict[Command, CommandHandler] = {
    Command.CONSULTATION: _request,
    Command.MY_REQUESTS: _mine,
    Command.ASSIGNED_REQUESTS: _assigned,
    Command.VOLUNTEER_CONSULTANT: _volunteer,
    Command.CONSULTATION_AUDIT: _audit,
}

FEATURE = Feature(
    name="consultations",
    commands=_COMMANDS,
    verbs={verb: _card_verb for verb in CARD_VERBS},
    verbs_in_dialog=frozenset(CARD_VERBS),
    renderers=flow.CONSULTATION_RENDERERS,
    dialogs=(lambda services: ConsultationDialog(services.sessions, services.wake),),
)
