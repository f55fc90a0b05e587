"""Surveys in the bot: the jobs that open satisfaction surveys and remind, the card buttons,
the animators' commands, and the outbox messages.

No routing here: the feature (bot/features/surveys.py) sends `sondage des besoins` /
`needs survey`, `questionnaire des apprentissages` / `learning questionnaire` and `résultats` /
`results` to these functions, declares the `surveys.*` card
verbs' handlers (`ACTIONS`), runs SurveyDialog for `répondre au sondage` / `answer the
survey`, and the scheduler calls the jobs. Every action re-checks its rule in
storage/surveys.py; card data only says which survey is meant.

Anonymity: answers go through `dialogs.survey_dialog.save_answer` (a keyed hash, never the
person); nothing here logs who answered or what. Results are for animators only and, asked in
a channel, are sent privately.

Outbox kinds: survey_invitation, survey_reminder (the questionnaire card; nothing once the
person answered or the survey closed), survey_results (results asked in a channel).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import TurnContext
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.deliveries import RenderContext, Renderer
from bot.settings import Settings
from bot.turns import FeatureTurn, VerbHandler, card_activity, param_int
from cards.common import Element
from cards.i18n import format_when, plural
from cards.surveys import (
    CHOICES_INPUT,
    NO_CLIENT_INPUT,
    VERB_ANSWER,
    VERB_LEARNING_PREVIEW,
    VERB_LEARNING_START,
    VERB_NEEDS_PREVIEW,
    VERB_NEEDS_START,
    VERB_RESULTS,
    VERB_TOPIC,
    build_community_choice_card,
    build_learning_preview_card,
    build_needs_preview_card,
    build_results_card,
    build_survey_card,
    rating_input,
    text_input,
)
from dialogs.context import TurnInfo
from dialogs.survey_dialog import save_answer
from storage import communities, outbox, review, surveys
from storage.communities import NotAllowed, has_role
from storage.db import SessionFactory, transaction
from storage.identifiers import CONFIRMABLE
from storage.models import Community, Role, Survey, SurveyKind, utcnow
from storage.surveys import (
    KIND_INVITATION,
    KIND_REMINDER,
    KIND_RESULTS,
    AlreadyInBank,
    AlreadyOpen,
    Answer,
    UnknownSurvey,
)

logger = logging.getLogger(__name__)

Wake = Callable[[], None]
Clock = Callable[[], datetime]


# The tables' integer keys: a larger "id" in card data is forged, and would overflow the
# database's integer type rather than simply find nothing.
MAX_ID = 2**31 - 1


def id_param(params: dict[str, Any], key: str) -> int | None:
    value = param_int(params, key)
    return value if value is not None and 0 < value <= MAX_ID else None


# -- outbox renderers ------------------------------------------------------------------------


async def _questionnaire(context: RenderContext, *, reminder: bool) -> Activity | None:
    """The survey card, unless the survey closed or the person answered meanwhile."""
    survey_id = id_param(context.message.params, "survey_id")
    person_id = context.message.person_id
    if survey_id is None or person_id is None:
        return None
    async with context.sessions() as session:
        survey = await surveys.get_survey(session, survey_id=survey_id)
        if survey is None or not surveys.is_open(survey, now=context.now):
            return None
        invitation = await surveys.invitation_of(session, survey_id=survey_id, person_id=person_id)
        if invitation is None or invitation.answered:
            return None
        community = await communities.get_community(session, community_id=survey.community_id)
        meeting = await surveys.meeting_of(session, survey=survey)
    if community is None:
        return None
    return card_activity(
        build_survey_card(
            survey,
            community=community,
            meeting=meeting,
            k=surveys.k_threshold(community),
            locale=context.locale,
            tz=context.timezone,
            reminder=reminder,
        )
    )


async def render_invitation(context: RenderContext) -> Activity | None:
    return await _questionnaire(context, reminder=False)


async def render_reminder(context: RenderContext) -> Activity | None:
    return await _questionnaire(context, reminder=True)


async def render_results(context: RenderContext) -> Activity | None:
    """Results asked for in a channel, sent to the animator alone (role checked now)."""
    survey_id = id_param(context.message.params, "survey_id")
    person_id = context.message.person_id
    if survey_id is None or person_id is None:
        return None
    async with context.sessions() as session:
        card = await _results_card(
            session,
            survey_id=survey_id,
            person_id=person_id,
            locale=context.locale,
            tz=context.timezone,
            now=context.now,
        )
    return None if card is None else card_activity(card)


SURVEY_RENDERERS: dict[str, Renderer] = {
    KIND_INVITATION: render_invitation,
    KIND_REMINDER: render_reminder,
    KIND_RESULTS: render_results,
}


# -- jobs ------------------------------------------------------------------------------------


async def open_due_surveys(
    *,
    sessions: SessionFactory,
    now: datetime,
    wake: Wake,
    delay: timedelta = surveys.DEFAULT_DELAY,
    duration: timedelta = surveys.DEFAULT_DURATION,
) -> int:
    """Open a satisfaction survey `delay` after each meeting ends and invite its attendees who
    consented (also attendees confirmed after it opened). Idempotent: one survey per meeting,
    one invitation and one message per person, whoever runs it and however often."""
    queued = 0
    async with transaction(sessions) as session:
        due = await surveys.meetings_due_for_survey(session, now=now, delay=delay)
        for meeting in due:
            await surveys.open_satisfaction_survey(
                session, meeting=meeting, now=now, duration=duration
            )
        for survey_id, person_id in await surveys.uninvited_attendees(session, now=now):
            if not await surveys.invite(session, survey_id=survey_id, person_id=person_id):
                continue
            queued += await outbox.enqueue(
                session,
                dedup_key=surveys.invitation_key(survey_id, person_id),
                recipient=outbox.Recipient.person(person_id),
                kind=KIND_INVITATION,
                params={"survey_id": survey_id},
                not_before=now,
            )
    if due:
        logger.info("opened %d satisfaction survey(s)", len(due))
    if queued:
        logger.info("queued %d survey invitation(s)", queued)
        wake()
    return queued


async def survey_reminders(*, sessions: SessionFactory, now: datetime, wake: Wake) -> int:
    """Day 3: one reminder to each invitee who has not answered (once; nothing after closing)."""
    queued = 0
    async with transaction(sessions) as session:
        for survey_id, person_id in await surveys.due_reminders(session, now=now):
            queued += await outbox.enqueue(
                session,
                dedup_key=surveys.reminder_key(survey_id, person_id),
                recipient=outbox.Recipient.person(person_id),
                kind=KIND_REMINDER,
                params={"survey_id": survey_id},
                not_before=now,
            )
    if queued:
        logger.info("queued %d survey reminder(s)", queued)
        wake()
    return queued


async def open_yearly_learning_surveys(
    *, sessions: SessionFactory, now: datetime, tz: str, wake: Wake
) -> int:
    """Once a year, four weeks before each community's annual review date, open its learning
    questionnaire and queue the invitations (storage/surveys.py `open_yearly_learning`: not
    when one was opened in the last ten months). Idempotent: a second run, or another replica,
    finds it open and queues nothing."""
    queued = 0
    async with transaction(sessions) as session:
        today = now.astimezone(ZoneInfo(tz)).date()
        for community in await surveys.communities_for_learning(session, now=now):
            assert community.id is not None
            try:
                opened = await surveys.open_yearly_learning(
                    session,
                    community_id=community.id,
                    review_on=review.review_date(community, today.year),
                    now=now,
                    tz=tz,
                )
            except AlreadyOpen:
                continue
            if opened is None:
                continue
            survey, invited = opened
            assert survey.id is not None
            for person_id in invited:
                queued += await outbox.enqueue(
                    session,
                    dedup_key=surveys.invitation_key(survey.id, person_id),
                    recipient=outbox.Recipient.person(person_id),
                    kind=KIND_INVITATION,
                    params={"survey_id": survey.id},
                    not_before=now,
                )
    if queued:
        logger.info("queued %d learning questionnaire invitation(s)", queued)
        wake()
    return queued


async def seal_closed_surveys(*, sessions: SessionFactory, now: datetime) -> int:
    """Once a survey closes, drop the keyed hashes of its answers (see storage/surveys.py)."""
    async with transaction(sessions) as session:
        sealed = await surveys.seal_closed(session, now=now)
    if sealed:
        logger.info("sealed %d survey answer(s)", sealed)
    return sealed


# -- the turn ----------------------------------------------------------------------------------


async def _animated(sessions: SessionFactory, person_id: int) -> list[Community]:
    async with sessions() as session:
        return [
            community
            for member, community in await communities.memberships_of(session, person_id=person_id)
            if has_role(member, Role.ANIMATOR)
        ]


async def _pick_animated(
    turn: FeatureTurn, community_id: int | None, *, verb: str
) -> Community | None:
    """The community meant (given, or the only one the person animates); None after asking
    which (a card) or saying that this is for animators."""
    if turn.info.person_id is None:
        await turn.say("surveys.animators_only")
        return None
    mine = await _animated(turn.sessions, turn.info.person_id)
    if community_id is not None:
        chosen = next((c for c in mine if c.id == community_id), None)
        if chosen is None:
            await turn.say("surveys.animators_only")
        return chosen
    if len(mine) == 1:
        return mine[0]
    if not mine:
        await turn.say("surveys.animators_only")
        return None
    await turn.show(build_community_choice_card(mine, verb=verb, locale=turn.info.locale))
    return None


async def _results_card(
    session: AsyncSession,
    *,
    survey_id: int,
    person_id: int,
    locale: str,
    tz: str,
    now: datetime,
) -> Element | None:
    survey = await surveys.get_survey(session, survey_id=survey_id)
    if survey is None or not await surveys.may_see_results(
        session, person_id=person_id, community_id=survey.community_id
    ):
        return None
    shown = await surveys.results(session, survey_id=survey_id, now=now)
    others = await surveys.recent_surveys(session, community_id=survey.community_id, now=now)
    return build_results_card(shown, locale=locale, tz=tz, others=others)


async def _show_results(turn: FeatureTurn, survey_id: int) -> None:
    person_id = turn.info.person_id
    if person_id is None:
        await turn.say("surveys.animators_only")
        return
    if turn.info.in_channel:
        # Comments are written for the animators, not for the whole channel.
        activity_id = str(turn.context.activity.id or uuid.uuid4().hex)[:64]
        async with transaction(turn.sessions) as session:
            survey = await surveys.get_survey(session, survey_id=survey_id)
            allowed = survey is not None and await surveys.may_see_results(
                session, person_id=person_id, community_id=survey.community_id
            )
            if allowed:
                await outbox.enqueue(
                    session,
                    dedup_key=surveys.results_key(survey_id, activity_id, person_id),
                    recipient=outbox.Recipient.person(person_id),
                    kind=KIND_RESULTS,
                    params={"survey_id": survey_id},
                )
        if not allowed:
            await turn.say("surveys.animators_only")
            return
        turn.wake()
        await turn.say("surveys.results.sent_privately")
        return
    async with turn.sessions() as session:
        card = await _results_card(
            session,
            survey_id=survey_id,
            person_id=person_id,
            locale=turn.info.locale,
            tz=turn.info.timezone,
            now=turn.clock(),
        )
    if card is None:
        await turn.say("surveys.animators_only")
        return
    await turn.show(card)


async def on_results_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    community_id: int | None,
    wake: Wake,
    clock: Clock = utcnow,
) -> None:
    """`résultats` / `results`: the latest survey of the community the person animates (the
    channel's, or their only one), with buttons for the earlier ones."""
    turn = FeatureTurn(turn_context, sessions, info, wake, clock)
    await _results_for_community(turn, community_id)


async def _results_for_community(turn: FeatureTurn, community_id: int | None) -> None:
    community = await _pick_animated(turn, community_id, verb=VERB_RESULTS)
    if community is None or community.id is None:
        return
    async with turn.sessions() as session:
        recent = await surveys.recent_surveys(
            session, community_id=community.id, now=turn.clock(), limit=1
        )
    if not recent:
        await turn.say("surveys.results.none", community=community.name)
        return
    latest, _meeting = recent[0]
    assert latest.id is not None
    await _show_results(turn, latest.id)


async def on_needs_survey_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    community_id: int | None,
    clock: Clock = utcnow,
) -> None:
    """`sondage des besoins` / `needs survey`: a preview (who, which topics, until when) with a
    button to launch it."""
    turn = FeatureTurn(turn_context, sessions, info, clock=clock)
    await _needs_preview(turn, community_id)


