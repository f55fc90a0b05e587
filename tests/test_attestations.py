"""Attestations de présence: what counts (confirmed attendance within the period), the PDF's
content read back in French and English, signed expiring links over HTTP, and who may issue
attestations for others."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import TurnContext
from pypdf import PdfReader
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import ALL_RENDERERS, RUNTIME, create_app
from bot.attestations_flow import (
    ATTESTATION_RENDERERS,
    ROUTE,
    LinkClaim,
    Period,
    build_links_cards,
    on_attestation_command,
    on_bulk_attestations_command,
    parse_period,
    sign_link,
    verify_link,
)
from bot.dispatcher import Dispatcher
from bot.links import BadLinkError, ExpiredLinkError, signing_key
from cards.attestation_pdf import FontMissingError, build_attestation_pdf, find_font_dir
from cards.common import MAX_CARD_BYTES
from dialogs.context import TurnInfo
from storage import attestations, meetings
from storage.attestations import KIND_ATTESTATION_LINKS
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.models import (
    Community,
    Meeting,
    MeetingStatus,
    Membership,
    OutboxMessage,
    Person,
    Role,
    RsvpAnswer,
)
from tests import factories
from tests.activities import message
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.support import ChatAdapter, Clock, card_content

Client = TestClient[web.Request, web.Application]
MONTREAL = ZoneInfo("America/Montreal")
TZ = "America/Montreal"
CHANNEL = "19:channel@thread.tacv2"
PUBLIC_URL = "https://carrefour.example.org"
# The bot's clock in these tests: after every meeting of the world below but the last one.
NOW = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MONTREAL).astimezone(UTC)


@dataclass
class World:
    community: Community
    other: Community
    animator: Person
    member: Person
    rsvp_only: Person
    winter: Meeting  # 2026-02-12, 7 h: animator + member
    spring: Meeting  # 2026-04-09, 3 h 30: member
    new_year_eve: Meeting  # 2026-12-31 at 19:00 local (already 2027 in UTC): member
    next_year: Meeting  # 2027-01-14: member
    elsewhere: Meeting  # another community, 2026-03-03: member


async def _confirmed(
    session: AsyncSession, meeting: Meeting, people: list[Person], *, now: datetime
) -> None:
    await meetings.confirm_attendance(
        session,
        meeting_id=meeting.id or 0,
        by_person_id=None,
        attendee_ids=[p.id or 0 for p in people],
        now=now,
    )


async def build_world(sessions: SessionFactory, *, service_url: str | None = None) -> World:
    now = datetime(2027, 6, 1, tzinfo=UTC)
    async with transaction(sessions) as session:
        community = await factories.community(session, name="CdeP Soins palliatifs Montérégie")
        community.teams_channel_id = CHANNEL
        other = await factories.community(session, name="CdeP Organisation communautaire")
        animator = await factories.person(session, 1, service_url=service_url)
        animator.name = "Émilie Gagnon"
        member = await factories.person(session, 2, service_url=service_url)
        member.name = "Léa Tremblay-Côté"
        english = await factories.person(session, 3, service_url=service_url, locale="en-US")
        english.name = "Samuel Gagnon"
        for who in (animator, member, english):
            await factories.member(session, who, community)
        await factories.member(session, member, other)
        lead = (
            await session.exec(
                select(Membership)
                .where(Membership.person_id == animator.id)
                .where(Membership.community_id == community.id)
            )
        ).one()
        lead.roles = ["member", "animator"]

        winter = await factories.meeting(session, community, starts_at=_at(date(2026, 2, 12), 9))
        spring = await factories.meeting(
            session, community, starts_at=_at(date(2026, 4, 9), 13), hours=3.5
        )
        spring.title = ""
        eve = await factories.meeting(
            session, community, starts_at=_at(date(2026, 12, 31), 19), hours=2
        )
        next_year = await factories.meeting(session, community, starts_at=_at(date(2027, 1, 14), 9))
        elsewhere = await factories.meeting(session, other, starts_at=_at(date(2026, 3, 3), 9))
        await factories.rsvp(session, english, winter, RsvpAnswer.YES)  # said yes, never came
        await _confirmed(session, winter, [animator, member], now=now)
        await _confirmed(session, spring, [member], now=now)
        await _confirmed(session, eve, [member], now=now)
        await _confirmed(session, next_year, [member], now=now)
        await _confirmed(session, elsewhere, [member], now=now)
    return World(
        community, other, animator, member, english, winter, spring, eve, next_year, elsewhere
    )


# -- data selection --


async def test_only_confirmed_attendance_within_the_local_period_counts(
    sessions: SessionFactory,
) -> None:
    world = await build_world(sessions)
    async with sessions() as session:
        year = await attestations.attended(
            session,
            person_id=world.member.id or 0,
            community_id=world.community.id or 0,
            start=date(2026, 1, 1),
            end=date(2026, 12, 31),
            tz=TZ,
        )
        february = await attestations.attended(
            session,
            person_id=world.member.id or 0,
            community_id=world.community.id or 0,
            start=date(2026, 2, 1),
            end=date(2026, 2, 28),
        )
        yes_but_absent = await attestations.attended(
            session,
            person_id=world.rsvp_only.id or 0,
            community_id=world.community.id or 0,
            start=date(2026, 1, 1),
            end=date(2026, 12, 31),
        )
        animator = await attestations.responsible_animator(session, world.community.id or 0)
        nobody = await attestations.responsible_animator(session, world.other.id or 0)
    # New Year's Eve at 19:00 in Montréal is 2027 in UTC, and still counts for 2026; the
    # other community's meeting and 2027's do not.
    assert [m.meeting_id for m in year] == [world.winter.id, world.spring.id, world.new_year_eve.id]
    assert [m.minutes for m in year] == [420, 210, 120]
    assert [m.meeting_id for m in february] == [world.winter.id]
    assert yes_but_absent == []
    assert animator == "Émilie Gagnon"
    assert nobody is None

    summary = attestations.totals(year)
    assert (summary.meetings, summary.minutes, summary.hours, summary.uec) == (
        3,
        750,
        Decimal("12.50"),
        Decimal("1.25"),
    )
    assert attestations.totals(year, uec_per_hour=Decimal("0.15")).uec == Decimal("1.88")
    with pytest.raises(attestations.InvalidPeriod):
        async with sessions() as session:
            await attestations.attended(
                session, person_id=1, community_id=1, start=date(2026, 2, 1), end=date(2026, 1, 1)
            )


async def test_a_cancelled_meeting_or_unconfirmed_attendance_never_counts(
    sessions: SessionFactory,
) -> None:
    world = await build_world(sessions)
    async with transaction(sessions) as session:
        later = await factories.meeting(
            session, world.community, starts_at=_at(date(2026, 5, 7), 9)
        )
        await factories.rsvp(session, world.member, later, RsvpAnswer.YES)
        spring = await session.get(Meeting, world.spring.id)
        assert spring is not None
        spring.status = MeetingStatus.CANCELLED
    async with sessions() as session:
        found = await attestations.attended(
            session,
            person_id=world.member.id or 0,
            community_id=world.community.id or 0,
            start=date(2026, 1, 1),
            end=date(2026, 12, 31),
        )
    assert [m.meeting_id for m in found] == [world.winter.id, world.new_year_eve.id]


async def test_the_longest_serving_active_animator_is_responsible(
    sessions: SessionFactory,
) -> None:
    world = await build_world(sessions)
    async with transaction(sessions) as session:
        second = await factories.person(session, 9)
        second.name = "Marc Roy"
        row = await factories.member(session, second, world.community)
        row.roles = ["member", "animator"]
        row.joined_at = datetime(2030, 1, 1, tzinfo=UTC)
    async with sessions() as session:
        assert await attestations.responsible_animator(session, world.community.id or 0) == (
            "Émilie Gagnon"
        )
    async with transaction(sessions) as session:
        first = (
            await session.exec(select(Membership).where(Membership.person_id == world.animator.id))
        ).one()
        first.left_at = datetime(2026, 6, 1, tzinfo=UTC)
    async with sessions() as session:
        assert await attestations.responsible_animator(session, world.community.id or 0) == (
            "Marc Roy"
        )


# -- periods and links --


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Period(date(2026, 1, 1), date(2026, 12, 31))),
        ("2025", Period(date(2025, 1, 1), date(2025, 12, 31))),
        ("2026-02", Period(date(2026, 2, 1), date(2026, 2, 28))),
        ("2026-01 à 2026-06", Period(date(2026, 1, 1), date(2026, 6, 30))),
        ("de 2026-01 au 2026-06", Period(date(2026, 1, 1), date(2026, 6, 30))),
        ("2026-01 to 2026-06", Period(date(2026, 1, 1), date(2026, 6, 30))),
        ("2026-01-15 – 2026-03-31", Period(date(2026, 1, 15), date(2026, 3, 31))),
        ("2025 à 2026", Period(date(2025, 1, 1), date(2026, 12, 31))),
        ("2026-06 à 2026-01", None),
        ("2026-13", None),
        ("2026-02-30", None),
        ("l'an passé", None),
        ("1999", None),
    ],
)
def test_periods(text: str, expected: Period | None) -> None:
    assert parse_period(text, today=date(2026, 11, 23)) == expected


KEY = b"k" * 32
CLAIM = LinkClaim(
    person_id=12,
    community_id=3,
    start=date(2026, 1, 1),
    end=date(2026, 12, 31),
    language="fr",
    expires_at=datetime(2026, 12, 1, tzinfo=UTC),
)


def test_links_are_signed_and_expire() -> None:
    now = datetime(2026, 11, 24, tzinfo=UTC)
    token = sign_link(CLAIM, key=KEY)
    assert verify_link(token, key=KEY, now=now) == CLAIM
    body, _, signature = token.rpartition(".")
    tampered = [
        token.replace(".12.", ".13.", 1),  # someone else
        body.replace("20261231", "20271231") + "." + signature,  # a longer period
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        sign_link(CLAIM, key=b"other" * 8),
        "",
        "nonsense",
        "." * 300,
    ]
    for bad in tampered:
        with pytest.raises(BadLinkError):
            verify_link(bad, key=KEY, now=now)
    # A later expiry written by hand is a bad link, not a valid one.
    fields = body.split(".")
    fields[4] = "4102444800"  # the expiry
    stretched = ".".join(fields) + "." + signature
    with pytest.raises(BadLinkError):
        verify_link(stretched, key=KEY, now=now)
    with pytest.raises(ExpiredLinkError):
        verify_link(token, key=KEY, now=CLAIM.expires_at)


# -- the PDF --


def pdf_text(body: bytes) -> str:
    reader = PdfReader(io.BytesIO(body))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


async def _data(sessions: SessionFactory, world: World) -> attestations.AttestationData:
    async with sessions() as session:
        data = await attestations.load_attestation(
            session,
            person_id=world.member.id or 0,
            community_id=world.community.id or 0,
            start=date(2026, 1, 1),
            end=date(2026, 12, 31),
            issued_on=date(2026, 11, 23),
            tz=TZ,
        )
    assert data is not None
    return data


async def test_the_pdf_says_who_what_when_and_how_much_in_french(
    sessions: SessionFactory,
) -> None:
    data = await _data(sessions, await build_world(sessions))
    body = build_attestation_pdf(data, locale="fr-CA", tz=TZ)
    assert body.startswith(b"%PDF-")
    text = pdf_text(body)
    for expected in (
        "Attestation de présence",
        "Léa Tremblay-Côté",
        "CdeP Soins palliatifs Montérégie",
        "entre le 1er janvier 2026 et le 31 décembre 2026",
        "12 février 2026",
        "9 avril 2026",
        "31 décembre 2026",
        "9 h à 16 h",  # pdf_text() folds the non-breaking spaces
        "19 h à 21 h",
        "3,5 h",
        "Rencontre de la communauté",  # the spring meeting has no title
        "Total : 3 rencontres, 12,5 h",
        "Unités d’éducation continue (UEC) : 1,25",
        "0,1 UEC par heure",
        "Animateur·rice responsable : Émilie Gagnon",
        "Délivrée le 23 novembre 2026",
        "page 1 de 1",
    ):
        assert expected in text, expected
    assert "14 janvier 2027" not in text
    assert "3 mars 2026" not in text  # the other community's meeting


async def test_the_pdf_in_english_with_another_rate(sessions: SessionFactory) -> None:
    data = await _data(sessions, await build_world(sessions))
    text = pdf_text(
        build_attestation_pdf(data, locale="en-CA", tz=TZ, uec_per_hour=Decimal("0.15"))
    )
    for expected in (
        "Certificate of attendance",
        "Léa Tremblay-Côté",
        "“CdeP Soins palliatifs Montérégie”",
        "February 12, 2026",
        "April 9, 2026",
        "December 31, 2026",
        "Total: 3 meetings, 12.5 h",
        "Continuing education units (CEU): 1.88",
        "0.15 CEU per hour",
        "Responsible facilitator: Émilie Gagnon",
        "Issued on November 23, 2026",
    ):
        assert expected in text, expected


async def test_a_long_attestation_runs_over_pages(sessions: SessionFactory) -> None:
    data = await _data(sessions, await build_world(sessions))
    many = replace(data, meetings=data.meetings * 20, person_name="", animator_name=None)
    text = pdf_text(build_attestation_pdf(many, locale="fr-CA", tz=TZ))
    assert "Nom non disponible" in text
    assert "Total : 60 rencontres, 250 h" in text
    assert "Animateur·rice responsable" not in text
    pages = re.findall(r"page (\d+) de (\d+)", text)
    assert len(pages) >= 2
    assert all(total == str(len(pages)) for _, total in pages)
    assert text.count("Date Rencontre Horaire Durée") >= 2  # the headings repeat


def test_a_missing_font_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FontMissingError, match="fonts-dejavu-core"):
        find_font_dir((tmp_path,))


# -- over HTTP --


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[Client]:
    """The whole bot, which serves the attestation route itself."""
    app = create_app(make_settings(sqlite_url, CARREFOUR_PUBLIC_URL=PUBLIC_URL))
    assert any(resource.canonical == ROUTE for resource in app.router.resources())
    test_client = TestClient(TestServer(app))
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def _token(client: Client, claim: LinkClaim) -> str:
    runtime = client.app[RUNTIME]
    async with transaction(runtime.sessions) as session:
        key = await signing_key(session, runtime.settings)
    return sign_link(claim, key=key)


def _claim(world: World, **changes: Any) -> LinkClaim:
    values: dict[str, Any] = {
        "person_id": world.member.id or 0,
        "community_id": world.community.id or 0,
        "start": date(2026, 1, 1),
        "end": date(2026, 12, 31),
        "language": "fr",
        "expires_at": datetime.now(UTC) + timedelta(days=7),
    }
    values.update(changes)
    return LinkClaim(**values)


async def test_a_signed_link_returns_the_pdf_and_a_forged_or_old_one_does_not(
    client: Client,
) -> None:
    world = await build_world(client.app[RUNTIME].sessions)
    token = await _token(client, _claim(world))
    response = await client.get(f"/attestations/{token}.pdf")
    assert response.status == 200
    assert response.content_type == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        'inline; filename="attestation-lea-tremblay-cote-2026.pdf"'
    )
    assert "no-store" in response.headers["Cache-Control"]
    text = pdf_text(await response.read())
    assert "Léa Tremblay-Côté" in text
    assert "Total : 3 rencontres, 12,5 h" in text

    someone_else = token.replace(f".{world.member.id}.", f".{world.animator.id}.", 1)
    for forged in (someone_else, token[:-3] + "xyz", "1.2.3", "%00"):
        refused = await client.get(f"/attestations/{forged}.pdf")
        assert refused.status == 403, forged
        assert await refused.text() == "Ce lien n’est pas valide."

    old = await _token(client, _claim(world, expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    expired = await client.get(f"/attestations/{old}.pdf")
    assert expired.status == 410
    assert (await expired.text()).startswith("Ce lien a expiré.")

    english = await _token(client, _claim(world, language="en", start=date(2026, 3, 1)))
    response = await client.get(f"/attestations/{english}.pdf")
    assert response.status == 200
    assert (
        'filename="certificate-lea-tremblay-cote-2026-03_2026-12.pdf"'
        in (response.headers["Content-Disposition"])
    )
    assert "Total: 2 meetings, 5.5 h" in pdf_text(await response.read())

    nothing = await _token(client, _claim(world, start=date(2025, 1, 1), end=date(2025, 12, 31)))
    empty = await client.get(f"/attestations/{nothing}.pdf")
    assert empty.status == 404
    assert await empty.text() == "Aucune présence confirmée pour cette période."


async def test_a_failure_while_rendering_is_a_503_not_a_500(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await build_world(client.app[RUNTIME].sessions)
    token = await _token(client, _claim(world))

    def broken(*_args: Any, **_kwargs: Any) -> bytes:
        raise FontMissingError("no font here")

    monkeypatch.setattr("cards.attestation_pdf.build_attestation_pdf", broken)
    response = await client.get(f"/attestations/{token}.pdf")
    assert response.status == 503
    assert (await response.text()).startswith("L’attestation n’est pas disponible")


# -- commands --


class Turn:
    """One message to the command glue, with what it answered."""

    def __init__(self, client: Client) -> None:
        self.runtime = client.app[RUNTIME]
        self.client = client
        self.sent: list[Activity] = []

    async def say(
        self,
        handler: Any,
        who: Person,
        argument: str,
        *,
        channel: bool = False,
        locale: str = "fr-CA",
    ) -> None:
        raw = message(
            "attestation",
            service_url="https://smba.example",
            conversation_type="channel" if channel else "personal",
            conversation_id=CHANNEL if channel else None,
        )
        adapter = ChatAdapter()
        context = TurnContext(adapter, Activity.model_validate(raw))
        info = TurnInfo(person_id=who.id, locale=locale, timezone=TZ, in_channel=channel)
        await handler(
            context,
            sessions=self.runtime.sessions,
            settings=self.runtime.settings,
            info=info,
            argument=argument,
            wake=lambda: None,
        )
        self.sent = list(adapter.activity_buffer)

    def texts(self) -> list[str]:
        return [a.text for a in self.sent if a.text]

    def cards(self) -> list[dict[str, Any]]:
        return [card_content(attachment) for a in self.sent for attachment in a.attachments or []]


def _readable(card: dict[str, Any]) -> str:
    """The card as text with its non-breaking spaces as they are (str() would escape them)."""
    return json.dumps(card, ensure_ascii=False)


def links(card: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, path) of every link in a card."""
    text = "\n".join(str(block.get("text", "")) for block in card["body"])
    return [
        (label, urlsplit(url).path) for label, url in re.findall(r"\[([^\]]+)\]\(([^)]+)\)", text)
    ]


