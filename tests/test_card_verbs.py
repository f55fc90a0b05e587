"""Card verbs are `<feature>.<action>`, and cards posted before still work.

- Every verb the code emits or routes (found by reading bot/, cards/, dialogs/) follows the
  pattern, and each one a card sends is routed: posted over HTTP, no « unknown card verb ».
- The alias table (cards/verbs.py): no chains, no name both old and new, every new name routed.
- A card already in Teams that sends an old verb (an Action.Submit, a refresh, a Teams dialog)
  does over HTTP what the new verb does, and what the bot answers carries new names only.

The renaming happens at the entry of a turn, before any SQL: these HTTP tests run on SQLite.
"""

from __future__ import annotations

import ast
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.app import RUNTIME, create_app
from bot.invokes import Invokes
from cards.i18n import plural
from cards.verbs import FEATURES, LEGACY_NAMES, current_name, follows_pattern, upgrade_names
from dialogs import setup_dialog
from storage.db import SessionFactory, transaction
from storage.models import (
    Attendance,
    Community,
    ConsultationRequest,
    ConsultationStatus,
    Meeting,
    Membership,
    MentorRequest,
    Person,
    Poll,
    PollVote,
    Role,
    Rsvp,
    Topic,
    TopicVote,
)
from tests import factories
from tests.activities import message
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector
from tests.support import Clock, card_actions, dispatcher
from tests.test_boundaries import OTHER_TENANT, REFUSAL_FR, from_tenant
from tests.test_communities import ANIMATOR, NEW_HIRE_ANSWERS, SETUP_FORM, Chat, card_text
from tests.test_double_clicks import CHANNEL, NOW, TEAM, _id, count, fr, sender

Client = TestClient[web.Request, web.Application]
ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "bot/features", "cards", "dialogs")
# Verbs a dialog's card prompt answers (dialogs/form_prompt.py), routed while it waits.
DIALOG_VERBS = frozenset({setup_dialog.SUBMIT, setup_dialog.CANCEL})


@dataclass
class World:
    """A community bound to the channel, its next meeting's agenda card posted there, over HTTP:
    an animator who coordinates, a member, someone about to join."""

    client: Client
    connector: FakeConnector
    community: Community
    animator: Person
    member: Person
    newcomer: Person
    meeting: Meeting

    @property
    def sessions(self) -> SessionFactory:
        sessions: SessionFactory = self.client.app[RUNTIME].sessions
        return sessions

    def chat(self, who: Person) -> Chat:
        return Chat(self.client, self.connector, sender(who))

    def texts(self) -> list[str]:
        return self.connector.texts()

    def told(self, key: str, **values: Any) -> int:
        return self.texts().count(fr(key, **values))


@pytest.fixture
async def world(sqlite_url: str, connector: FakeConnector) -> AsyncIterator[World]:
    with time_machine.travel(NOW, tick=True):  # the flows read the clock
        client = TestClient(TestServer(create_app(make_settings(sqlite_url))))
        await client.start_server()
        sessions: SessionFactory = client.app[RUNTIME].sessions
        async with transaction(sessions) as session:
            where = await factories.community(session)
            where.teams_channel_id, where.team_id = CHANNEL, TEAM
            animator, member, newcomer = [await factories.person(session, n) for n in (1, 2, 3)]
            for who, roles in ((animator, [Role.ANIMATOR, Role.COORDINATOR]), (member, [])):
                row = await factories.member(session, who, where)
                row.roles = [Role.MEMBER.value, *(role.value for role in roles)]
            posted = await factories.channel(session, service_url=connector.url)
            posted.conversation_id = CHANNEL
            meeting = await factories.meeting(session, where, starts_at=NOW + timedelta(days=10))
            meeting.conversation_ref_id = posted.id
            meeting.activity_id = "agenda-card"
        try:
            yield World(client, connector, where, animator, member, newcomer, meeting)
        finally:
            await client.close()


# -- what the code names ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Named:
    verb: str
    where: str
    emitted: bool  # put on a card (else only compared against or routed)


