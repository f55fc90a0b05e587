"""Topic bank cards: the bank itself (with +1 and, for animators, status controls) and the
"which community?" card."""

from __future__ import annotations

import json
from collections.abc import Sequence

from cards.common import MAX_CARD_BYTES, Element, adaptive_card, heading, paragraph, submit
from cards.i18n import plural, translator
from storage.models import Community, TopicStatus, Volet
from storage.topics import OPEN_STATUSES, STATUS_ORDER, TopicRow, shown_proposer

VERB_SHOW = "topics.show"
VERB_VOTE = "topics.vote"
VERB_STATUS = "topics.status"
VERB_PROPOSE = "topics.propose"
VERBS = frozenset({VERB_SHOW, VERB_VOTE, VERB_STATUS, VERB_PROPOSE})

# Enough for a meeting's worth of choices; the rest is counted, not shown.
MAX_TOPICS_SHOWN = 25
# A topic's description can be 2,000 characters: the bank shows the beginning.
DESCRIPTION_PREVIEW = 200
# Room left under Teams' limit for the activity around the card (and JSON escaping).
CARD_BUDGET = MAX_CARD_BYTES - 2_000
BUTTONS_PER_ROW = 3

STATUS_KEYS: dict[TopicStatus, str] = {
    TopicStatus.PROPOSED: "topics.status.proposed",
    TopicStatus.SHORTLISTED: "topics.status.shortlisted",
    TopicStatus.SCHEDULED: "topics.status.scheduled",
    TopicStatus.DONE: "topics.status.done",
    TopicStatus.DECLINED: "topics.status.declined",
}
KIND_KEYS: dict[Volet, str] = {
    Volet.FORMATIVE: "topics.kind.formative",
    Volet.EXCHANGE: "topics.kind.exchange",
    Volet.REFLECTIVE: "topics.kind.reflective",
    Volet.LOGISTICS: "topics.kind.logistics",
}


def status_label(status: str, *, locale: str) -> str:
    return translator(locale)(STATUS_KEYS[TopicStatus(status)])


def kind_label(kind: str, *, locale: str) -> str:
    return translator(locale)(KIND_KEYS[Volet(kind)])


def status_input_id(topic_id: int) -> str:
    """The status choice set of one topic: unique in the card, since a submit sends them all."""
    return f"status_{topic_id}"


def _preview(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= DESCRIPTION_PREVIEW:
        return text
    return text[: DESCRIPTION_PREVIEW - 1].rstrip() + "…"


def _topic(row: TopicRow, *, viewer_is_animator: bool, locale: str) -> Element:
    t = translator(locale)
    topic = row.topic
    facts = [
        kind_label(topic.kind, locale=locale),
        status_label(topic.status, locale=locale),
        plural(locale, "topics.card.votes", row.votes),
    ]
    if topic.presenter:
        facts.append(t("topics.card.presenter", name=topic.presenter))
    proposer = shown_proposer(row, viewer_is_animator=viewer_is_animator)
    if proposer is not None:
        name = proposer.name or t("topics.card.someone")
        key = "topics.card.proposed_by_hidden" if topic.hide_proposer else "topics.card.proposed_by"
        facts.append(t(key, name=name))
    items: list[Element] = [
        {"type": "TextBlock", "text": topic.title, "weight": "Bolder", "wrap": True},
        {
            "type": "TextBlock",
            "text": " · ".join(facts),
            "isSubtle": True,
            "size": "Small",
            "spacing": "None",
            "wrap": True,
        },
    ]
    if topic.description:
        items.append(paragraph(_preview(topic.description), spacing="Small"))
    buttons: list[Element] = []
    if topic.status in OPEN_STATUSES:
        label = t("topics.card.unvote") if row.supported else t("topics.card.vote")
        # Which way the click goes, so a second click (or two at once) changes nothing.
        buttons.append(submit(label, verb=VERB_VOTE, topic_id=topic.id, support=not row.supported))
    if viewer_is_animator and topic.id is not None:
        items.append(
            {
                "type": "Input.ChoiceSet",
                "id": status_input_id(topic.id),
                "style": "compact",
                "value": TopicStatus(topic.status).value,
                "label": t("topics.card.status_label"),
                "choices": [
                    {"title": status_label(s, locale=locale), "value": s.value}
                    for s in STATUS_ORDER
                ],
            }
        )
        buttons.append(submit(t("topics.card.change"), verb=VERB_STATUS, topic_id=topic.id))
    if buttons:
        items.append({"type": "ActionSet", "actions": buttons})
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _size(card: Element) -> int:
    # ASCII-escaped JSON is the larger of the two encodings a sender may use.
    return len(json.dumps(card).encode("utf-8"))


def build_topic_bank_card(
    rows: Sequence[TopicRow],
    *,
    community: Community,
    viewer_is_animator: bool,
    locale: str,
) -> Element:
    """The bank as `storage.topics.bank` orders it (most relevant first), cut to what fits.

    `viewer_is_animator` shows hidden proposers (marked as hidden from members) and the status
    controls; the caller passes False for a card everyone in a channel sees."""
    t = translator(locale)

    def build(shown: int) -> Element:
        body: list[Element] = [
            heading(t("topics.card.title", community=community.name)),
            paragraph(t("topics.card.intro"), subtle=True, spacing="None"),
        ]
        if viewer_is_animator:
            body.append(paragraph(t("topics.card.animator_hint"), subtle=True))
        if not rows:
            body.append(paragraph(t("topics.card.empty")))
        body += [
            _topic(row, viewer_is_animator=viewer_is_animator, locale=locale)
            for row in rows[:shown]
        ]
        if len(rows) > shown:
            body.append(
                paragraph(plural(locale, "topics.card.more", len(rows) - shown), subtle=True)
            )
        actions = [submit(t("topics.card.propose"), verb=VERB_PROPOSE, community_id=community.id)]
        return adaptive_card(body, actions)

    shown = min(len(rows), MAX_TOPICS_SHOWN)
    card = build(shown)
    # Long titles and descriptions can push 25 topics past the limit: show fewer, say so.
    while shown > 1 and _size(card) > CARD_BUDGET:
        shown -= 1
        card = build(shown)
    return card


def build_topics_community_choice_card(communities: Sequence[Community], *, locale: str) -> Element:
    """Which community's bank? One button per community."""
    t = translator(locale)
    buttons = [submit(c.name, verb=VERB_SHOW, community_id=c.id) for c in communities]
    body: list[Element] = [
        heading(t("topics.choose.title"), size="Medium"),
        *(
            {"type": "ActionSet", "actions": buttons[start : start + BUTTONS_PER_ROW]}
            for start in range(0, len(buttons), BUTTONS_PER_ROW)
        ),
    ]
    return adaptive_card(body)
