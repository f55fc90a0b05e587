"""Questions to the community: `question`, the question card's buttons, answers replied in its
thread, and the facilitators told of a question unanswered for 3 working days."""

from __future__ import annotations

from datetime import timedelta

from bot import questions_flow as flow
from bot.commands import Parsed
from bot.registry import Command, Feature, Job, JobContext
from bot.turns import FeatureTurn
from cards.help import Group
from dialogs.ask_question_dialog import AskQuestionDialog


async def _question(turn: FeatureTurn, parsed: Parsed) -> None:
    await flow.on_question_command(turn, argument=parsed.argument)


async def _flag_unanswered(context: JobContext) -> int:
    """Questions without an answer after 3 working days: a word to the facilitators, once."""
    settings = context.settings
    return await flow.flag_unanswered(
        sessions=context.sessions,
        now=context.now(),
        timezone=settings.timezone,
        extra_non_working_days=settings.extra_non_working_days,
        wake=context.wake,
    )


FEATURE = Feature(
    name="questions",
    commands=(
        Command(
            "question",
            _question,
            Group.COMMUNITY,
            verb="questions.ask",
            french=("poser une question", "demander a la communaute"),
            english=("ask a question", "ask the community"),
            takes_argument=True,  # `question <text>`: the question itself
        ),
    ),
    verbs=flow.ACTIONS,
    renderers=flow.QUESTION_RENDERERS,
    dialogs=(lambda services: AskQuestionDialog(services.sessions, services.wake),),
    form_confirmations={AskQuestionDialog.ID: "questions.ask.confirm"},
    jobs=(Job("flag_unanswered_questions", timedelta(minutes=30), _flag_unanswered),),
    thread_replies=flow.on_thread_reply,
)
