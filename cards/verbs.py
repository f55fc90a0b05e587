"""How card verbs are named, and the names cards posted before used.

A card button's `verb` is `<feature>.<action>`: the feature as its modules are named
(`cards/polls.py`, `storage/polls.py` → `polls.vote`), the action possibly dotted further
(`privacy.erase.confirm`). Teams keeps every card the bot ever posted and sends back whatever
verb the card was built with, so a renamed verb stays accepted under its old name: the entry
points (bot/handler.py for `Action.Submit`, bot/invokes.py for invokes) rewrite old names to
new ones before anything reads them, and no handler ever sees an old name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

# The features that own card verbs, named like their modules.
FEATURES = frozenset(
    {
        "admin",
        "attestations",
        "cases",
        "codevelopment",
        "communities",
        "confirm",
        "consultations",
        "help",
        "language",
        "meetings",
        "mentoring",
        "onboarding",
        "planning",
        "polls",
        "privacy",
        "questions",
        "review",
        "surveys",
        "toolbox",
        "topics",
        "vitality",
    }
)

VERB_PATTERN = re.compile(r"(?P<feature>[a-z]+)\.[a-z_]+(?:\.[a-z_]+)*")

# Old name → new name, for cards posted before the verbs were named after their feature. The
# meetings' Teams dialogs (task modules) were named like their verbs and are renamed with them:
# a launcher card already in a channel still opens `meeting.plan`. Never remove an entry (a
# card posted years ago still sends it); never chain one (tests/test_card_verbs.py checks).
LEGACY_NAMES: Mapping[str, str] = MappingProxyType(
    {
        # meetings (cards/agenda.py, cards/meeting_reminder.py, bot/meetings_flow.py)
        "agenda.show": "meetings.show",
        "agenda.view": "meetings.view",
        "meeting.agenda": "meetings.agenda",
        "meeting.agenda.add_row": "meetings.agenda.add_row",
        "meeting.agenda.open": "meetings.agenda.open",
        "meeting.agenda.publish": "meetings.agenda.publish",
        "meeting.attendance": "meetings.attendance",
        "meeting.cancel": "meetings.cancel",
        "meeting.move": "meetings.move",
        "meeting.plan": "meetings.plan",
        "meeting.plan.cancel": "meetings.plan.cancel",
        "meeting.plan.open": "meetings.plan.open",
        "meeting.restore": "meetings.restore",
        "meeting.rsvp": "meetings.rsvp",
        # communities (cards/community.py, dialogs/setup_dialog.py)
        "community.join": "communities.join",
        "community.leave": "communities.leave",
        "community.setup": "communities.setup",
        "community.setup.cancel": "communities.setup.cancel",
        # consultations (cards/consultations.py)
        "consultation.assign": "consultations.assign",
        "consultation.assigned": "consultations.assigned",
        "consultation.audit": "consultations.audit",
        "consultation.close": "consultations.close",
        "consultation.decline": "consultations.decline",
        "consultation.feedback": "consultations.feedback",
        "consultation.mine": "consultations.mine",
        "consultation.request": "consultations.request",
        "consultation.show": "consultations.show",
        "consultation.start": "consultations.start",
        "consultation.take": "consultations.take",
        "consultation.volunteer": "consultations.volunteer",
        "consultation.withdraw": "consultations.withdraw",
        # mentoring (cards/mentoring.py)
        "mentor.request": "mentoring.request",
    }
)


def current_name(name: str) -> str:
    """A verb (or Teams dialog form) as today's code names it."""
    return LEGACY_NAMES.get(name, name)


def upgrade_names(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    """`data` with each of `keys` that holds an old name rewritten to the new one, in place
    (the SDK's activity keeps it, so dialogs and features reading it later see the new name
    too); values of any other type are left for the handlers to refuse."""
    for key in keys:
        name = data.get(key)
        if isinstance(name, str) and name in LEGACY_NAMES:
            data[key] = LEGACY_NAMES[name]
    return data


def follows_pattern(verb: str) -> bool:
    """Whether `verb` is `<feature>.<action>` with a known feature."""
    match = VERB_PATTERN.fullmatch(verb)
    return match is not None and match["feature"] in FEATURES
