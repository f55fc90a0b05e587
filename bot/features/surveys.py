"""Surveys: answering a satisfaction survey, the needs survey, results, and their buttons."""

from __future__ import annotations

from bot import surveys_flow as flow
from bot.commands import Command, Parsed
from bot.registry import Feature
from bot.turns import FeatureTurn
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


FEATURE = Feature(
    name="surveys",
    commands={
        Command.ANSWER_SURVEY: _answer,
        Command.NEEDS_SURVEY: _needs,
        Command.RESULTS: _results,
    },
    verbs=flow.ACTIONS,
    # Launching a needs survey (preview, start) is an animator's form: not while a dialog waits.
    verbs_in_dialog=frozenset({VERB_ANSWER, VERB_RESULTS, VERB_TOPIC}),
    renderers=flow.SURVEY_RENDERERS,
    dialogs=(lambda services: SurveyDialog(services.sessions, services.settings.master_key),),
)
