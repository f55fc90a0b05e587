"""Questions to the community in the bot: the `question` command, the `questions.*` card verbs,
answers replied in a question card's thread, the unanswered-question job, the renderers.

No routing here: bot/features/questions.py declares the command, the verbs (`ACTIONS`), the
thread replies (`on_thread_reply`), the job and `QUESTION_RENDERERS` to the host. Every action
re-checks its rule in storage/questions.py; card data only says which question is meant.

Who sees what: the card in the channel is one card for everyone (updated in place after each
answer), in the bot's default language, and names nobody for an anonymous question. What is
for one person only (a refusal, the controls of the asker or a facilitator) goes to their 1:1
chat through the outbox, never into the channel: a word in the channel after a click would
show everyone who clicked.

Outbox kinds (storage/questions.py): question_post (the card, posted; its Teams message id is
recorded once Teams has it), question_card (the card updated in place), question_removed (an
erased question's card replaced by a notice), question_manage (a private card with the
question's controls: a new answer for the asker, « Gérer », unanswered for 3 working days).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from microsoft_agents.activity import Activity
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels import channel_community
from bot.deliveries import RecordedRenderer, RenderContext, Renderer
from bot.personal import begin_dialog_privately
from bot.turns import FeatureTurn, VerbHandler, card_activity, param_int
from cards.confirm import build_outcome_card, is_confirmed
from cards.consultations import identifier_kinds_text
from cards.questions import (
    ANSWER_INPUT,
    VERB_ANSWER,
    VERB_ASK,
    VERB_HELPFUL,
    VERB_MANAGE,
    VERB_TOOLBOX,
    VERB_WITHDRAW,
    build_manage_card,
    build_question_card,
    build_removed_card,
    build_withdraw_confirmation_card,
    identifiers_key,
    text_problem_key,
    text_problem_message,
)
from dialogs.ask_question_dialog import AskQuestionDialog, AskQuestionOptions
from dialogs.base import simplify
from storage import communities, outbox, questions
from storage.communities import NotAllowed, has_role
from storage.db import SessionFactory, transaction
from storage.identifiers import HasIdentifiers
from storage.models import ConversationRef, OutboxMessage, Question, QuestionStatus
from storage.outbox import Claimed
from storage.questions import (
    KIND_CARD,
    KIND_MANAGE,
    KIND_POST,
    KIND_REMOVED,
    REASON_FLAGGED,
    REASON_MANAGE,
    REASON_NEW_ANSWER,
    REASONS,
    InvalidText,
    NoHelpfulAnswer,
    NotPosted,
    QuestionNotFound,
    QuestionWithdrawn,
)

logger = logging.getLogger(__name__)

Wake = Callable[[], None]
TEAMS_LINK = "https://teams.microsoft.com/l/message/"


def message_link(*, channel_id: str, message_id: str, tenant_id: str | None) -> str | None:
    """The Teams deep link to a channel message (https only); None without both ids."""
    if not channel_id or not message_id:
        return None
    query = {"parentMessageId": message_id}
    if tenant_id:
        query["tenantId"] = tenant_id
    return (
        f"{TEAMS_LINK}{quote(channel_id, safe='')}/{quote(message_id, safe='')}?{urlencode(query)}"
    )


async def _link_of(session: AsyncSession, question: Question) -> str | None:
    if question.conversation_ref_id is None or not question.activity_id:
        return None
    conversation = await session.get(ConversationRef, question.conversation_ref_id)
    if conversation is None:
        return None
    return message_link(
        channel_id=conversation.conversation_id.split(";")[0],
        message_id=question.activity_id,
        tenant_id=conversation.tenant_id,
    )


def _activity_key(turn: FeatureTurn) -> str:
    return str(turn.context.activity.id or uuid.uuid4().hex)


# -- outbox renderers ------------------------------------------------------------------------


async def _channel_card(
    context: RenderContext, question_id: int
) -> tuple[Activity, Question] | None:
    async with context.sessions() as session:
        found = await questions.view(session, question_id=question_id)
    if found is None:
        return None
    card = build_question_card(found, locale=context.locale, tz=context.timezone)
    return card_activity(card), found.question


async def render_post(context: RenderContext) -> Activity | None:
    """The question's card, posted as a new message in the community's channel."""
    question_id = param_int(context.message.params, "question_id")
    if question_id is None:
        return None
    built = await _channel_card(context, question_id)
    if built is None:
        return None
    activity, question = built
    if question.activity_id or question.status == QuestionStatus.WITHDRAWN:
        return None  # posted already (a retry after a crash), or taken back before it went out
    return activity


async def _posted(message: Claimed, sessions: SessionFactory, _now: datetime) -> None:
    """Teams accepted the card: keep its message id (updates in place, replies in its thread)."""
    question_id = param_int(message.params, "question_id")
    if question_id is None:
        return
    async with transaction(sessions) as session:
        row = await session.get(OutboxMessage, message.id)
        if row is None or not row.activity_id:
            logger.warning("question %s posted without an activity id", question_id)
            return
        await questions.record_posted(session, question_id=question_id, activity_id=row.activity_id)


async def render_card(context: RenderContext) -> Activity | None:
    """The posted card with its current answers, as an update of the posted message."""
    question_id = param_int(context.message.params, "question_id")
    if question_id is None:
        return None
    built = await _channel_card(context, question_id)
    if built is None:
        return None
    activity, question = built
    if not question.activity_id:
        return None  # not posted yet: the post shows the current answers when it goes out
    activity.id = question.activity_id
    return activity


async def render_removed(context: RenderContext) -> Activity | None:
    """An erased question's card, replaced by a notice (the question is gone)."""
    activity_id = context.message.params.get("activity_id")
    if not isinstance(activity_id, str) or not activity_id:
        return None
    activity = card_activity(build_removed_card(locale=context.locale))
    activity.id = activity_id
    return activity


