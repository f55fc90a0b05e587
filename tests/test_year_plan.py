"""Planning the year: a series of draft meetings completed one by one, a date poll whose
winning date opens the meeting form, the monthly signal when nobody meets in a room, and the
charter edited after setup. Over HTTP in fr and en (frozen clock, double clicks, forged
buttons), storage rules on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import select

from bot.app import RUNTIME
from cards.common import CARD_VERSION, MAX_CARD_BYTES, card_bytes
from cards.i18n import translator
from cards.planning import (
    CharterValues,
    DatePollForm,
    DateRow,
    SeriesForm,
    build_charter_form_card,
    build_date_poll_form_card,
    build_series_form_card,
)
from cards.vitality import build_vitality_card
from storage import planning, polls, vitality
from storage.communities import NotAllowed
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.models import (
    Community,
    DatePoll,
    Meeting,
    MeetingMode,
    MeetingSeries,
    Poll,
    PollStatus,
    Role,
    SeriesDate,
)
from storage.planning import InvalidSeries, SeriesDateDraft
from storage.vitality import SIGNAL_NO_IN_PERSON, SIGNAL_NO_MEETING
from tests import factories
from tests.fake_connector import FakeConnector
from tests.support import START, Clock, card_actions, dispatcher, scheduled_jobs
from tests.test_communities import (
    ANIMATOR,
    JOIN_ANSWERS,
    MEMBER,
    Chat,
    card_text,
    set_up_community,
)
from tests.test_task_modules import _invoke

Client = TestClient[web.Request, web.Application]
TZ = "America/Montreal"
NBSP = "\u00a0"


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """Sessions on SQLite and on PostgreSQL."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def traveller() -> Iterator[None]:
    # The flows read the clock: the tests' own (23 November 2026), whatever today's date.
    with time_machine.travel(START, tick=True):
        yield


def _inputs(card: dict[str, Any]) -> dict[str, Any]:
    """What Teams sends back when a form's button is clicked with the values shown."""
    values: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Input.") and "id" in node:
                values[node["id"]] = node.get("value", "")
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(card["body"])
    return values


def _button(card: dict[str, Any], verb: str) -> dict[str, Any]:
    return next(a["data"] for a in card_actions(card) if a.get("data", {}).get("verb") == verb)


