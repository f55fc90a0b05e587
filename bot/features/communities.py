"""Communities: set one up in a channel, list, join, leave, appoint and remove roles."""

from __future__ import annotations

from typing import Any

from bot import community_actions as actions
from bot.commands import Parsed
from bot.registry import Command, Feature
from bot.turns import FeatureTurn, as_int
from cards.help import Audience, Group
from dialogs.join_dialog import JoinDialog
from dialogs.setup_dialog import SetupDialog

# `nommer @personne animatrice`: the one of the two role commands that grants.
_APPOINT = "appoint"


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
        turn.host, turn.context, parsed.argument, grant=parsed.command == _APPOINT
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
    commands=(
        Command(
            "communities",
            _communities,
            Group.COMMUNITY,
            menu=True,
            verb="communities.show",
            french=("communaute",),
            english=("community",),
        ),
        Command(
            "join",
            _join,
            Group.COMMUNITY,
            first=True,
            menu=True,
            verb="communities.join",
            french=("adherer",),
            takes_argument=True,
        ),
        Command("leave", _leave, Group.COMMUNITY, takes_argument=True),
        Command(
            "setup",
            _setup,
            audience=Audience.ANIMATOR,
            first=True,
            menu=True,
            channel_only=True,
            french=("configurer",),
            english=("configure",),
        ),
        Command(
            _APPOINT,
            _change_role,
            audience=Audience.ANIMATOR,
            english=("grant",),
            takes_argument=True,
        ),
        Command(
            "revoke",
            _change_role,
            audience=Audience.ANIMATOR,
            english=("remove",),
            takes_argument=True,
        ),
    ),
    verbs=_VERBS,
    verbs_in_dialog=frozenset(_VERBS),
    dialogs=(
        lambda services: SetupDialog(services.sessions),
        lambda services: JoinDialog(services.sessions, services.wake),
    ),
    form_confirmations={JoinDialog.ID: "join.confirm"},
)
