"""The annual review (bilan annuel) card, the register of productions and the objectives'
status form. The review's sections and figures come from `review_sections`, which the PDF
(cards/review_pdf.py) prints too, so both say the same."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from cards.common import (
    MAX_CARD_BYTES,
    Element,
    adaptive_card,
    card_bytes,
    heading,
    paragraph,
    submit,
)
from cards.i18n import format_day, long_date, plural, translator
from cards.surveys import SHORT_KEYS, decimal, percent
from cards.vitality import short_month, signal_text
from storage.models import ObjectiveState, ProductionKind
from storage.review import AnnualReview, ObjectiveLine, ProductionLine

VERB_SHOW = "review.show"
VERB_PDF = "review.pdf"
VERB_PRODUCTIONS = "review.productions"
VERB_PRODUCTION_SAVE = "review.production.save"
VERB_PRODUCTION_EDIT = "review.production.edit"
VERB_PRODUCTION_REMOVE = "review.production.remove"
VERB_CREDIT = "review.production.credit"
VERB_UNCREDIT = "review.production.uncredit"
VERB_OBJECTIVES = "review.objectives"
VERB_OBJECTIVE_SAVE = "review.objective.save"
VERB_DATE_SAVE = "review.date.save"

BAR_WIDTH = 12  # characters of the longest bar of the chart, where it is drawn in text
NBSP = "\u00a0"


def kind_label(kind: ProductionKind, *, locale: str) -> str:
    return translator(locale)(f"review.kind.{kind.value}")


def state_label(state: ObjectiveState | None, *, locale: str) -> str:
    return translator(locale)(f"review.state.{state.value if state else 'unset'}")


def _rate(value: float | None, *, locale: str) -> str:
    return translator(locale)("review.none") if value is None else percent(value, locale=locale)


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    facts: tuple[tuple[str, str], ...] = ()
    lines: tuple[str, ...] = ()


def production_text(line: ProductionLine, *, locale: str) -> str:
    t = translator(locale)
    text = t(
        "review.production.line",
        title=line.title,
        kind=kind_label(line.kind, locale=locale),
        date=long_date(line.produced_on, locale),
    )
    if line.contributors:
        text += " — " + t("review.production.by", names=", ".join(line.contributors))
    return text


def satisfaction_text(review: AnnualReview, *, locale: str) -> str:
    t = translator(locale)
    if review.satisfaction is None:
        # Fewer than k answers, or none: nothing about them is shown (not even how many).
        return t("review.satisfaction.hidden", k=review.k)
    return plural(
        locale,
        "review.satisfaction.value",
        review.satisfaction_answers,
        average=decimal(review.satisfaction, locale=locale),
    )


def meeting_objectives_facts(review: AnnualReview, *, locale: str) -> tuple[tuple[str, str], ...]:
    """The meetings' objective items (« cet objectif a été atteint »): their average and how
    many averaged 4 or more, from surveys closed with k answers or more only."""
    t = translator(locale)
    figures = review.meeting_objectives
    if figures is None or figures.average is None:
        return (
            (t("review.meeting_objectives"), t("review.meeting_objectives.hidden", k=review.k)),
        )
    return (
        (
            t("review.meeting_objectives"),
            plural(
                locale,
                "review.meeting_objectives.value",
                figures.objectives,
                average=decimal(figures.average, locale=locale),
            ),
        ),
        (
            t("review.meeting_objectives.reached"),
            t(
                "review.meeting_objectives.reached_value",
                reached=figures.reached,
                total=figures.objectives,
            ),
        ),
    )


def learning_section(review: AnnualReview, *, locale: str) -> Section:
    """What changed in the members' practice (the learning questionnaire): averages and the
    number of answers, only from questionnaires closed with k answers or more."""
    t = translator(locale)
    figures = review.learning
    if figures is None or not figures.responses:
        return Section(
            t("review.section.learning"), lines=(t("review.learning.hidden", k=review.k),)
        )
    return Section(
        t("review.section.learning"),
        (
            (t("review.learning.responses"), str(figures.responses)),
            *(
                (
                    t(SHORT_KEYS[question]),
                    t("review.learning.average", average=decimal(average, locale=locale))
                    if average is not None
                    else t("review.none"),
                )
                for question, average in figures.averages
            ),
        ),
    )


def review_sections(review: AnnualReview, *, locale: str, tz: str) -> list[Section]:
    """The review's sections in order, each with its facts (label, value) and lines."""
    t = translator(locale)
    sections = [
        Section(
            t("review.section.vitality"),
            (
                (t("review.members"), str(review.members)),
                (t("review.newcomers"), str(review.newcomers)),
                (t("review.left"), str(review.left)),
                (t("review.meetings"), str(review.meetings)),
                (t("review.attendance"), _rate(review.attendance_rate, locale=locale)),
                (t("review.rsvp"), _rate(review.rsvp_rate, locale=locale)),
                (t("review.satisfaction"), satisfaction_text(review, locale=locale)),
                *meeting_objectives_facts(review, locale=locale),
            ),
        ),
        Section(
            t("review.section.objectives"),
            lines=tuple(
                t(
                    "review.objective.line",
                    objective=line.objective,
                    state=state_label(line.state, locale=locale),
                )
                + (f" — {line.comment}" if line.comment else "")
                for line in review.objectives
            )
            or (t("review.objectives.none"),),
        ),
        learning_section(review, locale=locale),
        Section(
            t("review.section.productions"),
            (
                *(
                    (kind_label(kind, locale=locale), str(count))
                    for kind, count in review.production_counts
                ),
                (t("review.productions.total"), str(review.productions_total)),
            ),
            tuple(production_text(line, locale=locale) for line in review.productions),
        ),
        Section(
            t("review.section.activity"),
            (
                (t("review.topics_proposed"), str(review.topics_proposed)),
                (t("review.topics_treated"), str(review.topics_treated)),
                (t("review.consultations_submitted"), str(review.consultations_submitted)),
                (t("review.consultations_closed"), str(review.consultations_closed)),
            )
            # Complex cases and codevelopment in counts only, when the community had some.
            + (
                ((t("review.cases_discussed"), str(review.cases_discussed)),)
                if review.cases_discussed
                else ()
            )
            + (
                ((t("review.codev_sessions"), str(review.codev_sessions)),)
                if review.codev_sessions
                else ()
            ),
            tuple(review.topic_titles),
        ),
        Section(
            t("review.section.signals"),
            lines=tuple(signal_text(s, locale=locale, tz=tz) for s in review.signals)
            or (t("review.signals.none"),),
        ),
    ]
    return sections


