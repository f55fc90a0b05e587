"""Survey cards: the satisfaction questionnaire (with an item per objective of the meeting), the
needs survey and the yearly learning questionnaire, the results for animators, the previews
before launching, and the community chooser.

No card names a respondent: results are aggregates from storage/surveys.py, already empty while
the survey is open and below the community's k, with distributions already reduced where a
cell would single someone out.
Every word comes from the catalogs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from babel.numbers import format_decimal, format_percent

from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.i18n import Translate, babel_locale, format_day, format_when, plural, translator
from storage.models import Community, Meeting, Survey, SurveyKind
from storage.surveys import (
    CELL_MIN,
    LEARNING_RATINGS,
    LEARNING_TEXTS,
    MAX_TEXT_LENGTH,
    NEEDS_TEXT,
    SATISFACTION_RATINGS,
    SATISFACTION_TEXTS,
    RatingResult,
    SurveyResults,
    objective_text,
    rating_questions,
    text_questions,
)
from storage.topics import MAX_TITLE_LENGTH

VERB_ANSWER = "surveys.answer"
VERB_NEEDS_PREVIEW = "surveys.needs.preview"
VERB_NEEDS_START = "surveys.needs.start"
VERB_LEARNING_PREVIEW = "surveys.learning.preview"
VERB_LEARNING_START = "surveys.learning.start"
VERB_RESULTS = "surveys.results"
VERB_TOPIC = "surveys.topic"

CHOICES_INPUT = "choices"
# The toggle « n'identifie aucune personne usagère »: it may vouch for names only (storage
# decides which kinds that covers).
NO_CLIENT_INPUT = "identifies_no_client"
QUESTION_KEYS = {
    "overall": "surveys.question.overall",
    "relevance": "surveys.question.relevance",
    "exchanges": "surveys.question.exchanges",
    "usefulness": "surveys.question.usefulness",
    "organisation": "surveys.question.organisation",
    "takeaway": "surveys.question.takeaway",
    "next_time": "surveys.question.next_time",
    "needs": "surveys.question.needs",
    "knowledge": "surveys.question.knowledge",
    "practice": "surveys.question.practice",
    "confidence": "surveys.question.confidence",
    "network": "surveys.question.network",
    "practice_change": "surveys.question.practice_change",
}
# Short names of the rating questions, for the results.
SHORT_KEYS = {
    "overall": "surveys.short.overall",
    "relevance": "surveys.short.relevance",
    "exchanges": "surveys.short.exchanges",
    "usefulness": "surveys.short.usefulness",
    "organisation": "surveys.short.organisation",
    "knowledge": "surveys.short.knowledge",
    "practice": "surveys.short.practice",
    "confidence": "surveys.short.confidence",
    "network": "surveys.short.network",
}
SCALE_KEYS = (
    "surveys.scale.1",
    "surveys.scale.2",
    "surveys.scale.3",
    "surveys.scale.4",
    "surveys.scale.5",
)
BAND_KEYS = {1: "surveys.band.low", 3: "surveys.band.mid", 4: "surveys.band.high"}
# A card stays under Teams' 28 KB: each comment is cut at MAX_COMMENT_CHARS, and a question
# shows comments up to COMMENT_BUDGET bytes (UTF-8) in all, with a count of the rest.
MAX_COMMENT_CHARS = 400
COMMENT_BUDGET = 6_000
MAX_SUGGESTIONS_SHOWN = 12
MAX_OTHER_SURVEYS = 5
BUTTONS_PER_ROW = 5


def rating_input(question: str) -> str:
    return f"rating_{question}"


def text_input(question: str) -> str:
    return f"text_{question}"


def decimal(value: float, *, locale: str) -> str:
    """« 4,2 » / "4.2"."""
    return str(format_decimal(value, format="0.0", locale=babel_locale(locale)))


def percent(value: float, *, locale: str) -> str:
    """« 67 % » / "67%"."""
    return str(format_percent(value, locale=babel_locale(locale)))


def survey_label(survey: Survey, *, meeting: Meeting | None, locale: str, tz: str) -> str:
    """« « Le deuil blanc » du jeudi 5 novembre 2026 » — what the survey is about."""
    t = translator(locale)
    if survey.kind == SurveyKind.LEARNING:
        return t("surveys.label.learning", day=format_day(survey.opens_at, locale=locale, tz=tz))
    if survey.kind == SurveyKind.NEEDS or meeting is None:
        return t("surveys.label.needs", day=format_day(survey.opens_at, locale=locale, tz=tz))
    day = format_day(meeting.starts_at, locale=locale, tz=tz)
    if meeting.title.strip():
        return t("surveys.label.meeting", title=meeting.title.strip(), day=day)
    return t("surveys.label.meeting_untitled", day=day)


def _scale_choices(t: Translate) -> list[Element]:
    return [{"title": t(key), "value": str(n)} for n, key in enumerate(SCALE_KEYS, start=1)]


def question_text(survey: Survey, question: str, t: Translate) -> str:
    """The question as asked: an objective item shows the objective's own words."""
    objective = objective_text(survey, question)
    if objective is not None:
        return t("surveys.question.objective", objective=objective)
    return t(QUESTION_KEYS[question])