async def _needs_preview(turn: FeatureTurn, community_id: int | None) -> None:
    community = await _pick_animated(turn, community_id, verb=VERB_NEEDS_PREVIEW)
    if community is None or community.id is None:
        return
    now = turn.clock()
    async with turn.sessions() as session:
        existing = await surveys.open_needs_survey_of(session, community_id=community.id, now=now)
        choices = await surveys.bank_choices(session, community_id=community.id)
        invitees = await surveys.consenting_members(session, community_id=community.id)
    if existing is not None:
        await turn.say(
            "surveys.needs.already_open",
            day=format_when(existing.closes_at, locale=turn.info.locale, tz=turn.info.timezone),
        )
        return
    await turn.show(
        build_needs_preview_card(
            community,
            topic_choices=choices,
            invitees=len(invitees),
            closes_at=surveys.needs_closing(now, tz=turn.info.timezone),
            locale=turn.info.locale,
            tz=turn.info.timezone,
        )
    )


async def on_learning_survey_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    community_id: int | None,
    clock: Clock = utcnow,
) -> None:
    """`questionnaire des apprentissages` / `learning questionnaire`: a preview (the questions,
    who, until when, the last one run) with a button to launch it."""
    turn = FeatureTurn(turn_context, sessions, info, clock=clock)
    await _learning_preview(turn, community_id)


