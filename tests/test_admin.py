"""Administrative support's lists (mailing list with consent, attendance sheets as PDF and CSV,
timesheets, facilitators' time) through signed links; partial presence and guests; the e-mail
consent; mentoring supervision and a mentor's request for support. Storage rules on both
databases, flows over HTTP, in French and English."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pypdf import PdfReader
from sqlmodel import col, select

from bot.admin_flow import LINK_KIND, sign_export
from bot.app import RUNTIME, create_app
from bot.links import signing_key
from cards.admin import safe_cell
from cards.mentoring import build_agreement_card
from storage import admin, attestations, meetings, privacy
from storage.db import SessionFactory, transaction
from storage.models import (
    AgendaItem,
    Attendance,
    Community,
    MailingConsent,
    Meeting,
    MeetingGuest,
    Membership,
    MentorCheckin,
    MentorPairing,
    MentorRequest,
    MentorRequestStatus,
    MentorSupportRequest,
    OutboxMessage,
    PairingStatus,
    Person,
    Role,
    Volet,
)
from tests import factories
from tests.activities import message
from tests.conftest import make_settings
from tests.fake_connector import Failure, FakeConnector

Client = TestClient[web.Request, web.Application]
MONTREAL = ZoneInfo("America/Montreal")
TZ = "America/Montreal"
PUBLIC_URL = "https://carrefour.example.org"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
DAY = date(2026, 11, 10)


def _at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MONTREAL).astimezone(UTC)


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


@dataclass
class World:
    community: Community
    other: Community
    support: Person  # soutien administratif
    animator: Person  # planned the meeting
    coordinator: Person
    lea: Person  # agreed to share her e-mail
    tricky: Person  # a name a spreadsheet would run as a formula; no consent
    outsider: Person  # member only
    mentor: Person
    mentee: Person
    meeting: Meeting  # 9:00–16:00 local, meal 12:00–13:00: 360 training minutes
    elsewhere: Meeting  # another community's
    pairing: MentorPairing


async def _role(session: Any, who: Person, where: Community, *roles: Role) -> None:
    row = await factories.member(session, who, where)
    row.roles = [Role.MEMBER.value, *(r.value for r in roles)]


async def build_world(sessions: SessionFactory) -> World:
    async with transaction(sessions) as session:
        community = await factories.community(session, name="CdeP Soins palliatifs")
        other = await factories.community(session, name="CdeP Autre")
        people = [await factories.person(session, n) for n in range(1, 10)]
        names = [
            "Sylvie Support",
            "Émilie Gagnon",
            "Carole Coord",
            "Léa Tremblay",
            '=HYPERLINK("x")',
            "Olivier Outsider",
            "Marc Mentor",
            "Nadia Newcomer",
            "Autre Animatrice",
        ]
        for person, name in zip(people, names, strict=True):
            person.name = name
        support, animator, coordinator, lea, tricky, outsider, mentor, mentee, far = people
        await _role(session, support, community, Role.ADMIN_SUPPORT)
        await _role(session, animator, community, Role.ANIMATOR)
        await _role(session, coordinator, community, Role.COORDINATOR)
        for who in (lea, tricky, outsider, mentee):
            await factories.member(session, who, community)
        await _role(session, mentor, community, Role.MENTOR)
        (
            await session.exec(
                select(Membership)
                .where(Membership.person_id == mentor.id)
                .where(Membership.community_id == community.id)
            )
        ).one().mentor_capacity = 2
        await _role(session, far, other, Role.ANIMATOR)
        meeting = await factories.meeting(session, community, starts_at=_at(9))
        meeting.created_by_id = animator.id
        for position, (hour, volet) in enumerate(
            ((9, Volet.FORMATIVE), (12, Volet.MEAL), (13, Volet.EXCHANGE))
        ):
            session.add(
                AgendaItem(
                    meeting_id=_id(meeting),
                    position=position,
                    starts_at=_at(hour),
                    title=f"Bloc {position}",
                    volet=volet,
                )
            )
        elsewhere = await factories.meeting(session, other, starts_at=_at(9))
        await session.flush()
        await meetings.confirm_attendance(
            session,
            meeting_id=_id(meeting),
            by_person_id=None,
            attendee_ids=[_id(lea), _id(tricky), _id(animator)],
            now=NOW - timedelta(days=5),
        )
        session.add(
            MailingConsent(person_id=_id(lea), email="lea.tremblay@example.org", agreed_at=NOW)
        )
        request = MentorRequest(community_id=_id(community), mentee_id=_id(outsider))
        done = MentorRequest(
            community_id=_id(community), mentee_id=_id(mentee), status=MentorRequestStatus.PAIRED
        )
        session.add_all([request, done])
        await session.flush()
        pairing = MentorPairing(
            request_id=_id(done),
            community_id=_id(community),
            mentor_id=_id(mentor),
            mentee_id=_id(mentee),
            status=PairingStatus.ACTIVE,
            goals="Objectifs confidentiels",
            accepted_at=NOW - timedelta(days=60),
        )
        session.add(pairing)
        await session.flush()
        session.add(
            MentorCheckin(
                pairing_id=_id(pairing),
                person_id=_id(mentee),
                moment="half",
                rating=2,
                comment="Commentaire privé du bilan",
                answered_at=NOW - timedelta(days=3),
            )
        )
        await session.flush()
    return World(
        community,
        other,
        support,
        animator,
        coordinator,
        lea,
        tricky,
        outsider,
        mentor,
        mentee,
        meeting,
        elsewhere,
        pairing,
    )


# -- storage, on both databases --


async def test_partial_presence_guests_lists_and_supervision(database_url: str) -> None:
    from storage.db import create_engine, session_factory

    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        world = await build_world(sessions)
        meeting_id = _id(world.meeting)
        async with transaction(sessions) as session:
            # Léa arrived at 10:30 (the meal still left out), the tricky one left at noon.
            assert await admin.record_partial(
                session,
                meeting_id=meeting_id,
                person_id=_id(world.lea),
                by_person_id=_id(world.support),
                late=90,
                early=0,
                now=NOW,
            )
            assert not await admin.record_partial(
                session,
                meeting_id=meeting_id,
                person_id=_id(world.lea),
                by_person_id=_id(world.support),
                late=90,
                early=0,
                now=NOW,
            )
            await admin.record_partial(
                session,
                meeting_id=meeting_id,
                person_id=_id(world.tricky),
                by_person_id=_id(world.animator),
                late=0,
                early=240,
                now=NOW,
            )
            for forged in (
                {"person_id": _id(world.outsider)},  # not recorded present
                {"by_person_id": _id(world.outsider)},  # no role
                {"late": 400, "early": 60},  # longer than the meeting
                {"late": -5},
            ):
                values: dict[str, Any] = {
                    "meeting_id": meeting_id,
                    "person_id": _id(world.lea),
                    "by_person_id": _id(world.support),
                    "late": 0,
                    "early": 0,
                    "now": NOW,
                    **forged,
                }
                with pytest.raises(admin.Refused):
                    await admin.record_partial(session, **values)
            # Guests: names only; the same name twice (a double click) is one guest.
            for name in ("Dre Anne Conférencière", "  dre anne  CONFERENCIERE "):
                await admin.add_guest(
                    session,
                    meeting_id=meeting_id,
                    by_person_id=_id(world.animator),
                    name=name,
                    kind="speaker",
                    now=NOW,
                )
            await admin.add_guest(
                session,
                meeting_id=meeting_id,
                by_person_id=_id(world.animator),
                name="Stagiaire Julie",
                kind="intern",
                now=NOW,
            )
            with pytest.raises(admin.Refused):
                await admin.add_guest(
                    session,
                    meeting_id=_id(world.elsewhere),
                    by_person_id=_id(world.animator),
                    name="Intrus",
                    kind="speaker",
                    now=NOW,
                )
        async with sessions() as session:
            minutes = {
                a.person_id: a.minutes
                for a in (
                    await session.exec(
                        select(Attendance).where(Attendance.meeting_id == meeting_id)
                    )
                ).all()
            }
            sheet = await admin.sheet(session, meeting_id=meeting_id)
            summaries = await attestations.attendance_summaries(
                session, start=DAY, end=DAY, tz=TZ, community_id=_id(world.community)
            )
            mailing = await admin.mailing_list(session, community_id=_id(world.community))
            timesheet = await admin.timesheet(
                session, community_id=_id(world.community), start=DAY, end=DAY, tz=TZ
            )
            facilitators = await admin.facilitators_time(
                session, community_id=_id(world.community), start=DAY, end=DAY, tz=TZ
            )
            view = await admin.supervision(session, community=world.community)
        assert minutes == {_id(world.lea): 270, _id(world.tricky): 180, _id(world.animator): 360}
        assert sheet is not None
        assert [(line.name, line.late, line.early) for line in sheet.lines] == [
            ('=HYPERLINK("x")', 0, 240),
            ("Émilie Gagnon", 0, 0),
            ("Léa Tremblay", 90, 0),
        ]
        assert [(g.name, g.kind) for g in sheet.guests] == [
            ("Dre Anne Conférencière", "speaker"),
            ("Stagiaire Julie", "intern"),
        ]
        # Attestations count the real minutes.
        by_name = {s.person_name: s for s in summaries}
        assert by_name["Léa Tremblay"].minutes == 270
        # Shown as « repas et pauses exclus »: the meal only, not the time she was not there.
        assert by_name["Léa Tremblay"].excluded_minutes == 60
        assert by_name['=HYPERLINK("x")'].excluded_minutes == 0
        assert {r.name: r.minutes for r in timesheet} == {
            '=HYPERLINK("x")': 180,
            "Émilie Gagnon": 360,
            "Léa Tremblay": 270,
        }
        assert [(r.name, r.meetings, r.minutes) for r in facilitators] == [
            ("Émilie Gagnon", 1, 420)
        ]
        emails = {row.name: row.email for row in mailing}
        assert emails["Léa Tremblay"] == "lea.tremblay@example.org"
        assert emails["Olivier Outsider"] is None
        assert emails['=HYPERLINK("x")'] is None
        assert [(p.mentor, p.mentee, p.status) for p in view.pairings] == [
            ("Marc Mentor", "Nadia Newcomer", PairingStatus.ACTIVE)
        ]
        assert view.pairings[0].last_checkin == NOW - timedelta(days=3)
        assert "Commentaire privé" not in repr(view)
        assert [r.mentee for r in view.waiting] == ["Olivier Outsider"]
        assert [(m.name, m.load, m.capacity) for m in view.mentors] == [("Marc Mentor", 1, 2)]
        assert view.pairings[0].since == NOW - timedelta(days=60)  # active since accepted

        # Once ended, « terminé depuis le … » is the end's date, not the start's.
        async with transaction(sessions) as session:
            pairing = (await session.exec(select(MentorPairing))).one()
            pairing.status = PairingStatus.ENDED
            pairing.ended_at = NOW - timedelta(days=5)
        async with sessions() as session:
            view = await admin.supervision(session, community=world.community)
        assert [(p.status, p.since) for p in view.pairings] == [
            (PairingStatus.ENDED, NOW - timedelta(days=5))
        ]
    finally:
        await engine.dispose()


async def test_consent_support_requests_and_privacy(database_url: str) -> None:
    from storage.db import create_engine, session_factory

    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        world = await build_world(sessions)
        async with transaction(sessions) as session:
            who = _id(world.outsider)
            assert await admin.set_consent(session, person_id=who, agree=True, email=None, now=NOW)
            assert not await admin.set_consent(
                session, person_id=who, agree=True, email="pas une adresse", now=NOW
            )
            assert await admin.set_consent(
                session, person_id=who, agree=True, email="olivier@example.org", now=NOW
            )
            assert await admin.set_consent(session, person_id=who, agree=False, email=None, now=NOW)
            assert not await admin.set_consent(
                session, person_id=who, agree=False, email=None, now=NOW
            )
            first = await admin.ask_support(
                session,
                pairing_id=_id(world.pairing),
                person_id=_id(world.mentor),
                request_key="k1",
                now=NOW,
            )
            again = await admin.ask_support(
                session,
                pairing_id=_id(world.pairing),
                person_id=_id(world.mentor),
                request_key="k1",
                now=NOW,
            )
            with pytest.raises(admin.Refused):
                await admin.ask_support(
                    session,
                    pairing_id=_id(world.pairing),
                    person_id=_id(world.mentee),
                    request_key="k2",
                    now=NOW,
                )
        assert first.created
        assert not again.created
        assert first.request_id == again.request_id
        assert [p.name for p in first.supervisors] == ["Carole Coord", "Émilie Gagnon"]
        async with transaction(sessions) as session:
            exported = await privacy.export(session, person_id=_id(world.lea))
            assert exported["mailing_consent"]["email"] == "lea.tremblay@example.org"
            await privacy.erase(session, person_id=_id(world.lea), now=NOW)
            await privacy.erase(session, person_id=_id(world.mentor), now=NOW)
        async with sessions() as session:
            assert (
                await session.exec(
                    select(MailingConsent).where(MailingConsent.person_id == _id(world.lea))
                )
            ).first() is None
            support = (await session.exec(select(MentorSupportRequest))).one()
            assert support.mentor_id is None
            mailing = await admin.mailing_list(session, community_id=_id(world.community))
        assert "Léa Tremblay" not in [row.name for row in mailing]
    finally:
        await engine.dispose()


def test_spreadsheet_formulas_are_neutralised() -> None:
    assert safe_cell("=SUM(A1)") == "'=SUM(A1)"
    assert safe_cell("+1") == "'+1"
    assert safe_cell("-2") == "'-2"
    assert safe_cell("@cmd") == "'@cmd"
    assert safe_cell("Léa") == "Léa"
    assert safe_cell(None) == ""


# -- over HTTP --


@pytest.fixture
def traveller() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@dataclass
class Scene:
    client: Client
    connector: FakeConnector
    world: World

    @property
    def sessions(self) -> SessionFactory:
        sessions: SessionFactory = self.client.app[RUNTIME].sessions
        return sessions

    async def post(
        self,
        who: Person,
        *,
        text: str | None = None,
        value: dict[str, Any] | None = None,
        locale: str = "fr-CA",
        email: str | None = None,
    ) -> int:
        since = len(self.connector.received)
        sender: dict[str, Any] = {
            "id": who.teams_user_id,
            "name": who.name,
            "aadObjectId": who.aad_object_id,
        }
        if email:
            sender["email"] = email
        activity = message(
            text, service_url=self.connector.url, sender=sender, locale=locale, value=value
        )
        response = await self.client.post("/api/messages", json=activity)
        assert response.status in (200, 201), await response.text()
        return since

    def cards_since(self, since: int) -> list[dict[str, Any]]:
        return [
            attachment["content"]
            for received in self.connector.received[since:]
            for attachment in received.body.get("attachments") or []
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]

    def texts_since(self, since: int) -> list[str]:
        return [str(r.body["text"]) for r in self.connector.received[since:] if r.body.get("text")]


@pytest.fixture
async def scene(sqlite_url: str, connector: FakeConnector, traveller: None) -> AsyncIterator[Scene]:
    app = create_app(make_settings(sqlite_url, CARREFOUR_PUBLIC_URL=PUBLIC_URL))
    client = TestClient(TestServer(app))
    await client.start_server()
    world = await build_world(client.app[RUNTIME].sessions)
    yield Scene(client, connector, world)
    await client.close()


def _card_text(card: dict[str, Any]) -> str:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "title", "label"):
                if isinstance(node.get(key), str):
                    found.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return "\n".join(found)


def _links(card: dict[str, Any]) -> dict[str, str]:
    text = _card_text(card)
    return {
        label: urlsplit(url).path
        for label, url in re.findall(r"\[([^\]]+)\]\((https://[^)]+)\)", text)
    }


def _csv(body: bytes, delimiter: str) -> list[list[str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=delimiter))


def _pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


async def test_support_exports_the_lists_through_signed_links(scene: Scene) -> None:
    world = scene.world
    since = await scene.post(world.support, text="listes 2026")
    (card,) = scene.cards_since(since)
    text = _card_text(card)
    assert "Listes administratives — CdeP Soins palliatifs" in text
    assert "Les liens expirent dans 7\u00a0jours" in text
    found = _links(card)
    assert set(found) == {
        "Liste d’envoi (CSV)",
        "Feuille de temps (CSV)",
        "Temps des animateurs (CSV)",
        "PDF",
        "CSV",
    }

    response = await scene.client.get(found["Liste d’envoi (CSV)"])
    assert response.status == 200
    assert response.content_type == "text/csv"
    rows = _csv(await response.read(), ";")
    assert rows[0] == ["Nom", "Courriel"]
    assert ["Léa Tremblay", "lea.tremblay@example.org"] in rows
    assert ["Olivier Outsider", ""] in rows
    # A name a spreadsheet would run is neutralised, never invented an address.
    assert ['\'=HYPERLINK("x")', ""] in rows

    response = await scene.client.get(found["Feuille de temps (CSV)"])
    rows = _csv(await response.read(), ";")
    assert rows[0] == ["Nom", "Du", "Au", "Rencontres", "Heures"]
    assert ["Léa Tremblay", "2026-01-01", "2026-12-31", "1", "6,00"] in rows

    response = await scene.client.get(found["Temps des animateurs (CSV)"])
    rows = _csv(await response.read(), ";")
    assert rows[1:] == [["Émilie Gagnon", "2026-01-01", "2026-12-31", "1", "7,00"]]

    response = await scene.client.get(found["PDF"])
    assert response.status == 200
    assert response.content_type == "application/pdf"
    pdf = _pdf_text(await response.read())
    assert "Feuille de présence" in pdf
    assert "Signature" in pdf
    assert "Léa Tremblay" in pdf

    response = await scene.client.get(found["CSV"])
    rows = _csv(await response.read(), ";")
    assert rows[0] == ["Nom", "Statut", "Retard (min)", "Départ hâtif (min)", "Heures"]
    assert ["Léa Tremblay", "Membre", "0", "0", "6,00"] in rows

    # In English: a comma, a point.
    since = await scene.post(world.support, text="lists 2026", locale="en-US")
    (card,) = scene.cards_since(since)
    assert "Administrative lists — CdeP Soins palliatifs" in _card_text(card)
    found = _links(card)
    response = await scene.client.get(found["Timesheet (CSV)"])
    rows = _csv(await response.read(), ",")
    assert ["Léa Tremblay", "2026-01-01", "2026-12-31", "1", "6.00"] in rows


async def test_others_are_refused_and_forged_links_too(scene: Scene) -> None:
    world = scene.world
    since = await scene.post(world.outsider, text="listes")
    assert scene.texts_since(since) == [
        "Ces listes sont réservées au soutien administratif, aux coordonnateurs et aux "
        "animateurs d’une communauté."
    ]
    since = await scene.post(world.outsider, text="mentoring supervision", locale="en-US")
    assert scene.texts_since(since) == [
        "Mentoring supervision is for a community’s coordinators and facilitators."
    ]
    runtime = scene.client.app[RUNTIME]
    async with transaction(runtime.sessions) as session:
        key = await signing_key(session, runtime.settings)

    def token(who: Person, community: Community, what: str, first: str = "0", **kw: Any) -> str:
        return sign_export(
            key,
            person_id=_id(who),
            community_id=_id(community),
            what=what,
            first=first,
            second=kw.get("second", "0"),
            language="fr",
            expires_at=kw.get("expires_at", NOW + timedelta(days=1)),
        )

    good = token(world.support, world.community, "mail")
    assert (await scene.client.get(f"/lists/{good}")).status == 200
    # Someone with no role, a link for another community, a meeting of another community.
    for forged in (
        token(world.outsider, world.community, "mail"),
        token(world.support, world.other, "mail"),
        token(world.support, world.community, "nope"),
        good.replace(f".{_id(world.support)}.", f".{_id(world.coordinator)}.", 1),
        good[:-3] + "xyz",
        "2.adminlist.1.fr.99999999999.1.mail.0.0.forged",
    ):
        response = await scene.client.get(f"/lists/{forged}")
        assert response.status == 403, forged
        assert await response.text() == "Ce lien n’est pas valide."
    other_meeting = token(world.support, world.community, "pdf", str(_id(world.elsewhere)))
    assert (await scene.client.get(f"/lists/{other_meeting}")).status == 404
    old = token(world.support, world.community, "mail", expires_at=NOW - timedelta(minutes=1))
    assert (await scene.client.get(f"/lists/{old}")).status == 410
    # An attestation token opens no list (the kind is signed).
    assert LINK_KIND == "adminlist"
    # A role lost since: the link no longer opens.
    async with transaction(runtime.sessions) as session:
        row = (
            await session.exec(
                select(Membership)
                .where(Membership.person_id == world.support.id)
                .where(Membership.community_id == world.community.id)
            )
        ).one()
        row.roles = [Role.MEMBER.value]
    assert (await scene.client.get(f"/lists/{good}")).status == 403


async def test_partial_presence_and_guests_from_the_card(scene: Scene) -> None:
    world = scene.world
    since = await scene.post(world.animator, text="présences détaillées")
    (card,) = scene.cards_since(since)
    text = _card_text(card)
    assert "Présences détaillées — Rencontre d’automne" in text
    assert "Léa Tremblay — 6\u00a0h" in text
    submit = card["actions"][0]["data"]
    assert submit["verb"] == "admin.attendance"
    value = {
        **submit,
        f"late_{_id(world.lea)}": "30",
        f"early_{_id(world.lea)}": "0",
        "guest_name": "Dre Anne Conférencière",
        "guest_kind": "speaker",
    }
    for _ in range(2):  # a double click records once
        since = await scene.post(world.animator, value=value)
        assert scene.texts_since(since)[-1].startswith("C’est noté.")
    async with scene.sessions() as session:
        guests = (await session.exec(select(MeetingGuest))).all()
        lea = (
            await session.exec(select(Attendance).where(Attendance.person_id == _id(world.lea)))
        ).one()
    assert [g.name for g in guests] == ["Dre Anne Conférencière"]
    assert lea.minutes == 330

    since = await scene.post(
        world.animator, value={**value, f"late_{_id(world.lea)}": "abc"}, locale="en-US"
    )
    assert scene.texts_since(since) == [
        "Minutes must be whole numbers, no more than a day. Nothing was changed."
    ]
    # A member with no role, or a forged meeting of another community: refused, unchanged.
    since = await scene.post(world.outsider, value={**value, f"late_{_id(world.lea)}": "0"})
    assert scene.texts_since(since)[0].startswith("Je ne peux pas enregistrer cela")
    since = await scene.post(
        world.animator, value={**value, "meeting_id": _id(world.elsewhere), "guest_name": "X"}
    )
    assert scene.texts_since(since)[0].startswith("Je ne peux pas enregistrer cela")
    async with scene.sessions() as session:
        lea = (
            await session.exec(select(Attendance).where(Attendance.person_id == _id(world.lea)))
        ).one()
        assert lea.minutes == 330
        (guest,) = (await session.exec(select(MeetingGuest))).all()
    # Removing a guest: not for a member with no role; twice is once.
    remove = {"verb": "admin.guest_remove", "guest_id": _id(guest)}
    since = await scene.post(world.outsider, value=remove)
    assert scene.texts_since(since)[0].startswith("Je ne peux pas enregistrer cela")
    since = await scene.post(world.support, value=remove)
    assert scene.texts_since(since)[-1] == "L’invité est retiré de la feuille."
    since = await scene.post(world.support, value=remove, locale="en-US")
    assert scene.texts_since(since)[-1] == "This guest was already off the sheet."


async def test_a_member_gives_and_withdraws_the_email_consent(scene: Scene) -> None:
    world = scene.world
    since = await scene.post(world.outsider, text="partager mon courriel")
    (card,) = scene.cards_since(since)
    assert "Pour le moment, votre courriel n’y figure pas." in _card_text(card)
    give = card["actions"][0]["data"]
    since = await scene.post(world.outsider, value=give, email="olivier@example.org")
    (card,) = scene.cards_since(since)
    assert "olivier@example.org figure sur la liste d’envoi" in _card_text(card)
    since = await scene.post(world.outsider, value=card["actions"][0]["data"], locale="en-US")
    (card,) = scene.cards_since(since)
    assert "For now, your email is not on it." in _card_text(card)
    # A forged payload changes nothing.
    since = await scene.post(world.outsider, value={"verb": "admin.consent", "agree": "oui"})
    assert scene.texts_since(since) == ["Je n’ai pas compris cette demande. Rien n’a été modifié."]
    async with scene.sessions() as session:
        assert (
            await session.exec(
                select(MailingConsent).where(col(MailingConsent.person_id) == _id(world.outsider))
            )
        ).first() is None


async def _consent_row(scene: Scene, who: Person) -> MailingConsent | None:
    async with scene.sessions() as session:
        return (
            await session.exec(
                select(MailingConsent).where(col(MailingConsent.person_id) == _id(who))
            )
        ).first()


async def test_the_email_comes_from_the_teams_profile_only_once_agreed(scene: Scene) -> None:
    world, connector = scene.world, scene.connector
    member = world.outsider.teams_user_id
    assert member is not None
    connector.member_emails[member] = "olivier.outsider@example.org"
    # Looking at the consent, or saying no, asks Teams nothing.
    since = await scene.post(world.outsider, text="courriel")
    (card,) = scene.cards_since(since)
    await scene.post(world.outsider, text="courriel non")
    await scene.post(world.outsider, text="email no", locale="en-US")
    assert connector.member_lookups == []
    assert await _consent_row(scene, world.outsider) is None

    # The button: the activity carries no address, so the profile is asked for, once.
    since = await scene.post(world.outsider, value=card["actions"][0]["data"])
    (card,) = scene.cards_since(since)
    assert "olivier.outsider@example.org figure sur la liste d’envoi" in _card_text(card)
    (lookup,) = connector.member_lookups
    assert lookup.method == "GET"
    assert lookup.path.endswith(f"/members/{member}")
    assert lookup.conversation_id == f"a:personal-{member}"
    row = await _consent_row(scene, world.outsider)
    assert row is not None
    assert row.email == "olivier.outsider@example.org"
    async with scene.sessions() as session:
        mailing = await admin.mailing_list(session, community_id=_id(world.community))
    assert ("Olivier Outsider", "olivier.outsider@example.org") in [
        (r.name, r.email) for r in mailing
    ]

    # Withdrawing erases the address and asks nothing.
    since = await scene.post(world.outsider, text="email no", locale="en-US")
    (card,) = scene.cards_since(since)
    assert "For now, your email is not on it." in _card_text(card)
    assert await _consent_row(scene, world.outsider) is None
    assert len(connector.member_lookups) == 1


@pytest.mark.parametrize(
    ("status", "locale", "words", "expected"),
    [
        (404, "fr-CA", "courriel oui", "Teams n’a pas donné votre adresse"),
        (502, "en-US", "email yes", "Teams did not give your address"),
    ],
)
async def test_a_failed_profile_lookup_records_the_consent_without_an_address(
    scene: Scene, status: int, locale: str, words: str, expected: str
) -> None:
    world, connector = scene.world, scene.connector
    member = world.outsider.teams_user_id
    assert member is not None
    connector.member_emails[member] = "olivier.outsider@example.org"
    connector.member_failures.append(Failure(status))
    since = await scene.post(world.outsider, text=words, locale=locale)
    (card,) = scene.cards_since(since)
    assert expected in _card_text(card).replace("\u00a0", " ")
    assert [lookup.status for lookup in connector.member_lookups] == [status]
    row = await _consent_row(scene, world.outsider)
    assert row is not None
    assert row.email is None
    # Asked again later, Teams answers: the address is added to the consent.
    since = await scene.post(world.outsider, text=words, locale=locale)
    (card,) = scene.cards_since(since)
    assert "olivier.outsider@example.org" in _card_text(card)
    row = await _consent_row(scene, world.outsider)
    assert row is not None
    assert row.email == "olivier.outsider@example.org"


async def test_supervision_and_a_mentors_request_for_support(scene: Scene) -> None:
    world = scene.world
    since = await scene.post(world.coordinator, text="supervision du mentorat")
    (card,) = scene.cards_since(since)
    text = _card_text(card)
    assert "Marc Mentor → Nadia Newcomer · en cours depuis le" in text
    assert "dernier bilan le vendredi 20 novembre 2026" in text
    assert "Commentaire privé" not in text
    assert "Objectifs confidentiels" not in text
    assert "Olivier Outsider, depuis le" in text
    assert "Marc Mentor\u00a0: 1\u00a0jumelage sur 2" in text

    mentor_card = build_agreement_card(
        world.pairing,
        mentor=world.mentor,
        mentee=world.mentee,
        community=world.community,
        locale="fr-CA",
        tz=TZ,
        support=True,
    )
    mentee_card = build_agreement_card(
        world.pairing,
        mentor=world.mentor,
        mentee=world.mentee,
        community=world.community,
        locale="fr-CA",
        tz=TZ,
    )
    assert "admin.support" not in str(mentee_card)
    support = mentor_card["actions"][-1]
    assert support["title"] == "Demander du soutien à la coordination"
    for _ in range(2):  # a double click asks once
        since = await scene.post(world.mentor, value=support["data"])
        assert scene.texts_since(since) == [
            "Votre demande de soutien est transmise à la coordination de la communauté."
        ]
    since = await scene.post(world.mentee, value=support["data"], locale="en-US")
    assert scene.texts_since(since) == [
        "Only the mentor of a pairing under way can ask for support with it."
    ]
    async with scene.sessions() as session:
        notices = (
            await session.exec(
                select(OutboxMessage).where(
                    col(OutboxMessage.dedup_key).startswith("mentor_support:")
                )
            )
        ).all()
    assert sorted(n.person_id or 0 for n in notices) == sorted(
        [_id(world.coordinator), _id(world.animator)]
    )
    assert notices[0].params["text"] == "admin.support.notice"
