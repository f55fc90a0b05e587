"""The Agents SDK's `Storage` backed by the `bot_state` table, and the bot's private
conversation state on it.

Same etag rules as botbuilder's MemoryStorage had (the Agents SDK's has none), so dialogs
behave the same on one replica or many:
- every stored item gets a fresh etag on each write, returned as ``e_tag`` on read;
- a write whose ``e_tag`` is set, not ``"*"``, and differs from the stored one raises KeyError
  (conflict) and writes nothing; ``"*"`` or no etag overwrites;
- reading or deleting missing keys is not an error.

The check and the write are one conditional UPDATE (``WHERE etag = :expected``), so of two
concurrent writers holding the same etag exactly one succeeds, on SQLite and PostgreSQL alike.
Dialog state holds SDK objects (DialogState, DialogInstance, Activity): it is stored as tagged
JSON (storage/state_codec.py), which rebuilds only allowed classes. Earlier rows, pickle
(`pickle5:`) or jsonpickle, which would run whatever code a forged row names, are read by a
restricted reader into today's classes and rewritten as JSON at the turn's save. A row that
cannot be read (forged, or a class since removed) is logged and read as empty state.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from microsoft_agents.hosting.core import Storage, StoreItem, TurnContext
from microsoft_agents.hosting.core.state.agent_state import AgentState, CachedAgentState
from microsoft_agents.hosting.core.state.state_property_accessor import StatePropertyAccessor
from sqlalchemy import CursorResult, Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from storage.db import SessionFactory, engine_of
from storage.models import BotState, utcnow
from storage.sql import Executor, upsert
from storage.state_codec import StateCodecError, decode_stored, encode

logger = logging.getLogger(__name__)

StoreItemT = TypeVar("StoreItemT", bound=StoreItem)

# The SDK's storage contract has no size limit; ours refuses absurd state (a runaway loop
# appending to dialog state) rather than filling the database.
MAX_STATE_BYTES = 512_000


# bot_state.key's length. State keys join channel, conversation and user ids, which can
# add up to more; a longer key is stored as its head and a hash of the whole (still unique).
MAX_KEY_LENGTH = 512
_KEY_HEAD = MAX_KEY_LENGTH - 72


def stored_key(key: str) -> str:
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"{key[:_KEY_HEAD]}#sha256:{hashlib.sha256(key.encode()).hexdigest()}"


class EtagConflictError(KeyError):
    """The stored item changed since it was read (another turn or replica wrote it)."""


def _etag_of(value: Mapping[str, Any]) -> str | None:
    etag = value.get("e_tag")
    return None if etag is None else str(etag)


# A stored item as read: its stored text (see encode_state) and its etag.
Stored = tuple[str, str]
BOT_STATE: Table = BotState.__table__  # type: ignore[attr-defined]


def encode_state(value: Mapping[str, Any]) -> str:
    """The stored text of an item, its etag left out (the etag belongs to the row)."""
    return encode({k: v for k, v in value.items() if k != "e_tag"})


def decode_state(stored: Stored) -> dict[str, Any]:
    """An item as stored, its etag as ``e_tag``; StateCodecError if it cannot be rebuilt."""
    data, etag = stored
    value, _legacy = decode_stored(data)
    if not isinstance(value, dict):
        raise StateCodecError("stored state is not a mapping")
    value["e_tag"] = etag
    return value


_READ = select(col(BotState.key), col(BotState.data), col(BotState.etag)).where(
    col(BotState.key).in_(bindparam("keys", expanding=True))
)


async def read_encoded_in(session: Executor, keys: Sequence[str]) -> dict[str, Stored]:
    """Items as stored, read within the caller's transaction (the turn's first one)."""
    if not keys:
        return {}
    asked = {stored_key(key): key for key in keys}
    rows = (await session.execute(_READ, {"keys": list(asked)})).all()
    return {asked[key]: (data, etag) for key, data, etag in rows}


# Built once (see storage/sql.py): the etag check and the write in one conditional UPDATE.
_UPDATE_IF_ETAG = (
    update(BotState)
    .where(col(BotState.key) == bindparam("k"), col(BotState.etag) == bindparam("expected"))
    .values(data=bindparam("data"), etag=bindparam("etag"), updated_at=bindparam("now"))
)


@dataclass(frozen=True, slots=True)
class PendingState:
    """A state row to write: its stored key, encoded data, the etag it must still have
    (None or "*": any) and the one it gets."""

    key: str
    data: str
    expected: str | None
    etag: str


class SqlStorage(Storage):
    def __init__(self, sessions: SessionFactory) -> None:
        super().__init__()
        self._sessions = sessions
        # A write is one statement: in autocommit it needs no BEGIN and COMMIT round trips,
        # and stays atomic (one statement is its own transaction).
        self._autocommit = engine_of(sessions).execution_options(isolation_level="AUTOCOMMIT")

    async def read(  # target_cls optional: plain dicts without it
        self,
        keys: Sequence[str],
        *,
        target_cls: type[StoreItemT] | None = None,
        **_kwargs: Any,
    ) -> dict[str, Any]:
        """Items by key (missing ones left out): dicts with their ``e_tag``, or built by
        `target_cls.from_json_to_store_item` from such a dict. An unreadable row is logged
        and left out, as if missing."""
        if not keys:
            return {}
        found: dict[str, Any] = {}
        for key, item in (await self.read_encoded(keys)).items():
            try:
                value = decode_state(item)
            except StateCodecError:
                logger.warning("unreadable bot state row, ignored", exc_info=True)
                continue
            found[key] = value if target_cls is None else target_cls.from_json_to_store_item(value)
        return found

    async def write(self, changes: Mapping[str, StoreItem | Mapping[str, Any]]) -> None:
        """Store each item (a StoreItem, by its `store_item_to_json`, or a dict); its
        ``e_tag`` follows the rules above."""
        if changes is None:
            raise TypeError("changes are required when writing")
        for key, value in changes.items():
            await self._write_one(key, value)

    async def _write_one(self, key: str, value: StoreItem | Mapping[str, Any]) -> None:
        item = value.store_item_to_json() if isinstance(value, StoreItem) else value
        expected = _etag_of(item)
        if expected == "":
            raise ValueError("SqlStorage.write(): empty etag")
        await self.write_encoded(key, encode_state(item), expected=expected)

    async def read_encoded(self, keys: Sequence[str]) -> dict[str, Stored]:
        async with self._sessions() as session:
            return await read_encoded_in(session, keys)

    async def write_encoded(self, original_key: str, data: str, *, expected: str | None) -> str:
        """Store `data` (from `encode_state`) under the etag rules above; the new etag."""
        if len(data) > MAX_STATE_BYTES:
            raise ValueError(f"state for one key exceeds {MAX_STATE_BYTES} bytes")
        key = stored_key(original_key)
        new_etag = uuid.uuid4().hex
        now = utcnow()
        values = {"key": key, "data": data, "etag": new_etag, "updated_at": now}
        if expected is None or expected == "*":
            # Overwrite whatever is there: one INSERT … ON CONFLICT DO UPDATE.
            async with self._autocommit.connect() as connection:
                await upsert(
                    connection,
                    BOT_STATE,
                    values,
                    conflict=["key"],
                    update=["data", "etag", "updated_at"],
                )
            return new_etag
        async with self._autocommit.connect() as connection:
            result: CursorResult[tuple[()]] = await connection.execute(
                _UPDATE_IF_ETAG,
                {"k": key, "expected": expected, "data": data, "etag": new_etag, "now": now},
            )
        if result.rowcount:
            return new_etag
        async with self._sessions() as session, session.begin():
            # Nothing updated: either the key is gone (MemoryStorage then writes), or its etag
            # moved on.
            exists = (
                await session.execute(select(col(BotState.key)).where(col(BotState.key) == key))
            ).first()
            if exists is not None:
                raise EtagConflictError(f"etag conflict on state key (expected {expected})")
        try:
            async with self._sessions() as session, session.begin():
                await session.execute(insert(BotState).values(**values))
        except IntegrityError as error:  # a concurrent first write of the same key won
            raise EtagConflictError("etag conflict on new state key") from error
        return new_etag

    async def delete(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(BotState).where(col(BotState.key).in_([stored_key(k) for k in keys]))
            )


class TurnStateCache(CachedAgentState):
    """One turn's private state, kept in `turn_context.turn_state` (never on the shared state
    object, which concurrent turns use). Its "hash" is the stored text: the state is decoded
    once when read and encoded once when saved, and saved only if that text changed."""

    def __init__(self, state: dict[str, Any], encoded: str) -> None:
        self.state: dict[str, Any] = state
        self.hash: str = encoded

    def compute_hash(self) -> str:
        return encode_state(self.state)

    def store_item_to_json(self) -> dict[str, Any]:
        return self.state

    @staticmethod
    def from_json_to_store_item(json_data: MutableMapping[str, Any]) -> TurnStateCache:
        return TurnStateCache(dict(json_data), "")


def forget_turn_state(turn_context: TurnContext) -> None:
    """Drop this turn's cached state (every AgentState's), so that saving at the end of the
    turn writes nothing back."""
    for key, value in list(turn_context.turn_state.items()):
        if isinstance(value, CachedAgentState):
            del turn_context.turn_state[key]


class _TurnProperty(StatePropertyAccessor):
    """A property of the private state, read from and written to the turn's own cache."""

    def __init__(self, state: SqlPrivateConversationState, name: str) -> None:
        self._state = state
        self.name = name

    async def get(
        self,
        turn_context: TurnContext,
        default_value_or_factory: Callable[[], Any] | Any = None,
        *,
        target_cls: type[StoreItem] | None = None,
    ) -> Any:
        cached = await self._state.cache(turn_context)
        if self.name in cached.state:
            return cached.state[self.name]
        if default_value_or_factory is None:
            return None
        default = (
            default_value_or_factory()
            if callable(default_value_or_factory)
            else default_value_or_factory
        )
        cached.state[self.name] = default  # changes to it are then saved
        return default

    async def set(self, turn_context: TurnContext, value: Any) -> None:
        (await self._state.cache(turn_context)).state[self.name] = value

    async def delete(self, turn_context: TurnContext) -> None:
        (await self._state.cache(turn_context)).state.pop(self.name, None)


