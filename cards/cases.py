"""Complex-case discussion cards: the facilitators' list (read, pick for a meeting, return,
decline, record the themes after the meeting), the presenter's own cases (status, the
facilitators' message, withdraw, what they take away), and the notices sent through the
outbox. The agenda shows picked cases itself (cards/agenda.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from cards.agenda import capitalized, meeting_label
from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.consultations import identifier_kinds_text
from cards.i18n import format_day, plural, translator
from storage.cases import (
    MAX_MESSAGE_LENGTH,
    MAX_TAKEAWAY_LENGTH,
    OPEN_STATUSES,
    CaseRow,
)
from storage.identifiers import IdentifierKind
from storage.models import CaseDiscussion, CaseStatus, Community, Meeting

VERB_SHOW = "cases.show"
VERB_SUBMIT = "cases.submit"
VERB_SCHEDULE = "cases.schedule"
VERB_RETURN = "cases.return"
VERB_DECLINE = "cases.decline"
VERB_WITHDRAW = "cases.withdraw"
VERB_THEMES = "cases.themes"
VERB_TAKEAWAY = "cases.takeaway"
VERBS = frozenset(
    {
        VERB_SHOW,
        VERB_SUBMIT,
        VERB_SCHEDULE,
        VERB_RETURN,
        VERB_DECLINE,
        VERB_WITHDRAW,
        VERB_THEMES,
        VERB_TAKEAWAY,
    }
)

# A card lists this many cases; the rest are counted (Teams' 28 KB limit, and readability).
MAX_CASES_SHOWN = 10
# Each text of a case can be 2,000 characters: the list shows the beginning.
TEXT_PREVIEW = 500
# The four texts of a case, as the facilitators read them.
TEXT_FIELDS = ("context", "complexity", "question", "tried")


def status_label(status: str, *, locale: str) -> str:
    return translator(locale)(f"cases.status.{CaseStatus(status).value}")


def field_label(name: str, *, locale: str) -> str:
    return translator(locale)(f"cases.field.{name}")


def kinds_text(kinds: Sequence[IdentifierKind], *, locale: str) -> str:
    """What was spotted, in words (« un numéro de téléphone et une date de naissance »)."""
    return identifier_kinds_text(kinds, locale=locale)


def meeting_input_id(case_id: int) -> str:
    return f"meeting_{case_id}"


def message_input_id(case_id: int) -> str:
    return f"message_{case_id}"


def themes_input_id(case_id: int) -> str:
    return f"themes_{case_id}"


def takeaway_input_id(case_id: int) -> str:
    return f"takeaway_{case_id}"


def _preview(text: str) -> str:
    if len(text) <= TEXT_PREVIEW:
        return text
    return text[: TEXT_PREVIEW - 1].rstrip() + "…"


def _subtle(text: str) -> Element:
    return {
        "type": "TextBlock",
        "text": text,
        "isSubtle": True,
        "size": "Small",
        "spacing": "None",
        "wrap": True,
    }


def _begun(meeting: Meeting | None, now: datetime) -> bool:
    return meeting is not None and meeting.starts_at <= now


def _texts(case: CaseDiscussion, *, locale: str) -> list[Element]:
    items: list[Element] = []
    for name in TEXT_FIELDS:
        value = getattr(case, name)
        if value:
            items.append(
                {
                    "type": "TextBlock",
                    "text": field_label(name, locale=locale),
                    "weight": "Bolder",
                    "size": "Small",
                    "spacing": "Small",
                    "wrap": True,
                }
            )
            items.append(paragraph(_preview(value), spacing="None"))
    return items


def _where_picked(row: CaseRow, *, locale: str, tz: str) -> str | None:
    if row.meeting is None or row.case.status not in (CaseStatus.SCHEDULED, CaseStatus.DISCUSSED):
        return None
    return translator(locale)(
        "cases.card.meeting", meeting=meeting_label(row.meeting, locale=locale, tz=tz)
    )


def _facilitator_case(
    row: CaseRow, meetings: Sequence[Meeting], *, now: datetime, locale: str, tz: str
) -> Element:
    t = translator(locale)
    case = row.case
    assert case.id is not None
    name = (row.presenter.name if row.presenter else None) or t("cases.card.someone")
    facts = [
        status_label(case.status, locale=locale),
        t("cases.card.presented_by", name=name),
        t("cases.card.name_shown") if case.name_shown else t("cases.card.name_hidden"),
        t("cases.card.submitted_on", day=format_day(case.created_at, locale=locale, tz=tz)),
    ]
    items: list[Element] = [
        {"type": "TextBlock", "text": case.title, "weight": "Bolder", "wrap": True},
        _subtle(" · ".join(facts)),
    ]
    picked = _where_picked(row, locale=locale, tz=tz)
    if picked:
        items.append(paragraph(picked, spacing="Small"))
    if case.screening:
        items.append(_subtle(t("cases.card.confirmed_no_identifiers")))
    items += _texts(case, locale=locale)
    buttons: list[Element] = []
    if case.status == CaseStatus.SCHEDULED and _begun(row.meeting, now):
        # After the meeting: the themes it raised (they feed the topic bank).
        items.append(
            {
                "type": "Input.Text",
                "id": themes_input_id(case.id),
                "label": t("cases.card.themes_label"),
                "placeholder": t("cases.card.themes_placeholder"),
                "maxLength": 400,
            }
        )
        buttons.append(submit(t("cases.card.save_themes"), verb=VERB_THEMES, case_id=case.id))
    elif case.status in OPEN_STATUSES:
        choices = [m for m in meetings if m.id is not None]
        if choices:
            current = (
                case.meeting_id if case.meeting_id in {m.id for m in choices} else choices[0].id
            )
            items.append(
                {
                    "type": "Input.ChoiceSet",
                    "id": meeting_input_id(case.id),
                    "style": "compact",
                    "label": t("cases.card.meeting_label"),
                    "value": str(current),
                    "choices": [
                        {
                            "title": capitalized(meeting_label(m, locale=locale, tz=tz)),
                            "value": str(m.id),
                        }
                        for m in choices
                    ],
                }
            )
            buttons.append(submit(t("cases.card.schedule"), verb=VERB_SCHEDULE, case_id=case.id))
        else:
            items.append(_subtle(t("cases.card.no_meeting")))
        items.append(
            {
                "type": "Input.Text",
                "id": message_input_id(case.id),
                "label": t("cases.card.message_label"),
                "placeholder": t("cases.card.message_placeholder"),
                "isMultiline": True,
                "maxLength": MAX_MESSAGE_LENGTH,
            }
        )
        buttons.append(submit(t("cases.card.return"), verb=VERB_RETURN, case_id=case.id))
        buttons.append(submit(t("cases.card.decline"), verb=VERB_DECLINE, case_id=case.id))
    if buttons:
        items.append({"type": "ActionSet", "actions": buttons})
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def build_facilitator_cases_card(
    rows: Sequence[CaseRow],
    community: Community,
    meetings: Sequence[Meeting],
    *,
    now: datetime,
    locale: str,
    tz: str,
) -> Element:
    """The cases of one community the facilitators act on, with the presenter's name (they
    answer the presenter) and the upcoming meetings to pick from."""
    t = translator(locale)
    body: list[Element] = [
        paragraph(community.name, subtle=True),
        heading(t("cases.card.facilitators_title")),
        paragraph(t("cases.card.facilitators_intro"), subtle=True, spacing="None"),
    ]
    if not rows:
        body.append(paragraph(t("cases.card.none_waiting")))
    for row in rows[:MAX_CASES_SHOWN]:
        body.append(_facilitator_case(row, meetings, now=now, locale=locale, tz=tz))
    if len(rows) > MAX_CASES_SHOWN:
        hidden = len(rows) - MAX_CASES_SHOWN
        body.append(paragraph(plural(locale, "cases.card.more", hidden), subtle=True))
    return adaptive_card(
        body, [submit(t("cases.card.refresh"), verb=VERB_SHOW, community_id=community.id)]
    )


def _own_case(
    row: CaseRow,
    community: str,
    takeaway: str | None,
    *,
    now: datetime,
    locale: str,
    tz: str,
) -> Element:
    t = translator(locale)
    case = row.case
    assert case.id is not None
    facts = [
        community,
        status_label(case.status, locale=locale),
        t("cases.card.name_shown") if case.name_shown else t("cases.card.name_hidden"),
    ]
    items: list[Element] = [
        {"type": "TextBlock", "text": case.title, "weight": "Bolder", "wrap": True},
        _subtle(" · ".join(facts)),
    ]
    picked = _where_picked(row, locale=locale, tz=tz)
    if picked:
        items.append(paragraph(picked, spacing="Small"))
    if case.facilitator_message and case.status in (CaseStatus.RETURNED, CaseStatus.DECLINED):
        items.append(paragraph(t("cases.card.their_message", message=case.facilitator_message)))
    if row.themes:
        items.append(paragraph(t("cases.card.themes", themes=", ".join(row.themes))))
    buttons: list[Element] = []
    if case.status in OPEN_STATUSES:
        buttons.append(submit(t("cases.card.withdraw"), verb=VERB_WITHDRAW, case_id=case.id))
    if case.status in (CaseStatus.SCHEDULED, CaseStatus.DISCUSSED) and _begun(row.meeting, now):
        field: Element = {
            "type": "Input.Text",
            "id": takeaway_input_id(case.id),
            "label": t("cases.card.takeaway_label"),
            "placeholder": t("cases.card.takeaway_placeholder"),
            "isMultiline": True,
            "maxLength": MAX_TAKEAWAY_LENGTH,
        }
        if takeaway:
            field["value"] = takeaway
        items.append(field)
        buttons.append(submit(t("cases.card.save_takeaway"), verb=VERB_TAKEAWAY, case_id=case.id))
    if buttons:
        items.append({"type": "ActionSet", "actions": buttons})
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def build_my_cases_card(
    rows: Sequence[CaseRow],
    communities: Mapping[int, str],
    takeaways: Mapping[int, str],
    *,
    now: datetime,
    locale: str,
    tz: str,
) -> Element:
    """The presenter's own cases. Personal chat only: the takeaways are theirs alone."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("cases.card.mine_title")),
        paragraph(t("cases.card.mine_intro"), subtle=True, spacing="None"),
    ]
    if not rows:
        body.append(paragraph(t("cases.card.mine_none")))
    for row in rows[:MAX_CASES_SHOWN]:
        case_id = row.case.id or 0
        body.append(
            _own_case(
                row,
                communities.get(row.case.community_id, ""),
                takeaways.get(case_id),
                now=now,
                locale=locale,
                tz=tz,
            )
        )
    if len(rows) > MAX_CASES_SHOWN:
        hidden = len(rows) - MAX_CASES_SHOWN
        body.append(paragraph(plural(locale, "cases.card.more", hidden), subtle=True))
    return adaptive_card(body, [submit(t("cases.card.submit"), verb=VERB_SUBMIT)])
