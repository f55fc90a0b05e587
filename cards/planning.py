"""Planning the year: the series form and card (a year's dates, drafts to complete one by
one), the date poll form, the card that offers a date poll's winning date, the charter form,
and the yearly proposal of a needs survey with last year's results beside it (only what
storage/surveys.py `results` lets anyone see: counts masked below CELL_MIN, nothing below k)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cards.common import Element, adaptive_card, heading, paragraph, submit, task_button
from cards.i18n import format_day, format_span, plural, translator
from cards.surveys import VERB_NEEDS_START
from storage.models import MeetingMode
from storage.planning import DEFAULT_DATES, MAX_DATES, NEEDS_LATER, SeriesRow
from storage.surveys import CELL_MIN, NEEDS_DURATION, SurveyResults

VERB_SERIES_RESIZE = "planning.series.resize"
VERB_SERIES_CREATE = "planning.series.create"
VERB_SERIES_COMPLETE = "planning.series.complete"
VERB_SERIES_SHOW = "planning.series.show"
VERB_POLL_CREATE = "planning.poll.create"
VERB_CHARTER_SAVE = "planning.charter.save"
VERB_CANCEL = "planning.cancel"
VERB_NEEDS_LATER = "planning.needs.later"
MAX_POLL_DATES = 5
# Last year's most chosen topics shown beside the proposal (the results card has them all).
MAX_NEEDS_TOPICS = 5


@dataclass(frozen=True, slots=True)
class DateRow:
    """One date as typed in a form (strings, kept as typed when the form comes back)."""

    date: str = ""
    start: str = "09:00"
    end: str = "12:00"
    mode: str = MeetingMode.HYBRID.value
    place: str = ""


@dataclass(frozen=True, slots=True)
class SeriesForm:
    rows: tuple[DateRow, ...] = field(default_factory=lambda: (DateRow(),) * DEFAULT_DATES)
    places: str = ""


@dataclass(frozen=True, slots=True)
class DatePollForm:
    question: str = ""
    rows: tuple[DateRow, ...] = field(default_factory=lambda: (DateRow(),) * 3)
    close_date: str = ""
    close_time: str = "17:00"


@dataclass(frozen=True, slots=True)
class CharterValues:
    domain: str = ""
    objectives: str = ""
    theme: str = ""
    audience: str = ""
    cadence: str = ""
    mode: str = MeetingMode.HYBRID.value
    rules: str = ""


def mode_label(mode: str, locale: str) -> str:
    return translator(locale)(f"meeting.mode.{MeetingMode(mode).value}")


def _errors(errors: Sequence[str]) -> list[Element]:
    return [{"type": "TextBlock", "text": e, "color": "Attention", "wrap": True} for e in errors]


def _date_inputs(
    number: int, row: DateRow, *, locale: str, with_mode: bool, label: str
) -> list[Element]:
    t = translator(locale)
    # Weights, not "stretch" beside two "auto" time pickers: those took their full width and
    # left the date a bare calendar button under a label run into « Début ».
    columns: list[Element] = [
        {
            "type": "Column",
            "width": 2,
            "items": [
                {
                    "type": "Input.Date",
                    "id": f"date_{number}",
                    "label": label,
                    "value": row.date,
                }
            ],
        },
        {
            "type": "Column",
            "width": 1,
            "items": [
                {
                    "type": "Input.Time",
                    "id": f"start_{number}",
                    "label": t("planning.field.start"),
                    "value": row.start,
                }
            ],
        },
        {
            "type": "Column",
            "width": 1,
            "items": [
                {
                    "type": "Input.Time",
                    "id": f"end_{number}",
                    "label": t("planning.field.end"),
                    "value": row.end,
                }
            ],
        },
    ]
    elements: list[Element] = [{"type": "ColumnSet", "columns": columns, "separator": number > 0}]
    if with_mode:
        elements.append(
            {
                "type": "ColumnSet",
                "columns": [
                    {
                        "type": "Column",
                        "width": "auto",
                        "items": [
                            {
                                "type": "Input.ChoiceSet",
                                "id": f"mode_{number}",
                                "label": t("planning.field.mode"),
                                "value": row.mode,
                                "choices": [
                                    {"title": mode_label(m.value, locale), "value": m.value}
                                    for m in MeetingMode
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
                                "id": f"place_{number}",
                                "label": t("planning.field.place"),
                                "placeholder": t("planning.hint.place"),
                                "value": row.place,
                                "maxLength": 300,
                            }
                        ],
                    },
                ],
            }
        )
    return elements


def build_series_form_card(
    form: SeriesForm, *, locale: str, request: str, errors: Sequence[str] = ()
) -> Element:
    """Several dates at once: each with its times, its mode and its place; the places listed
    below go in turn to the dates that meet in a room and name none."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("planning.series.title")),
        paragraph(t("planning.series.intro"), subtle=True),
        *_errors(errors),
        {
            "type": "Input.ChoiceSet",
            "id": "count",
            "label": t("planning.field.count"),
            "value": str(len(form.rows)),
            "choices": [{"title": str(n), "value": str(n)} for n in range(1, MAX_DATES + 1)],
        },
    ]
    for number, row in enumerate(form.rows):
        body += _date_inputs(
            number,
            row,
            locale=locale,
            with_mode=True,
            label=t("planning.field.date", number=number + 1),
        )
    body.append(
        {
            "type": "Input.Text",
            "id": "places",
            "label": t("planning.field.places"),
            "placeholder": t("planning.hint.places"),
            "value": form.places,
            "isMultiline": True,
            "maxLength": 2000,
            "separator": True,
        }
    )
    data: dict[str, Any] = {"request": request, "rows": len(form.rows)}
    return adaptive_card(
        body,
        [
            submit(t("planning.series.create"), verb=VERB_SERIES_CREATE, style="positive", **data),
            submit(t("planning.series.resize"), verb=VERB_SERIES_RESIZE, **data),
            submit(t("planning.cancel"), verb=VERB_CANCEL),
        ],
    )


