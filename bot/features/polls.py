"""Polls: `sondage`, the poll form and ballot buttons, per-person poll views, closing."""

from __future__ import annotations

from datetime import timedelta

from bot import polls_flow as flow
from bot.commands import Parsed
from bot.invokes import Invokes
from bot.registry import Command, Feature, Job, JobContext
from bot.settings import Settings
from bot.turns import FeatureTurn
from cards.help import Audience


async def _poll(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_poll_command(
        turn.context, sessions=turn.sessions, settings=turn.settings, info=turn.info
    )


async def _close_polls(context: JobContext) -> int:
    """Polls past their closing time: final results in the card, and to the animators."""
    return await flow.close_expired_polls(
        sessions=context.sessions, now=context.now(), wake=context.wake
    )


def _invokes(invokes: Invokes, settings: Settings) -> None:
    flow.register_poll_views(invokes, settings=settings)


FEATURE = Feature(
    name="polls",
    commands=(Command("poll", _poll, audience=Audience.ANIMATOR, first=True),),
    verbs=flow.ACTIONS,
    verbs_in_dialog=frozenset(flow.ACTIONS),
    renderers=flow.POLL_RENDERERS,
    invokes=_invokes,
    jobs=(Job("close_polls", timedelta(minutes=1), _close_polls),),
)
