"""Proposing a topic for the community's topic bank: which community, a title, a description,
which part of a meeting day it belongs to, who could present it, whether members see the
proposer's name, then a summary and a confirmation. See propose_topic_dialog.mmd.

Optional answers are skipped with a word (« passer », "skip"); a wrong answer is asked again
with a hint; `annuler` / `cancel` ends it with nothing saved (CancellableDialog).

The title and the description are read by the whole community, so each is screened for client
identifiers as soon as it is typed (TopicTextDialog): the person reads which kinds were spotted
(never the words) and rewrites the text, or, when only names were spotted, may confirm it
identifies no one; storage.topics checks again. The presenter is not screened: naming a
colleague is what it is for."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

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

from cards.consultations import identifier_kinds_text
from cards.i18n import translator
from cards.topics import kind_label
from dialogs.base import (
    CancellableDialog,
    Candidate,
    begin,
    choice,
    communities_to_choose,
    end,
    picked,
    picked_if_asked,
    simplify,
    step_answers,
    typed_text,
)
from dialogs.context import turn_info
from storage import communities, outbox, topics
from storage.communities import NotAllowed
from storage.db import SessionFactory, transaction
from storage.identifiers import HasIdentifiers, confirmable, likely_identifiers
from storage.models import Person, Role, Volet

logger = logging.getLogger(__name__)

# Compared after `simplify`: what people type to leave an optional answer empty.
SKIP_WORDS = frozenset(
    {
        "passer",
        "passe",
        "skip",
        "aucun",
        "aucune",
        "rien",
        "none",
        "n/a",
        "-",
        "je ne sais pas",
        "ne sais pas",
        "sais pas",
        "je sais pas",
        "i don't know",
        "dont know",
        "don't know",
    }
)
# The order of the kind question, as the day runs (DOMAIN.md, "Meetings and agendas").
KINDS = topics.PROPOSABLE_KINDS
KIND_SYNONYMS: dict[Volet, tuple[str, ...]] = {
    Volet.FORMATIVE: ("formatif", "formation", "formative", "training", "conférence", "atelier"),
    Volet.EXCHANGE: ("échange", "exchange", "tour de table", "round table", "partage"),
    Volet.REFLECTIVE: ("réflexif", "reflective", "cas", "cas complexe", "case", "complex case"),
}


def is_skip(text: str) -> bool:
    return simplify(text) in SKIP_WORDS


@dataclass
class ProposeTopicOptions:
    community_id: int | None = None


@dataclass(frozen=True, slots=True)
class ProposedTopic:
    """The dialog's result when the topic was saved."""

    topic_id: int
    community_id: int


@dataclass
class TopicAnswers:
    """What the person answered so far (kept in dialog state between turns)."""

    community_id: int = 0
    community_name: str = ""
    title: str = ""
    description: str = ""
    kind: str = Volet.FORMATIVE.value
    presenter: str = ""
    hide_proposer: bool = False
    # Per text ("title", "description"): the kinds the person confirmed identify no one.
    confirmed: dict[str, list[str]] = field(default_factory=dict)
    # The communities offered as buttons, to read the answer back.
    candidates: list[Candidate] = field(default_factory=list)


@dataclass
class TopicTextOptions:
    """Which text TopicTextDialog asks: "title" or "description"."""

    name: str = "title"
    community: str = ""


@dataclass(frozen=True, slots=True)
class TopicText:
    """A screened text: `confirmed` holds the kinds spotted in it that the person confirmed
    identify no one (empty when nothing was spotted)."""

    text: str
    confirmed: tuple[str, ...] = ()