def period_text(review: AnnualReview, *, locale: str, tz: str) -> str:
    t = translator(locale)
    key = "review.period.partial" if review.partial else "review.period"
    return t(
        key,
        start=format_day(review.start, locale=locale, tz=tz),
        # The review date itself starts the next year: the last day counted is the one before.
        end=format_day(
            review.as_of if review.partial else review.end - timedelta(microseconds=1),
            locale=locale,
            tz=tz,
        ),
    )


def _chart(review: AnnualReview, *, locale: str) -> Element:
    """Meetings held each month, as Teams draws a horizontal bar chart (like the vitality
    summary's); clients without charts show the same bars in text. Columns of coloured empty
    containers were not drawn (an empty container renders nothing), and thirteen month names
    side by side broke inside words. The period runs from one review date to the next, so it
    spans thirteen calendar months: each label carries its year (« juin 2025 », « juin 2026 »)."""
    t = translator(locale)
    labels = [f"{short_month(m.month, locale=locale)} {m.month.year}" for m in review.months]
    highest = max((m.meetings for m in review.months), default=0)
    column = max((len(label) for label in labels), default=0)
    lines = []
    for label, month in zip(labels, review.months, strict=True):
        width = round(month.meetings / highest * BAR_WIDTH) if highest else 0
        bar = "█" * width if width or not month.meetings else "▏"
        # Non-breaking spaces: ordinary ones collapse, and the bars would not line up.
        lines.append(f"{label.ljust(column, NBSP)}{NBSP}{bar}{NBSP}{month.meetings}")
    fallback: Element = {
        "type": "TextBlock",
        "text": "\n\n".join(lines),
        "fontType": "Monospace",
        "wrap": True,
        "spacing": "Small",
    }
    return {
        "type": "Container",
        "separator": True,
        "items": [
            heading(t("review.chart.title"), size="Default"),
            {
                "type": "Chart.HorizontalBar",
                "displayMode": "AbsoluteNoAxis",
                "colorSet": "categorical",
                "data": [
                    {"x": label, "y": int(month.meetings)}
                    for label, month in zip(labels, review.months, strict=True)
                ],
                "fallback": fallback,
            },
        ],
    }


def _section(section: Section) -> Element:
    items: list[Element] = [heading(section.title, size="Default")]
    if section.facts:
        items.append(
            {
                "type": "FactSet",
                "spacing": "Small",
                "facts": [{"title": name, "value": value} for name, value in section.facts],
            }
        )
    if section.lines:
        items.append(paragraph("\n".join(f"- {line}" for line in section.lines)))
    return {"type": "Container", "separator": True, "items": items}


