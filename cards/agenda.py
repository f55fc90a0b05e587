"""The meeting agenda (ordre du jour), modelled on ANNEXE C of the MSSS guide: the day's
timetable by part (volet), then the general and specific objectives; RSVP buttons with live
counts. Also the planning forms and the attendance list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal

from cards.common import (
    Element,
    adaptive_card,
    form_submit,
    heading,
    paragraph,
    submit,
    task_button,
    with_refresh,
)
from cards.confirm import VERB_DISMISS
from cards.i18n import (
    Translate,
    babel_locale,
    format_clock,
    format_day,
    format_span,
    translator,
)
from storage.attestations import hours_of
from storage.cases import AgendaCase
from storage.meetings import AttendanceSheet
from storage.models import (
    AgendaItem,
    Community,
    Meeting,
    MeetingMode,
    MeetingStatus,
    Resource,
    RsvpAnswer,
    Volet,
)

# The refresh of every posted agenda card: each person's client asks for their own view.
VERB_VIEW = "meetings.view"


def volet_label(volet: str, t: Translate) -> str:
    return t(f"agenda.volet.{Volet(volet).value}")


def _where(meeting: Meeting, t: Translate) -> list[dict[str, str]]:
    facts = [
        {"title": t("agenda.mode"), "value": t(f"meeting.mode.{MeetingMode(meeting.mode).value}")}
    ]
    if meeting.place:
        facts.append({"title": t("agenda.place"), "value": meeting.place})
    return facts


def _case_lines(cases: Sequence[AgendaCase], t: Translate) -> list[Element]:
    """The cases picked for the reflective part: their title, and the presenter's name only
    when they agreed (storage/cases.py `agenda_cases` leaves it out otherwise)."""
    return [
        {
            "type": "TextBlock",
            "text": (
                t("agenda.case.named", title=case.title, name=case.presenter)
                if case.presenter
                else t("agenda.case.unnamed", title=case.title)
            ),
            "spacing": "None",
            "size": "Small",
            "wrap": True,
        }
        for case in cases
    ]


def _resource_lines(resources: Sequence[Resource], t: Translate) -> list[Element]:
    """Toolbox resources attached to an item, each its title as a link. Brackets in a title
    and parentheses or spaces in a link would end the Markdown link early."""
    lines: list[Element] = []
    for resource in resources:
        title = resource.title.replace("[", "(").replace("]", ")")
        url = resource.url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
        lines.append(
            {
                "type": "TextBlock",
                "text": t("agenda.resource", title=title, url=url),
                "spacing": "None",
                "size": "Small",
                "wrap": True,
            }
        )
    return lines


def agenda_body(
    meeting: Meeting,
    items: Sequence[AgendaItem],
    *,
    locale: str,
    tz: str,
    cases: Sequence[AgendaCase] = (),
    resources: Mapping[int, Sequence[Resource]] | None = None,
) -> list[Element]:
    """The timetable and objectives, shared by the agenda card and the reminders; `cases`
    (complex-case discussions) under the first reflective part, or after the timetable;
    `resources` (storage/toolbox.py `agenda_resources`: active ones, by item id) under their
    item."""
    t = translator(locale)
    rows: list[Element] = []
    pending_cases = list(cases)
    for item in items:
        title = item.title + (f" — {item.presenter}" if item.presenter else "")
        under: list[Element] = _resource_lines((resources or {}).get(item.id or 0, ()), t)
        if pending_cases and item.volet == Volet.REFLECTIVE:
            under, pending_cases = under + _case_lines(pending_cases, t), []
        rows.append(
            {
                "type": "ColumnSet",
                "spacing": "Small",
                "columns": [
                    # "auto": the column is as wide as its time (« 10:30 AM », « 16 h 30 »),
                    # never a fixed width that cuts it; wrap for the narrowest screens.
                    {
                        "type": "Column",
                        "width": "auto",
                        "items": [
                            {
                                "type": "TextBlock",
                                "text": format_clock(item.starts_at, locale=locale, tz=tz),
                                "weight": "Bolder",
                                "wrap": True,
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
                            *under,
                        ],
                    },
                ],
            }
        )
    if pending_cases:
        # No reflective part on the agenda (yet): the cases still show, labelled as such.
        rows.append(
            {
                "type": "Container",
                "spacing": "Small",
                "items": [
                    paragraph(volet_label(Volet.REFLECTIVE, t), subtle=True),
                    *_case_lines(pending_cases, t),
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
    calendar_url: str | None = None,
    viewers: Sequence[str] | None = None,
    own_answer: RsvpAnswer | None = None,
    cases: Sequence[AgendaCase] = (),
    resources: Mapping[int, Sequence[Resource]] | None = None,
    cohosts: Sequence[str] = (),
    withdrawn: str | None = None,
) -> Element:
    """`cohosts`: the names of the communities co-hosting a joint meeting (« Rencontre
    conjointe avec … »); `withdrawn`: the name of a community that stopped co-hosting, on the
    last update of the copies in its channel (no buttons: its members no longer answer).
    `cases`: the complex cases picked for its reflective part (storage/cases.py);
    `resources`: the toolbox resources attached to its items (storage/toolbox.py).
    `calendar_url`: the signed link to the meeting's .ics invitation (a button).
    `viewers`: the Teams ids of the people whose client asks for their own view (`VERB_VIEW`,
    a refresh), as every posted copy does; `own_answer`: that view's reader's answer
    (« Votre réponse : Présent·e »), for their eyes only."""
    t = translator(locale)
    body: list[Element] = [
        paragraph(community.name, subtle=True),
        heading(t("agenda.title"), size="Large"),
        paragraph(meeting.title, spacing="None") if meeting.title else paragraph(""),
        {
            "type": "TextBlock",
            "text": format_span(meeting.starts_at, meeting.ends_at, locale=locale, tz=tz),
            "weight": "Bolder",
            "wrap": True,
        },
        {"type": "FactSet", "facts": _where(meeting, t)},
    ]
    body = [b for b in body if b.get("text") != ""]
    if cohosts:
        body.insert(1, paragraph(t("agenda.joint", names=", ".join(cohosts)), spacing="None"))
    if withdrawn is not None:
        body.insert(
            1,
            {
                "type": "TextBlock",
                "text": t("agenda.cohost_withdrawn", guest=withdrawn),
                "color": "Attention",
                "weight": "Bolder",
                "wrap": True,
            },
        )
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
    body += agenda_body(meeting, items, locale=locale, tz=tz, cases=cases, resources=resources)
    actions: list[Element] = []
    if withdrawn is not None:
        return adaptive_card(body)
    if meeting.online_link and meeting.status == MeetingStatus.SCHEDULED:
        actions.append(
            {"type": "Action.OpenUrl", "title": t("reminder.join"), "url": meeting.online_link}
        )
    if meeting.status == MeetingStatus.SCHEDULED:
        body.append(paragraph(t("agenda.rsvp_prompt"), subtle=True))
        if own_answer is not None:
            body.append(
                {
                    "type": "TextBlock",
                    "text": t(f"agenda.your_answer.{RsvpAnswer(own_answer).value}"),
                    "weight": "Bolder",
                    "spacing": "Small",
                    "wrap": True,
                }
            )
        for answer in RsvpAnswer:
            actions.append(
                submit(
                    t(f"agenda.rsvp.{answer.value}", count=counts.get(answer.value, 0)),
                    verb="meetings.rsvp",
                    meeting_id=meeting.id,
                    answer=answer.value,
                )
            )
    if calendar_url:
        actions.append(
            {"type": "Action.OpenUrl", "title": t("agenda.calendar"), "url": calendar_url}
        )
    card = adaptive_card(body, actions or None)
    if viewers is None or meeting.id is None:
        return card
    return with_refresh(
        card, verb=VERB_VIEW, data={"meeting_id": meeting.id}, user_ids=list(viewers)
    )


def meeting_label(meeting: Meeting, *, locale: str, tz: str) -> str:
    """« la rencontre « Rencontre d’automne » du mardi 29 décembre 2026, de 9 h à 16 h »: how
    a card or a notice names one meeting among others."""
    t = translator(locale)
    when = format_span(meeting.starts_at, meeting.ends_at, locale=locale, tz=tz)
    if meeting.title:
        return t("meeting.label.titled", title=meeting.title, when=when)
    return t("meeting.label.untitled", when=when)


def capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def build_meeting_choice_card(
    meetings: Sequence[Meeting],
    *,
    verb: str,
    heading_key: str,
    locale: str,
    tz: str,
    button_key: str = "plan.cancel.pick",
    cohosts: Mapping[int, Sequence[str]] | None = None,
) -> Element:
    """Which meeting? One line and one button per upcoming meeting, soonest first; the button
    sends `verb` with the meeting's id (the handler then asks for confirmation). `cohosts`:
    by meeting id, the communities co-hosting a joint meeting (a line under it)."""
    t = translator(locale)
    body: list[Element] = [heading(t(heading_key), size="Medium")]
    for meeting in meetings:
        body.append(
            {
                "type": "Container",
                "separator": True,
                "items": [
                    {
                        "type": "TextBlock",
                        "text": meeting.title or t("meeting.untitled"),
                        "weight": "Bolder",
                        "wrap": True,
                    },
                    paragraph(
                        format_span(meeting.starts_at, meeting.ends_at, locale=locale, tz=tz),
                        spacing="None",
                    ),
                    *_joint_line(meeting, cohosts, t),
                    {
                        "type": "ActionSet",
                        "actions": [submit(t(button_key), verb=verb, meeting_id=meeting.id)],
                    },
                ],
            }
        )
    return adaptive_card(body, [submit(t("confirm.dismiss"), verb=VERB_DISMISS)])


def _joint_line(
    meeting: Meeting, cohosts: Mapping[int, Sequence[str]] | None, t: Translate
) -> list[Element]:
    names = (cohosts or {}).get(meeting.id or 0)
    if not names:
        return []
    return [paragraph(t("agenda.joint", names=", ".join(names)), subtle=True, spacing="None")]


# -- joint meetings --

VERB_COHOST_INVITE = "meetings.cohost.invite"
VERB_COHOST_ACCEPT = "meetings.cohost.accept"
VERB_COHOST_DECLINE = "meetings.cohost.decline"
VERB_COHOST_WITHDRAW = "meetings.cohost.withdraw"


def build_cohost_form_card(
    meetings: Sequence[Meeting],
    communities: Sequence[Community],
    *,
    locale: str,
    tz: str,
    cohosts: Mapping[int, Sequence[str]] | None = None,
    errors: Sequence[str] = (),
) -> Element:
    """`rencontre conjointe`: which of the community's meetings, and which community to
    invite to co-host it. Says up front that the invited community must accept."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("cohost.form.title"), size="Medium"),
        paragraph(t("cohost.form.intro"), subtle=True),
    ]
    body += [{"type": "TextBlock", "text": e, "color": "Attention", "wrap": True} for e in errors]

    def meeting_choice(meeting: Meeting) -> str:
        label = capitalized(meeting_label(meeting, locale=locale, tz=tz))
        names = (cohosts or {}).get(meeting.id or 0)
        return f"{label} — {t('agenda.joint', names=', '.join(names))}" if names else label

    body += [
        {
            "type": "Input.ChoiceSet",
            "id": "meeting_id",
            "label": t("cohost.form.meeting"),
            "value": str(meetings[0].id) if len(meetings) == 1 else "",
            "isRequired": True,
            "errorMessage": t("cohost.choose"),
            "choices": [{"title": meeting_choice(m), "value": str(m.id)} for m in meetings],
        },
        {
            "type": "Input.ChoiceSet",
            "id": "community_id",
            "label": t("cohost.form.community"),
            "value": "",
            "isRequired": True,
            "errorMessage": t("cohost.choose"),
            "choices": [{"title": c.name, "value": str(c.id)} for c in communities],
        },
    ]
    return adaptive_card(
        body,
        [
            submit(t("cohost.form.submit"), verb=VERB_COHOST_INVITE, style="positive"),
            submit(t("confirm.dismiss"), verb=VERB_DISMISS),
        ],
    )