async def _manage_card(
    session: AsyncSession,
    question_id: int,
    *,
    person_id: int,
    reason: str,
    locale: str,
    tz: str,
) -> dict[str, Any] | None:
    """The private card for someone who may manage the question; None for anyone else."""
    found = await questions.view(session, question_id=question_id)
    if found is None:
        return None
    question = found.question
    if not await questions.may_manage(session, question=question, person_id=person_id):
        return None
    return build_manage_card(
        found,
        await questions.answers_of(session, question_id=question_id),
        is_asker=question.asked_by_id == person_id,
        reason=reason,
        locale=locale,
        tz=tz,
    )


async def render_manage(context: RenderContext) -> Activity | None:
    """A question's controls, to its asker or a facilitator who still may use them."""
    params = context.message.params
    question_id = param_int(params, "question_id")
    reason = params.get("reason")
    recipient = context.message.person_id
    if question_id is None or recipient is None or reason not in REASONS:
        return None
    async with context.sessions() as session:
        question = await questions.get_question(session, question_id=question_id)
        if question is None or question.status == QuestionStatus.WITHDRAWN:
            return None
        if reason == REASON_NEW_ANSWER and question.asked_by_id != recipient:
            return None
        if reason == REASON_FLAGGED:
            member = await communities.membership(
                session, person_id=recipient, community_id=question.community_id
            )
            answered = await questions.answers_of(session, question_id=question_id)
            if (
                answered
                or question.status != QuestionStatus.OPEN
                or not has_role(member, *questions.FACILITATOR_ROLES)
            ):
                return None  # answered meanwhile, or no longer a facilitator
        card = await _manage_card(
            session,
            question_id,
            person_id=recipient,
            reason=str(reason),
            locale=context.locale,
            tz=context.timezone,
        )
    return card_activity(card) if card is not None else None


QUESTION_RENDERERS: dict[str, Renderer] = {
    KIND_POST: RecordedRenderer(render_post, _posted),
    KIND_CARD: render_card,
    KIND_REMOVED: render_removed,
    KIND_MANAGE: render_manage,
}


# -- telling one person ----------------------------------------------------------------------


async def _tell(turn: FeatureTurn, question_id: int | None, key: str, **values: Any) -> None:
    """A word for this person alone: said here in their 1:1 chat; from a channel, sent to
    their 1:1 chat through the outbox (a reply in the channel would show everyone)."""
    if not turn.info.in_channel:
        await turn.say(key, **values)
        return
    async with transaction(turn.sessions) as session:
        queued = await outbox.enqueue(
            session,
            dedup_key=questions.notice_key(question_id, _activity_key(turn), turn.person_id),
            recipient=outbox.Recipient.person(turn.person_id),
            kind=outbox.KIND_NOTICE,
            params={"text": key, "values": values},
        )
    if queued:
        turn.wake()