def build_review_card(
    review: AnnualReview,
    *,
    locale: str,
    tz: str,
    pdf_url: str | None,
    can_manage: bool,
) -> Element:
    """The review as a card; under Teams' size limit, the list of productions is shortened
    (their counts stay whole, and the PDF lists them)."""
    card = _review_card(review, locale=locale, tz=tz, pdf_url=pdf_url, can_manage=can_manage)
    shown = len(review.productions)
    while card_bytes(card) > MAX_CARD_BYTES and shown:
        shown //= 2
        card = _review_card(
            replace(review, productions=review.productions[:shown]),
            locale=locale,
            tz=tz,
            pdf_url=pdf_url,
            can_manage=can_manage,
        )
    return card


def _review_card(
    review: AnnualReview,
    *,
    locale: str,
    tz: str,
    pdf_url: str | None,
    can_manage: bool,
) -> Element:
    t = translator(locale)
    body: list[Element] = [
        heading(t("review.title", community=review.community_name, year=review.year)),
        paragraph(period_text(review, locale=locale, tz=tz), subtle=True, spacing="None"),
    ]
    sections = review_sections(review, locale=locale, tz=tz)
    body.append(_section(sections[0]))
    body.append(_chart(review, locale=locale))
    body.extend(_section(section) for section in sections[1:])
    actions: list[Element] = []
    if pdf_url:
        actions.append({"type": "Action.OpenUrl", "title": t("review.pdf"), "url": pdf_url})
    else:
        actions.append(
            submit(
                t("review.pdf"),
                verb=VERB_PDF,
                community_id=review.community_id,
                year=review.year,
            )
        )
    if can_manage:
        actions.append(
            submit(
                t("review.objectives.button"),
                verb=VERB_OBJECTIVES,
                community_id=review.community_id,
                year=review.year,
            )
        )
        actions.append(
            submit(
                t("review.productions.button"),
                verb=VERB_PRODUCTIONS,
                community_id=review.community_id,
            )
        )
    return adaptive_card(body, actions)


def build_review_choice_card(
    choices: Sequence[tuple[int, str]], *, year: int, locale: str
) -> Element:
    t = translator(locale)
    return adaptive_card(
        [heading(t("review.choose", year=year), size="Medium")],
        [
            submit(name, verb=VERB_SHOW, community_id=community_id, year=year)
            for community_id, name in choices
        ],
    )


def _input(id_: str, label: str, value: str, *, max_length: int, style: str = "text") -> Element:
    element: Element = {
        "type": "Input.Text",
        "id": id_,
        "label": label,
        "value": value,
        "maxLength": max_length,
    }
    if style != "text":
        element["style"] = style
    return element


def production_form(
    *,
    community_id: int,
    locale: str,
    request_key: str,
    editing: ProductionLine | None = None,
    problems: Sequence[str] = (),
) -> list[Element]:
    """The fields to record (or correct) a production, and their errors."""
    t = translator(locale)
    items: list[Element] = [
        heading(
            t("review.production.edit_title" if editing else "review.production.add_title"),
            size="Default",
        )
    ]
    items.extend(
        {
            "type": "TextBlock",
            "text": t(f"review.production.problem.{code}"),
            "color": "Attention",
            "wrap": True,
        }
        for code in problems
    )
    items += [
        _input(
            "title",
            t("review.production.field.title"),
            editing.title if editing else "",
            max_length=200,
        ),
        {
            "type": "Input.ChoiceSet",
            "id": "kind",
            "label": t("review.production.field.kind"),
            "value": (editing.kind if editing else ProductionKind.TOOL).value,
            "choices": [
                {"title": kind_label(kind, locale=locale), "value": kind.value}
                for kind in ProductionKind
            ],
        },
        {
            "type": "Input.Date",
            "id": "produced_on",
            "label": t("review.production.field.date"),
            "value": editing.produced_on.isoformat() if editing else "",
        },
        _input(
            "url",
            t("review.production.field.url"),
            (editing.url or "") if editing else "",
            max_length=2000,
            style="Url",
        ),
        {
            "type": "ActionSet",
            "actions": [
                submit(
                    t("review.production.save"),
                    verb=VERB_PRODUCTION_SAVE,
                    style="positive",
                    community_id=community_id,
                    request_key=request_key,
                    **({"production_id": editing.id} if editing else {}),
                )
            ],
        },
    ]
    return [{"type": "Container", "separator": True, "items": items}]


