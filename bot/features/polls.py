"""Polls: `sondage`, the poll form and ballot buttons, per-person poll views, closing."""

from __future__ import annotations

from bot import polls_flow as flow
from bot.commands import Command, Parsed
from bot.invokes import Invokes
from bot.registry import Feature
from bot.settings import Settings
from bot.turns import FeatureTurn


async def _poll(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_poll_command(
        turn.context, sessions=turn.sessions, settings=turn.settings, info=turn.info
    )


def _invokes(invokes: Invokes, settings: Settings) -> None:
    flow.register_poll_views(invokes, settings=settings)


FEATURE = Feature(
    name="polls",
    commands={Command.POLL: _poll},
    verbs=flow.ACTIONS,
    verbs_in_dialog=frozenset(flow.ACTIONS),
    renderers=flow.POLL_RENDERERS,
    invokes=_invokes,
)