def build_cohost_invitation_card(
    meeting: Meeting, host: Community, guest: Community, *, locale: str, tz: str
) -> Element:
    """To each facilitator of the invited community: who invites, to what, what accepting
    does; « Accepter » / « Décliner »."""
    t = translator(locale)
    label = meeting_label(meeting, locale=locale, tz=tz)
    body: list[Element] = [
        heading(t("cohost.invitation.title"), size="Medium"),
        paragraph(t("cohost.invitation.text", host=host.name, guest=guest.name, meeting=label)),
        {"type": "FactSet", "facts": _where(meeting, t)},
        paragraph(t("cohost.invitation.consequences", guest=guest.name), subtle=True),
    ]
    data: dict[str, Any] = {"meeting_id": meeting.id, "community_id": guest.id}
    return adaptive_card(
        body,
        [
            submit(t("cohost.accept"), verb=VERB_COHOST_ACCEPT, style="positive", **data),
            submit(t("cohost.decline"), verb=VERB_COHOST_DECLINE, **data),
        ],
    )


def build_meeting_outcome_card(
    lines: Sequence[str], *, actions: Sequence[Element] = (), attention: bool = False
) -> Element:
    """What a confirmation card becomes once acted on: what happened, and what can follow
    (« Rétablir la rencontre »)."""
    body: list[Element] = [
        {
            "type": "TextBlock",
            "text": lines[0],
            "weight": "Bolder",
            "wrap": True,
            **({"color": "Attention"} if attention else {}),
        }
    ]
    body += [paragraph(line) for line in lines[1:]]
    return adaptive_card(body, list(actions) or None)


