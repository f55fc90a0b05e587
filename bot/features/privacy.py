"""Privacy: `mes données`, the export link and its route, erasure."""

from __future__ import annotations

from typing import Any

from bot import privacy_flow as flow
from bot.commands import Command, Parsed
from bot.registry import Feature, Route
from bot.turns import FeatureTurn
from cards.privacy import VERB_ERASE_ASK, VERB_ERASE_CANCEL, VERB_ERASE_CONFIRM, VERB_EXPORT


async def _my_data(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_my_data_command(
        turn.context, sessions=turn.sessions, settings=turn.settings, info=turn.info
    )


async def _card_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """The privacy card's buttons: the flow's own dispatcher (it reads the verb)."""
    await flow.handle_privacy_action(
        turn.context,
        value,
        sessions=turn.sessions,
        settings=turn.settings,
        info=turn.info,
        wake=turn.wake,
        clock=turn.clock,
    )


_CARD_VERBS = frozenset({VERB_EXPORT, VERB_ERASE_ASK, VERB_ERASE_CONFIRM, VERB_ERASE_CANCEL})

FEATURE = Feature(
    name="privacy",
    commands={Command.MY_DATA: _my_data},
    verbs={verb: _card_verb for verb in _CARD_VERBS},
    verbs_in_dialog=_CARD_VERBS,
    routes=(Route(flow.ROUTE, flow.export_json),),
)
