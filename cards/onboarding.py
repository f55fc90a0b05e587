"""What a newcomer receives over the first weeks, and the plan animators edit."""

from __future__ import annotations

from collections.abc import Sequence, Set
from typing import Any

from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.community import OnePager, build_one_pager_card, next_meeting_text
from cards.consultations import identifier_kinds_text
from cards.i18n import format_day, translator
from storage import onboarding
from storage.identifiers import IdentifierKind
from storage.models import Community
from storage.onboarding import MAX_DAY, Progress, Step, StepContent

VERB_CHECK = "onboarding.check"
VERB_CONTENT_EDIT = "onboarding.content.edit"
VERB_CONTENT_SAVE = "onboarding.content.save"
VERB_PLAN_SHOW = "onboarding.plan.show"
# Newcomers listed on the plan card; beyond, a count (the card must stay under Teams' size).
MAX_PROGRESS_LINES = 25

PROBLEM_KEYS = {
    onboarding.TEXT_TOO_LONG: "onboarding.content.error.text_too_long",
    onboarding.TOO_MANY_LINKS: "onboarding.content.error.too_many_links",
    onboarding.LINK_TITLE_MISSING: "onboarding.content.error.link_title_missing",
    onboarding.LINK_TITLE_TOO_LONG: "onboarding.content.error.link_title_too_long",
    onboarding.LINK_NOT_HTTPS: "onboarding.content.error.link_not_https",
    onboarding.LINK_INVALID: "onboarding.content.error.link_invalid",
    onboarding.TOO_MANY_ITEMS: "onboarding.content.error.too_many_items",
    onboarding.ITEM_TOO_LONG: "onboarding.content.error.item_too_long",
}


def build_onboarding_step_card(
    step: str,
    page: OnePager,
    *,
    first_name: str,
    locale: str,
    tz: str,
    content: StepContent | None = None,
    checked: Set[str] = frozenset(),
) -> Element:
    """One step as the newcomer receives it: the step's own message, then the facilitators'
    text, checklist (what `checked` holds shows as done) and links."""
    card = _step_card(step, page, first_name=first_name, locale=locale, tz=tz)
    if content is not None and not content.empty:
        _add_content(card, step, page.community, content, checked, locale=locale)
    return card


def _add_content(
    card: Element,
    step: str,
    community: Community,
    content: StepContent,
    checked: Set[str],
    *,
    locale: str,
) -> None:
    t = translator(locale)
    added: list[Element] = []
    if content.text:
        added.append(paragraph(content.text))
    if content.links:
        # Under the text they belong to, not after the card's own buttons at the bottom.
        added.append(
            {
                "type": "ActionSet",
                "actions": [
                    {"type": "Action.OpenUrl", "title": link.title, "url": link.url}
                    for link in content.links
                ],
            }
        )
    if content.checklist:
        added.append(heading(t("onboarding.checklist.title"), size="Medium"))
        for item in content.checklist:
            done = item.id in checked
            added.append(
                {
                    "type": "ColumnSet",
                    "columns": [
                        {
                            "type": "Column",
                            "width": "stretch",
                            "verticalContentAlignment": "Center",
                            "items": [
                                paragraph(
                                    t(
                                        "onboarding.checklist.done"
                                        if done
                                        else "onboarding.checklist.todo",
                                        label=item.label,
                                    )
                                )
                            ],
                        },
                        {
                            "type": "Column",
                            "width": "auto",
                            "items": [
                                {
                                    "type": "ActionSet",
                                    "actions": [
                                        _button(
                                            t(
                                                "onboarding.checklist.uncheck"
                                                if done
                                                else "onboarding.checklist.check"
                                            ),
                                            verb=VERB_CHECK,
                                            community_id=community.id,
                                            step=step,
                                            item=item.id,
                                            # The state wanted, not a flip: a double click
                                            # ticks once.
                                            checked=not done,
                                        )
                                    ],
                                }
                            ],
                        },
                    ],
                }
            )
    if added:
        card["body"].append(
            {"type": "Container", "separator": True, "spacing": "Medium", "items": added}
        )


def _button(title: str, *, verb: str, **data: Any) -> Element:
    """A button inside a card with inputs that sends none of them, nor checks them: ticking an
    item on the check-in card must not ask for the rating first."""
    action = submit(title, verb=verb, **data)
    action["associatedInputs"] = "none"
    return action


