"""Anonymity under attack: a watcher of the channel, a facilitator who reads results twice, and
someone holding a copy of the database or the key file.

- An anonymous poll's card shows how many voted, never what, until it closes; at closing it
  shows the counts only from k voters. A named poll keeps its live counts (tests/test_polls.py).
- Survey results (and the monthly summary's satisfaction) appear only once a survey is closed,
  and only from k answers: reading at n and again at n + 1 answers teaches nothing.
- The stored ballots and answers name nobody, carry no time, and neither their ids nor their
  order follow the order in which people answered; the key that could recompute a voter's hash
  is not in the database, and production refuses to start without one of its own.
"""

from __future__ import annotations

import asyncio
import json
import random
import stat
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.app import RUNTIME, create_app
from bot.settings import Settings
from cards.i18n import translator
from cards.polls import result_bar
from storage import anonymity, polls, privacy, surveys
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.migrate import upgrade_async
from storage.models import Community, Person, Poll, PollVote, Role, SurveyResponse
from storage.secrets import MIN_KEY_LENGTH, KeyFileError, derive, keyed_hash, load_master_key
from tests import factories
from tests.conftest import make_settings
from tests.databases import fresh_postgres, fresh_sqlite
from tests.fake_connector import FakeConnector
from tests.support import START, Clock, dispatcher
from tests.test_communities import Chat, card_text
from tests.test_polls import form_values, new_poll
from tests.test_polls import scene as poll_scene

Client = TestClient[web.Request, web.Application]

TZ = "America/Montreal"
# Tuesday 2 March 2027, 10:00 in Montreal: the bot's clock in these tests.
NOW = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
CHANNEL = "19:channel@thread.tacv2"  # tests.activities.message's channel
K = surveys.DEFAULT_K
WEEK = timedelta(days=7)
fr = translator("fr-CA")


