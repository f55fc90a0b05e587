"""Surveys: answering a satisfaction survey, the needs survey, the yearly learning
questionnaire, results, and their buttons."""

from __future__ import annotations

from datetime import timedelta

from bot import surveys_flow as flow
from bot.commands import Parsed
from bot.registry import Command, Feature, Job, JobContext
from bot.turns import FeatureTurn
from cards.help import Audience, Group
from cards.surveys import VERB_ANSWER, VERB_RESULTS, VERB_TOPIC
from dialogs.survey_dialog import SurveyDialog


async def _answer(turn: FeatureTurn, _parsed: Parsed) -> None:
    dialog_context = await turn.host.dialogs.create_context(turn.context)
    await dialog_context.cancel_all_dialogs()
    await dialog_context.begin_dialog(SurveyDialog.ID)


async def _needs(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_needs_survey_command(
        turn.context,
        sessions=turn.sessions,
        settings=turn.settings,
        info=turn.info,
        community_id=await turn.channel_community_id(),
        clock=turn.clock,
    )


async def _learning(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_learning_survey_command(
        turn.context,
        sessions=turn.sessions,
        settings=turn.settings,
        info=turn.info,
        community_id=await turn.channel_community_id(),
        clock=turn.clock,
    )


async def _results(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_results_command(
        turn.context,
        sessions=turn.sessions,
        settings=turn.settings,
        info=turn.info,
        community_id=await turn.channel_community_id(),
        wake=turn.wake,
        clock=turn.clock,
    )


async def _open_surveys(context: JobContext) -> int:
    """Satisfaction surveys an hour after each meeting, to those who attended."""
    return await flow.open_due_surveys(
        sessions=context.sessions,
        now=context.now(),
        wake=context.wake,
        delay=timedelta(minutes=context.settings.survey_delay_minutes),
        duration=timedelta(days=context.settings.survey_duration_days),
    )


async def _remind_surveys(context: JobContext) -> int:
    return await flow.survey_reminders(
        sessions=context.sessions, now=context.now(), wake=context.wake
    )


async def _yearly_learning(context: JobContext) -> int:
    """The learning questionnaire, once a year before the community's annual review."""
    return await flow.open_yearly_learning_surveys(
        sessions=context.sessions,
        now=context.now(),
        tz=context.settings.timezone,
        wake=context.wake,
    )


async def _seal_surveys(context: JobContext) -> int:
    """Closed surveys lose even the keyed link between answer and person."""
    return await flow.seal_closed_surveys(sessions=context.sessions, now=context.now())


FEATURE = Feature(
    name="surveys",
    commands=(
        Command("survey", _answer, Group.MEETINGS, english=("answer survey",)),
        Command("needs_survey", _needs, audience=Audience.ANIMATOR),
        Command(
            "learning_survey",
            _learning,
            audience=Audience.ANIMATOR,
            french=("sondage des apprentissages", "apprentissages"),
            english=("learning survey",),
        ),
        Command("results", _results, audience=Audience.ANIMATOR),
    ),
    verbs=flow.ACTIONS,
    # Launching a needs survey or learning questionnaire (preview, start) is an animator's form:
    # not while a dialog waits.
    verbs_in_dialog=frozenset({VERB_ANSWER, VERB_RESULTS, VERB_TOPIC}),
    renderers=flow.SURVEY_RENDERERS,
    dialogs=(lambda services: SurveyDialog(services.sessions, services.settings.master_key),),
    form_confirmations={SurveyDialog.ID: "surveys.dialog.confirm"},
    jobs=(
        Job("open_surveys", timedelta(minutes=5), _open_surveys),
        Job("survey_reminders", timedelta(minutes=15), _remind_surveys),
        Job("seal_surveys", timedelta(hours=1), _seal_surveys),
        Job("learning_yearly", timedelta(hours=6), _yearly_learning),
    ),
)