class TopicTextDialog(CancellableDialog):
    """Ask the title or the description and screen it: a text with an identifier that cannot
    be confirmed is asked again; with names only, the person rewrites it or confirms it
    identifies no one. Ends with a TopicText."""

    ID = "propose_topic_dialog.text"
    WATERFALL_ID = "propose_topic_dialog.text.steps"
    CHOICE_ID = "propose_topic_dialog.text.choice"
    TITLE_ID = "propose_topic_dialog.text.title"
    DESCRIPTION_ID = "propose_topic_dialog.text.description"
    RETRY_CHOICE = "topics.propose.retry_choice"

    def __init__(self) -> None:
        super().__init__(self.ID)
        self.add_dialog(ChoicePrompt(self.CHOICE_ID))
        self.add_dialog(TextPrompt(self.TITLE_ID, _valid_title))
        self.add_dialog(TextPrompt(self.DESCRIPTION_ID, _valid_description))
        self.add_dialog(
            WaterfallDialog(self.WATERFALL_ID, [self.ask_step, self.check_step, self.decide_step])
        )
        self._start_with(self.WATERFALL_ID)

    @staticmethod
    def _options(step: WaterfallStepContext) -> TopicTextOptions:
        options = step.options
        return options if isinstance(options, TopicTextOptions) else TopicTextOptions()

    async def ask_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        options = self._options(step)
        if options.name == "title":
            return await self._ask(
                step,
                self.TITLE_ID,
                t("topics.propose.ask_title", community=options.community),
                t("topics.propose.retry_title", max=topics.MAX_TITLE_LENGTH),
            )
        return await self._ask(
            step,
            self.DESCRIPTION_ID,
            t("topics.propose.ask_description"),
            t("topics.propose.retry_description", max=topics.MAX_DESCRIPTION_LENGTH),
        )

    async def check_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        options = self._options(step)
        text = str(step.result).strip()
        if options.name == "description" and is_skip(text):
            return await end(step, TopicText(""))
        found = likely_identifiers(text)
        if not found:
            return await end(step, TopicText(text))
        t = self._t(step)
        locale = turn_info(step.context).locale
        field_name = t(f"topics.propose.field.{options.name}")
        kinds = identifier_kinds_text(found, locale=locale)
        if not confirmable(found):
            # A phone number, a date of birth… is never « no one's »: rewrite, nothing else.
            await step.context.send_activity(
                t("topics.propose.identifiers_refused", field=field_name, kinds=kinds)
            )
            replaced: DialogTurnResult = await step.replace_dialog(self.ID, options)
            return replaced
        # The text stays in this dialog's state until the person chooses.
        step.values["screened"] = text
        return await self._choose(
            step,
            t("topics.propose.identifiers_found", field=field_name, kinds=kinds),
            [
                choice(t("topics.propose.fix"), "corriger", "fix", "modifier", "rewrite"),
                choice(
                    t("topics.propose.no_one"),
                    "confirmer",
                    "confirm",
                    "personne",
                    "no one",
                    "n'identifie personne",
                ),
            ],
        )

    async def decide_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        text = step.values.get("screened")
        assert isinstance(text, str)
        if picked(step) == 0:
            # Asked again from the start; what was typed is forgotten with this instance.
            replaced: DialogTurnResult = await step.replace_dialog(self.ID, self._options(step))
            return replaced
        kinds = tuple(kind.value for kind in likely_identifiers(text))
        return await end(step, TopicText(text, kinds))


async def _valid_title(prompt: PromptValidatorContext) -> bool:
    value = typed_text(prompt)
    return bool(
        prompt.recognized.succeeded
        and value
        and not is_skip(value)
        and len(value) <= topics.MAX_TITLE_LENGTH
    )


async def _valid_description(prompt: PromptValidatorContext) -> bool:
    return bool(
        prompt.recognized.succeeded and len(typed_text(prompt)) <= topics.MAX_DESCRIPTION_LENGTH
    )


