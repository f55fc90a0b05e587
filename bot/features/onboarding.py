"""Onboarding: the animators' plan (`plan d'accueil`), newcomers' check-ins, the steps'
messages."""

from __future__ import annotations

from typing import Any

from bot import community_actions as actions
from bot.commands import Parsed
from bot.deliveries import render_onboarding_step
from bot.registry import Command, Feature
from bot.turns import FeatureTurn
from cards.help import Audience
from storage import onboarding


async def _plan(turn: FeatureTurn, _parsed: Parsed) -> None:
    await actions.show_onboarding_plan(turn.host, turn.context)


async def _show_verb(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    await actions.show_onboarding_plan(turn.host, turn.context)


async def _save_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await actions.save_onboarding_plan(turn.host, turn.context, value)


async def _checkin_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await actions.record_checkin(turn.host, turn.context, value)


_VERBS = {
    "onboarding.plan.show": _show_verb,
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
    verbs_in_dialog=frozenset(_VERBS),
    renderers={onboarding.KIND_STEP: render_onboarding_step},
)
