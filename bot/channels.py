"""Which Teams channel a turn comes from, and which community that channel is.

The one place that reads it from an activity, for every feature: a message at the top of a
channel, a reply in one of its threads (conversation id « 19:…@thread.tacv2;messageid=… »,
and Teams does not always repeat the channel in channelData then) and a card's button.
"""

from __future__ import annotations

from typing import Any, Protocol

from dialogs.context import TurnInfo
from storage import communities
from storage.db import SessionFactory
from storage.models import Community


class _Conversation(Protocol):
    @property
    def id(self) -> Any: ...


class ChannelActivity(Protocol):
    """What is read from an activity here (any SDK's activity has it).

    Read-only properties, so that a pydantic `Activity` (whose `conversation` is a
    `ConversationAccount`) matches: a settable attribute would have to match exactly."""

    @property
    def channel_data(self) -> Any: ...

    @property
    def conversation(self) -> _Conversation | None: ...


def channel_ids(activity: ChannelActivity) -> tuple[str | None, str | None]:
    """(team id, channel id) of a channel message, from Teams' channelData, else (a reply in
    a thread without it) from the conversation id."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    team, channel = data.get("team"), data.get("channel")
    team_id = team.get("id") if isinstance(team, dict) else None
    channel_id = channel.get("id") if isinstance(channel, dict) else None
    if not channel_id and activity.conversation is not None:
        # Replies in a channel thread carry ";messageid=…" after the channel's id.
        conversation_id = str(activity.conversation.id or "")
        channel_id = conversation_id.split(";")[0] or None
    return (
        str(team_id) if team_id else None,
        str(channel_id) if channel_id else None,
    )


async def channel_community(
    sessions: SessionFactory, info: TurnInfo, activity: ChannelActivity
) -> Community | None:
    """The community bound to the channel `activity` comes from; None in a personal chat, in a
    group chat, or in a channel no community is bound to."""
    if not info.in_channel:
        return None
    _team_id, channel_id = channel_ids(activity)
    if channel_id is None:
        return None
    async with sessions() as session:
        return await communities.community_for_channel(session, teams_channel_id=channel_id)


async def channel_community_id(
    sessions: SessionFactory, info: TurnInfo, activity: ChannelActivity
) -> int | None:
    """`channel_community`'s id, for the handlers that take a community by id."""
    community = await channel_community(sessions, info, activity)
    return community.id if community is not None else None
