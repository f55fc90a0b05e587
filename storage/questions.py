"""Questions to the community: a member asks, colleagues answer, the answer that helped is kept.

Rules, all checked here whatever a card or a message claimed:
- Only an active member asks, in a community whose channel the bot can write in; the question
  is posted there as a card (through the outbox, `KIND_POST`). With `anonymous`, the card names
  nobody: the asker's id stays on the row only so that they can mark the answer that helped
  and withdraw it, and no view, card, message to others or log line ever shows it.
- Only active members answer, on the card's form or by a reply in the card's thread (the Teams
  activity is kept with the answer: the same activity delivered twice records one answer). The
  same text from the same person on the same question is one answer (a double click).
- The asker, or a facilitator (animateur) of the community, marks the answer that helped (the
  question is then answered) and can turn the exchange into a toolbox entry; only the asker
  withdraws the question (then nobody answers any more, and its card says so).
- Free text (question, answer) is screened for client identifiers: nothing spotted is kept.
- A question still without an answer after `FLAG_AFTER_WORKING_DAYS` working days is brought
  to the facilitators' attention once (`flagged_at`, set by a conditional update, and one
  outbox key per facilitator: two replicas never tell them twice).

Erasure (storage/privacy.py calls `erase_person`; see docs/decisions.md): a question the person
asked stays, without its author, when someone else answered it (their answers need it);
otherwise it is deleted, with the person's own answers to it, and its card in the channel is
replaced by a short notice. The person's answers to others' questions stay, without author and
without the Teams message they came from.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import CursorResult, delete, exists, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox, toolbox
from storage.communities import NotAllowed, has_role, membership, people_with_role
from storage.identifiers import HasIdentifiers, IdentifierKind, likely_identifiers
from storage.models import (
    Community,
    ConversationRef,
    ConversationScope,
    Membership,
    Person,
    Question,
    QuestionAnswer,
    QuestionStatus,
    Resource,
    ResourceKind,
    ResourceVisibility,
    Role,
)
from storage.sql import insert_if_absent
from storage.working_days import working_days_between

logger = logging.getLogger(__name__)

MIN_QUESTION_LENGTH = 10
MAX_QUESTION_LENGTH = 2000
MIN_ANSWER_LENGTH = 2
MAX_ANSWER_LENGTH = 2000
FLAG_AFTER_WORKING_DAYS = 3
# How many answers the channel card shows (the latest; the helpful one always).
ANSWERS_SHOWN = 5
# A toolbox entry's limits (storage/models.py Resource: title 200; the toolbox's « why » 500).
RESOURCE_TITLE_LENGTH = 200
RESOURCE_WHY_LENGTH = 500
FACILITATOR_ROLES = (Role.ANIMATOR,)

# Why a text was refused; the bot layer maps each to a catalog message.
TOO_SHORT = "too_short"
TOO_LONG = "too_long"

# Outbox kinds (renderers in bot/questions_flow.py). Keys below keep their exact format: a key
# spelled differently would not deduplicate against a row already queued.
KIND_POST = "question_post"  # the card, posted in the community's channel: {"question_id"}
KIND_CARD = "question_card"  # the posted card, updated in place: {"question_id"}
KIND_REMOVED = "question_removed"  # the card replaced by a notice (erased): {"activity_id"}
# A private card with the question's controls: {"question_id", "reason"}; reasons below.
KIND_MANAGE = "question_manage"
REASON_NEW_ANSWER = "new_answer"  # to the asker
REASON_MANAGE = "manage"  # to whoever pressed « Gérer » and may
REASON_FLAGGED = "flagged"  # to each facilitator: unanswered after N working days
REASONS = (REASON_NEW_ANSWER, REASON_MANAGE, REASON_FLAGGED)
FORM_PREFIX = "card:"


def _short(key: str) -> str:
    """A Teams activity id in a key: hashed, so every key has the same short shape."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def form_activity(activity_id: str) -> str:
    """An answer's activity when it came from the card's form (a private click), told apart
    from a reply in the card's thread (a message everyone sees, with its author's name)."""
    return f"{FORM_PREFIX}{activity_id}"


def in_thread(answer: QuestionAnswer) -> bool:
    return answer.activity_id is not None and not answer.activity_id.startswith(FORM_PREFIX)


def activity_request_key(activity_key: str) -> str:
    """A question asked by one incoming activity (`question …` typed in the channel)."""
    return f"activity:{_short(activity_key)}"


