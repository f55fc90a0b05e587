"""Attestations de présence: one's own (`attestation`), an animator's for a meeting's
attendees (`attestations`), and the signed PDF links."""

from __future__ import annotations

from bot import attestations_flow as flow
from bot.commands import Parsed
from bot.registry import Command, Feature, Route
from bot.turns import FeatureTurn
from cards.help import Audience


async def _own(turn: FeatureTurn, parsed: Parsed) -> None:
    await flow.on_attestation_command(
        turn.context,
        sessions=turn.sessions,
        settings=turn.settings,
        info=turn.info,
        argument=parsed.argument,
        wake=turn.wake,
    )


async def _bulk(turn: FeatureTurn, parsed: Parsed) -> None:
    await flow.on_bulk_attestations_command(
        turn.context,
        sessions=turn.sessions,
        settings=turn.settings,
        info=turn.info,
        argument=parsed.argument,
        wake=turn.wake,
    )


FEATURE = Feature(
    name="attestations",
    commands=(
        Command("attestation", _own, french=("attestation",), takes_argument=True),
        Command("attestations", _bulk, audience=Audience.ANIMATOR, takes_argument=True),
    ),
    renderers=flow.ATTESTATION_RENDERERS,
    # Signed, expiring links to attestations de présence (the token is the authorisation).
    routes=(Route(flow.ROUTE, flow.attestation_pdf),),
)