def date_line(starts_at: datetime, ends_at: datetime, *, locale: str, tz: str) -> str:
    span = format_span(starts_at, ends_at, locale=locale, tz=tz)
    return span[:1].upper() + span[1:]


def build_series_card(rows: Sequence[SeriesRow], *, locale: str, tz: str) -> Element:
    """The year's dates: each planned one says so; each draft has its « Compléter » button,
    which opens the meeting form filled with its date, times, mode and place."""
    t = translator(locale)
    planned = sum(1 for row in rows if row.planned)
    body: list[Element] = [
        heading(t("planning.series.card_title")),
        paragraph(plural(locale, "planning.series.progress", len(rows), planned=planned)),
    ]
    for row in rows:
        found = row.date
        where = mode_label(found.mode, locale)
        if found.place:
            where = t("planning.series.where", mode=where, place=found.place)
        status = t("planning.series.planned") if row.planned else t("planning.series.draft")
        body.append(
            {
                "type": "Container",
                "separator": True,
                "items": [
                    {
                        "type": "TextBlock",
                        "text": date_line(found.starts_at, found.ends_at, locale=locale, tz=tz),
                        "weight": "Bolder",
                        "wrap": True,
                    },
                    paragraph(t("planning.series.line", where=where, status=status), subtle=True),
                ],
            }
        )
        if not row.planned:
            body.append(
                {
                    "type": "ActionSet",
                    "actions": [
                        submit(
                            t("planning.series.complete"),
                            verb=VERB_SERIES_COMPLETE,
                            date_id=found.id,
                        )
                    ],
                }
            )
    return adaptive_card(body)