def post_key(question_id: int) -> str:
    return f"question:{question_id}:post"


def card_key(question_id: int, activity_key: str) -> str:
    """The card's update after a change made by one incoming activity."""
    return f"question:{question_id}:card:{_short(activity_key)}"


def removed_key(question_id: int) -> str:
    return f"question:{question_id}:removed"


def answer_notice_key(question_id: int, answer_id: int, person_id: int) -> str:
    return f"question:{question_id}:answer:{answer_id}:to:{person_id}"


def manage_key(question_id: int, activity_key: str, person_id: int) -> str:
    return f"question:{question_id}:manage:{_short(activity_key)}:to:{person_id}"


def flagged_key(question_id: int, person_id: int) -> str:
    """Once per question and facilitator, whichever replica's job sees it first."""
    return f"question:{question_id}:flagged:to:{person_id}"


def notice_key(question_id: int | None, activity_key: str, person_id: int) -> str:
    """A word for one person alone (a refusal on the channel card), once per activity."""
    return f"question:{question_id}:notice:{_short(activity_key)}:to:{person_id}"


# -- errors ----------------------------------------------------------------------------------


class QuestionNotFound(LookupError):
    """No such question or answer (a stale card, forged data)."""


class QuestionWithdrawn(NotAllowed):
    """The asker withdrew the question: nothing more happens on it."""


class InvalidText(ValueError):
    """A question or answer too short or too long (`reason`: TOO_SHORT, TOO_LONG)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoChannel(LookupError):
    """The community has no channel the bot can write in: the question could not be posted."""


class NoHelpfulAnswer(ValueError):
    """A toolbox entry is made from the answer that helped: none is marked yet."""


class NotPosted(ValueError):
    """The card is not in the channel yet: there is no link to it to keep."""


# -- text rules --------------------------------------------------------------------------------


def _normalized(text: str) -> str:
    """How two texts are compared for a double click: case, accents and spaces aside."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.split())


def text_problem(text: str, *, minimum: int, maximum: int) -> str | None:
    value = text.strip()
    if len(value) < minimum:
        return TOO_SHORT
    if len(value) > maximum:
        return TOO_LONG
    return None


def question_problem(text: str) -> str | None:
    return text_problem(text, minimum=MIN_QUESTION_LENGTH, maximum=MAX_QUESTION_LENGTH)


def answer_problem(text: str) -> str | None:
    return text_problem(text, minimum=MIN_ANSWER_LENGTH, maximum=MAX_ANSWER_LENGTH)


def spotted(text: str) -> tuple[IdentifierKind, ...]:
    """What in the text could identify a client (the kinds only, never the text)."""
    return likely_identifiers(text)


def _checked(text: str, problem: str | None) -> str:
    if problem is not None:
        raise InvalidText(problem)
    found = spotted(text)
    if found:
        raise HasIdentifiers(found)
    return text.strip()


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerRow:
    id: int
    text: str
    # The answerer's name; None when they were erased (shown as « un membre »).
    author: str | None
    # The asker answering their own anonymous question: shown as « la personne qui demande ».
    by_asker: bool
    created_at: datetime
    helpful: bool


@dataclass(frozen=True, slots=True)
class QuestionView:
    """A question as every viewer may see it: never the asker of an anonymous question."""

    question: Question
    community: Community
    # The asker's name for a named question; None for an anonymous one or an erased asker.
    asker: str | None
    answers: tuple[AnswerRow, ...]  # the latest ANSWERS_SHOWN (and the helpful one), oldest first
    answer_count: int
    helpful: AnswerRow | None


async def get_question(session: AsyncSession, *, question_id: int) -> Question | None:
    return await session.get(Question, question_id)