@pytest.fixture(autouse=True)
def traveller() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=True) as coordinates:
        yield coordinates


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """Sessions on SQLite and on PostgreSQL."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


def sender(who: Person) -> dict[str, Any]:
    return {"id": who.teams_user_id, "name": who.name, "aadObjectId": who.aad_object_id}


@dataclass
class World:
    """A community bound to the channel, its animator and members, and the bot over HTTP."""

    client: Client
    connector: FakeConnector
    settings: Settings
    community: Community
    animator: Person
    members: list[Person]

    @property
    def sessions(self) -> SessionFactory:
        sessions: SessionFactory = self.client.app[RUNTIME].sessions
        return sessions

    def chat(self, who: Person) -> Chat:
        return Chat(self.client, self.connector, sender(who))


async def build_world(client: Client, connector: FakeConnector, *, members: int) -> World:
    sessions: SessionFactory = client.app[RUNTIME].sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        where.teams_channel_id = CHANNEL
        animator = await factories.person(session, 1)
        row = await factories.member(session, animator, where)
        row.roles = [Role.MEMBER.value, Role.ANIMATOR.value]
        people = []
        # Person ids well apart from the counts and choices these tests look at.
        for n in range(members):
            who = await factories.person(session, 100 + n)
            who.consent_surveys = True
            await factories.member(session, who, where)
            people.append(who)
    return World(client, connector, client.app[RUNTIME].settings, where, animator, people)


@pytest.fixture
async def world(
    database_url: str, connector: FakeConnector, tmp_path: Path
) -> AsyncIterator[World]:
    settings = make_settings(database_url, CARREFOUR_SECRET_KEY_FILE=str(tmp_path / "secret.key"))
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        yield await build_world(client, connector, members=10)
    finally:
        await client.close()


# -- polls: what a watcher of the channel sees ---------------------------------------------------


async def post_poll(w: World, options: list[str]) -> Poll:
    closing_day = (NOW.astimezone(ZoneInfo(TZ)) + timedelta(days=7)).date()
    await w.chat(w.animator).click(
        form_values(
            anonymous="true", options="\n".join(options), close_date=closing_day.isoformat()
        ),
        channel=True,
    )
    async with w.sessions() as session:
        poll = (await session.exec(select(Poll).order_by(col(Poll.id).desc()))).first()
    assert poll is not None
    assert poll.anonymous
    assert poll.activity_id is not None
    return poll


async def vote(w: World, who: Person, poll: Poll, choice: int) -> None:
    await w.chat(who).click(
        {"verb": "polls.vote", "poll_id": poll.id, "choice": str(choice)}, channel=True
    )


def card_updates(connector: FakeConnector, poll: Poll) -> list[dict[str, Any]]:
    """The cards that replaced the posted poll card in place (PUT), in order."""
    path = f"/v3/conversations/{CHANNEL}/activities/{poll.activity_id}"
    return [
        r.body["attachments"][0]["content"]
        for r in connector.received
        if r.method == "PUT" and r.path == path
    ]


def participation(count: int) -> str:
    if count == 1:
        return fr("polls.card.voters_one")
    return fr("polls.card.voters_many", count=count)


def without_participation(card: dict[str, Any], counts: range) -> str:
    """The card as JSON with its « N personnes ont voté » line blanked out."""
    shown = json.dumps(card, ensure_ascii=False)
    for count in counts:
        shown = shown.replace(json.dumps(participation(count), ensure_ascii=False), '"…"')
    return shown


def shows_counts(card: dict[str, Any]) -> bool:
    """Any result bar (« ██░░ 2 (40 %) ») or percentage anywhere on the card."""
    shown = card_text(card)
    return "%" in shown or "█" in shown or "░" in shown


async def test_an_anonymous_poll_card_shows_how_many_voted_never_what_until_it_closes(
    world: World,
) -> None:
    w = world
    poll = await post_poll(w, ["Mardi", "Mercredi", "Jeudi"])
    choices = (0, 2, 2, 1)
    for n, (who, choice) in enumerate(zip(w.members, choices, strict=False), start=1):
        await vote(w, who, poll, choice)
        assert participation(n) in card_text(card_updates(w.connector, poll)[-1])
    await vote(w, w.members[0], poll, 1)  # a changed ballot
    seen = card_updates(w.connector, poll)
    assert len(seen) == len(choices) + 1
    # Whatever each person chose, the card after their click differs from the one before only
    # by the number of voters: a watcher cannot attribute a change to the person who clicked.
    assert len({without_participation(card, range(1, 11)) for card in seen}) == 1
    assert not any(shows_counts(card) for card in seen)
    assert fr("polls.card.results_at_closing", k=K) in card_text(seen[0])

    # Closed with fewer than k voters: still no counts, for the channel and for the animators.
    await w.chat(w.animator).click(
        {"verb": "polls.close", "poll_id": poll.id, "confirmed": True}, channel=True
    )
    final = card_updates(w.connector, poll)[-1]
    assert fr("polls.card.too_few", k=K) in card_text(final)
    assert not shows_counts(final)
    await dispatcher(w.client.app[RUNTIME], Clock(now=datetime.now(UTC))).dispatch_once()
    title = fr("polls.results.title", community=w.community.name)
    (to_animator,) = [c for c in w.connector.cards() if title in card_text(c)]
    assert fr("polls.card.too_few", k=K) in card_text(to_animator)
    assert not shows_counts(to_animator)

    # From k voters, the closing card shows the counts.
    second = await post_poll(w, ["Oui", "Non"])
    for who, choice in zip(w.members, (0, 0, 1, 0, 1), strict=False):
        await vote(w, who, second, choice)
    assert not any(shows_counts(card) for card in card_updates(w.connector, second))
    await w.chat(w.animator).click(
        {"verb": "polls.close", "poll_id": second.id, "confirmed": True}, channel=True
    )
    closed = card_text(card_updates(w.connector, second)[-1])
    assert result_bar(3, 5, locale="fr-CA") in closed
    assert result_bar(2, 5, locale="fr-CA") in closed


# -- surveys: what a facilitator reads ------------------------------------------------------------


async def open_survey(w: World, invited: list[Person]) -> int:
    """A satisfaction survey about yesterday's meeting, opened an hour ago, for `invited`."""
    async with transaction(w.sessions) as session:
        meeting = await factories.meeting(
            session, w.community, starts_at=NOW - timedelta(days=1), hours=3
        )
        survey = await surveys.open_satisfaction_survey(
            session, meeting=meeting, now=NOW - timedelta(hours=1), duration=timedelta(days=7)
        )
        for who in invited:
            await surveys.invite(session, survey_id=_id(survey), person_id=_id(who))
    return _id(survey)