def _step_card(step: str, page: OnePager, *, first_name: str, locale: str, tz: str) -> Element:
    t = translator(locale)
    community = page.community
    if step == "welcome":
        card = build_one_pager_card(page, locale=locale, tz=tz)
        greeting = (
            t("onboarding.welcome.title", name=first_name, community=community.name)
            if first_name
            else t("onboarding.welcome.title_noname", community=community.name)
        )
        card["body"] = [
            heading(greeting, size="Medium"),
            paragraph(t("onboarding.welcome.body")),
            # The one-pager follows, set apart so the two titles do not read as one.
            {"type": "Container", "separator": True, "spacing": "Large", "items": card["body"]},
        ]
        return card
    if step == "meetings":
        body = [
            heading(t("onboarding.meetings.title", community=community.name)),
            paragraph(t("onboarding.meetings.body")),
            paragraph(_bullets(t("onboarding.meetings.volets").split("|"))),
        ]
        next_meeting = next_meeting_text(page.next_meeting, locale=locale, tz=tz)
        body.append(
            {
                "type": "FactSet",
                "facts": [{"title": t("onepager.next_meeting"), "value": next_meeting}],
            }
        )
        return adaptive_card(body)
    if step == "mentor_offer":
        return adaptive_card(
            [
                heading(t("onboarding.mentor.title")),
                paragraph(t("onboarding.mentor.body")),
            ],
            [submit(t("onepager.ask_mentor"), verb="mentoring.request", community_id=community.id)],
        )
    if step == "topics":
        # The text invites the newcomer to name what would help them: the button does it.
        return adaptive_card(
            [heading(t("onboarding.topics.title")), paragraph(t("onboarding.topics.body"))],
            [submit(t("onepager.propose_topic"), verb="topics.propose", community_id=community.id)],
        )
    if step == "checkin":
        return build_checkin_card(community, locale=locale)
    raise ValueError(f"unknown onboarding step {step!r}")


def build_checkin_card(community: Community, *, locale: str) -> Element:
    t = translator(locale)
    return adaptive_card(
        [
            heading(t("onboarding.checkin.title")),
            paragraph(t("onboarding.checkin.body", community=community.name)),
            {
                "type": "Input.ChoiceSet",
                "id": "rating",
                "label": t("onboarding.checkin.rating"),
                "style": "expanded",
                "isRequired": True,
                "errorMessage": t("onboarding.checkin.rating_required"),
                "choices": [
                    {"title": t(f"onboarding.checkin.scale.{n}"), "value": str(n)}
                    for n in range(1, 6)
                ],
            },
            {
                "type": "Input.Text",
                "id": "comment",
                "label": t("onboarding.checkin.comment"),
                "isMultiline": True,
                "maxLength": 1000,
            },
        ],
        [
            submit(
                t("onboarding.checkin.submit"),
                verb="onboarding.checkin",
                community_id=community.id,
                style="positive",
            )
        ],
    )


