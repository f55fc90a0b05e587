"""`carrefour demo seed`: one realistic community with a year of life, so a newcomer who runs
the bot sees every feature with content (the README's tour uses it).

The data is fictitious but shaped like the Montérégie example in DOMAIN.md: five full-day
meetings a year in three parts, a topic bank, a poll, attendance, a new hire with a mentor.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.meetings_flow import default_agenda
from storage.db import SessionFactory, transaction
from storage.meetings import training_minutes
from storage.models import (
    AgendaItem,
    Attendance,
    Community,
    ConsultationRequest,
    ConsultationStatus,
    ConversationRef,
    ConversationScope,
    Meeting,
    MeetingMode,
    MeetingStatus,
    Membership,
    MentorPairing,
    MentorRequest,
    MentorRequestStatus,
    OnboardingEnrollment,
    PairingStatus,
    Person,
    Poll,
    PollStatus,
    PollVote,
    Role,
    Rsvp,
    RsvpAnswer,
    Survey,
    SurveyInvitation,
    SurveyKind,
    SurveyResponse,
    Topic,
    TopicStatus,
    TopicVote,
    Volet,
)
from storage.working_days import is_working_day

NAME = "CdeP Soins palliatifs Montérégie"
TENANT = "demo-tenant"
# The seeded people do not exist: nothing may be sent to them. A host under `.invalid` never
# resolves (RFC 6761), and the dispatcher gives such messages up at once, before any DNS query,
# rather than retrying a real Teams service that would time out offline (bot/dispatcher.py).
SERVICE_URL = "https://teams.demo.invalid/"
TUESDAY = 1
# Teams in the network slow down between Christmas and New Year: no meeting is planned then,
# even on the working days in between (24 December to 2 January).
HOLIDAY_BREAK = ((12, 24), (1, 2))
PEOPLE = [
    ("Léa Tremblay", "social_work", "CISSS de la Montérégie-Centre", "16"),
    ("Samuel Gagnon", "psychology", "CISSS de la Montérégie-Est", "16"),
    ("Chloé Roy", "nursing", "CISSS de la Montérégie-Ouest", "16"),
    ("Mathieu Côté", "social_work", "CISSS de la Montérégie-Centre", "16"),
    ("Émilie Bouchard", "spiritual_care", "Maison de soins palliatifs du Richelieu", "16"),
    ("Olivier Gauthier", "nursing", "CISSS de la Montérégie-Est", "16"),
    ("Camille Morin", "psychoeducation", "CISSS de la Montérégie-Ouest", "16"),
    ("Gabriel Lavoie", "social_work", "CISSS de la Montérégie-Est", "16"),
    ("Sarah Fortin", "occupational_therapy", "CISSS de la Montérégie-Centre", "16"),
    ("Félix Gagné", "nursing", "Maison Victor-Gadbois", "16"),
    ("Rosalie Ouellet", "psychology", "CISSS de la Montérégie-Centre", "16"),
    ("Antoine Pelletier", "social_work", "CISSS de la Montérégie-Ouest", "16"),
    ("Juliette Bélanger", "nutrition", "CISSS de la Montérégie-Est", "16"),
    ("Nathan Lévesque", "nursing", "CISSS de la Montérégie-Centre", "16"),
    ("Maude Bergeron", "social_work", "CISSS de Laval", "13"),
    ("Alexis Leblanc", "community_organizing", "CISSS de la Montérégie-Ouest", "16"),
]
TOPICS = [
    ("Le deuil blanc chez les proches aidants", Volet.FORMATIVE, TopicStatus.DONE),
    ("Aide médicale à mourir : accompagner l’équipe", Volet.FORMATIVE, TopicStatus.DONE),
    ("Situation complexe : refus de soins à domicile", Volet.REFLECTIVE, TopicStatus.DONE),
    (
        "Directives médicales anticipées : où en sommes-nous ?",
        Volet.FORMATIVE,
        TopicStatus.SCHEDULED,
    ),
    ("L’usure de compassion", Volet.FORMATIVE, TopicStatus.SHORTLISTED),
    ("Rituels et diversité culturelle en fin de vie", Volet.EXCHANGE, TopicStatus.SHORTLISTED),
    ("Outils d’évaluation de la détresse", Volet.FORMATIVE, TopicStatus.PROPOSED),
    ("Travailler avec les familles en conflit", Volet.REFLECTIVE, TopicStatus.PROPOSED),
]


def _at(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


def _in_holiday_break(day: date) -> bool:
    (start_month, start_day), (end_month, end_day) = HOLIDAY_BREAK
    return (day.month, day.day) >= (start_month, start_day) or (day.month, day.day) <= (
        end_month,
        end_day,
    )


def meeting_day(around: date) -> date:
    """The first Tuesday from `around` on that is a working day outside the holiday break
    (meetings fall on Tuesdays, as the community's cadence says)."""
    day = around + timedelta(days=(TUESDAY - around.weekday()) % 7)
    while not is_working_day(day) or _in_holiday_break(day):
        day += timedelta(weeks=1)
    return day


def season_title(day: date) -> str:
    """« Rencontre d’hiver 2027 »: the season a Quebec reader gives the meeting's date, with
    the year so that two autumn meetings a year apart are not confused."""
    season = {
        12: "d’hiver",
        1: "d’hiver",
        2: "d’hiver",
        3: "du printemps",
        4: "du printemps",
        5: "du printemps",
        6: "d’été",
        7: "d’été",
        8: "d’été",
        9: "de la rentrée",
    }.get(day.month, "d’automne")
    return f"Rencontre {season} {day.year}"


async def seed(sessions: SessionFactory, *, timezone: str, now: datetime | None = None) -> str:
    """Create the demo community; returns a one-line description (or why nothing was done)."""
    now = now or datetime.now(UTC)
    tz = ZoneInfo(timezone)
    rng = random.Random(2026)  # the same demo every time
    async with transaction(sessions) as session:
        if (await session.exec(select(Community).where(Community.name == NAME))).first():
            return f"« {NAME} » exists already: nothing to do."
        community = Community(
            name=NAME,
            domain=(
                "Soins palliatifs et de fin de vie à domicile, en CHSLD et en maison de soins "
                "palliatifs\u00a0: partager les situations cliniques complexes et harmoniser les "
                "pratiques entre les équipes."
            ),
            objectives=[
                "Discuter de situations cliniques complexes en toute confidentialité",
                "Harmoniser l’accompagnement des proches aidants et du deuil",
                "Soutenir les intervenant·e·s nouvellement arrivé·e·s",
            ],
            theme="Fin de vie, Deuil, Proches aidants, Aide médicale à mourir",
            audience="Intervenant·e·s psychosociaux, infirmières et infirmiers, soins spirituels",
            cadence="5 rencontres par année, de 9 h à 16 h",
            usual_mode=MeetingMode.HYBRID,
            rules=[
                "Ce qui se dit dans la communauté reste dans la communauté.",
                "Les situations sont présentées sans information permettant d’identifier l’usager.",
                "On respecte les opinions divergentes et le temps de parole de chacun·e.",
                "Caméra ouverte pour les personnes à distance.",
            ],
            # Any organisation may see it, so whoever tries the bot can join it.
            tenant_id=None,
            team_id="19:demo-team@thread.tacv2",
            teams_channel_id="19:demo-channel@thread.tacv2",
        )
        session.add(community)
        await session.flush()
        assert community.id is not None
        people: list[Person] = []
        for n, (name, discipline, establishment, region) in enumerate(PEOPLE, start=1):
            person = Person(
                teams_user_id=f"29:demo-{n}",
                aad_object_id=f"00000000-0000-4000-8000-{n:012d}",
                tenant_id=TENANT,
                name=name,
                locale="fr-CA",
                consent_reminders=True,
                consent_surveys=True,
            )
            session.add(person)
            await session.flush()
            people.append(person)
            roles = [Role.MEMBER.value]
            if n in (1, 2):
                roles.append(Role.ANIMATOR.value)
            if n == 3:
                roles.append(Role.COORDINATOR.value)
            if n in (4, 5):
                roles.append(Role.MENTOR.value)
            session.add(
                Membership(
                    person_id=person.id or 0,
                    community_id=community.id,
                    roles=roles,
                    discipline=discipline,
                    establishment=establishment,
                    region=region,
                    interests=["Fin de vie", "Deuil"] if n % 2 else ["Proches aidants"],
                    is_new_hire=n == len(PEOPLE) - 1,
                    mentor_capacity=2 if n in (4, 5) else None,
                    joined_at=now - timedelta(days=365 - n * 7),
                )
            )
        session.add(
            ConversationRef(
                conversation_id="19:demo-channel@thread.tacv2",
                scope=ConversationScope.CHANNEL,
                service_url=SERVICE_URL,
                tenant_id=TENANT,
                team_id="19:demo-team@thread.tacv2",
                teams_channel_id="19:demo-channel@thread.tacv2",
            )
        )
        topics: list[Topic] = []
        for n, (title, kind, status) in enumerate(TOPICS):
            topic = Topic(
                community_id=community.id,
                title=title,
                kind=kind,
                status=status,
                proposed_by_id=people[n % len(people)].id,
                created_at=now - timedelta(days=330 - n * 30),
            )
            session.add(topic)
            topics.append(topic)
        await session.flush()
        for topic in topics[4:]:
            for voter in rng.sample(people, k=rng.randint(2, 9)):
                session.add(TopicVote(topic_id=topic.id or 0, person_id=voter.id or 0))

        # Five meetings over the past year, the next one in about three weeks.
        today = now.astimezone(tz).date()
        for n, days_ago in enumerate((320, 250, 180, 110, 40, -21)):
            day = meeting_day(today - timedelta(days=days_ago))
            if days_ago >= 0 and day >= today:
                # The break pushed a past meeting to today or later: hold it before instead.
                day = meeting_day(today - timedelta(days=days_ago + 21))
            starts_at, ends_at = _at(day, 9, 0, tz), _at(day, 16, 0, tz)
            topic = topics[min(n, 3)]
            meeting = Meeting(
                community_id=community.id,
                title=season_title(day),
                starts_at=starts_at,
                ends_at=ends_at,
                mode=MeetingMode.HYBRID if n % 2 else MeetingMode.IN_PERSON,
                place="CLSC Samuel-de-Champlain, salle 204, Brossard",
                online_link="https://teams.microsoft.com/l/meetup-join/demo" if n % 2 else None,
                status=MeetingStatus.SCHEDULED if days_ago < 0 else MeetingStatus.DONE,
                general_objective="Mieux accompagner les proches aidants dans le deuil",
                specific_objectives=[
                    "Connaître les ressources de deuil de la région",
                    "Partager nos outils d’évaluation",
                    "Discuter d’une situation complexe vécue dans nos équipes",
                ],
                created_by_id=people[0].id,
                attendance_confirmed_at=None if days_ago < 0 else ends_at + timedelta(days=1),
            )
            session.add(meeting)
            await session.flush()
            items: list[AgendaItem] = []
            for position, row in enumerate(
                default_agenda(starts_at, ends_at, topic=topic.title, locale="fr-CA", tz=timezone)
            ):
                hour, minute = (int(part) for part in row.time.split(":"))
                items.append(
                    AgendaItem(
                        meeting_id=meeting.id or 0,
                        position=position,
                        starts_at=_at(day, hour, minute, tz),
                        title=row.title,
                        volet=Volet(row.volet),
                        presenter="Dre Marie Roy, CISSS de la Montérégie-Centre"
                        if row.volet == Volet.FORMATIVE.value
                        else None,
                        topic_id=topic.id if row.volet == Volet.FORMATIVE.value else None,
                    )
                )
            session.add_all(items)
            # Present all day: credited the day less its meal, as a facilitator's confirmation
            # of the list would credit them.
            credited = training_minutes(meeting, items)
            attending = rng.sample(people, k=rng.randint(9, 14))
            if days_ago >= 0:
                # Satisfaction answers, anonymous like real ones (a random key, no person).
                survey = Survey(
                    community_id=community.id,
                    meeting_id=meeting.id,
                    kind=SurveyKind.SATISFACTION,
                    opens_at=ends_at + timedelta(hours=1),
                    closes_at=ends_at + timedelta(days=7),
                    created_at=ends_at + timedelta(hours=1),
                )
                session.add(survey)
                await session.flush()
                answering = rng.sample(attending, k=max(5, len(attending) - 3))
                for person in attending:
                    session.add(
                        SurveyInvitation(
                            survey_id=survey.id or 0,
                            person_id=person.id or 0,
                            answered=person in answering,
                        )
                    )
                for _person in answering:
                    base = rng.choice([3, 4, 4, 5, 5])
                    session.add(
                        SurveyResponse(
                            survey_id=survey.id or 0,
                            respondent_key=f"sealed:demo-{rng.getrandbits(48):x}",
                            ratings={
                                key: max(1, min(5, base + rng.choice([-1, 0, 0, 1])))
                                for key in (
                                    "overall",
                                    "relevance",
                                    "exchanges",
                                    "usefulness",
                                    "organisation",
                                )
                            },
                            texts={
                                "takeaway": rng.choice(
                                    [
                                        "Des repères concrets pour accompagner le deuil.",
                                        "La discussion de cas m’a fait voir d’autres pistes.",
                                        "Les ressources de la région, que je ne connaissais pas.",
                                    ]
                                ),
                            },
                        )
                    )
            for person in people:
                answer = (
                    RsvpAnswer.YES
                    if person in attending
                    else rng.choice([RsvpAnswer.NO, RsvpAnswer.MAYBE])
                )
                if days_ago < 0 and rng.random() < 0.4:
                    continue  # not everyone has answered yet
                session.add(
                    Rsvp(meeting_id=meeting.id or 0, person_id=person.id or 0, answer=answer)
                )
                if days_ago >= 0 and person in attending:
                    session.add(
                        Attendance(
                            meeting_id=meeting.id or 0,
                            person_id=person.id or 0,
                            minutes=credited,
                            confirmed_by_id=people[0].id,
                        )
                    )

        # A closed poll on the dates of the next meeting.
        poll = Poll(
            community_id=community.id,
            question="Quelle date pour la prochaine rencontre ?",
            options=["Mardi", "Mercredi", "Jeudi"],
            anonymous=False,
            closes_at=now - timedelta(days=30),
            status=PollStatus.CLOSED,
            created_by_id=people[0].id,
            closed_at=now - timedelta(days=30),
        )
        session.add(poll)
        await session.flush()
        for person in rng.sample(people, k=11):
            session.add(
                PollVote(
                    poll_id=poll.id or 0,
                    voter_key=f"person:{person.id}",
                    person_id=person.id,
                    choices=[rng.choice([0, 1, 1, 2])],
                    voted_at=now - timedelta(days=32),
                )
            )

        # A new hire, welcomed and paired with a mentor.
        newcomer, mentor = people[-2], people[3]
        session.add(
            OnboardingEnrollment(
                community_id=community.id,
                person_id=newcomer.id or 0,
                source="join_dialog",
                started_at=now - timedelta(days=40),
                checkin_rating=4,
                checkin_comment="Le jumelage m’aide beaucoup.",
                checkin_at=now - timedelta(days=10),
            )
        )
        request = MentorRequest(
            community_id=community.id,
            mentee_id=newcomer.id or 0,
            status=MentorRequestStatus.PAIRED,
            created_at=now - timedelta(days=33),
        )
        session.add(request)
        await session.flush()
        session.add(
            MentorPairing(
                request_id=request.id or 0,
                community_id=community.id,
                mentor_id=mentor.id or 0,
                mentee_id=newcomer.id or 0,
                status=PairingStatus.ACTIVE,
                reason="discipline,region;load=0/2",
                confirmed_by_id=people[2].id,
                goals="Prendre ses repères dans l’équipe de soins palliatifs à domicile",
                frequency="Toutes les deux semaines, 1 h",
                duration_weeks=12,
                created_at=now - timedelta(days=32),
                accepted_at=now - timedelta(days=31),
            )
        )
        # A consultation, closed, whose summary was written without identifying anyone.
        session.add(
            ConsultationRequest(
                reference=f"C-{now.year}-0001",
                community_id=community.id,
                requester_id=people[6].id or 0,
                motive="ethical_dilemma",
                summary=(
                    "Une usagère en fin de vie refuse que l’équipe informe sa fille de son "
                    "pronostic ; la fille demande des nouvelles chaque semaine."
                ),
                urgency="this_month",
                modality="one_to_one",
                availability="Mardis après-midi",
                status=ConsultationStatus.CLOSED,
                assignee_id=people[2].id,
                suggested_assignee_id=people[2].id,
                suggestion_reason="coordination;open=0",
                created_at=now - timedelta(days=60),
                assigned_at=now - timedelta(days=59),
                closed_at=now - timedelta(days=45),
                usefulness_rating=5,
            )
        )
    return (
        f"« {NAME} » created: {len(PEOPLE)} members, 6 meetings, {len(TOPICS)} topics, "
        "a poll, surveys, a consultation, a mentoring pair."
    )
