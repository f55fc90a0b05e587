"""Questions to the community: the card posted in the channel (everyone sees the same one, so
it names no asker of an anonymous question, and no one's controls), the private card where the
asker or a facilitator marks the answer that helped, withdraws the question or keeps the
exchange in the toolbox, and the notice that replaces an erased question's card."""

from __future__ import annotations

from collections.abc import Sequence

from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.confirm import build_confirmation_card
from cards.consultations import identifier_kinds_text
from cards.i18n import Translate, format_day, plural, translator
from storage.identifiers import IdentifierKind
from storage.models import QuestionStatus
from storage.questions import (
    MAX_ANSWER_LENGTH,
    MAX_QUESTION_LENGTH,
    MIN_ANSWER_LENGTH,
    MIN_QUESTION_LENGTH,
    REASON_FLAGGED,
    REASON_NEW_ANSWER,
    TOO_LONG,
    AnswerRow,
    QuestionView,
)

VERB_ASK = "questions.ask"
VERB_ANSWER = "questions.answer"
VERB_MANAGE = "questions.manage"
VERB_HELPFUL = "questions.helpful"
VERB_WITHDRAW = "questions.withdraw"
VERB_TOOLBOX = "questions.to_toolbox"
VERBS = frozenset({VERB_ASK, VERB_ANSWER, VERB_MANAGE, VERB_HELPFUL, VERB_WITHDRAW, VERB_TOOLBOX})
# The channel card's answer field; its value comes back under this name.
ANSWER_INPUT = "answer"
# What the cards show of each answer (an answer can be 2,000 characters; cards stay < 28 KB).
CHANNEL_PREVIEW = 300
PRIVATE_PREVIEW = 600
# The private card lists this many answers (the latest, and the helpful one).
PRIVATE_ANSWERS = 15


def _clip(text: str, length: int) -> str:
    text = text.strip()
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def _author(t: Translate, row: AnswerRow) -> str:
    if row.by_asker:
        return t("questions.card.by_asker")
    return row.author or t("questions.card.someone")


def _asked_line(t: Translate, view: QuestionView, *, locale: str, tz: str) -> str:
    day = format_day(view.question.asked_at, locale=locale, tz=tz)
    if view.asker is None:
        return t("questions.card.asked_anonymously", community=view.community.name, day=day)
    return t("questions.card.asked_by", name=view.asker, community=view.community.name, day=day)


def _answer_block(t: Translate, row: AnswerRow, *, preview: int) -> Element:
    items: list[Element] = [
        {
            "type": "TextBlock",
            "text": _author(t, row),
            "weight": "Bolder",
            "wrap": True,
            "spacing": "None",
        },
        paragraph(_clip(row.text, preview), spacing="None"),
    ]
    if row.helpful:
        items.append(
            {
                "type": "TextBlock",
                "text": t("questions.card.helpful_mark"),
                "color": "Good",
                "weight": "Bolder",
                "wrap": True,
                "spacing": "None",
            }
        )
    return {"type": "Container", "items": items, "separator": True}


def _answers_heading(t: Translate, view: QuestionView, *, locale: str) -> Element:
    if view.answer_count == 0:
        return paragraph(t("questions.card.no_answers"), subtle=True)
    return heading(plural(locale, "questions.card.answers", view.answer_count), size="Medium")


def build_question_card(view: QuestionView, *, locale: str, tz: str) -> Element:
    """The card in the channel, as everyone sees it: the question, who asked it (unless
    anonymous), the latest answers (the helpful one marked) and the form to answer."""
    t = translator(locale)
    question = view.question
    assert question.id is not None
    body: list[Element] = [heading(t("questions.card.title"), size="Medium")]
    if question.status == QuestionStatus.WITHDRAWN:
        body.append(paragraph(t("questions.card.withdrawn"), subtle=True))
        return adaptive_card(body)
    body += [
        paragraph(_asked_line(t, view, locale=locale, tz=tz), subtle=True, spacing="None"),
        {"type": "TextBlock", "text": question.text, "wrap": True, "size": "Medium"},
    ]
    if question.status == QuestionStatus.ANSWERED:
        body.append(
            {
                "type": "TextBlock",
                "text": t("questions.card.answered"),
                "color": "Good",
                "wrap": True,
            }
        )
    body.append(_answers_heading(t, view, locale=locale))
    earlier = view.answer_count - len(view.answers)
    if earlier > 0:
        body.append(paragraph(plural(locale, "questions.card.earlier", earlier), subtle=True))
    body += [_answer_block(t, row, preview=CHANNEL_PREVIEW) for row in view.answers]
    body += [
        paragraph(t("questions.card.how_to_answer"), subtle=True),
        {
            "type": "Input.Text",
            "id": ANSWER_INPUT,
            "isMultiline": True,
            "maxLength": MAX_ANSWER_LENGTH,
            "placeholder": t("questions.card.answer_placeholder"),
            "label": t("questions.card.answer_label"),
        },
    ]
    actions = [
        submit(t("questions.card.answer_button"), verb=VERB_ANSWER, question_id=question.id),
        submit(t("questions.card.manage_button"), verb=VERB_MANAGE, question_id=question.id),
    ]
    return adaptive_card(body, actions)


