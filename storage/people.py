"""People and the conversations the bot can write to."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.direct import alone
from storage.models import ConversationRef, ConversationScope, Person, utcnow
from storage.sql import Executor, upsert

PERSON_TABLE: Table = Person.__table__  # type: ignore[attr-defined]
CONVERSATION_TABLE: Table = ConversationRef.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Participant:
    teams_user_id: str
    aad_object_id: str | None
    tenant_id: str | None
    name: str | None
    locale: str | None


@dataclass(frozen=True, slots=True)
class ConversationAddress:
    conversation_id: str
    scope: ConversationScope
    service_url: str
    channel_id: str
    tenant_id: str | None
    bot_id: str | None
    bot_name: str | None
    team_id: str | None
    teams_channel_id: str | None


# The columns a turn refreshes on a known Person, each only when the activity carries a value.
REFRESHED_WHEN_GIVEN = ("aad_object_id", "tenant_id", "name", "locale")


def participant_values(participant: Participant) -> dict[str, object]:
    """The Person row an activity's sender makes, as inserted the first time."""
    now = utcnow()
    return {
        "teams_user_id": participant.teams_user_id,
        # Display data, not keys: a longer one (never seen from Teams) is cut to its column.
        "aad_object_id": participant.aad_object_id and participant.aad_object_id[:64],
        "tenant_id": participant.tenant_id and participant.tenant_id[:64],
        "name": participant.name and participant.name[:255],
        "locale": participant.locale,
        "consent_reminders": False,
        "consent_surveys": False,
        "created_at": now,
        "last_seen_at": now,
    }


async def record_participant(session: Executor, *, participant: Participant) -> Person:
    """Create or refresh the Person behind an activity; returns the stored row."""
    values = participant_values(participant)
    refreshed = ["last_seen_at"] + [
        column for column in REFRESHED_WHEN_GIVEN if values[column] is not None
    ]
    # One round trip: the row comes back from the upsert itself (RETURNING, on both databases).
    row = await upsert(
        session,
        PERSON_TABLE,
        values,
        conflict=["teams_user_id"],
        update=refreshed,
        returning=PERSON_TABLE.c,
    )
    assert row is not None  # ON CONFLICT DO UPDATE returns the row, inserted or updated
    return Person(**row._mapping)


class RecentConversations:
    """Conversations this process recorded lately, and with what. Most turns come from a
    conversation whose address has not changed since its last turn: those skip the two
    statements of `remember_conversation` (bench/turns.py). An entry lasts `ttl_s`, and is
    matched on every recorded value, the person's id included: after an erasure the person
    comes back under a new id, and the conversation is recorded again."""

    def __init__(self, *, ttl_s: float = 600.0, size: int = 10_000) -> None:
        self._ttl_s = ttl_s
        self._size = size
        # The address itself (frozen: compared field by field, and nothing copied, where
        # dataclasses.astuple deep-copies every field), the person's id, when recorded.
        self._entries: OrderedDict[str, tuple[ConversationAddress, int | None, float]] = (
            OrderedDict()
        )

    def fresh(self, address: ConversationAddress, person_id: int | None) -> bool:
        entry = self._entries.get(address.conversation_id)
        return (
            entry is not None
            and entry[0] == address
            and entry[1] == person_id
            and time.monotonic() - entry[2] < self._ttl_s
        )

    def remember(self, address: ConversationAddress, person_id: int | None) -> None:
        """Call once the transaction that recorded it has committed."""
        self._entries[address.conversation_id] = (address, person_id, time.monotonic())
        self._entries.move_to_end(address.conversation_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


async def remember_conversation(
    session: Executor, *, address: ConversationAddress, person_id: int | None
) -> bool:
    """Record where the bot can write; True when this conversation was not known before."""
    known = (
        await session.execute(
            select(col(ConversationRef.id)).where(
                col(ConversationRef.conversation_id) == address.conversation_id
            )
        )
    ).first()
    values = {
        "conversation_id": address.conversation_id,
        "scope": address.scope,
        "service_url": address.service_url,
        "channel_id": address.channel_id,
        "tenant_id": address.tenant_id,
        "bot_id": address.bot_id,
        "bot_name": address.bot_name,
        "person_id": person_id if address.scope == ConversationScope.PERSONAL else None,
        "team_id": address.team_id,
        "teams_channel_id": address.teams_channel_id,
        "updated_at": utcnow(),
    }
    # The service URL can change (Teams moves a tenant between regions): keep the latest.
    refreshed = [k for k, v in values.items() if k != "conversation_id" and v is not None]
    await upsert(
        session, CONVERSATION_TABLE, values, conflict=["conversation_id"], update=refreshed
    )
    return known is None


# Built once: building the statement anew cost as much as running it (bench/turns.py profile).
_SET_LOCALE = (
    update(Person)
    .where(col(Person.id) == bindparam("p_id"))
    .values(preferred_locale=bindparam("p_locale"))
)


async def set_preferred_locale(session: Executor, *, person_id: int, locale: str) -> None:
    await session.execute(_SET_LOCALE, {"p_id": person_id, "p_locale": locale})


async def remember_locale(engine: AsyncEngine, *, person_id: int, locale: str) -> None:
    """In a turn: the language a person chose, one statement that commits by itself
    (storage/direct.py)."""
    await alone(engine, _SET_LOCALE, {"p_id": person_id, "p_locale": locale})


async def get_person(session: AsyncSession, *, teams_user_id: str) -> Person | None:
    return (await session.exec(select(Person).where(Person.teams_user_id == teams_user_id))).first()


async def personal_conversation(session: AsyncSession, *, person_id: int) -> ConversationRef | None:
    return (
        await session.exec(
            select(ConversationRef)
            .where(ConversationRef.person_id == person_id)
            .where(ConversationRef.scope == ConversationScope.PERSONAL)
            .order_by(ConversationRef.updated_at.desc())  # type: ignore[attr-defined]
        )
    ).first()
