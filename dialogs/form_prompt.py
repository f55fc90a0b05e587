"""A prompt answered by submitting an Adaptive Card form (used where typing is awkward:
channels need an @mention for every message, card submissions do not)."""

from __future__ import annotations

from typing import Any

from botbuilder.core import TurnContext
from botbuilder.dialogs.prompts import Prompt, PromptOptions, PromptRecognizerResult


class CardFormPrompt(Prompt):  # type: ignore[misc]  # botbuilder is untyped
    """Succeeds with the submitted values when a card action with one of `verbs` arrives."""

    def __init__(self, dialog_id: str, verbs: frozenset[str], validator: Any = None) -> None:
        super().__init__(dialog_id, validator)
        self._verbs = verbs

    async def on_prompt(
        self,
        turn_context: TurnContext,
        state: dict[str, object],
        options: PromptOptions,
        is_retry: bool,
    ) -> None:
        activity = options.retry_prompt if is_retry and options.retry_prompt else options.prompt
        if activity is not None:
            await turn_context.send_activity(activity)

    async def on_recognize(
        self,
        turn_context: TurnContext,
        state: dict[str, object],
        options: PromptOptions,
    ) -> PromptRecognizerResult:
        result = PromptRecognizerResult()
        value = turn_context.activity.value
        verb = value.get("verb") if isinstance(value, dict) else None
        if isinstance(verb, str) and verb in self._verbs:
            result.succeeded = True
            result.value = dict(value)
        return result