def build_productions_card(
    lines: Sequence[ProductionLine],
    *,
    community_id: int,
    community_name: str,
    can_manage: bool,
    locale: str,
    request_key: str,
    editing: ProductionLine | None = None,
    problems: Sequence[str] = (),
    notice: str | None = None,
) -> Element:
    """The register: each production (title, kind, date, link, the names of those who agreed
    to be named); a member's « J'y ai contribué » to be named, facilitators' edit and remove,
    and their form to add one. The newest first, as many as Teams' size limit allows."""
    shown = len(lines)
    while True:
        card = _productions_card(
            lines[:shown],
            community_id=community_id,
            community_name=community_name,
            can_manage=can_manage,
            locale=locale,
            request_key=request_key,
            editing=editing,
            problems=problems,
            notice=notice,
        )
        if card_bytes(card) <= MAX_CARD_BYTES or not shown:
            return card
        shown //= 2


def _productions_card(
    lines: Sequence[ProductionLine],
    *,
    community_id: int,
    community_name: str,
    can_manage: bool,
    locale: str,
    request_key: str,
    editing: ProductionLine | None,
    problems: Sequence[str],
    notice: str | None,
) -> Element:
    t = translator(locale)
    body: list[Element] = [heading(t("review.productions.title", community=community_name))]
    if notice:
        body.append(paragraph(notice))
    if not lines:
        body.append(paragraph(t("review.productions.empty"), subtle=True))
    for line in lines:
        text = production_text(line, locale=locale)
        if line.url:
            text += f" — [{t('review.production.link')}]({line.url})"
        buttons = [
            submit(
                t("review.production.uncredit" if line.mine else "review.production.credit"),
                verb=VERB_UNCREDIT if line.mine else VERB_CREDIT,
                production_id=line.id,
            )
        ]
        if can_manage:
            buttons += [
                submit(
                    t("review.production.edit"), verb=VERB_PRODUCTION_EDIT, production_id=line.id
                ),
                submit(
                    t("review.production.remove"),
                    verb=VERB_PRODUCTION_REMOVE,
                    style="destructive",
                    production_id=line.id,
                ),
            ]
        body.append(
            {
                "type": "Container",
                "separator": True,
                "items": [paragraph(text), {"type": "ActionSet", "actions": buttons}],
            }
        )
    if can_manage:
        body += production_form(
            community_id=community_id,
            locale=locale,
            request_key=request_key,
            editing=editing,
            problems=problems,
        )
    return adaptive_card(body)


def build_objectives_card(
    lines: Sequence[ObjectiveLine],
    *,
    community_id: int,
    community_name: str,
    year: int,
    review_day: str,
    locale: str,
    notice: str | None = None,
) -> Element:
    """Facilitators set each objective's status for the year, with a comment; and the date the
    review is sent each year."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("review.objectives.title", community=community_name, year=year))
    ]
    if notice:
        body.append(paragraph(notice))
    if not lines:
        body.append(paragraph(t("review.objectives.none"), subtle=True))
    for line in lines:
        body.append(
            {
                "type": "Container",
                "separator": True,
                "items": [
                    paragraph(f"**{line.objective}**"),
                    {
                        "type": "Input.ChoiceSet",
                        "id": f"state_{line.position}",
                        "label": t("review.objectives.state"),
                        "value": line.state.value if line.state else "",
                        "choices": [
                            {"title": state_label(state, locale=locale), "value": state.value}
                            for state in ObjectiveState
                        ],
                    },
                    {
                        # Up to 1,000 characters: a one-line box hid most of a comment.
                        **_input(
                            f"comment_{line.position}",
                            t("review.objectives.comment"),
                            line.comment,
                            max_length=1000,
                        ),
                        "isMultiline": True,
                    },
                    {
                        "type": "ActionSet",
                        "actions": [
                            submit(
                                t("review.objectives.save"),
                                verb=VERB_OBJECTIVE_SAVE,
                                community_id=community_id,
                                year=year,
                                position=line.position,
                                objective=line.objective,
                            )
                        ],
                    },
                ],
            }
        )
    body.append(
        {
            "type": "Container",
            "separator": True,
            "items": [
                {
                    "type": "Input.Date",
                    "id": "review_day",
                    "label": t("review.date.label"),
                    "value": review_day,
                },
                {
                    "type": "ActionSet",
                    "actions": [
                        submit(
                            t("review.date.save"), verb=VERB_DATE_SAVE, community_id=community_id
                        )
                    ],
                },
            ],
        }
    )
    return adaptive_card(body)


__all__ = [
    "Section",
    "build_objectives_card",
    "build_productions_card",
    "build_review_card",
    "build_review_choice_card",
    "kind_label",
    "period_text",
    "review_sections",
    "satisfaction_text",
    "state_label",
]
