"""What administrative support, animators and coordinators read: the lists card (signed links
to the mailing list, the attendance sheets, the timesheets), the partial presence and guests
card of a meeting, the mentoring supervision card, the e-mail consent card; and the CSV files.

CSV: French spreadsheets expect « ; » and a decimal comma, English ones « , » and a point. A
cell that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
return) is neutralised with a leading apostrophe: names and titles are typed by people.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from babel.numbers import format_decimal

from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.i18n import (
    babel_locale,
    format_day,
    format_span,
    language_of,
    long_date,
    plural,
    translator,
)
from storage.admin import GUEST_KINDS, MailingRow, Sheet, Supervision, TimeRow
from storage.attestations import hours_of

VERB_ATTENDANCE = "admin.attendance"
VERB_GUEST_REMOVE = "admin.guest_remove"
VERB_CONSENT = "admin.consent"
VERB_SUPPORT = "admin.support"
VERBS = frozenset({VERB_ATTENDANCE, VERB_GUEST_REMOVE, VERB_CONSENT, VERB_SUPPORT})
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def hours_text(minutes: int, locale: str) -> str:
    return str(format_decimal(hours_of(minutes), format="#,##0.##", locale=babel_locale(locale)))


def _csv_hours(minutes: int, locale: str) -> str:
    text = f"{hours_of(minutes):.2f}"
    return text.replace(".", ",") if language_of(locale) == "fr" else text


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]], *, locale: str) -> str:
    buffer = io.StringIO()
    french = language_of(locale) == "fr"
    writer = csv.writer(buffer, delimiter=";" if french else ",", lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


def mailing_csv(rows: Sequence[MailingRow], *, locale: str) -> str:
    t = translator(locale)
    return _csv(
        [t("admin.csv.name"), t("admin.csv.email")],
        [(row.name, row.email or "") for row in rows],
        locale=locale,
    )


def sheet_csv(data: Sheet, *, locale: str) -> str:
    t = translator(locale)
    rows: list[list[object]] = [
        [line.name, t("admin.csv.member"), line.late, line.early, _csv_hours(line.minutes, locale)]
        for line in data.lines
    ]
    rows += [[g.name, t(f"admin.guest.{g.kind}"), "", "", ""] for g in data.guests]
    return _csv(
        [
            t("admin.csv.name"),
            t("admin.csv.status"),
            t("admin.csv.late"),
            t("admin.csv.early"),
            t("admin.csv.hours"),
        ],
        rows,
        locale=locale,
    )


def time_csv(rows: Sequence[TimeRow], *, start: date, end: date, locale: str) -> str:
    t = translator(locale)
    return _csv(
        [
            t("admin.csv.name"),
            t("admin.csv.start"),
            t("admin.csv.end"),
            t("admin.csv.meetings"),
            t("admin.csv.hours"),
        ],
        [
            (
                row.name,
                start.isoformat(),
                end.isoformat(),
                row.meetings,
                _csv_hours(row.minutes, locale),
            )
            for row in rows
        ],
        locale=locale,
    )


# -- the lists card --


@dataclass(frozen=True, slots=True)
class SheetLinks:
    title: str
    starts_at: datetime
    ends_at: datetime
    pdf: str
    csv: str


@dataclass(frozen=True, slots=True)
class ListLinks:
    community: str
    start: date
    end: date
    mailing: str
    timesheet: str
    facilitators: str
    sheets: tuple[SheetLinks, ...]
    days: int


def _label(text: str) -> str:
    return text.replace("[", "(").replace("]", ")").strip()


def build_lists_card(links: ListLinks, *, locale: str, tz: str) -> Element:
    t = translator(locale)
    period = t(
        "admin.lists.period", start=long_date(links.start, locale), end=long_date(links.end, locale)
    )
    body: list[Element] = [
        heading(t("admin.lists.title", community=links.community), size="Medium"),
        paragraph(f"[{t('admin.lists.mailing')}]({links.mailing})"),
        paragraph(f"[{t('admin.lists.timesheet')}]({links.timesheet}) — {period}"),
        paragraph(f"[{t('admin.lists.facilitators')}]({links.facilitators}) — {period}"),
        heading(t("admin.lists.sheets"), size="Default"),
    ]
    if not links.sheets:
        body.append(paragraph(t("admin.lists.no_meeting"), subtle=True))
    for item in links.sheets:
        span = format_span(item.starts_at, item.ends_at, locale=locale, tz=tz)
        when = span[:1].upper() + span[1:]  # it starts the line
        title = _label(item.title) or t("admin.lists.untitled")
        body.append(
            paragraph(t("admin.lists.sheet", when=when, title=title, pdf=item.pdf, csv=item.csv))
        )
    body.append(paragraph(plural(locale, "admin.lists.expiry", links.days), subtle=True))
    return adaptive_card(body)


# -- partial presence and guests --


def build_sheet_card(data: Sheet, *, locale: str, tz: str) -> Element:
    """Who was recorded present, with minutes late / left early to correct, and the guests."""
    t = translator(locale)
    meeting = data.meeting
    body: list[Element] = [
        heading(t("admin.sheet.title", title=meeting.title or data.community.name), size="Medium"),
        paragraph(
            format_span(meeting.starts_at, meeting.ends_at, locale=locale, tz=tz),
            subtle=True,
            spacing="None",
        ),
    ]
    if not data.lines:
        body.append(paragraph(t("admin.sheet.nobody")))
    for line in data.lines:
        body.append(
            {
                "type": "ColumnSet",
                "columns": [
                    {
                        "type": "Column",
                        # Weights, not "stretch" beside two "auto" inputs: those took their
                        # labels' width and left the names a few letters per line.
                        "width": 3,
                        "verticalContentAlignment": "Bottom",
                        "items": [
                            paragraph(
                                t(
                                    "admin.sheet.line",
                                    name=line.name,
                                    hours=hours_text(line.minutes, locale),
                                )
                            )
                        ],
                    },
                    _number_column(f"late_{line.person_id}", t("admin.sheet.late"), line.late),
                    _number_column(f"early_{line.person_id}", t("admin.sheet.early"), line.early),
                ],
            }
        )
    body.append(heading(t("admin.sheet.guests"), size="Default"))
    for guest in data.guests:
        body.append(
            {
                "type": "ColumnSet",
                "columns": [
                    {
                        "type": "Column",
                        "width": "stretch",
                        "items": [paragraph(f"{guest.name} ({t(f'admin.guest.{guest.kind}')})")],
                    },
                    {
                        "type": "Column",
                        "width": "auto",
                        "items": [
                            {
                                "type": "ActionSet",
                                "actions": [
                                    submit(
                                        t("admin.sheet.remove_guest"),
                                        verb=VERB_GUEST_REMOVE,
                                        guest_id=guest.id,
                                    )
                                ],
                            }
                        ],
                    },
                ],
            }
        )
    body += [
        {
            "type": "Input.Text",
            "id": "guest_name",
            "label": t("admin.sheet.guest_name"),
            "maxLength": 200,
        },
        {
            "type": "Input.ChoiceSet",
            "id": "guest_kind",
            "label": t("admin.sheet.guest_kind"),
            "value": "speaker",
            "choices": [{"title": t(f"admin.guest.{kind}"), "value": kind} for kind in GUEST_KINDS],
        },
    ]
    return adaptive_card(
        body, [submit(t("admin.sheet.save"), verb=VERB_ATTENDANCE, meeting_id=meeting.id)]
    )


def _number_column(input_id: str, label: str, value: int) -> Element:
    return {
        "type": "Column",
        "width": 2,
        "items": [
            {"type": "Input.Number", "id": input_id, "label": label, "min": 0, "value": value}
        ],
    }


# -- mentoring supervision --


def build_supervision_card(data: Supervision, *, locale: str, tz: str) -> Element:
    """Pairings (status, since, last check-in: the date only), requests waiting, mentors' load."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("admin.supervision.title", community=data.community.name), size="Medium"),
        heading(t("admin.supervision.pairings"), size="Default"),
    ]
    if not data.pairings:
        body.append(paragraph(t("admin.supervision.no_pairing"), subtle=True))
    for p in data.pairings:
        last = (
            t(
                "admin.supervision.last_checkin",
                date=format_day(p.last_checkin, locale=locale, tz=tz),
            )
            if p.last_checkin is not None
            else t("admin.supervision.no_checkin")
        )
        body.append(
            paragraph(
                t(
                    "admin.supervision.pairing",
                    mentor=p.mentor or t("admin.unnamed"),
                    mentee=p.mentee or t("admin.unnamed"),
                    status=t(f"admin.supervision.status.{p.status.value}"),
                    date=format_day(p.since, locale=locale, tz=tz),
                    last=last,
                )
            )
        )
    body.append(heading(t("admin.supervision.waiting"), size="Default"))
    if not data.waiting:
        body.append(paragraph(t("admin.supervision.no_request"), subtle=True))
    for r in data.waiting:
        body.append(
            paragraph(
                t(
                    "admin.supervision.request",
                    mentee=r.mentee or t("admin.unnamed"),
                    date=format_day(r.since, locale=locale, tz=tz),
                )
            )
        )
    body.append(heading(t("admin.supervision.mentors"), size="Default"))
    if not data.mentors:
        body.append(paragraph(t("admin.supervision.no_mentor"), subtle=True))
    for m in data.mentors:
        body.append(
            paragraph(
                plural(
                    locale,
                    "admin.supervision.load",
                    m.load,
                    name=m.name or t("admin.unnamed"),
                    capacity=m.capacity,
                )
            )
        )
    return adaptive_card(body)