def _rows(*rows: tuple[str, str, str, str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for n, (day, start, end, mode, place) in enumerate(rows):
        values |= {
            f"date_{n}": day,
            f"start_{n}": start,
            f"end_{n}": end,
            f"mode_{n}": mode,
            f"place_{n}": place,
        }
    return values


async def _count(client: Client, model: type[Any]) -> int:
    async with client.app[RUNTIME].sessions() as session:
        return len((await session.exec(select(model))).all())


# -- a series --------------------------------------------------------------------------------


async def test_a_series_makes_draft_dates_completed_one_by_one_into_meetings(
    bot_client: Client, connector: FakeConnector, traveller: None
) -> None:
    await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR)
    await animator.say("planifier l’année", channel=True)
    form = animator.last_card()
    assert form["body"][0]["text"] == "Planifier les rencontres de l’année"
    assert _inputs(form)["count"] == "5"  # « cinq fois par année »
    assert "date_4" in _inputs(form)

    await animator.click(
        {**_button(form, "planning.series.resize"), **_inputs(form), "count": "2"}, channel=True
    )
    form = animator.last_card()
    assert "date_1" in _inputs(form)
    assert "date_2" not in _inputs(form)

    create = {
        **_button(form, "planning.series.create"),
        **_inputs(form),
        **_rows(
            ("2027-03-11", "13:00", "16:00", "in_person", ""),
            ("2027-01-14", "09:00", "12:00", "in_person", ""),
        ),
        "places": "Salle du CLSC\nSalle de l’hôpital",
    }
    await animator.click(create, channel=True)
    assert animator.last_text() == f"Série créée{NBSP}: 2{NBSP}dates à compléter une à une."
    series_card = animator.connector.cards()[-1]
    text = card_text(series_card)
    assert f"Planifiées{NBSP}: 0 sur 2{NBSP}dates" in text
    # In date order, the places in turn.
    assert text.index("Jeudi 14 janvier 2027") < text.index("Jeudi 11 mars 2027")
    assert "En présentiel · Salle du CLSC — brouillon à compléter" in text
    assert "En présentiel · Salle de l’hôpital — brouillon à compléter" in text

    await animator.click(create, channel=True)  # a double click
    assert animator.last_text() == f"Cette série est déjà créée{NBSP}; la voici telle qu’elle est."
    assert await _count(bot_client, MeetingSeries) == 1
    assert await _count(bot_client, SeriesDate) == 2

    # « Compléter » the January date: the planning card, filled with its date and place.
    await animator.click(_button(series_card, "planning.series.complete"), channel=True)
    launcher = animator.last_card()
    assert "Compléter la rencontre" in card_text(launcher)
    opened = next(a for a in launcher["actions"] if a["data"].get("verb") == "meetings.plan.open")
    assert opened["data"]["prefill"]["date"] == "2027-01-14"
    task = next(a for a in launcher["actions"] if "msteams" in a["data"])
    assert task["data"]["form"] == "meetings.plan"
    await animator.click(opened["data"], channel=True)
    meeting_form = _inputs(animator.last_card())
    assert (meeting_form["date"], meeting_form["start"], meeting_form["end"]) == (
        "2027-01-14",
        "09:00",
        "12:00",
    )
    assert (meeting_form["mode"], meeting_form["place"]) == ("in_person", "Salle du CLSC")

    draft = opened["data"]["draft"]
    await animator.click(
        {**meeting_form, "verb": "meetings.plan", "draft": draft, "title": "Hiver"}, channel=True
    )
    agenda_form = animator.last_card()
    publish = next(
        a["data"] for a in agenda_form["actions"] if a["data"]["verb"] == "meetings.agenda.publish"
    )
    await animator.click({**publish, **_inputs(agenda_form)}, channel=True)
    async with bot_client.app[RUNTIME].sessions() as session:
        meeting = (await session.exec(select(Meeting))).one()
        first = (await session.exec(select(SeriesDate).where(SeriesDate.position == 1))).one()
    assert meeting.draft_key == first.draft_key
    assert meeting.place == "Salle du CLSC"

    await animator.say("rencontres de l’année", channel=True)
    text = card_text(animator.last_card())
    assert f"Planifiées{NBSP}: 1 sur 2{NBSP}dates" in text
    assert "En présentiel · Salle du CLSC — planifiée" in text
    # Completing it again names the meeting instead of a second one.
    await animator.click({"verb": "planning.series.complete", "date_id": first.id}, channel=True)
    assert animator.last_text().startswith(f"Déjà planifiée{NBSP}: Jeudi 14 janvier 2027")
    assert await _count(bot_client, Meeting) == 1


async def test_a_series_in_english_says_what_to_fix_and_stores_nothing(
    bot_client: Client, connector: FakeConnector, traveller: None
) -> None:
    await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR, locale="en-US")
    await animator.say("language en")
    await animator.say("plan the year", channel=True)
    form = animator.last_card()
    assert form["body"][0]["text"] == "Plan the year’s meetings"
    await animator.click(
        {
            **_button(form, "planning.series.create"),
            "rows": 3,
            **_rows(
                ("2026-10-01", "09:00", "12:00", "virtual", ""),
                ("2027-02-04", "12:00", "09:00", "hybrid", "Room 2"),
                ("2027-02-04", "13:00", "15:00", "virtual", ""),
            ),
        },
        channel=True,
    )
    text = card_text(animator.last_card())
    assert "Date 1: this date has passed." in text
    assert "the end must come after the start." in text
    assert "Date 3: two meetings on the same day." in text
    await animator.click(
        {**_button(form, "planning.series.create"), "rows": 1, "date_0": "soon"}, channel=True
    )
    assert "Date 1: missing or unreadable date or time." in card_text(animator.last_card())
    assert await _count(bot_client, MeetingSeries) == 0
    # One date chosen, the form still showing five: the first one only.
    await animator.click(
        {
            **_button(form, "planning.series.create"),
            **_inputs(form),
            "count": "1",
            **_rows(("2027-02-04", "13:00", "15:00", "virtual", "")),
        },
        channel=True,
    )
    assert animator.last_text() == "Series created: 1 date to complete."
    assert await _count(bot_client, SeriesDate) == 1


