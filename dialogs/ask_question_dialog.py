"""Asking the community a question: which community, the question, with or without one's name,
then a summary and « Publier ». The question is posted in the community's channel as a card
(through the outbox); answers come back to the person in this chat. See
ask_question_dialog.mmd.

A question that seems to identify a client is refused with what was spotted (never repeated),
and asked again; `annuler` / `cancel` ends it with nothing saved (CancellableDialog)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.dialogs import DialogTurnResult, WaterfallDialog, WaterfallStepContext
from microsoft_agents.hosting.dialogs.prompts import (
    ChoicePrompt,
    PromptValidatorContext,
    TextPrompt,
)

from cards.i18n import translator
from cards.questions import identifiers_message, text_problem_message
from dialogs.base import (
    CancellableDialog,
    Candidate,
    choice,
    communities_to_choose,
    end,
    picked,
    picked_if_asked,
    step_answers,
    typed_text,
)
from dialogs.context import turn_info
from storage import questions
from storage.communities import NotAllowed
from storage.db import SessionFactory, transaction
from storage.identifiers import HasIdentifiers
from storage.models import utcnow

logger = logging.getLogger(__name__)


def question_problem(text: str, *, locale: str) -> str | None:
    """Why a question cannot be posted (a message for the person), or None."""
    reason = questions.question_problem(text)
    if reason is not None:
        return text_problem_message(reason, answer=False, locale=locale)
    found = questions.spotted(text)
    if found:
        return identifiers_message(found, answer=False, locale=locale)
    return None


@dataclass
class AskQuestionOptions:
    community_id: int | None = None
    # The text typed after the command (« question Comment … »), asked no more when valid.
    text: str = ""


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    """The dialog's result when the question was saved (or found already asked)."""

    question_id: int
    community_id: int
    created: bool


@dataclass
class QuestionAnswers:
    """What the person answered so far (kept in dialog state between turns)."""

    community_id: int = 0
    community_name: str = ""
    text: str = ""
    anonymous: bool = False
    candidates: list[Candidate] = field(default_factory=list)