def card_answer(survey_id: int, overall: int, comment: str) -> dict[str, Any]:
    value: dict[str, Any] = {"verb": "surveys.answer", "survey_id": survey_id}
    value.update({f"rating_{q}": "4" for q in surveys.SATISFACTION_RATINGS})
    value.update({"rating_overall": str(overall), "text_takeaway": comment, "text_next_time": ""})
    return value


async def results_card(w: World) -> dict[str, Any]:
    await w.chat(w.animator).say("résultats")
    return w.connector.cards()[-1]


def without_top_facts(card: dict[str, Any]) -> str:
    """The results card without its invited / responses / closing facts."""
    body = [block for block in card["body"] if block.get("type") != "FactSet"]
    return json.dumps({**card, "body": body}, ensure_ascii=False)


async def test_survey_results_read_at_n_and_n_plus_1_answers_teach_nothing(
    world: World, traveller: time_machine.Traveller
) -> None:
    w = world
    survey_id = await open_survey(w, w.members[:7])
    for n, who in enumerate(w.members[:K]):
        await w.chat(who).click(card_answer(survey_id, 4, f"Commentaire {n}"))
    at_k = await results_card(w)
    await w.chat(w.members[K]).click(card_answer(survey_id, 1, "Le mot de la dernière"))
    after = await results_card(w)
    # Only the response count moved; no average, distribution or comment to difference.
    assert without_top_facts(at_k) == without_top_facts(after)
    for card in (at_k, after):
        shown = card_text(card)
        assert "Moyenne" not in shown
        assert "Commentaire" not in shown
        assert "Le mot de la dernière" not in shown
    assert "6 (86\xa0%)" in card_text(after)

    # Closed: the results appear, all at once (with the cell rule as before).
    async with w.sessions() as session:
        survey = await surveys.get_survey(session, survey_id=survey_id)
    assert survey is not None
    traveller.move_to(survey.closes_at + timedelta(minutes=1))
    closed = card_text(await results_card(w))
    assert "Moyenne\u00a0: 3,5\u00a0sur 5 (6\u00a0réponses)" in closed
    assert "Le mot de la dernière" in closed


async def test_objective_items_read_at_n_and_n_plus_1_answers_teach_nothing(
    world: World, traveller: time_machine.Traveller
) -> None:
    """A meeting's objectives are items of its survey (« cet objectif a été atteint »): the
    same rules hold for them, and a lone low rating is not shown as a cell of its own."""
    w = world
    async with transaction(w.sessions) as session:
        meeting = await factories.meeting(
            session, w.community, starts_at=NOW - timedelta(days=1), hours=3
        )
        meeting.specific_objectives = ["Repérer la détresse", "Connaître les ressources"]
        await session.flush()
        survey = await surveys.open_satisfaction_survey(
            session, meeting=meeting, now=NOW - timedelta(hours=1), duration=WEEK
        )
        for who in w.members[:7]:
            await surveys.invite(session, survey_id=_id(survey), person_id=_id(who))

    def with_objectives(first: int) -> dict[str, Any]:
        return {
            **card_answer(_id(survey), 4, ""),
            "rating_objective_1": str(first),
            "rating_objective_2": "4",
        }

    for who in w.members[:K]:
        await w.chat(who).click(with_objectives(5))
    at_k = await results_card(w)
    await w.chat(w.members[K]).click(with_objectives(1))
    after = await results_card(w)
    assert without_top_facts(at_k) == without_top_facts(after)
    for card in (at_k, after):
        assert "Objectif atteint" not in card_text(card)
        assert "Moyenne" not in card_text(card)

    traveller.move_to(survey.closes_at + timedelta(minutes=1))
    closed = card_text(await results_card(w))
    assert "Objectif atteint\u00a0: «\u00a0Repérer la détresse\u00a0»" in closed
    assert "Moyenne\u00a0: 4,3\u00a0sur 5 (6\u00a0réponses)" in closed
    # Five 5s and one 1: neither the detail nor the bands (1–2 would hold one person) is shown.
    assert fr("surveys.results.hidden", cell=surveys.CELL_MIN) in closed


