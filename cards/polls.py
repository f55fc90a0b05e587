"""Poll cards: the creation form, the poll posted in the channel, the results for animators.

Every viewer of the channel sees the same card (shared results), so the poll card is an
`Action.Submit` card that the bot updates in place after each vote and at closing; its
`refresh` gives each person their own view of it, with their own ballot (`VERB_VIEW`).
An anonymous poll's cards name no voter, and show no count until the poll is closed with at
least k voters (storage/polls.py gives no counts before): while it runs, each update after a
vote changes only the number of voters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from babel.lists import format_list
from babel.numbers import format_percent

from cards.common import (
    MAX_CARD_BYTES,
    Element,
    adaptive_card,
    heading,
    paragraph,
    submit,
    with_refresh,
)
from cards.confirm import build_confirmation_card, build_outcome_card
from cards.i18n import Translate, babel_locale, format_when, plural, translator
from storage.models import PollStatus
from storage.polls import (
    MAX_OPEN_DAYS,
    MAX_OPTION_LENGTH,
    MAX_OPTIONS,
    MAX_QUESTION_LENGTH,
    PollResults,
)

VERB_CREATE = "polls.create"
VERB_VOTE = "polls.vote"
VERB_CLOSE = "polls.close"
VERB_TOPICS = "polls.form.topics"
VERB_CANCEL = "polls.cancel"
VERBS = frozenset({VERB_CREATE, VERB_VOTE, VERB_CLOSE, VERB_TOPICS, VERB_CANCEL})
# The refresh of the posted poll card (an invoke, not a button): each voter's own view.
VERB_VIEW = "polls.view"
# The id of the poll card's choice input; its value comes back as "2" or "0,3".
CHOICE_INPUT = "choice"
BAR_CELLS = 10
# Radio buttons read best for a few options; a drop-down keeps long lists short.
EXPANDED_UP_TO = 5
# The form's toggle: its texts identify no client (a name in them may then be posted).
NO_CLIENT_INPUT = "identifies_no_client"
# Names shown under an option before « and N others » (keeps big communities under 28 KB).
NAMES_PER_OPTION = (20, 5, 0)


@dataclass(frozen=True, slots=True)
class PollForm:
    """What the creation form shows (and what came back from it)."""

    question: str = ""
    options: str = ""  # one per line
    multiple: bool = False
    anonymous: bool = False
    close_date: str = ""  # YYYY-MM-DD, in the community's time zone
    close_time: str = ""  # HH:MM
    # « Ce texte n'identifie aucune personne usagère »: vouches for names only (storage decides).
    no_client: bool = False


def build_poll_form_card(
    form: PollForm, *, locale: str, today: date, errors: Sequence[str] = ()
) -> Element:
    t = translator(locale)
    body: list[Element] = [heading(t("polls.form.title")), paragraph(t("polls.form.intro"))]
    for error in errors:
        body.append({"type": "TextBlock", "text": error, "color": "Attention", "wrap": True})
    body += [
        {
            "type": "Input.Text",
            "id": "question",
            "label": t("polls.form.question"),
            "placeholder": t("polls.form.question_hint"),
            "value": form.question,
            "maxLength": MAX_QUESTION_LENGTH,
        },
        {
            "type": "Input.Text",
            "id": "options",
            "label": t("polls.form.options", max=MAX_OPTIONS),
            "placeholder": t("polls.form.options_hint"),
            "value": form.options,
            "isMultiline": True,
            # Room for more than allowed: too many options get a message, not a silent cut.
            "maxLength": 2 * MAX_OPTIONS * (MAX_OPTION_LENGTH + 1),
        },
        _toggle("multiple", t("polls.form.multiple"), form.multiple),
        _toggle("anonymous", t("polls.form.anonymous"), form.anonymous),
        _toggle(NO_CLIENT_INPUT, t("polls.form.no_client"), form.no_client),
        {
            "type": "ColumnSet",
            "columns": [
                {
                    "type": "Column",
                    "width": "stretch",
                    "items": [
                        {
                            "type": "Input.Date",
                            "id": "close_date",
                            "label": t("polls.form.close_date"),
                            "value": form.close_date,
                            "min": today.isoformat(),
                            "max": (today + timedelta(days=MAX_OPEN_DAYS)).isoformat(),
                        }
                    ],
                },
                {
                    "type": "Column",
                    "width": "stretch",
                    "items": [
                        {
                            "type": "Input.Time",
                            "id": "close_time",
                            "label": t("polls.form.close_time"),
                            "value": form.close_time,
                        }
                    ],
                },
            ],
        },
    ]
    cancel = submit(t("polls.form.cancel"), verb=VERB_CANCEL)
    # Cancelling needs none of the half-filled values.
    cancel["associatedInputs"] = "none"
    return adaptive_card(
        body,
        [
            submit(t("polls.form.submit"), verb=VERB_CREATE, style="positive"),
            submit(t("polls.form.topics"), verb=VERB_TOPICS),
            cancel,
        ],
    )


def _toggle(id_: str, title: str, on: bool) -> Element:
    return {
        "type": "Input.Toggle",
        "id": id_,
        "title": title,
        "value": "true" if on else "false",
        "valueOn": "true",
        "valueOff": "false",
        "wrap": True,
    }


def result_bar(count: int, voters: int, *, locale: str) -> str:
    """« ████░░░░░░ 4 (40 %) »: the share of voters who chose the option."""
    share = count / voters if voters else 0.0
    filled = min(BAR_CELLS, int(share * BAR_CELLS + 0.5))
    percent = format_percent(share, locale=babel_locale(locale))
    return f"{'█' * filled}{'░' * (BAR_CELLS - filled)} {count} ({percent})"


def voters_text(voters: int, t: Translate) -> str:
    if voters == 0:
        return t("polls.card.voters_none")
    if voters == 1:
        return t("polls.card.voters_one")
    return t("polls.card.voters_many", count=voters)


def _names_text(names: Sequence[str | None], limit: int, *, locale: str) -> str:
    t = translator(locale)
    shown = [name or t("polls.card.someone") for name in names[:limit]]
    hidden = len(names) - len(shown)
    if hidden and shown:
        return plural(locale, "polls.card.names_more", hidden, names=", ".join(shown))
    if hidden:
        return plural(locale, "polls.card.names_count", hidden)
    return ", ".join(shown)


def _options(results: PollResults, *, locale: str, names_limit: int) -> list[Element]:
    if results.counts is None:
        return _hidden_results(results, locale=locale)
    blocks: list[Element] = []
    for index, option in enumerate(results.poll.options):
        items: list[Element] = [
            {"type": "TextBlock", "text": option, "weight": "Bolder", "wrap": True},
            {
                "type": "TextBlock",
                "text": result_bar(results.counts[index], results.voters, locale=locale),
                "fontType": "Monospace",
                "spacing": "None",
                "wrap": True,
            },
        ]
        # Names only exist for a poll that is not anonymous (storage never reads them else).
        if results.names is not None and not results.poll.anonymous and results.names[index]:
            items.append(
                {
                    "type": "TextBlock",
                    "text": _names_text(results.names[index], names_limit, locale=locale),
                    "isSubtle": True,
                    "size": "Small",
                    "spacing": "None",
                    "wrap": True,
                }
            )
        blocks.append({"type": "Container", "items": items, "spacing": "Medium"})
    return blocks


def _hidden_results(results: PollResults, *, locale: str) -> list[Element]:
    """An anonymous poll without its counts: while open, the ballot below lists the options;
    once closed, the options and why there are no counts."""
    t = translator(locale)
    if results.poll.status != PollStatus.CLOSED:
        return [paragraph(t("polls.card.results_at_closing", k=results.k), spacing="Medium")]
    return [
        *(paragraph(f"• {option}", spacing="Small") for option in results.poll.options),
        paragraph(t("polls.card.too_few", k=results.k), spacing="Medium"),
    ]


def _facts(results: PollResults, *, locale: str, tz: str) -> list[Element]:
    t = translator(locale)
    poll = results.poll
    closed_unanswered = poll.status == PollStatus.CLOSED and not results.voters
    lines = [
        # « Personne n’a encore voté » would promise votes a closed poll can no longer get.
        paragraph(
            t("polls.results.no_votes") if closed_unanswered else voters_text(results.voters, t),
            spacing="Medium",
        ),
        paragraph(t("polls.card.anonymous") if poll.anonymous else t("polls.card.public")),
    ]
    if poll.status == PollStatus.CLOSED:
        when = format_when(poll.closed_at or poll.closes_at, locale=locale, tz=tz)
        lines.append(heading(t("polls.card.closed", when=when), size="Default"))
    else:
        when = format_when(poll.closes_at, locale=locale, tz=tz)
        lines.append(paragraph(t("polls.card.closes", when=when), subtle=True))
    return lines


def _fitting(build: Callable[[int], Element]) -> Element:
    """The first rendering under Teams' size limit, with fewer names each time."""
    card: Element = {}
    for limit in NAMES_PER_OPTION:
        card = build(limit)
        if len(json.dumps(card, ensure_ascii=False).encode()) <= MAX_CARD_BYTES:
            break
    return card


