"""The annual review (`bilan annuel`), the register of productions (`productions`) and the
objectives' status (`objectifs`): their buttons, the PDF's signed links and the yearly job."""

from __future__ import annotations

from datetime import timedelta

from bot import review_flow as flow
from bot.commands import Parsed
from bot.registry import Command, Feature, Job, JobContext, Route
from bot.turns import FeatureTurn
from cards.help import Audience, Group


async def _review(turn: FeatureTurn, parsed: Parsed) -> None:
    await flow.on_review_command(
        turn, argument=parsed.argument, community_id=await turn.channel_community_id()
    )


async def _productions(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_productions_command(turn, community_id=await turn.channel_community_id())


async def _objectives(turn: FeatureTurn, parsed: Parsed) -> None:
    await flow.on_objectives_command(
        turn, argument=parsed.argument, community_id=await turn.channel_community_id()
    )


async def _annual_reviews(context: JobContext) -> int:
    """On each community's review date (default 15 June), catching up after downtime."""
    return await flow.send_annual_reviews(
        sessions=context.sessions,
        now=context.now(),
        wake=context.wake,
        tz=context.settings.timezone,
    )


FEATURE = Feature(
    name="review",
    commands=(
        Command(
            "annual_review",
            _review,
            audience=Audience.ANIMATOR,
            also=Audience.COORDINATOR,
            french=("bilan de l annee", "rapport annuel"),
            english=("yearly review", "annual report"),
            takes_argument=True,
        ),
        Command(
            "productions",
            _productions,
            Group.COMMUNITY,
            french=("realisations", "nos productions"),
            english=("achievements", "our productions"),
        ),
        Command(
            "objectives",
            _objectives,
            audience=Audience.ANIMATOR,
            french=("objectifs", "statut des objectifs"),
            english=("objectives status",),
            takes_argument=True,
        ),
    ),
    verbs=flow.ACTIONS,
    renderers=flow.REVIEW_RENDERERS,
    routes=(Route(flow.ROUTE, flow.review_pdf),),
    jobs=(Job("annual_reviews", timedelta(minutes=15), _annual_reviews),),
)
