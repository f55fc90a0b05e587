"""Annual review benchmark: the bilan annuel of a community of 5,000 members with three years of
history, on SQLite and on PostgreSQL.

The community is bench/vitality.py's (meetings, attendance, RSVPs, satisfaction answers,
consultations, topics, polls, onboarding, mentoring; bulk-inserted, then ANALYZEd), plus a
register of productions with contributors and objectives' status. Measured: `annual_review`
for the year 2026 (15 June 2025 → 15 June 2026: every figure of the card and the PDF), cold
then warm (median of the warm runs), and the PDF built from it. Target: under two seconds.

    .venv/bin/python -m bench.review [--members N] [--db sqlite|postgresql|both] [--runs N]

Ends with one JSON line per database:
{"bench": "review", "db": …, "members": 5000, "seconds": …, …}
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
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, text

from bench.vitality import COMMUNITY_ID, NOW, TZ, build_rows, load
from storage import review
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.models import (
    Community,
    ObjectiveReview,
    ObjectiveState,
    Production,
    ProductionContributor,
    ProductionKind,
)
from tests.databases import fresh_postgres, fresh_sqlite, postgres_available

YEAR = 2026
PRODUCTIONS = 300
OBJECTIVES = ("Harmoniser les pratiques", "Former la relève", "Partager les outils")


@dataclass(frozen=True, slots=True)
class Result:
    bench: str
    db: str
    members: int
    seconds: float
    cold_seconds: float
    pdf_seconds: float
    rows: int


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


async def add_achievements(sessions: SessionFactory, members: int, seed: int = 11) -> int:
    """Productions over three years (each with up to four named contributors among the
    members), and each objective's status for three years."""
    rng = random.Random(seed)
    first = date(2023, 11, 1)
    productions: list[dict[str, Any]] = []
    contributors: list[dict[str, Any]] = []
    kinds = list(ProductionKind)
    for number in range(1, PRODUCTIONS + 1):
        productions.append(
            {
                "id": number,
                "community_id": COMMUNITY_ID,
                "title": f"Production {number}",
                "kind": rng.choice(kinds).value,
                "produced_on": first + timedelta(days=rng.randrange(3 * 365)),
                "url": f"https://example.org/p/{number}",
                "created_by_id": 1,
                "request_key": f"bench-{number}",
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
        for person in rng.sample(range(1, members + 1), rng.randrange(5)):
            contributors.append({"production_id": number, "person_id": person, "consented_at": NOW})
    statuses = [
        {
            "community_id": COMMUNITY_ID,
            "year": year,
            "objective": objective,
            "state": rng.choice(list(ObjectiveState)).value,
            "comment": "Commentaire",
            "set_by_id": 1,
            "set_at": NOW,
        }
        for year in (2024, 2025, 2026)
        for objective in OBJECTIVES
    ]
    async with transaction(sessions) as session:
        await session.execute(insert(_table(Production)), productions)
        await session.execute(insert(_table(ProductionContributor)), contributors)
        await session.execute(insert(_table(ObjectiveReview)), statuses)
        community = await session.get(Community, COMMUNITY_ID)
        assert community is not None
        community.objectives = list(OBJECTIVES)
        session.add(community)
    async with transaction(sessions) as session:
        await session.execute(text("ANALYZE"))
    return len(productions) + len(contributors) + len(statuses)


async def measure(kind: str, url: str, members: int, runs: int) -> Result:
    rows = build_rows(members)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        total = await load(sessions, rows) + await add_achievements(sessions, members)
        print(f"[{kind}] {total} rows loaded", flush=True)

        async def build() -> tuple[float, review.AnnualReview]:
            async with sessions() as session:
                began = time.perf_counter()
                result = await review.annual_review(
                    session, community_id=COMMUNITY_ID, year=YEAR, tz=TZ, now=NOW
                )
                return time.perf_counter() - began, result

        cold, first = await build()
        warm = [(await build())[0] for _ in range(runs)]
        # Imported here: the PDF library is only needed for this step.
        from cards.review_pdf import build_review_pdf

        began = time.perf_counter()
        pdf = build_review_pdf(first, locale="fr-CA", tz=TZ)
        pdf_seconds = time.perf_counter() - began
        print(
            f"[{kind}] annual review {YEAR}: cold {cold * 1000:.0f} ms, warm median "
            f"{statistics.median(warm) * 1000:.0f} ms over {runs} runs; PDF "
            f"{pdf_seconds * 1000:.0f} ms ({len(pdf)} bytes) — members {first.members}, new "
            f"{first.newcomers}, left {first.left}, meetings {first.meetings}, attendance "
            f"{first.attendances}/{first.attendance_expected}, RSVPs {first.rsvps}/"
            f"{first.rsvp_expected}, satisfaction {first.satisfaction}, productions "
            f"{first.productions_total}, topics {first.topics_treated}, consultations "
            f"{first.consultations_submitted}, signals {[s.code for s in first.signals]}",
            flush=True,
        )
    finally:
        await engine.dispose()
    return Result(
        bench="review",
        db=kind,
        members=members,
        seconds=round(statistics.median(warm), 4),
        cold_seconds=round(cold, 4),
        pdf_seconds=round(pdf_seconds, 4),
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
    parser = argparse.ArgumentParser(prog="python -m bench.review", description=__doc__)
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
