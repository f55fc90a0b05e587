"""A prompt answered by submitting an Adaptive Card form (used where typing is awkward:
channels need an @mention for every message, card submissions do not)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.dialogs.prompts import (
    Prompt,
    PromptOptions,
    PromptRecognizerResult,
    PromptValidatorContext,
)


class CardFormPrompt(Prompt):
    """Succeeds with the submitted values when a card action with one of `verbs` arrives."""

    def __init__(
        self,
        dialog_id: str,
        verbs: frozenset[str],
        validator: Callable[[PromptValidatorContext], Awaitable[bool]] | None = None,
    ) -> None:
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
        # A form's Action.Submit arrives as a message whose value holds the fields and the verb.
        result = PromptRecognizerResult()
        value = turn_context.activity.value
        if isinstance(value, dict):
            verb = value.get("verb")
            if isinstance(verb, str) and verb in self._verbs:
                result.succeeded = True
                result.value = {str(key): field for key, field in value.items()}
        return result
