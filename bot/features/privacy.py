"""Privacy: `mes données`, the export link and its route, erasure."""

from __future__ import annotations

from bot import privacy_flow as flow
from bot.commands import Command, Parsed
from bot.registry import Feature, Route, through
from bot.turns import FeatureTurn
from cards.privacy import VERB_ERASE_ASK, VERB_ERASE_CANCEL, VERB_ERASE_CONFIRM, VERB_EXPORT


async def _my_data(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_my_data_command(
        turn.context, sessions=turn.sessions, settings=turn.settings, info=turn.info
    )


_CARD_VERBS = frozenset({VERB_EXPORT, VERB_ERASE_ASK, VERB_ERASE_CONFIRM, VERB_ERASE_CANCEL})

FEATURE = Feature(
    name="privacy",
    commands={Command.MY_DATA: _my_data},
    verbs={verb: through(flow.handle_privacy_action) for verb in _CARD_VERBS},
    verbs_in_dialog=_CARD_VERBS,
    routes=(Route(flow.ROUTE, flow.export_json),),
)
