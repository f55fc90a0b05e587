"""The meeting agenda (ordre du jour), modelled on ANNEXE C of the MSSS guide: the day's
timetable by part (volet), then the general and specific objectives; RSVP buttons with live
counts. Also the planning forms and the attendance list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.i18n import Translate, format_clock, format_day, translator
from storage.models import (
    AgendaItem,
    Community,
    Meeting,
    MeetingMode,
    MeetingStatus,
    Person,
    RsvpAnswer,
    Volet,
)


def volet_label(volet: str, t: Translate) -> str:
    return t(f"agenda.volet.{Volet(volet).value}")


def _where(meeting: Meeting, t: Translate) -> list[dict[str, str]]:
    facts = [
        {"title": t("agenda.mode"), "value": t(f"meeting.mode.{MeetingMode(meeting.mode).value}")}
    ]
    if meeting.place:
        facts.append({"title": t("agenda.place"), "value": meeting.place})
    return facts


def agenda_body(
    meeting: Meeting, items: Sequence[AgendaItem], *, locale: str, tz: str
) -> list[Element]:
    """The timetable and objectives, shared by the agenda card and the reminders."""
    t = translator(locale)
    rows: list[Element] = []
    for item in items:
        title = item.title + (f" — {item.presenter}" if item.presenter else "")
        rows.append(
            {
                "type": "ColumnSet",
                "spacing": "Small",
                "columns": [
                    {
                        "type": "Column",
                        "width": "60px",
                        "items": [
                            {
                                "type": "TextBlock",
                                "text": format_clock(item.starts_at, locale=locale, tz=tz),
                                "weight": "Bolder",
                            }
                        ],
                    },
                    {
                        "type": "Column",
                        "width": "stretch",
                        "items": [
                            {"type": "TextBlock", "text": title, "wrap": True},
                            {
                                "type": "TextBlock",
                                "text": volet_label(item.volet, t),
                                "isSubtle": True,
                                "spacing": "None",
                                "size": "Small",
                            },
                        ],
                    },
                ],
            }
        )
    body: list[Element] = []
    if rows:
        body.append({"type": "Container", "separator": True, "items": rows})
    if meeting.general_objective:
        body += [
            heading(t("agenda.general_objective"), size="Medium"),
            paragraph(meeting.general_objective),
        ]
    if meeting.specific_objectives:
        body += [
            heading(t("agenda.specific_objectives"), size="Medium"),
            paragraph("\n".join(f"- {o}" for o in meeting.specific_objectives)),
        ]
    return body


def build_agenda_card(
    meeting: Meeting,
    community: Community,
    items: Sequence[AgendaItem],
    counts: Mapping[str, int],
    *,
    locale: str,
    tz: str,
) -> Element:
    t = translator(locale)
    day = format_day(meeting.starts_at, locale=locale, tz=tz)
    hours = t(
        "agenda.hours",
        start=format_clock(meeting.starts_at, locale=locale, tz=tz),
        end=format_clock(meeting.ends_at, locale=locale, tz=tz),
    )
    body: list[Element] = [
        paragraph(community.name, subtle=True),
        heading(t("agenda.title"), size="Large"),
        paragraph(meeting.title, spacing="None") if meeting.title else paragraph(""),
        {"type": "TextBlock", "text": f"{day} · {hours}", "weight": "Bolder", "wrap": True},
        {"type": "FactSet", "facts": _where(meeting, t)},
    ]
    body = [b for b in body if b.get("text") != ""]
    if meeting.status == MeetingStatus.CANCELLED:
        body.insert(
            2,
            {
                "type": "TextBlock",
                "text": t("agenda.cancelled"),
                "color": "Attention",
                "weight": "Bolder",
                "wrap": True,
            },
        )
    body += agenda_body(meeting, items, locale=locale, tz=tz)
    actions: list[Element] = []
    if meeting.online_link and meeting.status == MeetingStatus.SCHEDULED:
        actions.append(
            {"type": "Action.OpenUrl", "title": t("reminder.join"), "url": meeting.online_link}
        )
    if meeting.status == MeetingStatus.SCHEDULED:
        body.append(paragraph(t("agenda.rsvp_prompt"), subtle=True))
        for answer in RsvpAnswer:
            actions.append(
                submit(
                    t(f"agenda.rsvp.{answer.value}", count=counts.get(answer.value, 0)),
                    verb="meeting.rsvp",
                    meeting_id=meeting.id,
                    answer=answer.value,
                )
            )
    return adaptive_card(body, actions or None)


# -- planning forms --


@dataclass(frozen=True, slots=True)
class MeetingForm:
    date: str = ""
    start: str = "09:00"
    end: str = "16:00"
    mode: str = MeetingMode.HYBRID.value
    place: str = ""
    link: str = ""
    title: str = ""
    general_objective: str = ""
    specific_objectives: str = ""
    topic_id: str = ""


def build_meeting_form_card(
    form: MeetingForm,
    *,
    topics: Sequence[tuple[int, str]],
    locale: str,
    errors: Sequence[str] = (),
) -> Element:
    t = translator(locale)
    body: list[Element] = [heading(t("plan.title")), paragraph(t("plan.intro"), subtle=True)]
    body += [{"type": "TextBlock", "text": e, "color": "Attention", "wrap": True} for e in errors]
    body += [
        {
            "type": "Input.Text",
            "id": "title",
            "label": t("plan.field.title"),
            "value": form.title,
            "maxLength": 200,
        },
        {
            "type": "Input.Date",
            "id": "date",
            "label": t("plan.field.date"),
            "value": form.date,
            "isRequired": True,
            "errorMessage": t("plan.error.date"),
        },
        {
            "type": "ColumnSet",
            "columns": [
                {
                    "type": "Column",
                    "items": [
                        {
                            "type": "Input.Time",
                            "id": "start",
                            "label": t("plan.field.start"),
                            "value": form.start,
                        }
                    ],
                },
                {
                    "type": "Column",
                    "items": [
                        {
                            "type": "Input.Time",
                            "id": "end",
                            "label": t("plan.field.end"),
                            "value": form.end,
                        }
                    ],
                },
            ],
        },
        {
            "type": "Input.ChoiceSet",
            "id": "mode",
            "label": t("plan.field.mode"),
            "value": form.mode,
            "choices": [
                {"title": t(f"meeting.mode.{m.value}"), "value": m.value} for m in MeetingMode
            ],
        },
        {
            "type": "Input.Text",
            "id": "place",
            "label": t("plan.field.place"),
            "value": form.place,
            "maxLength": 300,
        },
        {
            "type": "Input.Text",
            "id": "link",
            "label": t("plan.field.link"),
            "value": form.link,
            "maxLength": 1000,
            "style": "Url",
        },
        {
            "type": "Input.Text",
            "id": "general_objective",
            "label": t("plan.field.general_objective"),
            "value": form.general_objective,
            "isMultiline": True,
            "maxLength": 1000,
        },
        {
            "type": "Input.Text",
            "id": "specific_objectives",
            "label": t("plan.field.specific_objectives"),
            "value": form.specific_objectives,
            "isMultiline": True,
            "maxLength": 2000,
        },
        {
            "type": "Input.ChoiceSet",
            "id": "topic_id",
            "label": t("plan.field.topic"),
            "value": form.topic_id,
            "choices": [{"title": t("plan.no_topic"), "value": ""}]
            + [{"title": title, "value": str(topic_id)} for topic_id, title in topics],
        },
    ]
    return adaptive_card(
        body,
        [
            submit(t("plan.next"), verb="meeting.plan", style="positive"),
            submit(t("setup.cancel"), verb="meeting.plan.cancel"),
        ],
    )


@dataclass(frozen=True, slots=True)
class AgendaRow:
    time: str
    title: str
    volet: str
    presenter: str = ""


@dataclass(frozen=True, slots=True)
class AgendaForm:
    rows: list[AgendaRow] = field(default_factory=list)
    general_objective: str = ""
    specific_objectives: str = ""


def build_agenda_form_card(
    form: AgendaForm, *, heading_text: str, locale: str, errors: Sequence[str] = ()
) -> Element:
    t = translator(locale)
    body: list[Element] = [heading(t("plan.agenda_title")), paragraph(heading_text, subtle=True)]
    body += [{"type": "TextBlock", "text": e, "color": "Attention", "wrap": True} for e in errors]
    for n, row in enumerate(form.rows):
        body.append(
            {
                "type": "ColumnSet",
                "separator": n == 0,
                "columns": [
                    {
                        "type": "Column",
                        "width": "90px",
                        "items": [{"type": "Input.Time", "id": f"time_{n}", "value": row.time}],
                    },
                    {
                        "type": "Column",
                        "width": "stretch",
                        "items": [
                            {
                                "type": "Input.Text",
                                "id": f"title_{n}",
                                "value": row.title,
                                "placeholder": t("plan.item_title"),
                                "maxLength": 200,
                            }
                        ],
                    },
                    {
                        "type": "Column",
                        "width": "130px",
                        "items": [
                            {
                                "type": "Input.ChoiceSet",
                                "id": f"volet_{n}",
                                "value": row.volet,
                                "choices": [
                                    {"title": volet_label(v.value, t), "value": v.value}
                                    for v in Volet
                                ],
                            }
                        ],
                    },
                    {
                        "type": "Column",
                        "width": "stretch",
                        "items": [
                            {
                                "type": "Input.Text",
                                "id": f"presenter_{n}",
                                "value": row.presenter,
                                "placeholder": t("plan.presenter"),
                                "maxLength": 200,
                            }
                        ],
                    },
                ],
            }
        )
    body += [
        {
            "type": "Input.Text",
            "id": "general_objective",
            "label": t("plan.field.general_objective"),
            "value": form.general_objective,
            "isMultiline": True,
            "maxLength": 1000,
        },
        {
            "type": "Input.Text",
            "id": "specific_objectives",
            "label": t("plan.field.specific_objectives"),
            "value": form.specific_objectives,
            "isMultiline": True,
            "maxLength": 2000,
        },
    ]
    return adaptive_card(
        body,
        [
            submit(
                t("plan.publish"),
                verb="meeting.agenda.publish",
                style="positive",
                rows=len(form.rows),
            ),
            submit(t("plan.add_row"), verb="meeting.agenda.add_row", rows=len(form.rows)),
            submit(t("setup.cancel"), verb="meeting.plan.cancel"),
        ],
    )


def build_attendance_card(
    meeting: Meeting,
    roster: Sequence[tuple[Person, RsvpAnswer | None]],
    *,
    community: Community,
    locale: str,
    tz: str,
) -> Element:
    """After the meeting: the members, pre-checked from their RSVPs, for the animator."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("attendance.title")),
        paragraph(
            t(
                "attendance.intro",
                community=community.name,
                day=format_day(meeting.starts_at, locale=locale, tz=tz),
            )
        ),
    ]
    for person, answer in roster:
        body.append(
            {
                "type": "Input.Toggle",
                "id": f"present_{person.id}",
                "title": person.name or person.teams_user_id,
                "value": "true" if answer == RsvpAnswer.YES else "false",
                "valueOn": "true",
                "valueOff": "false",
            }
        )
    return adaptive_card(
        body,
        [
            submit(
                t("attendance.submit"),
                verb="meeting.attendance",
                meeting_id=meeting.id,
                style="positive",
            )
        ],
    )


def local_time(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%H:%M")
