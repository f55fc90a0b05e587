"""Base for every dialog: `annuler` / `cancel` at any step ends it cleanly, saving nothing.
Also the small helpers the question-and-answer dialogs share (translating for the person,
the answers kept between turns, a question and its retry message, a choice on buttons)."""

from __future__ import annotations

import unicodedata
from typing import ClassVar, TypeVar

from botbuilder.core import MessageFactory
from botbuilder.dialogs import (
    ComponentDialog,
    DialogContext,
    DialogTurnResult,
    DialogTurnStatus,
    WaterfallStepContext,
)
from botbuilder.dialogs.choices import Choice, ListStyle
from botbuilder.dialogs.prompts import PromptOptions, PromptValidatorContext
from botbuilder.schema import ActivityTypes

from cards.i18n import Translate, translator
from dialogs.context import turn_info

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


def step_answers(step: WaterfallStepContext, kind: type[_Answers]) -> _Answers:
    """What the person answered so far: one `kind` object in the waterfall's values, which the
    dialog state keeps between turns; created empty at the first step."""
    answers = step.values.get("answers")
    if not isinstance(answers, kind):
        answers = kind()
        step.values["answers"] = answers
    return answers


class CancellableDialog(ComponentDialog):  # type: ignore[misc]  # botbuilder is untyped
    # For `_choose`: the dialog's ChoicePrompt and the catalog key of its retry message.
    CHOICE_ID: ClassVar[str]
    RETRY_CHOICE: ClassVar[str]

    async def on_continue_dialog(self, inner_dc: DialogContext) -> DialogTurnResult:
        result = await self._interrupt(inner_dc)
        if result is not None:
            return result
        return await super().on_continue_dialog(inner_dc)

    async def _interrupt(self, inner_dc: DialogContext) -> DialogTurnResult | None:
        activity = inner_dc.context.activity
        is_text = activity.type == ActivityTypes.message and bool(activity.text)
        if is_text and simplify(activity.text) in CANCEL_WORDS:
            t = translator(turn_info(inner_dc.context).locale)
            await inner_dc.context.send_activity(t("dialog.cancelled"))
            return await inner_dc.cancel_all_dialogs()
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
    "DialogTurnStatus",
    "choice",
    "simplify",
    "step_answers",
]
