"""Help (host level): the help card for this person, and `annuler` with nothing to cancel.

The host shows the same card through this feature when the bot is installed in a personal chat
and when a message is only a mention (bot/handler.py asks the registry for `HELP_COMMAND`)."""

from __future__ import annotations

from typing import Any

from bot.channels import channel_community
from bot.commands import CANCEL_COMMAND, HELP_COMMAND, Parsed
from bot.registry import Command, Feature
from bot.turns import FeatureTurn
from cards.help import VERB_ALL, Group, build_help_card
from storage import communities
from storage.models import Role

# Roles that see the facilitators' part of the help card (cards.help.Audience).
HELP_ROLES = (Role.ANIMATOR, Role.COORDINATOR)


async def send_help(turn: FeatureTurn, *, full: bool = False) -> None:
    """The help card for this person: the facilitators' commands only for the animators
    (coordinators) of the community concerned — the channel's, or in a personal chat any
    of theirs; in a channel with no community yet, how to create one."""
    info = turn.info
    roles: set[str] = set()
    setup_here = False
    async with turn.sessions() as session:
        if info.in_channel:
            community = await channel_community(turn.sessions, info, turn.context.activity)
            setup_here = community is None
            mine = (
                [
                    await communities.membership(
                        session, person_id=info.person_id, community_id=community.id or 0
                    )
                ]
                if community is not None and info.person_id is not None
                else []
            )
        else:
            mine = [
                m
                for m, _c in await communities.memberships_of(
                    session, person_id=info.person_id or 0
                )
            ]
    for membership in mine:
        roles.update(r.value for r in HELP_ROLES if communities.has_role(membership, r))
    # Every feature's commands (the host's services carry the registry's list).
    entries = turn.services.help_entries if turn.services is not None else ()
    card = build_help_card(
        entries,
        locale=info.locale,
        in_channel=info.in_channel,
        roles=roles,
        setup_here=setup_here,
        full=full,
    )
    await turn.show(card)


async def _help(turn: FeatureTurn, _parsed: Parsed) -> None:
    await send_help(turn)


async def _cancel(turn: FeatureTurn, _parsed: Parsed) -> None:
    # A dialog waiting for an answer takes `annuler` itself (dialogs/base.py): none waits.
    await turn.say("dialog.nothing_to_cancel")


async def _show(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    await send_help(turn)


async def _all(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    await send_help(turn, full=True)


_VERBS = {"help.show": _show, VERB_ALL: _all}

FEATURE = Feature(
    name="help",
    commands=(
        Command(
            HELP_COMMAND,
            _help,
            Group.YOU,
            menu=True,
            french=("bonjour", "allo", "salut"),
            english=("hello", "hi"),
            shared=("menu",),
        ),
        Command(
            CANCEL_COMMAND,
            _cancel,
            Group.YOU,
            french=("annule", "arreter"),
            english=("stop", "quit"),
        ),
    ),
    verbs=_VERBS,
    verbs_in_dialog=frozenset(_VERBS),
)
