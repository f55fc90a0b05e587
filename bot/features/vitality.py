"""Community vitality: the monthly summary (`bilan`), its buttons and its CSV export."""

from __future__ import annotations

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


FEATURE = Feature(
    name="vitality",
    commands={Command.SUMMARY: _summary},
    verbs=flow.ACTIONS,
    verbs_in_dialog=flow.VERBS,
    renderers=flow.VITALITY_RENDERERS,
    routes=(Route(flow.EXPORT_PATH, flow.vitality_csv),),
)
