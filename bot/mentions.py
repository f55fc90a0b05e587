"""Channel messages: answer only when mentioned, and read the text without the mention."""

from __future__ import annotations

import re
from typing import Any

from microsoft_agents.activity import Activity, ChannelAccount
from pydantic import BaseModel

# Opening and closing tags found separately and paired in one pass: a single pattern spanning
# from `<at…>` to `</at>` backtracks quadratically on text full of unclosed tags (a 1 MB
# channel message would hold the event loop for hours). `[^<>]` keeps each attempt short too.
MAX_ACCOUNT_ID = 255  # person.teams_user_id
_AT_OPEN_OR_CLOSE = re.compile(r"<at[^<>]*>|</at>", re.IGNORECASE)


def _entity_dict(entity: Any) -> dict[str, Any]:
    """An entity as Teams sent it: the SDK parses mentions into models and keeps others'
    fields as extras; both come back as the JSON's names and plain values."""
    if isinstance(entity, dict):
        return entity
    if isinstance(entity, BaseModel):
        data: dict[str, Any] = entity.model_dump(by_alias=True, exclude_none=True, mode="json")
        return data
    return {}


def mentions_recipient(activity: Activity) -> bool:
    recipient_id = getattr(activity.recipient, "id", None)
    if not recipient_id:
        return False
    for entity in activity.entities or []:
        data = _entity_dict(entity)
        if str(data.get("type", "")).lower() != "mention":
            continue
        mentioned = data.get("mentioned")
        if isinstance(mentioned, dict) and mentioned.get("id") == recipient_id:
            return True
    return False


def strip_mentions(text: str | None) -> str:
    """Remove every `<at>…</at>` tag: the bot's own mention and any others (commands such as
    `nommer @personne` read mentioned people from the entities, not the text)."""
    text = text or ""
    kept: list[str] = []
    position = 0
    opened: int | None = None  # where the tag being closed starts
    for tag in _AT_OPEN_OR_CLOSE.finditer(text):
        if tag.group().startswith("</"):
            if opened is not None:
                kept.append(text[position:opened])
                position, opened = tag.end(), None
        elif opened is None:
            opened = tag.start()
    kept.append(text[position:])
    return " ".join(" ".join(kept).split())


def mentioned_people(activity: Activity) -> list[ChannelAccount]:
    """People mentioned in a message, other than the bot (e.g. `nommer @Léa animatrice`)."""
    recipient_id = getattr(activity.recipient, "id", None)
    found: dict[str, ChannelAccount] = {}
    for entity in activity.entities or []:
        data = _entity_dict(entity)
        mentioned = data.get("mentioned")
        if str(data.get("type", "")).lower() != "mention" or not isinstance(mentioned, dict):
            continue
        person_id = mentioned.get("id")
        if not isinstance(person_id, str) or not person_id or person_id == recipient_id:
            continue
        if len(person_id) > MAX_ACCOUNT_ID:  # not a Teams id; it would not fit person's column
            continue
        name = mentioned.get("name")
        found[person_id] = ChannelAccount(
            id=person_id, name=name if isinstance(name, str) else None
        )
    return list(found.values())
