"""Seed what test_playground_year_more.py shows in the e2e bot's database (DATABASE_URL): on the
demo community (`carrefour demo seed`, community 1), the pieces of a community's year that
arrive by themselves (scheduled jobs, 1:1 cards through the outbox), which the Playground cannot
make happen quickly.

    python -m tests.e2e.seed_year_more <facilitator's Teams user id> <team id> <channel id>

The facilitator (who has written to the bot once, so their person exists and the bot knows
their personal chat) becomes a member and facilitator of the demo community, bound to the
Playground's channel, consenting to surveys. Then, as the jobs and the other facilitators would:

- a meeting held this morning with three specific objectives, which they attended: the real
  job (bot/surveys_flow.py `open_due_surveys`) opens its satisfaction survey and queues their
  invitation (« Cet objectif a été atteint » per objective);
- a second community of the same region, « CdeP Soins palliatifs Haut-Richelieu », whose
  facilitator (a demo member) invites the demo community to co-host its next meeting
  (storage/meetings.py `invite_cohost`, `queue_cohost_invitations`): the invitation card goes
  to the demo's facilitators;
- the welcome step of both communities' onboarding plans with a text, two links and a
  checklist (storage/onboarding.py `set_step_content`), and the facilitator following the
  Haut-Richelieu plan as a newcomer there (`onboarding.start`: the welcome step is due now);
- last year's needs survey of the demo (six answers, 400 days ago) and this year's proposal to
  the facilitator, queued under the job's own key (bot/planning_flow.py
  `propose_needs_surveys` waits for office hours; queued for now here so the test runs at any
  hour).

The bot under test runs on the wall clock, so this does too.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.meetings_flow import default_agenda
from bot.surveys_flow import open_due_surveys
from storage import meetings, onboarding, outbox, planning
from storage.db import transaction
from storage.models import (
    AgendaItem,
    Attendance,
    Community,
    Meeting,
    MeetingMode,
    MeetingStatus,
    Role,
    Survey,
    SurveyKind,
    SurveyResponse,
    Volet,
)
from storage.onboarding import ChecklistItem, Link, StepContent
from tests.e2e.seeding import COMMUNITY_ID, bind_demo, bot_database, membership, person

TIMEZONE = "America/Montreal"  # the bot's default (bot/settings.py)
CHLOE = "29:demo-3"  # a demo member, the Haut-Richelieu community's facilitator
HOST = "CdeP Soins palliatifs Haut-Richelieu"
MEETING_TITLE = "Rencontre d’automne — l’aide médicale à mourir"
OBJECTIVES = (
    "Connaître les critères d’admissibilité à l’aide médicale à mourir",
    "Clarifier le rôle de l’intervenant·e psychosocial·e auprès des proches",
    "Partager nos outils pour accompagner la famille le jour même",
)
JOINT_TITLE = "Rencontre conjointe — le deuil des proches aidants"
WELCOME = StepContent(
    text=(
        "Avant votre première rencontre, prenez 15 minutes pour lire la charte et le guide "
        "d’accueil. Votre marraine ou parrain vous écrira dans la semaine."
    ),
    links=(
        Link(
            "Guide d’accueil des nouvelles recrues",
            "https://www.cisss-monteregie.example/soins-palliatifs/guide-accueil.pdf",
        ),
        Link(
            "Calendrier des rencontres 2026-2027",
            "https://www.cisss-monteregie.example/soins-palliatifs/calendrier",
        ),
    ),
    checklist=(
        ChecklistItem("", "Lire la charte de la communauté"),
        ChecklistItem("", "Se présenter dans le canal de la communauté"),
        ChecklistItem("", "S’inscrire à la prochaine rencontre"),
    ),
)
NEEDS_TOPICS = (
    "L’aide médicale à mourir",
    "Le deuil des proches aidants",
    "La gestion de la douleur à domicile",
    "Les soins spirituels",
)
# Last year's six answers: « Le deuil… » chosen by five, « L'aide médicale… » by four, « La
# gestion de la douleur » by two (shown as fewer than 3), « Les soins spirituels » by nobody.
NEEDS_CHOICES = (
    ("Le deuil des proches aidants", "L’aide médicale à mourir"),
    ("Le deuil des proches aidants", "L’aide médicale à mourir"),
    ("Le deuil des proches aidants", "L’aide médicale à mourir"),
    ("Le deuil des proches aidants", "La gestion de la douleur à domicile"),
    ("Le deuil des proches aidants",),
    ("L’aide médicale à mourir", "La gestion de la douleur à domicile"),
)


async def seed(facilitator: str, team_id: str, channel_id: str) -> None:
    now = datetime.now(UTC)
    async with bot_database() as sessions:
        async with transaction(sessions) as session:
            demo = await bind_demo(session, team_id, channel_id)
            by = await person(session, facilitator)
            by.consent_surveys = True
            session.add(by)
            chloe = await person(session, CHLOE)
            facilitating = [Role.MEMBER, Role.ANIMATOR]
            session.add(membership(by, facilitating, now - timedelta(days=600), COMMUNITY_ID))

            # This morning's meeting, which the facilitator attended (list confirmed).
            starts = now - timedelta(hours=5)
            held = Meeting(
                community_id=COMMUNITY_ID,
                title=MEETING_TITLE,
                starts_at=starts,
                ends_at=starts + timedelta(hours=3),
                mode=MeetingMode.VIRTUAL,
                online_link="https://teams.microsoft.com/l/meetup-join/demo-automne",
                status=MeetingStatus.DONE,
                general_objective="Accompagner les proches lors d’une aide médicale à mourir",
                specific_objectives=list(OBJECTIVES),
                created_by_id=by.id,
                attendance_confirmed_at=now - timedelta(hours=1),
            )
            session.add(held)
            await session.flush()
            session.add(
                Attendance(
                    meeting_id=held.id or 0,
                    person_id=by.id or 0,
                    minutes=180,
                    confirmed_by_id=by.id,
                    confirmed_at=now - timedelta(hours=1),
                )
            )

            # Last year's needs survey, closed, with its six anonymous answers.
            opened = now - timedelta(days=400)
            last_year = Survey(
                community_id=COMMUNITY_ID,
                kind=SurveyKind.NEEDS,
                opens_at=opened,
                closes_at=opened + timedelta(days=14),
                topic_choices=list(NEEDS_TOPICS),
                created_by_id=by.id,
                created_at=opened,
            )
            session.add(last_year)
            await session.flush()
            for n, chosen in enumerate(NEEDS_CHOICES):
                session.add(
                    SurveyResponse(
                        survey_id=last_year.id or 0,
                        respondent_key=f"sealed:e2e-{n}",
                        choices=list(chosen),
                    )
                )

            # The neighbouring community, its facilitator, and its next meeting.
            host = Community(
                name=HOST,
                domain="Soins palliatifs à domicile dans le Haut-Richelieu–Rouville.",
                objectives=["Harmoniser l’accompagnement des proches aidants"],
                theme="Fin de vie, Deuil",
                cadence="4 rencontres par année",
                usual_mode=MeetingMode.VIRTUAL,
                tenant_id=None,
            )
            session.add(host)
            await session.flush()
            assert host.id is not None
            session.add(membership(chloe, facilitating, now - timedelta(days=400), host.id))
            # The facilitator, new in that community: its plan is theirs to follow.
            newcomer = membership(by, [Role.MEMBER], now, host.id)
            newcomer.is_new_hire = True
            session.add(newcomer)
            # In ten days, 13 h to 15 h: the usual two-hour agenda of a meeting.
            zone = ZoneInfo(TIMEZONE)
            local_day = (now + timedelta(days=10)).astimezone(zone).date()
            day = datetime.combine(local_day, time(13, 0), tzinfo=zone).astimezone(UTC)
            joint = Meeting(
                community_id=host.id,
                title=JOINT_TITLE,
                starts_at=day,
                ends_at=day + timedelta(hours=2),
                mode=MeetingMode.VIRTUAL,
                online_link="https://teams.microsoft.com/l/meetup-join/haut-richelieu-deuil",
                status=MeetingStatus.SCHEDULED,
                general_objective="Harmoniser l’accompagnement du deuil entre nos deux territoires",
                created_by_id=chloe.id,
            )
            session.add(joint)
            await session.flush()
            for position, row in enumerate(
                default_agenda(
                    joint.starts_at,
                    joint.ends_at,
                    topic="Le deuil des proches aidants",
                    locale="fr-CA",
                    tz=TIMEZONE,
                )
            ):
                hour, minute = (int(part) for part in row.time.split(":"))
                at = datetime.combine(local_day, time(hour, minute), tzinfo=zone)
                session.add(
                    AgendaItem(
                        meeting_id=joint.id or 0,
                        position=position,
                        starts_at=at.astimezone(UTC),
                        title=row.title,
                        volet=Volet(row.volet),
                    )
                )

            for community in (demo, host):
                await onboarding.set_step_content(
                    session,
                    community=community,
                    step="welcome",
                    by_person_id=(by if community is demo else chloe).id or 0,
                    content=WELCOME,
                )
            await onboarding.start(session, community=host, person_id=by.id or 0, source="join")

            change = await meetings.invite_cohost(
                session,
                meeting_id=joint.id or 0,
                community_id=COMMUNITY_ID,
                by_person_id=chloe.id,
                now=now,
            )
            assert change.changed, change
            assert await meetings.queue_cohost_invitations(session, change) >= 1

            assert await outbox.enqueue(
                session,
                dedup_key=planning.needs_due_key(COMMUNITY_ID, now.year, by.id or 0),
                recipient=outbox.Recipient.person(by.id or 0),
                kind=planning.KIND_NEEDS_DUE,
                params={"community_id": COMMUNITY_ID},
                not_before=now,
            )

        # The satisfaction survey job, as the scheduler runs it: the morning's meeting is due.
        queued = await open_due_surveys(sessions=sessions, now=now, wake=lambda: None)
        assert queued >= 1, queued


if __name__ == "__main__":
    asyncio.run(seed(sys.argv[1], sys.argv[2], sys.argv[3]))
