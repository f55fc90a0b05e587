"""Small factories: each test builds the data it needs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Community,
    ConversationRef,
    ConversationScope,
    Meeting,
    MeetingMode,
    Membership,
    Person,
    Rsvp,
    RsvpAnswer,
)
from tests.activities import BOT_ID, TENANT


async def person(
    session: AsyncSession,
    n: int,
    *,
    service_url: str | None = None,
    locale: str = "fr-CA",
    consent_reminders: bool = True,
    tenant: str = TENANT,
) -> Person:
    """A person; with `service_url`, also their personal chat with the bot."""
    row = Person(
        teams_user_id=f"29:person-{n}",
        aad_object_id=f"00000000-0000-0000-0000-{n:012d}",
        tenant_id=tenant,
        name=f"Personne {n}",
        locale=locale,
        consent_reminders=consent_reminders,
    )
    session.add(row)
    await session.flush()
    if service_url is not None:
        session.add(
            ConversationRef(
                conversation_id=f"a:personal-{n}",
                scope=ConversationScope.PERSONAL,
                service_url=service_url,
                tenant_id=tenant,
                bot_id=BOT_ID,
                person_id=row.id,
            )
        )
        await session.flush()
    return row


async def channel(session: AsyncSession, *, service_url: str, n: int = 1) -> ConversationRef:
    row = ConversationRef(
        conversation_id=f"19:channel-{n}@thread.tacv2",
        scope=ConversationScope.CHANNEL,
        service_url=service_url,
        tenant_id=TENANT,
        bot_id=BOT_ID,
        team_id="19:team@thread.tacv2",
    )
    session.add(row)
    await session.flush()
    return row


async def community(session: AsyncSession, *, name: str = "CdeP Soins palliatifs") -> Community:
    row = Community(name=name, domain="Soins palliatifs à domicile", tenant_id=TENANT)
    session.add(row)
    await session.flush()
    return row


async def member(session: AsyncSession, who: Person, where: Community) -> Membership:
    assert who.id is not None
    assert where.id is not None
    row = Membership(person_id=who.id, community_id=where.id, roles=["member"])
    session.add(row)
    await session.flush()
    return row


async def meeting(
    session: AsyncSession,
    where: Community,
    *,
    starts_at: datetime,
    hours: float = 7,
    place: str | None = "CLSC de Longueuil, salle 204",
    online_link: str | None = "https://teams.microsoft.com/l/meetup-join/example",
) -> Meeting:
    assert where.id is not None
    row = Meeting(
        community_id=where.id,
        title="Rencontre d’automne",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=hours),
        mode=MeetingMode.HYBRID,
        place=place,
        online_link=online_link,
    )
    session.add(row)
    await session.flush()
    return row


async def rsvp(session: AsyncSession, who: Person, what: Meeting, answer: RsvpAnswer) -> None:
    assert who.id is not None
    assert what.id is not None
    session.add(Rsvp(meeting_id=what.id, person_id=who.id, answer=answer))
    await session.flush()
