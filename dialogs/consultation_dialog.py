"""Asking for a professional consultation: which community, the motive, a summary of the
situation without anything that identifies a client, the urgency, the preferred form, the
person's availability, then a summary and a confirmation. See consultation_dialog.mmd.

Personal chat only: the bot layer moves a request started in a channel to the 1:1 chat.
A summary that seems to hold a client identifier (e-mail, phone, health-insurance or file
number, date of birth, address) is refused with the kinds spotted — never the identifiers
themselves — and asked again. A summary whose only identifiers are names (a colleague's, an
organisation's, which the rules may take for a client's) is not refused: the person reads the
words taken for a name, here in their own 1:1 chat only, and rewrites the summary or confirms
it identifies no one (storage.identifiers.CONFIRMABLE; storage checks again). Nothing of the
words is logged or recorded. `annuler` / `cancel` at any step ends it with nothing saved."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

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

from cards.consultations import (
    identifier_kinds_text,
    modality_label,
    motive_label,
    urgency_label,
)
from cards.i18n import translator
from dialogs.base import (
    CancellableDialog,
    Candidate,
    begin,
    choice,
    end,
    picked,
    picked_if_asked,
    step_answers,
    typed_text,
)
from dialogs.context import turn_info
from storage import communities, consultations
from storage.communities import NotAllowed
from storage.consultations import (
    MAX_AVAILABILITY_LENGTH,
    MAX_SUMMARY_LENGTH,
    MIN_AVAILABILITY_LENGTH,
    MIN_SUMMARY_LENGTH,
    MODALITIES,
    MOTIVES,
    URGENCIES,
    Draft,
    NoCoordinator,
)
from storage.db import SessionFactory, transaction
from storage.identifiers import (
    CONFIRMABLE,
    HasIdentifiers,
    confirmable,
    likely_identifiers,
    name_spans,
)
from storage.models import Community, utcnow

logger = logging.getLogger(__name__)

# What people type for each answer, with and without accents (the choice recognizer compares
# words as typed); MOTIVE_WORDS is also read by the `consultant …` command, where members list
# the motives they can help with.
MOTIVE_WORDS: dict[str, tuple[str, ...]] = {
    "ethical_dilemma": (
        "dilemme éthique",
        "dilemme ethique",
        "dilemme",
        "éthique",
        "ethique",
        "ethical dilemma",
        "ethical",
        "ethics",
        "dilemma",
    ),
    "intervention": (
        "préparer une intervention",
        "preparer une intervention",
        "préparation d’une intervention",
        "intervention",
        "préparation",
        "preparation",
        "preparing an intervention",
        "prepare an intervention",
    ),
    "complex_situation": (
        "situation complexe",
        "situation clinique complexe",
        "cas complexe",
        "complexe",
        "complex situation",
        "complex case",
        "complex",
    ),
    "orientation": (
        "valider une orientation",
        "légitimer une orientation",
        "legitimer une orientation",
        "orientation",
        "validating an orientation",
        "validate an orientation",
    ),
    "other": ("autre", "autre motif", "other", "another motive", "something else"),
}
URGENCY_WORDS: dict[str, tuple[str, ...]] = {
    "this_week": ("cette semaine", "semaine", "urgent", "this week", "week"),
    "this_month": ("ce mois-ci", "ce mois ci", "mois", "this month", "month"),
    "no_rush": (
        "pas pressé",
        "pas presse",
        "pas pressant",
        "aucune urgence",
        "no rush",
        "not urgent",
    ),
}
MODALITY_WORDS: dict[str, tuple[str, ...]] = {
    "one_to_one": (
        "individuelle",
        "individuel",
        "seul à seul",
        "seul a seul",
        "one-to-one",
        "one to one",
        "individual",
    ),
    "case_discussion": (
        "discussion de cas",
        "en communauté",
        "en communaute",
        "case discussion",
        "community",
    ),
    "codevelopment": (
        "codéveloppement",
        "codeveloppement",
        "co-développement",
        "co-developpement",
        "codevelopment",
        "co-development",
    ),
}


class _Label(Protocol):
    def __call__(self, code: str, *, locale: str) -> str: ...


@dataclass
class ConsultationOptions:
    community_id: int | None = None


@dataclass(frozen=True, slots=True)
class SubmittedConsultation:
    """The dialog's result when the request was sent."""

    request_id: int
    reference: str


