"""The tenant boundary for card data: before any feature or dialog acts on a card's values, the
ids in them are checked against the sender's organisation (storage/tenancy.py says who owns
what). One check for every button, so a new verb cannot forget it; features keep their own
permission checks (member, animator…) on top."""

from __future__ import annotations

import logging
from typing import Any

from microsoft_agents.hosting.core import TurnContext

from bot.turns import as_int
from cards.consultations import ASSIGNEE_INPUT
from cards.i18n import translator
from dialogs.context import TurnInfo
from storage.db import SessionFactory
from storage.tenancy import Owned, outside_tenant

logger = logging.getLogger(__name__)

# The keys under which cards carry ids (their data, or a form's input), and what each names.
# tests/test_boundaries.py checks that every `*_id` a card builder puts in a button is here.
CARD_IDS: dict[str, Owned] = {
    "community_id": Owned.COMMUNITY,
    "meeting_id": Owned.MEETING,
    "poll_id": Owned.POLL,
    "survey_id": Owned.SURVEY,
    "topic_id": Owned.TOPIC,
    "pairing_id": Owned.PAIRING,
    "mentor_id": Owned.PERSON,
    ASSIGNEE_INPUT: Owned.PERSON,
    "volunteer_id": Owned.PERSON,
    "resource_id": Owned.RESOURCE,
    "question_id": Owned.QUESTION,
    "answer_id": Owned.ANSWER,
    "case_id": Owned.CASE,
    "group_id": Owned.CODEV_GROUP,
    "session_id": Owned.CODEV_SESSION,
    "production_id": Owned.PRODUCTION,
    "date_id": Owned.SERIES_DATE,
    "guest_id": Owned.GUEST,
    "agenda_item_id": Owned.AGENDA_ITEM,
}
# `request_id` names a consultation request on consultation cards, a mentor request on
# mentoring cards (by the verb's feature; the handler has renamed old verbs already).
REQUEST_IDS: dict[str, Owned] = {
    "consultations": Owned.CONSULTATION,
    "mentoring": Owned.MENTOR_REQUEST,
}


def named_records(value: dict[str, Any]) -> list[tuple[Owned, int]]:
    """The records a card's values name: at the top, and one level down (forms carried from
    one step to the next, e.g. a meeting plan's `form`)."""
    verb = value.get("verb")
    feature = verb.split(".", 1)[0] if isinstance(verb, str) else ""
    keys = dict(CARD_IDS)
    if feature in REQUEST_IDS:
        keys["request_id"] = REQUEST_IDS[feature]
    found: list[tuple[Owned, int]] = []
    for values in (value, *(v for v in value.values() if isinstance(v, dict))):
        for key, kind in keys.items():
            record_id = as_int(values.get(key))
            if record_id is not None:
                found.append((kind, record_id))
    return found


async def refuse_other_tenant(
    turn_context: TurnContext,
    value: dict[str, Any],
    *,
    sessions: SessionFactory,
    info: TurnInfo,
    quiet: bool = False,
) -> bool:
    """True when the card names a record of another organisation: the sender is told (unless
    `quiet`: an invoke's refusal is its HTTP status, and a card's automatic refresh must not
    post anything in a channel), and nothing else happens in this turn."""
    records = named_records(value)
    if not records:
        return False
    async with sessions() as session:
        outside = await outside_tenant(session, tenant_id=info.tenant_id, records=records)
    if not outside:
        return False
    logger.warning("refused a card naming another tenant's records")
    if quiet:
        return True
    await turn_context.send_activity(translator(info.locale)("boundary.other_tenant"))
    return True
