"""The monthly vitality summary: the card (figures, signals, a chart of the last twelve months)
and its CSV export. Figures come counted from storage/vitality.py; satisfaction is already
absent below the community's k. Every word comes from the catalogs.

The chart is Teams' `Chart.HorizontalBar` without a value axis: twelve vertical bars left
« oct. 26 » labels cut and an axis ticked at « 10.5 » people, while horizontal bars give the
month names room and each bar shows its own whole number. Clients that do not draw charts
(older Teams, the Agents Playground) show its `fallback`, the same twelve months as text bars.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date

from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.i18n import (
    Translate,
    format_day,
    format_month,
    language_of,
    plural,
    translator,
)
from cards.surveys import decimal, percent
from storage.toolbox import UsefulResource
from storage.vitality import (
    SIGNAL_ATTENDANCE_DOWN,
    SIGNAL_CONSULTATION_UNASSIGNED,
    SIGNAL_NEW_HIRE_UNPAIRED,
    SIGNAL_NO_IN_PERSON,
    SIGNAL_NO_MEETING,
    Signal,
    VitalitySummary,
)

VERB_SHOW = "vitality.show"
VERB_EXPORT = "vitality.export"
# The width of the longest text bar in the chart's fallback.
BAR_WIDTH = 20
BUTTONS_PER_ROW = 5
CSV_COLUMNS = (
    "month",
    "members",
    "active",
    "new",
    "left",
    "meetings",
    "attendances",
    "attendance_rate",
    "rsvp_rate",
    "topics_proposed",
    "topics_scheduled",
    "polls",
    "ballots",
    "poll_participation",
    "consultations_submitted",
    "consultations_closed",
    "median_days_to_assignment",
    "satisfaction",
    "satisfaction_responses",
    "new_hires_welcomed",
    "new_hires_paired",
    "signals",
)
SIGNAL_SHORT_KEYS = {
    SIGNAL_ATTENDANCE_DOWN: "vitality.signal_short.attendance_down",
    SIGNAL_NO_MEETING: "vitality.signal_short.no_meeting",
    SIGNAL_NEW_HIRE_UNPAIRED: "vitality.signal_short.new_hire_unpaired",
    SIGNAL_CONSULTATION_UNASSIGNED: "vitality.signal_short.consultation_unassigned",
    SIGNAL_NO_IN_PERSON: "vitality.signal_short.no_in_person",
}


def month_key(month: date) -> str:
    """« 2026-10 »: how a month travels in card data, outbox params and export links."""
    return f"{month:%Y-%m}"


def month_label(month: date, *, locale: str) -> str:
    """« octobre 2026 » / "October 2026"."""
    return format_month(month, locale=locale)


def short_month(month: date, *, locale: str) -> str:
    """« janv. » / "Jan": the chart's labels (the twelve months before the summary's, so no
    name repeats and the year would only crowd the label)."""
    return format_month(month, locale=locale, abbreviated=True)


def _rate(value: float | None, *, locale: str, t: Translate) -> str:
    return t("vitality.none") if value is None else percent(value, locale=locale)


def _signed(value: float | None, *, locale: str, t: Translate) -> str:
    if value is None:
        return t("vitality.none")
    shown = decimal(abs(value), locale=locale)
    if shown == decimal(0, locale=locale):
        return shown
    return f"+{shown}" if value > 0 else f"−{shown}"


def signal_text(signal: Signal, *, locale: str, tz: str) -> str:
    t = translator(locale)
    if signal.code == SIGNAL_ATTENDANCE_DOWN:
        return t(
            "vitality.signal.attendance_down",
            rate=_rate(signal.rate, locale=locale, t=t),
            reference=_rate(signal.reference, locale=locale, t=t),
        )
    if signal.code == SIGNAL_NO_MEETING:
        if signal.last is None:
            return t("vitality.signal.no_meeting_ever")
        return t("vitality.signal.no_meeting", day=format_day(signal.last, locale=locale, tz=tz))
    if signal.code == SIGNAL_NEW_HIRE_UNPAIRED:
        return plural(locale, "vitality.signal.new_hire_unpaired", signal.count)
    if signal.code == SIGNAL_NO_IN_PERSON:
        return t("vitality.signal.no_in_person")
    return plural(locale, "vitality.signal.consultation_unassigned", signal.count)


def _satisfaction(summary: VitalitySummary, *, locale: str, t: Translate) -> str:
    if summary.satisfaction is None:
        if summary.satisfaction_responses == 0:
            return t("vitality.satisfaction.none")
        return t("vitality.satisfaction.below_k", k=summary.k)
    return plural(
        locale,
        "vitality.satisfaction.value",
        summary.satisfaction_responses,
        average=decimal(summary.satisfaction, locale=locale),
    )


def _section(title: str, facts: list[tuple[str, str]]) -> Element:
    return {
        "type": "Container",
        "separator": True,
        "items": [
            heading(title, size="Default"),
            {
                "type": "FactSet",
                "spacing": "Small",
                "facts": [{"title": name, "value": value} for name, value in facts],
            },
        ],
    }


def _chart(summary: VitalitySummary, *, locale: str) -> Element:
    t = translator(locale)
    points = summary.history
    highest = max((p.attendances for p in points), default=0)
    labels = [short_month(point.month, locale=locale) for point in points]
    column = max((len(label) for label in labels), default=0)
    lines = []
    for label, point in zip(labels, points, strict=True):
        width = round(point.attendances / highest * BAR_WIDTH) if highest else 0
        bar = "█" * width if width or not point.attendances else "▏"
        lines.append(f"{label:<{column}} {bar} {point.attendances}")
    fallback: Element = {
        "type": "Container",
        "items": [
            paragraph(t("vitality.chart.title"), subtle=True),
            {
                "type": "TextBlock",
                "text": "\n\n".join(lines),
                "fontType": "Monospace",
                "wrap": True,
                "spacing": "Small",
            },
        ],
    }
    return {
        "type": "Chart.HorizontalBar",
        "title": t("vitality.chart.title"),
        "displayMode": "AbsoluteNoAxis",
        "colorSet": "categorical",
        "data": [
            {"x": label, "y": int(point.attendances)}
            for label, point in zip(labels, points, strict=True)
        ],
        "fallback": fallback,
    }


def useful_section(useful: Sequence[UsefulResource], *, locale: str) -> Element:
    """The month's most useful toolbox resources (storage.toolbox.most_useful), as links."""
    t = translator(locale)
    lines = [
        paragraph(
            # A Markdown link: brackets in the title and parentheses in the link would end it.
            f"{rank}. [{r.title.replace('[', '(').replace(']', ')')}]"
            f"({r.url.replace('(', '%28').replace(')', '%29')})"
            f" — {plural(locale, 'vitality.toolbox.marks', r.marks)}",
            spacing="Small",
        )
        for rank, r in enumerate(useful, 1)
    ]
    return {
        "type": "Container",
        "separator": True,
        "items": [
            heading(t("vitality.section.toolbox"), size="Default"),
            *(lines or [paragraph(t("vitality.toolbox.none"), spacing="Small", subtle=True)]),
        ],
    }


