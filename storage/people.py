"""People and the conversations the bot can write to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ConversationRef, ConversationScope, Person, utcnow
from storage.sql import upsert

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


async def record_participant(session: AsyncSession, *, participant: Participant) -> Person:
    """Create or refresh the Person behind an activity; returns the stored row."""
    now = utcnow()
    values = {
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
    refreshed = ["last_seen_at"] + [
        column
        for column in ("aad_object_id", "tenant_id", "name", "locale")
        if values[column] is not None
    ]
    await upsert(session, PERSON_TABLE, values, conflict=["teams_user_id"], update=refreshed)
    person = (
        await session.exec(select(Person).where(Person.teams_user_id == participant.teams_user_id))
    ).one()
    return person


async def remember_conversation(
    session: AsyncSession, *, address: ConversationAddress, person_id: int | None
) -> bool:
    """Record where the bot can write; True when this conversation was not known before."""
    known = (
        await session.exec(
            select(ConversationRef.id).where(
                ConversationRef.conversation_id == address.conversation_id
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


async def set_preferred_locale(session: AsyncSession, *, person_id: int, locale: str) -> None:
    await session.execute(
        update(Person).where(Person.id == person_id).values(preferred_locale=locale)  # type: ignore[arg-type]
    )


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
