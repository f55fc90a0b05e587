"""Vitality benchmark: one month's summary of a community of 5,000 members with three years of
history, on SQLite and on PostgreSQL.

The synthetic community follows the Montérégie cadence (5 full-day meetings a year) plus a
monthly team meeting, with attendance, RSVPs, satisfaction answers, consultation requests,
topics, polls, onboarding and mentoring; everything is bulk-inserted (executemany in chunks),
then ANALYZEd as a running database would be. Measured: `vitality_summary` for the last month
(with its twelve-month chart), cold then warm (median of the warm runs), and the CSV export
(twelve summaries). Target: under one second for a summary on each database.

    .venv/bin/python -m bench.vitality [--members N] [--db sqlite|postgresql|both] [--runs N]

Ends with one JSON line per database:
{"bench": "vitality", "db": …, "members": 5000, "seconds": …, …}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, text

from storage import vitality
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.models import (
    AgendaItem,
    Attendance,
    Community,
    ConsultationRequest,
    Meeting,
    Membership,
    MentorPairing,
    MentorRequest,
    OnboardingEnrollment,
    Person,
    Poll,
    PollVote,
    Rsvp,
    Survey,
    SurveyInvitation,
    SurveyResponse,
    Topic,
)
from tests.databases import fresh_postgres, fresh_sqlite, postgres_available

TZ = "America/Montreal"
MONTH = date(2026, 10, 1)
NOW = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)  # 1 November, 9:00 in Montreal
START = datetime(2023, 11, 1, 4, 0, tzinfo=UTC)
DAYS = (NOW - START).days
CHUNK = 5_000
COMMUNITY_ID = 1
QUESTIONS = ("overall", "relevance", "exchanges", "usefulness", "organisation")


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


@dataclass(frozen=True, slots=True)
class Result:
    bench: str
    db: str
    members: int
    seconds: float
    cold_seconds: float
    export_seconds: float
    rows: int


class Ids:
    """Explicit primary keys, so that bulk inserts need no RETURNING."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def __call__(self, name: str) -> int:
        self._next[name] = self._next.get(name, 0) + 1
        return self._next[name]


def _day(rng: random.Random, start: datetime = START, end: datetime = NOW) -> datetime:
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(max(1, span)))


def _meeting_days() -> Iterator[tuple[datetime, bool]]:
    """Full days in Feb, Apr, Jun, Sep, Nov (9:00 local ≈ 14:00 UTC) and a monthly team
    meeting on the third Tuesday-ish afternoon."""
    for year in (2023, 2024, 2025, 2026):
        for month in range(1, 13):
            first = datetime(year, month, 1, tzinfo=UTC)
            if not START <= first < NOW:
                continue
            if month in (2, 4, 6, 9, 11):
                yield first + timedelta(days=14, hours=14), True
            yield first + timedelta(days=18, hours=18), False


