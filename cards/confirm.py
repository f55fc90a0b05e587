"""The card every destructive action shows first: what will happen, then « Confirmer » or
« Ne rien changer ».

A destructive button (cancel a meeting, close a poll now, leave a community, withdraw a request,
erase) never acts on its first click. Its handler answers with this card; the confirm button
sends the same verb again with ``confirmed: true`` and the same data, so the handler checks every
permission a second time when it acts. « Ne rien changer » sends ``confirm.dismiss``, which
replaces the card by a line saying that nothing changed (no state is kept between the clicks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.i18n import Translate

VERB_DISMISS = "confirm.dismiss"
CONFIRMED = "confirmed"


def is_confirmed(value: dict[str, Any]) -> bool:
    """Only the confirmation card's button carries ``confirmed: true``."""
    return value.get(CONFIRMED) is True


def build_confirmation_card(
    t: Translate,
    *,
    title: str,
    consequences: Sequence[str],
    confirm_title: str,
    verb: str,
    data: dict[str, Any],
) -> Element:
    """`consequences` name what will happen, one line each (« 12 personnes recevront un avis »);
    `verb` and `data` are those of the button that asked, sent again when confirmed."""
    body: list[Element] = [heading(title, size="Medium")]
    body.extend(paragraph(f"- {line}") for line in consequences)
    payload = {key: value for key, value in data.items() if key not in {"verb", CONFIRMED}}
    return adaptive_card(
        body,
        [
            submit(confirm_title, verb=verb, style="destructive", **payload, confirmed=True),
            submit(t("confirm.dismiss"), verb=VERB_DISMISS),
        ],
    )


def build_dismissed_card(t: Translate) -> Element:
    """What the confirmation card becomes after « Ne rien changer »."""
    return adaptive_card([paragraph(t("confirm.dismissed"), subtle=True)])


def build_outcome_card(text: str) -> Element:
    """What the confirmation card becomes once confirmed: what happened (or that it had
    happened already, for a second click)."""
    return adaptive_card([paragraph(text)])
