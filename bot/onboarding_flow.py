"""Onboarding in the bot: the facilitators' plan view (`plan d'accueil` / `onboarding plan`)
with each newcomer's progress, the form for a step's own text, links and checklist, the
newcomer's ticks, and the step messages themselves (the outbox renderer).

No routing here: bot/features/onboarding.py sends the command and the `onboarding.*` verbs to
these functions. Every rule is checked again in storage/onboarding.py (who may edit, which
item may be ticked); card data only says which community, step or item is meant.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from microsoft_agents.activity import Activity

from bot.deliveries import RenderContext
from bot.turns import FeatureTurn, VerbHandler, as_int, card_activity, param_int
from cards.common import Element
from cards.onboarding import (
    VERB_CHECK,
    VERB_CONTENT_EDIT,
    VERB_CONTENT_SAVE,
    build_content_card,
    build_onboarding_step_card,
    build_plan_card,
    identifiers_text,
    problem_texts,
)
from dialogs.views import load_one_pager
from storage import communities, onboarding
from storage.communities import NotAllowed
from storage.db import SessionFactory, transaction
from storage.identifiers import HasIdentifiers, confirmable
from storage.models import Community, Person, Role
from storage.onboarding import ChecklistItem, InvalidContent, Link, StepContent

logger = logging.getLogger(__name__)

# What is read from a form field: a little over every limit, so a refused form shows back
# what was typed without carrying megabytes of forged card data.
_FIELD_CLIP = 2 * onboarding.MAX_TEXT_LENGTH


async def _facilitated(turn: FeatureTurn, community_id: int | None) -> Community | None:
    """The community meant (the card's, else this channel's, else the first the person
    facilitates) when the person facilitates it; None otherwise."""
    async with turn.sessions() as session:
        if community_id is None:
            community_id = await turn.channel_community_id()
        if community_id is None:
            animated = [
                c
                for m, c in await communities.memberships_of(session, person_id=turn.person_id)
                if communities.has_role(m, Role.ANIMATOR)
            ]
            community_id = animated[0].id if animated else None
        if community_id is None:
            return None
        community = await communities.get_community(session, community_id=community_id)
        if community is None or not await onboarding.is_facilitator(
            session, person_id=turn.person_id, community_id=community_id
        ):
            return None
    return community


async def _plan_card(turn: FeatureTurn, community_id: int) -> Element | None:
    async with turn.sessions() as session:
        fresh = await communities.get_community(session, community_id=community_id)
        if fresh is None:
            return None
        progress = await onboarding.progress(session, community=fresh)
    return build_plan_card(
        fresh,
        onboarding.plan_of(fresh),
        locale=turn.info.locale,
        progress=progress,
        tz=turn.info.timezone,
    )


async def show_plan(turn: FeatureTurn, community_id: int | None = None) -> None:
    """The plan with its steps' content and the newcomers' progress, for facilitators only."""
    community = await _facilitated(turn, community_id)
    if community is None:
        await turn.say("onboarding.plan.animators_only")
        return
    card = await _plan_card(turn, community.id or 0)
    if card is not None:
        await turn.show(card)


async def _show_plan_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await show_plan(turn, param_int(value, "community_id"))


def _step(value: dict[str, Any]) -> str | None:
    step = value.get("step")
    return step if isinstance(step, str) and step in onboarding.STEPS else None


async def _edit_content(turn: FeatureTurn, value: dict[str, Any]) -> None:
    step = _step(value)
    community = await _facilitated(turn, param_int(value, "community_id"))
    if community is None:
        await turn.say("onboarding.plan.animators_only")
        return
    current = onboarding.step_of(community, step) if step else None
    if current is None:
        await turn.say("error.unknown_action")
        return
    await turn.show(
        build_content_card(
            community,
            current.key,
            current.content,
            locale=turn.info.locale,
            item_ids=[item.id for item in current.content.checklist],
        )
    )


def _field(value: dict[str, Any], key: str) -> str:
    raw = value.get(key)
    return raw[:_FIELD_CLIP] if isinstance(raw, str) else ""


def _item_ids(value: dict[str, Any]) -> list[str]:
    """The ids the form carried, by field; anything not an id-like string is no id."""
    raw = value.get("item_ids")
    ids = raw if isinstance(raw, list) else []
    return [
        item if isinstance(item, str) and len(item) <= onboarding.ITEM_ID_LENGTH else ""
        for item in ids[: onboarding.MAX_ITEMS]
    ]


def content_from(value: dict[str, Any]) -> tuple[StepContent, list[str]]:
    """What the form says (nothing checked yet), and the item ids by field."""
    ids = _item_ids(value)
    links = []
    for n in range(onboarding.MAX_LINKS):
        title, url = _field(value, f"link_title_{n}"), _field(value, f"link_url_{n}")
        if title.strip() or url.strip():
            links.append(Link(title, url))
    items = []
    for n in range(onboarding.MAX_ITEMS):
        label = _field(value, f"item_{n}")
        if label.strip():
            items.append(ChecklistItem(ids[n] if n < len(ids) else "", label))
    return StepContent(text=_field(value, "text"), links=tuple(links), checklist=tuple(items)), ids


async def _save_content(turn: FeatureTurn, value: dict[str, Any]) -> None:
    step = _step(value)
    community_id = param_int(value, "community_id")
    if step is None or community_id is None:
        await turn.say("error.unknown_action")
        return
    content, ids = content_from(value)
    confirmed = ("name",) if value.get("confirm_names") == "true" else ()
    errors: list[str] = []
    offer_names = False
    try:
        async with transaction(turn.sessions) as session:
            community = await communities.get_community(session, community_id=community_id)
            if community is None:
                raise NotAllowed()
            await onboarding.set_step_content(
                session,
                community=community,
                step=step,
                by_person_id=turn.person_id,
                content=content,
                confirmed=confirmed,
            )
    except NotAllowed:
        await turn.say("onboarding.plan.animators_only")
        return
    except InvalidContent as refused:
        errors = problem_texts(refused.reasons, locale=turn.info.locale)
    except HasIdentifiers as flagged:
        errors = [identifiers_text(flagged.kinds, locale=turn.info.locale)]
        offer_names = confirmable(flagged.kinds)
    if errors:
        # Nothing was saved: the form comes back with what was typed and why.
        logger.info("onboarding content refused (%d reason(s))", len(errors))
        async with turn.sessions() as session:
            community = await communities.get_community(session, community_id=community_id)
        assert community is not None
        await turn.replace_clicked(
            build_content_card(
                community,
                step,
                content,
                locale=turn.info.locale,
                item_ids=ids,
                errors=[turn.t("onboarding.content.nothing_saved"), *errors],
                offer_names=offer_names,
            )
        )
        return
    await turn.say("onboarding.content.saved", step=turn.t(f"onboarding.step.{step}"))
    card = await _plan_card(turn, community_id)
    if card is not None:
        await turn.replace_clicked(card)


# -- the newcomer's side ---------------------------------------------------------------------


async def step_card(
    sessions: SessionFactory,
    *,
    community_id: int,
    person_id: int,
    step: str,
    locale: str,
    tz: str,
    now: datetime,
) -> Element | None:
    """One step's card for one newcomer as it reads now (their ticks included); None when it
    no longer makes sense: they left or stopped the plan, or the step was turned off."""
    async with sessions() as session:
        community = await communities.get_community(session, community_id=community_id)
        enrolled = await onboarding.enrollment(
            session, community_id=community_id, person_id=person_id
        )
        member = await communities.membership(
            session, person_id=person_id, community_id=community_id
        )
        if (
            community is None
            or enrolled is None
            or enrolled.stopped_at is not None
            or member is None
            or member.left_at is not None
        ):
            return None
        current = onboarding.step_of(community, step)
        if current is None or not current.enabled:
            return None
        page = await load_one_pager(session, community, now=now)
        person = await session.get(Person, person_id)
        checked = await onboarding.checked_items(
            session, community_id=community_id, person_id=person_id, step=step
        )
    first_name = ((person.name if person else None) or "").split(" ")[0]
    return build_onboarding_step_card(
        step,
        page,
        first_name=first_name,
        locale=locale,
        tz=tz,
        content=current.content,
        checked=checked,
    )


async def render_step(context: RenderContext) -> Activity | None:
    """The outbox renderer of a step: the plan's content as it is at send time."""
    params = context.message.params
    community_id = as_int(params.get("community_id"))
    step = str(params.get("step"))
    person_id = context.message.person_id
    if person_id is None or community_id is None:
        return None
    card = await step_card(
        context.sessions,
        community_id=community_id,
        person_id=person_id,
        step=step,
        locale=context.locale,
        tz=context.timezone,
        now=context.now,
    )
    return card_activity(card) if card is not None else None


