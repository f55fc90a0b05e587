"""The reminder a member receives before a meeting (J-7, J-1, H-1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from cards.agenda import agenda_body
from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.i18n import format_span, plural, translator
from storage.cases import AgendaCase
from storage.models import AgendaItem, Community, Meeting, MeetingMode, Resource, RsvpAnswer


def _lead_time_key(offset: timedelta) -> tuple[str, int]:
    if offset >= timedelta(days=1):
        return "reminder.lead.days", offset.days
    return "reminder.lead.hours", max(1, round(offset.total_seconds() / 3600))


def build_meeting_reminder_card(
    meeting: Meeting,
    community: Community,
    *,
    offset: timedelta,
    locale: str,
    tz: str,
    items: Sequence[AgendaItem] = (),
    calendar_url: str | None = None,
    cases: Sequence[AgendaCase] = (),
    resources: Mapping[int, Sequence[Resource]] | None = None,
) -> Element:
    """`calendar_url`: the signed link to the meeting's .ics invitation (a button).
    `cases`: the complex cases picked for its reflective part (storage/cases.py
    `agenda_cases`: the presenter's name only when they agreed), as on the agenda card; so are
    `resources`, the toolbox resources attached to its items (storage/toolbox.py)."""
    t = translator(locale)
    lead_key, amount = _lead_time_key(offset)
    facts = [
        {
            "title": t("reminder.when"),
            "value": format_span(meeting.starts_at, meeting.ends_at, locale=locale, tz=tz),
        },
        {
            "title": t("reminder.mode"),
            "value": t(f"meeting.mode.{MeetingMode(meeting.mode).value}"),
        },
    ]
    if meeting.place:
        facts.append({"title": t("reminder.place"), "value": meeting.place})
    body: list[Element] = [
        heading(t("reminder.title", community=community.name), size="Medium"),
        paragraph(plural(locale, lead_key, amount), subtle=True, spacing="None"),
    ]
    if meeting.title:
        body.append(paragraph(meeting.title))
    body.append({"type": "FactSet", "facts": facts})
    # The agenda as it is now (the reminder is rendered when it is sent).
    body += agenda_body(meeting, items, locale=locale, tz=tz, cases=cases, resources=resources)
    actions: list[Element] = []
    if meeting.online_link:
        actions.append(
            {"type": "Action.OpenUrl", "title": t("reminder.join"), "url": meeting.online_link}
        )
    actions += [
        submit(
            t(f"reminder.rsvp.{answer.value}"),
            verb="meetings.rsvp",
            meeting_id=meeting.id,
            answer=answer.value,
        )
        for answer in RsvpAnswer
    ]
    if calendar_url:
        actions.append(
            {"type": "Action.OpenUrl", "title": t("agenda.calendar"), "url": calendar_url}
        )
    return adaptive_card(body, actions)
