"""Communities: set one up in a channel, list, join, leave, appoint and remove roles."""

from __future__ import annotations

from typing import Any

from bot import community_actions as actions
from bot.commands import Command, Parsed
from bot.registry import Feature
from bot.turns import FeatureTurn, as_int
from dialogs.join_dialog import JoinDialog
from dialogs.setup_dialog import SetupDialog


async def _setup(turn: FeatureTurn, _parsed: Parsed) -> None:
    await actions.setup(turn.host, turn.context)


async def _communities(turn: FeatureTurn, _parsed: Parsed) -> None:
    await actions.show_communities(turn.host, turn.context)


async def _join(turn: FeatureTurn, _parsed: Parsed) -> None:
    await actions.join(turn.host, turn.context, None)


async def _leave(turn: FeatureTurn, parsed: Parsed) -> None:
    await actions.leave(turn.host, turn.context, None, parsed.argument)


async def _change_role(turn: FeatureTurn, parsed: Parsed) -> None:
    await actions.change_role(
        turn.host, turn.context, parsed.argument, grant=parsed.command is Command.GRANT
    )


async def _show_verb(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    await actions.show_communities(turn.host, turn.context)


async def _join_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await actions.join(turn.host, turn.context, as_int(value.get("community_id")))


async def _leave_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await actions.leave(turn.host, turn.context, as_int(value.get("community_id")))


# The setup form's own buttons (`communities.setup`, `communities.setup.cancel`) are answered
# by SetupDialog's prompt while it waits; they are no verbs of their own.
_VERBS = {
    "communities.show": _show_verb,
    "communities.join": _join_verb,
    "communities.leave": _leave_verb,
}

FEATURE = Feature(
    name="communities",
    commands={
        Command.SETUP: _setup,
        Command.COMMUNITIES: _communities,
        Command.JOIN: _join,
        Command.LEAVE: _leave,
        Command.GRANT: _change_role,
        Command.REVOKE: _change_role,
    },
    verbs=_VERBS,
    verbs_in_dialog=frozenset(_VERBS),
    dialogs=(
        lambda services: SetupDialog(services.sessions),
        lambda services: JoinDialog(services.sessions, services.wake),
    ),
)