async def test_the_monthly_summary_counts_only_closed_surveys_that_reached_k(
    database_url: str,
) -> None:
    from storage.vitality import vitality_summary

    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        async with transaction(sessions) as session:
            where = await factories.community(session)
            people = [await factories.person(session, 100 + n) for n in range(8)]
            first = await factories.meeting(session, where, starts_at=NOW - timedelta(days=1))
            second = await factories.meeting(session, where, starts_at=NOW)
            opened = NOW + timedelta(hours=8)
            big = await surveys.open_satisfaction_survey(
                session, meeting=first, now=opened, duration=timedelta(days=7)
            )
            small = await surveys.open_satisfaction_survey(
                session, meeting=second, now=opened, duration=timedelta(days=7)
            )
            for who in people:
                for survey in (big, small):
                    await surveys.invite(session, survey_id=_id(survey), person_id=_id(who))
        key = derive(b"test-master-key", surveys.RESPONDENT_KEY_PURPOSE)

        async def answer(survey: Any, who: Person, overall: int) -> None:
            async with transaction(sessions) as session:
                await surveys.record_response(
                    session,
                    survey_id=_id(survey),
                    person_id=_id(who),
                    key=key,
                    answer=surveys.Answer(
                        ratings={q: overall for q in surveys.SATISFACTION_RATINGS}
                    ),
                    now=opened + timedelta(hours=1),
                )

        async def satisfaction(now: datetime) -> tuple[int, float | None]:
            async with sessions() as session:
                summary = await vitality_summary(
                    session, community_id=_id(where), month=date(2027, 3, 1), tz=TZ, now=now
                )
            return summary.satisfaction_responses, summary.satisfaction

        for who in people[:K]:
            await answer(big, who, 4)
        during = opened + timedelta(days=1)
        at_k = await satisfaction(during)
        await answer(big, people[K], 1)
        assert at_k[1] is None
        assert await satisfaction(during) == (0, None)
        # Two answers to the other survey, below k: the month's figure must not move with them.
        for who in people[:2]:
            await answer(small, who, 5)
        after = opened + timedelta(days=7)
        responses, average = await satisfaction(after)
        assert responses == K + 1
        assert average == pytest.approx(3.5)
    finally:
        await engine.dispose()


# -- the database as someone with a copy of it reads it -------------------------------------------


async def everything_stored(w: World) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in the order the database hands them out (no ORDER BY)."""
    engine = w.client.app[RUNTIME].engine
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: sa_inspect(sync).get_table_names())
        found: dict[str, list[dict[str, Any]]] = {}
        for name in names:
            rows = await connection.execute(text(f'SELECT * FROM "{name}"'))
            found[name] = [dict(row) for row in rows.mappings()]
        return found


async def xmins(w: World, table: str, column: str, value: int) -> set[str]:
    """PostgreSQL's transaction ids of the live rows (readable by any SQL user)."""
    async with w.client.app[RUNTIME].engine.connect() as connection:
        rows = await connection.execute(
            text(f"SELECT xmin::text FROM {table} WHERE {column} = :value"), {"value": value}
        )
        return {str(x) for x in rows.scalars()}


def _decoded(value: object) -> Any:
    """A JSON column as SQLite hands it out (text) or PostgreSQL's driver (decoded)."""
    return json.loads(value) if isinstance(value, str) else value


def _has_time(value: object) -> bool:
    return isinstance(value, datetime | date)