class ProposeTopicDialog(CancellableDialog):
    ID = "propose_topic_dialog"
    WATERFALL_ID = "propose_topic_dialog.steps"
    CHOICE_ID = "propose_topic_dialog.choice"
    TITLE_ID = "propose_topic_dialog.title"
    DESCRIPTION_ID = "propose_topic_dialog.description"
    PRESENTER_ID = "propose_topic_dialog.presenter"
    RETRY_CHOICE = "topics.propose.retry_choice"

    def __init__(self, sessions: SessionFactory, wake: Callable[[], None]) -> None:
        super().__init__(self.ID)
        self._sessions = sessions
        self._wake = wake
        self.add_dialog(ChoicePrompt(self.CHOICE_ID))
        self.add_dialog(TopicTextDialog())
        # Before screening, the title and description were these prompts: a conversation
        # waiting on one when the bot is updated still answers it (its text is screened by
        # storage at save, and refused there if it holds identifiers).
        self.add_dialog(TextPrompt(self.TITLE_ID, _valid_title))
        self.add_dialog(TextPrompt(self.DESCRIPTION_ID, _valid_description))
        self.add_dialog(TextPrompt(self.PRESENTER_ID, self._valid_presenter))
        self.add_dialog(
            WaterfallDialog(
                self.WATERFALL_ID,
                [
                    self.community_step,
                    self.title_step,
                    self.description_step,
                    self.kind_step,
                    self.presenter_step,
                    self.show_name_step,
                    self.summary_step,
                    self.save_step,
                ],
            )
        )
        self._start_with(self.WATERFALL_ID)

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _keep(step: WaterfallStepContext, name: str) -> str:
        """The screened text just answered (a plain string from a pre-screening prompt) into
        the answers' confirmations; returns the text."""
        answer = step.result
        answers = step_answers(step, TopicAnswers)
        if isinstance(answer, TopicText):
            text, confirmed = answer.text, list(answer.confirmed)
        else:
            text, confirmed = str(answer).strip(), []
        if confirmed:
            answers.confirmed[name] = confirmed
        else:
            answers.confirmed.pop(name, None)
        return text

    # -- steps ---------------------------------------------------------------------------------

    async def community_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        options = (
            step.options if isinstance(step.options, ProposeTopicOptions) else ProposeTopicOptions()
        )
        answers = step_answers(step, TopicAnswers)
        mine = await communities_to_choose(
            self._sessions,
            person_id=turn_info(step.context).person_id,
            community_id=options.community_id,
        )
        if mine is None:
            await step.context.send_activity(t("topics.propose.not_member_here"))
            return await end(step)
        if not mine:
            await step.context.send_activity(t("topics.propose.not_member"))
            return await end(step)
        if len(mine) == 1:
            answers.community_id, answers.community_name = mine[0].id or 0, mine[0].name
            return await step.next(None)
        answers.candidates = [Candidate(c.id or 0, c.name) for c in mine]
        return await self._choose(
            step, t("topics.propose.ask_community"), [choice(c.name) for c in mine]
        )

    async def title_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        answers = step_answers(step, TopicAnswers)
        index = picked_if_asked(step)
        if index is not None:
            chosen = answers.candidates[index]
            answers.community_id, answers.community_name = chosen.community_id, chosen.name
        return await begin(
            step,
            TopicTextDialog.ID,
            TopicTextOptions(name="title", community=answers.community_name),
        )

    async def description_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        answers = step_answers(step, TopicAnswers)
        answers.title = self._keep(step, "title")
        return await begin(
            step,
            TopicTextDialog.ID,
            TopicTextOptions(name="description", community=answers.community_name),
        )

    async def kind_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        text = self._keep(step, "description")
        step_answers(step, TopicAnswers).description = "" if is_skip(text) else text
        locale = turn_info(step.context).locale
        choices = [choice(kind_label(kind, locale=locale), *KIND_SYNONYMS[kind]) for kind in KINDS]
        return await self._choose(step, t("topics.propose.ask_kind"), choices)

    async def presenter_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        step_answers(step, TopicAnswers).kind = KINDS[picked(step)].value
        return await self._ask(
            step,
            self.PRESENTER_ID,
            t("topics.propose.ask_presenter"),
            t("topics.propose.retry_presenter", max=topics.MAX_PRESENTER_LENGTH),
        )

    async def show_name_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        text = str(step.result).strip()
        step_answers(step, TopicAnswers).presenter = "" if is_skip(text) else text
        return await self._choose(
            step,
            t("topics.propose.ask_show_name"),
            [
                choice(t("topics.propose.yes"), "oui", "yes", "o", "y"),
                choice(t("topics.propose.no"), "non", "no", "n"),
            ],
        )

    async def summary_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        answers = step_answers(step, TopicAnswers)
        answers.hide_proposer = picked(step) == 1
        none = t("topics.propose.none")
        summary = t(
            "topics.propose.summary",
            community=answers.community_name,
            title=answers.title,
            description=answers.description or none,
            kind=kind_label(answers.kind, locale=turn_info(step.context).locale),
            presenter=answers.presenter or none,
            show_name=t("topics.propose.no") if answers.hide_proposer else t("topics.propose.yes"),
        )
        return await self._choose(
            step,
            summary,
            [
                choice(t("topics.propose.confirm"), "oui", "yes", "ok", "confirmer", "confirm"),
                choice(t("topics.propose.cancel"), "non", "no"),
            ],
        )

    async def save_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        if picked(step) != 0:
            await step.context.send_activity(self._t(step)("dialog.cancelled"))
            return await end(step)
        saved = await save_proposal(
            self._sessions, step.context, step_answers(step, TopicAnswers), wake=self._wake
        )
        return await end(step, saved)

    # -- validators ------------------------------------------------------------------------------

    @staticmethod
    async def _valid_presenter(prompt: PromptValidatorContext) -> bool:
        return bool(
            prompt.recognized.succeeded and len(typed_text(prompt)) <= topics.MAX_PRESENTER_LENGTH
        )


