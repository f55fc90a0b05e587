"""Channel messages: answer only when mentioned, and read the text without the mention."""

from __future__ import annotations

import re
from typing import Any

from botbuilder.schema import Activity

_AT_TAG = re.compile(r"<at[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)


def _entity_dict(entity: Any) -> dict[str, Any]:
    if isinstance(entity, dict):
        return entity
    data: dict[str, Any] = dict(getattr(entity, "additional_properties", None) or {})
    data["type"] = getattr(entity, "type", None)
    return data


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
    return " ".join(_AT_TAG.sub(" ", text or "").split())
