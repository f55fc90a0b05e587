"""Community vitality: the monthly summary (`bilan`), its buttons and its CSV export."""

from __future__ import annotations

from datetime import timedelta

from bot import vitality_flow as flow
from bot.commands import Parsed
from bot.registry import Command, Feature, Job, JobContext, Route
from bot.turns import FeatureTurn
from cards.help import Audience


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


async def _monthly_summaries(context: JobContext) -> int:
    """The 1st of the month at 9:00 (catching up after downtime): last month's summary."""
    return await flow.send_monthly_summaries(
        sessions=context.sessions,
        now=context.now(),
        wake=context.wake,
        tz=context.settings.timezone,
    )


FEATURE = Feature(
    name="vitality",
    commands=(
        Command(
            "summary",
            _summary,
            audience=Audience.ANIMATOR,
            first=True,
            french=("bilan mensuel",),
            english=("monthly summary",),
            takes_argument=True,
            elided_de=True,
        ),
    ),
    verbs=flow.ACTIONS,
    verbs_in_dialog=flow.VERBS,
    renderers=flow.VITALITY_RENDERERS,
    routes=(Route(flow.EXPORT_PATH, flow.vitality_csv),),
    jobs=(Job("monthly_summaries", timedelta(minutes=15), _monthly_summaries),),
)