async def save_proposal(
    sessions: SessionFactory,
    turn_context: TurnContext,
    answers: TopicAnswers,
    *,
    wake: Callable[[], None],
) -> ProposedTopic | None:
    """Save the topic, tell the community's animators (through the outbox), thank the person."""
    info = turn_info(turn_context)
    t = translator(info.locale)
    if info.person_id is None:
        await turn_context.send_activity(t("topics.propose.not_member"))
        return None
    queued = 0
    try:
        async with transaction(sessions) as session:
            topic = await topics.propose(
                session,
                community_id=answers.community_id,
                person_id=info.person_id,
                title=answers.title,
                description=answers.description,
                kind=Volet(answers.kind),
                presenter=answers.presenter or None,
                hide_proposer=answers.hide_proposer,
                confirmed=answers.confirmed,
            )
            assert topic.id is not None
            person = await session.get(Person, info.person_id)
            name = (person.name if person else None) or "—"
            for animator in await communities.people_with_role(
                session, community_id=answers.community_id, roles=[Role.ANIMATOR]
            ):
                if animator.id is None or animator.id == info.person_id:
                    continue
                # Animators see the name even when members will not (the bank's rule).
                queued += await outbox.enqueue(
                    session,
                    dedup_key=topics.proposed_notice_key(topic.id, animator.id),
                    recipient=outbox.Recipient.person(animator.id),
                    kind=outbox.KIND_NOTICE,
                    params={
                        "text": "topics.notice_animators",
                        "values": {
                            "name": name,
                            "title": topic.title,
                            "community": answers.community_name,
                        },
                    },
                )
    except HasIdentifiers as spotted:
        # Storage screens again, whatever the dialog let through.
        await turn_context.send_activity(
            t(
                "topics.propose.refused_identifiers",
                kinds=identifier_kinds_text(spotted.kinds, locale=info.locale),
            )
        )
        return None
    except NotAllowed:
        # Left the community while answering.
        await turn_context.send_activity(t("topics.propose.not_member_here"))
        return None
    if queued:
        wake()
    await turn_context.send_activity(
        t("topics.propose.saved", title=topic.title, community=answers.community_name)
    )
    return ProposedTopic(topic_id=topic.id, community_id=answers.community_id)