def build_plan_card(
    community: Community,
    steps: Sequence[Step],
    *,
    locale: str,
    errors: Sequence[str] = (),
    progress: Sequence[Progress] | None = None,
    tz: str = "America/Montreal",
) -> Element:
    """The onboarding plan of a community, editable by its animators: each step's day and
    whether it is on, a button to edit its content, and (when given) the newcomers following
    it with their checklist progress."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("onboarding.plan.title", community=community.name)),
        paragraph(t("onboarding.plan.intro"), subtle=True),
    ]
    for error in errors:
        body.append({"type": "TextBlock", "text": error, "color": "Attention", "wrap": True})
    for step in steps:
        body.append(
            {
                "type": "ColumnSet",
                "columns": [
                    {
                        "type": "Column",
                        "width": "stretch",
                        "items": [
                            {
                                "type": "Input.Toggle",
                                "id": f"enabled_{step.key}",
                                "title": t(f"onboarding.step.{step.key}"),
                                "value": "true" if step.enabled else "false",
                                "valueOn": "true",
                                "valueOff": "false",
                            }
                        ],
                    },
                    {
                        "type": "Column",
                        "width": "auto",
                        "items": [
                            {
                                "type": "Input.Number",
                                "id": f"day_{step.key}",
                                "label": t("onboarding.plan.day"),
                                "min": 0,
                                "max": MAX_DAY,
                                "value": step.day,
                            }
                        ],
                    },
                ],
            }
        )
        body.append(
            {
                "type": "ColumnSet",
                "spacing": "None",
                "columns": [
                    {
                        "type": "Column",
                        "width": "stretch",
                        "verticalContentAlignment": "Center",
                        "items": [paragraph(_content_summary(step.content, locale), subtle=True)],
                    },
                    {
                        "type": "Column",
                        "width": "auto",
                        "items": [
                            {
                                "type": "ActionSet",
                                "actions": [
                                    _button(
                                        t("onboarding.plan.edit_content"),
                                        verb=VERB_CONTENT_EDIT,
                                        community_id=community.id,
                                        step=step.key,
                                    )
                                ],
                            }
                        ],
                    },
                ],
            }
        )
    if progress is not None:
        body.extend(_progress(progress, locale=locale, tz=tz))
    return adaptive_card(
        body,
        [
            submit(
                t("onboarding.plan.save"),
                verb="onboarding.plan.save",
                community_id=community.id,
                style="positive",
            )
        ],
    )


def _content_summary(content: StepContent, locale: str) -> str:
    t = translator(locale)
    if content.empty:
        return t("onboarding.plan.no_content")
    return t(
        "onboarding.plan.content_summary",
        text=t("onboarding.plan.has_text" if content.text else "onboarding.plan.no_text"),
        links=len(content.links),
        items=len(content.checklist),
    )


def _progress(rows: Sequence[Progress], *, locale: str, tz: str) -> list[Element]:
    t = translator(locale)
    found: list[Element] = [
        {
            "type": "TextBlock",
            "text": t("onboarding.plan.progress_title"),
            "weight": "Bolder",
            "wrap": True,
            "separator": True,
            "spacing": "Large",
        }
    ]
    if not rows:
        found.append(paragraph(t("onboarding.plan.progress_none"), subtle=True))
        return found
    facts = []
    for row in rows[:MAX_PROGRESS_LINES]:
        since = format_day(row.started_at, locale=locale, tz=tz)
        value = (
            t("onboarding.plan.progress_count", checked=row.checked, total=row.total, since=since)
            if row.total
            else t("onboarding.plan.progress_since", since=since)
        )
        facts.append({"title": row.name or t("onboarding.plan.someone"), "value": value})
    found.append({"type": "FactSet", "facts": facts})
    if len(rows) > MAX_PROGRESS_LINES:
        found.append(
            paragraph(
                t("onboarding.plan.progress_more", count=len(rows) - MAX_PROGRESS_LINES),
                subtle=True,
            )
        )
    return found


# -- a step's content, edited by the facilitators --------------------------------------------


def build_content_card(
    community: Community,
    step: str,
    content: StepContent,
    *,
    locale: str,
    item_ids: Sequence[str] = (),
    errors: Sequence[str] = (),
    offer_names: bool = False,
) -> Element:
    """The form for one step's text, links and checklist, pre-filled with `content` (what is
    saved, or what was typed when it was refused). `item_ids` are the saved items' ids in
    the order of their fields: the save keeps each field's id so its ticks stay."""
    t = translator(locale)
    body: list[Element] = [
        heading(
            t(
                "onboarding.content.title",
                step=t(f"onboarding.step.{step}"),
                community=community.name,
            )
        ),
        paragraph(
            t(
                "onboarding.content.intro",
                text=onboarding.MAX_TEXT_LENGTH,
                links=onboarding.MAX_LINKS,
                items=onboarding.MAX_ITEMS,
            ),
            subtle=True,
        ),
    ]
    for error in errors:
        body.append({"type": "TextBlock", "text": error, "color": "Attention", "wrap": True})
    body.append(
        {
            "type": "Input.Text",
            "id": "text",
            "label": t("onboarding.content.text"),
            "isMultiline": True,
            "maxLength": onboarding.MAX_TEXT_LENGTH,
            "value": content.text,
        }
    )
    for n in range(onboarding.MAX_LINKS):
        link = content.links[n] if n < len(content.links) else None
        # The title above its address, each the card's width: side by side, in a chat's
        # narrow card, both were cut after a few words.
        body.extend(
            [
                {
                    "type": "Input.Text",
                    "id": f"link_title_{n}",
                    "label": t("onboarding.content.link_title", n=n + 1),
                    "maxLength": onboarding.MAX_LINK_TITLE_LENGTH,
                    "value": link.title if link else "",
                    "spacing": "Medium",
                },
                {
                    "type": "Input.Text",
                    "id": f"link_url_{n}",
                    "label": t("onboarding.content.link_url", n=n + 1),
                    "style": "Url",
                    "placeholder": "https://",
                    "value": link.url if link else "",
                    "spacing": "Small",
                },
            ]
        )
    body.append(paragraph(t("onboarding.content.items_help"), subtle=True))
    for n in range(onboarding.MAX_ITEMS):
        body.append(
            {
                "type": "Input.Text",
                "id": f"item_{n}",
                "label": t("onboarding.content.item", n=n + 1),
                "maxLength": onboarding.MAX_ITEM_LENGTH,
                "value": content.checklist[n].label if n < len(content.checklist) else "",
            }
        )
    if offer_names:
        body.append(
            {
                "type": "Input.Toggle",
                "id": "confirm_names",
                "title": t("onboarding.content.confirm_names"),
                "value": "false",
                "valueOn": "true",
                "valueOff": "false",
            }
        )
    data: dict[str, Any] = {"community_id": community.id, "step": step, "item_ids": list(item_ids)}
    return adaptive_card(
        body,
        [
            submit(t("onboarding.content.save"), verb=VERB_CONTENT_SAVE, style="positive", **data),
            submit(t("onboarding.content.back"), verb=VERB_PLAN_SHOW, community_id=community.id),
        ],
    )


def problem_texts(codes: Sequence[str], *, locale: str) -> list[str]:
    """What the facilitator must fix, one sentence per reason, in their language."""
    t = translator(locale)
    return [
        t(
            PROBLEM_KEYS[code],
            text=onboarding.MAX_TEXT_LENGTH,
            links=onboarding.MAX_LINKS,
            title=onboarding.MAX_LINK_TITLE_LENGTH,
            items=onboarding.MAX_ITEMS,
            item=onboarding.MAX_ITEM_LENGTH,
        )
        for code in codes
        if code in PROBLEM_KEYS
    ]


def identifiers_text(kinds: Sequence[IdentifierKind], *, locale: str) -> str:
    return translator(locale)(
        "onboarding.content.error.identifiers", kinds=identifier_kinds_text(kinds, locale=locale)
    )


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"- {item.strip()}" for item in items if item.strip())
