"""Complex-case discussions: `soumettre un cas`, `discussions de cas`, the cases' buttons and
the notices they queue (a new case for the facilitators, a decision for the presenter)."""

from __future__ import annotations

from bot import cases_flow as flow
from bot.commands import Command, Parsed
from bot.registry import Feature
from bot.turns import FeatureTurn
from cards.cases import VERBS as CARD_VERBS
from dialogs.submit_case_dialog import SubmitCaseDialog


async def _cases(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_cases_command(turn)


async def _submit(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.on_submit_command(
        turn.host, turn.context, community_id=await turn.channel_community_id()
    )


FEATURE = Feature(
    name="cases",
    commands={Command.CASES: _cases, Command.SUBMIT_CASE: _submit},
    verbs=flow.ACTIONS,
    verbs_in_dialog=frozenset(CARD_VERBS),
    renderers=flow.RENDERERS,
    dialogs=(lambda services: SubmitCaseDialog(services.sessions, services.wake),),
)