def short_text(survey: Survey, question: str, t: Translate) -> str:
    """A rating question's short name, for the results and the dialog's summary."""
    objective = objective_text(survey, question)
    if objective is not None:
        return t("surveys.short.objective", objective=objective)
    return t(SHORT_KEYS[question])


def _rating_input(survey: Survey, question: str, t: Translate) -> Element:
    return {
        "type": "Input.ChoiceSet",
        "id": rating_input(question),
        "label": question_text(survey, question, t),
        "style": "compact",
        "placeholder": t("surveys.card.choose"),
        "isRequired": True,
        "errorMessage": t("surveys.card.required"),
        "choices": _scale_choices(t),
        "wrap": True,
    }


def _text_box(question: str, t: Translate) -> Element:
    return {
        "type": "Input.Text",
        "id": text_input(question),
        "label": t(QUESTION_KEYS[question]),
        "isMultiline": True,
        "maxLength": MAX_TEXT_LENGTH,
    }


def build_survey_card(
    survey: Survey,
    *,
    community: Community,
    meeting: Meeting | None,
    k: int,
    locale: str,
    tz: str,
    reminder: bool = False,
) -> Element:
    """The questionnaire: five ratings, one « cet objectif a été atteint » per objective of the
    meeting, and two open questions after a meeting; topics of the bank and a free text for a
    needs survey; four ratings and a free text for the learning questionnaire. Answers are
    anonymous and can be changed."""
    t = translator(locale)
    closes = format_when(survey.closes_at, locale=locale, tz=tz)
    label = survey_label(survey, meeting=meeting, locale=locale, tz=tz)
    body: list[Element] = []
    if survey.kind == SurveyKind.SATISFACTION:
        body.append(heading(t("surveys.card.title.satisfaction"), size="Medium"))
        if reminder:
            body.append(paragraph(t("surveys.card.reminder", day=closes)))
        objectives = rating_questions(survey)[len(SATISFACTION_RATINGS) :]
        body.append(
            paragraph(
                plural(
                    locale,
                    "surveys.card.intro.with_objectives",
                    len(objectives),
                    survey=label,
                    community=community.name,
                )
                if objectives
                else t("surveys.card.intro.satisfaction", survey=label, community=community.name)
            )
        )
        body.append(paragraph(t("surveys.card.anonymous", k=k), subtle=True))
        body.extend(_rating_input(survey, question, t) for question in SATISFACTION_RATINGS)
        if objectives:
            body.append(heading(t("surveys.card.objectives"), size="Default"))
            body.extend(_rating_input(survey, question, t) for question in objectives)
        body.extend(_text_box(question, t) for question in SATISFACTION_TEXTS)
    elif survey.kind == SurveyKind.LEARNING:
        body.append(
            heading(t("surveys.card.title.learning", community=community.name), size="Medium")
        )
        if reminder:
            body.append(paragraph(t("surveys.card.reminder", day=closes)))
        body.append(paragraph(t("surveys.card.intro.learning", community=community.name)))
        body.append(paragraph(t("surveys.card.anonymous", k=k), subtle=True))
        body.extend(_rating_input(survey, question, t) for question in LEARNING_RATINGS)
        body.extend(_text_box(question, t) for question in LEARNING_TEXTS)
    else:
        body.append(heading(t("surveys.card.title.needs", community=community.name), size="Medium"))
        if reminder:
            body.append(paragraph(t("surveys.card.reminder", day=closes)))
        body.append(paragraph(t("surveys.card.intro.needs", community=community.name)))
        body.append(paragraph(t("surveys.card.anonymous", k=k), subtle=True))
        if survey.topic_choices:
            body.append(
                {
                    "type": "Input.ChoiceSet",
                    "id": CHOICES_INPUT,
                    "label": t("surveys.question.topics"),
                    "style": "expanded",
                    "isMultiSelect": True,
                    "choices": [
                        {"title": title, "value": str(index)}
                        for index, title in enumerate(survey.topic_choices)
                    ],
                }
            )
        else:
            body.append(paragraph(t("surveys.card.no_topics"), subtle=True))
        body.append(_text_box(NEEDS_TEXT, t))
    body.append(
        {
            "type": "Input.Toggle",
            "id": NO_CLIENT_INPUT,
            "title": t("surveys.card.no_client"),
            "valueOn": "true",
            "valueOff": "false",
            "wrap": True,
        }
    )
    body.append(paragraph(t("surveys.card.closes", day=closes), subtle=True))
    body.append(paragraph(t("surveys.card.text_option"), subtle=True, spacing="None"))
    actions = [
        submit(t("surveys.card.submit"), verb=VERB_ANSWER, style="positive", survey_id=survey.id)
    ]
    return adaptive_card(body, actions)


