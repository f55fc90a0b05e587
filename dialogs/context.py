"""What the bot layer tells dialogs about the current turn (kept in `turn_state`)."""

from __future__ import annotations

from dataclasses import dataclass

from microsoft_agents.hosting.core import TurnContext

TURN_INFO_KEY = "carrefour.turn_info"


@dataclass(slots=True)
class TurnInfo:
    person_id: int | None
    locale: str
    timezone: str
    in_channel: bool
    # The first activity ever seen in this conversation (install, first message).
    new_conversation: bool = False
    # From channelData.tenant (Teams does not fill conversation.tenantId reliably).
    tenant_id: str | None = None


def turn_info(turn_context: TurnContext) -> TurnInfo:
    info = turn_context.turn_state.get(TURN_INFO_KEY)
    if not isinstance(info, TurnInfo):
        raise RuntimeError("turn info missing: the bot sets it before running dialogs")
    return info