def build_date_poll_form_card(
    form: DatePollForm, *, locale: str, request: str, errors: Sequence[str] = ()
) -> Element:
    t = translator(locale)
    body: list[Element] = [
        heading(t("planning.poll.title")),
        paragraph(t("planning.poll.intro"), subtle=True),
        *_errors(errors),
        {
            "type": "Input.Text",
            "id": "question",
            "label": t("planning.field.question"),
            "value": form.question or t("planning.poll.default_question"),
            "maxLength": 300,
        },
    ]
    rows = list(form.rows) + [DateRow()] * (MAX_POLL_DATES - len(form.rows))
    for number, row in enumerate(rows[:MAX_POLL_DATES]):
        body += _date_inputs(
            number,
            row,
            locale=locale,
            with_mode=False,
            label=t("planning.field.option", number=number + 1),
        )
    body.append(
        {
            "type": "ColumnSet",
            "separator": True,
            "columns": [
                {
                    "type": "Column",
                    "width": "stretch",
                    "items": [
                        {
                            "type": "Input.Date",
                            "id": "close_date",
                            "label": t("planning.field.close_date"),
                            "value": form.close_date,
                        }
                    ],
                },
                {
                    "type": "Column",
                    "width": "auto",
                    "items": [
                        {
                            "type": "Input.Time",
                            "id": "close_time",
                            "label": t("planning.field.close_time"),
                            "value": form.close_time,
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
                t("planning.poll.create"), verb=VERB_POLL_CREATE, style="positive", request=request
            ),
            submit(t("planning.cancel"), verb=VERB_CANCEL),
        ],
    )


def build_winning_date_card(
    *,
    question: str,
    winner: tuple[datetime, datetime] | None,
    votes: int,
    form: str,
    verb: str,
    data: dict[str, Any],
    locale: str,
    tz: str,
) -> Element:
    """A date poll closed: its winning date and « Planifier la rencontre », which opens the
    meeting form filled with that date (in a Teams dialog; « Remplir ici » in the channel)."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("planning.outcome.title"), size="Medium"),
        paragraph(question, subtle=True),
    ]
    if winner is None:
        body.append(paragraph(t("planning.outcome.no_votes")))
    else:
        body.append(
            paragraph(
                plural(
                    locale,
                    "planning.outcome.winner",
                    votes,
                    when=format_span(winner[0], winner[1], locale=locale, tz=tz),
                )
            )
        )
    body.append(paragraph(t("planning.outcome.animators"), subtle=True))
    return adaptive_card(
        body,
        [
            {
                **task_button(t("planning.outcome.plan"), form=form, verb=verb, **data),
                "style": "positive",
            },
            submit(t("plan.launcher.inline"), verb=verb, **data),
        ],
    )


def build_charter_form_card(
    values: CharterValues,
    *,
    community_name: str,
    locale: str,
    errors: Sequence[str] = (),
    ask_names: bool = False,
) -> Element:
    """The charter as it is now, to edit: mandate, objectives, audience, rhythm, usual mode,
    group rules. When names were spotted, the author may say they name no client."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("planning.charter.title", community=community_name)),
        paragraph(t("planning.charter.intro"), subtle=True),
        *_errors(errors),
    ]

    def text(id_: str, value: str, *, multiline: bool = False, max_length: int = 500) -> Element:
        return {
            "type": "Input.Text",
            "id": id_,
            "label": t(f"setup.field.{id_}"),
            "placeholder": t(f"setup.hint.{id_}"),
            "value": value,
            "isMultiline": multiline,
            "maxLength": max_length,
        }

    body += [
        text("domain", values.domain, multiline=True, max_length=2000),
        text("objectives", values.objectives, multiline=True, max_length=2000),
        text("theme", values.theme),
        text("audience", values.audience),
        text("cadence", values.cadence, max_length=200),
        {
            "type": "Input.ChoiceSet",
            "id": "mode",
            "label": t("setup.field.mode"),
            "value": values.mode,
            "choices": [
                {"title": mode_label(m.value, locale), "value": m.value} for m in MeetingMode
            ],
        },
        text("rules", values.rules, multiline=True, max_length=2000),
    ]
    if ask_names:
        body.append(
            {
                "type": "Input.Toggle",
                "id": "no_client_names",
                "title": t("planning.charter.no_client_names"),
                "valueOn": "true",
                "valueOff": "false",
                "value": "false",
            }
        )
    return adaptive_card(
        body,
        [
            submit(t("planning.charter.save"), verb=VERB_CHARTER_SAVE, style="positive"),
            submit(t("planning.cancel"), verb=VERB_CANCEL),
        ],
    )


def _last_year(previous: SurveyResults | None, *, locale: str, tz: str) -> list[Element]:
    t = translator(locale)
    blocks: list[Element] = [heading(t("planning.needs_due.last_year"), size="Default")]
    if previous is None:
        blocks.append(paragraph(t("planning.needs_due.none_last_year"), spacing="None"))
        return blocks
    day = format_day(previous.survey.opens_at, locale=locale, tz=tz)
    blocks.append(
        paragraph(
            plural(locale, "planning.needs_due.responses", previous.responses, day=day),
            spacing="None",
        )
    )
    if not previous.shown:
        # Below k (or, oddly, not closed): the count of answers, nothing else.
        blocks.append(paragraph(t("planning.needs_due.below_k", k=previous.k), subtle=True))
        return blocks
    # Most chosen first, masked counts (1 or 2) after those shown; topics nobody chose left out.
    chosen = [choice for choice in previous.choices if choice.count != 0][:MAX_NEEDS_TOPICS]
    if not chosen:
        blocks.append(paragraph(t("planning.needs_due.no_topic")))
        return blocks
    blocks.append(paragraph(t("planning.needs_due.top_topics")))
    blocks.append(
        {
            "type": "FactSet",
            "spacing": "Small",
            "facts": [
                {
                    "title": choice.title,
                    "value": str(choice.count)
                    if choice.count is not None
                    else t("planning.needs_due.fewer_than", cell=CELL_MIN),
                }
                for choice in chosen
            ],
        }
    )
    return blocks


def build_needs_due_card(
    *,
    community: str,
    community_id: int,
    previous: SurveyResults | None,
    invitees: int,
    locale: str,
    tz: str,
) -> Element:
    """To a facilitator, once a year: « C'est le moment du sondage des besoins annuel », last
    year's needs survey (responses, most chosen topics) or that there was none, who would be
    asked, « Lancer le sondage » (the needs survey's own launch) and « Plus tard »."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("planning.needs_due.title"), size="Medium"),
        paragraph(community, subtle=True, spacing="None"),
        paragraph(t("planning.needs_due.intro")),
        {
            "type": "Container",
            "separator": True,
            "items": _last_year(previous, locale=locale, tz=tz),
        },
        {
            "type": "FactSet",
            "separator": True,
            "facts": [
                {"title": t("planning.needs_due.invitees"), "value": str(invitees)},
                {
                    "title": t("planning.needs_due.duration"),
                    "value": plural(locale, "planning.needs_due.days", NEEDS_DURATION.days),
                },
            ],
        },
        paragraph(
            plural(locale, "planning.needs_due.later_explain", NEEDS_LATER.days), subtle=True
        ),
    ]
    return adaptive_card(
        body,
        [
            submit(
                t("planning.needs_due.launch"),
                verb=VERB_NEEDS_START,
                style="positive",
                community_id=community_id,
            ),
            submit(t("planning.needs_due.later"), verb=VERB_NEEDS_LATER, community_id=community_id),
        ],
    )
