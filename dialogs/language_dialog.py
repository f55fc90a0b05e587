"""Choosing the language the bot writes in. See language_dialog.mmd."""

from __future__ import annotations

from microsoft_agents.hosting.core import MessageFactory, TurnContext
from microsoft_agents.hosting.dialogs import (
    DialogTurnResult,
    WaterfallDialog,
    WaterfallStepContext,
)
from microsoft_agents.hosting.dialogs.choices import Choice, ListStyle
from microsoft_agents.hosting.dialogs.prompts import ChoicePrompt, PromptOptions

from cards.i18n import translator
from dialogs.base import CancellableDialog, end, picked
from dialogs.context import turn_info
from storage import people
from storage.db import SessionFactory, engine_of

FRENCH = "fr-CA"
ENGLISH = "en"


class LanguageDialog(CancellableDialog):
    ID = "language_dialog"
    WATERFALL_ID = "language_dialog.steps"
    CHOICE_ID = "language_dialog.choice"

    def __init__(self, sessions: SessionFactory) -> None:
        super().__init__(self.ID)
        self._sessions = sessions
        self.add_dialog(ChoicePrompt(self.CHOICE_ID))
        self.add_dialog(WaterfallDialog(self.WATERFALL_ID, [self.ask_step, self.save_step]))
        self._start_with(self.WATERFALL_ID)

    async def ask_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = translator(turn_info(step.context).locale)
        choices = [
            Choice(t("language.option.fr"), synonyms=["fr", "francais", "français", "french"]),
            Choice(t("language.option.en"), synonyms=["en", "anglais", "english"]),
        ]
        return await step.prompt(
            self.CHOICE_ID,
            PromptOptions(
                prompt=MessageFactory.text(_bilingual("language.prompt")),
                retry_prompt=MessageFactory.text(_bilingual("language.retry")),
                choices=choices,
                style=ListStyle.hero_card,
            ),
        )

    async def save_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        locale = FRENCH if picked(step) == 0 else ENGLISH
        await save_language(self._sessions, step.context, locale)
        return await end(step, locale)


def _bilingual(key: str) -> str:
    """Both languages, French first: whoever is asked which language they read understands
    the question (their client's locale may not be theirs)."""
    return "\n\n".join(translator(locale)(key) for locale in (FRENCH, ENGLISH))


async def save_language(sessions: SessionFactory, turn_context: TurnContext, locale: str) -> None:
    """Remember the choice and answer in the chosen language from now on."""
    info = turn_info(turn_context)
    if info.person_id is not None:
        await people.remember_locale(engine_of(sessions), person_id=info.person_id, locale=locale)
    info.locale = locale
    await turn_context.send_activity(translator(locale)("language.saved"))