def build_poll_card(
    results: PollResults,
    *,
    locale: str,
    tz: str,
    viewers: Sequence[str] | None = None,
    own_choices: Sequence[int] | None = None,
) -> Element:
    """The poll as posted in the channel: live results, the ballot while open.
    `viewers`: the Teams ids of the people whose client asks for their own view (`VERB_VIEW`,
    a refresh), as the posted card does (not listed for an anonymous poll); `own_choices`:
    that view's reader's ballot (« Votre vote : … », the ballot pre-selected), for their eyes
    only."""
    t = translator(locale)
    poll = results.poll
    is_open = poll.status == PollStatus.OPEN
    own_indexes = sorted({i for i in own_choices or () if 0 <= i < len(poll.options)})
    own = [poll.options[i] for i in own_indexes]

    def refreshed(card: Element) -> Element:
        if viewers is None or poll.id is None:
            return card
        # An anonymous poll's card names nobody, not even who may refresh it.
        user_ids = None if poll.anonymous else list(viewers)
        return with_refresh(card, verb=VERB_VIEW, data={"poll_id": poll.id}, user_ids=user_ids)

    def build(names_limit: int) -> Element:
        body: list[Element] = [
            paragraph(t("polls.card.kind"), subtle=True),
            heading(poll.question, size="Large"),
            paragraph(
                t("polls.card.multiple") if poll.multiple else t("polls.card.single"),
                subtle=True,
                spacing="None",
            ),
            *_options(results, locale=locale, names_limit=names_limit),
            *_facts(results, locale=locale, tz=tz),
        ]
        if own:
            body.append(
                {
                    "type": "TextBlock",
                    "text": t(
                        "polls.card.your_vote",
                        choices=format_list(own, locale=babel_locale(locale)),
                    ),
                    "weight": "Bolder",
                    "spacing": "Medium",
                    "wrap": True,
                }
            )
        if not is_open:
            return refreshed(adaptive_card(body))
        ballot: Element = {
            "type": "Input.ChoiceSet",
            "id": CHOICE_INPUT,
            "label": t("polls.card.choose_many") if poll.multiple else t("polls.card.choose"),
            "style": "expanded" if len(poll.options) <= EXPANDED_UP_TO else "compact",
            "isMultiSelect": poll.multiple,
            "choices": [
                {"title": option, "value": str(index)} for index, option in enumerate(poll.options)
            ],
            "separator": True,
        }
        if own:
            # The reader's own ballot, ready to be changed (in their view only).
            ballot["value"] = ",".join(str(index) for index in own_indexes)
        body += [ballot, paragraph(t("polls.card.change_hint"), subtle=True, spacing="Small")]
        return refreshed(
            adaptive_card(
                body,
                [
                    submit(t("polls.card.vote"), verb=VERB_VOTE, style="positive", poll_id=poll.id),
                    submit(t("polls.card.close"), verb=VERB_CLOSE, poll_id=poll.id),
                ],
            )
        )

    return _fitting(build)