def _is_verb_name(name: str) -> bool:
    return "VERB" in name or name in {"SUBMIT", "CANCEL"} or name.startswith("FORM_")


def _names_in(path: Path) -> Iterator[Named]:
    """The card verbs one module names: `verb=` arguments, `"verb": …` entries, constants named
    VERB_*/FORM_*, `verb == "…"` tests, and the keys of its verb tables (`_ACTIONS`,
    `_DIALOG_STEPS`, `GLOBAL_VERBS`)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    where = str(path.relative_to(ROOT))

    def strings(node: ast.AST | None) -> Iterator[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value

    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "verb":
            yield from (Named(s, where, True) for s in strings(node.value))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "verb":
                    yield from (Named(s, where, True) for s in strings(value))
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if any(n == "FORM_KEY" for n in names):
                continue  # the key that carries a form's name, not a name
            if any(_is_verb_name(n) for n in names):
                emitted = not any(n.startswith("FORM_") for n in names)
                yield from (Named(s, where, emitted) for s in strings(node.value))
            if any(n.endswith(("ACTIONS", "STEPS", "VERBS")) for n in names):
                for inner in ast.walk(node.value) if node.value is not None else ():
                    if isinstance(inner, ast.Dict):
                        for key in inner.keys:
                            yield from (Named(s, where, False) for s in strings(key))
                    elif isinstance(inner, ast.Set):
                        for item in inner.elts:
                            yield from (Named(s, where, False) for s in strings(item))
        elif isinstance(node, ast.Compare) and getattr(node.left, "id", None) == "verb":
            for right in node.comparators:
                yield from (Named(s, where, False) for s in strings(right))


def named_in_code() -> list[Named]:
    return [
        named
        for package in PACKAGES
        for path in sorted((ROOT / package).glob("*.py"))
        if path.name != "verbs.py"  # the alias table names the old ones on purpose
        for named in _names_in(path)
    ]


def test_the_scan_finds_the_verbs_of_every_feature() -> None:
    """The scan below is only as good as what it finds."""
    found = {named.verb for named in named_in_code()}
    for verb in (
        "meetings.rsvp",
        "meetings.view",
        "meetings.plan",
        "communities.join",
        "communities.setup",
        "consultations.take",
        "mentoring.request",
        "polls.vote",
        "topics.vote",
        "confirm.dismiss",
        "help.show",
        "language.set",
        "onboarding.checkin",
        "privacy.erase.confirm",
        "surveys.answer",
        "vitality.export",
    ):
        assert verb in found
    assert {follows_pattern(v) and v.split(".")[0] for v in found} - {False} <= FEATURES


def test_every_verb_in_the_code_is_feature_dot_action() -> None:
    wrong = sorted(
        {f"{n.where}: {n.verb!r}" for n in named_in_code() if not follows_pattern(n.verb)}
    )
    assert not wrong, wrong


async def test_every_verb_a_card_sends_is_routed(
    bot_client: Client, connector: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    """Each verb a card puts on a button, posted alone from a personal chat: some handler takes
    it (whatever it then says about the missing data); a refresh's verb is a registered
    Universal Action; a dialog's own buttons are answered by that dialog."""
    invokes: Invokes = bot_client.app[RUNTIME].bot.invokes
    emitted = sorted({n.verb for n in named_in_code() if n.emitted} - DIALOG_VERBS)
    unrouted: list[str] = []
    for verb in emitted:
        if verb in invokes.actions:
            continue
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="bot.handler"):
            activity = message(None, service_url=connector.url, value={"verb": verb})
            response = await bot_client.post("/api/messages", json=activity)
            assert response.status in (200, 201), (verb, await response.text())
        if any("unknown card verb" in r.getMessage() for r in caplog.records):
            unrouted.append(verb)
    assert not unrouted, unrouted
    assert set(invokes.forms) <= {n.verb for n in named_in_code()}
    for name in (*invokes.forms, *invokes.actions):
        assert follows_pattern(name), name


# -- the alias table ----------------------------------------------------------------------------


