"""Submitting a complex case for a meeting's reflective part: which community, a short title,
the context, what makes it complex, the question for the group, what was tried (optional),
whether the presenter agrees to be named on the agenda, then a summary and a confirmation.
See submit_case_dialog.mmd.

Every text is screened for client identifiers (storage.identifiers.likely_identifiers) as
soon as it is typed, before it is saved or shown to anyone: the person reads which kinds
were spotted (never the spotted words) and either rewrites the text or, for a name only,
confirms it identifies no one (storage.identifiers.CONFIRMABLE; any other kind is asked
again); the confirmation is recorded with the case. Until then the text lives
only in the person's own dialog state (dropped when they cancel, erased with their data).
Personal chat only: the bot layer moves a submission started in a channel to the 1:1 chat.
`annuler` / `cancel` at any step ends it with nothing saved."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.dialogs import (
    DialogTurnResult,
    WaterfallDialog,
    WaterfallStepContext,
)
from microsoft_agents.hosting.dialogs.prompts import (
    ChoicePrompt,
    PromptValidatorContext,
    TextPrompt,
)

from cards.cases import field_label, kinds_text
from cards.i18n import translator
from dialogs.base import (
    CancellableDialog,
    Candidate,
    begin,
    choice,
    end,
    picked,
    picked_if_asked,
    simplify,
    step_answers,
    typed_text,
)
from dialogs.context import turn_info
from storage import cases, communities
from storage.communities import NotAllowed
from storage.db import SessionFactory, transaction
from storage.identifiers import HasIdentifiers, confirmable, likely_identifiers
from storage.models import Community, utcnow

logger = logging.getLogger(__name__)

# Compared after `simplify`: what people type to leave the optional answer empty.
SKIP_WORDS = frozenset({"passer", "passe", "skip", "aucun", "rien", "none", "n/a", "-"})
YES_WORDS = ("oui", "yes", "o", "y", "d'accord", "ok")
NO_WORDS = ("non", "no", "n")


def is_skip(text: str) -> bool:
    return simplify(text) in SKIP_WORDS


@dataclass
class SubmitCaseOptions:
    community_id: int | None = None


@dataclass(frozen=True, slots=True)
class SubmittedCase:
    """The dialog's result when the case was saved."""

    case_id: int
    community_id: int


@dataclass
class ScreenedTextOptions:
    """One text of the case to ask and screen: `name` is its field (storage.cases.FIELDS)."""

    name: str = ""
    community: str = ""


@dataclass(frozen=True, slots=True)
class ScreenedText:
    """A text the person typed: `confirmed` holds the kinds spotted in it that they confirmed
    identify no one (empty when nothing was spotted)."""

    text: str
    confirmed: tuple[str, ...] = ()


@dataclass
class ScreenedAnswer:
    """Kept between the question and the person's choice (fix or confirm)."""

    text: str = ""
    kinds: list[str] = field(default_factory=list)


@dataclass
class CaseAnswers:
    """What the person answered so far (kept in dialog state between turns)."""

    community_id: int = 0
    community_name: str = ""
    title: str = ""
    context: str = ""
    complexity: str = ""
    question: str = ""
    tried: str = ""
    name_shown: bool = False
    screening: dict[str, list[str]] = field(default_factory=dict)
    # The confirmation's key: a second « Soumettre » (or a replayed turn) finds the first case.
    request_key: str = ""
    candidates: list[Candidate] = field(default_factory=list)


# The question of each text of the case (storage.cases.FIELDS).
QUESTION_KEYS = {
    "title": "cases.submit.ask_title",
    "context": "cases.submit.ask_context",
    "complexity": "cases.submit.ask_complexity",
    "question": "cases.submit.ask_question",
    "tried": "cases.submit.ask_tried",
}


def _retry(name: str, locale: str) -> str:
    t = translator(locale)
    if name == "title":
        return t("cases.submit.retry_title", max=cases.MAX_TITLE_LENGTH)
    return t("cases.submit.retry_text", min=cases.MIN_TEXT_LENGTH, max=cases.MAX_TEXT_LENGTH)


