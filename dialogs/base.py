"""Base for every dialog: `annuler` / `cancel` at any step ends it cleanly, saving nothing."""

from __future__ import annotations

import unicodedata

from botbuilder.dialogs import ComponentDialog, DialogContext, DialogTurnResult, DialogTurnStatus
from botbuilder.schema import ActivityTypes

from cards.i18n import translator
from dialogs.context import turn_info

CANCEL_WORDS = frozenset({"annuler", "annule", "cancel", "stop", "arreter", "quit"})


def simplify(text: str) -> str:
    """Lower case, no accents, single spaces: how commands and answers are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.replace("’", "'").split()).strip(" .!?")


class CancellableDialog(ComponentDialog):  # type: ignore[misc]  # botbuilder is untyped
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


__all__ = ["CANCEL_WORDS", "CancellableDialog", "DialogTurnStatus", "simplify"]