async def test_a_member_gets_their_own_link_in_a_private_chat(client: Client) -> None:
    world = await build_world(client.app[RUNTIME].sessions)
    turn = Turn(client)
    await turn.say(on_attestation_command, world.member, "2026")
    (card,) = turn.cards()
    assert card["version"] == "1.5"
    assert card["body"][0]["text"] == "Vos attestations de présence"
    rows = links(card)
    assert [label for label, _ in rows] == [
        "CdeP Organisation communautaire",
        "CdeP Soins palliatifs Montérégie",
    ]
    assert all(url.startswith(PUBLIC_URL) for url in re.findall(r"\((https://[^)]+)\)", str(card)))
    assert "3\u00a0rencontres · 12,5\u00a0h · 1,25\u00a0UEC" in _readable(card)
    assert "Les liens expirent dans 7\u00a0jours" in _readable(card)
    response = await client.get(rows[1][1])
    assert response.status == 200
    assert "Total : 3 rencontres, 12,5 h" in pdf_text(await response.read())

    await turn.say(on_attestation_command, world.member, "2026-04")
    (card,) = turn.cards()
    assert card["body"][0]["text"] == "Votre attestation de présence"
    assert card["actions"][0]["type"] == "Action.OpenUrl"

    await turn.say(on_attestation_command, world.member, "2025")
    assert turn.texts()[0].startswith("Je ne trouve aucune présence confirmée à votre nom")
    await turn.say(on_attestation_command, world.member, "l'an passé")
    assert turn.texts()[0].startswith("Je n’ai pas compris la période.")
    await turn.say(on_attestation_command, world.member, "last year", locale="en-US")
    assert turn.texts()[0].startswith("I didn’t understand the period.")