# -- results --------------------------------------------------------------------------------


def _cell_title(low: int, high: int, banded: bool, t: Translate) -> str:
    if banded:
        return t(BAND_KEYS[low])
    return t(SCALE_KEYS[low - 1])


def _count_and_share(count: int, total: int, *, locale: str) -> str:
    return f"{count} ({percent(count / total, locale=locale)})"


def _rating_block(result: RatingResult, survey: Survey, *, locale: str) -> Element:
    t = translator(locale)
    items: list[Element] = [heading(short_text(survey, result.question, t), size="Default")]
    if result.average is None:
        items.append(paragraph(t("surveys.results.no_answer"), subtle=True, spacing="None"))
        return {"type": "Container", "separator": True, "items": items}
    items.append(
        paragraph(
            plural(
                locale,
                "surveys.results.average",
                result.answered,
                average=decimal(result.average, locale=locale),
            ),
            spacing="None",
        )
    )
    if result.cells:
        items.append(
            {
                "type": "FactSet",
                "spacing": "Small",
                "facts": [
                    {
                        "title": _cell_title(cell.low, cell.high, result.banded, t),
                        "value": _count_and_share(cell.count, result.answered, locale=locale),
                    }
                    for cell in reversed(result.cells)
                ],
            }
        )
        if result.banded:
            items.append(
                paragraph(t("surveys.results.banded", cell=CELL_MIN), subtle=True, spacing="None")
            )
    else:
        items.append(
            paragraph(t("surveys.results.hidden", cell=CELL_MIN), subtle=True, spacing="None")
        )
    return {"type": "Container", "separator": True, "items": items}


def _cut(text: str) -> str:
    return text if len(text) <= MAX_COMMENT_CHARS else text[: MAX_COMMENT_CHARS - 1] + "…"


def _comments_block(title: str, texts: Sequence[str], *, locale: str) -> list[Element]:
    t = translator(locale)
    blocks: list[Element] = [heading(title, size="Default")]
    if not texts:
        blocks.append(paragraph(t("surveys.results.no_comment"), subtle=True, spacing="None"))
        return blocks
    used = 0
    listed = 0
    for text in texts:
        shown = _cut(text)
        size = len(shown.encode("utf-8"))
        if used + size > COMMENT_BUDGET:
            break
        used += size
        listed += 1
        blocks.append(paragraph(f"• {shown}", spacing="Small"))
    rest = len(texts) - listed
    if rest > 0:
        blocks.append(paragraph(plural(locale, "surveys.results.more_comments", rest), subtle=True))
    return blocks