async def _locked(session: AsyncSession, question_id: int) -> Question:
    """The question, locked for the rest of the transaction (SQLite's writer lock already
    serialises; PostgreSQL locks the row): two clicks at once act one after the other."""
    found = (
        await session.exec(
            select(Question)
            .where(col(Question.id) == question_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).first()
    if found is None:
        raise QuestionNotFound(question_id)
    return found


async def view(
    session: AsyncSession, *, question_id: int, shown: int = ANSWERS_SHOWN
) -> QuestionView | None:
    question = await session.get(Question, question_id)
    if question is None:
        return None
    community = await session.get(Community, question.community_id)
    if community is None:
        return None
    asker: str | None = None
    if not question.anonymous and question.asked_by_id is not None:
        person = await session.get(Person, question.asked_by_id)
        asker = person.name if person is not None else None
    count = int(
        (
            await session.exec(
                select(func.count())
                .select_from(QuestionAnswer)
                .where(col(QuestionAnswer.question_id) == question_id)
            )
        ).one()
    )
    latest = list(
        (
            await session.exec(
                select(QuestionAnswer, Person.name)
                .outerjoin(Person, col(Person.id) == col(QuestionAnswer.answered_by_id))
                .where(col(QuestionAnswer.question_id) == question_id)
                .order_by(col(QuestionAnswer.created_at).desc(), col(QuestionAnswer.id).desc())
                .limit(shown)
            )
        ).all()
    )
    helpful_row: tuple[QuestionAnswer, str | None] | None = None
    if question.helpful_answer_id is not None:
        helpful_row = next((r for r in latest if r[0].id == question.helpful_answer_id), None)
        if helpful_row is None:
            found = (
                await session.exec(
                    select(QuestionAnswer, Person.name)
                    .outerjoin(Person, col(Person.id) == col(QuestionAnswer.answered_by_id))
                    .where(col(QuestionAnswer.id) == question.helpful_answer_id)
                )
            ).first()
            if found is not None:
                helpful_row = (found[0], found[1])
                latest = [*latest[: max(shown - 1, 0)], helpful_row]

    def row(answer: QuestionAnswer, name: str | None) -> AnswerRow:
        by_asker = (
            question.asked_by_id is not None and answer.answered_by_id == question.asked_by_id
        )
        # An anonymous asker's own answers on the card's form name nobody either. A reply they
        # wrote in the thread shows their name in Teams already: the card says the same, rather
        # than « la personne qui pose la question » beside a named message, which would tell.
        hidden = by_asker and question.anonymous and not in_thread(answer)
        return AnswerRow(
            id=answer.id or 0,
            text=answer.text,
            author=None if hidden else name,
            by_asker=hidden,
            created_at=answer.created_at,
            helpful=answer.id == question.helpful_answer_id,
        )

    rows = sorted((row(a, n) for a, n in latest), key=lambda r: (r.created_at, r.id))
    return QuestionView(
        question=question,
        community=community,
        asker=asker,
        answers=tuple(rows),
        answer_count=count,
        helpful=next((r for r in rows if r.helpful), None),
    )


async def answers_of(session: AsyncSession, *, question_id: int) -> list[AnswerRow]:
    """Every answer, oldest first (the private card where the asker picks the one that
    helped)."""
    found = await view(session, question_id=question_id, shown=1_000)
    return list(found.answers) if found is not None else []


async def may_manage(session: AsyncSession, *, question: Question, person_id: int) -> bool:
    """The asker, or a facilitator of the community."""
    if question.asked_by_id is not None and question.asked_by_id == person_id:
        return True
    member = await membership(session, person_id=person_id, community_id=question.community_id)
    return has_role(member, *FACILITATOR_ROLES)


async def _active_member(session: AsyncSession, *, person_id: int, community_id: int) -> None:
    member = await membership(session, person_id=person_id, community_id=community_id)
    if member is None or member.left_at is not None:
        raise NotAllowed("not a member of this community")


def thread_root(conversation_id: str) -> tuple[str, str] | None:
    """(channel id, root message id) of a reply in a channel thread
    (« 19:…@thread.tacv2;messageid=1234 »); None for anything else."""
    channel, separator, rest = conversation_id.partition(";messageid=")
    if not separator or not channel or not rest:
        return None
    return channel, rest.split(";")[0]


async def question_of_thread(session: AsyncSession, *, conversation_id: str) -> Question | None:
    """The question whose card is the root of this thread, in the channel it was posted in."""
    root = thread_root(conversation_id)
    if root is None:
        return None
    channel, message_id = root
    return (
        await session.exec(
            select(Question)
            .join(ConversationRef, col(ConversationRef.id) == col(Question.conversation_ref_id))
            .where(col(Question.activity_id) == message_id)
            .where(col(ConversationRef.conversation_id) == channel)
        )
    ).first()


async def channel_conversation(session: AsyncSession, *, community: Community) -> int | None:
    """The community's channel as a conversation the bot writes a new post in: the channel
    itself, not one of its threads (a conversation id with « ;messageid= » would make the card
    a reply in someone's thread). Recorded from any turn the bot had in that channel."""
    channel_id = community.teams_channel_id
    if not channel_id:
        return None
    own = (
        await session.exec(
            select(ConversationRef.id).where(col(ConversationRef.conversation_id) == channel_id)
        )
    ).first()
    if own is not None:
        return own
    # Only thread conversations known: the channel's address is theirs without the thread.
    known = (
        await session.exec(
            select(ConversationRef)
            .where(
                (col(ConversationRef.teams_channel_id) == channel_id)
                | col(ConversationRef.conversation_id).startswith(f"{channel_id};", autoescape=True)
            )
            .order_by(col(ConversationRef.updated_at).desc())
        )
    ).first()
    if known is None:
        return None
    await insert_if_absent(
        session,
        ConversationRef.__table__,  # type: ignore[attr-defined]
        {
            "conversation_id": channel_id,
            "scope": ConversationScope.CHANNEL.value,
            "service_url": known.service_url,
            "channel_id": known.channel_id,
            "tenant_id": known.tenant_id,
            "bot_id": known.bot_id,
            "bot_name": known.bot_name,
            "person_id": None,
            "team_id": known.team_id or community.team_id,
            "teams_channel_id": channel_id,
            "updated_at": known.updated_at,
        },
        conflict=["conversation_id"],
    )
    return (
        await session.exec(
            select(ConversationRef.id).where(col(ConversationRef.conversation_id) == channel_id)
        )
    ).first()


# -- asking ------------------------------------------------------------------------------------


async def ask(
    session: AsyncSession,
    *,
    community_id: int,
    person_id: int,
    text: str,
    anonymous: bool,
    request_key: str | None,
    now: datetime,
) -> tuple[Question, bool]:
    """Save the question and queue its card for the channel; True when this call asked it.

    NotAllowed for someone who is not an active member, InvalidText / HasIdentifiers for a text
    that cannot be posted, NoChannel when the community has no channel to post in. The same
    request (`request_key`), or the same text asked again by the same person while their first
    one is still open, returns the first question (False)."""
    await _active_member(session, person_id=person_id, community_id=community_id)
    clean = _checked(text, question_problem(text))
    community = await session.get(Community, community_id)
    if community is None:
        raise NotAllowed("no such community")
    # One ask at a time per person and community: the membership row is the lock.
    await session.exec(
        select(Membership)
        .where(col(Membership.person_id) == person_id)
        .where(col(Membership.community_id) == community_id)
        .with_for_update()
    )
    key = (request_key or "")[:64] or None
    if key is not None:
        again = (
            await session.exec(select(Question).where(col(Question.request_key) == key))
        ).first()
        if again is not None:
            return again, False
    wanted = _normalized(clean)
    for open_one in (
        await session.exec(
            select(Question)
            .where(col(Question.community_id) == community_id)
            .where(col(Question.asked_by_id) == person_id)
            .where(col(Question.status) == QuestionStatus.OPEN)
        )
    ).all():
        if _normalized(open_one.text) == wanted:
            return open_one, False
    conversation_ref_id = await channel_conversation(session, community=community)
    if conversation_ref_id is None:
        raise NoChannel(community_id)
    question = Question(
        community_id=community_id,
        asked_by_id=person_id,
        anonymous=anonymous,
        text=clean,
        status=QuestionStatus.OPEN,
        conversation_ref_id=conversation_ref_id,
        asked_at=now,
        request_key=key,
    )
    session.add(question)
    await session.flush()
    assert question.id is not None
    await outbox.enqueue(
        session,
        dedup_key=post_key(question.id),
        recipient=outbox.Recipient.conversation(conversation_ref_id),
        kind=KIND_POST,
        params={"question_id": question.id},
    )
    logger.info("question %s asked in community %s", question.id, community_id)
    return question, True


async def record_posted(session: AsyncSession, *, question_id: int, activity_id: str) -> bool:
    """The card's Teams message id, kept once (its updates and its thread need it)."""
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(Question)
        .where(col(Question.id) == question_id)
        .where(col(Question.activity_id).is_(None))
        .values(activity_id=activity_id[:255])
    )
    return bool(result.rowcount)


# -- answering ---------------------------------------------------------------------------------


async def answer(
    session: AsyncSession,
    *,
    question_id: int,
    person_id: int,
    text: str,
    activity_id: str | None,
    now: datetime,
) -> tuple[QuestionAnswer, bool]:
    """Record an answer; True when this call recorded it (False: the same activity again, or
    the same text from the same person). Queues a private card to the asker with their
    controls (not for their own answers).

    QuestionNotFound, QuestionWithdrawn, NotAllowed (not an active member), InvalidText or
    HasIdentifiers: nothing recorded."""
    question = await _locked(session, question_id)
    if question.status == QuestionStatus.WITHDRAWN:
        raise QuestionWithdrawn("withdrawn")
    await _active_member(session, person_id=person_id, community_id=question.community_id)
    clean = _checked(text, answer_problem(text))
    key = activity_id[:255] if activity_id else None
    existing = (
        await session.exec(
            select(QuestionAnswer).where(col(QuestionAnswer.question_id) == question_id)
        )
    ).all()
    wanted = _normalized(clean)
    for row in existing:
        if (key is not None and row.activity_id == key) or (
            row.answered_by_id == person_id and _normalized(row.text) == wanted
        ):
            return row, False
    created = QuestionAnswer(
        question_id=question_id,
        answered_by_id=person_id,
        text=clean,
        activity_id=key,
        created_at=now,
    )
    session.add(created)
    await session.flush()
    assert created.id is not None
    asker = question.asked_by_id
    if asker is not None and asker != person_id:
        asker_member = await membership(
            session, person_id=asker, community_id=question.community_id
        )
        if asker_member is not None and asker_member.left_at is None:
            await outbox.enqueue(
                session,
                dedup_key=answer_notice_key(question_id, created.id, asker),
                recipient=outbox.Recipient.person(asker),
                kind=KIND_MANAGE,
                params={"question_id": question_id, "reason": REASON_NEW_ANSWER},
            )
    return created, True


# -- the asker's and facilitators' actions -------------------------------------------------------


async def mark_helpful(
    session: AsyncSession, *, question_id: int, answer_id: int, person_id: int, now: datetime
) -> tuple[Question, bool]:
    """The answer that helped; the question is then answered. True when this changed it (a
    second click on the same answer changes nothing; another answer replaces the first).
    NotAllowed for anyone but the asker and the community's facilitators."""
    question = await _locked(session, question_id)
    if not await may_manage(session, question=question, person_id=person_id):
        raise NotAllowed("only the asker or a facilitator")
    if question.status == QuestionStatus.WITHDRAWN:
        raise QuestionWithdrawn("withdrawn")
    chosen = await session.get(QuestionAnswer, answer_id)
    if chosen is None or chosen.question_id != question_id:
        raise QuestionNotFound(answer_id)
    if question.helpful_answer_id == answer_id and question.status == QuestionStatus.ANSWERED:
        return question, False
    question.helpful_answer_id = answer_id
    question.status = QuestionStatus.ANSWERED
    question.answered_at = now
    session.add(question)
    await session.flush()
    return question, True


async def withdraw(
    session: AsyncSession, *, question_id: int, person_id: int, now: datetime
) -> tuple[Question, bool]:
    """The asker takes the question back; True when this call did. NotAllowed for anyone else
    (facilitators included: it is the asker's question)."""
    question = await _locked(session, question_id)
    if question.asked_by_id is None or question.asked_by_id != person_id:
        raise NotAllowed("only the asker")
    if question.status == QuestionStatus.WITHDRAWN:
        return question, False
    question.status = QuestionStatus.WITHDRAWN
    session.add(question)
    await session.flush()
    return question, True


def _clip(text: str, length: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


async def to_toolbox(
    session: AsyncSession, *, question_id: int, person_id: int, url: str | None, now: datetime
) -> tuple[Resource, bool]:
    """Turn the exchange into an entry of the community's toolbox (kind « other »): titled by
    the question, its « why » the answer that helped, its link the card's message in Teams.
    True when this call made it; a second click returns the same entry.

    NotAllowed (neither asker nor facilitator), NoHelpfulAnswer, NotPosted (no link)."""
    question = await _locked(session, question_id)
    if not await may_manage(session, question=question, person_id=person_id):
        raise NotAllowed("only the asker or a facilitator")
    if question.resource_id is not None:
        existing = await session.get(Resource, question.resource_id)
        if existing is not None:
            return existing, False
    if question.status == QuestionStatus.WITHDRAWN:
        raise QuestionWithdrawn("withdrawn")
    helpful = (
        await session.get(QuestionAnswer, question.helpful_answer_id)
        if question.helpful_answer_id is not None
        else None
    )
    if helpful is None:
        raise NoHelpfulAnswer(question_id)
    if not url or not url.startswith("https://"):
        raise NotPosted(question_id)
    resource, created = await _add_resource(
        session,
        community_id=question.community_id,
        person_id=person_id,
        title=_clip(question.text, RESOURCE_TITLE_LENGTH),
        url=url,
        why=_clip(helpful.text, RESOURCE_WHY_LENGTH),
        request_key=f"question:{question_id}:toolbox",
        now=now,
    )
    question.resource_id = resource.id
    session.add(question)
    await session.flush()
    return resource, created


async def _add_resource(
    session: AsyncSession,
    *,
    community_id: int,
    person_id: int,
    title: str,
    url: str,
    why: str,
    request_key: str,
    now: datetime,
) -> tuple[Resource, bool]:
    """Through the toolbox's own rules (storage/toolbox.py): the link checked like any other."""
    return await toolbox.add_resource(
        session,
        community_id=community_id,
        person_id=person_id,
        title=title,
        url=url,
        kind=ResourceKind.OTHER,
        themes=[],
        why=why,
        visibility=ResourceVisibility.COMMUNITY,
        request_key=request_key,
        now=now,
    )


# -- unanswered questions: the facilitators are told once ----------------------------------------


async def queue_flags(
    session: AsyncSession,
    *,
    now: datetime,
    timezone: str,
    after_working_days: int = FLAG_AFTER_WORKING_DAYS,
    extra_non_working_days: Sequence[date] = (),
) -> int:
    """Open questions posted without any answer for `after_working_days` working days: each
    facilitator gets a private card, once per question (`flagged_at`, set here conditionally,
    and one outbox key per facilitator). Returns how many messages were queued."""
    answered = exists().where(col(QuestionAnswer.question_id) == col(Question.id))
    waiting = (
        await session.exec(
            select(Question)
            .where(col(Question.status) == QuestionStatus.OPEN)
            .where(col(Question.flagged_at).is_(None))
            .where(col(Question.activity_id).is_not(None))
            .where(~answered)
            .order_by(col(Question.id))
        )
    ).all()
    queued = 0
    for question in waiting:
        assert question.id is not None
        days = working_days_between(
            question.asked_at, now, tz=timezone, extra_non_working=extra_non_working_days
        )
        if days < after_working_days:
            continue
        result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
            update(Question)
            .where(col(Question.id) == question.id)
            .where(col(Question.flagged_at).is_(None))
            .values(flagged_at=now)
        )
        if not result.rowcount:
            continue  # another replica flagged it a moment ago
        for facilitator in await people_with_role(
            session, community_id=question.community_id, roles=list(FACILITATOR_ROLES)
        ):
            if facilitator.id is None or facilitator.id == question.asked_by_id:
                continue
            queued += await outbox.enqueue(
                session,
                dedup_key=flagged_key(question.id, facilitator.id),
                recipient=outbox.Recipient.person(facilitator.id),
                kind=KIND_MANAGE,
                params={"question_id": question.id, "reason": REASON_FLAGGED},
            )
        logger.info("question %s unanswered for %d working days: flagged", question.id, days)
    return queued


# -- the person's own data -----------------------------------------------------------------------


async def counts_of(session: AsyncSession, *, person_id: int) -> tuple[int, int]:
    """(questions asked, answers given) by the person."""
    asked = (
        await session.exec(
            select(func.count()).select_from(Question).where(col(Question.asked_by_id) == person_id)
        )
    ).one()
    answered = (
        await session.exec(
            select(func.count())
            .select_from(QuestionAnswer)
            .where(col(QuestionAnswer.answered_by_id) == person_id)
        )
    ).one()
    return int(asked), int(answered)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def export_person(session: AsyncSession, *, person_id: int) -> dict[str, Any]:
    """Their questions (with how many answers each got, not the others' words or names) and
    their answers (with the question they answer, which the channel showed them)."""
    asked = (
        await session.exec(
            select(Question, Community.name)
            .join(Community, col(Community.id) == col(Question.community_id))
            .where(col(Question.asked_by_id) == person_id)
            .order_by(col(Question.asked_at), col(Question.id))
        )
    ).all()
    questions: list[dict[str, Any]] = []
    for question, community in asked:
        count = (
            await session.exec(
                select(func.count())
                .select_from(QuestionAnswer)
                .where(col(QuestionAnswer.question_id) == question.id)
            )
        ).one()
        questions.append(
            {
                "community": community,
                "text": question.text,
                "anonymous": question.anonymous,
                "status": str(question.status),
                "asked_at": _iso(question.asked_at),
                "answered_at": _iso(question.answered_at),
                "answers": int(count),
            }
        )
    given = (
        await session.exec(
            select(QuestionAnswer, Question, Community.name)
            .join(Question, col(Question.id) == col(QuestionAnswer.question_id))
            .join(Community, col(Community.id) == col(Question.community_id))
            .where(col(QuestionAnswer.answered_by_id) == person_id)
            .order_by(col(QuestionAnswer.created_at), col(QuestionAnswer.id))
        )
    ).all()
    answers = [
        {
            "community": community,
            "question": question.text,
            "text": row.text,
            "helpful": question.helpful_answer_id == row.id,
            "answered_at": _iso(row.created_at),
        }
        for row, question, community in given
    ]
    return {"questions": questions, "answers": answers}


@dataclass(slots=True)
class Erased:
    """What `erase_person` changed (zeros on a second run)."""

    questions_deleted: int = 0
    questions_anonymised: int = 0
    answers_deleted: int = 0
    answers_anonymised: int = 0
    queued: int = 0


async def erase_person(session: AsyncSession, *, person_id: int) -> Erased:
    """As the module docstring says: questions answered by others stay without author (their
    cards updated: no name any more), the others go (their cards replaced by a notice); the
    person's answers to others' questions stay without author nor Teams message id."""
    erased = Erased()
    asked = (
        await session.exec(
            select(Question)
            .where(col(Question.asked_by_id) == person_id)
            .order_by(col(Question.id))
            .with_for_update()
        )
    ).all()
    for question in asked:
        assert question.id is not None
        by_others = (
            await session.exec(
                select(func.count())
                .select_from(QuestionAnswer)
                .where(col(QuestionAnswer.question_id) == question.id)
                .where(
                    col(QuestionAnswer.answered_by_id).is_(None)
                    | (col(QuestionAnswer.answered_by_id) != person_id)
                )
            )
        ).one()
        posted = question.conversation_ref_id is not None and bool(question.activity_id)
        if by_others:
            question.asked_by_id = None
            # Named no more: the card shows no author once its asker is erased.
            question.anonymous = True
            session.add(question)
            erased.questions_anonymised += 1
            if posted:
                assert question.conversation_ref_id is not None
                erased.queued += await outbox.enqueue(
                    session,
                    dedup_key=card_key(question.id, f"erased:{person_id}"),
                    recipient=outbox.Recipient.conversation(question.conversation_ref_id),
                    kind=KIND_CARD,
                    params={"question_id": question.id},
                )
            continue
        own: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
            delete(QuestionAnswer).where(col(QuestionAnswer.question_id) == question.id)
        )
        erased.answers_deleted += int(own.rowcount or 0)
        # Not posted yet: its post must not go out either.
        await outbox.cancel_pending(session, dedup_key_prefix=f"question:{question.id}:")
        if posted:
            assert question.conversation_ref_id is not None
            erased.queued += await outbox.enqueue(
                session,
                dedup_key=removed_key(question.id),
                recipient=outbox.Recipient.conversation(question.conversation_ref_id),
                kind=KIND_REMOVED,
                params={"activity_id": question.activity_id},
            )
        await session.delete(question)
        erased.questions_deleted += 1
    await session.flush()
    theirs = (
        await session.exec(
            select(QuestionAnswer.question_id)
            .where(col(QuestionAnswer.answered_by_id) == person_id)
            .distinct()
        )
    ).all()
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(QuestionAnswer)
        .where(col(QuestionAnswer.answered_by_id) == person_id)
        .values(answered_by_id=None, activity_id=None)
    )
    erased.answers_anonymised += int(result.rowcount or 0)
    for question_id in theirs:
        answered = await session.get(Question, question_id)
        if answered is None or answered.conversation_ref_id is None or not answered.activity_id:
            continue
        erased.queued += await outbox.enqueue(
            session,
            dedup_key=card_key(question_id, f"erased:{person_id}"),
            recipient=outbox.Recipient.conversation(answered.conversation_ref_id),
            kind=KIND_CARD,
            params={"question_id": question_id},
        )
    return erased