def test_the_alias_table_has_no_chains_and_no_name_both_old_and_new() -> None:
    old, new = set(LEGACY_NAMES), set(LEGACY_NAMES.values())
    assert not old & new
    assert all(current_name(current_name(name)) == current_name(name) for name in old)
    assert all(not follows_pattern(name) for name in old), "an old name that already fits"
    assert all(follows_pattern(name) for name in new)
    assert len(new) == len(old), "two old names for one new one: which did cards send?"


def test_every_new_name_is_one_the_code_uses() -> None:
    used = {n.verb for n in named_in_code()}
    assert set(LEGACY_NAMES.values()) <= used, set(LEGACY_NAMES.values()) - used


def test_no_old_name_is_left_in_the_code() -> None:
    left = sorted({f"{n.where}: {n.verb}" for n in named_in_code() if n.verb in LEGACY_NAMES})
    assert not left, left


def test_only_names_are_rewritten() -> None:
    value: dict[str, Any] = {"verb": "meeting.rsvp", "form": {"date": "x"}, "answer": "yes"}
    assert upgrade_names(value, "verb", "form") is value
    assert value == {"verb": "meetings.rsvp", "form": {"date": "x"}, "answer": "yes"}
    junk: dict[str, Any] = {"verb": ["meeting.rsvp"], "form": "meeting.plan"}
    assert upgrade_names(junk, "verb", "form") == {
        "verb": ["meeting.rsvp"],
        "form": "meetings.plan",
    }
    assert current_name("polls.vote") == "polls.vote"
    assert current_name("meeting.") == "meeting."


# -- cards already posted in Teams --------------------------------------------------------------


def _new_names_only(card_or_cards: Any) -> None:
    """Whatever the bot answered carries no old name (its buttons resend new verbs)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("verb", "form") and isinstance(value, str):
                    found.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card_or_cards)
    assert not [name for name in found if name in LEGACY_NAMES], found


async def _rsvp(w: World, verb: str) -> None:
    chat = w.chat(w.member)
    await chat.click({"verb": verb, "meeting_id": _id(w.meeting), "answer": "yes"})
    assert await count(w.sessions, Rsvp) == 1
    assert w.told("agenda.rsvp_saved.yes") == 1


async def _join(w: World, verb: str) -> None:
    chat = w.chat(w.newcomer)
    await chat.click({"verb": verb, "community_id": _id(w.community)})
    for answer in NEW_HIRE_ANSWERS:
        await chat.say(answer)
    mine = col(Membership.person_id) == _id(w.newcomer)
    assert await count(w.sessions, Membership, mine) == 1
    assert w.told("join.joined_newcomer", community=w.community.name) == 1


async def _leave(w: World, verb: str) -> None:
    """The confirmation card's button resends the verb: under its new name."""
    chat = w.chat(w.member)
    await chat.click({"verb": verb, "community_id": _id(w.community)})
    (confirm, _dismiss) = card_actions(chat.last_card())
    assert confirm["data"]["verb"] == "communities.leave"
    await chat.click(confirm["data"])
    mine = col(Membership.person_id) == _id(w.member)
    async with w.sessions() as session:
        (membership,) = (await session.exec(select(Membership).where(mine))).all()
    assert membership.left_at is not None


async def _vote(w: World, verb: str) -> None:
    async with transaction(w.sessions) as session:
        poll = Poll(
            community_id=_id(w.community),
            question="Quelle date ?",
            options=["Mardi", "Jeudi"],
            closes_at=NOW + timedelta(days=5),
            created_by_id=_id(w.animator),
        )
        session.add(poll)
    await w.chat(w.member).click({"verb": verb, "poll_id": _id(poll), "choice": "1"}, channel=True)
    async with w.sessions() as session:
        assert [b.choices for b in (await session.exec(select(PollVote))).all()] == [[1]]