def _needs_blocks(results: SurveyResults, *, locale: str) -> list[Element]:
    t = translator(locale)
    blocks: list[Element] = [heading(t("surveys.results.topics"), size="Default")]
    if results.choices:
        blocks.append(
            {
                "type": "FactSet",
                "facts": [
                    {
                        "title": choice.title,
                        "value": str(choice.count)
                        if choice.count is not None
                        else t("surveys.results.fewer_than", cell=CELL_MIN),
                    }
                    for choice in results.choices
                ],
            }
        )
    else:
        blocks.append(paragraph(t("surveys.card.no_topics"), subtle=True, spacing="None"))
    blocks.append(heading(t("surveys.results.suggestions"), size="Default"))
    if not results.suggestions:
        blocks.append(paragraph(t("surveys.results.no_comment"), subtle=True, spacing="None"))
    for suggestion in results.suggestions[:MAX_SUGGESTIONS_SHOWN]:
        row: list[Element] = [paragraph(f"• {_cut(suggestion.text)}", spacing="Small")]
        if suggestion.in_bank:
            row.append(paragraph(t("surveys.results.in_bank"), subtle=True, spacing="None"))
        else:
            row.append(
                {
                    "type": "ActionSet",
                    "spacing": "None",
                    "actions": [
                        submit(
                            t("surveys.results.add_topic"),
                            verb=VERB_TOPIC,
                            survey_id=results.survey.id,
                            text=suggestion.text[:MAX_TITLE_LENGTH],
                        )
                    ],
                }
            )
        blocks.append({"type": "Container", "items": row})
    rest = len(results.suggestions) - MAX_SUGGESTIONS_SHOWN
    if rest > 0:
        blocks.append(paragraph(plural(locale, "surveys.results.more_comments", rest), subtle=True))
    return blocks


def build_results_card(
    results: SurveyResults,
    *,
    locale: str,
    tz: str,
    others: Sequence[tuple[Survey, Meeting | None]] = (),
) -> Element:
    """For animators: the response rate; once closed and from k answers, each question's
    average and what may be shown of its distribution, the comments (alphabetical), or for a
    needs survey the topics chosen and the suggestions, each with a button to put it in the
    topic bank."""
    t = translator(locale)
    survey = results.survey
    label = survey_label(survey, meeting=results.meeting, locale=locale, tz=tz)
    rate = results.response_rate
    body: list[Element] = [
        heading(t("surveys.results.title", survey=label), size="Medium"),
        paragraph(results.community.name, subtle=True, spacing="None"),
        {
            "type": "FactSet",
            "facts": [
                {"title": t("surveys.results.invited"), "value": str(results.invited)},
                {
                    "title": t("surveys.results.responses"),
                    "value": str(results.responses)
                    if rate is None
                    else f"{results.responses} ({percent(rate, locale=locale)})",
                },
                {
                    "title": t("surveys.results.closing"),
                    "value": (
                        t(
                            "surveys.results.closed_on",
                            day=format_day(survey.closes_at, locale=locale, tz=tz),
                        )
                        if results.closed
                        else t(
                            "surveys.results.open_until",
                            day=format_when(survey.closes_at, locale=locale, tz=tz),
                        )
                    ),
                },
            ],
        },
    ]
    if not results.closed:
        day = format_when(survey.closes_at, locale=locale, tz=tz)
        body.append(paragraph(t("surveys.results.after_closing", day=day, k=results.k)))
    elif not results.shown:
        body.append(paragraph(t("surveys.results.below_k", k=results.k)))
    elif survey.kind in (SurveyKind.SATISFACTION, SurveyKind.LEARNING):
        for rating in results.ratings:
            if rating.question == objective_question_first(survey):
                body.append(
                    {**heading(t("surveys.results.objectives"), size="Medium"), "separator": True}
                )
            body.append(_rating_block(rating, survey, locale=locale))
        for question in text_questions(survey):
            body.append(
                {
                    "type": "Container",
                    "separator": True,
                    "items": _comments_block(
                        t(QUESTION_KEYS[question]),
                        results.comments.get(question, ()),
                        locale=locale,
                    ),
                }
            )
    else:
        body.extend(_needs_blocks(results, locale=locale))
    body.append(paragraph(t("surveys.results.privacy", k=results.k, cell=CELL_MIN), subtle=True))
    listed = [(s, m) for s, m in others if s.id != survey.id][:MAX_OTHER_SURVEYS]
    if listed:
        # Teams cuts a button's title after a few words (five « « Le deuil bl… »): the
        # surveys are a choice list, whole labels wrapped, and one short button.
        body.append(
            {
                "type": "Input.ChoiceSet",
                "id": "survey_id",
                "label": t("surveys.results.others"),
                "style": "compact",
                "wrap": True,
                "value": str(listed[0][0].id),
                "choices": [
                    {
                        "title": survey_label(other, meeting=meeting, locale=locale, tz=tz),
                        "value": str(other.id),
                    }
                    for other, meeting in listed
                ],
                "separator": True,
            }
        )
        body.append(
            {
                "type": "ActionSet",
                "actions": [submit(t("surveys.results.others_show"), verb=VERB_RESULTS)],
            }
        )
    return adaptive_card(body)


