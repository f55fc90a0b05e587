"""Invokes: what Teams asks and waits for in the same HTTP exchange.

Two kinds are part of Carrefour:

- Teams dialogs (task modules): a button with ``msteams.type = "task/fetch"`` asks for a form
  (``task/fetch``), the person fills it in a dialog over the conversation and submits it
  (``task/submit``). Errors are shown again in the dialog, so drafts, mistakes and stale
  buttons never pile up in a channel's thread; only the outcome is posted.
- Universal Actions (``adaptiveCard/action``): an ``Action.Execute`` click, or a card's
  ``refresh`` that each person's client runs when it shows the card. The answer is a card for
  that person only (« Votre réponse : Présent·e »), which is how a shared card gets a
  per-person view without revealing anyone else's answer.

A message extension's search (``composeExtension/query``, from the compose or command box) is
answered the same way, by the feature that registered its command id.

Features register their forms and actions here; the handler answers every invoke through
:meth:`Invokes.answer`. Card data only chooses a route: each handler checks permissions again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from microsoft_agents.activity import InvokeResponse

from bot.turns import FeatureTurn
from cards.common import ADAPTIVE_CARD_CONTENT_TYPE, FORM_KEY, TASK_FETCH, Element
from cards.verbs import upgrade_names

logger = logging.getLogger(__name__)

TASK_SUBMIT = "task/submit"
CARD_ACTION = "adaptiveCard/action"
# A search message extension's command, as a person types in the compose or command box.
COMPOSE_QUERY = "composeExtension/query"
MESSAGE_CONTENT_TYPE = "application/vnd.microsoft.activity.message"


@dataclass(frozen=True, slots=True)
class TaskReply:
    """What a dialog shows next: a card (a form, or the form again with its errors), a short
    message, or nothing (the dialog closes)."""

    body: dict[str, Any] | None

    @staticmethod
    def card(
        title: str, card: Element, *, width: str = "large", height: str = "large"
    ) -> TaskReply:
        return TaskReply(
            {
                "task": {
                    "type": "continue",
                    "value": {
                        "title": title,
                        "width": width,
                        "height": height,
                        "card": {"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "content": card},
                    },
                }
            }
        )

    @staticmethod
    def message(text: str) -> TaskReply:
        return TaskReply({"task": {"type": "message", "value": text}})

    @staticmethod
    def close() -> TaskReply:
        return TaskReply(None)


TaskHandler = Callable[[FeatureTurn, dict[str, Any]], Awaitable[TaskReply]]
# A message extension's search: the invoke's value in, the `composeExtension` body out.
QueryHandler = Callable[[FeatureTurn, dict[str, Any]], Awaitable[dict[str, Any]]]
# A Universal Action answers with the card to show this person, or a short message.
CardActionHandler = Callable[[FeatureTurn, dict[str, Any]], Awaitable["CardActionReply"]]


@dataclass(frozen=True, slots=True)
class CardActionReply:
    card: Element | None = None
    message: str | None = None

    def body(self) -> dict[str, Any]:
        if self.card is not None:
            return {
                "statusCode": int(HTTPStatus.OK),
                "type": ADAPTIVE_CARD_CONTENT_TYPE,
                "value": self.card,
            }
        return {
            "statusCode": int(HTTPStatus.OK),
            "type": MESSAGE_CONTENT_TYPE,
            "value": self.message or "",
        }


@dataclass(frozen=True, slots=True)
class TaskForm:
    fetch: TaskHandler
    submit: TaskHandler


@dataclass(slots=True)
class Invokes:
    """The registry features fill at start-up (one per bot)."""

    forms: dict[str, TaskForm] = field(default_factory=dict)
    actions: dict[str, CardActionHandler] = field(default_factory=dict)
    queries: dict[str, QueryHandler] = field(default_factory=dict)

    def form(self, name: str, *, fetch: TaskHandler, submit: TaskHandler) -> None:
        if name in self.forms:
            raise ValueError(f"form {name!r} registered twice")
        self.forms[name] = TaskForm(fetch=fetch, submit=submit)

    def action(self, verb: str, handler: CardActionHandler) -> None:
        if verb in self.actions:
            raise ValueError(f"card action {verb!r} registered twice")
        self.actions[verb] = handler

    def query(self, command_id: str, handler: QueryHandler) -> None:
        """A message extension's search command (the manifest's `composeExtensions` id)."""
        if command_id in self.queries:
            raise ValueError(f"message extension command {command_id!r} registered twice")
        self.queries[command_id] = handler

    async def answer(self, turn: FeatureTurn, name: str, value: object) -> InvokeResponse:
        """The HTTP answer to one invoke; 400 for anything not registered or malformed (the
        SDK's own default would be a 501, a server error for a client's mistake)."""
        value = upgrade_invoke_names(value if isinstance(value, dict) else {})
        if name in (TASK_FETCH, TASK_SUBMIT):
            data = value.get("data")
            data = data if isinstance(data, dict) else {}
            form = self.forms.get(str(data.get(FORM_KEY, "")))
            if form is None:
                return _refused(name)
            handler = form.fetch if name == TASK_FETCH else form.submit
            reply = await handler(turn, data)
            return InvokeResponse(status=int(HTTPStatus.OK), body=reply.body)
        if name == CARD_ACTION:
            action = value.get("action")
            action = action if isinstance(action, dict) else {}
            verb = action.get("verb")
            data = action.get("data")
            handler_ = self.actions.get(verb) if isinstance(verb, str) else None
            if handler_ is None:
                return _refused(name)
            reply_ = await handler_(turn, data if isinstance(data, dict) else {})
            return InvokeResponse(status=int(HTTPStatus.OK), body=reply_.body())
        if name == COMPOSE_QUERY:
            command_id = value.get("commandId")
            query = self.queries.get(command_id) if isinstance(command_id, str) else None
            if query is None:
                return _refused(name)
            return InvokeResponse(status=int(HTTPStatus.OK), body=await query(turn, value))
        return _refused(name)


def upgrade_invoke_names(value: dict[str, Any]) -> dict[str, Any]:
    """`value` with the old names a card posted before the renaming may carry rewritten to
    today's, in place: a Teams dialog's form and its button's verb (`data`), a Universal
    Action's verb (`action`). Anything else, or another type, is left as it came."""
    data = value.get("data")
    if isinstance(data, dict):
        upgrade_names(data, FORM_KEY, "verb")
    action = value.get("action")
    if isinstance(action, dict):
        upgrade_names(action, "verb")
    return value


def _refused(name: str) -> InvokeResponse:
    logger.info("unsupported invoke %r", name[:64])
    return InvokeResponse(status=int(HTTPStatus.BAD_REQUEST))
