"""SqlStorage conforms to botbuilder's MemoryStorage etag rules, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import jsonpickle
import pytest
from botbuilder.core import MemoryStorage, StoreItem
from sqlalchemy import insert, select
from sqlmodel import col

from storage.db import create_engine, session_factory
from storage.models import BotState, utcnow
from storage.state_store import EtagConflictError, SqlStorage


class Note(StoreItem):  # type: ignore[misc]
    def __init__(self, text: str = "", e_tag: str | None = None) -> None:
        super().__init__(e_tag=e_tag)
        self.text = text


@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[SqlStorage]:
    engine = create_engine(database_url)
    yield SqlStorage(session_factory(engine))
    await engine.dispose()


async def test_write_then_read_round_trips_dicts_and_objects(storage: SqlStorage) -> None:
    await storage.write({"a": {"count": 1, "nested": {"x": [1, 2]}}, "b": Note("bonjour")})
    items = await storage.read(["a", "b", "missing"])
    assert set(items) == {"a", "b"}
    assert items["a"]["count"] == 1
    assert items["a"]["nested"] == {"x": [1, 2]}
    assert isinstance(items["b"], Note)
    assert items["b"].text == "bonjour"
    assert items["a"]["e_tag"]
    assert items["b"].e_tag


async def test_reading_and_deleting_missing_keys_is_not_an_error(storage: SqlStorage) -> None:
    assert await storage.read(["nope"]) == {}
    assert await storage.read([]) == {}
    await storage.delete(["nope"])


async def test_each_write_changes_the_etag(storage: SqlStorage) -> None:
    await storage.write({"k": {"v": 1}})
    first = (await storage.read(["k"]))["k"]
    await storage.write({"k": first | {"v": 2}})
    second = (await storage.read(["k"]))["k"]
    assert second["v"] == 2
    assert second["e_tag"] != first["e_tag"]


async def test_stale_etag_conflicts_and_writes_nothing(storage: SqlStorage) -> None:
    await storage.write({"k": {"v": 1}})
    stale = (await storage.read(["k"]))["k"]
    await storage.write({"k": stale | {"v": 2}})
    with pytest.raises(KeyError):
        await storage.write({"k": stale | {"v": 3}})
    assert (await storage.read(["k"]))["k"]["v"] == 2


async def test_star_etag_overwrites(storage: SqlStorage) -> None:
    await storage.write({"k": {"v": 1}})
    await storage.write({"k": {"v": 2, "e_tag": "*"}})
    assert (await storage.read(["k"]))["k"]["v"] == 2


async def test_no_etag_overwrites(storage: SqlStorage) -> None:
    await storage.write({"k": {"v": 1}})
    await storage.write({"k": {"v": 2}})
    assert (await storage.read(["k"]))["k"]["v"] == 2


async def test_object_items_follow_the_same_rules(storage: SqlStorage) -> None:
    await storage.write({"n": Note("one")})
    stale = (await storage.read(["n"]))["n"]
    await storage.write({"n": Note("two", e_tag=stale.e_tag)})
    with pytest.raises(KeyError):
        await storage.write({"n": Note("three", e_tag=stale.e_tag)})
    assert (await storage.read(["n"]))["n"].text == "two"


async def test_empty_etag_is_refused(storage: SqlStorage) -> None:
    with pytest.raises(ValueError, match="etag"):
        await storage.write({"k": {"v": 1, "e_tag": ""}})


async def test_delete_removes(storage: SqlStorage) -> None:
    await storage.write({"a": {"v": 1}, "b": {"v": 2}})
    await storage.delete(["a"])
    assert set(await storage.read(["a", "b"])) == {"b"}


async def test_keys_longer_than_the_column_are_kept_apart(storage: SqlStorage) -> None:
    """Two keys alike in their first 512 characters are two items, with the usual etag rules."""
    head = "msteams/conversations/" + "c" * 600
    first, second = f"{head}/users/1", f"{head}/users/2"
    await storage.write({first: {"v": 1}, second: {"v": 2}})
    items = await storage.read([first, second])
    assert (items[first]["v"], items[second]["v"]) == (1, 2)
    await storage.write({first: items[first] | {"v": 3}})
    with pytest.raises(KeyError):
        await storage.write({first: items[first] | {"v": 4}})
    await storage.delete([first])
    assert list(await storage.read([first, second])) == [second]


async def test_state_written_by_jsonpickle_is_still_read(storage: SqlStorage) -> None:
    """Rows from before the pickle format (jsonpickle text) load, and are rewritten as pickle."""
    old = jsonpickle.encode({"note": Note("avant"), "count": 2}, keys=True)
    row = {"key": "k", "data": old, "etag": "e1", "updated_at": utcnow()}
    async with storage._sessions() as session, session.begin():
        await session.execute(insert(BotState).values(**row))
    item = (await storage.read(["k"]))["k"]
    assert (item["note"].text, item["count"], item["e_tag"]) == ("avant", 2, "e1")
    await storage.write({"k": item | {"count": 3}})
    assert (await storage.read(["k"]))["k"]["count"] == 3
    async with storage._sessions() as session:
        stored = await session.execute(select(col(BotState.data)).where(col(BotState.key) == "k"))
    assert str(stored.scalar()).startswith("pickle5:")


async def test_two_concurrent_writers_with_the_same_etag_exactly_one_wins(
    storage: SqlStorage,
) -> None:
    await storage.write({"k": {"v": 0}})
    seen = (await storage.read(["k"]))["k"]

    async def writer(n: int) -> bool:
        try:
            await storage.write({"k": seen | {"v": n}})
        except EtagConflictError:
            return False
        return True

    for _round in range(5):
        results = await asyncio.gather(*(writer(n) for n in range(1, 9)))
        assert sum(results) == 1
        winner = results.index(True) + 1
        assert (await storage.read(["k"]))["k"]["v"] == winner
        seen = (await storage.read(["k"]))["k"]


async def test_concurrent_first_writes_with_an_etag_exactly_one_wins(storage: SqlStorage) -> None:
    async def writer(n: int) -> bool:
        try:
            await storage.write({"fresh": {"v": n, "e_tag": "client-guess"}})
        except EtagConflictError:
            return False
        return True

    results = await asyncio.gather(*(writer(n) for n in range(6)))
    # A new key with an etag is written like MemoryStorage does; once it exists, the guessed
    # etag no longer matches, so every later writer conflicts.
    assert sum(results) == 1


async def test_same_behaviour_as_memory_storage_on_a_scripted_sequence(
    storage: SqlStorage,
) -> None:
    memory = MemoryStorage()
    outcomes: dict[str, list[str]] = {"sql": [], "memory": []}
    for name, store in (("sql", storage), ("memory", memory)):
        await store.write({"k": {"v": 1, "e_tag": "initial"}})
        first = dict((await store.read(["k"]))["k"])
        for attempt in (first | {"v": 2}, first | {"v": 3}, {"v": 4, "e_tag": "*"}, {"v": 5}):
            try:
                await store.write({"k": attempt})
                outcomes[name].append("ok")
            except KeyError:
                outcomes[name].append("conflict")
        outcomes[name].append(str((await store.read(["k"]))["k"]["v"]))
    assert outcomes["sql"] == outcomes["memory"] == ["ok", "conflict", "ok", "ok", "5"]
