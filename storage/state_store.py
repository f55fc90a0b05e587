"""botbuilder `Storage` backed by the `bot_state` table.

Same etag rules as botbuilder's MemoryStorage, so dialogs behave the same on one replica or
many:
- every stored item gets a fresh etag on each write, returned as ``e_tag`` on read;
- a write whose ``e_tag`` is set, not ``"*"``, and differs from the stored one raises KeyError
  (conflict) and writes nothing; ``"*"`` or no etag overwrites;
- reading or deleting missing keys is not an error.

The check and the write are one conditional UPDATE (``WHERE etag = :expected``), so of two
concurrent writers holding the same etag exactly one succeeds, on SQLite and PostgreSQL alike.
Dialog state holds SDK objects (DialogState, DialogInstance, Activity) rather than plain JSON.
botbuilder's own blob storage uses jsonpickle; we store pickle (protocol 5, base64 text behind
a `pickle5:` prefix), twenty times faster to write and read (1.3 ms of a turn's CPU with
jsonpickle, bench/turns.py), and still read rows jsonpickle wrote. Neither format is safe to
load from an untrusted source: both rebuild arbitrary classes. The rows are ours alone (see
docs/decisions.md).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import pickle
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import jsonpickle
from botbuilder.core import PrivateConversationState, Storage, TurnContext
from botbuilder.core.bot_state import CachedBotState
from sqlalchemy import CursorResult, Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from storage.db import SessionFactory, engine_of
from storage.models import BotState, utcnow
from storage.sql import Executor, upsert

logger = logging.getLogger(__name__)

# botbuilder's storage contract has no size limit; ours refuses absurd state (a runaway loop
# appending to dialog state) rather than filling the database.
MAX_STATE_BYTES = 512_000


# bot_state.key's length. botbuilder's keys join channel, conversation and user ids, which can
# add up to more; a longer key is stored as its head and a hash of the whole (still unique).
MAX_KEY_LENGTH = 512
_KEY_HEAD = MAX_KEY_LENGTH - 72


def stored_key(key: str) -> str:
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"{key[:_KEY_HEAD]}#sha256:{hashlib.sha256(key.encode()).hexdigest()}"


class EtagConflictError(KeyError):
    """The stored item changed since it was read (another turn or replica wrote it)."""


def _etag_of(value: object) -> str | None:
    etag = value.get("e_tag") if isinstance(value, Mapping) else getattr(value, "e_tag", None)
    return None if etag is None else str(etag)


def _with_etag(value: Any, etag: str) -> Any:
    if isinstance(value, dict):
        value["e_tag"] = etag
    elif hasattr(value, "e_tag"):
        value.e_tag = etag
    return value


# A stored item as read: its stored text (see encode_state) and its etag.
Stored = tuple[str, str]
BOT_STATE: Table = BotState.__table__  # type: ignore[attr-defined]


_PICKLED = "pickle5:"


def encode_state(value: Any) -> str:
    """The stored text of an item, its etag left out (the etag belongs to the row)."""
    payload = {k: v for k, v in value.items() if k != "e_tag"} if isinstance(value, dict) else value
    return _PICKLED + base64.b64encode(pickle.dumps(payload, protocol=5)).decode("ascii")


def decode_state(stored: Stored) -> Any:
    data, etag = stored
    if data.startswith(_PICKLED):
        value = pickle.loads(base64.b64decode(data[len(_PICKLED) :]))  # only our own rows
    else:  # written by an earlier version, with jsonpickle
        value = jsonpickle.decode(data, keys=True)
    return _with_etag(value, etag)


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


class SqlStorage(Storage):  # type: ignore[misc]  # botbuilder is untyped
    def __init__(self, sessions: SessionFactory) -> None:
        super().__init__()
        self._sessions = sessions
        # A write is one statement: in autocommit it needs no BEGIN and COMMIT round trips,
        # and stays atomic (one statement is its own transaction).
        self._autocommit = engine_of(sessions).execution_options(isolation_level="AUTOCOMMIT")

    async def read(self, keys: Sequence[str]) -> dict[str, Any]:
        if not keys:
            return {}
        stored = await self.read_encoded(keys)
        return {key: decode_state(item) for key, item in stored.items()}

    async def write(self, changes: Mapping[str, Any]) -> None:
        if changes is None:
            raise TypeError("changes are required when writing")
        for key, value in changes.items():
            await self._write_one(key, value)

    async def _write_one(self, key: str, value: Any) -> None:
        expected = _etag_of(value)
        if expected == "":
            raise ValueError("SqlStorage.write(): empty etag")
        await self.write_encoded(key, encode_state(value), expected=expected)

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


class _EncodedCache(CachedBotState):  # type: ignore[misc]  # botbuilder is untyped
    """A turn's cached state whose "hash" is its stored text: botbuilder's own hashes the state
    with jsonpickle at load, at each change check and after saving, then the storage encodes
    it again; this way a turn decodes once and encodes once."""

    def __init__(self, state: dict[str, Any], encoded: str) -> None:
        self.state = state
        self.hash = encoded

    def compute_hash(self, obj: object) -> str:
        return encode_state(obj)


class SqlPrivateConversationState(PrivateConversationState):  # type: ignore[misc]
    """PrivateConversationState on SqlStorage that reads and writes stored text directly, and
    can be primed with what the turn's first transaction already read."""

    def __init__(self, storage: SqlStorage) -> None:
        super().__init__(storage)
        self._sql = storage

    def prime(self, turn_context: TurnContext, stored: Stored | None) -> None:
        if stored is None:
            state: dict[str, Any] = {}
            encoded = encode_state(state)
        else:
            state = decode_state(stored)
            # jsonpickle gives back the same text for what it decoded; were it ever not to,
            # the state would only be written once more than needed.
            encoded = stored[0]
        turn_context.turn_state[self._context_service_key] = _EncodedCache(state, encoded)

    async def load(self, turn_context: TurnContext, force: bool = False) -> None:
        # Unlike botbuilder's, an empty state read this turn is not read again at each access.
        if force or self.get_cached_state(turn_context) is None:
            key = self.get_storage_key(turn_context)
            self.prime(turn_context, (await self._sql.read_encoded([key])).get(key))

    async def save_changes(self, turn_context: TurnContext, force: bool = False) -> None:
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