def build_rows(members: int, seed: int = 7) -> dict[Table, list[dict[str, Any]]]:
    rng = random.Random(seed)
    ids = Ids()
    rows: dict[Table, list[dict[str, Any]]] = {}

    def add(model: Any, **values: Any) -> int:
        key = ids(model.__tablename__)
        rows.setdefault(_table(model), []).append({"id": key, **values})
        return key

    add(
        Community,
        name="CdeP Montérégie — travail social",
        domain="",
        objectives=[],
        theme="",
        audience="",
        cadence="5 rencontres par année",
        usual_mode="hybrid",
        rules=[],
        settings={},
        created_at=START - timedelta(days=30),
    )
    people: list[tuple[int, datetime, datetime | None, bool]] = []
    for n in range(members):
        joined = _day(rng, START - timedelta(days=400), NOW - timedelta(days=1))
        left = _day(rng, joined, NOW) if rng.random() < 0.08 else None
        new_hire = rng.random() < 0.06 and joined > NOW - timedelta(days=300)
        person = add(
            Person,
            teams_user_id=f"29:bench-{n}",
            name=f"Membre {n}",
            locale="fr-CA",
            consent_reminders=True,
            consent_surveys=rng.random() < 0.7,
            created_at=joined,
            last_seen_at=joined,
        )
        add(
            Membership,
            person_id=person,
            community_id=COMMUNITY_ID,
            roles=["member", "animator"] if n < 2 else ["member"],
            interests=[],
            is_new_hire=new_hire,
            joined_at=joined,
            left_at=left,
        )
        people.append((person, joined, left, new_hire))

    def members_at(moment: datetime) -> list[int]:
        return [
            p
            for p, joined, left, _ in people
            if joined <= moment and (left is None or left > moment)
        ]

    topics: list[int] = []
    for _ in range(DAYS // 3):
        topics.append(
            add(
                Topic,
                community_id=COMMUNITY_ID,
                title=f"Sujet {len(topics)}",
                description="",
                kind="formative",
                proposed_by_id=rng.choice(people)[0],
                hide_proposer=False,
                status=rng.choice(["proposed", "shortlisted", "scheduled", "done"]),
                created_at=_day(rng),
            )
        )

    for starts, full_day in _meeting_days():
        hours = 7 if full_day else 2
        meeting = add(
            Meeting,
            community_id=COMMUNITY_ID,
            title="Rencontre" if full_day else "Rencontre d’équipe",
            starts_at=starts,
            ends_at=starts + timedelta(hours=hours),
            mode="hybrid",
            status="done",
            general_objective="",
            specific_objectives=[],
            attendance_confirmed_at=starts + timedelta(days=1),
            created_at=starts - timedelta(days=30),
        )
        for position, topic in enumerate(rng.sample(topics, 2)):
            add(
                AgendaItem,
                meeting_id=meeting,
                position=position,
                starts_at=starts,
                title="Volet",
                volet="formative",
                topic_id=topic,
            )
        present_share = rng.uniform(0.15, 0.35) if full_day else rng.uniform(0.02, 0.05)
        eligible = members_at(starts)
        answered = rng.sample(eligible, int(len(eligible) * min(0.9, present_share * 1.6)))
        for person in answered:
            add(
                Rsvp,
                meeting_id=meeting,
                person_id=person,
                answer=rng.choice(["yes", "yes", "yes", "no", "maybe"]),
                answered_at=starts - timedelta(days=rng.randrange(1, 20)),
            )
        attendees = rng.sample(eligible, int(len(eligible) * present_share))
        for person in attendees:
            add(
                Attendance,
                meeting_id=meeting,
                person_id=person,
                minutes=hours * 60,
                confirmed_at=starts,
            )
        survey = add(
            Survey,
            community_id=COMMUNITY_ID,
            meeting_id=meeting,
            kind="satisfaction",
            opens_at=starts + timedelta(hours=hours + 1),
            closes_at=starts + timedelta(days=7),
            topic_choices=[],
            created_at=starts,
        )
        for index, person in enumerate(attendees):
            answered_survey = rng.random() < 0.35
            add(SurveyInvitation, survey_id=survey, person_id=person, answered=answered_survey)
            if answered_survey:
                add(
                    SurveyResponse,
                    survey_id=survey,
                    respondent_key=f"sealed:{survey}:{index}",
                    ratings={q: rng.choice((3, 4, 4, 5, 5)) for q in QUESTIONS},
                    texts={},
                    choices=[],
                )

    for _ in range(DAYS // 15):
        created = _day(rng)
        poll = add(
            Poll,
            community_id=COMMUNITY_ID,
            question="Quelle date ?",
            options=["a", "b", "c"],
            multiple=False,
            anonymous=rng.random() < 0.5,
            closes_at=created + timedelta(days=7),
            status="closed",
            created_at=created,
        )
        for index, person in enumerate(rng.sample(members_at(created), rng.randrange(50, 400))):
            anonymous = index % 2 == 0
            choice = rng.randrange(3)
            voted_at = created + timedelta(hours=rng.randrange(1, 150))
            add(
                PollVote,
                poll_id=poll,
                voter_key=f"v{poll}:{index}",
                person_id=None if anonymous else person,
                choices=[choice],
                voted_at=None if anonymous else voted_at,  # anonymous ballots have no time
            )

    for n in range(DAYS * 3):
        created = _day(rng)
        assigned = created + timedelta(hours=rng.uniform(1, 200)) if rng.random() < 0.92 else None
        closed = (
            assigned + timedelta(days=rng.uniform(1, 30))
            if assigned and rng.random() < 0.8
            else None
        )
        add(
            ConsultationRequest,
            reference=f"C-{n}",
            community_id=COMMUNITY_ID,
            requester_id=rng.choice(people)[0],
            motive="complex_case",
            urgency="normal",
            modality="virtual",
            status="closed" if closed else "assigned" if assigned else "submitted",
            assignee_id=people[0][0] if assigned else None,
            created_at=created,
            assigned_at=assigned,
            closed_at=closed if closed and closed < NOW else None,
        )

    for person, joined, _left, new_hire in people:
        if not new_hire:
            continue
        add(
            OnboardingEnrollment,
            community_id=COMMUNITY_ID,
            person_id=person,
            source="join_dialog",
            started_at=joined,
        )
        if rng.random() < 0.7:
            request = add(
                MentorRequest,
                community_id=COMMUNITY_ID,
                mentee_id=person,
                status="paired",
                created_at=joined,
            )
            accepted = joined + timedelta(days=rng.randrange(3, 40))
            add(
                MentorPairing,
                request_id=request,
                community_id=COMMUNITY_ID,
                mentor_id=people[1][0],
                mentee_id=person,
                status="active",
                reason="",
                goals="",
                frequency="",
                duration_weeks=12,
                created_at=joined,
                accepted_at=accepted if accepted < NOW else None,
            )
    return rows


# Parents before children (foreign keys).
ORDER: Sequence[Any] = (
    Community,
    Person,
    Membership,
    Topic,
    Meeting,
    AgendaItem,
    Rsvp,
    Attendance,
    Survey,
    SurveyInvitation,
    SurveyResponse,
    Poll,
    PollVote,
    ConsultationRequest,
    OnboardingEnrollment,
    MentorRequest,
    MentorPairing,
)


async def load(sessions: SessionFactory, rows: dict[Table, list[dict[str, Any]]]) -> int:
    total = 0
    async with transaction(sessions) as session:
        for model in ORDER:
            table = _table(model)
            batch = rows.get(table, [])
            for start in range(0, len(batch), CHUNK):
                await session.execute(insert(table), batch[start : start + CHUNK])
            total += len(batch)
    async with transaction(sessions) as session:
        # What autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite) keeps up to date on a
        # database that has been running; a freshly loaded one has no statistics yet.
        await session.execute(text("ANALYZE"))
    return total


async def measure(kind: str, url: str, members: int, runs: int) -> Result:
    started = time.monotonic()
    rows = build_rows(members)
    built = time.monotonic()
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        total = await load(sessions, rows)
        loaded = time.monotonic()
        counts = ", ".join(
            f"{table.name} {len(batch)}" for table, batch in rows.items() if len(batch) > 100
        )
        print(
            f"[{kind}] {total} rows built in {built - started:.1f} s, "
            f"loaded in {loaded - built:.1f} s ({counts})",
            flush=True,
        )

        async def summary() -> tuple[float, vitality.VitalitySummary]:
            async with sessions() as session:
                began = time.perf_counter()
                result = await vitality.vitality_summary(
                    session, community_id=COMMUNITY_ID, month=MONTH, tz=TZ, now=NOW
                )
                return time.perf_counter() - began, result

        cold, first = await summary()
        warm = [(await summary())[0] for _ in range(runs)]
        async with sessions() as session:
            began = time.perf_counter()
            await vitality.months_for_export(
                session, community_id=COMMUNITY_ID, month=MONTH, tz=TZ, now=NOW
            )
            export = time.perf_counter() - began
        print(
            f"[{kind}] summary of {MONTH:%Y-%m}: cold {cold * 1000:.0f} ms, warm median "
            f"{statistics.median(warm) * 1000:.0f} ms over {runs} runs; CSV export (12 months) "
            f"{export * 1000:.0f} ms — members {first.members}, active {first.active}, meetings "
            f"{first.meetings}, attendance {first.attendances}/{first.attendance_expected}, "
            f"RSVPs {first.rsvps}/{first.rsvp_expected}, ballots {first.ballots}/"
            f"{first.ballots_expected}, "
            f"consultations {first.consultations_submitted}, median days "
            f"{first.median_days_to_assignment}, satisfaction {first.satisfaction}, signals "
            f"{[s.code for s in first.signals]}",
            flush=True,
        )
    finally:
        await engine.dispose()
    return Result(
        bench="vitality",
        db=kind,
        members=members,
        seconds=round(statistics.median(warm), 4),
        cold_seconds=round(cold, 4),
        export_seconds=round(export, 4),
        rows=total,
    )


async def main_async(members: int, databases: list[str], runs: int) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="carrefour-bench-") as directory:
        for kind in databases:
            if kind == "postgresql":
                reason = await postgres_available()
                if reason is not None:
                    print(f"[postgresql] skipped: {reason}", flush=True)
                    continue
                async with fresh_postgres() as url:
                    results.append(await measure(kind, url, members, runs))
            else:
                async with fresh_sqlite(Path(directory)) as url:
                    results.append(await measure(kind, url, members, runs))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.vitality", description=__doc__)
    parser.add_argument("--members", type=int, default=5_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=5, help="warm runs after the cold one")
    args = parser.parse_args(argv)
    if args.members < 10 or args.runs < 1:
        parser.error("--members must be at least 10 and --runs at least 1")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "sqlalchemy", "aiosqlite", "asyncpg"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = asyncio.run(main_async(args.members, databases, args.runs))
    for result in results:
        print(json.dumps(asdict(result)), flush=True)
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