def _texts(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return json.dumps(value, ensure_ascii=False, default=str)


async def test_a_copy_of_the_database_links_no_ballot_or_answer_to_anyone(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    # A seeded deal, so that what follows holds on every run (the mechanism itself is checked
    # for uniformity in test_each_write_deals_the_rows_anew_uniformly).
    monkeypatch.setattr(anonymity, "RANDOM", random.Random(7))
    people = w.members  # ten voters, each choosing the option of their own rank
    poll = await post_poll(w, [f"Option {n}" for n in range(len(people))])
    survey_id = await open_survey(w, people)
    for n, who in enumerate(people):
        await vote(w, who, poll, n)
        await w.chat(who).click(card_answer(survey_id, 1 + n % 5, f"Réponse numéro {n}"))
    stored = await everything_stored(w)
    async with w.sessions() as session:
        everyone = list((await session.exec(select(Person))).all())

    ballots = [row for row in stored["poll_vote"] if row["poll_id"] == poll.id]
    answers = [row for row in stored["survey_response"] if row["survey_id"] == survey_id]
    assert len(ballots) == len(answers) == len(people)
    identifiers = {
        str(value)
        for who in everyone
        for value in (who.teams_user_id, who.aad_object_id, who.name)
        if value
    }
    seen_at = [who.last_seen_at for who in everyone]
    for row in [*ballots, *answers]:
        assert row.get("person_id") is None
        shown = _texts(row)
        assert not [identity for identity in identifiers if identity in shown]
        # No time at all (not even the day), so nothing to match with a person's traces.
        assert not [value for value in row.values() if _has_time(value)]
        assert not [value for value in row.values() if value in seen_at]
    assert all(not str(row["voter_key"]).startswith("person:") for row in ballots)

    # Neither the ids nor the order the database returns follow the order of voting.
    voting_order = [[n] for n in range(len(people))]
    choices = [_decoded(row["choices"]) for row in ballots]
    by_id = [_decoded(row["choices"]) for row in sorted(ballots, key=lambda r: r["id"])]
    assert sorted(choices) == voting_order  # every ballot is there…
    assert voting_order not in (choices, by_id)  # …but not in the order of voting
    answer_order = [{"takeaway": f"Réponse numéro {n}"} for n in range(len(people))]
    texts = [_decoded(row["texts"]) for row in answers]
    texts_by_id = [_decoded(row["texts"]) for row in sorted(answers, key=lambda r: r["id"])]
    assert answer_order not in (texts, texts_by_id)
    # The latest ballot and answer are not simply the rows with the highest ids.
    assert by_id[-1] != voting_order[-1]
    assert texts_by_id[-1] != answer_order[-1]
    if w.settings.database_url.startswith("postgresql"):
        # Every row was written by the latest vote's transaction: xmin dates none of them.
        assert len(await xmins(w, "poll_vote", "poll_id", _id(poll))) == 1
        assert len(await xmins(w, "survey_response", "survey_id", survey_id)) == 1

    # The comments are stored with the answers only (not in dialog state, outbox, logs…).
    for name, rows in stored.items():
        if name != "survey_response":
            assert "Réponse numéro" not in "".join(_texts(r) for r in rows), name

    # No key that could recompute a voter's hash is kept in the database.
    assert not stored.get("app_secret")
    master = w.settings.master_key()
    keys = [master.decode(errors="replace")] + [
        derive(master, purpose).hex()
        for purpose in (polls.VOTER_KEY_PURPOSE, surveys.RESPONDENT_KEY_PURPOSE)
    ]
    everything = "".join(_texts(row) for rows in stored.values() for row in rows)
    assert not [key for key in keys if key in everything]


async def test_each_write_deals_the_rows_anew_uniformly(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the latest ballot lands: any id, as often as any other (not the last, not near
    it), over many polls dealt by a seeded generator."""
    monkeypatch.setattr(anonymity, "RANDOM", random.Random(1))
    s = await poll_scene(sessions, voters=4)
    key = derive(b"test-master-key", polls.VOTER_KEY_PURPOSE)
    landed: Counter[int] = Counter()
    for _ in range(40):
        async with transaction(sessions) as session:
            poll = await new_poll(
                session, s, options=("A", "B", "C", "D"), anonymous=True, closes_at=START + WEEK
            )
        for n, who in enumerate(s.voters):
            async with transaction(sessions) as session:
                await polls.vote(
                    session, poll_id=_id(poll), person_id=_id(who), choices=[n], key=key, now=START
                )
        async with sessions() as session:
            rows = (
                await session.exec(
                    select(PollVote).where(PollVote.poll_id == poll.id).order_by(col(PollVote.id))
                )
            ).all()
        assert sorted(row.choices[0] for row in rows) == [0, 1, 2, 3]
        landed[[row.choices for row in rows].index([3])] += 1
    assert sorted(landed) == [0, 1, 2, 3]
    assert all(4 <= count <= 18 for count in landed.values()), landed  # 10 expected each


async def test_an_erasure_finds_the_ballot_wherever_the_deals_moved_it(
    any_sessions: SessionFactory,
) -> None:
    """A ballot's keyed hash moves with its content when votes deal the rows anew, so erasure
    (storage/privacy.py) still withdraws exactly the erased person's ballot."""
    sessions = any_sessions
    s = await poll_scene(sessions, voters=4)
    key = derive(b"test-master-key", polls.VOTER_KEY_PURPOSE)
    async with transaction(sessions) as session:
        poll = await new_poll(session, s, anonymous=True, closes_at=START + WEEK)

    async def cast(who: Person, choice: int) -> None:
        async with transaction(sessions) as session:
            await polls.vote(
                session, poll_id=_id(poll), person_id=_id(who), choices=[choice], key=key, now=START
            )

    async def erase(who: Person) -> None:
        async with transaction(sessions) as session:
            await privacy.erase(session, person_id=_id(who), now=START, poll_key=key)

    first, second, third, fourth = s.voters
    for n, who in enumerate(s.voters):
        await cast(who, n % 3)
    for round_ in range(3):  # deals move every ballot around
        await cast(third, round_ % 3)
        await cast(fourth, (round_ + 1) % 3)
    await erase(first)
    await cast(third, 2)
    await erase(second)
    async with sessions() as session:
        rows = (await session.exec(select(PollVote).where(PollVote.poll_id == poll.id))).all()
    kept = {row.voter_key: row.choices for row in rows}
    assert kept == {
        polls.voter_key(poll, person_id=_id(third), key=key): [2],
        polls.voter_key(poll, person_id=_id(fourth), key=key): [0],
    }


async def test_people_voting_and_answering_at_once_each_keep_their_ballot(
    any_sessions: SessionFactory,
) -> None:
    """Each write rewrites its whole group: writers of one poll (or survey) take turns on its
    row's lock, so none loses another's ballot or fails."""
    sessions = any_sessions
    s = await poll_scene(sessions, voters=6)
    voter_key = derive(b"test-master-key", polls.VOTER_KEY_PURPOSE)
    answer_key = derive(b"test-master-key", surveys.RESPONDENT_KEY_PURPOSE)
    async with transaction(sessions) as session:
        poll = await new_poll(session, s, anonymous=True, closes_at=START + WEEK)
        meeting = await factories.meeting(session, s.where, starts_at=START - WEEK)
        survey = await surveys.open_satisfaction_survey(
            session, meeting=meeting, now=START - timedelta(days=1), duration=WEEK
        )
        for who in s.voters:
            await surveys.invite(session, survey_id=_id(survey), person_id=_id(who))

    async def vote(who: Person, choice: int) -> None:
        async with transaction(sessions) as session:
            await polls.vote(
                session,
                poll_id=_id(poll),
                person_id=_id(who),
                choices=[choice],
                key=voter_key,
                now=START,
            )

    async def answer(who: Person, rating: int) -> None:
        async with transaction(sessions) as session:
            await surveys.record_response(
                session,
                survey_id=_id(survey),
                person_id=_id(who),
                key=answer_key,
                answer=surveys.Answer(ratings={q: rating for q in surveys.SATISFACTION_RATINGS}),
                now=START,
            )

    work = [vote(who, n % 3) for n, who in enumerate(s.voters)]
    work += [answer(who, 1 + n % 5) for n, who in enumerate(s.voters)]
    outcomes = await asyncio.gather(*work, return_exceptions=True)
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    async with sessions() as session:
        ballots = (await session.exec(select(PollVote))).all()
        answers = (await session.exec(select(SurveyResponse))).all()
    assert sorted(b.choices[0] for b in ballots) == sorted(n % 3 for n in range(6))
    assert sorted(a.ratings["overall"] for a in answers) == sorted(1 + n % 5 for n in range(6))
    assert len({b.voter_key for b in ballots}) == len({a.respondent_key for a in answers}) == 6


# -- the key: outside the database, required in production -------------------------------------


PRODUCTION = {
    "CARREFOUR_ENV": "production",
    "MicrosoftAppId": "00000000-0000-0000-0000-00000000b0t0",
    "MicrosoftAppPassword": "app-password",
    "MicrosoftAppTenantId": "72f988bf-0000-0000-0000-000000000001",
    "CARREFOUR_PUBLIC_URL": "https://carrefour.example.org",
}


@pytest.mark.parametrize("key", [None, "", " " * 40, "x" * (MIN_KEY_LENGTH - 1)])
def test_production_refuses_to_start_without_a_long_enough_secret_key(key: str | None) -> None:
    with pytest.raises(ValueError, match="CARREFOUR_SECRET_KEY of at least 32 characters"):
        create_app(make_settings("sqlite+aiosqlite://", **PRODUCTION, CARREFOUR_SECRET_KEY=key))


def test_production_starts_with_its_own_key_and_uses_it(tmp_path: Path) -> None:
    key = "k" * MIN_KEY_LENGTH
    settings = make_settings(
        "sqlite+aiosqlite://",
        **PRODUCTION,
        CARREFOUR_SECRET_KEY=key,
        CARREFOUR_SECRET_KEY_FILE=str(tmp_path / "secret.key"),
    )
    create_app(settings)
    assert settings.master_key() == key.encode()
    assert not (tmp_path / "secret.key").exists()


def test_without_a_configured_key_one_is_made_once_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secret.key"
    first = load_master_key(configured=None, key_file=path)
    assert len(first) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_master_key(configured=None, key_file=path) == first  # the same after a restart
    # Processes racing to make it end with one key, the first one written.
    with ThreadPoolExecutor(max_workers=8) as pool:
        other = tmp_path / "other.key"
        made = set(pool.map(lambda _: load_master_key(configured=None, key_file=other), range(16)))
    assert len(made) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # A damaged file is refused, not silently replaced (a new key would unmake every voter).
    path.write_text("short\n")
    with pytest.raises(KeyFileError):
        load_master_key(configured=None, key_file=path)
    assert path.read_text() == "short\n"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_at_0006(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    kind = str(request.param)
    if kind == "postgresql":
        async with fresh_postgres(migrate=False) as url:
            await upgrade_async(url, "0006")
            yield url
    else:
        async with fresh_sqlite(tmp_path, migrate=False) as url:
            await upgrade_async(url, "0006")
            yield url


async def test_a_key_kept_in_the_database_moves_to_the_key_file_once(
    database_at_0006: str, tmp_path: Path
) -> None:
    url = database_at_0006
    old_key = "a1" * 32
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO app_secret (name, value, created_at) "
                    "VALUES ('master', :value, :now)"
                ),
                {"value": old_key, "now": NOW},
            )
        sessions = session_factory(engine)
        s = await poll_scene(sessions, voters=1)
        async with transaction(sessions) as session:
            poll = await new_poll(session, s, anonymous=True, closes_at=START + WEEK)
            voter = derive(old_key.encode(), polls.VOTER_KEY_PURPOSE)
            await session.execute(
                text(
                    "INSERT INTO poll_vote (poll_id, voter_key, person_id, choices, voted_at) "
                    "VALUES (:poll, :key, NULL, '[0]', :now)"
                ),
                {"poll": poll.id, "key": keyed_hash(voter, poll.id, s.voters[0].id), "now": NOW},
            )
    finally:
        await engine.dispose()

    key_file = tmp_path / "moved" / "secret.key"
    # Without a place for the key, the upgrade refuses (and changes nothing) rather than lose
    # the key its open polls and links need.
    with pytest.raises(RuntimeError, match="CARREFOUR_SECRET_KEY_FILE"):
        await upgrade_async(url)
    await upgrade_async(url, secret_key_file=key_file)
    assert key_file.read_text().strip() == old_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    settings = make_settings(url, CARREFOUR_SECRET_KEY_FILE=str(key_file))
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: sa_inspect(sync).get_table_names())
        assert "app_secret" not in tables
        sessions = session_factory(engine)
        async with sessions() as session:
            (ballot,) = (await session.exec(select(PollVote))).all()
        assert ballot.voted_at is None  # an anonymous ballot loses its time
        # The same key, from the file: the voter changing their mind replaces their ballot.
        async with transaction(sessions) as session:
            await polls.vote(
                session,
                poll_id=_id(poll),
                person_id=_id(s.voters[0]),
                choices=[1],
                key=derive(settings.master_key(), polls.VOTER_KEY_PURPOSE),
                now=START,
            )
        async with sessions() as session:
            assert [b.choices for b in (await session.exec(select(PollVote))).all()] == [[1]]
    finally:
        await engine.dispose()


# -- SQLite: what was deleted does not linger in the file ------------------------------------------


async def test_a_withdrawn_answer_leaves_no_trace_in_the_sqlite_file(tmp_path: Path) -> None:
    """Rows deleted or rewritten (an answer withdrawn by erasure, answers dealt anew) are
    zeroed in the file: a copy of it does not keep them in free space."""
    regretted = "Ce texte nomme Mme Tremblay"  # ASCII: stored as is inside the JSON
    key = derive(b"test-master-key", surveys.RESPONDENT_KEY_PURPOSE)

    async def after_withdrawal(url: str, *, secure_delete: bool) -> bytes:
        engine = create_engine(url)
        if not secure_delete:  # the control: SQLite built without SQLITE_SECURE_DELETE

            @event.listens_for(engine.sync_engine, "connect")
            def _default(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.execute("PRAGMA secure_delete=OFF")

        sessions = session_factory(engine)
        try:
            async with engine.connect() as connection:
                on = (await connection.exec_driver_sql("PRAGMA secure_delete")).scalar()
            assert on == (1 if secure_delete else 0)
            async with transaction(sessions) as session:
                where = await factories.community(session)
                people = [await factories.person(session, n) for n in (1, 2, 3)]
                meeting = await factories.meeting(session, where, starts_at=NOW)
                survey = await surveys.open_satisfaction_survey(
                    session, meeting=meeting, now=NOW, duration=timedelta(days=7)
                )
                for who in people:
                    await surveys.invite(session, survey_id=_id(survey), person_id=_id(who))
            for who, comment in zip(people, (regretted, "Bien", "Utile"), strict=True):
                async with transaction(sessions) as session:
                    await surveys.record_response(
                        session,
                        survey_id=_id(survey),
                        person_id=_id(who),
                        key=key,
                        answer=surveys.Answer(
                            ratings={q: 4 for q in surveys.SATISFACTION_RATINGS},
                            texts={"takeaway": comment},
                            confirmed=["name"],
                        ),
                        now=NOW + timedelta(hours=1),
                    )
            await checkpoint(engine)  # as SQLite's automatic checkpoints do in time
            async with transaction(sessions) as session:
                await privacy.erase(session, person_id=_id(people[0]), now=NOW, respondent_key=key)
            await checkpoint(engine)
            async with sessions() as session:
                left = (await session.exec(select(SurveyResponse))).all()
            assert sorted(row.texts["takeaway"] for row in left) == ["Bien", "Utile"]
        finally:
            await engine.dispose()
        database = Path(url.removeprefix("sqlite+aiosqlite:///"))
        return b"".join(
            path.read_bytes()
            for path in (database, database.with_name(database.name + "-wal"))
            if path.exists()
        )

    async with fresh_sqlite(tmp_path / "default") as url:
        # The check can fail: without secure_delete the withdrawn comment stays in the file.
        assert regretted.encode() in await after_withdrawal(url, secure_delete=False)
    async with fresh_sqlite(tmp_path / "ours") as url:
        assert regretted.encode() not in await after_withdrawal(url, secure_delete=True)


async def checkpoint(engine: AsyncEngine) -> None:
    """Move SQLite's write-ahead log into the database file and empty it."""
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