class ScreenedTextDialog(CancellableDialog):
    """Ask one text, screen it; when something was spotted, say what kind and let the person
    rewrite it (asked again) or confirm it identifies no one."""

    ID = "submit_case_dialog.screened"
    WATERFALL_ID = "submit_case_dialog.screened.steps"
    CHOICE_ID = "submit_case_dialog.screened.choice"
    TITLE_ID = "submit_case_dialog.screened.title"
    TEXT_ID = "submit_case_dialog.screened.text"
    OPTIONAL_ID = "submit_case_dialog.screened.optional"
    RETRY_CHOICE = "cases.submit.retry_choice"

    def __init__(self) -> None:
        super().__init__(self.ID)
        self.add_dialog(ChoicePrompt(self.CHOICE_ID))
        self.add_dialog(TextPrompt(self.TITLE_ID, self._valid_title))
        self.add_dialog(TextPrompt(self.TEXT_ID, self._valid_text))
        self.add_dialog(TextPrompt(self.OPTIONAL_ID, self._valid_optional))
        self.add_dialog(
            WaterfallDialog(self.WATERFALL_ID, [self.ask_step, self.check_step, self.decide_step])
        )
        self._start_with(self.WATERFALL_ID)

    @staticmethod
    def _options(step: WaterfallStepContext) -> ScreenedTextOptions:
        options = step.options
        return options if isinstance(options, ScreenedTextOptions) else ScreenedTextOptions()

    async def ask_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        options = self._options(step)
        locale = turn_info(step.context).locale
        prompt_id = (
            self.TITLE_ID
            if options.name == "title"
            else self.OPTIONAL_ID
            if options.name in cases.OPTIONAL_FIELDS
            else self.TEXT_ID
        )
        return await self._ask(
            step,
            prompt_id,
            self._t(step)(QUESTION_KEYS[options.name], community=options.community),
            _retry(options.name, locale),
        )

    async def check_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        options = self._options(step)
        text = str(step.result).strip()
        if options.name in cases.OPTIONAL_FIELDS and is_skip(text):
            return await end(step, ScreenedText(""))
        found = likely_identifiers(text)
        if not found:
            return await end(step, ScreenedText(text))
        locale = turn_info(step.context).locale
        t = self._t(step)
        if not confirmable(found):
            # A phone number, a date of birth… is never « no one's »: rewrite, nothing else.
            await step.context.send_activity(
                t(
                    "cases.submit.identifiers_refused",
                    field=field_label(options.name, locale=locale),
                    kinds=kinds_text(found, locale=locale),
                )
            )
            replaced: DialogTurnResult = await step.replace_dialog(self.ID, options)
            return replaced
        step.values["screened"] = ScreenedAnswer(text=text, kinds=[k.value for k in found])
        return await self._choose(
            step,
            t(
                "cases.submit.identifiers_found",
                field=field_label(options.name, locale=locale),
                kinds=kinds_text(found, locale=locale),
            ),
            [
                choice(t("cases.submit.fix"), "corriger", "fix", "modifier", "rewrite"),
                choice(
                    t("cases.submit.no_one"),
                    "confirmer",
                    "confirm",
                    "personne",
                    "no one",
                    "n'identifie personne",
                ),
            ],
        )

    async def decide_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        screened = step.values.get("screened")
        assert isinstance(screened, ScreenedAnswer)
        if picked(step) == 0:
            # Asked again from the start; what was typed is forgotten with this instance.
            replaced: DialogTurnResult = await step.replace_dialog(self.ID, self._options(step))
            return replaced
        return await end(step, ScreenedText(screened.text, tuple(screened.kinds)))

    @staticmethod
    async def _valid_title(prompt: PromptValidatorContext) -> bool:
        value = typed_text(prompt)
        return bool(
            prompt.recognized.succeeded
            and value
            and not is_skip(value)
            and len(value) <= cases.MAX_TITLE_LENGTH
        )

    @staticmethod
    async def _valid_text(prompt: PromptValidatorContext) -> bool:
        value = typed_text(prompt)
        return bool(
            prompt.recognized.succeeded
            and not is_skip(value)
            and cases.MIN_TEXT_LENGTH <= len(value) <= cases.MAX_TEXT_LENGTH
        )

    @staticmethod
    async def _valid_optional(prompt: PromptValidatorContext) -> bool:
        value = typed_text(prompt)
        return bool(
            prompt.recognized.succeeded
            and (is_skip(value) or cases.MIN_TEXT_LENGTH <= len(value) <= cases.MAX_TEXT_LENGTH)
        )


