"""The adapter: the Agents SDK's aiohttp CloudAdapter, with Carrefour's two additions.

- In an incoming turn, every send and update goes through the turn's `Replies`
  (bot/replies.py): retried when Teams throttles, else queued in the outbox.
- Proactive turns (`continue_in`, `create_in`) are anonymous when the bot has no app id, as
  incoming turns then are; the SDK would look for credentials that do not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    ConversationParameters,
    ConversationReference,
    ResourceResponse,
)
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import (
    ChannelServiceClientFactoryBase,
    ClaimsIdentity,
    TurnContext,
)

from bot.replies import REPLIES_KEY, Replies

# The Bot Connector's audience for the bot's own calls (public cloud).
BOT_CONNECTOR_AUDIENCE = "https://api.botframework.com"

Logic = Callable[[TurnContext], Awaitable[None]]


class CarrefourAdapter(CloudAdapter):
    """See the module's docstring."""

    def __init__(self, clients: ChannelServiceClientFactoryBase, *, app_id: str | None) -> None:
        super().__init__(channel_service_client_factory=clients)
        self.app_id = app_id or None

    def create_claims_identity(self, agent_app_id: str = "") -> ClaimsIdentity:
        if not agent_app_id:
            return ClaimsIdentity()  # no claims: anonymous, no token asked for
        return super().create_claims_identity(agent_app_id)

    async def continue_in(self, reference: ConversationReference, logic: Logic) -> None:
        """Run `logic` in an existing conversation (a proactive turn)."""
        await self.continue_conversation(
            self.app_id or "", reference.get_continuation_activity(), logic
        )

    async def create_in(
        self,
        *,
        service_url: str,
        channel_id: str,
        parameters: ConversationParameters,
        logic: Logic,
    ) -> None:
        """Create a conversation (a 1:1 chat) and run `logic` in it."""
        await self.create_conversation(
            self.app_id or "",
            channel_id,
            service_url,
            BOT_CONNECTOR_AUDIENCE,
            parameters,
            logic,
        )

    # The SDK's own ChannelServiceAdapter narrows the protocol's context to TurnContext too.
    async def send_activities(  # type: ignore[override]
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        replies = context.turn_state.get(REPLIES_KEY)
        send = super().send_activities
        if not isinstance(replies, Replies):
            sent: list[ResourceResponse] = await send(context, activities)
            return sent
        responses: list[ResourceResponse] = []
        for activity in activities:
            if activity.type == ActivityTypes.invoke_response:
                # The answer to an invoke goes in the HTTP response, not to the Bot Connector.
                responses.extend(await send(context, [activity]))
                continue

            async def send_one(one: Activity = activity) -> list[ResourceResponse]:
                # One at a time: a batch sent again would repeat the activities Teams took.
                sent: list[ResourceResponse] = await send(context, [one])
                return sent

            delivered = await replies.deliver(activity, send_one)
            responses.extend(delivered if delivered is not None else [ResourceResponse()])
        return responses

    async def update_activity(  # type: ignore[override]
        self, context: TurnContext, activity: Activity
    ) -> ResourceResponse | None:
        replies = context.turn_state.get(REPLIES_KEY)
        update = super().update_activity
        if not isinstance(replies, Replies):
            updated: ResourceResponse | None = await update(context, activity)
            return updated
        return await replies.deliver(activity, lambda: update(context, activity))