async def _learning_preview(turn: FeatureTurn, community_id: int | None) -> None:
    community = await _pick_animated(turn, community_id, verb=VERB_LEARNING_PREVIEW)
    if community is None or community.id is None:
        return
    now = turn.clock()
    async with turn.sessions() as session:
        existing = await surveys.open_survey_of(
            session, community_id=community.id, kind=SurveyKind.LEARNING, now=now
        )
        last = await surveys.last_survey_of(
            session, community_id=community.id, kind=SurveyKind.LEARNING, now=now
        )
        invitees = await surveys.consenting_members(session, community_id=community.id)
    if existing is not None:
        await turn.say(
            "surveys.learning.already_open",
            day=format_when(existing.closes_at, locale=turn.info.locale, tz=turn.info.timezone),
        )
        return
    await turn.show(
        build_learning_preview_card(
            community,
            invitees=len(invitees),
            closes_at=surveys.needs_closing(now, tz=turn.info.timezone),
            last=last,
            locale=turn.info.locale,
            tz=turn.info.timezone,
        )
    )


# -- card actions ------------------------------------------------------------------------------


def _answer_from(value: dict[str, Any], survey: Survey) -> Answer | None:
    """What the card sent: ratings as "1".."5" (the survey's questions, its objective items
    included), texts, chosen topics as indices "0,2", the toggle saying the names in the texts
    identify no client; None when a chosen index is not one of the survey's topics."""
    topic_choices = list(survey.topic_choices)
    ratings: dict[str, int] = {}
    for question in surveys.rating_questions(survey):
        raw = str(value.get(rating_input(question)) or "").strip()
        if raw.isascii() and raw.isdigit() and len(raw) <= 2:
            ratings[question] = int(raw)
        elif raw:
            # « 4,5 », « cinq »: refused as out of range rather than taken as unanswered.
            ratings[question] = 0
    questions = surveys.text_questions(survey)
    texts = {
        question: text
        for question in questions
        if isinstance(text := value.get(text_input(question)), str) and text.strip()
    }
    choices: list[str] = []
    for part in str(value.get(CHOICES_INPUT) or "").split(","):
        index = part.strip()
        if (
            index.isascii()
            and index.isdigit()
            and len(index) <= 4
            and int(index) < len(topic_choices)
        ):
            choices.append(topic_choices[int(index)])
        elif index:
            return None
    # The toggle may vouch for names only; storage re-checks every text whatever it says.
    no_client = value.get(NO_CLIENT_INPUT) in (True, "true")
    return Answer(
        ratings=ratings,
        texts=texts,
        choices=choices,
        confirmed=[kind.value for kind in CONFIRMABLE] if no_client else (),
    )


