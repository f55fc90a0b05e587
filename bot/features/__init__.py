"""The composition: every feature the bot runs, in the order the help card and Teams' command
menu list their commands. Only the composition root (bot/app.py) reads
this list; it builds the `bot.registry.Registry` that the handler routes by."""

from __future__ import annotations

from bot.features import (
    admin,
    attestations,
    cases,
    codevelopment,
    communities,
    consultations,
    help,
    language,
    meetings,
    mentoring,
    onboarding,
    planning,
    polls,
    privacy,
    questions,
    review,
    search,
    surveys,
    toolbox,
    topics,
    vitality,
)
from bot.registry import Feature

FEATURES: tuple[Feature, ...] = (
    help.FEATURE,
    language.FEATURE,
    communities.FEATURE,
    toolbox.FEATURE,
    questions.FEATURE,
    onboarding.FEATURE,
    meetings.FEATURE,
    planning.FEATURE,
    topics.FEATURE,
    cases.FEATURE,
    polls.FEATURE,
    surveys.FEATURE,
    mentoring.FEATURE,
    consultations.FEATURE,
    codevelopment.FEATURE,
    privacy.FEATURE,
    search.FEATURE,
    vitality.FEATURE,
    review.FEATURE,
    attestations.FEATURE,
    admin.FEATURE,
)