async def _refresh_card(turn: FeatureTurn, question_id: int) -> None:
    """The channel card with its current answers: updated from this turn when it comes from
    the channel (the person sees it at once), otherwise through the outbox — which also takes
    over if Teams refuses the update."""
    if turn.info.in_channel:
        async with turn.sessions() as session:
            found = await questions.view(session, question_id=question_id)
        if found is None:
            return
        question = found.question
        if question.activity_id:
            activity = card_activity(
                build_question_card(
                    found, locale=turn.settings.default_locale, tz=turn.info.timezone
                )
            )
            activity.id = question.activity_id
            try:
                await turn.context.update_activity(activity)
                return
            except Exception:
                logger.warning("question %s card not updated in place; queued", question_id)
    async with transaction(turn.sessions) as session:
        question_row = await questions.get_question(session, question_id=question_id)
        if question_row is None or question_row.conversation_ref_id is None:
            return
        queued = await outbox.enqueue(
            session,
            dedup_key=questions.card_key(question_id, _activity_key(turn)),
            recipient=outbox.Recipient.conversation(question_row.conversation_ref_id),
            kind=KIND_CARD,
            params={"question_id": question_id},
        )
    if queued:
        turn.wake()


# -- asking ------------------------------------------------------------------------------------


def original_argument(text: str, simplified: str) -> str:
    """What followed the command's words, as typed (the parser gives it simplified: no
    accents, no capitals, which must not reach the channel)."""
    tokens = text.split()
    for size in range(1, min(len(tokens), 6) + 1):
        rest = " ".join(tokens[size:])
        if simplify(rest) == simplified:
            return rest.strip()
    return ""


async def on_question_command(turn: FeatureTurn, *, argument: str) -> None:
    """`question` alone: the dialog (in the 1:1 chat). `question <text>` in the channel: asked
    at once, with the person's name (their message in the channel already shows it); in the
    1:1 chat, the dialog with the text already given."""
    typed = original_argument(str(turn.context.activity.text or ""), argument) if argument else ""
    if turn.info.person_id is None:
        await turn.say("questions.ask.not_member")
        return
    community = (
        await channel_community(turn.sessions, turn.info, turn.context.activity)
        if turn.info.in_channel
        else None
    )
    if turn.info.in_channel and community is None:
        await turn.say("questions.no_community_here")
        return
    if turn.info.in_channel and typed and community is not None and community.id is not None:
        await _ask_in_channel(turn, community.id, community.name, typed)
        return
    await start_dialog(turn, community_id=community.id if community else None, text=typed)


async def start_dialog(turn: FeatureTurn, *, community_id: int | None, text: str = "") -> None:
    if turn.info.in_channel and community_id is not None:
        async with turn.sessions() as session:
            member = await communities.membership(
                session, person_id=turn.person_id, community_id=community_id
            )
        if member is None or member.left_at is not None:
            await turn.say("questions.ask.not_member_here")
            return
    await begin_dialog_privately(
        turn.host,
        turn.context,
        AskQuestionDialog.ID,
        AskQuestionOptions(community_id=community_id, text=text),
        note_key="questions.ask.moved_to_personal",
    )


async def _ask_in_channel(turn: FeatureTurn, community_id: int, name: str, text: str) -> None:
    locale = turn.info.locale
    try:
        async with transaction(turn.sessions) as session:
            question, created = await questions.ask(
                session,
                community_id=community_id,
                person_id=turn.person_id,
                text=text,
                anonymous=False,
                request_key=questions.activity_request_key(_activity_key(turn)),
                now=turn.clock(),
            )
    except NotAllowed:
        await turn.say("questions.ask.not_member_here")
        return
    except questions.NoChannel:
        await turn.say("questions.ask.no_channel", community=name)
        return
    except HasIdentifiers as spotted:
        # Their message is in the channel already: they are told privately, to edit it.
        await _tell(
            turn,
            None,
            identifiers_key(answer=False),
            kinds=identifier_kinds_text(spotted.kinds, locale=locale),
        )
        return
    except InvalidText as invalid:
        await turn.context.send_activity(
            text_problem_message(invalid.reason, answer=False, locale=locale)
        )
        return
    if created:
        turn.wake()
        await turn.say("questions.ask.posted_in_channel")
    else:
        await turn.say("questions.ask.already", community=name)
    logger.info("question %s asked from the channel", question.id)


# -- card actions ------------------------------------------------------------------------------


