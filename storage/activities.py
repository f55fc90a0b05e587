"""Seeing each inbound activity once, and one person's turns one at a time.

Teams re-sends an activity when a turn is slow or failed. A turn claims its activity
(`processed_activity`) for as long as it runs: a lease its process renews, made final when the
turn's work is done. A re-delivery that meets a final claim is a duplicate; one that meets a
live lease waits for it; one that meets an expired lease (its process died mid-turn) takes the
turn over. A claim in progress also carries its sender's turn key in the conversation, unique
among claims in progress (a partial unique index): a double click's second activity cannot be
claimed while the first runs, so it runs after it and sees what it did.

The claim is the turn's first statement (`claim_turn`: on PostgreSQL the same statement also
records the sender's Person); the final mark, which also frees the sender's turn, one
autocommit statement at its end. Times are the bot processes' clocks,
as for the outbox's leases: replicas keep them synchronised (NTP).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    CursorResult,
    Executable,
    String,
    Table,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from storage import people
from storage.db import SessionFactory, autocommit
from storage.direct import TurnConnection, alone
from storage.models import ProcessedActivity, utcnow
from storage.state_store import BOT_STATE, Stored, stored_key
from storage.types import UtcDateTime

TABLE: Table = ProcessedActivity.__table__  # type: ignore[attr-defined]


class Admission(enum.Enum):
    """What a turn's first transaction found."""

    TAKEN = "taken"  # the turn runs: its activity claimed, its sender's turn held
    DONE = "done"  # its activity was processed already: a duplicate
    IN_PROGRESS = "in_progress"  # its activity's first delivery is still running
    LOCKED = "locked"  # another turn of the same sender in this conversation is running


def activity_key(*, conversation_id: str, activity_id: str) -> str:
    # Activity ids are unique within a conversation, not across conversations.
    return f"{conversation_id}|{activity_id}"[:600]


def turn_key(*, conversation_id: str, sender_id: str) -> str:
    """The sender's turns in a conversation; a hash, so that the row names nobody by it."""
    return hashlib.sha256(f"{conversation_id}|{sender_id}".encode()).hexdigest()


_NOW = bindparam("now", type_=UtcDateTime())


@lru_cache(maxsize=4)
def _claim(dialect: str) -> Executable:
    """INSERT … ON CONFLICT DO UPDATE … WHERE the lease expired, RETURNING the key: a new
    claim, or the takeover of one whose holder stopped renewing it, in one statement (built
    once per dialect: see storage/sql.py). A final claim (no lease) is never taken."""
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(TABLE)
    refreshed = {c.name: statement.excluded[c.name] for c in TABLE.c if c.name != "activity_key"}
    claim: Executable = statement.on_conflict_do_update(
        index_elements=["activity_key"], set_=refreshed, where=TABLE.c.lease_until < _NOW
    ).returning(TABLE.c.activity_key)
    return claim


_HELD = select(col(ProcessedActivity.lease_until)).where(
    col(ProcessedActivity.activity_key) == bindparam("k")
)
_MINE = (
    col(ProcessedActivity.activity_key) == bindparam("k"),
    col(ProcessedActivity.owner) == bindparam("o"),
)
_DONE = update(ProcessedActivity).where(*_MINE).values(lease_until=None, turn_key=None)
_RELEASE = delete(ProcessedActivity).where(*_MINE)


async def admit_in(
    connection: AsyncConnection,
    *,
    activity: str | None,
    turn: str | None,
    owner: str,
    now: datetime,
    lease: timedelta,
) -> Admission:
    """Claim the activity, and with it the sender's turn, within the caller's transaction (the
    turn's first). Anything but TAKEN: the caller rolls back. Without an activity id there is
    nothing to claim (Teams always sends one)."""
    if activity is None:
        return Admission.TAKEN
    values: dict[str, object] = {**_claim_values(activity, turn, owner, now, lease), "now": now}
    try:
        claimed = await connection.execute(_claim(connection.dialect.name), values)
    except IntegrityError:
        # Another claim in progress holds the sender's turn (the partial unique index).
        return Admission.LOCKED
    if claimed.first() is not None:
        return Admission.TAKEN
    return await _refused(connection, activity)


def _claim_values(
    activity: str, turn: str | None, owner: str, now: datetime, lease: timedelta
) -> dict[str, object]:
    return {
        "activity_key": activity,
        "received_at": now,
        "lease_until": now + lease,
        "owner": owner,
        "turn_key": turn,
    }


async def _refused(connection: AsyncConnection, activity: str) -> Admission:
    """Why a claim was not taken: its activity done, or its first delivery still running."""
    held = (await connection.execute(_HELD, {"k": activity})).first()
    # No row: its turn failed and gave it back meanwhile; the next try takes it.
    return Admission.DONE if held is not None and held[0] is None else Admission.IN_PROGRESS