class AskQuestionDialog(CancellableDialog):
    ID = "ask_question_dialog"
    WATERFALL_ID = "ask_question_dialog.steps"
    CHOICE_ID = "ask_question_dialog.choice"
    TEXT_ID = "ask_question_dialog.text"
    RETRY_CHOICE = "questions.ask.retry_choice"

    def __init__(
        self,
        sessions: SessionFactory,
        wake: Callable[[], None],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(self.ID)
        self._sessions = sessions
        self._wake = wake
        self._clock = clock
        self.add_dialog(ChoicePrompt(self.CHOICE_ID))
        self.add_dialog(TextPrompt(self.TEXT_ID, self._valid_text))
        self.add_dialog(
            WaterfallDialog(
                self.WATERFALL_ID,
                [
                    self.community_step,
                    self.text_step,
                    self.name_step,
                    self.summary_step,
                    self.save_step,
                ],
            )
        )
        self._start_with(self.WATERFALL_ID)

    # -- steps ---------------------------------------------------------------------------------

    async def community_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        options = (
            step.options if isinstance(step.options, AskQuestionOptions) else AskQuestionOptions()
        )
        answers = step_answers(step, QuestionAnswers)
        answers.text = options.text.strip()
        mine = await communities_to_choose(
            self._sessions,
            person_id=turn_info(step.context).person_id,
            community_id=options.community_id,
        )
        if mine is None:
            await step.context.send_activity(t("questions.ask.not_member_here"))
            return await end(step)
        if not mine:
            await step.context.send_activity(t("questions.ask.not_member"))
            return await end(step)
        if len(mine) == 1:
            answers.community_id, answers.community_name = mine[0].id or 0, mine[0].name
            return await step.next(None)
        answers.candidates = [Candidate(c.id or 0, c.name) for c in mine]
        return await self._choose(
            step, t("questions.ask.ask_community"), [choice(c.name) for c in mine]
        )

    async def text_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        answers = step_answers(step, QuestionAnswers)
        index = picked_if_asked(step)
        if index is not None:
            chosen = answers.candidates[index]
            answers.community_id, answers.community_name = chosen.community_id, chosen.name
        locale = turn_info(step.context).locale
        if answers.text:
            problem = question_problem(answers.text, locale=locale)
            if problem is None:
                return await step.next(answers.text)
            # The text typed with the command cannot be posted: say why, then ask for it.
            answers.text = ""
            await step.context.send_activity(problem)
        return await self._ask(
            step,
            self.TEXT_ID,
            t("questions.ask.ask_text", community=answers.community_name),
            text_problem_message(questions.TOO_SHORT, answer=False, locale=locale),
        )

    async def name_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        step_answers(step, QuestionAnswers).text = str(step.result).strip()
        return await self._choose(
            step,
            t("questions.ask.ask_name"),
            [
                choice(t("questions.ask.with_name"), "avec", "with", "nom", "name", "oui", "yes"),
                choice(
                    t("questions.ask.without_name"),
                    "sans",
                    "without",
                    "anonyme",
                    "anonymous",
                    "non",
                    "no",
                ),
            ],
        )

    async def summary_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        answers = step_answers(step, QuestionAnswers)
        answers.anonymous = picked(step) == 1
        summary = t(
            "questions.ask.summary",
            community=answers.community_name,
            text=answers.text,
            name=t("questions.ask.summary_without_name")
            if answers.anonymous
            else t("questions.ask.summary_with_name"),
        )
        return await self._choose(
            step,
            summary,
            [
                choice(t("questions.ask.confirm"), "oui", "yes", "ok", "publier", "post"),
                choice(t("questions.ask.cancel"), "non", "no"),
            ],
        )

    async def save_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        if picked(step) != 0:
            await step.context.send_activity(self._t(step)("dialog.cancelled"))
            return await end(step)
        saved = await save_question(
            self._sessions,
            step.context,
            step_answers(step, QuestionAnswers),
            wake=self._wake,
            now=self._clock(),
        )
        return await end(step, saved)

    # -- validators ------------------------------------------------------------------------------

    @staticmethod
    async def _valid_text(prompt: PromptValidatorContext) -> bool:
        if not prompt.recognized.succeeded:
            return False
        problem = question_problem(typed_text(prompt), locale=turn_info(prompt.context).locale)
        if problem is None:
            return True
        # Our own retry message (what was wrong, which kinds were spotted); no other follows.
        await prompt.context.send_activity(problem)
        return False


def request_key(turn_context: TurnContext, person_id: int) -> str:
    """The confirmation's own key: the same activity delivered again asks once."""
    seed = f"{person_id}:{turn_context.activity.conversation.id}:{turn_context.activity.id}"
    return "dialog:" + hashlib.sha256(seed.encode()).hexdigest()[:40]


async def save_question(
    sessions: SessionFactory,
    turn_context: TurnContext,
    answers: QuestionAnswers,
    *,
    wake: Callable[[], None],
    now: datetime,
) -> AskedQuestion | None:
    """Save the question (its card is queued for the channel) and tell the person."""
    info = turn_info(turn_context)
    t = translator(info.locale)
    if info.person_id is None:
        await turn_context.send_activity(t("questions.ask.not_member"))
        return None
    try:
        async with transaction(sessions) as session:
            question, created = await questions.ask(
                session,
                community_id=answers.community_id,
                person_id=info.person_id,
                text=answers.text,
                anonymous=answers.anonymous,
                request_key=request_key(turn_context, info.person_id),
                now=now,
            )
    except NotAllowed:
        await turn_context.send_activity(t("questions.ask.not_member_here"))
        return None
    except questions.NoChannel:
        await turn_context.send_activity(
            t("questions.ask.no_channel", community=answers.community_name)
        )
        return None
    except HasIdentifiers as spotted:
        await turn_context.send_activity(
            identifiers_message(spotted.kinds, answer=False, locale=info.locale)
        )
        return None
    except questions.InvalidText as invalid:
        await turn_context.send_activity(
            text_problem_message(invalid.reason, answer=False, locale=info.locale)
        )
        return None
    assert question.id is not None
    if created:
        wake()
        key = "questions.ask.posted_anonymous" if answers.anonymous else "questions.ask.posted"
        await turn_context.send_activity(t(key, community=answers.community_name))
    else:
        await turn_context.send_activity(
            t("questions.ask.already", community=answers.community_name)
        )
    return AskedQuestion(
        question_id=question.id, community_id=answers.community_id, created=created
    )
