"""Each feature declares what it handles; the registry refuses what two declare.

- Every command has exactly one feature answering it, every verb a card can send is
  registered, and the buttons that act while a dialog waits are those that did before the
  registry (the list below is the former `GLOBAL_VERBS` of bot/handler.py).
- A command, verb, outbox kind, route or scheduled job declared twice, or a verb not named
  after its feature, stops the start-up.
- Every scheduled job of before the features declared them is declared once, its interval
  unchanged (the table below is the former list of bot/scheduler.py's `build_scheduler`).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from bot.codevelopment_flow import ACTIONS as CODEV_ACTIONS
from bot.commands import HELP_COMMAND, UNKNOWN_COMMAND, Parsed
from bot.deliveries import RenderContext
from bot.features import FEATURES
from bot.invokes import Invokes
from bot.registry import (
    HOST_VERBS,
    Command,
    DuplicateDeclaration,
    Feature,
    Job,
    JobContext,
    Registry,
    Route,
)
from bot.scheduler import HOST_JOBS, Jobs, build_scheduler
from bot.turns import FeatureTurn
from cards.cases import VERBS as CASE_VERBS
from cards.consultations import VERBS as CONSULTATION_VERBS
from cards.mentoring import VERBS as MENTORING_VERBS
from cards.polls import VERBS as POLL_VERBS
from cards.toolbox import BROWSING_VERBS as TOOLBOX_VERBS
from cards.topics import VERBS as TOPIC_VERBS
from cards.verbs import LEGACY_NAMES
from dialogs import setup_dialog
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[1]

# The buttons that acted even while a dialog waited, before the features declared them.
BEFORE_THE_REGISTRY = frozenset(
    {
        "help.show",
        "help.all",
        "help.run",
        "confirm.dismiss",
        "language.choose",
        "language.set",
        "communities.show",
        "communities.join",
        "communities.leave",
        "meetings.show",
        "onboarding.plan.show",
        "onboarding.plan.save",
        "onboarding.checkin",
        *MENTORING_VERBS,
        "meetings.rsvp",
        "meetings.attendance",
        *TOPIC_VERBS,
        *POLL_VERBS,
        *CONSULTATION_VERBS,
        "privacy.export",
        "privacy.erase.ask",
        "privacy.erase.confirm",
        "privacy.erase.cancel",
        "surveys.answer",
        "surveys.results",
        "surveys.topic",
        "vitality.show",
        "vitality.export",
        # Declared since (bot/features/toolbox.py): all but the share form's own buttons.
        *TOOLBOX_VERBS,
        # Declared since (bot/features/codevelopment.py): every one of its buttons.
        *CODEV_ACTIONS,
        # Declared since (bot/features/cases.py): every one of its buttons.
        *CASE_VERBS,
    }
)
# The setup form's buttons are answered by its dialog's prompt (dialogs/form_prompt.py).
DIALOG_VERBS = frozenset({setup_dialog.SUBMIT, setup_dialog.CANCEL})

# The scheduler's jobs and intervals before the features declared them.
BEFORE_THE_JOBS_MOVED: dict[str, timedelta] = {
    "meeting_reminders": timedelta(minutes=1),
    "attendance_requests": timedelta(minutes=5),
    "close_polls": timedelta(minutes=1),
    "open_surveys": timedelta(minutes=5),
    "escalate_consultations": timedelta(minutes=30),
    "expire_mentor_proposals": timedelta(minutes=30),
    "survey_reminders": timedelta(minutes=15),
    "seal_surveys": timedelta(hours=1),
    "monthly_summaries": timedelta(minutes=15),
    "outbox_status": timedelta(minutes=15),
    "retention_purge": timedelta(hours=6),
    # Declared since (bot/features/questions.py).
    "flag_unanswered_questions": timedelta(minutes=30),
    # Declared since (bot/features/codevelopment.py).
    "codevelopment_reminders": timedelta(minutes=1),
    # Declared since (bot/features/planning.py).
    "date_poll_outcomes": timedelta(minutes=1),
    "needs_survey_proposals": timedelta(days=1),
    "learning_yearly": timedelta(hours=6),
    # Declared since (bot/features/review.py).
    "annual_reviews": timedelta(minutes=15),
}

_VERB_ARGUMENT = re.compile(r"""verb=["']([a-z_.]+)["']""")
_VERB_ENTRY = re.compile(r"""["']verb["']\s*:\s*["']([a-z_.]+)["']""")
_VERB_CONSTANT = re.compile(r"""^VERB_[A-Z_]+\s*=\s*["']([a-z_.]+)["']""", re.MULTILINE)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(FEATURES)


def _sent_by_cards() -> set[str]:
    """The verbs a card can send: every `verb="…"` argument, `"verb": "…"` entry and VERB_*
    constant in cards/ (the buttons' data)."""
    found: set[str] = set()
    for path in sorted((ROOT / "cards").glob("*.py")):
        if path.name == "verbs.py":
            continue  # the alias table names the old names on purpose
        text = path.read_text()
        for pattern in (_VERB_ARGUMENT, _VERB_ENTRY, _VERB_CONSTANT):
            found.update(pattern.findall(text))
    return found


def _universal_actions() -> set[str]:
    invokes = Invokes()
    Registry(FEATURES).register_invokes(invokes, make_settings("sqlite+aiosqlite://"))
    return set(invokes.actions)


def test_every_command_has_exactly_one_feature(registry: Registry) -> None:
    owners: dict[str, list[str]] = {}
    for feature in FEATURES:
        for command in feature.commands:
            owners.setdefault(command.key, []).append(feature.name)
    assert UNKNOWN_COMMAND not in owners  # text that is no command: the host suggests
    assert HELP_COMMAND in owners  # what a mention alone asks for
    for key, names in owners.items():
        assert len(names) == 1, (key, names)
        assert registry.command(key) is not None


def test_every_verb_a_card_can_send_is_registered(registry: Registry) -> None:
    sent = _sent_by_cards()
    # The scan is only as good as what it finds.
    assert {"meetings.rsvp", "polls.vote", "help.show", "communities.join"} <= sent
    known = set(registry.verbs) | HOST_VERBS | DIALOG_VERBS | _universal_actions()
    unrouted = sorted(v for v in sent if v not in known and v not in LEGACY_NAMES)
    assert not unrouted, unrouted


def test_every_verb_of_the_cards_tables_is_registered(registry: Registry) -> None:
    for table in (CONSULTATION_VERBS, MENTORING_VERBS, POLL_VERBS, TOPIC_VERBS):
        assert table <= set(registry.verbs), table - set(registry.verbs)


def test_the_buttons_acting_in_a_dialog_are_those_of_before(registry: Registry) -> None:
    # and, since, a checklist's tick and the answer to a co-hosting invitation.
    since = {"onboarding.check", "meetings.cohost.accept", "meetings.cohost.decline"}
    assert registry.verbs_in_dialog == BEFORE_THE_REGISTRY | since
    assert registry.acts_in_dialog("polls.vote")
    assert not registry.acts_in_dialog("meetings.plan")
    assert not registry.acts_in_dialog("surveys.needs.start")


def test_each_verb_belongs_to_the_feature_named_in_it(registry: Registry) -> None:
    for feature in FEATURES:
        for verb in feature.verbs:
            assert verb.split(".")[0] == feature.name, (feature.name, verb)


def test_the_features_routes_and_outbox_kinds_are_all_there(registry: Registry) -> None:
    paths = {route.path for route in registry.routes}
    assert paths == {
        "/attestations/{token}.pdf",
        "/api/exports/vitality.csv",
        "/privacy/export/{token}.json",
        "/calendar/{token}.ics",
        "/lists/{token}",
        "/reviews/{token}.pdf",
    }
    assert {"notice", "reply", "meeting_reminder", "onboarding_step", "poll_card"} <= set(
        registry.renderers
    )


# -- what the registry refuses ------------------------------------------------------------------


async def _nothing(_turn: FeatureTurn, _arg: Any) -> None:
    return None


async def _route(_request: Any) -> Any:
    return None


async def _render(_context: RenderContext) -> None:
    return None


def _parsed_handler() -> Any:
    async def handle(_turn: FeatureTurn, _parsed: Parsed) -> None:
        return None

    return handle


def test_a_command_declared_twice_stops_the_start_up() -> None:
    polls = Feature(name="polls", commands=(Command("poll", _parsed_handler()),))
    again = Feature(name="surveys", commands=(Command("poll", _parsed_handler()),))
    with pytest.raises(DuplicateDeclaration, match="command"):
        Registry([polls, again])
    with pytest.raises(DuplicateDeclaration):
        Registry(
            [*FEATURES, Feature(name="extra", commands=(Command(HELP_COMMAND, _parsed_handler()),))]
        )
    with pytest.raises(DuplicateDeclaration):
        Registry([Feature(name="extra", commands=(Command(UNKNOWN_COMMAND, _parsed_handler()),))])


def test_a_verb_declared_twice_stops_the_start_up() -> None:
    again = Feature(name="topics_again", verbs={"polls.vote": _nothing})
    with pytest.raises(DuplicateDeclaration, match=r"verb 'polls\.vote' declared twice"):
        Registry([*FEATURES, again])
    with pytest.raises(DuplicateDeclaration, match="feature 'polls' declared twice"):
        Registry([*FEATURES, Feature(name="polls")])


def test_a_verb_of_another_feature_or_the_host_is_refused() -> None:
    with pytest.raises(DuplicateDeclaration, match=r"named <feature>\.<action>"):
        Registry([Feature(name="topics", verbs={"polls.vote": _nothing})])
    with pytest.raises(DuplicateDeclaration, match=r"named <feature>\.<action>"):
        Registry([Feature(name="polls", verbs={"vote": _nothing})])
    with pytest.raises(DuplicateDeclaration, match="answered by the host"):
        Registry([Feature(name="help", verbs={"help.run": _nothing})])
    with pytest.raises(DuplicateDeclaration, match="does not declare"):
        Registry([Feature(name="polls", verbs_in_dialog=frozenset({"polls.vote"}))])


def test_forms_are_declared_by_their_features_once() -> None:
    registry = Registry(FEATURES)
    # The forms whose sending button, clicked again, is told the form was sent (the ids are
    # those saved in people's dialog state).
    forms = (
        "join_dialog",
        "propose_topic_dialog",
        "consultation_dialog",
        "survey_dialog",
        "ask_question_dialog",
    )
    assert {form: registry.form_confirmation(form) for form in forms} == {
        "join_dialog": "join.confirm",
        "propose_topic_dialog": "topics.propose.confirm",
        "consultation_dialog": "consultation.request.send",
        "survey_dialog": "surveys.dialog.confirm",
        "ask_question_dialog": "questions.ask.confirm",
    }
    assert registry.form_confirmation("language_dialog") is None
    assert registry.form_confirmation(None) is None
    again = Feature(name="extra", form_confirmations={"join_dialog": "join.confirm"})
    with pytest.raises(DuplicateDeclaration, match="form 'join_dialog' declared twice"):
        Registry([*FEATURES, again])


def test_an_outbox_kind_or_route_declared_twice_stops_the_start_up() -> None:
    with pytest.raises(DuplicateDeclaration, match="outbox kind 'notice'"):
        Registry([Feature(name="polls", renderers={"notice": _render})])
    route = Route("/calendar/{token}.ics", _route)
    with pytest.raises(DuplicateDeclaration, match="route"):
        Registry([*FEATURES, Feature(name="extra", routes=(route,))])


async def _job(_context: JobContext) -> None:
    return None


def test_every_scheduled_job_is_declared_once_with_its_interval(registry: Registry) -> None:
    declared = [job for feature in FEATURES for job in feature.jobs] + list(HOST_JOBS)
    counts = Counter(job.name for job in declared)
    assert counts == Counter(BEFORE_THE_JOBS_MOVED.keys()), "each job declared exactly once"
    assert {job.name: job.every for job in declared} == BEFORE_THE_JOBS_MOVED
    assert set(registry.jobs) | {job.name for job in HOST_JOBS} == set(BEFORE_THE_JOBS_MOVED)
    # And the scheduler wakes each up at that interval.
    settings = make_settings("sqlite+aiosqlite://")
    jobs = Jobs(
        jobs=registry.jobs,
        settings=settings,
        sessions=cast(Any, None),
        wake_dispatcher=lambda: None,
    )
    scheduler = build_scheduler(jobs, settings)
    assert {job.id: job.trigger.interval for job in scheduler.get_jobs()} == BEFORE_THE_JOBS_MOVED


def test_a_job_declared_twice_stops_the_start_up() -> None:
    again = Feature(name="extra", jobs=(Job("close_polls", timedelta(minutes=1), _job),))
    with pytest.raises(DuplicateDeclaration, match="job 'close_polls' declared twice"):
        Registry([*FEATURES, again])
    twice = Job("tidy", timedelta(hours=1), _job)
    with pytest.raises(DuplicateDeclaration, match="job 'tidy' declared twice"):
        Registry([Feature(name="extra", jobs=(twice, twice))])
    # Nor may a feature take one of the host's jobs.
    settings = make_settings("sqlite+aiosqlite://")
    with pytest.raises(DuplicateDeclaration, match="host's"):
        Jobs(
            jobs={"retention_purge": Job("retention_purge", timedelta(hours=6), _job)},
            settings=settings,
            sessions=cast(Any, None),
            wake_dispatcher=lambda: None,
        )
