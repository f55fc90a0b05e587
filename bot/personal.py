"""A person's 1:1 chat with the bot: opening it (the one place, for the outbox dispatcher too),
and moving a conversation there from a channel (joining, consultations, topic proposals):
answers there need no @mention and stay private."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from microsoft_agents.activity import ConversationParameters, ConversationReference
from microsoft_agents.hosting.core import TurnContext

from bot import addresses
from bot.settings import Settings
from cards.i18n import translator
from dialogs.context import TURN_INFO_KEY, TurnInfo, turn_info
from storage import people
from storage.db import SessionFactory, transaction
from storage.models import ConversationScope, Person

if TYPE_CHECKING:  # bot.community_actions imports this module; bot.adapter, the dispatcher
    from bot.adapter import CarrefourAdapter
    from bot.community_actions import Services

logger = logging.getLogger(__name__)

Continuation = Callable[[TurnContext], Awaitable[None]]


async def run_in_personal_chat(
    *,
    adapter: CarrefourAdapter,
    settings: Settings,
    sessions: SessionFactory,
    person: Person,
    origin: TurnContext,
    logic: Continuation,
) -> None:
    """Run `logic` in the person's 1:1 chat with the bot, creating the chat if needed.

    The continuation turn carries the person as `from`, so state keyed by user (dialogs)
    is the same one their next message in that chat will load."""
    bot_id = origin.activity.recipient.id if origin.activity.recipient else None
    user = addresses.account(person.teams_user_id, person.name, person.aad_object_id)
    async with sessions() as session:
        personal = await people.personal_conversation(session, person_id=person.id or 0)

    async def with_user(turn_context: TurnContext) -> None:
        turn_context.activity.from_property = user
        turn_context.activity.recipient = addresses.account(bot_id)
        await logic(turn_context)

    if personal is not None:
        reference = ConversationReference(
            channel_id=personal.channel_id,
            service_url=personal.service_url,
            conversation=addresses.conversation(
                personal.conversation_id, conversation_type="personal", tenant_id=personal.tenant_id
            ),
            agent=addresses.account(bot_id),
            user=user,
        )
        await adapter.continue_in(reference, with_user)
        return

    await open_personal_chat(
        adapter,
        sessions=sessions,
        service_url=str(origin.activity.service_url),
        tenant_id=person.tenant_id,
        bot_id=bot_id,
        person=person,
        logic=with_user,
    )


async def open_personal_chat(
    adapter: CarrefourAdapter,
    *,
    sessions: SessionFactory,
    service_url: str,
    tenant_id: str | None,
    bot_id: str | None,
    person: Person,
    logic: Continuation,
) -> None:
    """Create the person's 1:1 chat with the bot, remember it (the next message to them goes
    there, with no second chat created), then run `logic` in it.

    Used by everything that writes to someone the bot never wrote to privately: the outbox
    dispatcher and the moves from a channel to the 1:1 chat. A failure to remember the chat
    is raised here once the SDK returns, for the caller to handle: raised in the callback, the
    adapter's turn-error handler would swallow it. `logic`'s own failures are its own."""
    parameters = ConversationParameters.model_validate(
        addresses.present(
            is_group=False,
            agent=addresses.account(bot_id) if bot_id else None,
            members=[addresses.account(person.teams_user_id)],
            tenant_id=tenant_id,
            channel_data={"tenant": {"id": tenant_id}} if tenant_id else None,
        )
    )
    failed: list[Exception] = []

    async def created(turn_context: TurnContext) -> None:
        try:
            async with transaction(sessions) as session:
                await people.remember_conversation(
                    session,
                    address=people.ConversationAddress(
                        conversation_id=str(turn_context.activity.conversation.id),
                        scope=ConversationScope.PERSONAL,
                        service_url=service_url,
                        channel_id="msteams",
                        tenant_id=tenant_id,
                        bot_id=bot_id,
                        bot_name=None,
                        team_id=None,
                        teams_channel_id=None,
                    ),
                    person_id=person.id,
                )
        except Exception as error:
            failed.append(error)
            return
        await logic(turn_context)

    await adapter.create_in(
        service_url=service_url, channel_id="msteams", parameters=parameters, logic=created
    )
    if failed:
        raise failed[0]


async def begin_dialog_privately(
    services: Services,
    turn_context: TurnContext,
    dialog_id: str,
    options: object,
    *,
    note_key: str,
) -> None:
    """Begin `dialog_id` where the person answers without an @mention, out of colleagues' sight.

    In a personal chat: right here. In a channel: in their 1:1 chat (created if the bot never
    wrote there), and the channel only reads `note_key` with their first name (`{name}`)."""
    info = turn_info(turn_context)
    if not info.in_channel:
        dialog_context = await services.dialogs.create_context(turn_context)
        await dialog_context.cancel_all_dialogs()
        await dialog_context.begin_dialog(dialog_id, options)
        return
    async with services.sessions() as session:
        person = await session.get(Person, info.person_id or 0)
    if person is None:
        return
    private_info = TurnInfo(
        person_id=info.person_id,
        locale=info.locale,
        timezone=info.timezone,
        in_channel=False,
        tenant_id=info.tenant_id,
    )

    async def begin(personal_turn: TurnContext) -> None:
        personal_turn.turn_state[TURN_INFO_KEY] = private_info
        dialog_context = await services.dialogs.create_context(personal_turn)
        await dialog_context.cancel_all_dialogs()
        await dialog_context.begin_dialog(dialog_id, options)
        await services.save_state(personal_turn)

    await run_in_personal_chat(
        adapter=services.adapter,
        settings=services.settings,
        sessions=services.sessions,
        person=person,
        origin=turn_context,
        logic=begin,
    )
    first_name = (person.name or "").split(" ")[0]
    await turn_context.send_activity(translator(info.locale)(note_key, name=first_name))
