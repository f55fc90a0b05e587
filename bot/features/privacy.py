"""Privacy: `mes données`, the export link and its route, erasure."""

from __future__ import annotations

from bot import privacy_flow as flow
from bot.commands import Parsed
from bot.registry import Command, Feature, Route
from bot.turns import FeatureTurn
from cards.help import Group


async def _my_data(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_my_data_command(
        turn.context, sessions=turn.sessions, settings=turn.settings, info=turn.info
    )


FEATURE = Feature(
    name="privacy",
    commands=(Command("my_data", _my_data, Group.YOU),),
    verbs=flow.ACTIONS,
    verbs_in_dialog=frozenset(flow.ACTIONS),
    routes=(Route(flow.ROUTE, flow.export_json),),
)
