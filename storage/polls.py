"""Polls (sondages): animators ask a question in the community's channel, members vote.

Rules, all checked here whatever a card claimed: only animators create and close; a poll has a
question, 2 to 10 distinct options and closes within 90 days; only active members vote, once,
and may change their ballot until the poll closes. For an anonymous poll the ballot names a
keyed hash of (poll, person), never the person; at closing the hashes are replaced by values
derived from nothing, so once a poll is over not even the key's holder can tie a ballot to
anyone.

An anonymous poll also keeps its choices to itself while it runs: `results` reads no ballot
until the poll is closed, and then gives counts only from k voters (the community's
`survey_k`, as for surveys). Otherwise the card updated after each click would show which
option the person who just clicked chose. Its ballots carry no time and are dealt anew at
every vote (storage/anonymity.py). A named poll shows its counts and names all along.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, Table, cast, delete, func, literal, true, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.anonymity import deal_anew
from storage.collation import name_key
from storage.communities import NotAllowed, has_role, membership
from storage.identifiers import IdentifierKind, unconfirmed
from storage.models import (
    Community,
    ConversationRef,
    Person,
    Poll,
    PollStatus,
    PollVote,
    Role,
    Topic,
    TopicStatus,
)
from storage.secrets import keyed_hash
from storage.sql import upsert
from storage.surveys import DEFAULT_K, k_threshold

logger = logging.getLogger(__name__)

VOTE_TABLE: Table = PollVote.__table__  # type: ignore[attr-defined]

MIN_QUESTION_LENGTH = 3
MAX_QUESTION_LENGTH = 300
MIN_OPTIONS = 2
MAX_OPTIONS = 10
MAX_OPTION_LENGTH = 100
MAX_OPEN_DAYS = 90
# The purpose string the bot layer derives the voter key with (storage.secrets.derive).
VOTER_KEY_PURPOSE = "poll-voter"

# Why a poll or a ballot was refused; the bot layer maps each to a catalog message.
QUESTION_LENGTH = "question_length"
TOO_FEW_OPTIONS = "too_few_options"
TOO_MANY_OPTIONS = "too_many_options"
OPTION_EMPTY = "option_empty"
OPTION_TOO_LONG = "option_too_long"
DUPLICATE_OPTIONS = "duplicate_options"
CLOSES_IN_PAST = "closes_in_past"
CLOSES_TOO_LATE = "closes_too_late"
NO_CHOICE = "no_choice"
ONE_CHOICE_ONLY = "one_choice_only"
INVALID_CHOICE = "invalid_choice"
# A poll is posted to the whole channel: a client identifier in its question or an option is a
# reason too, one per kind spotted (« identifier:phone »), so the form can name the kinds.
IDENTIFIER_PREFIX = "identifier:"

# Outbox kinds. Their keys below must keep today's exact format: a changed key would not
# deduplicate against a row already queued, and the message would go out twice.
KIND_CARD = "poll_card"  # the channel card updated in place: params {"poll_id"}
KIND_RESULTS = "poll_results"  # the final results, to each animator: params {"poll_id"}


def notice_key(poll_id: int | None, activity_id: str, person_id: int) -> str:
    """A word for the voter alone (a refused vote), once per incoming activity."""
    return f"poll:{poll_id}:notice:{activity_id}:to:{person_id}"


def card_key(poll_id: int, activity_id: str) -> str:
    """The card's update in place after a vote, queued when the direct update failed."""
    return f"poll:{poll_id}:card:{activity_id}"


def closed_card_key(poll_id: int) -> str:
    """The card's final update: closing twice (button and scheduler) sends it once."""
    return f"poll:{poll_id}:closed:card"


def closed_results_key(poll_id: int, animator_id: int) -> str:
    return f"poll:{poll_id}:closed:results:to:{animator_id}"


