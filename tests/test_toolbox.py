"""The toolbox (boîte à outils): who may share, see, mark, pin, edit, retire and merge (on
SQLite and PostgreSQL), refused links and identifier screening, double clicks, forged buttons,
the monthly summary's most useful resources, erasure and export; then the commands, the share
form and the buttons in French and English over a ChatAdapter."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.dialogs import DialogSet
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapter import CarrefourAdapter
from bot.app import REGISTRY
from bot.community_actions import Services
from bot.turns import FeatureTurn
from cards.common import MAX_CARD_BYTES, Element
from cards.toolbox import Viewer, build_toolbox_card
from cards.vitality import useful_section
from dialogs.context import TURN_INFO_KEY, TurnInfo
from storage import privacy, toolbox
from storage.communities import NotAllowed
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.identifiers import HasIdentifiers, IdentifierKind
from storage.models import (
    Community,
    Person,
    Resource,
    ResourceKind,
    ResourceMark,
    ResourceStatus,
    ResourceVisibility,
    Role,
)
from storage.state_store import SqlPrivateConversationState, SqlStorage
from storage.toolbox import InvalidResource, ResourceNotFound
from tests import factories
from tests.conftest import make_settings
from tests.support import ChatAdapter, card_actions, card_content

TZ = "America/Montreal"
T0 = datetime(2026, 10, 6, 14, 0, tzinfo=UTC)
CHANNEL = "19:soins-palliatifs@thread.tacv2"
SETTINGS = make_settings("sqlite+aiosqlite:///unused.db")
REFUSED_URLS = (
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "data:text/html;base64,PHNjcmlwdD4=",
    "file:///C:/Users/marie/outil.docx",
    "ftp://example.org/outil.pdf",
    "mailto:marie@example.org",
    "//example.org/outil",
    "https://",
    "https://user:secret@example.org/outil",
    "https://example.org/un outil",
    "",
)


def _id(row: Person | Community | Resource) -> int:
    assert row.id is not None
    return row.id


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """Sessions on SQLite and on PostgreSQL."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def joined(
    session: AsyncSession, n: int, where: Community, *, facilitator: bool = False
) -> Person:
    who = await factories.person(session, n)
    row = await factories.member(session, who, where)
    if facilitator:
        row.roles = [Role.MEMBER.value, Role.ANIMATOR.value]
        await session.flush()
    return who


async def shared(
    session: AsyncSession,
    where: Community,
    who: Person,
    title: str,
    *,
    url: str = "https://www.inesss.qc.ca/outil.pdf",
    kind: ResourceKind = ResourceKind.CLINICAL_TOOL,
    themes: str = "Plaies",
    visibility: ResourceVisibility = ResourceVisibility.COMMUNITY,
    now: datetime = T0,
) -> Resource:
    resource, created = await toolbox.add_resource(
        session,
        community_id=_id(where),
        person_id=_id(who),
        title=title,
        url=url,
        kind=kind,
        themes=themes,
        why="Simple à remplir au chevet.",
        visibility=visibility,
        request_key=None,
        now=now,
    )
    assert created
    return resource


async def count(sessions: SessionFactory, table: type[Resource] | type[ResourceMark]) -> int:
    async with sessions() as session:
        return len((await session.exec(select(table))).all())


# -- storage rules (SQLite and PostgreSQL) -----------------------------------------------------


