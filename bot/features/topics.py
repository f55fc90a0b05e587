"""The topic bank: `sujets`, `proposer un sujet`, and the bank's buttons."""

from __future__ import annotations

from bot import topics_flow as flow
from bot.commands import Parsed
from bot.registry import Command, Feature
from bot.turns import FeatureTurn
from cards.help import Group
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


FEATURE = Feature(
    name="topics",
    commands=(
        Command(
            "topics",
            _topics,
            Group.MEETINGS,
            first=True,
            menu=True,
            verb="topics.show",
            french=("banque de sujets",),
            english=("topic bank",),
        ),
        Command(
            "propose",
            _propose,
            Group.MEETINGS,
            first=True,
            menu=True,
            french=("proposer",),
            english=("propose",),
        ),
    ),
    verbs=flow.ACTIONS,
    verbs_in_dialog=frozenset(CARD_VERBS),
    dialogs=(lambda services: ProposeTopicDialog(services.sessions, services.wake),),
    form_confirmations={ProposeTopicDialog.ID: "topics.propose.confirm"},
)