async def test_asked_in_the_channel_the_link_goes_to_the_private_chat(
    client: Client, connector: FakeConnector
) -> None:
    runtime = client.app[RUNTIME]
    world = await build_world(runtime.sessions, service_url=connector.url)
    turn = Turn(client)
    await turn.say(on_attestation_command, world.member, "", channel=True)
    assert turn.texts() == ["Je vous envoie le lien de votre attestation en message privé."]
    assert turn.cards() == []
    async with runtime.sessions() as session:
        (queued,) = (await session.exec(select(OutboxMessage))).all()
    assert queued.kind == KIND_ATTESTATION_LINKS
    assert queued.person_id == world.member.id
    # Only the channel's community, even though the member attended elsewhere too.
    assert [row["label"] for row in queued.params["rows"]] == ["CdeP Soins palliatifs Montérégie"]

    sender = Dispatcher(
        settings=runtime.settings,
        sessions=runtime.sessions,
        adapter=runtime.adapter,
        renderers={**ALL_RENDERERS, **ATTESTATION_RENDERERS},
        clock=Clock(now=datetime.now(UTC)),
        owner="test",
    )
    await sender.dispatch_once()
    (card,) = connector.cards("a:personal-2")
    ((label, path),) = links(card)
    assert label == "CdeP Soins palliatifs Montérégie"
    assert (await client.get(path)).status == 200