class SubmitCaseDialog(CancellableDialog):
    ID = "submit_case_dialog"
    WATERFALL_ID = "submit_case_dialog.steps"
    CHOICE_ID = "submit_case_dialog.choice"
    RETRY_CHOICE = "cases.submit.retry_choice"

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
        self.add_dialog(ScreenedTextDialog())
        self.add_dialog(
            WaterfallDialog(
                self.WATERFALL_ID,
                [
                    self.community_step,
                    self.title_step,
                    self.context_step,
                    self.complexity_step,
                    self.question_step,
                    self.tried_step,
                    self.name_step,
                    self.summary_step,
                    self.save_step,
                ],
            )
        )
        self._start_with(self.WATERFALL_ID)

    # -- helpers -------------------------------------------------------------------------------

    async def _screened(self, step: WaterfallStepContext, name: str) -> DialogTurnResult:
        answers = step_answers(step, CaseAnswers)
        return await begin(
            step,
            ScreenedTextDialog.ID,
            ScreenedTextOptions(name=name, community=answers.community_name),
        )

    @staticmethod
    def _keep(step: WaterfallStepContext, name: str) -> None:
        """The previous text's answer into the case's answers."""
        answer = step.result
        assert isinstance(answer, ScreenedText)
        answers = step_answers(step, CaseAnswers)
        setattr(answers, name, answer.text)
        if answer.confirmed:
            answers.screening[name] = list(answer.confirmed)
        else:
            answers.screening.pop(name, None)

    # -- steps ---------------------------------------------------------------------------------

    async def community_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        info = turn_info(step.context)
        if info.in_channel:
            # Never in front of colleagues: the bot layer moves the submission to the 1:1 chat.
            await step.context.send_activity(t("cases.private_only"))
            return await end(step)
        options = (
            step.options if isinstance(step.options, SubmitCaseOptions) else SubmitCaseOptions()
        )
        mine: list[Community] = []
        if info.person_id is not None:
            async with self._sessions() as session:
                mine = [
                    c
                    for m, c in await communities.memberships_of(session, person_id=info.person_id)
                    if m.left_at is None
                ]
        if options.community_id is not None:
            mine = [c for c in mine if c.id == options.community_id]
            if not mine:
                await step.context.send_activity(t("cases.submit.not_member_here"))
                return await end(step)
        if not mine:
            await step.context.send_activity(t("cases.submit.not_member"))
            return await end(step)
        answers = step_answers(step, CaseAnswers)
        answers.request_key = uuid.uuid4().hex
        if len(mine) == 1:
            answers.community_id, answers.community_name = mine[0].id or 0, mine[0].name
            return await step.next(None)
        answers.candidates = [Candidate(c.id or 0, c.name) for c in mine]
        return await self._choose(
            step, t("cases.submit.ask_community"), [choice(c.name) for c in mine]
        )

    async def title_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        answers = step_answers(step, CaseAnswers)
        index = picked_if_asked(step)
        if index is not None:
            chosen = answers.candidates[index]
            answers.community_id, answers.community_name = chosen.community_id, chosen.name
        await step.context.send_activity(
            self._t(step)("cases.submit.intro", community=answers.community_name)
        )
        return await self._screened(step, "title")

    async def context_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        self._keep(step, "title")
        return await self._screened(step, "context")

    async def complexity_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        self._keep(step, "context")
        return await self._screened(step, "complexity")

    async def question_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        self._keep(step, "complexity")
        return await self._screened(step, "question")

    async def tried_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        self._keep(step, "question")
        return await self._screened(step, "tried")

    async def name_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        self._keep(step, "tried")
        t = self._t(step)
        return await self._choose(
            step,
            t("cases.submit.ask_name_shown"),
            [
                choice(t("cases.submit.name_yes"), *YES_WORDS),
                choice(t("cases.submit.name_no"), *NO_WORDS),
            ],
        )

    async def summary_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        answers = step_answers(step, CaseAnswers)
        answers.name_shown = picked(step) == 0
        summary = t(
            "cases.submit.summary",
            community=answers.community_name,
            title=answers.title,
            context=answers.context,
            complexity=answers.complexity,
            question=answers.question,
            tried=answers.tried or t("cases.submit.none"),
            name_shown=t("cases.submit.name_yes")
            if answers.name_shown
            else t("cases.submit.name_no"),
        )
        if answers.screening:
            summary += "\n\n" + t("cases.submit.confirmed_note")
        return await self._choose(
            step,
            summary,
            [
                choice(t("cases.submit.send"), "oui", "yes", "ok", "soumettre", "submit", "send"),
                choice(t("cases.submit.cancel"), "non", "no"),
            ],
        )

    async def save_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        if picked(step) != 0:
            await step.context.send_activity(self._t(step)("dialog.cancelled"))
            return await end(step)
        saved = await save_case(
            self._sessions,
            step.context,
            step_answers(step, CaseAnswers),
            wake=self._wake,
            now=self._clock(),
        )
        return await end(step, saved)


async def save_case(
    sessions: SessionFactory,
    turn_context: TurnContext,
    answers: CaseAnswers,
    *,
    wake: Callable[[], None],
    now: datetime,
) -> SubmittedCase | None:
    """Save the case (storage checks every rule and screens every text again), tell the
    community's facilitators through the outbox, thank the person."""
    info = turn_info(turn_context)
    t = translator(info.locale)
    if info.person_id is None:
        await turn_context.send_activity(t("cases.submit.not_member"))
        return None
    draft = cases.Draft(
        title=answers.title,
        context=answers.context,
        complexity=answers.complexity,
        question=answers.question,
        tried=answers.tried,
        name_shown=answers.name_shown,
        screening={k: list(v) for k, v in answers.screening.items()},
    )
    queued = 0
    try:
        async with transaction(sessions) as session:
            case, created = await cases.submit(
                session,
                community_id=answers.community_id,
                presenter_id=info.person_id,
                draft=draft,
                request_key=answers.request_key or uuid.uuid4().hex,
                now=now,
            )
            if created:
                queued = await cases.tell_facilitators(session, case)
    except HasIdentifiers as spotted:
        await turn_context.send_activity(
            t(
                "cases.submit.refused_identifiers",
                kinds=kinds_text(spotted.kinds, locale=info.locale),
            )
        )
        return None
    except NotAllowed:
        # Left the community while answering.
        await turn_context.send_activity(t("cases.submit.not_member_here"))
        return None
    except ValueError:
        await turn_context.send_activity(t("cases.submit.invalid"))
        return None
    if queued:
        wake()
    await turn_context.send_activity(
        t("cases.submit.saved", title=case.title, community=answers.community_name)
    )
    assert case.id is not None
    return SubmittedCase(case_id=case.id, community_id=answers.community_id)