async def test_members_and_forged_buttons_plan_nothing(
    bot_client: Client, connector: FakeConnector, traveller: None
) -> None:
    community = await set_up_community(bot_client, connector)
    member = Chat(bot_client, connector, MEMBER)
    await member.say("planifier l’année", channel=True)
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s")
    await member.click(
        {
            "verb": "planning.series.create",
            "request": "a" * 32,
            "rows": 1,
            **_rows(("2027-01-14", "09:00", "12:00", "virtual", "")),
        },
        channel=True,
    )
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s")
    assert await _count(bot_client, MeetingSeries) == 0

    # Another community's draft date, named in a button clicked in this channel.
    async with transaction(bot_client.app[RUNTIME].sessions) as session:
        other = await factories.community(session, name="CdeP ailleurs")
        boss = await factories.person(session, 101)
        membership = await factories.member(session, boss, other)
        membership.roles = [Role.MEMBER, Role.ANIMATOR]
        series, _ = await planning.create_series(
            session,
            community_id=other.id or 0,
            by_person_id=boss.id or 0,
            request_key="b" * 32,
            drafts=[_draft(datetime(2027, 1, 14, 14, tzinfo=UTC))],
            now=START,
        )
        (row,) = await planning.series_rows(session, series_id=series.id or 0)
    animator = Chat(bot_client, connector, ANIMATOR)
    for forged in ({"date_id": row.date.id}, {"date_id": "x"}, {}):
        await animator.click({"verb": "planning.series.complete", **forged}, channel=True)
        assert animator.last_text() == translator("fr-CA")("error.unknown_action")
    await animator.click({"verb": "planning.series.create", "rows": 1}, channel=True)
    assert animator.last_text() == translator("fr-CA")("error.unknown_action")
    assert community.id != other.id


async def test_completing_a_date_opens_the_filled_form_in_a_teams_dialog(
    bot_client: Client, connector: FakeConnector, traveller: None
) -> None:
    await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR)
    await animator.say("planifier l’année", channel=True)
    form = animator.last_card()
    await animator.click(
        {
            **_button(form, "planning.series.create"),
            "rows": 1,
            **_rows(("2027-02-11", "13:00", "16:30", "hybrid", "Salle 3")),
        },
        channel=True,
    )
    await animator.click(
        _button(animator.connector.cards()[-1], "planning.series.complete"), channel=True
    )
    launcher = animator.last_card()
    opens = next(a["data"] for a in launcher["actions"] if "msteams" in a["data"])
    reply = await _invoke(animator, "task/fetch", opens)
    assert reply["task"]["type"] == "continue", reply
    values = _inputs(reply["task"]["value"]["card"]["content"])
    assert (values["date"], values["start"], values["end"]) == ("2027-02-11", "13:00", "16:30")
    assert (values["mode"], values["place"]) == ("hybrid", "Salle 3")
    member = Chat(bot_client, connector, MEMBER)
    refused = await _invoke(member, "task/fetch", opens)
    assert "Seul·e·s les animateur·rice·s" in json.dumps(refused, ensure_ascii=False)


# -- a date poll -----------------------------------------------------------------------------


async def test_a_closed_date_poll_offers_its_winning_date_ready_to_plan(
    bot_client: Client, connector: FakeConnector, traveller: None
) -> None:
    await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR)
    member = Chat(bot_client, connector, MEMBER)
    await member.say("rejoindre")
    for answer in JOIN_ANSWERS:
        await member.say(answer)
    await animator.say("sondage de dates", channel=True)
    form = animator.last_card()
    values = _inputs(form)
    assert values["close_date"] == "2026-11-30"
    create = {
        **_button(form, "planning.poll.create"),
        **values,
        **_rows(
            ("2027-01-21", "09:00", "12:00", "", ""),
            ("2027-01-14", "13:00", "16:00", "", ""),
        ),
        "close_date": "2027-01-20",
    }
    await animator.click(create, channel=True)
    assert "Le sondage doit fermer avant la première date proposée." in card_text(
        animator.last_card()
    )
    create["close_date"] = "2026-12-01"
    await animator.click(create, channel=True)
    poll_card = card_text(animator.last_card())
    assert "Jeudi 21 janvier 2027, de 9 h à 12 h".lower() in poll_card.lower().replace(NBSP, " ")
    await animator.click(create, channel=True)  # a double click
    assert animator.last_text() == "Ce sondage est déjà lancé."
    async with bot_client.app[RUNTIME].sessions() as session:
        poll = (await session.exec(select(Poll))).one()
        (found,) = (await session.exec(select(DatePoll))).all()
    assert found.poll_id == poll.id
    assert poll.multiple
    assert len(found.dates) == 2

    # Both like the 14th (option 1), one the 21st too: the 14th wins.
    await member.click({"verb": "polls.vote", "poll_id": poll.id, "choice": "0,1"}, channel=True)
    await animator.click({"verb": "polls.vote", "poll_id": poll.id, "choice": "1"}, channel=True)

    runtime = bot_client.app[RUNTIME]
    clock = Clock(now=datetime(2026, 12, 1, 23, tzinfo=UTC))
    jobs = scheduled_jobs(runtime, clock)
    await jobs.run("close_polls")
    assert await jobs.run("date_poll_outcomes") == 1
    assert await jobs.run("date_poll_outcomes") == 0  # once
    await dispatcher(runtime, clock).dispatch_once()
    (outcome,) = [c for c in connector.cards() if "Sondage de dates terminé" in card_text(c)]
    text = card_text(outcome).replace(NBSP, " ")
    assert "Sondage de dates terminé" in text
    assert "Date retenue : jeudi 14 janvier 2027, de 13 h à 16 h (2 votes)." in text
    plan = next(a["data"] for a in outcome["actions"] if a["title"] == "Remplir ici")
    assert plan["verb"] == "meetings.plan.open"
    assert plan["draft"] == planning.poll_draft_key(poll.id or 0)

    # A member clicking it opens nothing; the animator gets the form filled with the 14th.
    await member.click(plan, channel=True)
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s")
    await animator.click(plan, channel=True)
    values = _inputs(animator.last_card())
    assert (values["date"], values["start"], values["end"]) == ("2027-01-14", "13:00", "16:00")
    async with bot_client.app[RUNTIME].sessions() as session:
        closed = await session.get(Poll, poll.id)
    assert closed is not None
    assert closed.status == PollStatus.CLOSED


