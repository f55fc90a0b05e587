"""Onboarding steps carry the facilitators' own text, https links and a short checklist the
newcomer ticks: only facilitators edit it, a bad link or a client identifier is refused with
nothing changed, a double click ticks once, rewording an item keeps its ticks and removing it
drops them, the facilitators see each newcomer's progress, and erasure takes the ticks with
the person. Storage on SQLite and PostgreSQL; the cards over HTTP in French and English."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import RUNTIME
from storage import communities, onboarding, privacy
from storage.communities import NotAllowed
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.identifiers import HasIdentifiers, IdentifierKind
from storage.models import Community, Membership, OnboardingCheck, Person
from storage.onboarding import (
    LINK_INVALID,
    LINK_NOT_HTTPS,
    ChecklistItem,
    InvalidContent,
    Link,
    NotFollowing,
    StepContent,
)
from tests import factories
from tests.fake_connector import FakeConnector
from tests.support import START, Clock, dispatcher
from tests.test_communities import ANIMATOR, MEMBER, Chat, card_text, set_up_community

Client = TestClient[web.Request, web.Application]

GUIDE = Link("Guide d’accueil du CISSS", "https://www.santemonteregie.qc.ca/accueil")
CONTENT = StepContent(
    text="Passez nous voir au 3e étage, local des intervenant·e·s.",
    links=(GUIDE,),
    checklist=(
        ChecklistItem("", "Lire la charte de la communauté"),
        ChecklistItem("", "Se présenter dans le canal"),
    ),
)


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


@dataclass
class World:
    community_id: int
    facilitator: int
    newcomer: int
    other: int


async def _animator(session: AsyncSession, who: Person, where: Community) -> Membership:
    row = await factories.member(session, who, where)
    row.roles = ["member", "animator"]
    await session.flush()
    return row


async def world(sessions: SessionFactory) -> World:
    async with transaction(sessions) as session:
        community = await factories.community(session)
        facilitator = await factories.person(session, 1)
        await _animator(session, facilitator, community)
        people = []
        for n in (2, 3):
            person = await factories.person(session, n)
            await factories.member(session, person, community)
            await onboarding.start(
                session,
                community=community,
                person_id=person.id or 0,
                source="join_dialog",
                now=START + timedelta(days=n),
            )
            people.append(person.id or 0)
    return World(community.id or 0, facilitator.id or 0, people[0], people[1])


async def _community(session: AsyncSession, w: World) -> Community:
    community = await communities.get_community(session, community_id=w.community_id)
    assert community is not None
    return community


async def save(
    sessions: SessionFactory,
    w: World,
    content: StepContent,
    *,
    by: int | None = None,
    step: str = "welcome",
    confirmed: tuple[str, ...] = (),
) -> StepContent:
    async with transaction(sessions) as session:
        return await onboarding.set_step_content(
            session,
            community=await _community(session, w),
            step=step,
            by_person_id=w.facilitator if by is None else by,
            content=content,
            confirmed=confirmed,
        )


async def stored_plan(sessions: SessionFactory, w: World) -> Any:
    async with sessions() as session:
        return (await _community(session, w)).settings.get("onboarding_plan")


async def tick(
    sessions: SessionFactory, w: World, item: str, *, checked: bool = True, who: int = 0
) -> bool:
    async with transaction(sessions) as session:
        return await onboarding.set_checked(
            session,
            community=await _community(session, w),
            person_id=who or w.newcomer,
            step="welcome",
            item_id=item,
            checked=checked,
            now=START,
        )


async def ticks(sessions: SessionFactory, person_id: int | None = None) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(OnboardingCheck)
        if person_id is not None:
            query = query.where(col(OnboardingCheck.person_id) == person_id)
        return int((await session.exec(query)).one())


# -- storage, on both databases --------------------------------------------------------------


async def test_content_is_saved_with_stable_ids_and_the_days_form_keeps_it(
    any_sessions: SessionFactory,
) -> None:
    w = await world(any_sessions)
    saved = await save(any_sessions, w, CONTENT)
    assert [len(i.id) for i in saved.checklist] == [8, 8]
    assert len({i.id for i in saved.checklist}) == 2
    assert saved.links == (GUIDE,)
    # Changing days and turning steps on or off (the plan form) leaves the content alone.
    async with transaction(any_sessions) as session:
        community = await _community(session, w)
        days = [replace(s, day=s.day + 1) for s in onboarding.plan_of(community)]
        await onboarding.set_plan(session, community=community, steps=days)
    async with any_sessions() as session:
        welcome = onboarding.step_of(await _community(session, w), "welcome")
    assert welcome is not None
    assert (welcome.day, welcome.content) == (1, saved)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("javascript:alert(document.cookie)", LINK_NOT_HTTPS),
        ("http://www.santemonteregie.qc.ca/accueil", LINK_NOT_HTTPS),
        ("data:text/html,<script>alert(1)</script>", LINK_NOT_HTTPS),
        ("ftp://serveur.local/guide.pdf", LINK_NOT_HTTPS),
        ("https://", LINK_INVALID),
        ("https://user:secret@example.org/", LINK_INVALID),
        ("https://exemple.org/un guide", LINK_INVALID),
    ],
)
async def test_a_link_that_is_not_plain_https_is_refused_and_nothing_changes(
    any_sessions: SessionFactory, url: str, reason: str
) -> None:
    w = await world(any_sessions)
    before = await save(any_sessions, w, CONTENT)
    plan = await stored_plan(any_sessions, w)
    bad = replace(CONTENT, text="Nouveau texte", links=(Link("Guide", url),))
    with pytest.raises(InvalidContent) as refused:
        await save(any_sessions, w, bad)
    assert refused.value.reasons == (reason,)
    assert await stored_plan(any_sessions, w) == plan
    assert before.text == CONTENT.text


@pytest.mark.parametrize(
    "text",
    [
        "Lisez [le guide](javascript:alert(1)) avant la rencontre.",
        "Lisez [le guide](http://www.santemonteregie.qc.ca/guide).",
        "Copiez JavaScript :alert(1) dans votre navigateur.",
        "Ouvrez data:text/html,<b>ceci</b> dans votre navigateur.",
    ],
)
async def test_a_link_written_in_the_text_obeys_the_same_rule(
    any_sessions: SessionFactory, text: str
) -> None:
    w = await world(any_sessions)
    with pytest.raises(InvalidContent) as refused:
        await save(any_sessions, w, replace(CONTENT, text=text))
    assert refused.value.reasons == (LINK_NOT_HTTPS,)
    assert await stored_plan(any_sessions, w) is None
    fine = replace(
        CONTENT, text="Lisez [le guide](https://www.santemonteregie.qc.ca/guide). Data: à venir."
    )
    assert (await save(any_sessions, w, fine)).text == fine.text


async def test_limits_are_kept(any_sessions: SessionFactory) -> None:
    w = await world(any_sessions)
    too_much = StepContent(
        text="x" * (onboarding.MAX_TEXT_LENGTH + 1),
        links=tuple(Link(f"Lien {n}", f"https://exemple.org/{n}") for n in range(4)),
        checklist=tuple(ChecklistItem("", f"Étape {n}") for n in range(7)),
    )
    with pytest.raises(InvalidContent) as refused:
        await save(any_sessions, w, too_much)
    assert set(refused.value.reasons) == {
        onboarding.TEXT_TOO_LONG,
        onboarding.TOO_MANY_LINKS,
        onboarding.TOO_MANY_ITEMS,
    }
    assert await stored_plan(any_sessions, w) is None


async def test_client_identifiers_are_refused_names_of_colleagues_may_be_confirmed(
    any_sessions: SessionFactory,
) -> None:
    w = await world(any_sessions)
    phone = replace(CONTENT, checklist=(ChecklistItem("", "Rappeler au 514-555-0199"),))
    with pytest.raises(HasIdentifiers) as flagged:
        await save(any_sessions, w, phone, confirmed=("name", "phone"))
    assert flagged.value.kinds == (IdentifierKind.PHONE,)
    named = replace(CONTENT, text="Votre marraine sera l’infirmière Julie.")
    with pytest.raises(HasIdentifiers) as names:
        await save(any_sessions, w, named)
    assert names.value.kinds == (IdentifierKind.NAME,)
    assert await stored_plan(any_sessions, w) is None
    saved = await save(any_sessions, w, named, confirmed=("name",))
    assert saved.text == named.text


async def test_only_a_facilitator_edits_the_content(any_sessions: SessionFactory) -> None:
    w = await world(any_sessions)
    with pytest.raises(NotAllowed):
        await save(any_sessions, w, CONTENT, by=w.newcomer)
    assert await stored_plan(any_sessions, w) is None
    # A facilitator who left is no facilitator.
    async with transaction(any_sessions) as session:
        await communities.leave(session, person_id=w.facilitator, community_id=w.community_id)
    with pytest.raises(NotAllowed):
        await save(any_sessions, w, CONTENT)


async def test_a_double_click_ticks_once_and_unticking_is_possible(
    any_sessions: SessionFactory,
) -> None:
    w = await world(any_sessions)
    first, _second = (await save(any_sessions, w, CONTENT)).checklist
    assert await tick(any_sessions, w, first.id)
    assert not await tick(any_sessions, w, first.id)
    # Two clicks at the same moment (two replicas): one row all the same.
    both = await asyncio.gather(
        tick(any_sessions, w, first.id, who=w.other), tick(any_sessions, w, first.id, who=w.other)
    )
    assert sorted(both) == [False, True]
    assert await ticks(any_sessions) == 2
    assert await tick(any_sessions, w, first.id, checked=False)
    assert not await tick(any_sessions, w, first.id, checked=False)
    assert await ticks(any_sessions, w.newcomer) == 0


async def test_only_a_current_item_of_someone_following_the_plan_is_ticked(
    any_sessions: SessionFactory,
) -> None:
    w = await world(any_sessions)
    first, _second = (await save(any_sessions, w, CONTENT)).checklist
    with pytest.raises(LookupError):
        await tick(any_sessions, w, "deadbeef")
    with pytest.raises(NotFollowing):
        await tick(any_sessions, w, first.id, who=w.facilitator)
    async with transaction(any_sessions) as session:
        await onboarding.stop(session, community_id=w.community_id, person_id=w.other)
    with pytest.raises(NotFollowing):
        await tick(any_sessions, w, first.id, who=w.other)
    assert await ticks(any_sessions) == 0


async def test_rewording_an_item_keeps_its_ticks_removing_it_drops_them(
    any_sessions: SessionFactory,
) -> None:
    w = await world(any_sessions)
    charter, channel = (await save(any_sessions, w, CONTENT)).checklist
    await tick(any_sessions, w, charter.id)
    await tick(any_sessions, w, channel.id)
    edited = replace(
        CONTENT,
        checklist=(
            ChecklistItem(charter.id, "Lire la charte et les règles du groupe"),
            ChecklistItem("", "Réserver la prochaine rencontre"),
            # A forged or stale id is no item of this step: a new item.
            ChecklistItem("cafecafe", "Choisir un sujet"),
        ),
    )
    saved = await save(any_sessions, w, edited)
    assert saved.checklist[0] == ChecklistItem(charter.id, "Lire la charte et les règles du groupe")
    assert charter.id != saved.checklist[1].id != channel.id
    assert saved.checklist[2].id != "cafecafe"
    async with any_sessions() as session:
        checked = await onboarding.checked_items(
            session, community_id=w.community_id, person_id=w.newcomer, step="welcome"
        )
        progress = await onboarding.progress(session, community=await _community(session, w))
    assert checked == {charter.id}
    assert await ticks(any_sessions) == 1
    assert [(p.person_id, p.checked, p.total) for p in progress] == [
        (w.other, 0, 3),
        (w.newcomer, 1, 3),
    ]


async def test_progress_counts_the_steps_that_are_on_and_lists_who_follows_the_plan(
    any_sessions: SessionFactory,
) -> None:
    w = await world(any_sessions)
    welcome = await save(any_sessions, w, CONTENT)
    topics = await save(
        any_sessions,
        w,
        StepContent(checklist=(ChecklistItem("", "Proposer un sujet"),)),
        step="topics",
    )
    for item in welcome.checklist:
        await tick(any_sessions, w, item.id)
    async with transaction(any_sessions) as session:
        await onboarding.set_checked(
            session,
            community=await _community(session, w),
            person_id=w.newcomer,
            step="topics",
            item_id=topics.checklist[0].id,
            checked=True,
            now=START,
        )
    async with any_sessions() as session:
        before = await onboarding.progress(session, community=await _community(session, w))
    assert [(p.person_id, p.checked, p.total) for p in before] == [
        (w.other, 0, 3),
        (w.newcomer, 3, 3),
    ]
    async with transaction(any_sessions) as session:
        community = await _community(session, w)
        off = [replace(s, enabled=s.key != "topics") for s in onboarding.plan_of(community)]
        await onboarding.set_plan(session, community=community, steps=off)
        await communities.leave(session, person_id=w.other, community_id=w.community_id)
        await onboarding.stop(session, community_id=w.community_id, person_id=w.other)
    async with any_sessions() as session:
        after = await onboarding.progress(session, community=await _community(session, w))
    assert [(p.person_id, p.checked, p.total) for p in after] == [(w.newcomer, 2, 2)]


async def test_erasure_takes_the_persons_ticks_and_leaves_others(
    any_sessions: SessionFactory,
) -> None:
    w = await world(any_sessions)
    first, second = (await save(any_sessions, w, CONTENT)).checklist
    await tick(any_sessions, w, first.id)
    await tick(any_sessions, w, second.id)
    await tick(any_sessions, w, first.id, who=w.other)
    # The ticks are the person's data: their export lists them, as the items read now.
    async with any_sessions() as session:
        exported = await privacy.export(session, person_id=w.newcomer)
    assert [(c["step"], c["item"]) for c in exported["onboarding"][0]["checklist"]] == [
        ("welcome", "Lire la charte de la communauté"),
        ("welcome", "Se présenter dans le canal"),
    ]
    async with transaction(any_sessions) as session:
        report = await privacy.erase(session, person_id=w.newcomer, now=START)
    assert report.deleted["onboarding_checks"] == 2
    assert await ticks(any_sessions, w.newcomer) == 0
    assert await ticks(any_sessions, w.other) == 1
    async with transaction(any_sessions) as session:
        again = await privacy.erase(session, person_id=w.newcomer, now=START)
    assert "onboarding_checks" not in again.deleted


# -- over HTTP -------------------------------------------------------------------------------


def _inputs(card: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Input."):
                found[node["id"]] = node.get("value")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


def _buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Action."):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


def _button(card: dict[str, Any], title: str) -> dict[str, Any]:
    """The first button with that title (the checklist's first item for « Cocher »)."""
    return next(b for b in _buttons(card) if b.get("title") == title)


def _form_values(card: dict[str, Any], **typed: str) -> dict[str, Any]:
    """What Teams sends when the form's save button is clicked: its data and every input."""
    (save_button,) = [
        b for b in _buttons(card) if b.get("data", {}).get("verb") == "onboarding.content.save"
    ]
    values = {k: v for k, v in _inputs(card).items() if v is not None}
    return {**save_button["data"], **values, **typed}


async def _newcomer_joins(client: Client, connector: FakeConnector, clock: Clock) -> int:
    """MEMBER (already known to the bot) joins and starts the plan at `clock.now`."""
    runtime = client.app[RUNTIME]
    async with transaction(runtime.sessions) as session:
        person = (
            await session.exec(select(Person).where(Person.teams_user_id == MEMBER["id"]))
        ).one()
        community = (await session.exec(select(Community))).one()
        await factories.member(session, person, community)
        await onboarding.start(
            session,
            community=community,
            person_id=person.id or 0,
            source="join_dialog",
            now=clock.now,
        )
    return person.id or 0


async def _content_form(animator: Chat, step_title: str) -> dict[str, Any]:
    await animator.say("plan d'accueil" if animator.locale == "fr-CA" else "onboarding plan")
    plan = animator.last_card()
    edits = [
        b
        for b in _buttons(plan)
        if b.get("data", {}).get("verb") == "onboarding.content.edit"
        and b["data"]["step"] == "welcome"
    ]
    assert [b["title"] for b in edits] == [step_title]
    await animator.click(edits[0]["data"])
    return animator.last_card()


@pytest.mark.parametrize(
    ("locale", "edit", "nothing", "refusal"),
    [
        (
            "fr-CA",
            "Modifier le contenu",
            "Rien n’a été enregistré.",
            "Seuls les liens qui commencent par https://",
        ),
        (
            "en-US",
            "Edit content",
            "Nothing was saved.",
            "Only links starting with https://",
        ),
    ],
)
async def test_a_bad_link_is_refused_in_the_facilitators_language_and_nothing_changes(
    bot_client: Client,
    connector: FakeConnector,
    locale: str,
    edit: str,
    nothing: str,
    refusal: str,
) -> None:
    await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR, locale=locale)
    form = await _content_form(animator, edit)
    await animator.click(
        _form_values(
            form,
            text="Bienvenue parmi nous",
            link_title_0="Guide",
            link_url_0="javascript:alert(1)",
            item_0="Lire la charte",
        )
    )
    again = animator.last_card()
    shown = card_text(again)
    assert nothing in shown
    assert refusal in shown
    # What was typed comes back to be corrected.
    assert _inputs(again)["link_url_0"] == "javascript:alert(1)"
    assert _inputs(again)["item_0"] == "Lire la charte"
    async with bot_client.app[RUNTIME].sessions() as session:
        assert "onboarding_plan" not in (await session.exec(select(Community))).one().settings


