"""Onboarding newcomers: a plan of steps over their first weeks, delivered by the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox
from storage.models import Community, OnboardingEnrollment, utcnow
from storage.sql import insert_or_lock

STEPS = ("welcome", "meetings", "mentor_offer", "topics", "checkin")
KIND_STEP = "onboarding_step"  # one step of the plan: params {"community_id", "step"}
MAX_DAY = 365


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    day: int
    enabled: bool = True


# DOMAIN.md, "Onboarding newcomers": welcome and one-pager, how meetings run, a mentor, the
# topic bank, then a check-in a month in.
DEFAULT_PLAN: tuple[Step, ...] = (
    Step("welcome", 0),
    Step("meetings", 2),
    Step("mentor_offer", 7),
    Step("topics", 14),
    Step("checkin", 30),
)


def plan_of(community: Community) -> list[Step]:
    stored = community.settings.get("onboarding_plan")
    if not isinstance(stored, list):
        return list(DEFAULT_PLAN)
    by_key = {step.key: step for step in DEFAULT_PLAN}
    for item in stored:
        if isinstance(item, dict) and item.get("key") in by_key:
            by_key[str(item["key"])] = Step(
                str(item["key"]), int(item.get("day", 0)), bool(item.get("enabled", True))
            )
    return sorted(by_key.values(), key=lambda s: (s.day, STEPS.index(s.key)))


def validate_plan(steps: list[Step]) -> None:
    if {s.key for s in steps} != set(STEPS):
        raise ValueError("the plan must list every step once")
    for step in steps:
        if not 0 <= step.day <= MAX_DAY:
            raise ValueError(f"day out of range for {step.key}: {step.day}")


async def set_plan(session: AsyncSession, *, community: Community, steps: list[Step]) -> None:
    """Change the plan; it applies to the steps not yet sent (they are read at send time)."""
    validate_plan(steps)
    settings: dict[str, Any] = dict(community.settings)
    settings["onboarding_plan"] = [
        {"key": s.key, "day": s.day, "enabled": s.enabled} for s in steps
    ]
    community.settings = settings  # a new dict, so SQLAlchemy sees the change
    session.add(community)
    await session.flush()


def steps_prefix(community_id: int, person_id: int) -> str:
    """The outbox keys of one person's plan in one community (stopping cancels them)."""
    return f"onboarding:{community_id}:{person_id}:"


def step_key(community_id: int, person_id: int, step: str) -> str:
    return f"{steps_prefix(community_id, person_id)}{step}"


def checkin_notice_key(community_id: int, person_id: int | None, animator_id: int | None) -> str:
    """An animator told of a newcomer's check-in answer (a notice). Not under `steps_prefix`:
    the newcomer leaving must not withdraw what the animator was told."""
    return f"onboarding:checkin:{community_id}:{person_id}:to:{animator_id}"


async def enrollment(
    session: AsyncSession, *, community_id: int, person_id: int
) -> OnboardingEnrollment | None:
    return (
        await session.exec(
            select(OnboardingEnrollment)
            .where(OnboardingEnrollment.community_id == community_id)
            .where(OnboardingEnrollment.person_id == person_id)
        )
    ).first()


async def start(
    session: AsyncSession,
    *,
    community: Community,
    person_id: int,
    source: str,
    now: datetime | None = None,
) -> bool:
    """Start the plan for a newcomer; False if they already follow (or followed) it.

    Every step is queued at once with its own not_before; the dedup keys make a second start
    (a team join then the join dialog, two replicas…) harmless."""
    now = now or utcnow()
    assert community.id is not None
    # Two starts at once (a double click on the join dialog's confirmation, a team join at the
    # same moment) make one enrollment, and only one of them says it started.
    enrolled, created = await insert_or_lock(
        session,
        OnboardingEnrollment,
        {"community_id": community.id, "person_id": person_id, "source": source, "started_at": now},
        key=["community_id", "person_id"],
    )
    if not created:
        if enrolled.stopped_at is None:
            return False
        # Back after leaving: steps already sent are not repeated (same keys).
        enrolled.stopped_at = None
        await session.flush()
    for step in plan_of(community):
        await outbox.enqueue(
            session,
            dedup_key=step_key(community.id, person_id, step.key),
            recipient=outbox.Recipient.person(person_id),
            kind=KIND_STEP,
            params={"community_id": community.id, "step": step.key},
            not_before=now + timedelta(days=step.day),
        )
    return True


async def stop(
    session: AsyncSession, *, community_id: int, person_id: int, now: datetime | None = None
) -> int:
    """Stop the plan (the person left): pending steps are cancelled. Returns how many."""
    row = await enrollment(session, community_id=community_id, person_id=person_id)
    if row is not None and row.stopped_at is None:
        row.stopped_at = now or utcnow()
    return await outbox.cancel_pending(
        session, dedup_key_prefix=steps_prefix(community_id, person_id)
    )


async def record_checkin(
    session: AsyncSession,
    *,
    community_id: int,
    person_id: int,
    rating: int,
    comment: str,
    now: datetime | None = None,
) -> OnboardingEnrollment:
    if not 1 <= rating <= 5:
        raise ValueError("rating must be 1 to 5")
    row = await enrollment(session, community_id=community_id, person_id=person_id)
    if row is None:
        raise LookupError("not enrolled")
    row.checkin_rating = rating
    row.checkin_comment = comment.strip()[:1000] or None
    row.checkin_at = now or utcnow()
    await session.flush()
    return row
