"""What a newcomer receives over the first weeks, and the plan animators edit."""

from __future__ import annotations

from collections.abc import Sequence

from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.community import OnePager, build_one_pager_card, next_meeting_text
from cards.i18n import translator
from storage.models import Community
from storage.onboarding import MAX_DAY, Step


def build_onboarding_step_card(
    step: str, page: OnePager, *, first_name: str, locale: str, tz: str
) -> Element:
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
    community: Community, steps: Sequence[Step], *, locale: str, errors: Sequence[str] = ()
) -> Element:
    """The onboarding plan of a community, editable by its animators."""
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


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"- {item.strip()}" for item in items if item.strip())