async def test_a_date_poll_in_english_checks_its_dates(
    bot_client: Client, connector: FakeConnector, traveller: None
) -> None:
    await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR, locale="en-US")
    await animator.say("language en")
    await animator.say("date poll", channel=True)
    form = animator.last_card()
    await animator.click(
        {
            **_button(form, "planning.poll.create"),
            **_inputs(form),
            **_rows(("2026-11-01", "09:00", "12:00", "", "")),
        },
        channel=True,
    )
    text = card_text(animator.last_card())
    assert "Date 1: this date has passed." in text
    await animator.click(
        {
            **_button(form, "planning.poll.create"),
            **_inputs(form),
            **_rows(("2027-01-14", "09:00", "12:00", "", "")),
        },
        channel=True,
    )
    too_few = translator("en-US")("polls.error.too_few_options", max=10, length=100)
    assert too_few in card_text(animator.last_card())
    assert await _count(bot_client, Poll) == 0


# -- the charter -----------------------------------------------------------------------------


async def test_facilitators_edit_the_charter_and_newcomers_see_it(
    bot_client: Client, connector: FakeConnector, traveller: None
) -> None:
    await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR)
    await animator.say("modifier la charte", channel=True)
    form = animator.last_card()
    values = _inputs(form)
    assert values["domain"] == "Soins palliatifs et de fin de vie à domicile"
    save = {**_button(form, "planning.charter.save"), **values}

    await animator.click({**save, "domain": "Appelez le 514-555-1234 pour M. X"}, channel=True)
    text = card_text(animator.last_card())
    assert "semble contenir des renseignements qui identifient un usager" in text
    await animator.click(
        {**save, "rules": "Confidentialité\nMerci à Gabrielle Lavoie pour l’accueil"}, channel=True
    )
    retry = animator.last_card()
    assert "no_client_names" in _inputs(retry)
    async with bot_client.app[RUNTIME].sessions() as session:
        unchanged = (await session.exec(select(Community))).one()
    assert unchanged.domain == "Soins palliatifs et de fin de vie à domicile"

    new = {
        **save,
        "domain": "Soins palliatifs à domicile et en CHSLD",
        "objectives": "Partager nos pratiques\nHarmoniser l’accueil des proches",
        "mode": "in_person",
        "rules": "Confidentialité\nMerci à Gabrielle Lavoie pour l’accueil",
        "no_client_names": "true",
    }
    await animator.click(new, channel=True)
    assert animator.last_text().startswith(f"Charte mise à jour{NBSP}:")
    assert "Soins palliatifs à domicile et en CHSLD" in card_text(animator.last_card())
    await animator.click(new, channel=True)  # a double click
    assert animator.last_text().startswith("Rien n’a changé")
    async with bot_client.app[RUNTIME].sessions() as session:
        community = (await session.exec(select(Community))).one()
    assert community.domain == "Soins palliatifs à domicile et en CHSLD"
    assert community.objectives[1] == "Harmoniser l’accueil des proches"
    assert community.usual_mode == MeetingMode.IN_PERSON

    member = Chat(bot_client, connector, MEMBER)
    await member.say("modifier la charte", channel=True)
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s")
    await member.click({**new, "domain": "Forgé"}, channel=True)
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s")
    await member.say("rejoindre")
    for answer in JOIN_ANSWERS:
        await member.say(answer)
    assert any(
        "Soins palliatifs à domicile et en CHSLD" in card_text(card)
        for card in connector.cards()[-3:]
    )


