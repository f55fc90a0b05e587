"""Administrative support's lists (`listes`), partial presence and guests (`présences
détaillées`), the e-mail consent (`courriel`), mentoring supervision (`supervision du
mentorat`), the mentor's request for support, and the signed export links."""

from __future__ import annotations

from bot import admin_flow as flow
from bot.commands import Parsed
from bot.registry import Command, Feature, Route
from bot.turns import FeatureTurn
from cards.help import Audience, Group


async def _lists(turn: FeatureTurn, parsed: Parsed) -> None:
    await flow.on_lists_command(turn, parsed.argument)


async def _sheet(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_sheet_command(turn)


async def _consent(turn: FeatureTurn, parsed: Parsed) -> None:
    await flow.on_consent_command(turn, parsed.argument)


async def _supervision(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_supervision_command(turn)


FEATURE = Feature(
    name="admin",
    commands=(
        Command(
            "admin_lists",
            _lists,
            Group.MEETINGS,
            audience=Audience.ANIMATOR,
            also=Audience.COORDINATOR,
            french=("listes", "liste d'envoi", "feuille de temps", "feuilles de presence"),
            english=("lists", "mailing list", "timesheet", "attendance sheets"),
            takes_argument=True,
        ),
        Command(
            "attendance_details",
            _sheet,
            Group.MEETINGS,
            audience=Audience.ANIMATOR,
            french=("invites", "retards"),
            english=("guests", "partial attendance"),
        ),
        Command(
            "email_consent",
            _consent,
            Group.YOU,
            french=("courriel",),
            english=("email",),
            takes_argument=True,
        ),
        Command(
            "mentoring_supervision",
            _supervision,
            Group.SUPPORT,
            audience=Audience.COORDINATOR,
            also=Audience.ANIMATOR,
            shared=("supervision",),
        ),
    ),
    verbs=flow.ACTIONS,
    # Signed, expiring links to the lists (the token is the authorisation, the role rechecked).
    routes=(Route(flow.ROUTE, flow.export),),
)
