"""Answering a survey in plain text (`répondre au sondage` / `answer the survey`), for those
who prefer it to the card: which survey, then each question (after a meeting, one « cet
objectif a été atteint » per objective of the meeting, with its words; the yearly learning
questionnaire's four ratings and its open question), a summary and a confirmation.
See survey_dialog.mmd.

The answer is saved exactly as the card's is (`save_answer`): anonymous, one per person,
replaceable until the survey closes. Open questions are skipped with a word (« passer »,
"skip"); a wrong answer is asked again with a hint; `annuler` / `cancel` ends it with nothing
saved. Nothing here logs the person or their answers.

Facilitators read the open answers, so each is screened for client identifiers
(storage.identifiers, as consultation summaries are: CommentDialog): a phone, e-mail, file
number… is refused with the kinds spotted — never the identifier — and asked again; a text
whose only identifiers are names is rewritten or confirmed to identify no one (storage checks
again). Which answer was flagged is never logged: the answers are anonymous.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from microsoft_agents.hosting.core import MessageFactory, TurnContext
from microsoft_agents.hosting.dialogs import (
    DialogTurnResult,
    WaterfallDialog,
    WaterfallStepContext,
)
from microsoft_agents.hosting.dialogs.choices import ListStyle
from microsoft_agents.hosting.dialogs.prompts import (
    ChoicePrompt,
    PromptOptions,
    PromptValidatorContext,
    TextPrompt,
)

from cards.consultations import identifier_kinds_text
from cards.i18n import format_when, translator
from cards.surveys import (
    QUESTION_KEYS,
    SCALE_KEYS,
    SHORT_KEYS,
    question_text,
    short_text,
    survey_label,
)
from dialogs.base import (
    CancellableDialog,
    begin,
    choice,
    end,
    picked,
    picked_if_asked,
    step_answers,
    typed_text,
)
from dialogs.context import TurnInfo, turn_info
from dialogs.join_dialog import parse_interests
from dialogs.propose_topic_dialog import is_skip
from storage import surveys
from storage.db import SessionFactory, transaction
from storage.identifiers import (
    CONFIRMABLE,
    HasIdentifiers,
    confirmable,
    likely_identifiers,
    name_spans,
)
from storage.models import Survey, SurveyKind, utcnow
from storage.surveys import (
    LEARNING_TEXTS,
    MAX_OBJECTIVES,
    MAX_TEXT_LENGTH,
    NEEDS_TEXT,
    SATISFACTION_RATINGS,
    SATISFACTION_TEXTS,
    Answer,
    InvalidAnswer,
    NotInvited,
    SurveyClosed,
    UnknownSurvey,
)

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Step = Callable[[WaterfallStepContext], Awaitable[DialogTurnResult]]

# The rated waterfall has a step per possible question; a survey with fewer skips the rest.
MAX_RATING_STEPS = len(SATISFACTION_RATINGS) + MAX_OBJECTIVES
MAX_TEXT_STEPS = max(len(SATISFACTION_TEXTS), len(LEARNING_TEXTS))
# In the waterfall's values: the question just asked, recorded at the next step.
PENDING = "pending"
TEXT_MARK = "text:"

# Typed numbers in words, compared after `simplify`.
NUMBER_WORDS = (
    ("un", "une", "one"),
    ("deux", "two"),
    ("trois", "three"),
    ("quatre", "four"),
    ("cinq", "five"),
)


@dataclass
class SurveyOptions:
    """Start on this survey (e.g. from a button); None lists the person's open surveys."""

    survey_id: int | None = None


@dataclass
class ChosenSurvey:
    """The survey being answered (kept in dialog state between turns)."""

    survey_id: int = 0
    kind: str = SurveyKind.SATISFACTION.value
    label: str = ""
    community: str = ""
    topic_choices: list[str] = field(default_factory=list)
    answered: bool = False
    # The 1–5 questions and the open ones, in order (storage.surveys.rating_questions), and
    # how each is asked and named in the summary, in the person's language: an objective item
    # shows the objective's own words.
    ratings: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    asked: dict[str, str] = field(default_factory=dict)
    short: dict[str, str] = field(default_factory=dict)


@dataclass
class SurveyCandidates:
    """The surveys the person was offered (kept in dialog state until they pick one)."""

    surveys: list[ChosenSurvey] = field(default_factory=list)


