"""Accounts and conversations as the Agents SDK's models want them.

The SDK's models refuse None and "" for their optional fields, where the Bot Framework SDK left
such fields out: a conversation stored without a tenant id, a person without a name, a chat
whose bot id was never seen. These build the models from what is known, leaving the rest out.
"""

from __future__ import annotations

from microsoft_agents.activity import ChannelAccount, ConversationAccount


def present(**fields: object) -> dict[str, object]:
    """The fields that have a value: the SDK's models refuse None and "" where the Bot
    Framework SDK left them out (a conversation with no tenant id, a person with no name)."""
    return {name: value for name, value in fields.items() if value is not None and value != ""}


def account(
    account_id: str | None, name: str | None = None, aad_object_id: str | None = None
) -> ChannelAccount:
    return ChannelAccount.model_validate(
        present(id=account_id, name=name, aad_object_id=aad_object_id)
    )


def conversation(
    conversation_id: str,
    *,
    conversation_type: str | None = None,
    tenant_id: str | None = None,
    is_group: bool | None = None,
) -> ConversationAccount:
    return ConversationAccount.model_validate(
        present(
            id=conversation_id,
            conversation_type=conversation_type,
            tenant_id=tenant_id,
            is_group=is_group,
        )
    )
