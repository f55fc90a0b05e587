"""botbuilder `Storage` backed by the `bot_state` table.

Same etag rules as botbuilder's MemoryStorage, so dialogs behave the same on one replica or
many:
- every stored item gets a fresh etag on each write, returned as ``e_tag`` on read;
- a write whose ``e_tag`` is set, not ``"*"``, and differs from the stored one raises KeyError
  (conflict) and writes nothing; ``"*"`` or no etag overwrites;
- reading or deleting missing keys is not an error.

The check and the write are one conditional UPDATE (``WHERE etag = :expected``), so of two
concurrent writers holding the same etag exactly one succeeds, on SQLite and PostgreSQL alike.
Values are serialized with jsonpickle, as botbuilder's own blob storage does, because dialog
state holds SDK objects (DialogState, DialogInstance) rather than plain JSON.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import jsonpickle
from botbuilder.core import Storage
from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from storage.db import SessionFactory
from storage.models import BotState, utcnow

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


class SqlStorage(Storage):  # type: ignore[misc]  # botbuilder is untyped
    def __init__(self, sessions: SessionFactory) -> None:
        super().__init__()
        self._sessions = sessions

    async def read(self, keys: Sequence[str]) -> dict[str, Any]:
        if not keys:
            return {}
        asked = {stored_key(key): key for key in keys}
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(col(BotState.key), col(BotState.data), col(BotState.etag)).where(
                        col(BotState.key).in_(list(asked))
                    )
                )
            ).all()
        result: dict[str, Any] = {}
        for key, data, etag in rows:
            result[asked[key]] = _with_etag(jsonpickle.decode(data, keys=True), etag)
        return result

    async def write(self, changes: Mapping[str, Any]) -> None:
        if changes is None:
            raise TypeError("changes are required when writing")
        for key, value in changes.items():
            await self._write_one(key, value)

    async def _write_one(self, original_key: str, value: Any) -> None:
        key = stored_key(original_key)
        expected = _etag_of(value)
        if expected == "":
            raise ValueError("SqlStorage.write(): empty etag")
        new_etag = uuid.uuid4().hex
        # The etag belongs to the row, not to the payload.
        payload_value = (
            {k: v for k, v in value.items() if k != "e_tag"} if isinstance(value, dict) else value
        )
        data = jsonpickle.encode(payload_value, keys=True)
        if len(data) > MAX_STATE_BYTES:
            raise ValueError(f"state for one key exceeds {MAX_STATE_BYTES} bytes")
        now = utcnow()
        async with self._sessions() as session, session.begin():
            statement = (
                update(BotState)
                .where(col(BotState.key) == key)
                .values(data=data, etag=new_etag, updated_at=now)
            )
            if expected is not None and expected != "*":
                statement = statement.where(col(BotState.etag) == expected)
            result: CursorResult[tuple[()]] = await session.execute(statement)  # type: ignore[assignment]
            updated = result.rowcount
            if updated:
                return
            # Nothing updated: either the key is new, or its etag moved on.
            exists = (
                await session.execute(select(col(BotState.key)).where(col(BotState.key) == key))
            ).first()
            if exists is not None:
                raise EtagConflictError(f"etag conflict on state key (expected {expected})")
        try:
            async with self._sessions() as session, session.begin():
                await session.execute(
                    insert(BotState).values(key=key, data=data, etag=new_etag, updated_at=now)
                )
        except IntegrityError as error:
            # A concurrent first write of the same key won the race.
            if expected is not None and expected != "*":
                raise EtagConflictError("etag conflict on new state key") from error
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(BotState)
                    .where(col(BotState.key) == key)
                    .values(data=data, etag=new_etag, updated_at=now)
                )

    async def delete(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(BotState).where(col(BotState.key).in_([stored_key(k) for k in keys]))
            )
