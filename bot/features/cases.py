"""Complex-case discussions: `soumettre un cas`, `discussions de cas`, the cases' buttons and
the notices they queue (a new case for the facilitators, a decision for the presenter)."""

from __future__ import annotations

from bot import cases_flow as flow
from bot.commands import Parsed
from bot.registry import Command, Feature
from bot.turns import FeatureTurn
from cards.cases import VERBS as CARD_VERBS
from cards.help import Group
from dialogs.submit_case_dialog import SubmitCaseDialog


async def _cases(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_cases_command(turn)


async def _submit(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_submit_command(
        turn.host, turn.context, community_id=await turn.channel_community_id()
    )


FEATURE = Feature(
    name="cases",
    commands=(
        Command(
            "submit_case",
            _submit,
            Group.MEETINGS,
            verb="cases.submit",
            french=("cas complexe", "soumettre un cas complexe", "presenter un cas"),
            english=("complex case", "submit a complex case", "present a case"),
        ),
        Command(
            "cases",
            _cases,
            Group.MEETINGS,
            verb="cases.show",
            french=("cas", "mes cas", "discussion de cas"),
            english=("cases", "my cases", "case discussion"),
        ),
    ),
    verbs=flow.ACTIONS,
    verbs_in_dialog=frozenset(CARD_VERBS),
    renderers=flow.RENDERERS,
    dialogs=(lambda services: SubmitCaseDialog(services.sessions, services.wake),),
)
