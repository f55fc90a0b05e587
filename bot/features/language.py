"""Language (host level): `langue [fr|en]` and the help card's language buttons."""

from __future__ import annotations

from typing import Any

from bot.commands import LANGUAGE_COMMAND, Parsed, language_argument
from bot.registry import Command, Feature
from bot.turns import FeatureTurn
from cards.help import Group
from dialogs.language_dialog import LanguageDialog, save_language


async def _language(turn: FeatureTurn, parsed: Parsed) -> None:
    chosen = language_argument(parsed.argument) if parsed.argument else None
    if chosen is not None:
        await save_language(turn.sessions, turn.context, chosen)
    elif parsed.argument:
        await turn.say("language.unknown")
    else:
        dialog_context = await turn.host.dialogs.create_context(turn.context)
        await dialog_context.begin_dialog(LanguageDialog.ID)


async def _choose(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    dialog_context = await turn.host.dialogs.create_context(turn.context)
    await dialog_context.cancel_all_dialogs()
    await dialog_context.begin_dialog(LanguageDialog.ID)


async def _set(turn: FeatureTurn, value: dict[str, Any]) -> None:
    locale = value.get("locale")
    if not isinstance(locale, str):
        await turn.say("error.unknown_action")
        return
    chosen = language_argument(locale.split("-")[0])
    if chosen is None:
        await turn.say("language.unknown")
    else:
        await save_language(turn.sessions, turn.context, chosen)


_VERBS = {"language.choose": _choose, "language.set": _set}

FEATURE = Feature(
    name="language",
    commands=(
        Command(
            LANGUAGE_COMMAND,
            _language,
            Group.YOU,
            menu=True,
            verb="language.choose",
            english=("lang",),
            takes_argument=True,
        ),
    ),
    verbs=_VERBS,
    verbs_in_dialog=frozenset(_VERBS),
    dialogs=(lambda services: LanguageDialog(services.sessions),),
)