async def _answer(turn: FeatureTurn, value: dict[str, Any]) -> None:
    survey_id = id_param(value, "survey_id")
    if survey_id is None:
        await turn.say("error.unknown_action")
        return
    async with turn.sessions() as session:
        survey = await surveys.get_survey(session, survey_id=survey_id)
    if survey is None:
        await turn.say("surveys.answer.not_invited")
        return
    answer = _answer_from(value, survey)
    if answer is None:
        await turn.say("surveys.answer.invalid.invalid_choice")
        return
    await save_answer(
        turn.sessions,
        turn.context,
        info=turn.info,
        survey_id=survey_id,
        answer=answer,
        master=turn.settings.master_key(),
        now=turn.clock(),
    )


async def _needs_preview_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    community_id = id_param(value, "community_id")
    if community_id is None:
        await turn.say("error.unknown_action")
        return
    await _needs_preview(turn, community_id)


async def _needs_start(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _start_member_survey(turn, value, SurveyKind.NEEDS)


async def _learning_preview_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    community_id = id_param(value, "community_id")
    if community_id is None:
        await turn.say("error.unknown_action")
        return
    await _learning_preview(turn, community_id)


async def _learning_start(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _start_member_survey(turn, value, SurveyKind.LEARNING)


# What an animator is told, by kind of survey launched for every member.
ALREADY_OPEN = {
    SurveyKind.NEEDS: "surveys.needs.already_open",
    SurveyKind.LEARNING: "surveys.learning.already_open",
}
STARTED = {
    SurveyKind.NEEDS: "surveys.needs.started",
    SurveyKind.LEARNING: "surveys.learning.started",
}


async def _start_member_survey(turn: FeatureTurn, value: dict[str, Any], kind: SurveyKind) -> None:
    """Launch a needs survey or the learning questionnaire and queue the invitations; a second
    click (or a second animator) finds it open and is told until when."""
    community_id = id_param(value, "community_id")
    if community_id is None:
        await turn.say("error.unknown_action")
        return
    now = turn.clock()
    opener = (
        surveys.open_learning_survey if kind == SurveyKind.LEARNING else surveys.open_needs_survey
    )
    try:
        async with transaction(turn.sessions) as session:
            survey, invited = await opener(
                session,
                community_id=community_id,
                by_person_id=turn.person_id,
                now=now,
                tz=turn.info.timezone,
            )
            assert survey.id is not None
            for person_id in invited:
                await outbox.enqueue(
                    session,
                    dedup_key=surveys.invitation_key(survey.id, person_id),
                    recipient=outbox.Recipient.person(person_id),
                    kind=KIND_INVITATION,
                    params={"survey_id": survey.id},
                )
    except AlreadyOpen as error:
        await turn.say(
            ALREADY_OPEN[kind],
            day=format_when(error.closes_at, locale=turn.info.locale, tz=turn.info.timezone),
        )
        return
    except NotAllowed:
        await turn.say("surveys.animators_only")
        return
    if invited:
        turn.wake()
    await turn.context.send_activity(
        plural(
            turn.info.locale,
            STARTED[kind],
            len(invited),
            day=format_when(survey.closes_at, locale=turn.info.locale, tz=turn.info.timezone),
        )
    )


async def _results_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    survey_id = id_param(value, "survey_id")
    if survey_id is not None:
        await _show_results(turn, survey_id)
        return
    await _results_for_community(turn, id_param(value, "community_id"))


async def _topic(turn: FeatureTurn, value: dict[str, Any]) -> None:
    survey_id = id_param(value, "survey_id")
    text = value.get("text")
    if survey_id is None or not isinstance(text, str):
        await turn.say("error.unknown_action")
        return
    try:
        async with transaction(turn.sessions) as session:
            topic = await surveys.add_suggestion_to_bank(
                session,
                survey_id=survey_id,
                text=text,
                by_person_id=turn.person_id,
                now=turn.clock(),
            )
    except AlreadyInBank as error:
        await turn.say("surveys.topic.already", title=error.title)
        return
    except NotAllowed:
        await turn.say("surveys.animators_only")
        return
    except UnknownSurvey:
        await turn.say("error.unknown_action")
        return
    await turn.say("surveys.topic.added", title=topic.title)


# The survey cards' buttons, as the feature declares them (bot/features/surveys.py); the host
# routes a button here only for a recorded sender (bot/registry.py).
ACTIONS: Mapping[str, VerbHandler] = {
    VERB_ANSWER: _answer,
    VERB_NEEDS_PREVIEW: _needs_preview_verb,
    VERB_NEEDS_START: _needs_start,
    VERB_LEARNING_PREVIEW: _learning_preview_verb,
    VERB_LEARNING_START: _learning_start,
    VERB_RESULTS: _results_verb,
    VERB_TOPIC: _topic,
}


__all__ = [
    "ACTIONS",
    "SURVEY_RENDERERS",
    "on_learning_survey_command",
    "on_needs_survey_command",
    "on_results_command",
    "open_due_surveys",
    "seal_closed_surveys",
    "survey_reminders",
]