# -- planning forms --
#
# Each form can be shown in a Teams dialog (task module: `dialog` names the registered form, its
# buttons come back as `task/submit`) or in the conversation (`dialog` is None: its buttons come
# back as messages), for clients without Teams dialogs such as the Agents Playground. The
# buttons carry the same `verb` either way, so both paths share one handler per step.


def _form_button(
    title: str, *, verb: str, dialog: str | None, style: str | None = None, **data: object
) -> Element:
    if dialog is not None:
        return form_submit(title, form=dialog, style=style, verb=verb, **data)
    return submit(title, verb=verb, style=style, **data)


def build_form_launcher_card(
    *, title: str, form: str, verb: str, data: dict[str, Any], locale: str
) -> Element:
    """The small card a form command posts in the channel: its main button opens the form in a
    Teams dialog (drafts and errors stay private there); « Remplir ici » shows the form in the
    conversation instead, for clients without Teams dialogs. Both buttons carry the same data
    (`verb` and ids), so either way the same handler answers."""
    t = translator(locale)
    return adaptive_card(
        [heading(title, size="Medium"), paragraph(t("plan.launcher.intro"), subtle=True)],
        [
            {
                **task_button(t("plan.launcher.open"), form=form, verb=verb, **data),
                "style": "positive",
            },
            submit(t("plan.launcher.inline"), verb=verb, **data),
        ],
    )


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
    dialog: str | None = None,
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
            _form_button(t("plan.next"), verb="meetings.plan", dialog=dialog, style="positive"),
            _form_button(t("setup.cancel"), verb="meetings.plan.cancel", dialog=dialog),
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
    form: AgendaForm,
    *,
    heading_text: str,
    locale: str,
    errors: Sequence[str] = (),
    dialog: str | None = None,
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
            _form_button(
                t("plan.publish"),
                verb="meetings.agenda.publish",
                dialog=dialog,
                style="positive",
                rows=len(form.rows),
            ),
            _form_button(
                t("plan.add_row"),
                verb="meetings.agenda.add_row",
                dialog=dialog,
                rows=len(form.rows),
            ),
            _form_button(t("setup.cancel"), verb="meetings.plan.cancel", dialog=dialog),
        ],
    )