def build_vitality_card(
    summary: VitalitySummary,
    *,
    community_name: str,
    locale: str,
    tz: str,
    export_url: str | None = None,
    can_export: bool = False,
    useful: Sequence[UsefulResource] = (),
) -> Element:
    """For animators and sponsors. `export_url`: a signed link to the CSV (a turn); otherwise
    `can_export` shows a button that asks for one (a message sent later by the outbox)."""
    t = translator(locale)
    body: list[Element] = [
        heading(
            t(
                "vitality.title",
                month=month_label(summary.month, locale=locale),
                community=community_name,
            ),
            size="Medium",
        )
    ]
    if summary.partial:
        body.append(
            paragraph(
                t("vitality.partial", day=format_day(summary.as_of, locale=locale, tz=tz)),
                subtle=True,
                spacing="None",
            )
        )
    signals = [signal_text(s, locale=locale, tz=tz) for s in summary.signals]
    body.append(
        {
            "type": "Container",
            "style": "attention" if signals else "good",
            "items": [
                heading(t("vitality.signals.title"), size="Default"),
                *(
                    [paragraph(f"⚠ {text}", spacing="Small") for text in signals]
                    or [paragraph(t("vitality.signals.none"), spacing="Small")]
                ),
            ],
        }
    )
    median = summary.median_days_to_assignment
    body += [
        _section(
            t("vitality.section.members"),
            [
                (t("vitality.members"), str(summary.members)),
                (t("vitality.active"), str(summary.active)),
                (t("vitality.new"), str(summary.new)),
                (t("vitality.left"), str(summary.left)),
            ],
        ),
        _section(
            t("vitality.section.meetings"),
            [
                (t("vitality.meetings"), str(summary.meetings)),
                (t("vitality.attendance_rate"), _rate(summary.attendance_rate, locale=locale, t=t)),
                (t("vitality.rsvp_rate"), _rate(summary.rsvp_rate, locale=locale, t=t)),
                (t("vitality.topics_proposed"), str(summary.topics_proposed)),
                (t("vitality.topics_scheduled"), str(summary.topics_scheduled)),
                (t("vitality.cases_discussed"), str(summary.cases_discussed)),
                (
                    t("vitality.case_themes"),
                    ", ".join(
                        t("vitality.case_theme", theme=theme, count=count)
                        for theme, count in summary.case_themes
                    )
                    or t("vitality.none"),
                ),
                (
                    t("vitality.polls"),
                    t(
                        "vitality.polls_value",
                        polls=plural(locale, "vitality.polls_launched", summary.polls),
                        ballots=plural(locale, "vitality.ballots", summary.ballots),
                        participation=_rate(summary.poll_participation, locale=locale, t=t),
                    ),
                ),
            ],
        ),
        _section(
            t("vitality.section.satisfaction"),
            [
                (t("vitality.satisfaction"), _satisfaction(summary, locale=locale, t=t)),
                (
                    t("vitality.trend_previous"),
                    _signed(summary.trend_previous, locale=locale, t=t),
                ),
                (
                    t("vitality.trend_three"),
                    _signed(summary.trend_last_three, locale=locale, t=t),
                ),
            ],
        ),
        _section(
            t("vitality.section.support"),
            [
                (t("vitality.consultations_submitted"), str(summary.consultations_submitted)),
                (t("vitality.consultations_closed"), str(summary.consultations_closed)),
                (
                    t("vitality.median_days"),
                    t("vitality.none") if median is None else decimal(median, locale=locale),
                ),
                (t("vitality.new_hires_welcomed"), str(summary.new_hires_welcomed)),
                (t("vitality.new_hires_paired"), str(summary.new_hires_paired)),
            ],
        ),
    ]
    body.append(useful_section(useful, locale=locale))
    if summary.history:
        body.append(
            {"type": "Container", "separator": True, "items": [_chart(summary, locale=locale)]}
        )
    body.append(paragraph(t("vitality.definitions", k=summary.k), subtle=True))
    actions: list[Element] = []
    if export_url:
        actions.append({"type": "Action.OpenUrl", "title": t("vitality.export"), "url": export_url})
    elif can_export:
        actions.append(
            submit(
                t("vitality.export"),
                verb=VERB_EXPORT,
                community_id=summary.community_id,
                month=month_key(summary.month),
            )
        )
    return adaptive_card(body, actions)


