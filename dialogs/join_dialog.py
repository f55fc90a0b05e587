"""Joining a community: pick it, then a short profile, a summary and a confirmation.
See join_dialog.mmd. Every answer is checked; a wrong one is asked again with a hint;
`annuler` / `cancel` ends it with nothing saved."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from microsoft_agents.hosting.core import CardFactory, MessageFactory, TurnContext
from microsoft_agents.hosting.dialogs import (
    DialogTurnResult,
    WaterfallDialog,
    WaterfallStepContext,
)
from microsoft_agents.hosting.dialogs.choices import Choice, ListStyle
from microsoft_agents.hosting.dialogs.prompts import (
    ChoicePrompt,
    PromptOptions,
    PromptValidatorContext,
    TextPrompt,
)

from cards.community import (
    DISCIPLINES,
    REGIONS,
    build_one_pager_card,
    build_welcome_card,
    discipline_label,
    interest_options,
    region_label,
)
from cards.i18n import translator
from dialogs.base import (
    CancellableDialog,
    Candidate,
    end,
    picked,
    picked_if_asked,
    simplify,
    step_answers,
    typed_text,
)
from dialogs.context import turn_info
from dialogs.views import load_one_pager
from storage import communities, onboarding, outbox
from storage.communities import JoinOutcome, Profile
from storage.db import SessionFactory, transaction
from storage.models import Community, Person, Role

OTHER = "other"


@dataclass
class JoinOptions:
    community_id: int | None = None


@dataclass
class JoinAnswers:
    """What the person answered so far (kept in dialog state between turns)."""

    community_id: int = 0
    community_name: str = ""
    already_member: bool = False
    discipline: str = ""
    establishment: str = ""
    region: str = ""
    interests: list[str] = field(default_factory=list)
    is_new_hire: bool = False
    consent_reminders: bool = False
    consent_surveys: bool = False
    # What the questions offered, to read the answers back.
    candidates: list[Candidate] = field(default_factory=list)
    interest_options: list[str] = field(default_factory=list)


def _choice(title: str, *synonyms: str) -> Choice:
    words = {simplify(title), *(simplify(s) for s in synonyms)}
    return Choice(title, synonyms=sorted(w for w in words if w))


def parse_interests(text: str, options: list[str]) -> list[str] | None:
    """'1, 3' or names → chosen options; None when something is not recognised."""
    chosen: list[str] = []
    by_name = {simplify(o): o for o in options}
    for part in text.replace(";", ",").replace(" et ", ",").replace(" and ", ",").split(","):
        token = simplify(part)
        if not token:
            continue
        if token.isascii() and token.isdigit() and 1 <= int(token) <= len(options):
            picked = options[int(token) - 1]
        elif token in by_name:
            picked = by_name[token]
        else:
            return None
        if picked not in chosen:
            chosen.append(picked)
    return chosen or None


class JoinDialog(CancellableDialog):
    ID = "join_dialog"
    WATERFALL_ID = "join_dialog.steps"
    CHOICE_ID = "join_dialog.choice"
    TEXT_ID = "join_dialog.text"
    ESTABLISHMENT_ID = "join_dialog.establishment"
    INTERESTS_ID = "join_dialog.interests"
    OTHER_DISCIPLINE_ID = "join_dialog.other_discipline"

    def __init__(self, sessions: SessionFactory, wake: Callable[[], None]) -> None:
        super().__init__(self.ID)
        self._sessions = sessions
        self._wake = wake
        self.add_dialog(ChoicePrompt(self.CHOICE_ID))
        self.add_dialog(TextPrompt(self.ESTABLISHMENT_ID, self._valid_establishment))
        self.add_dialog(TextPrompt(self.OTHER_DISCIPLINE_ID, self._valid_discipline))
        self.add_dialog(TextPrompt(self.INTERESTS_ID, self._valid_interests))
        self.add_dialog(
            WaterfallDialog(
                self.WATERFALL_ID,
                [
                    self.community_step,
                    self.existing_step,
                    self.discipline_step,
                    self.other_discipline_step,
                    self.establishment_step,
                    self.region_step,
                    self.interests_step,
                    self.new_hire_step,
                    self.consent_step,
                    self.summary_step,
                    self.save_step,
                ],
            )
        )
        self._start_with(self.WATERFALL_ID)

    # -- helpers -------------------------------------------------------------------------------

    async def _community(self, community_id: int) -> Community | None:
        async with self._sessions() as session:
            return await communities.get_community(session, community_id=community_id)

    def _choices_prompt(
        self, text: str, retry: str, choices: list[Choice], style: ListStyle
    ) -> PromptOptions:
        return PromptOptions(
            prompt=MessageFactory.text(text),
            retry_prompt=MessageFactory.text(retry),
            choices=choices,
            style=style,
        )

    # -- steps ---------------------------------------------------------------------------------

    async def community_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        options: JoinOptions = (
            step.options if isinstance(step.options, JoinOptions) else JoinOptions()
        )
        answers = step_answers(step, JoinAnswers)
        if options.community_id is not None:
            community = await self._community(options.community_id)
            if community is None:
                await step.context.send_activity(t("join.unknown_community"))
                return await end(step)
            answers.community_id, answers.community_name = community.id or 0, community.name
            return await step.next(None)
        async with self._sessions() as session:
            person = await session.get(Person, turn_info(step.context).person_id or 0)
            rows = await communities.joinable_communities(
                session, tenant_id=person.tenant_id if person else None
            )
        if not rows:
            await step.context.send_activity(t("communities.empty"))
            return await end(step)
        if len(rows) == 1:
            community = rows[0][0]
            answers.community_id, answers.community_name = community.id or 0, community.name
            return await step.next(None)
        answers.candidates = [Candidate(c.id or 0, c.name) for c, _count in rows]
        return await step.prompt(
            self.CHOICE_ID,
            self._choices_prompt(
                t("join.ask_community"),
                t("join.retry_choice"),
                [_choice(c.name) for c, _count in rows],
                ListStyle.hero_card,
            ),
        )

    async def existing_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        answers = step_answers(step, JoinAnswers)
        index = picked_if_asked(step)
        if index is not None:
            chosen = answers.candidates[index]
            answers.community_id, answers.community_name = chosen.community_id, chosen.name
        async with self._sessions() as session:
            current = await communities.membership(
                session,
                person_id=turn_info(step.context).person_id or 0,
                community_id=answers.community_id,
            )
        if current is None or current.left_at is not None:
            return await step.next(None)
        answers.already_member = True
        return await step.prompt(
            self.CHOICE_ID,
            self._choices_prompt(
                t("join.already_member", community=answers.community_name),
                t("join.retry_choice"),
                [
                    _choice(t("join.update_yes"), "oui", "yes"),
                    _choice(t("join.update_no"), "non", "no"),
                ],
                ListStyle.hero_card,
            ),
        )

    async def discipline_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        if step_answers(step, JoinAnswers).already_member and picked_if_asked(step) == 1:
            await step.context.send_activity(t("join.nothing_changed"))
            return await end(step)
        locale = turn_info(step.context).locale
        choices = [_choice(discipline_label(code, locale=locale)) for code in DISCIPLINES]
        choices.append(_choice(t("join.other"), "autre", "other"))
        return await step.prompt(
            self.CHOICE_ID,
            self._choices_prompt(
                t("join.ask_discipline"), t("join.retry_discipline"), choices, ListStyle.list_style
            ),
        )

    async def other_discipline_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        index = picked(step)
        if index < len(DISCIPLINES):
            step_answers(step, JoinAnswers).discipline = DISCIPLINES[index]
            return await step.next(None)
        return await self._ask(
            step,
            self.OTHER_DISCIPLINE_ID,
            t("join.ask_other_discipline"),
            t("join.retry_other_discipline"),
        )

    async def establishment_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        if isinstance(step.result, str):
            step_answers(step, JoinAnswers).discipline = step.result.strip()
        return await self._ask(
            step, self.ESTABLISHMENT_ID, t("join.ask_establishment"), t("join.retry_establishment")
        )

    async def region_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        step_answers(step, JoinAnswers).establishment = str(step.result).strip()
        locale = turn_info(step.context).locale
        choices = [_choice(region_label(code, locale=locale), code) for code in REGIONS]
        return await step.prompt(
            self.CHOICE_ID,
            self._choices_prompt(
                t("join.ask_region"), t("join.retry_region"), choices, ListStyle.list_style
            ),
        )

    async def interests_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        answers = step_answers(step, JoinAnswers)
        answers.region = REGIONS[picked(step)]
        community = await self._community(answers.community_id)
        options = (
            interest_options(community, locale=turn_info(step.context).locale) if community else []
        )
        answers.interest_options = options
        listing = "\n".join(f"{n}. {option}" for n, option in enumerate(options, start=1))
        return await step.prompt(
            self.INTERESTS_ID,
            PromptOptions(
                prompt=MessageFactory.text(f"{t('join.ask_interests')}\n\n{listing}"),
                retry_prompt=MessageFactory.text(f"{t('join.retry_interests')}\n\n{listing}"),
                validations=options,
            ),
        )

    async def new_hire_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        answers = step_answers(step, JoinAnswers)
        answers.interests = parse_interests(str(step.result), answers.interest_options) or []
        return await step.prompt(
            self.CHOICE_ID,
            self._choices_prompt(
                t("join.ask_new_hire"),
                t("join.retry_choice"),
                [
                    _choice(t("join.yes"), "oui", "yes", "o", "y"),
                    _choice(t("join.no"), "non", "no", "n"),
                ],
                ListStyle.hero_card,
            ),
        )

    async def consent_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        step_answers(step, JoinAnswers).is_new_hire = picked(step) == 0
        return await step.prompt(
            self.CHOICE_ID,
            self._choices_prompt(
                t("join.ask_consent"),
                t("join.retry_choice"),
                [
                    _choice(t("join.consent.both")),
                    _choice(t("join.consent.reminders")),
                    _choice(t("join.consent.surveys")),
                    _choice(t("join.consent.none")),
                ],
                ListStyle.hero_card,
            ),
        )

    async def summary_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        answers = step_answers(step, JoinAnswers)
        index = picked(step)
        answers.consent_reminders = index in (0, 1)
        answers.consent_surveys = index in (0, 2)
        locale = turn_info(step.context).locale
        yes, no = t("join.yes"), t("join.no")
        summary = t(
            "join.summary",
            community=answers.community_name,
            discipline=discipline_label(answers.discipline, locale=locale),
            establishment=answers.establishment,
            region=region_label(answers.region, locale=locale),
            interests=", ".join(i[:1].upper() + i[1:] for i in answers.interests),
            new_hire=yes if answers.is_new_hire else no,
            reminders=yes if answers.consent_reminders else no,
            surveys=yes if answers.consent_surveys else no,
        )
        return await step.prompt(
            self.CHOICE_ID,
            self._choices_prompt(
                summary,
                t("join.retry_choice"),
                [
                    _choice(t("join.confirm"), "oui", "yes", "ok"),
                    _choice(t("join.cancel"), "non", "no"),
                ],
                ListStyle.hero_card,
            ),
        )

    async def save_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        if picked(step) != 0:
            await step.context.send_activity(t("dialog.cancelled"))
            return await end(step)
        answers = step_answers(step, JoinAnswers)
        await join_and_welcome(self._sessions, step.context, answers, wake=self._wake)
        return await end(step, answers.community_id)

    # -- validators ------------------------------------------------------------------------------

    @staticmethod
    async def _valid_establishment(prompt: PromptValidatorContext) -> bool:
        return prompt.recognized.succeeded and 2 <= len(typed_text(prompt)) <= 200

    @staticmethod
    async def _valid_discipline(prompt: PromptValidatorContext) -> bool:
        return prompt.recognized.succeeded and 2 <= len(typed_text(prompt)) <= 120

    @staticmethod
    async def _valid_interests(prompt: PromptValidatorContext) -> bool:
        # The options listed in the question (PromptOptions.validations).
        validations = prompt.options.validations
        options = [str(o) for o in validations] if isinstance(validations, list) else []
        return parse_interests(typed_text(prompt), options) is not None


async def join_and_welcome(
    sessions: SessionFactory,
    turn_context: TurnContext,
    answers: JoinAnswers,
    *,
    wake: Callable[[], None],
) -> None:
    """Save the membership, start onboarding for a newcomer, tell the animators, welcome."""
    info = turn_info(turn_context)
    t = translator(info.locale)
    assert info.person_id is not None
    async with transaction(sessions) as session:
        community = await communities.get_community(session, community_id=answers.community_id)
        if community is None:
            await turn_context.send_activity(t("join.unknown_community"))
            return
        member, outcome = await communities.join(
            session,
            person_id=info.person_id,
            community_id=answers.community_id,
            profile=Profile(
                discipline=answers.discipline,
                establishment=answers.establishment,
                region=answers.region,
                interests=answers.interests,
                is_new_hire=answers.is_new_hire,
            ),
            consent_reminders=answers.consent_reminders,
            consent_surveys=answers.consent_surveys,
        )
        person = await session.get(Person, info.person_id)
        name = (person.name if person else None) or ""
        onboarding_started = False
        if answers.is_new_hire:
            onboarding_started = await onboarding.start(
                session, community=community, person_id=info.person_id, source="join_dialog"
            )
        if outcome != JoinOutcome.UPDATED:
            for animator in await communities.people_with_role(
                session, community_id=answers.community_id, roles=[Role.ANIMATOR]
            ):
                if animator.id == info.person_id or animator.id is None:
                    continue
                await outbox.enqueue(
                    session,
                    dedup_key=communities.joined_notice_key(
                        community.id, info.person_id, member.joined_at, animator.id
                    ),
                    recipient=outbox.Recipient.person(animator.id),
                    kind=outbox.KIND_NOTICE,
                    params={
                        "text": "join.notice_animators",
                        "values": {"name": name or "—", "community": community.name},
                    },
                )
        page = await load_one_pager(session, community)
    wake()
    if outcome == JoinOutcome.UPDATED:
        await turn_context.send_activity(t("join.updated", community=community.name))
        return
    first_name = name.split(" ")[0]
    if onboarding_started:
        # The day-0 onboarding step carries the welcome and the one-pager.
        await turn_context.send_activity(t("join.joined_newcomer", community=community.name))
        return
    welcome = build_welcome_card(community, first_name=first_name, locale=info.locale)
    await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(welcome)))
    card = build_one_pager_card(page, locale=info.locale, tz=info.timezone)
    await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))