async def test_the_charter_in_english_says_what_is_missing(
    bot_client: Client, connector: FakeConnector, traveller: None
) -> None:
    await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR, locale="en-US")
    await animator.say("language en")
    await animator.say("edit charter", channel=True)
    form = animator.last_card()
    await animator.click(
        {**_button(form, "planning.charter.save"), **_inputs(form), "objectives": ""},
        channel=True,
    )
    assert "objective" in card_text(animator.last_card()).lower()
    await animator.click(
        {**_button(form, "planning.charter.save"), **_inputs(form), "domain": "Call 514-555-1234"},
        channel=True,
    )
    assert "seems to hold details that identify a client" in card_text(animator.last_card())


# -- storage rules (SQLite and PostgreSQL) ----------------------------------------------------


def _draft(
    starts_at: datetime, mode: MeetingMode = MeetingMode.IN_PERSON, place: str | None = None
) -> SeriesDateDraft:
    return SeriesDateDraft(starts_at, starts_at + timedelta(hours=3), mode, place)


_people = iter(range(200, 300))


async def _animated(session: Any, name: str) -> tuple[Community, int]:
    where = await factories.community(session, name=name)
    who = await factories.person(session, next(_people))
    membership = await factories.member(session, who, where)
    membership.roles = [Role.MEMBER, Role.ANIMATOR]
    return where, who.id or 0


async def test_a_series_is_made_once_by_an_animator(any_sessions: SessionFactory) -> None:
    async with transaction(any_sessions) as session:
        where, animator = await _animated(session, "CdeP série")
        outsider = await factories.person(session, next(_people))
    drafts = [
        _draft(datetime(2027, 3, 1, 14, tzinfo=UTC)),
        _draft(datetime(2027, 1, 1, 14, tzinfo=UTC)),
    ]
    for attempt in range(2):
        async with transaction(any_sessions) as session:
            series, created = await planning.create_series(
                session,
                community_id=where.id or 0,
                by_person_id=animator,
                request_key="c" * 32,
                drafts=drafts,
                now=START,
            )
        assert created == (attempt == 0)
    async with any_sessions() as session:
        rows = await planning.series_rows(session, series_id=series.id or 0)
    assert [r.date.starts_at.month for r in rows] == [1, 3]
    assert not any(r.planned for r in rows)
    with pytest.raises(NotAllowed):
        async with transaction(any_sessions) as session:
            await planning.create_series(
                session,
                community_id=where.id or 0,
                by_person_id=outsider.id or 0,
                request_key="d" * 32,
                drafts=drafts,
                now=START,
            )
    with pytest.raises(InvalidSeries) as invalid:
        async with transaction(any_sessions) as session:
            await planning.create_series(
                session,
                community_id=where.id or 0,
                by_person_id=animator,
                request_key="e" * 32,
                drafts=[_draft(START - timedelta(days=1))] * 9,
                now=START,
            )
    codes = {code for _, code in invalid.value.problems}
    assert {"count", "in_the_past", "same_day"} <= codes


def test_places_rotate_over_the_dates_that_meet_in_a_room() -> None:
    day = datetime(2027, 1, 1, 14, tzinfo=UTC)
    drafts = [
        _draft(day),
        _draft(day + timedelta(days=60), MeetingMode.VIRTUAL),
        _draft(day + timedelta(days=120), MeetingMode.HYBRID),
        _draft(day + timedelta(days=180), place="Ailleurs"),
        _draft(day + timedelta(days=240)),
    ]
    rotated = planning.rotate_places(drafts, ["A", " ", "B"])
    assert [d.place for d in rotated] == ["A", None, "B", "Ailleurs", "A"]


def test_a_tie_goes_to_the_earliest_date() -> None:
    late = (datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 2, 1, 3, tzinfo=UTC))
    early = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, 3, tzinfo=UTC))
    assert planning.winning_option([2, 2], [late, early]) == 1
    assert planning.winning_option([3, 2], [late, early]) == 0
    assert planning.winning_option([0, 0], [late, early]) is None
    assert planning.winning_option(None, [late, early]) is None