async def _support(w: World, verb: str) -> None:
    async with transaction(w.sessions) as session:
        topic = Topic(
            community_id=_id(w.community), title="Le deuil blanc", proposed_by_id=_id(w.animator)
        )
        session.add(topic)
    await w.chat(w.member).click({"verb": verb, "topic_id": _id(topic), "support": True})
    assert await count(w.sessions, TopicVote) == 1


async def _dismiss(w: World, verb: str) -> None:
    chat = w.chat(w.member)
    await chat.click({"verb": verb})
    assert fr("error.unknown_action") not in w.texts()


async def _mentor_request(w: World, verb: str) -> None:
    await w.chat(w.member).click({"verb": verb, "community_id": _id(w.community)})
    mine = col(MentorRequest.mentee_id) == _id(w.member)
    assert await count(w.sessions, MentorRequest, mine) == 1


async def _take(w: World, verb: str) -> None:
    async with transaction(w.sessions) as session:
        request = ConsultationRequest(
            reference="C-2027-0001",
            community_id=_id(w.community),
            requester_id=_id(w.member),
            motive="clinical",
            summary="Une situation à discuter",
            urgency="normal",
            modality="teams",
        )
        session.add(request)
    await w.chat(w.animator).click({"verb": verb, "request_id": _id(request)})
    async with w.sessions() as session:
        stored = await session.get(ConsultationRequest, _id(request))
    assert stored is not None
    assert stored.status == ConsultationStatus.ASSIGNED
    assert stored.assignee_id == _id(w.animator)
    assert w.told("consultation.take.done", reference="C-2027-0001") == 1


async def _attendance(w: World, verb: str) -> None:
    async with transaction(w.sessions) as session:
        past = await factories.meeting(session, w.community, starts_at=NOW - timedelta(days=1))
    click = {"verb": verb, "meeting_id": _id(past), f"present_{_id(w.member)}": "true"}
    await w.chat(w.animator).click(click)
    async with w.sessions() as session:
        rows = (await session.exec(select(Attendance))).all()
    assert [a.person_id for a in rows] == [_id(w.member)]
    assert w.texts().count(plural("fr-CA", "attendance.saved", 1)) == 1


# (old name a posted card sends, new name, what the click must do)
CLICKS: list[tuple[str, str, Callable[[World, str], Any]]] = [
    ("meeting.rsvp", "meetings.rsvp", _rsvp),
    ("community.join", "communities.join", _join),
    ("community.leave", "communities.leave", _leave),
    ("mentor.request", "mentoring.request", _mentor_request),
    ("consultation.take", "consultations.take", _take),
    ("meeting.attendance", "meetings.attendance", _attendance),
    # Already named after their feature: posted cards send today's name.
    ("polls.vote", "polls.vote", _vote),
    ("topics.vote", "topics.vote", _support),
    ("confirm.dismiss", "confirm.dismiss", _dismiss),
]


@pytest.mark.parametrize("which", ["old", "new"])
@pytest.mark.parametrize(("old", "new", "check"), CLICKS, ids=[c[0] for c in CLICKS])
async def test_a_posted_card_s_old_verb_works_like_the_new_one(
    world: World,
    which: str,
    old: str,
    new: str,
    check: Callable[[World, str], Any],
) -> None:
    assert current_name(old) == new
    await check(world, old if which == "old" else new)
    assert fr("error.unknown_action") not in world.texts()
    assert not [t for t in world.texts() if t == fr("error.apology")]
    _new_names_only([r.body for r in world.connector.received])


_invoke_ids = itertools.count(1)


async def _invoke(w: World, name: str, value: dict[str, Any]) -> tuple[int, Any]:
    activity = message(
        None,
        service_url=w.connector.url,
        sender=sender(w.animator),
        conversation_type="channel",
        conversation_id=CHANNEL,
    )
    activity.update(type="invoke", id=f"verbs-invoke-{next(_invoke_ids)}", name=name, value=value)
    response = await w.client.post("/api/messages", json=activity)
    body = await response.json() if response.content_type == "application/json" else None
    return response.status, body


