"""Mentoring: asking for a mentor, volunteering as one, the coordination's requests, and the
buttons of the proposals, agreements and check-ins."""

from __future__ import annotations

from datetime import timedelta

from bot import mentoring_flow as flow
from bot.commands import Parsed, volunteer_capacity
from bot.registry import Command, Feature, Job, JobContext
from bot.turns import FeatureTurn
from cards.help import Audience, Group
from cards.mentoring import VERBS as CARD_VERBS


async def _mentor(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_mentor_command(
        turn.context,
        sessions=turn.sessions,
        info=turn.info,
        community_id=await turn.channel_community_id(),
        wake=turn.wake,
    )


async def _volunteer(turn: FeatureTurn, parsed: Parsed) -> None:
    await flow.on_volunteer_command(
        turn.context,
        sessions=turn.sessions,
        info=turn.info,
        community_id=await turn.channel_community_id(),
        capacity=volunteer_capacity(parsed.argument),
        wake=turn.wake,
    )


async def _requests(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_requests_command(
        turn.context, sessions=turn.sessions, info=turn.info, wake=turn.wake
    )


async def _expire_proposals(context: JobContext) -> int:
    """Mentor proposals unanswered for N days: lapsed, and the request back to the
    coordination with fresh suggestions."""
    return await flow.expire_proposals(
        sessions=context.sessions,
        now=context.now(),
        days=context.settings.mentor_proposal_days,
        wake=context.wake,
    )


FEATURE = Feature(
    name="mentoring",
    commands=(
        Command(
            "mentor",
            _mentor,
            Group.SUPPORT,
            first=True,
            menu=True,
            verb="mentoring.request",
            french=("mentore", "mentorat", "jumelage"),
            shared=("mentor",),
            takes_argument=True,
        ),
        Command(
            "volunteer",
            _volunteer,
            Group.SUPPORT,
            french=("devenir mentore",),
            english=("mentor volunteer", "volunteer mentor"),
            takes_argument=True,
        ),
        Command(
            "mentoring_requests",
            _requests,
            audience=Audience.COORDINATOR,
            also=Audience.ANIMATOR,
        ),
    ),
    verbs=flow.ACTIONS,
    verbs_in_dialog=frozenset(CARD_VERBS),
    renderers=flow.MENTORING_RENDERERS,
    jobs=(Job("expire_mentor_proposals", timedelta(minutes=30), _expire_proposals),),
)
