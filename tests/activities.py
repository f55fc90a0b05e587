"""Teams-shaped activities, as the Teams service (and the Agents Playground) post them."""

from __future__ import annotations

import itertools
from typing import Any

BOT_ID = "28:carrefour-bot"
BOT_NAME = "Carrefour"
TENANT = "72f988bf-0000-0000-0000-000000000001"
_ids = itertools.count(1)


def user(n: int = 1, name: str = "Léa Tremblay") -> dict[str, Any]:
    return {"id": f"29:user-{n}", "name": name, "aadObjectId": f"00000000-0000-0000-0000-{n:012d}"}


def message(
    text: str | None,
    *,
    service_url: str,
    sender: dict[str, Any] | None = None,
    locale: str | None = "fr-CA",
    conversation_id: str | None = None,
    conversation_type: str = "personal",
    mention_bot: bool = False,
    value: dict[str, Any] | None = None,
    activity_id: str | None = None,
    mentions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    sender = sender or user()
    if conversation_id is None:
        conversation_id = (
            f"a:personal-{sender['id']}"
            if conversation_type == "personal"
            else "19:channel@thread.tacv2"
        )
    activity: dict[str, Any] = {
        "type": "message",
        "id": activity_id or f"activity-{next(_ids)}",
        "timestamp": "2026-11-22T14:00:00.000Z",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": sender,
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "conversation": {
            "id": conversation_id,
            "conversationType": conversation_type,
            "tenantId": TENANT,
        },
        "channelData": {"tenant": {"id": TENANT}},
        "entities": [],
    }
    if locale is not None:
        activity["locale"] = locale
    if text is not None:
        activity["text"] = f"<at>{BOT_NAME}</at> {text}" if mention_bot else text
    if mention_bot:
        activity["entities"].append(
            {
                "type": "mention",
                "text": f"<at>{BOT_NAME}</at>",
                "mentioned": {"id": BOT_ID, "name": BOT_NAME},
            }
        )
    for person in mentions or []:
        # Other people mentioned in the text, e.g. `nommer <at>Léa</at> animatrice`.
        activity["entities"].append(
            {
                "type": "mention",
                "text": f"<at>{person['name']}</at>",
                "mentioned": {"id": person["id"], "name": person["name"]},
            }
        )
    if conversation_type == "channel":
        activity["conversation"]["isGroup"] = True
        activity["channelData"].update(
            {"team": {"id": "19:team@thread.tacv2"}, "channel": {"id": conversation_id}}
        )
    if value is not None:
        activity["value"] = value
    return activity
