"""Seed a community's year in the e2e bot's database (DATABASE_URL), for
test_playground_year.py: on the demo community (`carrefour demo seed`, community 1), what its
facilitators would have recorded over the year, which the Playground cannot do quickly.

    python -m tests.e2e.seed_year <facilitator's Teams user id> <team id> <channel id>

The facilitator (who has written to the bot once, so their person exists) becomes a member,
facilitator and coordinator of the demo community, which is bound to the Playground's channel
(its planning and charter commands work in their community's channel only). Around it: the
register of productions (four in the 2026 review's twelve months, one after), the status of two
of the charter's three objectives for 2026 (the test sets the third on the card), a check-in on
the demo's mentoring pairing, an ended pairing, a request waiting for a mentor, and a speaker
and a late arrival on the latest meeting's attendance (its hours counted as storage/admin.py
does: meals left out, the minutes missed taken off). The bot under test runs on the wall clock,
so this does too.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, date, datetime, timedelta

from sqlmodel import col, select

from storage import admin
from storage.db import transaction
from storage.models import (
    Attendance,
    Meeting,
    MeetingStatus,
    MentorCheckin,
    MentorPairing,
    MentorRequest,
    MentorRequestStatus,
    ObjectiveReview,
    ObjectiveState,
    PairingStatus,
    ProductionKind,
    Role,
)
from tests.e2e.seeding import (
    COMMUNITY_ID,
    SeededProduction,
    add_productions,
    bind_demo,
    bot_database,
    membership,
    person,
)

# The demo's people (bot/demo.py PEOPLE, in order): 29:demo-<n>.
LEA, CHLOE, EMILIE, SARAH, JULIETTE, NATHAN = (f"29:demo-{n}" for n in (1, 3, 5, 9, 13, 14))
# Within the 2026 review (16 June 2025 to 15 June 2026), then one after it.
PRODUCTIONS = (
    SeededProduction(
        "Formation\u00a0: l’aide médicale à mourir pour les intervenant·e·s psychosociaux",
        ProductionKind.TRAINING,
        date(2025, 11, 5),
    ),
    SeededProduction(
        "Aide-mémoire\u00a0: préparer la famille à un décès à domicile",
        ProductionKind.TOOL,
        date(2026, 2, 10),
        contributors=(LEA, CHLOE),
    ),
    SeededProduction(
        "Trajectoire de soins palliatifs à domicile en Montérégie",
        ProductionKind.CLINICAL_PROJECT,
        date(2026, 4, 15),
        contributors=(EMILIE,),
    ),
    SeededProduction(
        "Guide d’accompagnement du deuil des proches aidants",
        ProductionKind.GUIDE,
        date(2026, 5, 20),
        contributors=(LEA,),
        url="https://www.cisss-monteregie.example/soins-palliatifs/guide-deuil.pdf",
    ),
    SeededProduction(
        "Prise de position sur les directives médicales anticipées",
        ProductionKind.POSITION,
        date(2026, 10, 1),
    ),
)
# The demo charter's objectives 2 and 3 (bot/demo.py); the first is left for the test.
OBJECTIVES_2026 = (
    (
        1,
        ObjectiveState.IN_PROGRESS,
        "Le guide du deuil est publié\u00a0; la trousse pour les proches aidants reste à faire.",
    ),
    (2, ObjectiveState.REACHED, "Trois nouvelles recrues jumelées à un mentor cette année."),
)


async def seed(facilitator: str, team_id: str, channel_id: str) -> None:
    now = datetime.now(UTC)
    async with bot_database() as sessions, transaction(sessions) as session:
        community = await bind_demo(session, team_id, channel_id)
        by = await person(session, facilitator)
        assert by.id is not None
        roles = (Role.MEMBER, Role.ANIMATOR, Role.COORDINATOR)
        session.add(membership(by, roles, now - timedelta(days=600)))
        people = {
            key: await person(session, key) for key in (LEA, CHLOE, EMILIE, SARAH, JULIETTE, NATHAN)
        }

        await add_productions(
            session, PRODUCTIONS, by=by, key_prefix="e2e-year-production", now=now
        )
        for position, state, comment in OBJECTIVES_2026:
            session.add(
                ObjectiveReview(
                    community_id=COMMUNITY_ID,
                    year=2026,
                    objective=community.objectives[position][:500],
                    state=state,
                    comment=comment,
                    set_by_id=by.id,
                    set_at=now,
                )
            )

        # Mentoring: the demo's pairing had its half-term check-in; an earlier pairing
        # ended; someone waits for a mentor.
        pairing = (
            await session.exec(
                select(MentorPairing).where(MentorPairing.community_id == COMMUNITY_ID)
            )
        ).first()
        assert pairing is not None
        assert pairing.id is not None
        session.add(
            MentorCheckin(
                pairing_id=pairing.id,
                person_id=pairing.mentee_id,
                moment="half",
                rating=4,
                comment="Nos rencontres m’aident à prendre mes repères.",
                answered_at=now - timedelta(days=9),
            )
        )
        ended_request = MentorRequest(
            community_id=COMMUNITY_ID,
            mentee_id=people[SARAH].id or 0,
            status=MentorRequestStatus.PAIRED,
            created_at=now - timedelta(days=300),
        )
        session.add(ended_request)
        await session.flush()
        session.add(
            MentorPairing(
                request_id=ended_request.id or 0,
                community_id=COMMUNITY_ID,
                mentor_id=people[EMILIE].id or 0,
                mentee_id=people[SARAH].id or 0,
                status=PairingStatus.ENDED,
                reason="discipline;load=0/2",
                confirmed_by_id=by.id,
                goals="Se familiariser avec l’accompagnement spirituel en fin de vie",
                frequency="Toutes les deux semaines, 1 h",
                duration_weeks=12,
                created_at=now - timedelta(days=298),
                accepted_at=now - timedelta(days=297),
                # Its twelve weeks over, as storage/mentoring.py ends a pairing.
                ended_at=now - timedelta(days=297 - 12 * 7),
            )
        )
        session.add(
            MentorRequest(
                community_id=COMMUNITY_ID,
                mentee_id=people[JULIETTE].id or 0,
                status=MentorRequestStatus.OPEN,
                created_at=now - timedelta(days=4),
            )
        )

        # The latest meeting held: its speaker, and someone who arrived late.
        latest = (
            await session.exec(
                select(Meeting)
                .where(Meeting.community_id == COMMUNITY_ID)
                .where(Meeting.status == MeetingStatus.DONE)
                .order_by(col(Meeting.starts_at).desc())
            )
        ).first()
        assert latest is not None
        assert latest.id is not None
        # Through storage/admin.py's rules, so the late arrival's minutes are the real ones.
        await session.flush()
        await admin.add_guest(
            session,
            meeting_id=latest.id,
            by_person_id=by.id,
            name="Dre Marie Roy",
            kind="speaker",
            now=now,
        )
        present = (
            await session.exec(select(Attendance).where(Attendance.meeting_id == latest.id))
        ).all()
        # bot/demo.py credits 7 h for a 9 h to 16 h day whose agenda has a 75-minute meal:
        # the real rule (meals excluded) for all, so a late arrival differs by its minutes.
        full = await admin.present_minutes(session, latest, late=0, early=0)
        for attendance in present:
            attendance.minutes = full
            session.add(attendance)
        late = present[0]
        await admin.record_partial(
            session,
            meeting_id=latest.id,
            person_id=late.person_id,
            by_person_id=by.id,
            late=45,
            early=0,
            now=now,
        )


if __name__ == "__main__":
    asyncio.run(seed(sys.argv[1], sys.argv[2], sys.argv[3]))
