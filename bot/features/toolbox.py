"""The toolbox (boîte à outils): `outils`, `partager un outil`, and the toolbox's buttons."""

from __future__ import annotations

from bot import toolbox_flow as flow
from bot.commands import Parsed
from bot.registry import Command, Feature
from bot.turns import FeatureTurn
from cards.help import Group
from cards.toolbox import BROWSING_VERBS
from dialogs.share_resource_dialog import ShareResourceDialog


async def _toolbox(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_toolbox_command(
        turn.context,
        sessions=turn.sessions,
        info=turn.info,
        community_id=await turn.channel_community_id(),
    )


async def _share(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_share_command(
        turn.host, turn.context, community_id=await turn.channel_community_id()
    )


FEATURE = Feature(
    name="toolbox",
    commands=(
        Command(
            "toolbox",
            _toolbox,
            Group.COMMUNITY,
            verb="toolbox.show",
            french=("boite a outils", "la boite a outils", "outil"),
            english=("tools", "resources"),
        ),
        Command(
            "share_resource",
            _share,
            Group.COMMUNITY,
            verb="toolbox.share_start",
            french=("partager un outil", "partager une ressource", "ajouter un outil"),
            english=("share a tool", "add a resource"),
        ),
    ),
    verbs=flow.ACTIONS,
    # The share form's own buttons go to its dialog while it waits; the others act anyway.
    verbs_in_dialog=BROWSING_VERBS,
    dialogs=(lambda services: ShareResourceDialog(services.sessions),),
)