async def test_only_animators_and_admin_support_issue_attestations_for_others(
    client: Client,
) -> None:
    runtime = client.app[RUNTIME]
    world = await build_world(runtime.sessions)
    turn = Turn(client)
    await turn.say(on_bulk_attestations_command, world.member, "2026")
    assert turn.texts()[0].startswith("Seul·e·s les animateur·rice·s et le soutien administratif")
    assert turn.cards() == []
    await turn.say(on_bulk_attestations_command, world.member, "rencontre", channel=True)
    assert turn.texts()[0].startswith("Seul·e·s les animateur·rice·s et le soutien administratif")

    await turn.say(on_bulk_attestations_command, world.animator, "2026")
    (card,) = turn.cards()
    assert card["body"][0]["text"] == (
        "Attestations de présence — CdeP Soins palliatifs Montérégie"
    )
    assert len(str(card).encode()) < MAX_CARD_BYTES
    rows = links(card)
    assert [label for label, _ in rows] == ["Émilie Gagnon", "Léa Tremblay-Côté"]
    assert "1\u00a0rencontre · 7\u00a0h · 0,7\u00a0UEC" in _readable(card)
    pdf = pdf_text(await (await client.get(rows[0][1])).read())
    assert "Émilie Gagnon" in pdf
    assert "Total : 1 rencontre, 7 h" in pdf

    # The role is read again each time: once it is gone, so is the right.
    async with transaction(runtime.sessions) as session:
        lead = (
            await session.exec(select(Membership).where(Membership.person_id == world.animator.id))
        ).one()
        lead.roles = ["member", Role.ADMIN_SUPPORT.value]
    await turn.say(on_bulk_attestations_command, world.animator, "2026-02")
    assert len(turn.cards()) == 1
    async with transaction(runtime.sessions) as session:
        lead = (
            await session.exec(select(Membership).where(Membership.person_id == world.animator.id))
        ).one()
        lead.roles = ["member"]
    await turn.say(on_bulk_attestations_command, world.animator, "2026")
    assert turn.cards() == []
    assert turn.texts()[0].startswith("Seul·e·s les animateur·rice·s")


