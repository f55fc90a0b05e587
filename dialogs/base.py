"""Base for every dialog: `annuler` / `cancel` at any step ends it cleanly, saving nothing.
Also the small helpers the question-and-answer dialogs share (translating for the person,
the answers kept between turns, a question and its retry message, a choice on buttons)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from microsoft_agents.activity import ActivityTypes
from microsoft_agents.hosting.core import MessageFactory
from microsoft_agents.hosting.dialogs import (
    ComponentDialog,
    DialogContext,
    DialogTurnResult,
    DialogTurnStatus,
    WaterfallStepContext,
)
from microsoft_agents.hosting.dialogs.choices import Choice, FoundChoice, ListStyle
from microsoft_agents.hosting.dialogs.prompts import PromptOptions, PromptValidatorContext

from cards.i18n import Translate, translator
from dialogs.context import turn_info
from storage import communities
from storage.db import SessionFactory
from storage.models import Community

CANCEL_WORDS = frozenset({"annuler", "annule", "cancel", "stop", "arreter", "quit"})

_Answers = TypeVar("_Answers")


def simplify(text: str) -> str:
    """Lower case, no accents, single spaces: how commands and answers are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.replace("’", "'").split()).strip(" .!?")


def choice(title: str, *synonyms: str) -> Choice:
    """A choice recognised by its title and synonyms, as typed or simplified."""
    # Both spellings: typed answers keep their accents, simplified ones lose them.
    words = {s.casefold() for s in (title, *synonyms)} | {simplify(s) for s in (title, *synonyms)}
    return Choice(title, synonyms=sorted(w for w in words if w))


@dataclass
class Candidate:
    """A community offered as a button, kept in the answers until the person picks one."""

    community_id: int = 0
    name: str = ""


def step_answers(step: WaterfallStepContext, kind: type[_Answers]) -> _Answers:
    """What the person answered so far: one `kind` object in the waterfall's values, which the
    dialog state keeps between turns; created empty at the first step.

    The state is stored as JSON (storage/state_codec.py), which rebuilds only dataclasses of
    `dialogs.*`: `kind` is a module-level @dataclass whose fields are str, int, float, bool,
    None, datetime, lists and dicts of those, or such dataclasses. Never tuples or sets."""
    answers = step.values.get("answers")
    if not isinstance(answers, kind):
        answers = kind()
        step.values["answers"] = answers
    return answers


def picked(step: WaterfallStepContext) -> int:
    """Which button (its index) the person chose at the previous step's ChoicePrompt."""
    found = step.result
    if not isinstance(found, FoundChoice):
        raise TypeError(f"expected a ChoicePrompt's FoundChoice, got {type(found).__name__}")
    return found.index


def picked_if_asked(step: WaterfallStepContext) -> int | None:
    """`picked`, or None when the previous step skipped its question (`step.next(None)`)."""
    return None if step.result is None else picked(step)


def typed_text(prompt: PromptValidatorContext) -> str:
    """What a TextPrompt recognised, stripped ("" when nothing was)."""
    value = prompt.recognized.value
    return value.strip() if isinstance(value, str) else ""


async def communities_to_choose(
    sessions: SessionFactory, *, person_id: int | None, community_id: int | None
) -> list[Community] | None:
    """The communities a dialog about one of the person's communities may be about: theirs
    (by name), or only `community_id` when the dialog started in that community's channel;
    None when it did and the person is no member there."""
    mine: list[Community] = []
    if person_id is not None:
        async with sessions() as session:
            mine = [c for _m, c in await communities.memberships_of(session, person_id=person_id)]
    if community_id is None:
        return mine
    given = next((c for c in mine if c.id == community_id), None)
    return None if given is None else [given]


async def end(dc: DialogContext, result: object = None) -> DialogTurnResult:
    """`dc.end_dialog(result)`, typed (the SDK leaves its return unannotated)."""
    turn: DialogTurnResult = await dc.end_dialog(result)
    return turn


async def begin(dc: DialogContext, dialog_id: str, options: object = None) -> DialogTurnResult:
    """`dc.begin_dialog(dialog_id, options)`, typed likewise."""
    turn: DialogTurnResult = await dc.begin_dialog(dialog_id, options)
    return turn


class CancellableDialog(ComponentDialog):
    # For `_choose`: the dialog's ChoicePrompt and the catalog key of its retry message.
    CHOICE_ID: ClassVar[str]
    RETRY_CHOICE: ClassVar[str]

    def _start_with(self, dialog_id: str) -> None:
        """Begin with `dialog_id` (the waterfall) rather than the first dialog added."""
        # The SDK's ComponentDialog initialises it to None with no annotation.
        self.initial_dialog_id = dialog_id  # type: ignore[assignment]

    async def on_continue_dialog(self, inner_dc: DialogContext) -> DialogTurnResult:
        result = await self._interrupt(inner_dc)
        if result is not None:
            return result
        return await super().on_continue_dialog(inner_dc)

    async def _interrupt(self, inner_dc: DialogContext) -> DialogTurnResult | None:
        activity = inner_dc.context.activity
        text = activity.text if activity.type == ActivityTypes.message else None
        if text and simplify(text) in CANCEL_WORDS:
            t = translator(turn_info(inner_dc.context).locale)
            await inner_dc.context.send_activity(t("dialog.cancelled"))
            cancelled: DialogTurnResult = await inner_dc.cancel_all_dialogs()
            return cancelled
        return None

    @staticmethod
    def _t(step: WaterfallStepContext | PromptValidatorContext) -> Translate:
        """Messages in the language of the person answering."""
        return translator(turn_info(step.context).locale)

    async def _ask(
        self, step: WaterfallStepContext, prompt_id: str, text: str, retry: str
    ) -> DialogTurnResult:
        """Ask `text` with the prompt `prompt_id`; `retry` when its validator refuses."""
        return await step.prompt(
            prompt_id,
            PromptOptions(
                prompt=MessageFactory.text(text), retry_prompt=MessageFactory.text(retry)
            ),
        )

    async def _choose(
        self, step: WaterfallStepContext, text: str, choices: list[Choice]
    ) -> DialogTurnResult:
        """Ask `text` with `choices` as buttons (a hero card); RETRY_CHOICE when not understood."""
        return await step.prompt(
            self.CHOICE_ID,
            PromptOptions(
                prompt=MessageFactory.text(text),
                retry_prompt=MessageFactory.text(self._t(step)(self.RETRY_CHOICE)),
                choices=choices,
                style=ListStyle.hero_card,
            ),
        )


__all__ = [
    "CANCEL_WORDS",
    "CancellableDialog",
    "Candidate",
    "DialogTurnStatus",
    "begin",
    "choice",
    "end",
    "picked",
    "picked_if_asked",
    "simplify",
    "step_answers",
    "typed_text",
]