async def test_members_share_safe_links_once_and_screened(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        member = await joined(session, 1, where)
        outsider = await factories.person(session, 2)

    async with transaction(sessions) as session:
        resource, created = await toolbox.add_resource(
            session,
            community_id=_id(where),
            person_id=_id(member),
            title="  Échelle de Braden   (risque de plaies) ",
            url=" https://www.inesss.qc.ca/braden.pdf ",
            kind=ResourceKind.CLINICAL_TOOL,
            themes="Plaies, soins à domicile; plaies",
            why=" Rapide au chevet. ",
            visibility=ResourceVisibility.TENANT,
            request_key="form-1",
            now=T0,
        )
    assert created
    assert (resource.title, resource.url, resource.themes, resource.why) == (
        "Échelle de Braden (risque de plaies)",
        "https://www.inesss.qc.ca/braden.pdf",
        ["Plaies", "soins à domicile"],
        "Rapide au chevet.",
    )
    assert (resource.tenant_id, resource.shared_by_id) == (where.tenant_id, _id(member))

    # A double click (the same form key, even at once) finds the first one's row.
    async with transaction(sessions) as session:
        again, created = await toolbox.add_resource(
            session,
            community_id=_id(where),
            person_id=_id(member),
            title="Échelle de Braden",
            url="https://www.inesss.qc.ca/braden.pdf",
            kind=ResourceKind.CLINICAL_TOOL,
            themes="",
            why="",
            visibility=ResourceVisibility.COMMUNITY,
            request_key="form-1",
            now=T0,
        )
    assert (again.id, created) == (resource.id, False)
    assert await count(sessions, Resource) == 1

    def arguments(**changes: Any) -> dict[str, Any]:
        return {
            "community_id": _id(where),
            "person_id": _id(member),
            "title": "Un outil",
            "url": "https://example.org/outil",
            "kind": ResourceKind.GUIDE,
            "themes": "",
            "why": "",
            "visibility": ResourceVisibility.COMMUNITY,
            "request_key": None,
            "now": T0,
            **changes,
        }

    for url in REFUSED_URLS:
        with pytest.raises(InvalidResource) as refused:
            async with transaction(sessions) as session:
                await toolbox.add_resource(session, **arguments(url=url))
        assert set(refused.value.reasons) & {
            toolbox.URL_SCHEME,
            toolbox.URL_INVALID,
            toolbox.URL_MISSING,
        }, url
    with pytest.raises(InvalidResource) as too_many:
        async with transaction(sessions) as session:
            await toolbox.add_resource(
                session, **arguments(title=" ", themes="a, b, c, d, e, f", kind="poster")
            )
    assert too_many.value.reasons == (
        toolbox.TITLE_MISSING,
        toolbox.TOO_MANY_THEMES,
        toolbox.KIND_INVALID,
    )
    with pytest.raises(HasIdentifiers) as spotted:
        async with transaction(sessions) as session:
            await toolbox.add_resource(
                session, **arguments(why="Utile pour Mme T., née le 1948-03-12, tél. 514-555-0199")
            )
    assert {IdentifierKind.BIRTH_DATE, IdentifierKind.PHONE} <= set(spotted.value.kinds)
    with pytest.raises(NotAllowed):
        async with transaction(sessions) as session:
            await toolbox.add_resource(session, **arguments(person_id=_id(outsider)))
    # Someone else's form key does not hand them the row.
    async with transaction(sessions) as session:
        other = await joined(session, 3, where)
    with pytest.raises(NotAllowed):
        async with transaction(sessions) as session:
            await toolbox.add_resource(
                session, **arguments(person_id=_id(other), request_key="form-1")
            )
    assert await count(sessions, Resource) == 1


async def test_the_toolbox_reads_pinned_then_most_useful_with_the_tenants_shared_ones(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        sister = await factories.community(session, name="CdeP Soins de plaies")
        elsewhere = await factories.community(session, name="CdeP d’un autre CISSS")
        elsewhere.tenant_id = "another-tenant"
        member = await joined(session, 1, where)
        facilitator = await joined(session, 2, where, facilitator=True)
        colleague = await joined(session, 3, sister)
        stranger = await joined(session, 4, elsewhere)
        guide = await shared(session, where, member, "Guide de soins", kind=ResourceKind.GUIDE)
        template = await shared(
            session, where, member, "Modèle de note", kind=ResourceKind.TEMPLATE, themes="Écrits"
        )
        pinned = await shared(session, where, member, "Protocole épinglé", themes="Détresse")
        wide = await shared(
            session,
            sister,
            colleague,
            "Outil de la sœur",
            visibility=ResourceVisibility.TENANT,
            themes="plaies",
        )
        await shared(session, sister, colleague, "Réservé à la sœur")
        await shared(
            session, elsewhere, stranger, "Autre organisation", visibility=ResourceVisibility.TENANT
        )
    async with transaction(sessions) as session:
        await toolbox.set_pinned(
            session, resource_id=_id(pinned), by_person_id=_id(facilitator), pinned=True, now=T0
        )
        for who in (member, facilitator):
            await toolbox.mark(
                session, resource_id=_id(template), person_id=_id(who), wanted=True, now=T0
            )
        await toolbox.mark(
            session, resource_id=_id(wide), person_id=_id(member), wanted=True, now=T0
        )
    async with sessions() as session:
        rows = await toolbox.toolbox(session, community_id=_id(where), viewer_id=_id(member))
        by_kind = await toolbox.toolbox(session, community_id=_id(where), kind="guide")
        by_theme = await toolbox.toolbox(session, community_id=_id(where), theme="DETRESSE")
        plaies = await toolbox.toolbox(session, community_id=_id(where), theme="plaies")
    assert [(r.resource.title, r.marks, r.marked, r.here) for r in rows] == [
        ("Protocole épinglé", 0, False, True),
        ("Modèle de note", 2, True, True),
        ("Outil de la sœur", 1, True, False),
        ("Guide de soins", 0, False, True),
    ]
    assert rows[2].community_name == "CdeP Soins de plaies"
    assert toolbox.themes_of(rows) == ["Détresse", "Écrits", "Plaies"]
    assert [r.resource.id for r in by_kind] == [guide.id]
    assert [r.resource.id for r in by_theme] == [pinned.id]
    assert {r.resource.title for r in plaies} == {"Outil de la sœur", "Guide de soins"}

    # A member of another tenant's community sees none of them, and may not mark them.
    with pytest.raises(NotAllowed):
        async with transaction(sessions) as session:
            await toolbox.mark(
                session, resource_id=_id(wide), person_id=_id(stranger), wanted=True, now=T0
            )


async def test_marks_count_once_and_only_facilitators_or_the_sharer_manage(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        sharer = await joined(session, 1, where)
        member = await joined(session, 2, where)
        facilitator = await joined(session, 3, where, facilitator=True)
        resource = await shared(session, where, sharer, "Grille d’évaluation")
        duplicate = await shared(session, where, member, "Grille d’évaluation (copie)")
    rid, dup = _id(resource), _id(duplicate)

    async with transaction(sessions) as session:
        assert await toolbox.mark(
            session, resource_id=rid, person_id=_id(member), wanted=True, now=T0
        )
        assert not await toolbox.mark(
            session, resource_id=rid, person_id=_id(member), wanted=True, now=T0
        )
        for who in (member, facilitator):
            await toolbox.mark(session, resource_id=dup, person_id=_id(who), wanted=True, now=T0)

    # Forged: a member who did not share it may not pin, edit, retire or merge it.
    async def attempt(kind: str, session: AsyncSession) -> object:
        if kind == "pin":
            return await toolbox.set_pinned(
                session, resource_id=rid, by_person_id=_id(member), pinned=True, now=T0
            )
        if kind == "edit":
            return await toolbox.update_resource(
                session,
                resource_id=rid,
                by_person_id=_id(member),
                title="Pris en otage",
                url="https://evil.example/",
                kind=ResourceKind.OTHER,
                themes="",
                why="",
                visibility=ResourceVisibility.COMMUNITY,
                now=T0,
            )
        if kind == "remove":
            return await toolbox.remove(session, resource_id=rid, by_person_id=_id(member), now=T0)
        return await toolbox.merge(
            session, resource_id=rid, into_id=dup, by_person_id=_id(member), now=T0
        )

    for kind in ("pin", "edit", "remove", "merge"):
        async with sessions() as session:
            with pytest.raises(NotAllowed):
                await attempt(kind, session)
    # The sharer may edit (screened like a share) but neither pin nor merge.
    with pytest.raises(NotAllowed):
        async with transaction(sessions) as session:
            await toolbox.set_pinned(
                session, resource_id=rid, by_person_id=_id(sharer), pinned=True, now=T0
            )
    with pytest.raises(InvalidResource):
        async with transaction(sessions) as session:
            await toolbox.update_resource(
                session,
                resource_id=rid,
                by_person_id=_id(sharer),
                title="Grille",
                url="javascript:alert(1)",
                kind=ResourceKind.OTHER,
                themes="",
                why="",
                visibility=ResourceVisibility.COMMUNITY,
                now=T0,
            )
    async with transaction(sessions) as session:
        edited = await toolbox.update_resource(
            session,
            resource_id=rid,
            by_person_id=_id(sharer),
            title="Grille d’évaluation de la douleur",
            url="https://example.org/grille",
            kind=ResourceKind.TEMPLATE,
            themes="Douleur",
            why="",
            visibility=ResourceVisibility.COMMUNITY,
            now=T0,
        )
    assert (edited.title, edited.kind, edited.themes) == (
        "Grille d’évaluation de la douleur",
        ResourceKind.TEMPLATE,
        ["Douleur"],
    )

    # The facilitator merges the duplicate: marks move, the member who marked both counts once.
    async with transaction(sessions) as session:
        target = await toolbox.merge(
            session, resource_id=dup, into_id=rid, by_person_id=_id(facilitator), now=T0
        )
    assert target.id == rid
    async with sessions() as session:
        rows = await toolbox.toolbox(session, community_id=_id(where))
        merged = await session.get(Resource, dup)
    assert [(r.resource.id, r.marks) for r in rows] == [(rid, 2)]
    assert merged is not None
    assert (merged.status, merged.merged_into_id) == (ResourceStatus.MERGED, rid)
    with pytest.raises(ResourceNotFound):  # a second click of the merge
        async with transaction(sessions) as session:
            await toolbox.merge(
                session, resource_id=dup, into_id=rid, by_person_id=_id(facilitator), now=T0
            )

    # The sharer withdraws it; then nobody can mark it any more.
    async with transaction(sessions) as session:
        gone = await toolbox.remove(session, resource_id=rid, by_person_id=_id(sharer), now=T0)
    assert gone.status == ResourceStatus.WITHDRAWN
    with pytest.raises(ResourceNotFound):
        async with transaction(sessions) as session:
            await toolbox.mark(
                session, resource_id=rid, person_id=_id(member), wanted=False, now=T0
            )


async def test_the_months_most_useful_count_that_months_marks(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        people = [await joined(session, n, where) for n in range(1, 5)]
        a = await shared(session, where, people[0], "Outil A")
        b = await shared(session, where, people[0], "Outil B")
        c = await shared(session, where, people[0], "Outil C")
        d = await shared(session, where, people[0], "Outil D")
        september = datetime(2026, 9, 15, 14, 0, tzinfo=UTC)
        for resource, voters, when in (
            (a, people[:1], T0),
            (b, people[:3], T0),
            (c, people[:2], T0),
            (d, people, september),  # last month's marks do not count in October
        ):
            for who in voters:
                await toolbox.mark(
                    session, resource_id=_id(resource), person_id=_id(who), wanted=True, now=when
                )
    start = datetime(2026, 10, 1, 4, 0, tzinfo=UTC)
    async with sessions() as session:
        top = await toolbox.most_useful(
            session, community_id=_id(where), start=start, end=start + timedelta(days=31)
        )
    assert [(u.title, u.marks) for u in top] == [("Outil B", 3), ("Outil C", 2), ("Outil A", 1)]
    # The monthly summary card shows them as links (bot/vitality_flow.py passes them).
    text = json.dumps(useful_section(top, locale="fr-CA"), ensure_ascii=False)
    assert "Outils les plus utiles du mois" in text
    assert "1. [Outil B](https://www.inesss.qc.ca/outil.pdf) — 3\xa0marques «\xa0utile\xa0»" in text
    assert "Outil D" not in text


async def test_erasure_keeps_shared_resources_without_author_and_export_lists_them(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    async with transaction(sessions) as session:
        where = await factories.community(session)
        subject = await joined(session, 1, where)
        other = await joined(session, 2, where)
        mine = await shared(session, where, subject, "Mon outil")
        theirs = await shared(session, where, other, "Leur outil")
        for resource in (mine, theirs):
            await toolbox.mark(
                session, resource_id=_id(resource), person_id=_id(subject), wanted=True, now=T0
            )
        await toolbox.mark(
            session, resource_id=_id(mine), person_id=_id(other), wanted=True, now=T0
        )
    async with sessions() as session:
        data = await privacy.export(session, person_id=_id(subject))
        kept = await privacy.inventory(session, person_id=_id(subject))
    assert [r["title"] for r in data["resources_shared"]] == ["Mon outil"]
    assert data["resources_shared"][0]["url"] == "https://www.inesss.qc.ca/outil.pdf"
    assert data["resource_marks"] == 2
    assert kept is not None
    assert (kept.resources_shared, kept.resource_marks) == (1, 2)

    async with transaction(sessions) as session:
        report = await privacy.erase(session, person_id=_id(subject), now=T0)
    assert report.deleted["resource_marks"] == 2
    assert report.anonymised["resources_shared"] == 1
    async with sessions() as session:
        rows = await toolbox.toolbox(session, community_id=_id(where))
    assert [(r.resource.title, r.marks, r.sharer) for r in rows] == [
        ("Mon outil", 1, None),
        ("Leur outil", 0, rows[1].sharer),
    ]
    assert rows[0].resource.shared_by_id is None
    async with transaction(sessions) as session:
        second = await privacy.erase(session, person_id=_id(subject), now=T0)
    assert "resource_marks" not in second.deleted
    assert "resources_shared" not in second.anonymised


# -- the bot, over a ChatAdapter -----------------------------------------------------------------


@dataclass
class Bot:
    """Routes as bot/handler.py does: a button to its feature (to the waiting dialog when its
    verb does not act in dialogs), an active dialog, then the commands."""

    sessions: SessionFactory
    adapter: ChatAdapter = field(init=False)
    dialogs: DialogSet = field(init=False)
    services: Services = field(init=False)
    _state: SqlPrivateConversationState = field(init=False)
    _turn: tuple[TurnInfo, dict[str, Any] | None] | None = None

    def __post_init__(self) -> None:
        self.adapter = ChatAdapter(self._logic)
        self._state = SqlPrivateConversationState(SqlStorage(self.sessions))
        self.dialogs = DialogSet(self._state.create_property("DialogState"))
        self.services = Services(
            settings=SETTINGS,
            sessions=self.sessions,
            adapter=cast(CarrefourAdapter, self.adapter),
            dialogs=self.dialogs,
            wake=lambda: None,
            save_state=self._state.save_changes,
            help_entries=REGISTRY.help_entries,
        )
        for build in REGISTRY.dialogs:
            self.dialogs.add(build(self.services))

    async def _logic(self, turn_context: TurnContext) -> None:
        assert self._turn is not None
        info, channel_data = self._turn
        turn_context.turn_state[TURN_INFO_KEY] = info
        turn_context.activity.channel_data = channel_data
        turn = FeatureTurn(
            context=turn_context,
            sessions=self.sessions,
            info=info,
            clock=lambda: T0,
            services=self.services,
        )
        value = turn_context.activity.value
        dialog_context = await self.dialogs.create_context(turn_context)
        waiting = dialog_context.active_dialog is not None
        if isinstance(value, dict) and not (
            waiting and not REGISTRY.acts_in_dialog(str(value.get("verb")))
        ):
            assert await REGISTRY.press(turn, value)
        elif waiting:
            await dialog_context.continue_dialog()  # type: ignore[no-untyped-call]
        else:
            parsed = REGISTRY.vocabulary.parse(turn_context.activity.text)
            handler = REGISTRY.command(parsed.command)
            assert handler is not None, parsed
            await handler(turn, parsed)
        await self._state.save_changes(turn_context)

    async def send(
        self,
        who: Person,
        text: str | None = None,
        *,
        value: dict[str, Any] | None = None,
        locale: str = "fr-CA",
        channel: str | None = None,
        reply_to_id: str | None = None,
    ) -> list[Activity]:
        info = TurnInfo(
            person_id=who.id, locale=locale, timezone=TZ, in_channel=channel is not None
        )
        self._turn = (info, {"channel": {"id": channel}} if channel else None)
        self.adapter.template.from_property = ChannelAccount(id=who.teams_user_id)
        self.adapter.template.conversation = ConversationAccount(
            id=f"{channel};messageid=1" if channel else f"a:personal-{who.id}",
            conversation_type="channel" if channel else "personal",
        )
        activity = Activity(type=ActivityTypes.message, text=text, value=value, locale=locale)
        if reply_to_id is not None:
            activity.reply_to_id = reply_to_id
        await self.adapter.receive_activity(activity)
        replies = list(self.adapter.activity_buffer)
        self.adapter.activity_buffer.clear()
        return replies

    def updated(self) -> list[Activity]:
        done = list(self.adapter.updated_activities)
        self.adapter.updated_activities.clear()
        return done


def card_of(activity: Activity) -> Element:
    (attachment,) = activity.attachments
    return card_content(attachment)


def read(activity: Activity) -> str:
    """What a person reads: the text, or a card's texts and button titles, one per line."""
    if activity.text:
        return str(activity.text)
    lines: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in ("text", "title", "label", "value"):
                if isinstance(node.get(key), str):
                    lines.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for attachment in activity.attachments or []:
        walk(card_content(attachment))
    return "\n".join(lines)


def submitted(form: Element, **values: Any) -> dict[str, Any]:
    """What Teams sends when the form's first button is pressed with these field values."""
    data = dict(card_actions(form)[0]["data"])
    return {**data, **values}


VALID = {
    "title": "Échelle de Braden",
    "url": "https://www.inesss.qc.ca/braden.pdf",
    "kind": "clinical_tool",
    "themes": "Plaies",
    "why": "Rapide au chevet.",
    "visibility": "community",
}


async def _world(sessions: SessionFactory) -> tuple[Community, Person, Person, Person]:
    async with transaction(sessions) as session:
        where = await factories.community(session)
        where.teams_channel_id = CHANNEL
        member = await joined(session, 1, where)
        facilitator = await joined(session, 2, where, facilitator=True)
        english = await joined(session, 3, where)
    return where, member, facilitator, english


async def test_sharing_in_french_refuses_unsafe_links_and_identifiers_and_one_double_click(
    sessions: SessionFactory,
) -> None:
    bot = Bot(sessions)
    _where, member, _facilitator, _english = await _world(sessions)

    (form,) = await bot.send(member, "partager un outil")
    card = card_of(form)
    assert card["body"][0]["text"] == "Partager un outil avec CdeP Soins palliatifs"
    assert "Thèmes déjà utilisés\xa0: " not in json.dumps(card, ensure_ascii=False)

    (again,) = await bot.send(
        member, value=submitted(card, **{**VALID, "url": "javascript:alert(1)"})
    )
    text = read(again)
    assert "Seuls les liens web (http:// ou https://) sont acceptés" in text
    assert "javascript:alert(1)" in text  # the value is kept in the form to be fixed
    assert await count(sessions, Resource) == 0

    (again,) = await bot.send(
        member, value=submitted(card_of(again), **{**VALID, "why": "Pour M. X, né le 1948-03-12"})
    )
    assert "Votre texte semble contenir une date de naissance" in read(again)
    assert "1948-03-12" in read(again)  # only in the form being fixed, never stored
    assert await count(sessions, Resource) == 0

    final = submitted(card_of(again), **VALID)
    (thanks,) = await bot.send(member, value=final)
    assert (
        "Merci\xa0! «\xa0Échelle de Braden\xa0» est maintenant dans la boîte à outils "
        "de CdeP Soins palliatifs."
    ) in read(thanks)
    open_button = card_actions(card_of(thanks))[0]
    assert open_button == {
        "type": "Action.OpenUrl",
        "title": "Ouvrir",
        "url": "https://www.inesss.qc.ca/braden.pdf",
    }
    # The double click: the dialog has ended, the feature's verb finds the same form key.
    (twice,) = await bot.send(member, value=final)
    assert read(twice) == (
        "«\xa0Échelle de Braden\xa0» est déjà dans la boîte à outils\xa0: "
        "rien n’a été ajouté en double."
    )
    assert await count(sessions, Resource) == 1

    # « annuler » in the middle saves nothing.
    (form,) = await bot.send(member, "boîte à outils")
    assert "Boîte à outils — CdeP Soins palliatifs" in read(form)
    await bot.send(member, "partager un outil")
    (cancelled,) = await bot.send(member, "annuler")
    assert await count(sessions, Resource) == 1
    assert read(cancelled)


async def test_sharing_in_english_and_from_the_channel(sessions: SessionFactory) -> None:
    bot = Bot(sessions)
    _where, _member, _facilitator, english = await _world(sessions)
    async with transaction(sessions) as session:
        outsider = await factories.person(session, 9)

    (form,) = await bot.send(english, "share a resource", locale="en-US")
    card = card_of(form)
    assert card["body"][0]["text"] == "Share a resource with CdeP Soins palliatifs"
    (refused,) = await bot.send(
        english, value=submitted(card, **{**VALID, "url": "file:///C:/outil.docx"}), locale="en-US"
    )
    assert "Only web links (http:// or https://) are accepted" in read(refused)
    (thanks,) = await bot.send(english, value=submitted(card_of(refused), **VALID), locale="en-US")
    assert 'Thank you! "Échelle de Braden" is now in the toolbox of' in read(thanks)

    # Someone who is not a member is told so in the channel; nothing opens privately.
    (told,) = await bot.send(outsider, "share a resource", channel=CHANNEL, locale="en-US")
    assert read(told).startswith("Only members of this community can share a resource there.")

    (box,) = await bot.send(english, "toolbox", locale="en-US")
    text = read(box)
    assert "Toolbox — CdeP Soins palliatifs" in text
    assert "Shared by Personne 3" in text
    assert "Useful to me" in text
    assert await count(sessions, Resource) == 1


async def test_browsing_marking_and_forged_buttons(sessions: SessionFactory) -> None:
    bot = Bot(sessions)
    where, member, facilitator, english = await _world(sessions)
    async with transaction(sessions) as session:
        braden = await shared(session, where, english, "Échelle de Braden", themes="Plaies")
        copy = await shared(session, where, english, "Braden (copie)", themes="plaies")
        guide = await shared(
            session, where, english, "Guide PAB", kind=ResourceKind.GUIDE, themes="Détresse"
        )

    (box,) = await bot.send(member, "outils")
    card = card_of(box)
    links = [a for a in card_actions(card) if a["type"] == "Action.OpenUrl"]
    assert [a["url"] for a in links] == ["https://www.inesss.qc.ca/outil.pdf"] * 3
    titles = [a["title"] for a in card_actions(card)]
    # A member who shared nothing and does not facilitate has no management buttons.
    assert not {"Épingler", "Modifier", "Retirer"} & set(titles)

    mark = {"verb": "toolbox.mark", "resource_id": _id(guide), "useful": True}
    assert await bot.send(member, value=mark, reply_to_id="card-1") == []
    (updated,) = bot.updated()
    text = read(Activity(type="message", attachments=updated.attachments))
    assert "1\xa0personne l’a trouvé utile" in text
    assert "Retirer «\xa0utile\xa0»" in text
    (already,) = await bot.send(member, value=mark, reply_to_id="card-1")
    assert already.text == "Vous l’aviez déjà marqué comme utile."
    bot.updated()

    # Filter by theme, accents and case aside: the card it was on shows the result.
    await bot.send(
        member,
        value={
            "verb": "toolbox.show",
            "community_id": _id(where),
            "filter_theme": "PLAIES",
            "filter_kind": "",
        },
        reply_to_id="card-1",
    )
    (filtered,) = bot.updated()
    text = json.dumps(card_content(filtered.attachments[0]), ensure_ascii=False)
    assert "Échelle de Braden" in text
    assert "Braden (copie)" in text
    assert "Guide PAB" not in text

    # « Tous » in both lists (a value of its own: a compact list shows "" as an empty box).
    lists = [
        item
        for column in card_content(box.attachments[0])["body"][2]["items"][0]["columns"]
        for item in column["items"]
    ]
    assert [(s["value"], s["choices"][0]) for s in lists] == [
        ("*", {"title": "Tous", "value": "*"})
    ] * 2
    await bot.send(
        member,
        value={
            "verb": "toolbox.show",
            "community_id": _id(where),
            "filter_theme": "*",
            "filter_kind": "*",
        },
        reply_to_id="card-1",
    )
    (everything,) = bot.updated()
    text = json.dumps(card_content(everything.attachments[0]), ensure_ascii=False)
    assert all(title in text for title in ("Échelle de Braden", "Braden (copie)", "Guide PAB"))

    # Forged buttons from a member: refused, nothing changes.
    refusal = "Seules l’animation de la communauté et la personne qui a partagé cet outil"
    for value in (
        {"verb": "toolbox.pin", "resource_id": _id(braden), "pinned": True},
        {"verb": "toolbox.edit", "resource_id": _id(braden)},
        {"verb": "toolbox.update", "resource_id": _id(braden), **VALID, "title": "Piraté"},
        {"verb": "toolbox.remove", "resource_id": _id(braden), "confirmed": True},
        {"verb": "toolbox.merge", "resource_id": _id(copy), "confirmed": True, "into": "1"},
        {"verb": "toolbox.merge", "resource_id": _id(copy)},
    ):
        (reply,) = await bot.send(member, value=value)
        assert read(reply).startswith(refusal), value
    async with sessions() as session:
        rows = await toolbox.toolbox(session, community_id=_id(where))
    assert {(r.resource.title, r.resource.pinned, r.resource.status) for r in rows} == {
        ("Échelle de Braden", False, ResourceStatus.ACTIVE),
        ("Braden (copie)", False, ResourceStatus.ACTIVE),
        ("Guide PAB", False, ResourceStatus.ACTIVE),
    }
    (stale,) = await bot.send(member, value={"verb": "toolbox.mark", "resource_id": 999})
    assert stale.text == "Cet outil n’est plus dans la boîte à outils."

    # The facilitator sees the management buttons in their personal chat, pins and merges.
    (box,) = await bot.send(facilitator, "outils")
    titles = [a["title"] for a in card_actions(card_of(box))]
    assert (titles.count("Épingler"), titles.count("Fusionner…")) == (3, 3)
    # In the channel everyone reads the card: no management buttons, even for them.
    (in_channel,) = await bot.send(facilitator, "outils", channel=CHANNEL)
    assert "Épingler" not in [a["title"] for a in card_actions(card_of(in_channel))]

    await bot.send(
        facilitator,
        value={"verb": "toolbox.pin", "resource_id": _id(guide), "pinned": True},
        reply_to_id="card-2",
    )
    (pinned,) = bot.updated()
    first = card_content(pinned.attachments[0])["body"][3]["items"]
    assert first[0]["text"] == "Guide PAB"
    assert first[1]["text"].startswith("📌 Épinglé")

    (choice,) = await bot.send(
        facilitator, value={"verb": "toolbox.merge", "resource_id": _id(copy)}
    )
    merge_card = card_of(choice)
    choices = merge_card["body"][2]["choices"]
    assert {c["title"] for c in choices} == {"Échelle de Braden", "Guide PAB"}
    confirm = card_actions(merge_card)[0]["data"]
    (done,) = await bot.send(facilitator, value={**confirm, "into": str(_id(braden))})
    assert "Fusionné" in read(done)
    async with sessions() as session:
        left = await toolbox.toolbox(session, community_id=_id(where))
    assert [r.resource.title for r in left] == ["Guide PAB", "Échelle de Braden"]

    # The sharer withdraws theirs after a confirmation.
    (ask,) = await bot.send(
        english, value={"verb": "toolbox.remove", "resource_id": _id(braden)}, locale="en-US"
    )
    assert 'Take "Échelle de Braden" out of the toolbox?' in read(ask)
    confirm = card_actions(card_of(ask))[0]["data"]
    (removed,) = await bot.send(english, value=confirm, locale="en-US")
    assert '"Échelle de Braden" was taken out of the toolbox.' in read(removed)
    async with sessions() as session:
        gone = await session.get(Resource, _id(braden))
    assert gone is not None
    assert gone.status == ResourceStatus.WITHDRAWN


async def test_the_sharer_edits_through_the_form_and_identifiers_are_refused(
    sessions: SessionFactory,
) -> None:
    bot = Bot(sessions)
    where, member, _facilitator, _english = await _world(sessions)
    async with transaction(sessions) as session:
        resource = await shared(session, where, member, "Échelle de Braden")

    (form,) = await bot.send(member, value={"verb": "toolbox.edit", "resource_id": _id(resource)})
    card = card_of(form)
    assert card["body"][0]["text"] == "Modifier un outil de CdeP Soins palliatifs"
    inputs = {i["id"]: i.get("value") for i in card["body"] if i["type"].startswith("Input.")}
    assert (inputs["title"], inputs["themes"]) == ("Échelle de Braden", "Plaies")

    await bot.send(
        member,
        value=submitted(card, **{**VALID, "why": "Courriel : marie.tremblay@example.org"}),
        reply_to_id="form-1",
    )
    (again,) = bot.updated()
    assert "une adresse courriel" in json.dumps(
        card_content(again.attachments[0]), ensure_ascii=False
    )
    await bot.send(
        member,
        value=submitted(card, **{**VALID, "title": "Braden, version 2023"}),
        reply_to_id="form-1",
    )
    (saved,) = bot.updated()
    assert "«\xa0Braden, version 2023\xa0» est à jour" in json.dumps(
        card_content(saved.attachments[0]), ensure_ascii=False
    )
    async with sessions() as session:
        row = await session.get(Resource, _id(resource))
    assert row is not None
    assert (row.title, row.why) == ("Braden, version 2023", "Rapide au chevet.")


def test_a_full_toolbox_card_stays_under_the_teams_limit() -> None:
    community = Community(id=1, name="CdeP Soins palliatifs", domain="")
    rows = [
        toolbox.ResourceRow(
            resource=Resource(
                id=n,
                community_id=1,
                title="Un titre assez long pour un outil clinique " * 4,
                url="https://example.org/" + "x" * 300,
                kind=ResourceKind.GUIDE,
                themes=["Plaies", "Détresse"],
                why="Pourquoi " * 50,
            ),
            marks=n,
            sharer=None,
            community_name="CdeP Soins palliatifs",
            here=True,
        )
        for n in range(1, 40)
    ]
    card = build_toolbox_card(
        rows, community=community, themes=["Plaies"], viewer=Viewer(1, True), locale="fr-CA"
    )
    assert len(json.dumps(card).encode()) < MAX_CARD_BYTES
    assert "ne sont pas affichés ici" in json.dumps(card, ensure_ascii=False)
