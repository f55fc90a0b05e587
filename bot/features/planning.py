"""Planning the year: a series of meetings (`planifier l'année`, `rencontres de l'année`), date
polls whose winning date becomes a meeting (`sondage de dates`), the charter
(`modifier la charte`), and the needs survey proposed to facilitators once a year."""

from __future__ import annotations

from datetime import timedelta

from bot import planning_flow as flow
from bot.commands import Parsed
from bot.registry import Command, Feature, Job, JobContext
from bot.turns import FeatureTurn
from cards.help import Audience, Group
from cards.planning import VERB_SERIES_SHOW
from storage.planning import KIND_DATE_POLL_OUTCOME, KIND_NEEDS_DUE


async def _plan_year(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_plan_year_command(turn)


async def _year_calendar(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_year_calendar_command(turn)


async def _date_poll(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_date_poll_command(turn)


async def _edit_charter(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_edit_charter_command(turn)


async def _announce(context: JobContext) -> int:
    return await flow.announce_closed_date_polls(context)


async def _propose_needs(context: JobContext) -> int:
    """The yearly needs survey, proposed to facilitators (once a year per community)."""
    return await flow.propose_needs_surveys(context)


_A = Audience.ANIMATOR
FEATURE = Feature(
    name="planning",
    commands=(
        Command(
            "plan_year",
            _plan_year,
            Group.MEETINGS,
            audience=_A,
            french=("planifier une serie", "serie de rencontres", "planifier les rencontres"),
            english=("plan series", "plan the year's meetings", "meeting series"),
        ),
        Command(
            "year_calendar",
            _year_calendar,
            Group.MEETINGS,
            audience=_A,
            verb=VERB_SERIES_SHOW,
            french=("calendrier de l annee", "calendrier annuel"),
            english=("year calendar", "year plan"),
        ),
        Command(
            "date_poll",
            _date_poll,
            Group.MEETINGS,
            audience=_A,
            french=("sonder les dates", "sondage de date"),
            english=("poll dates", "date survey"),
        ),
        Command(
            "edit_charter",
            _edit_charter,
            Group.COMMUNITY,
            audience=_A,
            french=("modifier le napperon", "charte"),
            english=("edit the charter", "charter"),
        ),
    ),
    verbs=flow.ACTIONS,
    renderers={
        KIND_DATE_POLL_OUTCOME: flow.render_winning_date,
        KIND_NEEDS_DUE: flow.render_needs_due,
    },
    jobs=(
        Job("date_poll_outcomes", timedelta(minutes=1), _announce),
        Job("needs_survey_proposals", timedelta(days=1), _propose_needs),
    ),
)