@dataclass(frozen=True, slots=True)
class MoveForm:
    date: str
    start: str
    end: str


def build_move_form_card(
    form: MoveForm,
    *,
    meeting_id: int,
    heading_text: str,
    locale: str,
    errors: Sequence[str] = (),
    dialog: str | None = None,
) -> Element:
    """The new date and times of a meeting (those who accepted are told of the move)."""
    t = translator(locale)
    body: list[Element] = [heading(t("plan.move_title")), paragraph(heading_text, subtle=True)]
    body += [{"type": "TextBlock", "text": e, "color": "Attention", "wrap": True} for e in errors]
    body += [
        {"type": "Input.Date", "id": "date", "label": t("plan.field.date"), "value": form.date},
        {"type": "Input.Time", "id": "start", "label": t("plan.field.start"), "value": form.start},
        {"type": "Input.Time", "id": "end", "label": t("plan.field.end"), "value": form.end},
    ]
    return adaptive_card(
        body,
        [
            _form_button(
                t("plan.move_submit"),
                verb="meetings.move",
                dialog=dialog,
                style="positive",
                meeting_id=meeting_id,
            ),
            _form_button(t("setup.cancel"), verb="meetings.plan.cancel", dialog=dialog),
        ],
    )


def format_hours(minutes: int, locale: str) -> str:
    """Hours as attestations count them, to the hundredth: « 5,75 » / « 5.75 »."""
    return str(format_decimal(hours_of(minutes), format="#,##0.##", locale=babel_locale(locale)))


