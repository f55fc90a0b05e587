"""SqlStorage keeps botbuilder's MemoryStorage etag rules, on SQLite and PostgreSQL; the private
state stores JSON, refuses forged rows, and keeps concurrent turns apart."""

from __future__ import annotations

import asyncio
import base64
import json
import pickle
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from microsoft_agents.hosting.core import StoreItem, TurnContext
from sqlalchemy import insert, select
from sqlmodel import col

from storage.db import create_engine, session_factory
from storage.models import BotState, utcnow
from storage.state_store import EtagConflictError, SqlPrivateConversationState, SqlStorage
from tests.support import ChatAdapter


class Note(StoreItem):
    def __init__(self, text: str = "", e_tag: str | None = None) -> None:
        self.text = text
        self.e_tag = e_tag

    def store_item_to_json(self) -> MutableMapping[str, Any]:
        return {"text": self.text, "e_tag": self.e_tag}

    @staticmethod
    def from_json_to_store_item(json_data: MutableMapping[str, Any]) -> Note:
        return Note(json_data["text"], json_data.get("e_tag"))


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
    assert items["a"]["e_tag"]
    note = (await storage.read(["b"], target_cls=Note))["b"]
    assert isinstance(note, Note)
    assert note.text == "bonjour"
    assert note.e_tag


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
    stale = (await storage.read(["n"], target_cls=Note))["n"]
    await storage.write({"n": Note("two", e_tag=stale.e_tag)})
    with pytest.raises(KeyError):
        await storage.write({"n": Note("three", e_tag=stale.e_tag)})
    assert (await storage.read(["n"], target_cls=Note))["n"].text == "two"


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
    """Rows from before (jsonpickle text) load, and are rewritten as JSON."""
    old = json.dumps({"count": 2, "when": {"py/tuple": [1, 2]}, "json://3": "trois"})
    row = {"key": "k", "data": old, "etag": "e1", "updated_at": utcnow()}
    async with storage._sessions() as session, session.begin():
        await session.execute(insert(BotState).values(**row))
    item = (await storage.read(["k"]))["k"]
    assert (item["count"], item["when"], item[3], item["e_tag"]) == (2, (1, 2), "trois", "e1")
    await storage.write({"k": item | {"count": 3}})
    assert (await storage.read(["k"]))["k"]["count"] == 3
    async with storage._sessions() as session:
        stored = await session.execute(select(col(BotState.data)).where(col(BotState.key) == "k"))
    text = str(stored.scalar())
    assert not text.startswith("pickle5:")
    assert "py/" not in text
    assert json.loads(text)["$t"] == "dict"  # a key that is not text (3) kept as such


async def test_text_that_looks_like_jsonpickle_reads_back_as_written(storage: SqlStorage) -> None:
    # Rows of today's format are told from jsonpickle's without walking them unless they hold
    # `"py/`: an answer quoting it, and a key starting with it, still read back as written.
    typed = {
        "answer": 'voir {"py/object": "os.system"}',
        "py/reduce": ["os.system", "touch /tmp/x"],
        "keys": {("py/tuple", 1): "a tuple key"},
    }
    await storage.write({"a": typed})
    read = (await storage.read(["a"]))["a"]
    read.pop("e_tag")
    assert read == typed


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


async def test_same_behaviour_as_botbuilder_memory_storage_on_a_scripted_sequence(
    storage: SqlStorage,
) -> None:
    """What botbuilder's MemoryStorage did on this sequence (the Agents SDK's has no etags)."""
    outcomes: list[str] = []
    await storage.write({"k": {"v": 1, "e_tag": "initial"}})
    first = dict((await storage.read(["k"]))["k"])
    for attempt in (first | {"v": 2}, first | {"v": 3}, {"v": 4, "e_tag": "*"}, {"v": 5}):
        try:
            await storage.write({"k": attempt})
            outcomes.append("ok")
        except KeyError:
            outcomes.append("conflict")
    outcomes.append(str((await storage.read(["k"]))["k"]["v"]))
    assert outcomes == ["ok", "conflict", "ok", "ok", "5"]