@dataclass
class SurveyAnswers:
    ratings: dict[str, int] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    choices: list[str] = field(default_factory=list)
    # The kinds spotted in the texts that the person confirmed identify no one (names only).
    confirmed: list[str] = field(default_factory=list)


@dataclass
class CommentOptions:
    """The open question CommentDialog asks (a key of QUESTION_KEYS)."""

    question: str = ""


@dataclass(frozen=True, slots=True)
class ScreenedComment:
    """An open answer as accepted ("" when skipped): `confirmed` holds the kinds spotted in it
    that the person confirmed identify no one (empty when nothing was spotted)."""

    text: str
    confirmed: list[str] = field(default_factory=list)


def comment_problem(text: str, *, locale: str) -> str | None:
    """Why an open answer cannot be accepted (a message for the person), or None. An answer
    whose only identifiers may be confirmed (names) passes: the person is asked about it next."""
    t = translator(locale)
    if len(text.strip()) > MAX_TEXT_LENGTH:
        return t("surveys.dialog.retry_text", max=MAX_TEXT_LENGTH)
    found = likely_identifiers(text)
    if found and not confirmable(found):
        return t("surveys.comment.identifiers", kinds=identifier_kinds_text(found, locale=locale))
    return None


def comment_names_message(text: str, *, locale: str) -> str:
    """The words of `text` taken for a name, for its author in their own 1:1 chat (never for a
    log, never for anyone else), and the choice they have."""
    t = translator(locale)
    words = ", ".join(
        t("consultation.request.name_word", word=text[start:end]) for start, end in name_spans(text)
    )
    return t(
        "surveys.comment.names_found",
        kinds=identifier_kinds_text(likely_identifiers(text), locale=locale),
        words=words,
    )


class CommentDialog(CancellableDialog):
    """Ask one open question and screen the answer: refused (asked again) when it holds an
    identifier that cannot be confirmed; when it holds only names, the person rewrites it
    (asked again) or confirms it identifies no one. Ends with a ScreenedComment."""

    ID = "survey_dialog.comment"
    WATERFALL_ID = "survey_dialog.comment.steps"
    CHOICE_ID = "survey_dialog.comment.choice"
    TEXT_ID = "survey_dialog.comment.prompt"
    RETRY_CHOICE = "surveys.dialog.retry_choice"

    def __init__(self) -> None:
        super().__init__(self.ID)
        self.add_dialog(ChoicePrompt(self.CHOICE_ID))
        self.add_dialog(TextPrompt(self.TEXT_ID, self._valid_comment))
        self.add_dialog(
            WaterfallDialog(self.WATERFALL_ID, [self.ask_step, self.check_step, self.decide_step])
        )
        self._start_with(self.WATERFALL_ID)

    async def ask_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        options = step.options
        assert isinstance(options, CommentOptions)
        return await self._ask(
            step,
            self.TEXT_ID,
            f"{t(QUESTION_KEYS[options.question])}\n\n{t('surveys.dialog.skip_hint')}",
            t("surveys.dialog.retry_text", max=MAX_TEXT_LENGTH),
        )

    async def check_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        text = str(step.result or "").strip()
        if is_skip(text) or not likely_identifiers(text):
            return await end(step, ScreenedComment("" if is_skip(text) else text))
        # Only names are left (the validator refused the other kinds). The text stays in this
        # dialog's state until the person chooses, as the other answers do.
        step.values["comment"] = text
        t = self._t(step)
        return await self._choose(
            step,
            comment_names_message(text, locale=turn_info(step.context).locale),
            [
                choice(t("surveys.comment.rewrite"), "corriger", "fix", "modifier", "rewrite"),
                choice(
                    t("surveys.comment.no_one"),
                    "confirmer",
                    "confirm",
                    "personne",
                    "no one",
                    "n'identifie personne",
                ),
            ],
        )

    async def decide_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        text = step.values.get("comment")
        assert isinstance(text, str)
        if picked(step) == 0:
            # Asked again from the start; what was typed is forgotten with this run.
            replaced: DialogTurnResult = await step.replace_dialog(self.WATERFALL_ID, step.options)
            return replaced
        kinds = [kind.value for kind in likely_identifiers(text) if kind in CONFIRMABLE]
        return await end(step, ScreenedComment(text, kinds))

    @staticmethod
    async def _valid_comment(prompt: PromptValidatorContext) -> bool:
        if not prompt.recognized.succeeded:
            return False
        problem = comment_problem(typed_text(prompt), locale=turn_info(prompt.context).locale)
        if problem is None:
            return True
        # Our own retry message (which kinds were spotted); the prompt then sends no other.
        await prompt.context.send_activity(problem)
        return False