async def test_attestations_for_the_latest_meeting(client: Client) -> None:
    runtime = client.app[RUNTIME]
    world = await build_world(runtime.sessions)
    turn = Turn(client)
    # The latest ended meeting (2027-01-14) had only the member.
    await turn.say(on_bulk_attestations_command, world.animator, "rencontre", channel=True)
    assert turn.texts() == [
        "Je vous envoie les liens des attestations en message privé\u00a0: "
        "ils ne sont pas publiés dans le canal."
    ]
    async with runtime.sessions() as session:
        (queued,) = (await session.exec(select(OutboxMessage))).all()
    assert queued.person_id == world.animator.id
    (card,) = build_links_cards(queued.params, locale="en-US", tz=TZ)
    assert card["body"][1]["text"] == "Meeting of Thursday, January 14, 2027"
    ((label, path),) = links(card)
    assert label == "Léa Tremblay-Côté"
    assert "Total : 1 rencontre, 7 h" in pdf_text(await (await client.get(path)).read())

    # A meeting that ended without confirmed attendance: say so rather than issue nothing.
    async with transaction(runtime.sessions) as session:
        quiet = await factories.meeting(
            session, world.community, starts_at=datetime.now(UTC) - timedelta(days=2)
        )
    await turn.say(on_bulk_attestations_command, world.animator, "meeting", locale="en-US")
    assert turn.texts() == [
        "Attendance for the meeting of Saturday, January 30, 2027 (“CdeP Soins palliatifs "
        "Montérégie”) is not confirmed yet. Confirm it first, then ask for the certificates again."
    ]
    assert turn.cards() == []
    # Confirmed, but nobody came.
    async with transaction(runtime.sessions) as session:
        await _confirmed(session, quiet, [], now=datetime.now(UTC))
    await turn.say(on_bulk_attestations_command, world.animator, "rencontre")
    assert turn.texts() == [
        "Aucune présence confirmée pour «\u00a0CdeP Soins palliatifs Montérégie\u00a0» "
        "le 30 janvier 2027."
    ]
    await turn.say(on_bulk_attestations_command, world.animator, "n'importe quoi")
    assert turn.texts()[0].startswith("Je n’ai pas compris.")