# -- e-mail consent --


def build_consent_card(
    *, agreed: bool, email: str | None, locale: str, lookup_failed: bool = False
) -> Element:
    """The member's e-mail consent; `lookup_failed`: Teams could not be asked for the address
    just now (the consent is recorded without it, and asking again later may work)."""
    t = translator(locale)
    if not agreed:
        state = t("admin.consent.state_no")
    elif email:
        state = t("admin.consent.state_yes", email=email)
    elif lookup_failed:
        state = t("admin.consent.state_lookup_failed")
    else:
        state = t("admin.consent.state_yes_no_email")
    return adaptive_card(
        [
            heading(t("admin.consent.title"), size="Medium"),
            paragraph(t("admin.consent.explain")),
            paragraph(state, subtle=True),
        ],
        [
            submit(t("admin.consent.withdraw"), verb=VERB_CONSENT, agree=False)
            if agreed
            else submit(t("admin.consent.give"), verb=VERB_CONSENT, agree=True)
        ],
    )


def support_button(pairing_id: int | None, *, nonce: str, locale: str) -> Element:
    """On the mentor's pairing card: ask the coordination for support (one request per
    card: the nonce is its key, so a double click asks once)."""
    return submit(
        translator(locale)("admin.support.button"),
        verb=VERB_SUPPORT,
        pairing_id=pairing_id,
        nonce=nonce,
    )


__all__ = [
    "VERBS",
    "ListLinks",
    "SheetLinks",
    "build_consent_card",
    "build_lists_card",
    "build_sheet_card",
    "build_supervision_card",
    "mailing_csv",
    "safe_cell",
    "sheet_csv",
    "support_button",
    "time_csv",
]