class InvalidPoll(ValueError):
    """The poll breaks one or more rules; `reasons` lists them all (the form shows each)."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__(",".join(reasons))
        self.reasons = tuple(reasons)


class InvalidChoice(ValueError):
    """The ballot's choices do not fit the poll (`reason`: no_choice, one_choice_only…)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownPoll(LookupError):
    """No such poll (a card from a deleted poll, or forged data)."""


class PollClosed(NotAllowed):
    """The poll was closed, or its closing time has passed."""


@dataclass(frozen=True, slots=True)
class PollResults:
    poll: Poll
    # Ballots per option, in the options' order; None while they may not be shown (an
    # anonymous poll still open, or closed with fewer than k voters).
    counts: tuple[int, ...] | None
    voters: int
    # Per option, the names of those who chose it (None where a person has no name);
    # None for an anonymous poll, whose ballots name nobody.
    names: tuple[tuple[str | None, ...], ...] | None
    # The community's k: an anonymous poll's counts are shown at closing from k voters.
    k: int = DEFAULT_K

    @property
    def shown(self) -> bool:
        return self.counts is not None


def _comparable(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def question_problems(question: str) -> list[str]:
    if not MIN_QUESTION_LENGTH <= len(question.strip()) <= MAX_QUESTION_LENGTH:
        return [QUESTION_LENGTH]
    return []


def option_problems(options: Sequence[str]) -> list[str]:
    found: list[str] = []
    cleaned = [option.strip() for option in options]
    if len(cleaned) < MIN_OPTIONS:
        found.append(TOO_FEW_OPTIONS)
    if len(cleaned) > MAX_OPTIONS:
        found.append(TOO_MANY_OPTIONS)
    if any(not option for option in cleaned):
        found.append(OPTION_EMPTY)
    if any(len(option) > MAX_OPTION_LENGTH for option in cleaned):
        found.append(OPTION_TOO_LONG)
    # « Mardi » and « mardi » would split the votes for the same answer.
    comparable = [_comparable(option) for option in cleaned if option]
    if len(set(comparable)) != len(comparable):
        found.append(DUPLICATE_OPTIONS)
    return found


def identifier_code(kind: IdentifierKind) -> str:
    return IDENTIFIER_PREFIX + kind.value


def is_identifier(code: str) -> bool:
    return code.startswith(IDENTIFIER_PREFIX)


def identifier_kinds(codes: Sequence[str]) -> tuple[IdentifierKind, ...]:
    """The kinds named by the identifier reasons among `codes`, in the kinds' order."""
    named = {code.removeprefix(IDENTIFIER_PREFIX) for code in codes if is_identifier(code)}
    return tuple(kind for kind in IdentifierKind if kind.value in named)


def identifier_problems(
    question: str, options: Sequence[str], confirmed: Sequence[str] = ()
) -> list[str]:
    """One reason per kind of client identifier spotted in the question or an option, but for
    the kinds the author confirmed identify no one (names only: storage.identifiers decides,
    whatever a card sent)."""
    spotted = {kind for text in (question, *options) for kind in unconfirmed(text, confirmed)}
    return [identifier_code(kind) for kind in IdentifierKind if kind in spotted]


def closing_problems(closes_at: datetime, *, now: datetime) -> list[str]:
    if closes_at.tzinfo is None:
        raise ValueError("closes_at must be timezone-aware")
    if closes_at <= now:
        return [CLOSES_IN_PAST]
    if closes_at > now + timedelta(days=MAX_OPEN_DAYS):
        return [CLOSES_TOO_LATE]
    return []


def problems(
    *,
    question: str,
    options: Sequence[str],
    closes_at: datetime,
    now: datetime,
    confirmed: Sequence[str] = (),
) -> list[str]:
    """Every rule the poll breaks (empty when it may be created); `confirmed`: the identifier
    kinds the author confirmed identify no one (see identifier_problems)."""
    return [
        *question_problems(question),
        *option_problems(options),
        *identifier_problems(question, options, confirmed),
        *closing_problems(closes_at, now=now),
    ]


async def _is_animator(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    row = await membership(session, person_id=person_id, community_id=community_id)
    return has_role(row, Role.ANIMATOR)


async def create(
    session: AsyncSession,
    *,
    community_id: int,
    created_by_id: int,
    question: str,
    options: Sequence[str],
    multiple: bool,
    anonymous: bool,
    closes_at: datetime,
    now: datetime,
    confirmed: Sequence[str] = (),
) -> Poll:
    """A new open poll. NotAllowed unless the author animates the community (checked before
    the content, so a refusal says nothing about the poll); InvalidPoll lists what to fix,
    a client identifier among them unless it is a name the author confirmed (`confirmed`)."""
    if not await _is_animator(session, person_id=created_by_id, community_id=community_id):
        raise NotAllowed("only an animator may create a poll")
    found = problems(
        question=question, options=options, closes_at=closes_at, now=now, confirmed=confirmed
    )
    if found:
        raise InvalidPoll(found)
    poll = Poll(
        community_id=community_id,
        question=question.strip(),
        options=[option.strip() for option in options],
        multiple=multiple,
        anonymous=anonymous,
        closes_at=closes_at,
        status=PollStatus.OPEN,
        created_by_id=created_by_id,
        created_at=now,
    )
    session.add(poll)
    await session.flush()
    logger.info("poll %s created in community %s", poll.id, community_id)
    return poll


async def get_poll(session: AsyncSession, *, poll_id: int) -> Poll | None:
    return await session.get(Poll, poll_id)


async def record_posted(
    session: AsyncSession, *, poll_id: int, conversation_ref_id: int | None, activity_id: str
) -> None:
    """Where the poll card went, to update it in place as votes arrive and at closing."""
    await session.execute(
        update(Poll)
        .where(col(Poll.id) == poll_id)
        .values(conversation_ref_id=conversation_ref_id, activity_id=activity_id[:255])
    )


async def discard_unposted(session: AsyncSession, *, poll_id: int) -> bool:
    """Forget a poll whose card could not be posted (nobody can have voted on it)."""
    result: Any = await session.execute(
        delete(Poll).where(col(Poll.id) == poll_id).where(col(Poll.activity_id).is_(None))
    )
    return bool(result.rowcount)


async def conversation_ref_id(session: AsyncSession, *, conversation_id: str) -> int | None:
    """The stored ConversationRef of a conversation (recorded at the start of every turn)."""
    return (
        await session.exec(
            select(ConversationRef.id).where(ConversationRef.conversation_id == conversation_id)
        )
    ).first()


def _choices(poll: Poll, choices: Sequence[int]) -> list[int]:
    if not choices:
        raise InvalidChoice(NO_CHOICE)
    unique = sorted(set(choices))
    if any(isinstance(c, bool) or not 0 <= c < len(poll.options) for c in unique):
        raise InvalidChoice(INVALID_CHOICE)
    if not poll.multiple and len(unique) != 1:
        raise InvalidChoice(ONE_CHOICE_ONLY)
    return unique


def voter_key(poll: Poll, *, person_id: int, key: bytes) -> str:
    if poll.anonymous:
        return keyed_hash(key, poll.id, person_id)
    return f"person:{person_id}"


async def vote(
    session: AsyncSession,
    *,
    poll_id: int,
    person_id: int,
    choices: Sequence[int],
    key: bytes,
    now: datetime,
) -> None:
    """Record or replace the person's ballot. UnknownPoll, NotAllowed (not an active member),
    PollClosed, InvalidChoice. Nothing about the voter is logged."""
    # The poll's row locked on PostgreSQL: votes on one poll take turns (an anonymous poll's
    # ballots are all rewritten by each vote), closing (an UPDATE of the poll) waits for them,
    # and a vote arriving after the close sees it closed. SQLite serialises writers and
    # ignores the clause.
    poll = (
        await session.exec(select(Poll).where(col(Poll.id) == poll_id).with_for_update())
    ).first()
    if poll is None or poll.id is None:
        raise UnknownPoll(poll_id)
    member = await membership(session, person_id=person_id, community_id=poll.community_id)
    if member is None or member.left_at is not None:
        raise NotAllowed("only members of the community vote")
    if poll.status != PollStatus.OPEN or now >= poll.closes_at:
        raise PollClosed("the poll is closed")
    chosen = _choices(poll, choices)
    await upsert(
        session,
        VOTE_TABLE,
        {
            "poll_id": poll.id,
            "voter_key": voter_key(poll, person_id=person_id, key=key),
            # An anonymous ballot never names its voter, not even in a column left NULL later.
            "person_id": None if poll.anonymous else person_id,
            "choices": chosen,
            # Not even a day for an anonymous ballot (see storage/anonymity.py).
            "voted_at": None if poll.anonymous else now,
        },
        conflict=["poll_id", "voter_key"],
        update=["choices", "voted_at"],
    )
    if poll.anonymous:
        await deal_anew(
            session, VOTE_TABLE, where=VOTE_TABLE.c.poll_id == poll.id, key_column="voter_key"
        )


async def own_choices(
    session: AsyncSession, *, poll: Poll, person_id: int, key: bytes
) -> tuple[int, ...] | None:
    """This person's ballot, for their own view alone; None without one. An anonymous ballot
    is found by its keyed hash while the poll runs; once closed the hashes are sealed, and
    nobody, its voter included, can find it again."""
    choices = (
        await session.execute(
            select(col(PollVote.choices))
            .where(col(PollVote.poll_id) == poll.id)
            .where(col(PollVote.voter_key) == voter_key(poll, person_id=person_id, key=key))
        )
    ).scalar_one_or_none()
    return tuple(int(choice) for choice in choices) if choices is not None else None


async def named_voters(session: AsyncSession, *, poll: Poll) -> list[int]:
    """Who voted, by person id, for a poll that is not anonymous (its card names them
    anyway); nobody for an anonymous one, whose ballots name no one."""
    if poll.anonymous:
        return []
    return list(
        (
            await session.execute(
                select(col(PollVote.person_id))
                .where(col(PollVote.poll_id) == poll.id)
                .where(col(PollVote.person_id).is_not(None))
                .order_by(col(PollVote.person_id))
            )
        ).scalars()
    )


def _elements(session: AsyncSession) -> Any:
    """The JSON `choices` array of each ballot as rows (one per chosen index)."""
    choices = col(PollVote.choices)
    if session.get_bind().dialect.name == "postgresql":
        # A set-returning function of a plain type: name its column explicitly (AS x(value)).
        return func.json_array_elements_text(choices).table_valued("value").render_derived()
    return func.json_each(choices).table_valued("value")


async def results(session: AsyncSession, *, poll_id: int) -> PollResults:
    """The number of voters; counts per option when they may be shown (see the module
    docstring; otherwise no ballot is even read), counted by the database; for a poll that is
    not anonymous, the names per option too."""
    poll = await session.get(Poll, poll_id)
    if poll is None:
        raise UnknownPoll(poll_id)
    community = await session.get(Community, poll.community_id)
    k = k_threshold(community) if community is not None else DEFAULT_K
    voters = (
        await session.execute(
            select(func.count()).select_from(PollVote).where(col(PollVote.poll_id) == poll_id)
        )
    ).scalar_one()
    if poll.anonymous and (poll.status != PollStatus.CLOSED or voters < k):
        return PollResults(poll=poll, counts=None, voters=int(voters), names=None, k=k)
    elements = _elements(session)
    choice = cast(elements.c.value, Integer)
    rows = (
        await session.execute(
            select(choice, func.count())
            .select_from(PollVote)
            .join(elements, true())
            .where(col(PollVote.poll_id) == poll_id)
            .group_by(choice)
        )
    ).all()
    counts = [0] * len(poll.options)
    for index, count in rows:
        if 0 <= int(index) < len(counts):
            counts[int(index)] = int(count)
    names: tuple[tuple[str | None, ...], ...] | None = None
    if not poll.anonymous:
        per_option: list[list[str | None]] = [[] for _ in poll.options]
        named = await session.execute(
            select(choice, col(Person.name))
            .select_from(PollVote)
            .join(elements, true())
            .join(Person, col(Person.id) == col(PollVote.person_id))
            .where(col(PollVote.poll_id) == poll_id)
            .order_by(col(Person.name), col(Person.id))
        )
        for index, name in named.all():
            if 0 <= int(index) < len(per_option):
                per_option[int(index)].append(name)
        # Sorted here: the database compares code points (« Émilie » after « Sarah »).
        names = tuple(tuple(sorted(people, key=name_key)) for people in per_option)
    return PollResults(poll=poll, counts=tuple(counts), voters=int(voters), names=names, k=k)


async def close(
    session: AsyncSession, *, poll_id: int, by_person_id: int | None, now: datetime
) -> Poll:
    """Close a poll: an animator (`by_person_id`) or the scheduler (None). Closing a closed
    poll changes nothing and returns it as it is."""
    poll, _closed_now = await close_once(
        session, poll_id=poll_id, by_person_id=by_person_id, now=now
    )
    return poll


async def may_close(session: AsyncSession, *, poll_id: int, person_id: int) -> Poll:
    """The poll, when this person may close it (an animator of its community)."""
    poll = await session.get(Poll, poll_id)
    if poll is None:
        raise UnknownPoll(poll_id)
    if not await _is_animator(session, person_id=person_id, community_id=poll.community_id):
        raise NotAllowed("only an animator may close a poll")
    return poll


async def close_once(
    session: AsyncSession, *, poll_id: int, by_person_id: int | None, now: datetime
) -> tuple[Poll, bool]:
    """`close`, and whether this call is the one that closed it (False for a poll already
    closed: a second click, or the scheduler first)."""
    if by_person_id is not None:
        poll = await may_close(session, poll_id=poll_id, person_id=by_person_id)
    else:
        found = await session.get(Poll, poll_id)
        if found is None:
            raise UnknownPoll(poll_id)
        poll = found
    # Conditional, so two closers (an animator and the scheduler) close it once.
    closed: Any = await session.execute(
        update(Poll)
        .where(col(Poll.id) == poll_id)
        .where(col(Poll.status) == PollStatus.OPEN)
        .values(status=PollStatus.CLOSED, closed_at=now)
    )
    if closed.rowcount and poll.anonymous:
        # Ballots can no longer change: drop the keyed hashes so no key, leaked or not, can
        # recompute who cast which ballot.
        await session.execute(
            update(PollVote)
            .where(col(PollVote.poll_id) == poll_id)
            .values(voter_key=literal("sealed:") + cast(col(PollVote.id), String))
        )
    await session.refresh(poll)
    if closed.rowcount:
        logger.info("poll %s closed", poll_id)
    return poll, bool(closed.rowcount)


async def due_to_close(session: AsyncSession, *, now: datetime) -> list[Poll]:
    """Open polls whose closing time has come, oldest first."""
    rows = await session.exec(
        select(Poll)
        .where(col(Poll.status) == PollStatus.OPEN)
        .where(col(Poll.closes_at) <= now)
        .order_by(col(Poll.closes_at), col(Poll.id))
    )
    return list(rows.all())


async def from_shortlisted_topics(session: AsyncSession, *, community_id: int) -> list[str]:
    """Titles of the topics the animators shortlisted, to vote among them."""
    rows = await session.exec(
        select(Topic.title)
        .where(Topic.community_id == community_id)
        .where(col(Topic.status) == TopicStatus.SHORTLISTED)
        .order_by(col(Topic.created_at), col(Topic.id))
    )
    return [title for title in rows.all() if title.strip()]
