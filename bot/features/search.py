"""Search from anywhere in Teams: the message extension's query command (compose box and
command box), declared in the manifest's `composeExtensions`."""

from __future__ import annotations

from bot import search_flow as flow
from bot.invokes import Invokes
from bot.registry import Feature
from bot.settings import Settings


def _register(invokes: Invokes, _settings: Settings) -> None:
    invokes.query(flow.COMMAND_ID, flow.on_query)


FEATURE = Feature(name="search", invokes=_register)