@dataclass
class ConsultationAnswers:
    """What the person answered so far (kept in dialog state between turns)."""

    community_id: int = 0
    community_name: str = ""
    motive: str = ""
    summary: str = ""
    urgency: str = ""
    modality: str = ""
    availability: str = ""
    # The kinds spotted in the summary that the person confirmed identify no one (names only).
    confirmed: list[str] = field(default_factory=list)
    # The communities offered as buttons, to read the answer back.
    candidates: list[Candidate] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ScreenedSummary:
    """The summary as accepted: `confirmed` holds the kinds spotted in it that the person
    confirmed identify no one (empty when nothing was spotted)."""

    text: str
    confirmed: list[str] = field(default_factory=list)


def summary_problem(text: str, *, locale: str) -> str | None:
    """Why a summary cannot be accepted (a message for the person), or None. A summary whose
    only identifiers may be confirmed (names) passes: the person is asked about it next."""
    t = translator(locale)
    value = text.strip()
    if not MIN_SUMMARY_LENGTH <= len(value) <= MAX_SUMMARY_LENGTH:
        return t(
            "consultation.request.retry_summary",
            min=MIN_SUMMARY_LENGTH,
            max=MAX_SUMMARY_LENGTH,
        )
    found = likely_identifiers(value)
    if found and not confirmable(found):
        return t(
            "consultation.request.identifiers_found",
            kinds=identifier_kinds_text(found, locale=locale),
        )
    return None


def names_message(text: str, *, locale: str) -> str:
    """The words of `text` taken for a name, for its author in their own 1:1 chat (never for a
    log, never for anyone else), and the choice they have."""
    t = translator(locale)
    found = likely_identifiers(text)
    words = ", ".join(
        t("consultation.request.name_word", word=text[start:end]) for start, end in name_spans(text)
    )
    return t(
        "consultation.request.names_found",
        kinds=identifier_kinds_text(found, locale=locale),
        words=words,
    )


class SummaryDialog(CancellableDialog):
    """Ask the summary and screen it: refused (asked again) when it holds an identifier that
    cannot be confirmed; when it holds only names, the person rewrites it (asked again) or
    confirms it identifies no one. Ends with a ScreenedSummary."""

    ID = "consultation_dialog.summary_text"
    WATERFALL_ID = "consultation_dialog.summary_text.steps"
    CHOICE_ID = "consultation_dialog.summary_text.choice"
    TEXT_ID = "consultation_dialog.summary_text.prompt"
    RETRY_CHOICE = "consultation.request.retry_choice"

    def __init__(self) -> None:
        super().__init__(self.ID)
        self.add_dialog(ChoicePrompt(self.CHOICE_ID))
        self.add_dialog(TextPrompt(self.TEXT_ID, self._valid_summary))
        self.add_dialog(
            WaterfallDialog(self.WATERFALL_ID, [self.ask_step, self.check_step, self.decide_step])
        )
        self._start_with(self.WATERFALL_ID)

    async def ask_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        return await self._ask(
            step,
            self.TEXT_ID,
            t("consultation.request.ask_summary"),
            t("consultation.request.retry_summary", min=MIN_SUMMARY_LENGTH, max=MAX_SUMMARY_LENGTH),
        )

    async def check_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        text = str(step.result).strip()
        if not likely_identifiers(text):
            return await end(step, ScreenedSummary(text))
        # Only confirmable kinds are left (the validator refused the others). The text stays
        # in this dialog's state until the person chooses, as the answers do.
        step.values["summary"] = text
        t = self._t(step)
        return await self._choose(
            step,
            names_message(text, locale=turn_info(step.context).locale),
            [
                choice(t("consultation.request.rewrite"), "corriger", "fix", "modifier", "rewrite"),
                choice(
                    t("consultation.request.no_one"),
                    "confirmer",
                    "confirm",
                    "personne",
                    "no one",
                    "n'identifie personne",
                ),
            ],
        )

    async def decide_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        text = step.values.get("summary")
        assert isinstance(text, str)
        if picked(step) == 0:
            # Asked again from the start; what was typed is forgotten with this instance.
            replaced: DialogTurnResult = await step.replace_dialog(self.ID)
            return replaced
        kinds = [kind.value for kind in likely_identifiers(text) if kind in CONFIRMABLE]
        return await end(step, ScreenedSummary(text, kinds))

    @staticmethod
    async def _valid_summary(prompt: PromptValidatorContext) -> bool:
        if not prompt.recognized.succeeded:
            return False
        problem = summary_problem(typed_text(prompt), locale=turn_info(prompt.context).locale)
        if problem is None:
            return True
        # Our own retry message (which kinds were spotted); the prompt then sends no other.
        await prompt.context.send_activity(problem)
        return False