async def test_a_member_cannot_edit_the_content(
    bot_client: Client, connector: FakeConnector
) -> None:
    community = await set_up_community(bot_client, connector)
    member = Chat(bot_client, connector, MEMBER)
    await member.say("aide")
    await member.click(
        {"verb": "onboarding.content.edit", "community_id": community.id, "step": "welcome"}
    )
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s")
    await member.click(
        {
            "verb": "onboarding.content.save",
            "community_id": community.id,
            "step": "welcome",
            "text": "Texte d’un membre",
            "item_ids": [],
        }
    )
    assert member.last_text().startswith("Seul·e·s les animateur·rice·s")
    async with bot_client.app[RUNTIME].sessions() as session:
        assert "onboarding_plan" not in (await session.exec(select(Community))).one().settings


@pytest.mark.parametrize(
    ("locale", "welcome", "todo", "tick", "untick", "done"),
    [
        ("fr-CA", "Bienvenue, Samuel\xa0!", "☐ Lire la charte", "Cocher", "Décocher", "(fait)"),
        ("en-US", "Welcome, Samuel!", "☐ Lire la charte", "Tick", "Untick", "(done)"),
    ],
)
async def test_the_newcomer_gets_the_text_links_and_checklist_and_ticks_it(
    bot_client: Client,
    connector: FakeConnector,
    locale: str,
    welcome: str,
    todo: str,
    tick: str,
    untick: str,
    done: str,
) -> None:
    await set_up_community(bot_client, connector)
    animator = Chat(bot_client, connector, ANIMATOR)
    form = await _content_form(animator, "Modifier le contenu")
    await animator.click(
        _form_values(
            form,
            text="Passez nous voir au local 3.12.",
            link_title_0="Guide d’accueil",
            link_url_0="https://www.santemonteregie.qc.ca/accueil",
            item_0="Lire la charte",
            item_1="Se présenter dans le canal",
        )
    )
    assert animator.last_text() == (
        "Contenu du message «\xa0Bienvenue et fiche de la communauté\xa0» enregistré. "
        "Il paraîtra dans les messages pas encore envoyés."
    )

    member = Chat(bot_client, connector, MEMBER, locale=locale)
    await member.say("aide" if locale == "fr-CA" else "help")  # a command sets the language
    clock = Clock()
    newcomer = await _newcomer_joins(bot_client, connector, clock)
    personal = f"a:personal-{MEMBER['id']}"
    await dispatcher(bot_client.app[RUNTIME], clock).dispatch_once()
    step = connector.cards(personal)[-1]
    text = card_text(step)
    assert welcome in text
    assert "Passez nous voir au local 3.12." in text
    assert todo in text
    # The link is a button under the step's own text, before its checklist.
    (content,) = [
        element
        for element in step["body"]
        if element.get("type") == "Container" and "Passez nous voir" in str(element)
    ]
    kinds = [item["type"] for item in content["items"]]
    assert kinds.index("ActionSet") == 1  # right after the text
    assert {
        "type": "Action.OpenUrl",
        "title": "Guide d’accueil",
        "url": "https://www.santemonteregie.qc.ca/accueil",
    } in content["items"][1]["actions"]
    assert "Action.OpenUrl" not in str(step.get("actions", []))

    first = _button(step, tick)
    assert first["data"]["checked"] is True
    await member.click(first["data"])
    await member.click(first["data"])  # a double click
    refreshed = connector.cards(personal)[-1]
    assert f"☑ Lire la charte {done}" in card_text(refreshed)
    assert "☐ Se présenter dans le canal" in card_text(refreshed)
    runtime = bot_client.app[RUNTIME]
    assert await ticks(runtime.sessions, newcomer) == 1

    # The facilitators see the progress, per newcomer.
    await animator.say("plan d'accueil")
    assert "Samuel Gagnon" in card_text(animator.last_card())
    assert "1 sur 2\xa0cochés" in card_text(animator.last_card())

    await member.click(_button(refreshed, untick)["data"])
    assert "☐ Lire la charte" in card_text(connector.cards(personal)[-1])
    assert await ticks(runtime.sessions, newcomer) == 0


async def test_content_edited_later_reaches_the_steps_not_yet_sent(
    bot_client: Client, connector: FakeConnector
) -> None:
    await set_up_community(bot_client, connector)
    member = Chat(bot_client, connector, MEMBER)
    await member.say("aide")
    clock = Clock()
    await _newcomer_joins(bot_client, connector, clock)
    sender = dispatcher(bot_client.app[RUNTIME], clock)
    await sender.dispatch_once()  # the welcome, before any content
    animator = Chat(bot_client, connector, ANIMATOR)
    await animator.say("plan d'accueil")
    plan = animator.last_card()
    (topics,) = [
        b
        for b in _buttons(plan)
        if b.get("data", {}).get("verb") == "onboarding.content.edit"
        and b["data"]["step"] == "topics"
    ]
    await animator.click(topics["data"])
    await animator.click(
        _form_values(animator.last_card(), text="Pensez aux soins de plaie, on en parle souvent.")
    )
    clock.advance(days=14)
    await sender.dispatch_once()
    personal = f"a:personal-{MEMBER['id']}"
    cards = connector.cards(personal)
    assert "Pensez aux soins de plaie" in card_text(cards[-1])
    assert all("Pensez aux soins de plaie" not in card_text(c) for c in cards[:-1])