@dataclass(frozen=True, slots=True)
class Sender:
    """What a turn needs of its sender's Person row."""

    person_id: int
    preferred_locale: str | None


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a turn's first unit of work found: its admission, its sender's Person (None when
    refused or without a sender), and its dialog state as stored (None: not read yet, the
    caller reads it; a missing row is an empty dict)."""

    admission: Admission
    sender: Sender | None = None
    state: dict[str, Stored] | None = None


@lru_cache(maxsize=1)
def _claim_recording() -> Executable:
    """PostgreSQL: the claim of `_claim`, the sender's Person upsert and the dialog state read
    in one statement, the Person written only when the claim was taken (data-modifying CTEs):
    one round trip, and no BEGIN or COMMIT, where a transaction took five. One statement is
    its own transaction, so a refused claim writes nothing, as when the turn's first
    transaction rolled back. A Person already there keeps a column the activity does not
    carry (COALESCE: what `people.record_participant` does by leaving it out of the update).

    The state is read in the statement's snapshot, taken before the claim ran. If the claim
    waited there for the turn ahead's final mark, that turn's state write may be missing from
    the snapshot: the statement says so (`ahead`: a claim in progress on the sender's turn,
    other than this activity's, in the snapshot), and the caller reads the state again.
    Otherwise the turn ahead had finished before the snapshot, its writes with it. Built once."""
    person = people.PERSON_TABLE
    claim_insert = postgresql.insert(TABLE).values(
        {c.name: bindparam(f"a_{c.name}", type_=c.type) for c in TABLE.c}
    )
    claim = (
        claim_insert.on_conflict_do_update(
            index_elements=["activity_key"],
            set_={
                c.name: claim_insert.excluded[c.name] for c in TABLE.c if c.name != "activity_key"
            },
            where=TABLE.c.lease_until < _NOW,
        )
        .returning(TABLE.c.activity_key)
        .cte("claim")
    )
    columns = list(people.participant_values(_NOBODY))
    rows = select(*(bindparam(f"p_{name}", type_=person.c[name].type) for name in columns)).where(
        select(claim.c.activity_key).exists()
    )
    person_insert = postgresql.insert(person).from_select(columns, rows)
    refreshed: dict[str, Any] = {"last_seen_at": person_insert.excluded.last_seen_at}
    for name in people.REFRESHED_WHEN_GIVEN:
        refreshed[name] = func.coalesce(person_insert.excluded[name], person.c[name])
    recorded = (
        person_insert.on_conflict_do_update(index_elements=["teams_user_id"], set_=refreshed)
        .returning(person.c.id, person.c.preferred_locale)
        .cte("recorded")
    )
    ahead = (
        select(TABLE.c.activity_key)
        .where(
            TABLE.c.turn_key == bindparam("a_turn_key"),
            TABLE.c.lease_until.is_not(None),
            TABLE.c.activity_key != bindparam("a_activity_key"),
        )
        .exists()
        .label("ahead")
    )
    statement: Executable = select(
        recorded.c.id, recorded.c.preferred_locale, BOT_STATE.c.data, BOT_STATE.c.etag, ahead
    ).select_from(
        recorded.outerjoin(BOT_STATE, BOT_STATE.c.key == bindparam("state_key", type_=String()))
    )
    return statement


_NOBODY = people.Participant(
    teams_user_id="", aad_object_id=None, tenant_id=None, name=None, locale=None
)


async def claim_turn(
    turn_connection: TurnConnection,
    *,
    activity: str | None,
    turn: str | None,
    owner: str,
    now: datetime,
    lease: timedelta,
    sender: people.Participant | None,
    state_key: str | None,
) -> Claimed:
    """A turn's admission and its sender's Person, committed together when admitted and not
    at all otherwise (nothing is written for a refused turn). The connection is left in
    autocommit (if it was opened): a dialog state read next sees what the turn ahead of it
    wrote, since that turn's final mark, which this claim waited for, came after its writes.

    On PostgreSQL one statement, which also reads the dialog state under `state_key`, when
    there are both an activity and a sender, run without opening the turn's connection
    (storage/direct.py); otherwise one transaction (SQLite has no data-modifying CTEs), and
    the caller reads the state after it."""
    if turn_connection.postgresql and activity is not None and sender is not None:
        values = {
            f"a_{name}": value
            for name, value in _claim_values(activity, turn, owner, now, lease).items()
        }
        values.update(
            {f"p_{name}": value for name, value in people.participant_values(sender).items()}
        )
        values["now"] = now
        values["state_key"] = None if state_key is None else stored_key(state_key)
        try:
            row = await turn_connection.alone(_claim_recording(), values)
        except IntegrityError:
            return Claimed(Admission.LOCKED)  # as in admit_in
        if row is None:
            return Claimed(await _refused(await turn_connection.autocommit(), activity))
        recorded = Sender(person_id=row["id"], preferred_locale=row["preferred_locale"])
        if state_key is None or row["ahead"]:
            return Claimed(Admission.TAKEN, recorded)
        state = {} if row["data"] is None else {state_key: (row["data"], row["etag"])}
        return Claimed(Admission.TAKEN, recorded, state)
    connection = await turn_connection.connection()
    transaction = await connection.begin()
    try:
        admission = await admit_in(
            connection, activity=activity, turn=turn, owner=owner, now=now, lease=lease
        )
        found: Sender | None = None
        if admission is Admission.TAKEN and sender is not None:
            person = await people.record_participant(connection, participant=sender)
            assert person.id is not None  # stored
            found = Sender(person_id=person.id, preferred_locale=person.preferred_locale)
    except BaseException:
        await transaction.rollback()
        raise
    if admission is Admission.TAKEN:
        await transaction.commit()
    else:
        await transaction.rollback()
    await turn_connection.autocommit()
    return Claimed(admission, found)


async def free_expired_turn(sessions: SessionFactory, *, turn: str, now: datetime) -> bool:
    """Take the sender's turn back from a claim whose process died (its lease expired); the
    claim itself stays, for Teams' retry of it to take over. True if there was one."""
    async with autocommit(sessions) as connection:
        result: CursorResult[tuple[()]] = await connection.execute(
            update(ProcessedActivity)
            .where(col(ProcessedActivity.turn_key) == turn)
            .where(col(ProcessedActivity.lease_until) < now)
            .values(turn_key=None)
        )
    return bool(result.rowcount)


async def renew(
    sessions: SessionFactory, *, owner: str, activities: Collection[str], until: datetime
) -> None:
    """The heartbeat of running turns: their claims stay theirs until `until`."""
    async with autocommit(sessions) as connection:
        await connection.execute(
            update(ProcessedActivity)
            .where(col(ProcessedActivity.activity_key).in_(list(activities)))
            .where(col(ProcessedActivity.owner) == owner)
            .where(col(ProcessedActivity.lease_until).is_not(None))
            .values(lease_until=until)
        )


async def finish(sessions: SessionFactory, *, owner: str, activity: str) -> None:
    """The turn's work is done: its claim becomes final, and its sender's turn is free."""
    async with autocommit(sessions) as connection:
        await connection.execute(_DONE, {"k": activity, "o": owner})


@dataclass(frozen=True, slots=True)
class Claim:
    """A turn's claim on its activity, held by this process (`owner`)."""

    owner: str
    activity: str


# PostgreSQL: the turn's dialog state saved and its claim made final by one statement, so that
# the two commit together (a process killed between them can leave neither a saved state whose
# turn Teams' retry runs again, nor the other way round) and a turn ends with one round trip
# instead of two (bench/turns.py). The claim is made final only if the state was written:
# data-modifying CTEs see one another only through RETURNING.
_FINISH_AFTER_SAVED = """
, done AS (
    UPDATE processed_activity SET lease_until = NULL, turn_key = NULL
    WHERE activity_key = :k AND owner = :o AND EXISTS (SELECT 1 FROM saved)
    RETURNING 1
)
SELECT (SELECT count(*) FROM saved) AS saved, (SELECT count(*) FROM done) AS done
"""
_SAVE_IF_ETAG_AND_FINISH = text(
    """
WITH saved AS (
    UPDATE bot_state SET data = :data, etag = :etag, updated_at = :now
    WHERE key = :key AND etag = :expected
    RETURNING 1
)"""
    + _FINISH_AFTER_SAVED
).bindparams(_NOW)
_SAVE_AND_FINISH = text(
    """
WITH saved AS (
    INSERT INTO bot_state (key, data, etag, updated_at) VALUES (:key, :data, :etag, :now)
    ON CONFLICT (key) DO UPDATE
    SET data = excluded.data, etag = excluded.etag, updated_at = excluded.updated_at
    RETURNING 1
)"""
    + _FINISH_AFTER_SAVED
).bindparams(_NOW)


async def save_state_and_finish(
    engine: AsyncEngine,
    *,
    claim: Claim,
    key: str,
    data: str,
    etag: str,
    expected: str | None,
    now: datetime,
) -> tuple[bool, bool]:
    """PostgreSQL only, one statement (storage/direct.py): write the state row `key` (only if
    its etag is `expected`, unless that is None or "*") and, if it was written, make `claim`
    final.
    Returns (saved, finished); when not saved nothing changed."""
    any_etag = expected is None or expected == "*"
    statement = _SAVE_AND_FINISH if any_etag else _SAVE_IF_ETAG_AND_FINISH
    values: dict[str, Any] = {
        "key": key,
        "data": data,
        "etag": etag,
        "now": now,
        "k": claim.activity,
        "o": claim.owner,
    }
    if not any_etag:
        values["expected"] = expected
    row = await alone(engine, statement, values)
    assert row is not None  # the final SELECT gives one row
    return bool(row["saved"]), bool(row["done"])


async def release(sessions: SessionFactory, *, owner: str, activity: str) -> None:
    """The turn failed: forget its claim, so Teams' retry is processed."""
    async with autocommit(sessions) as connection:
        await connection.execute(_RELEASE, {"k": activity, "o": owner})


async def purge_processed(
    sessions: SessionFactory, *, older_than: timedelta, now: datetime | None = None
) -> int:
    cutoff = (now or utcnow()) - older_than
    async with sessions() as session, session.begin():
        result: CursorResult[tuple[()]] = await session.execute(  # type: ignore[assignment]
            delete(ProcessedActivity).where(col(ProcessedActivity.received_at) < cutoff)
        )
        return result.rowcount