# Before names could be confirmed, the summary was this prompt of the consultation dialog
# itself. A conversation waiting on it when the bot is updated still answers it, screened as
# then (any identifier refused, names included), rather than failing on an id the dialog set
# no longer knows.
LEGACY_SUMMARY_ID = "consultation_dialog.summary"


async def _valid_legacy_summary(prompt: PromptValidatorContext) -> bool:
    if not prompt.recognized.succeeded:
        return False
    locale = turn_info(prompt.context).locale
    text = typed_text(prompt)
    problem = summary_problem(text, locale=locale)
    found = likely_identifiers(text)
    if problem is None and found:
        problem = translator(locale)(
            "consultation.request.identifiers_found",
            kinds=identifier_kinds_text(found, locale=locale),
        )
    if problem is None:
        return True
    await prompt.context.send_activity(problem)
    return False


class ConsultationDialog(CancellableDialog):
    ID = "consultation_dialog"
    WATERFALL_ID = "consultation_dialog.steps"
    CHOICE_ID = "consultation_dialog.choice"
    AVAILABILITY_ID = "consultation_dialog.availability"
    RETRY_CHOICE = "consultation.request.retry_choice"

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
        self.add_dialog(SummaryDialog())
        self.add_dialog(TextPrompt(LEGACY_SUMMARY_ID, _valid_legacy_summary))
        self.add_dialog(TextPrompt(self.AVAILABILITY_ID, self._valid_availability))
        self.add_dialog(
            WaterfallDialog(
                self.WATERFALL_ID,
                [
                    self.community_step,
                    self.motive_step,
                    self.summary_step,
                    self.urgency_step,
                    self.modality_step,
                    self.availability_step,
                    self.confirm_step,
                    self.save_step,
                ],
            )
        )
        self._start_with(self.WATERFALL_ID)

    # -- helpers -------------------------------------------------------------------------------

    async def _choose_code(
        self,
        step: WaterfallStepContext,
        question: str,
        codes: Sequence[str],
        label: _Label,
        words: Mapping[str, tuple[str, ...]],
    ) -> DialogTurnResult:
        """One of `codes` (motive, urgency, modality): buttons with their labels in the person's
        language, typed answers recognised by their `words` too."""
        locale = turn_info(step.context).locale
        return await self._choose(
            step, question, [choice(label(code, locale=locale), *words[code]) for code in codes]
        )

    async def _eligible(self, person_id: int, only: int | None) -> tuple[list[Community], str]:
        """The communities this person may ask in, or the message saying why none."""
        async with self._sessions() as session:
            mine = [c for _m, c in await communities.memberships_of(session, person_id=person_id)]
            if only is not None:
                mine = [c for c in mine if c.id == only]
                if not mine:
                    return [], "consultation.request.not_member_here"
            if not mine:
                return [], "consultation.request.not_member"
            eligible: list[Community] = []
            for community in mine:
                try:
                    await consultations.can_request(
                        session, person_id=person_id, community_id=community.id or 0
                    )
                except (NotAllowed, NoCoordinator):
                    continue
                eligible.append(community)
        return eligible, "consultation.request.no_coordinator"

    # -- steps ---------------------------------------------------------------------------------

    async def community_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        info = turn_info(step.context)
        if info.in_channel:
            # Never in front of colleagues: the bot layer moves the request to the 1:1 chat.
            await step.context.send_activity(t("consultation.private_only"))
            return await end(step)
        options = (
            step.options if isinstance(step.options, ConsultationOptions) else ConsultationOptions()
        )
        if info.person_id is None:
            await step.context.send_activity(t("consultation.request.not_member"))
            return await end(step)
        eligible, why_not = await self._eligible(info.person_id, options.community_id)
        if not eligible:
            await step.context.send_activity(t(why_not))
            return await end(step)
        answers = step_answers(step, ConsultationAnswers)
        if len(eligible) == 1:
            answers.community_id, answers.community_name = eligible[0].id or 0, eligible[0].name
            return await step.next(None)
        answers.candidates = [Candidate(c.id or 0, c.name) for c in eligible]
        return await self._choose(
            step, t("consultation.request.ask_community"), [choice(c.name) for c in eligible]
        )

    async def motive_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        answers = step_answers(step, ConsultationAnswers)
        index = picked_if_asked(step)
        if index is not None:
            chosen = answers.candidates[index]
            answers.community_id, answers.community_name = chosen.community_id, chosen.name
        return await self._choose_code(
            step,
            t("consultation.request.ask_motive", community=answers.community_name),
            MOTIVES,
            motive_label,
            MOTIVE_WORDS,
        )

    async def summary_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        step_answers(step, ConsultationAnswers).motive = MOTIVES[picked(step)]
        return await begin(step, SummaryDialog.ID)

    async def urgency_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        screened = step.result
        if isinstance(screened, str):  # answered to the prompt of before (LEGACY_SUMMARY_ID)
            screened = ScreenedSummary(screened.strip())
        assert isinstance(screened, ScreenedSummary)
        answers = step_answers(step, ConsultationAnswers)
        answers.summary, answers.confirmed = screened.text, list(screened.confirmed)
        return await self._choose_code(
            step, t("consultation.request.ask_urgency"), URGENCIES, urgency_label, URGENCY_WORDS
        )

    async def modality_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        step_answers(step, ConsultationAnswers).urgency = URGENCIES[picked(step)]
        return await self._choose_code(
            step, t("consultation.request.ask_modality"), MODALITIES, modality_label, MODALITY_WORDS
        )

    async def availability_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        step_answers(step, ConsultationAnswers).modality = MODALITIES[picked(step)]
        return await self._ask(
            step,
            self.AVAILABILITY_ID,
            t("consultation.request.ask_availability"),
            t("consultation.request.retry_availability", max=MAX_AVAILABILITY_LENGTH),
        )

    async def confirm_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        answers = step_answers(step, ConsultationAnswers)
        answers.availability = str(step.result).strip()
        locale = turn_info(step.context).locale
        recap = t(
            "consultation.request.recap",
            community=answers.community_name,
            motive=motive_label(answers.motive, locale=locale),
            summary=answers.summary,
            urgency=urgency_label(answers.urgency, locale=locale),
            modality=modality_label(answers.modality, locale=locale),
            availability=answers.availability,
        )
        return await self._choose(
            step,
            recap,
            [
                choice(t("consultation.request.send"), "oui", "yes", "ok", "envoyer", "send"),
                choice(t("consultation.request.cancel"), "non", "no"),
            ],
        )

    async def save_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        if picked(step) != 0:
            await step.context.send_activity(self._t(step)("dialog.cancelled"))
            return await end(step)
        sent = await submit_request(
            self._sessions,
            step.context,
            step_answers(step, ConsultationAnswers),
            wake=self._wake,
            now=self._clock(),
        )
        return await end(step, sent)

    # -- validators ------------------------------------------------------------------------------

    @staticmethod
    async def _valid_availability(prompt: PromptValidatorContext) -> bool:
        return bool(
            prompt.recognized.succeeded
            and MIN_AVAILABILITY_LENGTH <= len(typed_text(prompt)) <= MAX_AVAILABILITY_LENGTH
        )


