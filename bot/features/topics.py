"""The topic bank: `sujets`, `proposer un sujet`, and the bank's buttons."""

from __future__ import annotations

from typing import Any

from bot import topics_flow as flow
from bot.commands import Command, Parsed
from bot.registry import Feature
from bot.turns import FeatureTurn
from cards.topics import VERBS as CARD_VERBS
from dialogs.propose_topic_dialog import ProposeTopicDialog


async def _topics(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_topics_command(
        turn.context,
        sessions=turn.sessions,
        info=turn.info,
        community_id=await turn.channel_community_id(),
    )


async def _propose(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_propose_command(
        turn.host, turn.context, community_id=await turn.channel_community_id()
    )


async def _card_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """The bank's buttons: the flow's own dispatcher (it reads the verb from `value`)."""
    await flow.handle_topics_action(
        turn.context, value, sessions=turn.sessions, info=turn.info, services=turn.host
    )


_VERBS = {verb: _card_verb for verb in CARD_VERBS}

FEATURE = Feature(
    name="topics",
    commands={Command.TOPICS: _topics, Command.PROPOSE_TOPIC: _propose},
    verbs=_VERBS,
    verbs_in_dialog=frozenset(CARD_VERBS),
    dialogs=(lambda services: ProposeTopicDialog(services.sessions, services.wake),),
)
