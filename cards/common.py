"""Adaptive Card scaffolding shared by every card builder."""

from __future__ import annotations

import json
from typing import Any

CARD_VERSION = "1.5"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Teams refuses activities over ~28 KB; cards stay well under it.
MAX_CARD_BYTES = 28_000

Element = dict[str, Any]


def adaptive_card(body: list[Element], actions: list[Element] | None = None) -> Element:
    card: Element = {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "body": body,
        # Full width reads better in Teams for lists and agendas.
        "msteams": {"width": "Full"},
    }
    if actions:
        card["actions"] = actions
    return card


def heading(text: str, *, size: str = "Large") -> Element:
    return {"type": "TextBlock", "text": text, "size": size, "weight": "Bolder", "wrap": True}


def paragraph(text: str, *, subtle: bool = False, spacing: str | None = None) -> Element:
    block: Element = {"type": "TextBlock", "text": text, "wrap": True}
    if subtle:
        block["isSubtle"] = True
    if spacing:
        block["spacing"] = spacing
    return block


def submit(title: str, *, verb: str, style: str | None = None, **data: Any) -> Element:
    """A button whose click comes back to the bot as a message with `value.verb`."""
    action: Element = {"type": "Action.Submit", "title": title, "data": {"verb": verb, **data}}
    if style:
        action["style"] = style
    return action


# A button that opens a Teams dialog (task module) with a form registered under `form`.
TASK_FETCH = "task/fetch"
FORM_KEY = "form"


def task_button(title: str, *, form: str, **data: Any) -> Element:
    """A card button that opens the registered `form` in a Teams dialog over the conversation,
    where its drafts and errors stay private to the person filling it."""
    return {
        "type": "Action.Submit",
        "title": title,
        "data": {"msteams": {"type": TASK_FETCH}, FORM_KEY: form, **data},
    }


def form_submit(title: str, *, form: str, style: str | None = None, **data: Any) -> Element:
    """The submit button of a form shown in a Teams dialog (it comes back as `task/submit`)."""
    action: Element = {"type": "Action.Submit", "title": title, "data": {FORM_KEY: form, **data}}
    if style:
        action["style"] = style
    return action


# Teams refreshes a card automatically for at most 60 listed people in a channel or group chat.
REFRESH_USER_LIMIT = 60


def with_refresh(
    card: Element, *, verb: str, data: dict[str, Any], user_ids: list[str] | None
) -> Element:
    """`card` with a Universal Actions refresh: each listed person's Teams client asks the bot
    for their own view when it shows the card (« Votre réponse : Présent·e »). Teams refreshes
    automatically for at most 60 listed people in a channel or group chat; everyone else sees
    the shared view. `user_ids=None` lists nobody (a card that must name no one): Teams then
    refreshes for everyone in a conversation of at most 60 people, and offers the others a
    « refresh » in the card's menu. A list that would take the card past `MAX_CARD_BYTES` is
    shortened from its end (put first those whose view matters most)."""
    listed = None if user_ids is None else user_ids[:REFRESH_USER_LIMIT]
    while True:
        refresh: Element = {"action": {"type": "Action.Execute", "verb": verb, "data": data}}
        if listed is not None:
            refresh["userIds"] = listed
        refreshed = {**card, "refresh": refresh}
        if not listed or card_bytes(refreshed) <= MAX_CARD_BYTES:
            return refreshed
        listed = listed[: len(listed) // 2]


def card_bytes(card: Element) -> int:
    """The card's size as Teams counts it (UTF-8 JSON)."""
    return len(json.dumps(card, ensure_ascii=False).encode())