# -- the private conversation state ------------------------------------------------------------


def turn(adapter: ChatAdapter, user: str, conversation: str = "a:personal") -> TurnContext:
    activity = Activity(
        type=ActivityTypes.message,
        channel_id="msteams",
        conversation=ConversationAccount(id=conversation),
        from_property=ChannelAccount(id=user),
        text="bonjour",
    )
    return TurnContext(adapter, activity)


async def _insert(storage: SqlStorage, key: str, data: str) -> None:
    async with storage._sessions() as session, session.begin():
        await session.execute(
            insert(BotState).values(key=key, data=data, etag="e1", updated_at=utcnow())
        )


class _Boom:
    """Unpickling it would run os.system (what a forged pickle row does)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.system, (f"touch {self.path}",))


async def test_a_row_naming_a_forbidden_class_is_refused_and_not_run(
    storage: SqlStorage, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    forged = {
        "json-tag": json.dumps({"LastForm": {"$t": "object", "c": "os:system", "v": {}}}),
        "json-reexport": json.dumps(
            {"x": {"$t": "object", "c": "dialogs.base:WaterfallStepContext", "v": {}}}
        ),
        "unknown-tag": json.dumps({"x": {"$t": "eval", "v": "1"}}),
        "pickle": "pickle5:"
        + base64.b64encode(pickle.dumps({"LastForm": _Boom(marker)}, protocol=5)).decode(),
        "jsonpickle": json.dumps(
            {"x": {"py/reduce": [{"py/function": "os.system"}, {"py/tuple": [f"touch {marker}"]}]}}
        ),
    }
    state = SqlPrivateConversationState(storage)
    adapter = ChatAdapter()
    # Twice each: the codec remembers the classes it resolved, never one it refused.
    for n, (name, data) in enumerate([*forged.items(), *forged.items()]):
        context = turn(adapter, f"29:user-{n}")
        key = state.get_storage_key(context)
        await _insert(storage, key, data)
        assert await storage.read([key]) == {}, name  # an unreadable item reads as missing
        form = state.create_property("LastForm")
        assert await form.get(context) is None, name  # the turn goes on, afresh
        await form.set(context, "join_dialog")
        await state.save(context)
        assert (await storage.read([key]))[key]["LastForm"] == "join_dialog", name
    assert not marker.exists()


async def test_two_concurrent_turns_each_save_their_own_state_under_their_own_key(
    storage: SqlStorage,
) -> None:
    state = SqlPrivateConversationState(storage)  # one object, shared as the bot shares it
    form = state.create_property("LastForm")
    adapter = ChatAdapter()
    both = asyncio.Barrier(2)

    async def one_turn(user: str, value: str) -> None:
        context = turn(adapter, user, conversation="19:channel@thread.tacv2")
        await form.set(context, value)
        await both.wait()  # both loaded and changed before either saves
        await state.save(context)

    await asyncio.gather(one_turn("29:lea", "join_dialog"), one_turn("29:marc", "survey_dialog"))
    lea = "msteams/conversations/19:channel@thread.tacv2/users/29:lea/"
    marc = "msteams/conversations/19:channel@thread.tacv2/users/29:marc/"
    items = await storage.read([lea, marc])
    assert (items[lea]["LastForm"], items[marc]["LastForm"]) == ("join_dialog", "survey_dialog")


async def test_an_unchanged_state_is_not_written_again(storage: SqlStorage) -> None:
    state = SqlPrivateConversationState(storage)
    adapter = ChatAdapter()
    first = turn(adapter, "29:lea")
    await state.create_property("LastForm").set(first, "join_dialog")
    await state.save(first)
    key = state.get_storage_key(first)
    etag = (await storage.read([key]))[key]["e_tag"]
    second = turn(adapter, "29:lea")
    assert await state.create_property("LastForm").get(second) == "join_dialog"
    await state.save(second)
    assert (await storage.read([key]))[key]["e_tag"] == etag
