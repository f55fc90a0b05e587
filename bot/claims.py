"""Turn admission: each activity processed once, one person's turns in a conversation one at
a time, on one replica or several (storage/activities.py holds the claims and their rules).

In this process, a sender's turns queue on an asyncio lock first, so the common case (one
replica, a double click) never polls the database. The database then decides between
replicas: a turn whose activity or sender's turn is held by a live turn elsewhere polls until
it is free, within the turn's budget. A heartbeat renews the leases of turns that run long; a
turn that ends quickly never needs it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.settings import Settings
from storage import activities
from storage.activities import Admission
from storage.db import SessionFactory
from storage.models import utcnow

logger = logging.getLogger(__name__)

# How often a turn kept out by another replica's looks again: often at first (a double click's
# first turn takes tens of milliseconds), then less.
FIRST_PAUSE_S = 0.05
LONGEST_PAUSE_S = 0.25


@dataclass(frozen=True, slots=True)
class TurnKeys:
    """What a turn claims: its activity (None: an invoke, or no id) and its sender's turn in
    the conversation (None: no sender)."""

    activity: str | None
    turn: str | None


class NotAdmitted(Exception):
    """Raised inside the turn's first transaction so that it rolls back."""

    def __init__(self, admission: Admission) -> None:
        super().__init__(admission.value)
        self.admission = admission


class _Queue:
    """An asyncio lock shared by the turns waiting for it; forgotten when none is."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class TurnClaims:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: SessionFactory,
        clock: Callable[[], datetime] = utcnow,
        owner: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.lease = timedelta(seconds=settings.turn_lease_seconds)
        self.owner = owner or f"{socket.gethostname()[:40]}-{uuid.uuid4().hex[:12]}"
        self._queues: dict[str, _Queue] = {}
        self._running: set[str] = set()  # activities whose turn runs here
        # Activities claimed by turns running here → when their lease was last renewed.
        self._held: dict[str, float] = {}

    # -- in this process ---------------------------------------------------------------------

    @asynccontextmanager
    async def queued(self, keys: TurnKeys, deadline: float) -> AsyncIterator[bool]:
        """This process's turns of one sender in one conversation, one after the other; False
        when the turn ahead did not finish by `deadline` (time.monotonic())."""
        if keys.turn is None:
            yield True
            return
        queue = self._queues.setdefault(keys.turn, _Queue())
        queue.users += 1
        try:
            # Alone on the queue, the lock is free with nobody waiting: taken at once, no
            # timer armed. Not `lock.locked()`: between a release and the woken waiter's
            # taking it, the lock reads free but goes to that waiter first.
            if queue.users == 1:
                await queue.lock.acquire()
            else:
                try:
                    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                        await queue.lock.acquire()
                except TimeoutError:
                    yield False
                    return
            if keys.activity is not None:
                self._running.add(keys.activity)
            try:
                yield True
            finally:
                if keys.activity is not None:
                    self._running.discard(keys.activity)
                queue.lock.release()
        finally:
            queue.users -= 1
            if queue.users == 0:
                del self._queues[keys.turn]

    def running_here(self, activity: str | None) -> bool:
        """Whether a delivery of this activity is in a turn in this process."""
        return activity is not None and activity in self._running

    # -- in the database -----------------------------------------------------------------------

    async def admit(
        self, keys: TurnKeys, begin: Callable[[datetime], Awaitable[object]], deadline: float
    ) -> Admission:
        """Run the turn's first unit of work `begin(now)` (which raises NotAdmitted unless
        `activities.claim_turn` claimed the activity) until it is admitted, or finds a
        duplicate, or `deadline` passes (then what it last found)."""
        pause = FIRST_PAUSE_S
        while True:
            now = self._clock()
            try:
                await begin(now)
            except NotAdmitted as refused:
                if refused.admission is Admission.DONE:
                    return Admission.DONE
                if (
                    refused.admission is Admission.LOCKED
                    and keys.turn is not None
                    and await activities.free_expired_turn(self._sessions, turn=keys.turn, now=now)
                ):
                    continue  # the turn ahead belonged to a dead process: try again at once
                if time.monotonic() + pause > deadline:
                    return refused.admission
            else:
                if keys.activity is not None:
                    self._held[keys.activity] = time.monotonic()
                return Admission.TAKEN
            await asyncio.sleep(pause)
            pause = min(2 * pause, LONGEST_PAUSE_S)

    def claim_of(self, keys: TurnKeys) -> activities.Claim | None:
        """The claim this process holds on the turn's activity, if it holds one."""
        if keys.activity is None or keys.activity not in self._held:
            return None
        return activities.Claim(owner=self.owner, activity=keys.activity)

    async def finish(self, keys: TurnKeys, *, final_already: bool = False) -> None:
        """The turn's work is done: its claim final, its sender's turn free (`final_already`:
        the statement that saved the turn's state did it)."""
        if keys.activity is None or self._held.pop(keys.activity, None) is None:
            return
        if final_already:
            return
        try:
            await activities.finish(self._sessions, owner=self.owner, activity=keys.activity)
        except Exception:
            # The turn did its work and answered: no apology. Its lease lapses instead, and a
            # retry of it (there should be none) would be run again.
            logger.warning("could not mark a finished turn done", exc_info=True)

    async def give_back(self, keys: TurnKeys) -> None:
        """The turn's first unit of work failed after its claim was committed (reading the
        dialog state): forget the claim, as `release` does, before `admit` has counted it
        as held. A failure to do so is logged: the claim's lease then lapses."""
        if keys.activity is None:
            return
        try:
            await activities.release(self._sessions, owner=self.owner, activity=keys.activity)
        except Exception:
            logger.warning("could not give back the claim of a failed turn", exc_info=True)

    async def release(self, keys: TurnKeys) -> None:
        """The turn failed: Teams' retry of it may run, the sender's next turn too."""
        if keys.activity is None or self._held.pop(keys.activity, None) is None:
            return
        await activities.release(self._sessions, owner=self.owner, activity=keys.activity)

    # -- the heartbeat -------------------------------------------------------------------------

    @property
    def _period(self) -> float:
        return self.lease.total_seconds() / 3

    async def renew_due(self) -> int:
        """Renew the leases of turns admitted (or renewed) a third of a lease ago or more;
        how many turns that was."""
        started = time.monotonic()
        due = [key for key, renewed in self._held.items() if started - renewed >= self._period]
        if not due:
            return 0
        await activities.renew(
            self._sessions, owner=self.owner, activities=due, until=self._clock() + self.lease
        )
        for key in due:
            if key in self._held:  # not finished meanwhile
                self._held[key] = started
        return len(due)

    async def run(self) -> None:
        """The heartbeat, until cancelled."""
        while True:
            await asyncio.sleep(self._period / 2)
            try:
                await self.renew_due()
            except Exception:
                # The leases may lapse (another replica may then take these turns over); the
                # next beat tries again.
                logger.warning("could not renew the leases of running turns", exc_info=True)
