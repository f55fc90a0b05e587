"""Anonymous rows that do not tell when, or in which order, they were written.

Anonymous ballots and survey answers name nobody and carry no time, but a database hands out
more than its columns: ids given in sequence, rows returned in the order they were inserted,
and on PostgreSQL the id of the transaction that wrote each row (`xmin`, readable by any SQL
user). Anyone who knows who answered when (a channel watcher, `person.last_seen_at`, an
invitation flagged "answered") could line those up with the answers.

So after every write to a poll's ballots (or a survey's answers), `deal_anew` deals all of
their contents again at random over the same ids, in the same transaction: every row is
deleted and inserted again, so each id holds a uniformly random one of the contents, the
physical order follows the ids, and every row carries the same transaction id — the latest
writer is hidden among all of them. The cost is one read and one rewrite of the group per
write (a few hundred rows at most: a community's poll or survey); docs/decisions.md
("Anonymity") says why not a cheaper swap with one random row.
"""

from __future__ import annotations

import random

from sqlalchemy import ColumnElement, Table, delete, insert, select
from sqlmodel.ext.asyncio.session import AsyncSession

# A key replaced at closing or erasure names its own row ("sealed:<id>"); it stays so when its
# content moves to another id.
SEALED = "sealed:"

# The operating system's randomness; tests put a seeded generator in its place.
RANDOM: random.Random = random.SystemRandom()


async def deal_anew(
    session: AsyncSession, table: Table, *, where: ColumnElement[bool], key_column: str
) -> None:
    """Shuffle the contents of the rows `where` selects over their ids (everything but `id`
    moves together). The caller holds a lock that keeps other writers of the group out."""
    # In id order, so that a seeded generator deals alike on every database.
    rows = (await session.execute(select(table).where(where).order_by(table.c.id))).mappings().all()
    if len(rows) < 2:
        return
    ids = sorted(int(row["id"]) for row in rows)
    contents = [{name: value for name, value in row.items() if name != "id"} for row in rows]
    RANDOM.shuffle(contents)
    dealt = []
    for row_id, content in zip(ids, contents, strict=True):
        if str(content[key_column]).startswith(SEALED):
            content = {**content, key_column: f"{SEALED}{row_id}"}
        dealt.append({"id": row_id, **content})
    await session.execute(delete(table).where(where))
    await session.execute(insert(table), dealt)