def build_vitality_choice_card(
    communities: Sequence[tuple[int, str]], *, month: date, locale: str
) -> Element:
    """Which community's summary? One button per community the person animates or sponsors."""
    t = translator(locale)
    buttons = [
        submit(name, verb=VERB_SHOW, community_id=community_id, month=month_key(month))
        for community_id, name in communities
    ]
    return adaptive_card(
        [
            heading(t("vitality.choose", month=month_label(month, locale=locale)), size="Medium"),
            *(
                {"type": "ActionSet", "actions": buttons[start : start + BUTTONS_PER_ROW]}
                for start in range(0, len(buttons), BUTTONS_PER_ROW)
            ),
        ]
    )


def _csv_number(value: float | None, *, locale: str) -> str:
    if value is None:
        return ""
    text = f"{value:.1f}"
    return text.replace(".", ",") if language_of(locale) == "fr" else text


def build_vitality_csv(summaries: Sequence[VitalitySummary], *, locale: str) -> str:
    """One row per month, oldest first. French spreadsheets expect « ; » between fields and a
    decimal comma; English ones « , » and a point. Rates are percentages."""
    t = translator(locale)
    french = language_of(locale) == "fr"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if french else ",", lineterminator="\r\n")
    writer.writerow([t(f"vitality.csv.{column}") for column in CSV_COLUMNS])

    def pct(value: float | None) -> str:
        return _csv_number(None if value is None else value * 100, locale=locale)

    for s in summaries:
        writer.writerow(
            [
                month_key(s.month),
                s.members,
                s.active,
                s.new,
                s.left,
                s.meetings,
                s.attendances,
                pct(s.attendance_rate),
                pct(s.rsvp_rate),
                s.topics_proposed,
                s.topics_scheduled,
                s.polls,
                s.ballots,
                pct(s.poll_participation),
                s.consultations_submitted,
                s.consultations_closed,
                _csv_number(s.median_days_to_assignment, locale=locale),
                # Empty below k, as on the card.
                _csv_number(s.satisfaction, locale=locale),
                s.satisfaction_responses,
                s.new_hires_welcomed,
                s.new_hires_paired,
                " | ".join(t(SIGNAL_SHORT_KEYS[signal.code]) for signal in s.signals),
            ]
        )
    return buffer.getvalue()
