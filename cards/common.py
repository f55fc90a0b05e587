"""Adaptive Card scaffolding shared by every card builder."""

from __future__ import annotations

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
