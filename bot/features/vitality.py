"""Community vitality: the monthly summary (`bilan`), its buttons and its CSV export."""

from __future__ import annotations

from typing import Any

from bot import vitality_flow as flow
from bot.commands import Command, Parsed
from bot.registry import Feature, Route
from bot.turns import FeatureTurn


async def _summary(turn: FeatureTurn, parsed: Parsed) -> None:
    await flow.on_summary_command(
        turn.context,
        sessions=turn.sessions,
        settings=turn.settings,
        info=turn.info,
        argument=parsed.argument,
        community_id=await turn.channel_community_id(),
        wake=turn.wake,
        clock=turn.clock,
    )


async def _card_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """The summary card's buttons: the flow's own dispatcher (it reads the verb)."""
    await flow.handle_vitality_action(
        turn.context,
        value,
        sessions=turn.sessions,
        settings=turn.settings,
        info=turn.info,
        wake=turn.wake,
        clock=turn.clock,
    )


FEATURE = Feature(
    name="vitality",
    commands={Command.SUMMARY: _summary},
    verbs={verb: _card_verb for verb in flow.VERBS},
    verbs_in_dialog=flow.VERBS,
    renderers=flow.VITALITY_RENDERERS,
    routes=(Route(flow.EXPORT_PATH, flow.vitality_csv),),
)