class SqlPrivateConversationState(AgentState):
    """State per person and conversation on SqlStorage (botbuilder's PrivateConversationState
    key, so rows stored before are found), reading and writing stored text directly; primed
    with what the turn's first statement read. Safe to share across concurrent turns: all it
    holds per turn is in `turn_context.turn_state`."""

    def __init__(self, storage: SqlStorage) -> None:
        super().__init__(storage, "SqlPrivateConversationState")
        self._sql = storage

    def get_storage_key(
        self, turn_context: TurnContext, *, target_cls: type[StoreItem] | None = None
    ) -> str:
        """`channel/conversations/conversation/users/user/`, as botbuilder built it (its
        empty namespace left the trailing slash); TypeError without one of the three."""
        activity = turn_context.activity
        channel_id = activity.channel_id if activity is not None else None
        conversation = activity.conversation if activity is not None else None
        sender = activity.from_property if activity is not None else None
        if not channel_id or conversation is None or not conversation.id:
            raise TypeError("private state needs a channel and a conversation id")
        if sender is None or not sender.id:
            raise TypeError("private state needs a sender id")
        return f"{channel_id}/conversations/{conversation.id}/users/{sender.id}/"

    def prime(self, turn_context: TurnContext, stored: Stored | None) -> None:
        """Cache this turn's state from what was read (None: no row)."""
        if stored is None:
            state: dict[str, Any] = {}
            encoded = encode_state(state)
        else:
            data, etag = stored
            try:
                value, _legacy = decode_stored(data)
                if not isinstance(value, dict):
                    raise StateCodecError("stored state is not a mapping")
                state = value
            except StateCodecError:
                # Never fail the turn on it: the person starts afresh, and the row is
                # replaced at the save (its text differs from any state's).
                logger.warning("unreadable private state, read as empty", exc_info=True)
                state = {}
            # Rows written before this codec differ from their new text: rewritten at the save.
            encoded = data
            state["e_tag"] = etag
        turn_context.turn_state[self._context_service_key] = TurnStateCache(state, encoded)

    def get_cached_state(  # type: ignore[override]  # the SDK's says never None, yet is
        self, turn_context: TurnContext | None = None
    ) -> TurnStateCache | None:
        if turn_context is None:
            raise TypeError("the private state is per turn: pass the turn context")
        cached = turn_context.turn_state.get(self._context_service_key)
        return cached if isinstance(cached, TurnStateCache) else None

    async def cache(self, turn_context: TurnContext) -> TurnStateCache:
        """This turn's cached state, read first if not yet."""
        cached = self.get_cached_state(turn_context)
        if cached is None:
            await self.load(turn_context)
            cached = self.get_cached_state(turn_context)
            assert cached is not None
        return cached

    def create_property(self, name: str) -> StatePropertyAccessor:
        if not name or not name.strip():
            raise ValueError("a state property needs a name")
        return _TurnProperty(self, name)

    def get(self, turn_context: TurnContext | None = None) -> dict[str, Any]:
        cached = self.get_cached_state(turn_context)
        return {} if cached is None else cached.state

    async def load(self, turn_context: TurnContext, force: bool = False) -> None:
        # Unlike the SDK's, an empty state read this turn is not read again at each access.
        if force or self.get_cached_state(turn_context) is None:
            key = self.get_storage_key(turn_context)
            self.prime(turn_context, (await self._sql.read_encoded([key])).get(key))

    async def save(self, turn_context: TurnContext, force: bool = False) -> None:
        cached = self.get_cached_state(turn_context)
        if cached is None:
            return
        encoded = encode_state(cached.state)
        if not force and encoded == cached.hash:
            return
        etag = await self._sql.write_encoded(
            self.get_storage_key(turn_context), encoded, expected=_etag_of(cached.state)
        )
        # A second save in the same turn then holds the current etag, not a conflicting one.
        cached.state["e_tag"] = etag
        cached.hash = encoded

    def pending(self, turn_context: TurnContext) -> PendingState | None:
        """What `save` would write now, for a caller that writes it itself (the turn's last
        statement, bot/handler.py); None when nothing changed. Once written, `saved`."""
        cached = self.get_cached_state(turn_context)
        if cached is None:
            return None
        encoded = encode_state(cached.state)
        if encoded == cached.hash:
            return None
        if len(encoded) > MAX_STATE_BYTES:
            raise ValueError(f"state for one key exceeds {MAX_STATE_BYTES} bytes")
        return PendingState(
            key=stored_key(self.get_storage_key(turn_context)),
            data=encoded,
            expected=_etag_of(cached.state),
            etag=uuid.uuid4().hex,
        )

    def saved(self, turn_context: TurnContext, pending: PendingState) -> None:
        cached = self.get_cached_state(turn_context)
        if cached is not None:
            cached.state["e_tag"] = pending.etag
            cached.hash = pending.data

    async def save_changes(self, turn_context: TurnContext, force: bool = False) -> None:
        """botbuilder's name for `save`."""
        await self.save(turn_context, force)

    def clear(self, turn_context: TurnContext | None = None) -> None:
        cached = self.get_cached_state(turn_context)
        if cached is not None:
            etag = cached.state.get("e_tag")
            cached.state = {} if etag is None else {"e_tag": etag}

    async def delete(self, turn_context: TurnContext) -> None:
        turn_context.turn_state.pop(self._context_service_key, None)
        await self._sql.delete([self.get_storage_key(turn_context)])

    # The SDK's per-instance accessors would read another turn's state: use properties.
    def get_value(
        self,
        property_name: str,
        default_value_factory: Callable[[], StoreItem] | None = None,
        *,
        target_cls: type[StoreItem] | None = None,
    ) -> StoreItem:
        raise TypeError("use create_property(name).get(turn_context)")

    def set_value(self, property_name: str, value: StoreItem) -> None:
        raise TypeError("use create_property(name).set(turn_context, value)")

    def delete_value(self, property_name: str) -> None:
        raise TypeError("use create_property(name).delete(turn_context)")