async def submit_request(
    sessions: SessionFactory,
    turn_context: TurnContext,
    answers: ConsultationAnswers,
    *,
    wake: Callable[[], None],
    now: datetime,
) -> SubmittedConsultation | None:
    """Save the request (storage checks every rule again) and tell the person its reference
    and what happens next; the coordinators' cards go through the outbox."""
    info = turn_info(turn_context)
    t = translator(info.locale)
    if info.person_id is None:
        await turn_context.send_activity(t("consultation.request.not_member"))
        return None
    draft = Draft(
        motive=answers.motive,
        summary=answers.summary,
        urgency=answers.urgency,
        modality=answers.modality,
        availability=answers.availability,
        confirmed=tuple(answers.confirmed),
    )
    try:
        async with transaction(sessions) as session:
            outcome = await consultations.submit(
                session,
                community_id=answers.community_id,
                requester_id=info.person_id,
                draft=draft,
                now=now,
                timezone=info.timezone,
            )
            request = outcome.request
    except HasIdentifiers as spotted:
        await turn_context.send_activity(
            t(
                "consultation.request.identifiers_found",
                kinds=identifier_kinds_text(spotted.kinds, locale=info.locale),
            )
        )
        return None
    except NoCoordinator:
        await turn_context.send_activity(t("consultation.request.no_coordinator"))
        return None
    except NotAllowed:
        # Left the community while answering.
        await turn_context.send_activity(t("consultation.request.not_member_here"))
        return None
    except ValueError:
        await turn_context.send_activity(t("consultation.request.invalid"))
        return None
    if outcome.queued:
        wake()
    await turn_context.send_activity(
        t(
            "consultation.request.sent",
            reference=request.reference,
            community=answers.community_name,
        )
    )
    assert request.id is not None
    return SubmittedConsultation(request_id=request.id, reference=request.reference)