async def test_an_english_attendee_gets_an_english_attestation(client: Client) -> None:
    runtime = client.app[RUNTIME]
    world = await build_world(runtime.sessions)
    async with transaction(runtime.sessions) as session:
        await _confirmed(
            session,
            world.winter,
            [world.animator, world.member, world.rsvp_only],
            now=datetime(2027, 6, 1, tzinfo=UTC),
        )
    turn = Turn(client)
    await turn.say(on_bulk_attestations_command, world.animator, "2026-02")
    (card,) = turn.cards()
    by_name = dict(links(card))
    text = pdf_text(await (await client.get(by_name["Samuel Gagnon"])).read())
    assert "Certificate of attendance" in text
    assert "Total: 1 meeting, 7 h" in text


def test_long_lists_are_split_across_cards() -> None:
    row = {"label": "Personne", "meetings": 5, "minutes": 2100, "url": PUBLIC_URL + "/x" * 60}
    params = {
        "mode": "bulk",
        "community": "CdeP",
        "start": "2026-01-01",
        "end": "2026-12-31",
        "meeting_day": None,
        "days": 7,
        "rate": "0.1",
        "rows": [row] * 95,
    }
    cards = build_links_cards(params, locale="fr-CA", tz=TZ)
    assert len(cards) == 3
    assert all(len(str(card).encode()) < MAX_CARD_BYTES for card in cards)
    assert "5\u00a0rencontres · 35\u00a0h · 3,5\u00a0UEC" in _readable(cards[0])


async def test_the_queries_run_on_each_database(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        world = await build_world(sessions)
        async with sessions() as session:
            found = await attestations.attendance_summaries(
                session, start=date(2026, 1, 1), end=date(2026, 12, 31), tz=TZ
            )
            latest = await attestations.latest_ended_meeting(
                session, community_id=world.community.id or 0, now=NOW
            )
            data = await _data(sessions, world)
    finally:
        await engine.dispose()
    assert [(s.person_name, s.community_name, s.meetings, s.minutes) for s in found] == [
        ("Léa Tremblay-Côté", "CdeP Organisation communautaire", 1, 420),
        ("Émilie Gagnon", "CdeP Soins palliatifs Montérégie", 1, 420),
        ("Léa Tremblay-Côté", "CdeP Soins palliatifs Montérégie", 3, 750),
    ]
    assert latest is not None
    assert latest.id == world.next_year.id
    assert data.animator_name == "Émilie Gagnon"
