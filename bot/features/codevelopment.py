"""Codevelopment groups: the `codéveloppement` command, the groups' and sessions' buttons, the
creation form (a Teams dialog), the private cards and reminders through the outbox."""

from __future__ import annotations

from datetime import timedelta

from bot import codevelopment_flow as flow
from bot.commands import Parsed
from bot.invokes import Invokes
from bot.registry import Command, Feature, Job, JobContext
from bot.settings import Settings
from bot.turns import FeatureTurn
from cards.help import Group


async def _codevelopment(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_command(turn)


async def _enqueue_reminders(context: JobContext) -> int:
    """Queue the sessions' reminders that are due now (J-7, J-1)."""
    queued = await flow.enqueue_reminders(sessions=context.sessions, now=context.now())
    if queued:
        context.wake()
    return queued


def _invokes(invokes: Invokes, settings: Settings) -> None:
    flow.register_forms(invokes, settings=settings)


FEATURE = Feature(
    name="codevelopment",
    commands=(
        Command(
            "codevelopment",
            _codevelopment,
            Group.SUPPORT,
            verb="codevelopment.show",
            french=("groupe de codeveloppement", "codev"),
            english=("codevelopment group",),
        ),
    ),
    verbs=flow.ACTIONS,
    # A person in the middle of a dialog can still answer an invitation or write a note.
    verbs_in_dialog=frozenset(flow.ACTIONS),
    renderers=flow.CODEV_RENDERERS,
    invokes=_invokes,
    jobs=(Job("codevelopment_reminders", timedelta(minutes=1), _enqueue_reminders),),
)