def training_basis(*, minutes: int, length: int, locale: str) -> str:
    """How the hours were counted: « 6 h de formation, repas et pauses exclus (1 h) », or the
    whole meeting (no meal on the agenda, or attendance recorded before meals were left out)."""
    t = translator(locale)
    hours = format_hours(minutes, locale)
    if minutes < length:
        return t(
            "hours.training.excluded", hours=hours, excluded=format_hours(length - minutes, locale)
        )
    return t("hours.training.whole", hours=hours)


def meeting_minutes(meeting: Meeting) -> int:
    return int((meeting.ends_at - meeting.starts_at).total_seconds() // 60)


def build_attendance_card(sheet: AttendanceSheet, *, locale: str, tz: str) -> Element:
    """After the meeting, for the animators: before any confirmation, the members pre-checked
    from their RSVPs; afterwards, what is recorded (checked = recorded present, with the hours
    recorded), so that submitting again is a correction of the record, not a replacement."""
    t = translator(locale)
    meeting = sheet.meeting
    day = format_day(meeting.starts_at, locale=locale, tz=tz)
    intro = "attendance.intro_recorded" if sheet.confirmed else "attendance.intro"
    basis = training_basis(
        minutes=sheet.training_minutes, length=meeting_minutes(meeting), locale=locale
    )
    body: list[Element] = [
        heading(t("attendance.title_recorded" if sheet.confirmed else "attendance.title")),
        paragraph(t(intro, community=sheet.community.name, day=day)),
        paragraph(t("attendance.hours", basis=basis), subtle=True),
    ]
    for line in sheet.lines:
        name = line.person.name or line.person.teams_user_id
        checked = line.minutes is not None if sheet.confirmed else line.answer == RsvpAnswer.YES
        title = (
            name
            if line.minutes is None
            else t("attendance.person_hours", name=name, hours=format_hours(line.minutes, locale))
        )
        body.append(
            {
                "type": "Input.Toggle",
                "id": f"present_{line.person.id}",
                "title": title,
                "value": "true" if checked else "false",
                "valueOn": "true",
                "valueOff": "false",
                "wrap": True,
            }
        )
    return adaptive_card(
        body,
        [
            submit(
                t("attendance.submit_change" if sheet.confirmed else "attendance.submit"),
                verb="meetings.attendance",
                meeting_id=meeting.id,
                style="positive",
            )
        ],
    )


def local_time(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%H:%M")