async def test_the_summary_says_when_nobody_meets_in_a_room(any_sessions: SessionFactory) -> None:
    october = date(2026, 10, 1)
    now = datetime(2026, 11, 1, 13, tzinfo=UTC)
    async with transaction(any_sessions) as session:
        online, _ = await _animated(session, "CdeP virtuelle")
        planned, _ = await _animated(session, "CdeP en salle")
        drafted, animator = await _animated(session, "CdeP en série")
        for where in (online, planned, drafted):
            where.created_at = datetime(2026, 1, 1, tzinfo=UTC)
            meeting = await factories.meeting(
                session, where, starts_at=datetime(2026, 10, 8, 13, tzinfo=UTC)
            )
            meeting.mode = MeetingMode.VIRTUAL
        future = await factories.meeting(
            session, planned, starts_at=datetime(2027, 5, 8, 13, tzinfo=UTC)
        )
        future.mode = MeetingMode.HYBRID
        await planning.create_series(
            session,
            community_id=drafted.id or 0,
            by_person_id=animator,
            request_key="f" * 32,
            drafts=[_draft(datetime(2027, 6, 1, 13, tzinfo=UTC))],
            now=datetime(2026, 10, 1, tzinfo=UTC),
        )
    async with any_sessions() as session:
        found = {
            where.name: await vitality.vitality_summary(
                session, community_id=where.id or 0, month=october, tz=TZ, now=now
            )
            for where in (online, planned, drafted)
        }
    codes = {name: {s.code for s in summary.signals} for name, summary in found.items()}
    assert SIGNAL_NO_IN_PERSON in codes["CdeP virtuelle"]
    assert SIGNAL_NO_MEETING not in codes["CdeP virtuelle"]
    assert SIGNAL_NO_IN_PERSON not in codes["CdeP en salle"]
    assert SIGNAL_NO_IN_PERSON not in codes["CdeP en série"]
    summary = found["CdeP virtuelle"]
    french = card_text(build_vitality_card(summary, community_name="CdeP", locale="fr-CA", tz=TZ))
    assert "Aucune rencontre en présence depuis 12" in french
    english = card_text(build_vitality_card(summary, community_name="CdeP", locale="en-US", tz=TZ))
    assert "No in-person meeting in the last 12 months, and none planned in the next 12" in english


async def test_a_closed_date_poll_is_announced_once(any_sessions: SessionFactory) -> None:
    async with transaction(any_sessions) as session:
        where, animator = await _animated(session, "CdeP sondage")
        dates = [
            (datetime(2027, 1, 14, 14, tzinfo=UTC), datetime(2027, 1, 14, 17, tzinfo=UTC)),
            (datetime(2027, 1, 21, 14, tzinfo=UTC), datetime(2027, 1, 21, 17, tzinfo=UTC)),
        ]
        poll = await polls.create(
            session,
            community_id=where.id or 0,
            created_by_id=animator,
            question="Quelle date vous convient?",
            options=["le 14", "le 21"],
            multiple=True,
            anonymous=False,
            closes_at=START + timedelta(days=3),
            now=START,
        )
        await planning.record_date_poll(session, poll=poll, request_key="9" * 32, dates=dates)
    async with any_sessions() as session:
        assert await planning.closed_unannounced(session) == []
    async with transaction(any_sessions) as session:
        await polls.close(session, poll_id=poll.id or 0, by_person_id=None, now=START)
    async with any_sessions() as session:
        ((found, closed),) = await planning.closed_unannounced(session)
    assert closed.id == poll.id
    assert planning.option_dates(found) == dates
    outcomes = []
    for _ in range(2):
        async with transaction(any_sessions) as session:
            outcomes.append(
                await planning.mark_announced(session, date_poll_id=found.id or 0, now=START)
            )
    assert outcomes == [True, False]
    async with any_sessions() as session:
        assert await planning.closed_unannounced(session) == []


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
def test_the_planning_cards_fit_teams(locale: str) -> None:
    cards = [
        build_series_form_card(
            SeriesForm(rows=(DateRow(),) * planning.MAX_DATES), locale=locale, request="a" * 32
        ),
        build_date_poll_form_card(DatePollForm(), locale=locale, request="a" * 32),
        build_charter_form_card(
            CharterValues(), community_name="CdeP", locale=locale, ask_names=True
        ),
    ]
    for card in cards:
        assert card["version"] <= CARD_VERSION
        assert card_bytes(card) < MAX_CARD_BYTES