def parse_choices(text: str, options: list[str]) -> list[str] | None:
    """'1, 3' or titles → chosen topics; « passer » → none; None when not understood."""
    if is_skip(text):
        return []
    return parse_interests(text, options)


async def save_answer(
    sessions: SessionFactory,
    turn_context: TurnContext,
    *,
    info: TurnInfo,
    survey_id: int,
    answer: Answer,
    master: bytes,
    now: datetime,
) -> bool:
    """Save the person's anonymous answer and thank them (or say why not). True when saved.
    Shared by the dialog and the card's button."""
    t = translator(info.locale)
    if info.person_id is None:
        await turn_context.send_activity(t("surveys.answer.not_invited"))
        return False
    try:
        async with transaction(sessions) as session:
            replaced = await surveys.record_response(
                session,
                survey_id=survey_id,
                person_id=info.person_id,
                key=surveys.respondent_secret(master),
                answer=answer,
                now=now,
            )
            survey = await surveys.get_survey(session, survey_id=survey_id)
    except SurveyClosed:
        await turn_context.send_activity(t("surveys.answer.closed"))
        return False
    except (NotInvited, UnknownSurvey):
        await turn_context.send_activity(t("surveys.answer.not_invited"))
        return False
    except InvalidAnswer as error:
        await turn_context.send_activity(t(f"surveys.answer.invalid.{error.reason}"))
        return False
    except HasIdentifiers as spotted:
        # Nothing saved; the card keeps what was typed, to send again. Neither the text nor
        # the person is logged: the answers are anonymous.
        await turn_context.send_activity(
            t(
                "surveys.answer.names"
                if confirmable(spotted.kinds)
                else "surveys.answer.identifiers",
                kinds=identifier_kinds_text(spotted.kinds, locale=info.locale),
            )
        )
        return False
    assert survey is not None
    day = format_when(survey.closes_at, locale=info.locale, tz=info.timezone)
    await turn_context.send_activity(
        t("surveys.answer.updated" if replaced else "surveys.answer.thanks", day=day)
    )
    return True