def objective_question_first(survey: Survey) -> str | None:
    """The first objective item's key, where the results put the objectives' heading."""
    items = rating_questions(survey)[len(SATISFACTION_RATINGS) :]
    return items[0] if survey.kind == SurveyKind.SATISFACTION and items else None


def build_learning_preview_card(
    community: Community,
    *,
    invitees: int,
    closes_at: datetime,
    last: Survey | None,
    locale: str,
    tz: str,
) -> Element:
    """For an animator, before launching the learning questionnaire: the questions, who will
    be asked, until when, and when the last one was run."""
    t = translator(locale)
    facts: list[Element] = [
        {"title": t("surveys.needs.preview.invitees"), "value": str(invitees)},
        {
            "title": t("surveys.needs.preview.closes"),
            "value": format_when(closes_at, locale=locale, tz=tz),
        },
    ]
    if last is not None:
        facts.append(
            {
                "title": t("surveys.learning.preview.last"),
                "value": format_day(last.opens_at, locale=locale, tz=tz),
            }
        )
    body: list[Element] = [
        heading(t("surveys.card.title.learning", community=community.name), size="Medium"),
        paragraph(t("surveys.learning.preview.intro")),
        {"type": "FactSet", "facts": facts},
        # The questions, set apart from the facts above (they ran into « Fermeture »).
        *(
            paragraph(f"• {t(QUESTION_KEYS[q])}", spacing="Medium" if n == 0 else "None")
            for n, q in enumerate((*LEARNING_RATINGS, *LEARNING_TEXTS))
        ),
        paragraph(t("surveys.needs.preview.consent"), subtle=True),
    ]
    actions = [
        submit(
            t("surveys.needs.preview.start"),
            verb=VERB_LEARNING_START,
            style="positive",
            community_id=community.id,
        )
    ]
    return adaptive_card(body, actions)


def build_needs_preview_card(
    community: Community,
    *,
    topic_choices: Sequence[str],
    invitees: int,
    closes_at: datetime,
    locale: str,
    tz: str,
) -> Element:
    """For an animator, before launching: who will be asked, which topics, until when."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("surveys.needs.preview.title", community=community.name), size="Medium"),
        paragraph(t("surveys.needs.preview.intro")),
        {
            "type": "FactSet",
            "facts": [
                {"title": t("surveys.needs.preview.invitees"), "value": str(invitees)},
                {
                    "title": t("surveys.needs.preview.closes"),
                    "value": format_when(closes_at, locale=locale, tz=tz),
                },
            ],
        },
    ]
    if topic_choices:
        body.append(paragraph(t("surveys.needs.preview.topics")))
        body.extend(paragraph(f"• {title}", spacing="None") for title in topic_choices)
    else:
        body.append(paragraph(t("surveys.needs.preview.no_topics"), subtle=True))
    body.append(paragraph(t("surveys.needs.preview.consent"), subtle=True))
    actions = [
        submit(
            t("surveys.needs.preview.start"),
            verb=VERB_NEEDS_START,
            style="positive",
            community_id=community.id,
        )
    ]
    return adaptive_card(body, actions)


def build_community_choice_card(
    communities: Sequence[Community], *, verb: str, locale: str
) -> Element:
    """Which community? (needs survey or results, for someone who animates several)."""
    t = translator(locale)
    buttons = [submit(c.name, verb=verb, community_id=c.id) for c in communities]
    body: list[Element] = [
        heading(t("surveys.choose.title"), size="Medium"),
        *(
            {"type": "ActionSet", "actions": buttons[start : start + BUTTONS_PER_ROW]}
            for start in range(0, len(buttons), BUTTONS_PER_ROW)
        ),
    ]
    return adaptive_card(body)
