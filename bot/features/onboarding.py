"""Onboarding: the animators' plan (`plan d'accueil`) with each step's own text, links and
checklist, newcomers' ticks and check-ins, the steps' messages."""

from __future__ import annotations

from typing import Any

from bot import community_actions as actions
from bot import onboarding_flow as flow
from bot.commands import Parsed
from bot.registry import Command, Feature
from bot.turns import FeatureTurn, VerbHandler
from cards.help import Audience
from storage import onboarding


async def _plan(turn: FeatureTurn, _parsed: Parsed) -> None:
    await flow.show_plan(turn)


async def _save_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await actions.save_onboarding_plan(turn.host, turn.context, value)


async def _checkin_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await actions.record_checkin(turn.host, turn.context, value)


_VERBS: dict[str, VerbHandler] = {
    **flow.ACTIONS,
    "onboarding.plan.save": _save_verb,
    "onboarding.checkin": _checkin_verb,
}

FEATURE = Feature(
    name="onboarding",
    commands=(
        Command(
            "onboarding",
            _plan,
            audience=Audience.ANIMATOR,
            french=("plan d'accueil",),
            english=("onboarding plan",),
        ),
    ),
    verbs=_VERBS,
    # A newcomer ticks a step's checklist whatever dialog they are in; the content form
    # waits for the dialog (its fields would be taken for the dialog's answer otherwise).
    verbs_in_dialog=frozenset(
        {"onboarding.plan.show", "onboarding.plan.save", "onboarding.checkin", "onboarding.check"}
    ),
    renderers={onboarding.KIND_STEP: flow.render_step},
)