async def _ask(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await start_dialog(turn, community_id=param_int(value, "community_id"))


def _answer_text(value: dict[str, Any]) -> str:
    raw = value.get(ANSWER_INPUT)
    return raw.strip() if isinstance(raw, str) else ""


async def record_answer(
    turn: FeatureTurn, question_id: int, text: str, *, activity_id: str | None
) -> bool:
    """Record an answer from this turn; refusals go to the person alone. True when recorded
    (or found recorded already: the card is refreshed either way)."""
    locale = turn.info.locale
    try:
        async with transaction(turn.sessions) as session:
            _row, created = await questions.answer(
                session,
                question_id=question_id,
                person_id=turn.person_id,
                text=text,
                activity_id=activity_id,
                now=turn.clock(),
            )
    except QuestionNotFound:
        await _tell(turn, question_id, "error.unknown_action")
        return False
    except QuestionWithdrawn:
        await _tell(turn, question_id, "questions.answer.withdrawn")
        return False
    except NotAllowed:
        await _tell(turn, question_id, "questions.answer.not_member")
        return False
    except InvalidText as invalid:
        key, limits = text_problem_key(invalid.reason, answer=True)
        await _tell(turn, question_id, key, **limits)
        return False
    except HasIdentifiers as spotted:
        await _tell(
            turn,
            question_id,
            identifiers_key(answer=True),
            kinds=identifier_kinds_text(spotted.kinds, locale=locale),
        )
        return False
    if created:
        turn.wake()  # the asker's private card
    return True


async def _answer(turn: FeatureTurn, value: dict[str, Any]) -> None:
    question_id = param_int(value, "question_id")
    if question_id is None:
        await _tell(turn, None, "error.unknown_action")
        return
    if await record_answer(
        turn,
        question_id,
        _answer_text(value),
        activity_id=questions.form_activity(str(turn.context.activity.id or uuid.uuid4().hex)),
    ):
        await _refresh_card(turn, question_id)


async def on_thread_reply(turn: FeatureTurn) -> bool:
    """A message to the bot in a channel thread: an answer when the thread is a question's
    card; False (the host carries on) for any other thread."""
    activity = turn.context.activity
    conversation_id = str(activity.conversation.id or "") if activity.conversation else ""
    if turn.info.person_id is None or ";messageid=" not in conversation_id:
        return False
    async with turn.sessions() as session:
        question = await questions.question_of_thread(session, conversation_id=conversation_id)
    if question is None or question.id is None:
        return False
    if await record_answer(
        turn, question.id, str(activity.text or "").strip(), activity_id=activity.id
    ):
        await _refresh_card(turn, question.id)
    return True


async def _manage(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """« Gérer » on the channel card: the asker's or a facilitator's controls, in their 1:1
    chat; anyone else is told privately that only they may."""
    question_id = param_int(value, "question_id")
    if question_id is None:
        await _tell(turn, None, "error.unknown_action")
        return
    async with turn.sessions() as session:
        question = await questions.get_question(session, question_id=question_id)
        allowed = question is not None and await questions.may_manage(
            session, question=question, person_id=turn.person_id
        )
        card = (
            await _manage_card(
                session,
                question_id,
                person_id=turn.person_id,
                reason=REASON_MANAGE,
                locale=turn.info.locale,
                tz=turn.info.timezone,
            )
            if allowed and not turn.info.in_channel
            else None
        )
    if question is None:
        await _tell(turn, question_id, "error.unknown_action")
        return
    if not allowed:
        await _tell(turn, question_id, "questions.manage.not_allowed")
        return
    if card is not None:
        await turn.show(card)
        return
    async with transaction(turn.sessions) as session:
        queued = await outbox.enqueue(
            session,
            dedup_key=questions.manage_key(question_id, _activity_key(turn), turn.person_id),
            recipient=outbox.Recipient.person(turn.person_id),
            kind=KIND_MANAGE,
            params={"question_id": question_id, "reason": REASON_MANAGE},
        )
    if queued:
        turn.wake()


async def _show_controls(turn: FeatureTurn, question_id: int) -> None:
    """The clicked private card, replaced by the question as it is now."""
    async with turn.sessions() as session:
        card = await _manage_card(
            session,
            question_id,
            person_id=turn.person_id,
            reason=REASON_MANAGE,
            locale=turn.info.locale,
            tz=turn.info.timezone,
        )
    if card is not None:
        await turn.replace_clicked(card)


async def _helpful(turn: FeatureTurn, value: dict[str, Any]) -> None:
    question_id = param_int(value, "question_id")
    answer_id = param_int(value, "answer_id")
    if question_id is None or answer_id is None:
        await _tell(turn, question_id, "error.unknown_action")
        return
    try:
        async with transaction(turn.sessions) as session:
            _question, changed = await questions.mark_helpful(
                session,
                question_id=question_id,
                answer_id=answer_id,
                person_id=turn.person_id,
                now=turn.clock(),
            )
    except QuestionNotFound:
        await _tell(turn, question_id, "error.unknown_action")
        return
    except QuestionWithdrawn:
        await _tell(turn, question_id, "questions.answer.withdrawn")
        return
    except NotAllowed:
        await _tell(turn, question_id, "questions.manage.not_allowed")
        return
    if not changed:
        await _tell(turn, question_id, "questions.helpful.already")
        return
    await _show_controls(turn, question_id)
    await _tell(turn, question_id, "questions.helpful.done")
    await _refresh_card(turn, question_id)


async def _withdraw(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """« Retirer la question »: asks first; the confirmation's button withdraws (the asker's
    right checked again)."""
    question_id = param_int(value, "question_id")
    if question_id is None:
        await _tell(turn, None, "error.unknown_action")
        return
    if not is_confirmed(value):
        async with turn.sessions() as session:
            question = await questions.get_question(session, question_id=question_id)
            count = len(await questions.answers_of(session, question_id=question_id))
        if question is None:
            await _tell(turn, question_id, "error.unknown_action")
        elif question.asked_by_id != turn.person_id:
            await _tell(turn, question_id, "questions.withdraw.not_allowed")
        elif question.status == QuestionStatus.WITHDRAWN:
            await _tell(turn, question_id, "questions.withdraw.already")
        elif turn.info.in_channel:
            await _tell(turn, question_id, "questions.withdraw.private_only")
        else:
            await turn.show(
                build_withdraw_confirmation_card(
                    question_id, answers=count, locale=turn.info.locale
                )
            )
        return
    try:
        async with transaction(turn.sessions) as session:
            _question, changed = await questions.withdraw(
                session, question_id=question_id, person_id=turn.person_id, now=turn.clock()
            )
    except QuestionNotFound:
        await _tell(turn, question_id, "error.unknown_action")
        return
    except NotAllowed:
        await _tell(turn, question_id, "questions.withdraw.not_allowed")
        return
    key = "questions.withdraw.done" if changed else "questions.withdraw.already"
    if turn.info.in_channel:
        await _tell(turn, question_id, key)
    else:
        await turn.replace_clicked(build_outcome_card(turn.t(key)))
    if changed:
        await _refresh_card(turn, question_id)


async def _to_toolbox(turn: FeatureTurn, value: dict[str, Any]) -> None:
    question_id = param_int(value, "question_id")
    if question_id is None:
        await _tell(turn, None, "error.unknown_action")
        return
    try:
        async with transaction(turn.sessions) as session:
            question = await questions.get_question(session, question_id=question_id)
            link = await _link_of(session, question) if question is not None else None
            resource, created = await questions.to_toolbox(
                session,
                question_id=question_id,
                person_id=turn.person_id,
                url=link,
                now=turn.clock(),
            )
    except QuestionNotFound:
        await _tell(turn, question_id, "error.unknown_action")
        return
    except QuestionWithdrawn:
        await _tell(turn, question_id, "questions.answer.withdrawn")
        return
    except NotAllowed:
        await _tell(turn, question_id, "questions.manage.not_allowed")
        return
    except NoHelpfulAnswer:
        await _tell(turn, question_id, "questions.toolbox.no_helpful")
        return
    except NotPosted:
        await _tell(turn, question_id, "questions.toolbox.not_posted")
        return
    except (HasIdentifiers, ValueError):
        # The toolbox's own checks refused the entry (its rules may be stricter than ours).
        await _tell(turn, question_id, "questions.toolbox.refused")
        return
    key = "questions.toolbox.done" if created else "questions.toolbox.already"
    await _show_controls(turn, question_id)
    await _tell(turn, question_id, key, title=resource.title)


# The questions' buttons by verb (`questions.*`), as bot/features/questions.py declares them.
ACTIONS: Mapping[str, VerbHandler] = {
    VERB_ASK: _ask,
    VERB_ANSWER: _answer,
    VERB_MANAGE: _manage,
    VERB_HELPFUL: _helpful,
    VERB_WITHDRAW: _withdraw,
    VERB_TOOLBOX: _to_toolbox,
}


# -- the scheduler's job -----------------------------------------------------------------------


async def flag_unanswered(
    *,
    sessions: SessionFactory,
    now: datetime,
    timezone: str,
    extra_non_working_days: Sequence[date] = (),
    wake: Wake,
) -> int:
    """Questions unanswered for 3 working days: their facilitators are told, once. Idempotent
    and safe on several replicas; returns how many messages were queued."""
    async with transaction(sessions) as session:
        queued = await questions.queue_flags(
            session,
            now=now,
            timezone=timezone,
            extra_non_working_days=extra_non_working_days,
        )
    if queued:
        wake()
    return queued