def build_manage_card(
    view: QuestionView,
    answers: Sequence[AnswerRow],
    *,
    is_asker: bool,
    reason: str,
    locale: str,
    tz: str,
) -> Element:
    """The private card with the question's controls: each answer with « Cette réponse a
    aidé », withdrawing (the asker only), keeping the exchange in the toolbox."""
    t = translator(locale)
    question = view.question
    assert question.id is not None
    title = {
        REASON_NEW_ANSWER: "questions.manage.title_new_answer",
        REASON_FLAGGED: "questions.manage.title_flagged",
    }.get(reason, "questions.manage.title")
    body: list[Element] = [heading(t(title), size="Medium")]
    day = format_day(question.asked_at, locale=locale, tz=tz)
    if reason == REASON_FLAGGED:
        body.append(
            paragraph(t("questions.manage.flagged", community=view.community.name, day=day))
        )
    else:
        body.append(
            paragraph(
                t("questions.manage.where", community=view.community.name, day=day), subtle=True
            )
        )
    if is_asker and question.anonymous:
        body.append(paragraph(t("questions.manage.anonymous_note"), subtle=True))
    body.append({"type": "TextBlock", "text": question.text, "wrap": True, "size": "Medium"})
    if question.status == QuestionStatus.WITHDRAWN:
        body.append(paragraph(t("questions.manage.withdrawn"), subtle=True))
        return adaptive_card(body)
    body.append(_answers_heading(t, view, locale=locale))
    shown = list(answers)[-PRIVATE_ANSWERS:]
    for row in shown:
        block = _answer_block(t, row, preview=PRIVATE_PREVIEW)
        if not row.helpful:
            block["items"].append(
                {
                    "type": "ActionSet",
                    "actions": [
                        submit(
                            t("questions.manage.helpful_button"),
                            verb=VERB_HELPFUL,
                            question_id=question.id,
                            answer_id=row.id,
                        )
                    ],
                }
            )
        body.append(block)
    actions: list[Element] = []
    if question.resource_id is not None:
        body.append(paragraph(t("questions.manage.in_toolbox"), subtle=True))
    elif question.status == QuestionStatus.ANSWERED:
        actions.append(
            submit(t("questions.manage.toolbox_button"), verb=VERB_TOOLBOX, question_id=question.id)
        )
    if is_asker:
        actions.append(
            submit(
                t("questions.manage.withdraw_button"), verb=VERB_WITHDRAW, question_id=question.id
            )
        )
    return adaptive_card(body, actions)


def build_withdraw_confirmation_card(question_id: int, *, answers: int, locale: str) -> Element:
    t = translator(locale)
    return build_confirmation_card(
        t,
        title=t("questions.withdraw.confirm_title"),
        consequences=[
            t("questions.withdraw.consequence_card"),
            plural(locale, "questions.withdraw.consequence_answers", answers),
        ],
        confirm_title=t("questions.withdraw.confirm"),
        verb=VERB_WITHDRAW,
        data={"question_id": question_id},
    )


def build_removed_card(*, locale: str) -> Element:
    """What an erased question's card becomes in the channel."""
    t = translator(locale)
    return adaptive_card(
        [heading(t("questions.card.title"), size="Medium"), paragraph(t("questions.card.removed"))]
    )


# -- what a refused text is told -----------------------------------------------------------------


def text_problem_key(reason: str, *, answer: bool) -> tuple[str, dict[str, int]]:
    """The catalog key (and its values) saying why a text was refused."""
    if answer:
        key = "questions.answer.too_long" if reason == TOO_LONG else "questions.answer.too_short"
        return key, {"min": MIN_ANSWER_LENGTH, "max": MAX_ANSWER_LENGTH}
    key = "questions.ask.too_long" if reason == TOO_LONG else "questions.ask.too_short"
    return key, {"min": MIN_QUESTION_LENGTH, "max": MAX_QUESTION_LENGTH}


def text_problem_message(reason: str, *, answer: bool, locale: str) -> str:
    key, values = text_problem_key(reason, answer=answer)
    return translator(locale)(key, **values)


def identifiers_key(*, answer: bool) -> str:
    return "questions.answer.identifiers" if answer else "questions.ask.identifiers"


def identifiers_message(kinds: Sequence[IdentifierKind], *, answer: bool, locale: str) -> str:
    """Which kinds were spotted (never the text): nothing is posted, the person rephrases."""
    kinds_text = identifier_kinds_text(kinds, locale=locale)
    return translator(locale)(identifiers_key(answer=answer), kinds=kinds_text)