class SurveyDialog(CancellableDialog):
    ID = "survey_dialog"
    WATERFALL_ID = "survey_dialog.steps"
    # Kept for conversations waiting in it when the bot was updated; RATED_ID replaces it.
    SATISFACTION_ID = "survey_dialog.satisfaction"
    # A satisfaction survey (with its objective items) or a learning questionnaire.
    RATED_ID = "survey_dialog.rated"
    NEEDS_ID = "survey_dialog.needs"
    CHOICE_ID = "survey_dialog.choice"
    TEXT_ID = "survey_dialog.text"
    TOPICS_ID = "survey_dialog.topics"
    RETRY_CHOICE = "surveys.dialog.retry_choice"

    def __init__(
        self, sessions: SessionFactory, master_key: Callable[[], bytes], clock: Clock = utcnow
    ) -> None:
        """`master_key`: reads the bot's key when an answer is saved (bot/settings.py)."""
        super().__init__(self.ID)
        self._sessions = sessions
        self._master_key = master_key
        self._clock = clock
        self.add_dialog(ChoicePrompt(self.CHOICE_ID))
        # Kept for conversations waiting on it when the bot was updated (see _valid_text).
        self.add_dialog(TextPrompt(self.TEXT_ID, self._valid_text))
        self.add_dialog(CommentDialog())
        self.add_dialog(TextPrompt(self.TOPICS_ID, self._valid_topics))
        self.add_dialog(
            WaterfallDialog(self.WATERFALL_ID, [self.pick_step, self.begin_step, self.end_step])
        )
        rating_steps = [self._rating_step(index) for index in range(len(SATISFACTION_RATINGS))]
        self.add_dialog(
            WaterfallDialog(
                self.SATISFACTION_ID,
                [
                    *rating_steps,
                    self.takeaway_step,
                    self.next_time_step,
                    self.summary_step,
                    self.save_step,
                ],
            )
        )
        self.add_dialog(
            WaterfallDialog(
                self.RATED_ID,
                [
                    *(self._rated_step(index) for index in range(MAX_RATING_STEPS)),
                    *(self._open_step(index) for index in range(MAX_TEXT_STEPS)),
                    self.rated_summary_step,
                    self.save_step,
                ],
            )
        )
        self.add_dialog(
            WaterfallDialog(
                self.NEEDS_ID,
                [self.topics_step, self.needs_step, self.summary_step, self.save_step],
            )
        )
        self._start_with(self.WATERFALL_ID)

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _chosen(step: WaterfallStepContext) -> ChosenSurvey:
        chosen = step.options
        assert isinstance(chosen, ChosenSurvey)
        return chosen

    async def _ask_text(self, step: WaterfallStepContext, question: str) -> DialogTurnResult:
        return await begin(step, CommentDialog.ID, CommentOptions(question))

    @staticmethod
    def _text(step: WaterfallStepContext) -> str:
        """The open answer just given ("" when skipped); the names it holds that the person
        confirmed identify no one are noted with the answers."""
        result = step.result
        if isinstance(result, ScreenedComment):
            confirmed = step_answers(step, SurveyAnswers).confirmed
            confirmed.extend(kind for kind in result.confirmed if kind not in confirmed)
            return result.text
        # From the plain prompt of before CommentDialog (a conversation of before an update).
        text = str(result or "").strip()
        return "" if is_skip(text) else text

    # -- the survey ------------------------------------------------------------------------------

    async def pick_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        info = turn_info(step.context)
        if info.in_channel:
            # Typed answers in a channel would be read by everyone.
            await step.context.send_activity(t("surveys.dialog.private_only"))
            return await end(step)
        options = step.options if isinstance(step.options, SurveyOptions) else SurveyOptions()
        invitations: list[surveys.Invitation] = []
        if info.person_id is not None:
            async with self._sessions() as session:
                invitations = await surveys.open_invitations(
                    session, person_id=info.person_id, now=self._clock()
                )
        if options.survey_id is not None:
            invitations = [i for i in invitations if i.survey.id == options.survey_id]
        if not invitations:
            await step.context.send_activity(t("surveys.dialog.none"))
            return await end(step)
        candidates = step_answers(step, SurveyCandidates).surveys
        candidates[:] = [self._chosen_from(i, step) for i in invitations]
        if len(invitations) == 1:
            return await step.next(None)
        choices = [
            choice(
                t("surveys.dialog.answered_item", survey=c.label, community=c.community)
                if c.answered
                else t("surveys.dialog.item", survey=c.label, community=c.community)
            )
            for c in candidates
        ]
        return await self._choose(step, t("surveys.dialog.ask_survey"), choices)

    def _chosen_from(
        self, invitation: surveys.Invitation, step: WaterfallStepContext
    ) -> ChosenSurvey:
        info = turn_info(step.context)
        survey: Survey = invitation.survey
        t = translator(info.locale)
        ratings = list(surveys.rating_questions(survey))
        texts = list(surveys.text_questions(survey))
        return ChosenSurvey(
            survey_id=survey.id or 0,
            kind=SurveyKind(survey.kind).value,
            label=survey_label(
                survey, meeting=invitation.meeting, locale=info.locale, tz=info.timezone
            ),
            community=invitation.community.name,
            topic_choices=list(survey.topic_choices),
            answered=invitation.answered,
            ratings=ratings,
            texts=texts,
            asked={q: question_text(survey, q, t) for q in ratings + texts},
            short={q: short_text(survey, q, t) for q in ratings},
        )

    async def begin_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        candidates = step_answers(step, SurveyCandidates).surveys
        chosen = candidates[picked_if_asked(step) or 0]
        if chosen.kind == SurveyKind.SATISFACTION:
            intro = t(
                "surveys.dialog.intro.satisfaction", survey=chosen.label, community=chosen.community
            )
        elif chosen.kind == SurveyKind.LEARNING:
            intro = t("surveys.dialog.intro.learning", community=chosen.community)
        else:
            intro = t("surveys.dialog.intro.needs", community=chosen.community)
        await step.context.send_activity(intro)
        if chosen.answered:
            await step.context.send_activity(t("surveys.dialog.already_answered"))
        waterfall = self.NEEDS_ID if chosen.kind == SurveyKind.NEEDS else self.RATED_ID
        return await begin(step, waterfall, chosen)

    async def end_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        return await end(step, step.result)

    # -- satisfaction ----------------------------------------------------------------------------

    def _rating_step(self, index: int) -> Step:
        async def step_function(step: WaterfallStepContext) -> DialogTurnResult:
            if index > 0:
                step_answers(step, SurveyAnswers).ratings[SATISFACTION_RATINGS[index - 1]] = (
                    picked(step) + 1
                )
            return await self._ask_rating(step, SATISFACTION_RATINGS[index])

        return step_function

    async def _ask_rating(self, step: WaterfallStepContext, question: str) -> DialogTurnResult:
        return await self._ask_rating_text(step, self._t(step)(QUESTION_KEYS[question]))

    async def _ask_rating_text(self, step: WaterfallStepContext, text: str) -> DialogTurnResult:
        t = self._t(step)
        choices = [
            choice(t(key), str(number), *NUMBER_WORDS[number - 1])
            for number, key in enumerate(SCALE_KEYS, start=1)
        ]
        return await step.prompt(
            self.CHOICE_ID,
            PromptOptions(
                prompt=MessageFactory.text(f"{text}\n\n{t('surveys.dialog.scale_hint')}"),
                retry_prompt=MessageFactory.text(t("surveys.dialog.retry_rating")),
                choices=choices,
                style=ListStyle.hero_card,
            ),
        )

    async def takeaway_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        step_answers(step, SurveyAnswers).ratings[SATISFACTION_RATINGS[-1]] = picked(step) + 1
        return await self._ask_text(step, SATISFACTION_TEXTS[0])

    async def next_time_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        step_answers(step, SurveyAnswers).texts[SATISFACTION_TEXTS[0]] = self._text(step)
        return await self._ask_text(step, SATISFACTION_TEXTS[1])

    # -- rated: satisfaction with its objective items, learning ------------------------------

    def _record(self, step: WaterfallStepContext) -> None:
        """Note the answer to the question the previous step asked (if it asked one)."""
        pending = step.values.pop(PENDING, None)
        if not isinstance(pending, str) or step.result is None:
            return
        answers = step_answers(step, SurveyAnswers)
        if pending.startswith(TEXT_MARK):
            answers.texts[pending.removeprefix(TEXT_MARK)] = self._text(step)
        else:
            answers.ratings[pending] = picked(step) + 1

    def _rated_step(self, index: int) -> Step:
        async def step_function(step: WaterfallStepContext) -> DialogTurnResult:
            self._record(step)
            chosen = self._chosen(step)
            if index >= len(chosen.ratings):
                return await step.next(None)
            question = chosen.ratings[index]
            step.values[PENDING] = question
            return await self._ask_rating_text(step, chosen.asked[question])

        return step_function

    def _open_step(self, index: int) -> Step:
        async def step_function(step: WaterfallStepContext) -> DialogTurnResult:
            self._record(step)
            chosen = self._chosen(step)
            if index >= len(chosen.texts):
                return await step.next(None)
            question = chosen.texts[index]
            step.values[PENDING] = TEXT_MARK + question
            return await self._ask_text(step, question)

        return step_function

    async def rated_summary_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        self._record(step)
        t = self._t(step)
        chosen = self._chosen(step)
        answers = step_answers(step, SurveyAnswers)
        none = t("surveys.dialog.none_given")
        lines = [
            t("surveys.dialog.summary_rating", question=chosen.short[q], rating=answers.ratings[q])
            for q in chosen.ratings
        ]
        lines += [
            t(
                "surveys.dialog.summary_text",
                question=chosen.asked[q],
                answer=answers.texts.get(q) or none,
            )
            for q in chosen.texts
        ]
        summary = t("surveys.dialog.summary", survey=chosen.label, lines="\n".join(lines))
        return await self._choose(
            step,
            summary,
            [
                choice(t("surveys.dialog.confirm"), "oui", "yes", "ok", "envoyer", "send"),
                choice(t("surveys.dialog.cancel"), "non", "no"),
            ],
        )

    # -- needs -----------------------------------------------------------------------------------

    async def topics_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        chosen = self._chosen(step)
        if not chosen.topic_choices:
            return await step.next(None)
        listing = "\n".join(f"{n}. {title}" for n, title in enumerate(chosen.topic_choices, 1))
        return await step.prompt(
            self.TOPICS_ID,
            PromptOptions(
                prompt=MessageFactory.text(f"{t('surveys.dialog.ask_topics')}\n\n{listing}"),
                retry_prompt=MessageFactory.text(
                    f"{t('surveys.dialog.retry_topics')}\n\n{listing}"
                ),
                validations=chosen.topic_choices,
            ),
        )

    async def needs_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        chosen = self._chosen(step)
        if step.result is not None:
            step_answers(step, SurveyAnswers).choices = (
                parse_choices(str(step.result), chosen.topic_choices) or []
            )
        return await self._ask_text(step, NEEDS_TEXT)

    # -- both ------------------------------------------------------------------------------------

    async def summary_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        chosen = self._chosen(step)
        answers = step_answers(step, SurveyAnswers)
        none = t("surveys.dialog.none_given")
        lines: list[str] = []
        if chosen.kind == SurveyKind.SATISFACTION:
            answers.texts[SATISFACTION_TEXTS[1]] = self._text(step)
            lines += [
                t(
                    "surveys.dialog.summary_rating",
                    question=t(SHORT_KEYS[q]),
                    rating=answers.ratings[q],
                )
                for q in SATISFACTION_RATINGS
            ]
            questions: tuple[str, ...] = SATISFACTION_TEXTS
        else:
            answers.texts[NEEDS_TEXT] = self._text(step)
            lines.append(
                t(
                    "surveys.dialog.summary_topics",
                    topics=", ".join(answers.choices) or none,
                )
            )
            questions = (NEEDS_TEXT,)
        lines += [
            t(
                "surveys.dialog.summary_text",
                question=t(QUESTION_KEYS[q]),
                answer=answers.texts.get(q) or none,
            )
            for q in questions
        ]
        summary = t("surveys.dialog.summary", survey=chosen.label, lines="\n".join(lines))
        return await self._choose(
            step,
            summary,
            [
                choice(t("surveys.dialog.confirm"), "oui", "yes", "ok", "envoyer", "send"),
                choice(t("surveys.dialog.cancel"), "non", "no"),
            ],
        )

    async def save_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        if picked(step) != 0:
            await step.context.send_activity(self._t(step)("dialog.cancelled"))
            return await end(step)
        chosen = self._chosen(step)
        answers = step_answers(step, SurveyAnswers)
        saved = await save_answer(
            self._sessions,
            step.context,
            info=turn_info(step.context),
            survey_id=chosen.survey_id,
            answer=Answer(
                ratings=dict(answers.ratings),
                texts={k: v for k, v in answers.texts.items() if v},
                choices=list(answers.choices),
                confirmed=list(answers.confirmed),
            ),
            master=self._master_key(),
            now=self._clock(),
        )
        # The answers leave the dialog state with the dialog: nothing keeps them with the person.
        step.values.pop("answers", None)
        return await end(step, chosen.survey_id if saved else None)

    # -- validators ------------------------------------------------------------------------------

    @staticmethod
    async def _valid_text(prompt: PromptValidatorContext) -> bool:
        # The prompt of before CommentDialog, for a conversation waiting on it when the bot was
        # updated: screened as strictly as can be without asking (any identifier refused,
        # names included), rather than failing on an id the dialog set no longer knows.
        if not prompt.recognized.succeeded or len(typed_text(prompt)) > MAX_TEXT_LENGTH:
            return False
        found = likely_identifiers(typed_text(prompt))
        if found:
            locale = turn_info(prompt.context).locale
            await prompt.context.send_activity(
                translator(locale)(
                    "surveys.comment.identifiers",
                    kinds=identifier_kinds_text(found, locale=locale),
                )
            )
            return False
        return True

    @staticmethod
    async def _valid_topics(prompt: PromptValidatorContext) -> bool:
        # The survey's topics listed in the question (PromptOptions.validations).
        validations = prompt.options.validations
        options = [str(o) for o in validations] if isinstance(validations, list) else []
        return parse_choices(typed_text(prompt), options) is not None