async def _check(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """A checklist button: the item set to the state the button asked for, then the step's
    card shows it in place."""
    community_id = param_int(value, "community_id")
    step = _step(value)
    item = value.get("item")
    checked = value.get("checked")
    if community_id is None or step is None or not isinstance(item, str):
        await turn.say("error.unknown_action")
        return
    if not isinstance(checked, bool):
        await turn.say("error.unknown_action")
        return
    try:
        async with transaction(turn.sessions) as session:
            community = await communities.get_community(session, community_id=community_id)
            if community is None:
                raise onboarding.NotFollowing()
            await onboarding.set_checked(
                session,
                community=community,
                person_id=turn.person_id,
                step=step,
                item_id=item[: onboarding.ITEM_ID_LENGTH * 2],
                checked=checked,
                now=turn.clock(),
            )
    except onboarding.NotFollowing:
        await turn.say("onboarding.checkin.not_enrolled")
        return
    except LookupError:
        # The facilitators removed the item since the card was sent: the card is redrawn
        # from the current checklist.
        await turn.say("onboarding.checklist.gone")
    card = await step_card(
        turn.sessions,
        community_id=community_id,
        person_id=turn.person_id,
        step=step,
        locale=turn.info.locale,
        tz=turn.info.timezone,
        now=turn.clock(),
    )
    if card is not None:
        await turn.replace_clicked(card)


ACTIONS: dict[str, VerbHandler] = {
    "onboarding.plan.show": _show_plan_verb,
    VERB_CONTENT_EDIT: _edit_content,
    VERB_CONTENT_SAVE: _save_content,
    VERB_CHECK: _check,
}