def build_poll_results_card(
    results: PollResults, *, community_name: str, locale: str, tz: str
) -> Element:
    """The final results, sent to each animator when the poll closes."""
    t = translator(locale)
    poll = results.poll
    counts = results.counts or (0,) * len(poll.options)
    top = max(counts, default=0)
    leaders = [o for o, count in zip(poll.options, counts, strict=True) if count == top]
    if not results.voters:
        leading = [paragraph(t("polls.results.no_votes"))]
    elif top:
        leading = [paragraph(t("polls.results.leading", options=", ".join(leaders)))]
    else:
        leading = []  # counts withheld: the options say why

    def build(names_limit: int) -> Element:
        return adaptive_card(
            [
                heading(t("polls.results.title", community=community_name)),
                heading(poll.question, size="Medium"),
                *leading,
                *_options(results, locale=locale, names_limit=names_limit),
                *_facts(results, locale=locale, tz=tz),
            ]
        )

    return _fitting(build)


def build_close_confirmation_card(poll_id: int, *, voters: int, locale: str) -> Element:
    """Asked before « Fermer maintenant » acts: how many voted, and that the results go out."""
    t = translator(locale)
    return build_confirmation_card(
        t,
        title=t("polls.close.confirm.title"),
        consequences=[plural(locale, "polls.close.confirm.voters", voters)],
        confirm_title=t("polls.close.confirm.button"),
        verb=VERB_CLOSE,
        data={"poll_id": poll_id},
    )


def build_close_outcome_card(*, closed_now: bool, locale: str) -> Element:
    """What the confirmation card becomes: closed now, or closed already (a second click, or
    the scheduler first)."""
    t = translator(locale)
    return build_outcome_card(t("polls.close.done" if closed_now else "polls.close.already"))
