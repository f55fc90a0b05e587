"""Small helpers every feature's bot glue shares: one turn's context, card replies, ids from
card data (never trusted beyond being an id)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from microsoft_agents.activity import Activity, ResourceResponse
from microsoft_agents.hosting.core import CardFactory, MessageFactory, TurnContext

from bot.channels import channel_community_id
from bot.settings import Settings
from cards.common import Element
from cards.i18n import Translate, translator
from dialogs.context import TurnInfo
from storage.db import SessionFactory
from storage.models import utcnow

if TYPE_CHECKING:
    # Only for the annotation: bot.community_actions imports this module.
    from bot.community_actions import Services

logger = logging.getLogger(__name__)


def card_activity(card: Element) -> Activity:
    # MessageFactory.attachment is unannotated in the SDK; it returns MessageFactory.list's
    # Activity.
    return cast(Activity, MessageFactory.attachment(CardFactory.adaptive_card(card)))


# Database ids are 32-bit on PostgreSQL: a bigger number from card data would make the
# query itself fail (an overflow) instead of finding nothing.
MAX_ID = 2**31 - 1


def as_int(value: object) -> int | None:
    """A non-negative id from card data; None for anything else (bools, floats, huge numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        if len(value.strip()) > 12:  # bigger than any id, and int() refuses 4,300+ digits
            return None
        number = int(value.strip())
    else:
        return None
    return number if 0 <= number <= MAX_ID else None


def param_int(params: dict[str, Any], key: str) -> int | None:
    """An integer id from card data or outbox params; None for anything else."""
    return as_int(params.get(key))


def _nothing() -> None:
    return None


_Action = TypeVar("_Action")


def pick_action(actions: Mapping[str, _Action], value: dict[str, Any]) -> _Action | None:
    """The feature's handler for a card's `verb`; None when the verb is not one of its own
    (or is not a string: card data is never trusted)."""
    verb = value.get("verb")
    return actions.get(verb) if isinstance(verb, str) else None


@dataclass(frozen=True, slots=True)
class FeatureTurn:
    """One person's turn as a feature sees it."""

    context: TurnContext
    sessions: SessionFactory
    info: TurnInfo
    wake: Callable[[], None] = _nothing
    clock: Callable[[], datetime] = utcnow
    # The host's services (dialogs, adapter, settings…): set in every turn the host routes to
    # a feature's command or button (bot/registry.py); None in a turn a flow builds itself.
    services: Services | None = None

    @property
    def host(self) -> Services:
        assert self.services is not None, "a turn the host routes carries its services"
        return self.services

    @property
    def settings(self) -> Settings:
        return self.host.settings

    async def channel_community_id(self) -> int | None:
        """The community of the channel this turn comes from; None in a personal chat or a
        channel with no community."""
        return await channel_community_id(self.sessions, self.info, self.context.activity)

    @property
    def t(self) -> Translate:
        return translator(self.info.locale)

    @property
    def person_id(self) -> int:
        assert self.info.person_id is not None  # the handler records the sender first
        return self.info.person_id

    async def say(self, key: str, **values: Any) -> None:
        await self.context.send_activity(self.t(key, **values))

    async def show(self, card: Element) -> ResourceResponse | None:
        response: ResourceResponse | None = await self.context.send_activity(card_activity(card))
        return response

    async def replace_clicked(self, card: Element) -> None:
        """Put `card` where the clicked card was (a confirmation becoming its outcome, a form
        becoming what it saved), so stale buttons do not stay behind; sent as a new message
        when Teams does not say which message was clicked or refuses the update."""
        await replace_clicked_card(self.context, card)


# A card button's handler, as features declare them (bot/registry.py): the turn, and the
# button's data (never trusted beyond choosing a route).
VerbHandler = Callable[[FeatureTurn, dict[str, Any]], Awaitable[None]]


async def replace_clicked_card(context: TurnContext, card: Element) -> None:
    activity = card_activity(card)
    clicked = context.activity.reply_to_id
    if clicked:
        activity.id = clicked
        try:
            await context.update_activity(activity)
            return
        # Teams refuses some updates (a card too old, posted by another bot, a client that
        # does not say which message was clicked): sending the card still answers.
        except Exception as error:
            logger.info("card not replaced in place (%s); sending it", type(error).__name__)
    await context.send_activity(card_activity(card))
