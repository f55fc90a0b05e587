"""The search message extension's answers: for each result, the card inserted in the
conversation and its preview in the result list; or a short message in place of the list.

Teams' shape (composeExtension/query): ``{"composeExtension": {"type": "result",
"attachmentLayout": "list", "attachments": [{contentType, content, preview}]}}``, where the
preview is a thumbnail card; ``{"composeExtension": {"type": "message", "text": …}}`` shows text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from cards.common import ADAPTIVE_CARD_CONTENT_TYPE, Element, adaptive_card, heading, paragraph
from cards.i18n import plural, translator
from cards.topics import KIND_KEYS as TOPIC_KIND_KEYS
from cards.topics import STATUS_KEYS as TOPIC_STATUS_KEYS
from storage.models import ResourceKind, TopicStatus, Volet
from storage.search import QuestionResult, ResourceResult, Result, TopicResult

THUMBNAIL_CONTENT_TYPE = "application/vnd.microsoft.card.thumbnail"

# The inserted card shows the beginning of long texts; the preview one line's worth.
CARD_TEXT_CHARS = 600
PREVIEW_TEXT_CHARS = 120

RESOURCE_KIND_KEYS: dict[ResourceKind, str] = {
    ResourceKind.CLINICAL_TOOL: "search.kind.clinical_tool",
    ResourceKind.GUIDE: "search.kind.guide",
    ResourceKind.ARTICLE: "search.kind.article",
    ResourceKind.TRAINING: "search.kind.training",
    ResourceKind.TEMPLATE: "search.kind.template",
    ResourceKind.OTHER: "search.kind.other",
}


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _is_web_link(url: str) -> bool:
    """Only http(s) links become buttons (the toolbox refuses others; this never trusts it)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _resource_kind(kind: str, locale: str) -> str:
    try:
        key = RESOURCE_KIND_KEYS[ResourceKind(kind)]
    except ValueError:
        key = RESOURCE_KIND_KEYS[ResourceKind.OTHER]
    return translator(locale)(key)


def _topic_facts(result: TopicResult, locale: str) -> list[str]:
    t = translator(locale)
    facts: list[str] = []
    kind_key = TOPIC_KIND_KEYS.get(Volet(result.topic.kind)) if result.topic.kind else None
    if kind_key is not None:
        facts.append(t(kind_key))
    facts.append(t(TOPIC_STATUS_KEYS[TopicStatus(result.topic.status)]))
    return facts


def _source(key: str, community: str, locale: str) -> Element:
    return paragraph(translator(locale)(key, community=community), subtle=True)


def build_resource_card(result: ResourceResult, *, locale: str) -> Element:
    t = translator(locale)
    resource = result.resource
    facts = [_resource_kind(resource.kind, locale)]
    if resource.themes:
        facts.append(", ".join(str(theme) for theme in resource.themes))
    body: list[Element] = [
        _source("search.card.resource", result.community, locale),
        heading(resource.title, size="Medium"),
        paragraph(" · ".join(facts), subtle=True, spacing="None"),
    ]
    if resource.why:
        body.append(paragraph(_short(resource.why, CARD_TEXT_CHARS)))
    actions: list[Element] = []
    if _is_web_link(resource.url):
        actions.append(
            {"type": "Action.OpenUrl", "title": t("search.card.open"), "url": resource.url}
        )
    return adaptive_card(body, actions)


def build_topic_card(result: TopicResult, *, locale: str) -> Element:
    topic = result.topic
    body: list[Element] = [
        _source("search.card.topic", result.community, locale),
        heading(topic.title, size="Medium"),
        paragraph(" · ".join(_topic_facts(result, locale)), subtle=True, spacing="None"),
    ]
    if topic.description:
        body.append(paragraph(_short(topic.description, CARD_TEXT_CHARS)))
    return adaptive_card(body)


def build_question_card(result: QuestionResult, *, locale: str) -> Element:
    t = translator(locale)
    body: list[Element] = [
        _source("search.card.question", result.community, locale),
        heading(_short(result.question.text, CARD_TEXT_CHARS), size="Medium"),
    ]
    if result.asked_by:
        body.append(paragraph(t("search.card.asked_by", name=result.asked_by), subtle=True))
    if result.answer is not None:
        label = "search.card.answer_helped" if result.answer_helped else "search.card.answer_latest"
        body.append({"type": "TextBlock", "text": t(label), "weight": "Bolder", "wrap": True})
        body.append(paragraph(_short(result.answer, CARD_TEXT_CHARS), spacing="None"))
    body.append(paragraph(plural(locale, "search.card.answers", result.answers), subtle=True))
    return adaptive_card(body)


def build_result_card(result: Result, *, locale: str) -> Element:
    if isinstance(result, ResourceResult):
        return build_resource_card(result, locale=locale)
    if isinstance(result, TopicResult):
        return build_topic_card(result, locale=locale)
    return build_question_card(result, locale=locale)


def build_result_preview(result: Result, *, locale: str) -> Element:
    """The thumbnail card of one result in Teams' list: a title and what it is, from where."""
    t = translator(locale)
    if isinstance(result, ResourceResult):
        title = result.resource.title
        what = t(
            "search.preview.resource",
            kind=_resource_kind(result.resource.kind, locale),
            community=result.community,
        )
    elif isinstance(result, TopicResult):
        title = result.topic.title
        what = t("search.preview.topic", community=result.community)
    else:
        title = result.question.text
        what = t("search.preview.question", community=result.community)
    return {"title": _short(title, PREVIEW_TEXT_CHARS), "text": what}


def build_search_results(results: Sequence[Result], *, locale: str) -> dict[str, Any]:
    """The invoke's body: one attachment per result (the card, and its preview)."""
    return {
        "composeExtension": {
            "type": "result",
            "attachmentLayout": "list",
            "attachments": [
                {
                    "contentType": ADAPTIVE_CARD_CONTENT_TYPE,
                    "content": build_result_card(result, locale=locale),
                    "preview": {
                        "contentType": THUMBNAIL_CONTENT_TYPE,
                        "content": build_result_preview(result, locale=locale),
                    },
                }
                for result in results
            ],
        }
    }


def build_search_message(key: str, *, locale: str) -> dict[str, Any]:
    """The invoke's body when there is a sentence to show instead of results."""
    return {"composeExtension": {"type": "message", "text": translator(locale)(key)}}