@pytest.mark.parametrize("verb", ["agenda.view", "meetings.view"])
async def test_an_agenda_card_s_old_refresh_verb_still_gives_the_person_s_view(
    world: World, verb: str
) -> None:
    w = world
    data = {"meeting_id": _id(w.meeting)}
    status, body = await _invoke(
        w, "adaptiveCard/action", {"action": {"type": "Action.Execute", "verb": verb, "data": data}}
    )
    assert status == 200, body
    assert body["value"]["type"] == "AdaptiveCard"
    assert body["value"]["refresh"]["action"]["verb"] == "meetings.view"


@pytest.mark.parametrize(
    ("form", "verb"),
    [("meeting.plan", "meeting.plan.open"), ("meetings.plan", "meetings.plan.open")],
)
async def test_a_posted_planning_card_still_opens_its_teams_dialog(
    world: World, form: str, verb: str
) -> None:
    """The small card `planifier une rencontre` left in a channel opens its form by name."""
    w = world
    opens = {"msteams": {"type": "task/fetch"}, "form": form, "verb": verb, "draft": "d" * 32}
    status, body = await _invoke(w, "task/fetch", {"data": opens, "context": {"theme": "default"}})
    assert status == 200, body
    assert body["task"]["type"] == "continue", body
    form_card = body["task"]["value"]["card"]["content"]
    assert "Date" in card_text(form_card)
    _new_names_only(form_card)


async def test_the_agenda_card_updated_after_an_old_rsvp_sends_new_verbs(world: World) -> None:
    """Cards rendered from now on send new names (here the agenda card's update)."""
    w = world
    await w.chat(w.member).click(
        {"verb": "meeting.rsvp", "meeting_id": _id(w.meeting), "answer": "yes"}, channel=True
    )
    await dispatcher(w.client.app[RUNTIME], Clock(NOW + timedelta(minutes=1))).dispatch_once()
    (update,) = [r for r in w.connector.received if r.method == "PUT"]
    actions = card_actions(update.body["attachments"][0]["content"])
    verbs = {a["data"]["verb"] for a in actions if "verb" in a.get("data", {})}
    assert "meetings.rsvp" in verbs
    _new_names_only(update.body)


@pytest.mark.parametrize("verb", ["consultation.take", "consultations.take"])
async def test_an_old_verb_naming_another_organisation_s_request_is_refused(
    world: World, verb: str
) -> None:
    """Which record `request_id` names depends on the verb's feature: the tenant check reads
    the new name, so an old one cannot slip past it."""
    w = world
    async with transaction(w.sessions) as session:
        request = ConsultationRequest(
            reference="C-2027-0002",
            community_id=_id(w.community),
            requester_id=_id(w.member),
            motive="clinical",
            summary="Une situation à discuter",
            urgency="normal",
            modality="teams",
        )
        session.add(request)
        outsider = await factories.person(session, 9, tenant=OTHER_TENANT)
    click = message(
        None,
        service_url=w.connector.url,
        sender=sender(outsider),
        value={"verb": verb, "request_id": _id(request)},
    )
    response = await w.client.post("/api/messages", json=from_tenant(click, OTHER_TENANT))
    assert response.status in (200, 201)
    assert w.texts() == [REFUSAL_FR]
    async with w.sessions() as session:
        stored = await session.get(ConsultationRequest, _id(request))
    assert stored is not None
    assert stored.status == ConsultationStatus.SUBMITTED


@pytest.mark.parametrize("verb", ["community.setup", "communities.setup"])
async def test_an_old_setup_form_answers_the_waiting_dialog(
    bot_client: Client, connector: FakeConnector, verb: str
) -> None:
    """A dialog's card prompt (the setup form) waits for its own verb: the old one reaches it
    renamed, so the community is created."""
    animator = Chat(bot_client, connector, ANIMATOR)
    await animator.say("configurer", channel=True)
    await animator.click({**SETUP_FORM, "verb": verb}, channel=True)
    async with bot_client.app[RUNTIME].sessions() as session:
        (community,) = (await session.exec(select(Community))).all()
    assert community.name == SETUP_FORM["name"]
    assert fr("error.unknown_action") not in connector.texts()
