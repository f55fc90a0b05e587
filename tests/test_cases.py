"""Complex-case discussions: the rules (on SQLite and PostgreSQL), the submission dialog in
French and English with its identifier screening, the facilitators' and presenter's buttons as
the host routes them (forged ones refused), the agenda card with and without the presenter's
name, the privacy of takeaways, the monthly counts, erasure and export."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from microsoft_agents.hosting.core import TurnContext
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cases_flow import render_submitted, render_update
from bot.deliveries import render_meeting_reminder
from cards.agenda import build_agenda_card
from cards.vitality import build_vitality_card
from dialogs.context import TurnInfo
from dialogs.submit_case_dialog import SubmitCaseDialog, SubmitCaseOptions, SubmittedCase
from storage import cases, privacy
from storage.cases import CaseClosed, Draft, MeetingNotOpen, TooEarly
from storage.communities import NotAllowed
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.identifiers import HasIdentifiers
from storage.meetings import KIND_REMINDER as KIND_MEETING_REMINDER
from storage.models import (
    AgendaItem,
    CaseDiscussion,
    CaseStatus,
    CaseTakeaway,
    CaseTheme,
    Community,
    Meeting,
    OutboxMessage,
    Person,
    Role,
    Topic,
    Volet,
)
from storage.vitality import vitality_summary
from tests import factories
from tests.conftest import make_settings
from tests.support import (
    ChatAdapter,
    DialogChat,
    card_actions,
    card_content,
    press,
    queued,
    render_context,
    said,
)

TZ = "America/Montreal"
NOW = datetime(2026, 10, 1, 13, 0, tzinfo=UTC)
MEETING_AT = datetime(2026, 10, 20, 13, 0, tzinfo=UTC)
AFTER = MEETING_AT + timedelta(hours=8)
SETTINGS = make_settings("sqlite+aiosqlite:///unused.db")
PHONE = "Sa fille m’a laissé son numéro, 514 555-1234, pour la joindre."
CLEAN = "Une dame âgée vit seule et refuse l’aide à domicile depuis deux mois."
NAMED = "Mme Tremblay vit seule et refuse l’aide à domicile depuis deux mois."


def _id(row: Person | Community | Meeting | CaseDiscussion) -> int:
    assert row.id is not None
    return row.id


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """Sessions on SQLite and on PostgreSQL."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def joined(
    session: AsyncSession,
    n: int,
    where: Community,
    *,
    animator: bool = False,
    locale: str = "fr-CA",
) -> Person:
    who = await factories.person(session, n, locale=locale)
    row = await factories.member(session, who, where)
    if animator:
        row.roles = [Role.MEMBER.value, Role.ANIMATOR.value]
        await session.flush()
    return who


def draft(**changes: Any) -> Draft:
    values: dict[str, Any] = {
        "title": "Refus des services à domicile",
        "context": CLEAN,
        "complexity": "Elle est apte, mais sa sécurité inquiète l’équipe et ses proches.",
        "question": "Comment respecter son choix tout en gardant le lien ?",
        "tried": "",
        "name_shown": False,
        **changes,
    }
    return Draft(**values)


@dataclass
class World:
    community: Community
    other: Community
    presenter: Person
    facilitator: Person
    member: Person
    outsider_facilitator: Person
    meeting: Meeting
    other_meeting: Meeting


async def world(sessions: SessionFactory) -> World:
    async with transaction(sessions) as session:
        community = await factories.community(session)
        other = await factories.community(session, name="CdeP Organisation communautaire")
        presenter = await joined(session, 1, community)
        facilitator = await joined(session, 2, community, animator=True)
        member = await joined(session, 3, community)
        outsider = await joined(session, 4, other, animator=True)
        meeting = await factories.meeting(session, community, starts_at=MEETING_AT)
        session.add(
            AgendaItem(
                meeting_id=_id(meeting),
                position=0,
                starts_at=MEETING_AT + timedelta(hours=3),
                title="Discussion de cas complexe",
                volet=Volet.REFLECTIVE,
            )
        )
        other_meeting = await factories.meeting(session, other, starts_at=MEETING_AT)
    return World(community, other, presenter, facilitator, member, outsider, meeting, other_meeting)


async def submitted(
    sessions: SessionFactory, w: World, key: str = "k1", **changes: Any
) -> CaseDiscussion:
    async with transaction(sessions) as session:
        case, created = await cases.submit(
            session,
            community_id=_id(w.community),
            presenter_id=_id(w.presenter),
            draft=draft(**changes),
            request_key=key,
            now=NOW,
        )
    assert created
    return case


# -- storage rules -----------------------------------------------------------------------------


async def test_submitting_checks_membership_texts_and_identifiers(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    w = await world(sessions)
    refused: list[tuple[int, dict[str, Any], type[Exception]]] = [
        (_id(w.outsider_facilitator), {}, NotAllowed),
        (_id(w.presenter), {"title": "  "}, ValueError),
        (_id(w.presenter), {"title": "x" * 121}, ValueError),
        (_id(w.presenter), {"context": "trop court"[:5]}, ValueError),
        (_id(w.presenter), {"question": "x" * 2001}, ValueError),
        # Spotted and not confirmed: refused, whatever the dialog let through.
        (_id(w.presenter), {"context": PHONE}, HasIdentifiers),
        (_id(w.presenter), {"context": PHONE, "screening": {"context": ["email"]}}, HasIdentifiers),
        # Only a name may be confirmed: a phone number « confirmed » is refused all the same.
        (_id(w.presenter), {"context": PHONE, "screening": {"context": ["phone"]}}, HasIdentifiers),
        (_id(w.presenter), {"context": NAMED}, HasIdentifiers),
    ]
    for person_id, changes, error in refused:
        with pytest.raises(error):
            async with transaction(sessions) as session:
                await cases.submit(
                    session,
                    community_id=_id(w.community),
                    presenter_id=person_id,
                    draft=draft(**changes),
                    request_key=f"refused-{len(changes)}-{error.__name__}",
                    now=NOW,
                )
    async with sessions() as session:
        assert (await session.exec(select(CaseDiscussion))).all() == []

    # Confirmed by the presenter: saved, and the confirmation recorded.
    case = await submitted(sessions, w, context=NAMED, screening={"context": ["name"]})
    assert (case.status, case.presenter_id, case.screening) == (
        CaseStatus.SUBMITTED,
        w.presenter.id,
        {"context": ["name"]},
    )
    # The same confirmation again (a double click, a replayed turn) finds the first case.
    async with transaction(sessions) as session:
        again, created = await cases.submit(
            session,
            community_id=_id(w.community),
            presenter_id=_id(w.presenter),
            draft=draft(context=NAMED, screening={"context": ["name"]}),
            request_key="k1",
            now=NOW,
        )
    assert (again.id, created) == (case.id, False)
    async with sessions() as session:
        assert len((await session.exec(select(CaseDiscussion))).all()) == 1


async def test_forged_actions_change_nothing(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    w = await world(sessions)
    case = await submitted(sessions, w)
    forged: list[Callable[[AsyncSession], Awaitable[object]]] = [
        # A member picking a case; a facilitator of another community picking, sending back.
        lambda s: cases.schedule(
            s, case_id=_id(case), meeting_id=_id(w.meeting), by_person_id=_id(w.member), now=NOW
        ),
        lambda s: cases.schedule(
            s,
            case_id=_id(case),
            meeting_id=_id(w.meeting),
            by_person_id=_id(w.outsider_facilitator),
            now=NOW,
        ),
        lambda s: cases.send_back(
            s,
            case_id=_id(case),
            status=CaseStatus.DECLINED,
            message="Non.",
            by_person_id=_id(w.outsider_facilitator),
            now=NOW,
        ),
        # Someone withdrawing another's case, or writing a takeaway on it.
        lambda s: cases.withdraw(s, case_id=_id(case), person_id=_id(w.facilitator), now=NOW),
        lambda s: cases.record_takeaway(
            s, case_id=_id(case), person_id=_id(w.member), text="Noté", now=AFTER
        ),
    ]
    for action in forged:
        with pytest.raises(NotAllowed):
            async with transaction(sessions) as session:
                await action(session)
    # The right facilitator, but a meeting of another community (a made-up id too).
    for meeting_id in (_id(w.other_meeting), 999_999):
        with pytest.raises(MeetingNotOpen):
            async with transaction(sessions) as session:
                await cases.schedule(
                    session,
                    case_id=_id(case),
                    meeting_id=meeting_id,
                    by_person_id=_id(w.facilitator),
                    now=NOW,
                )
    async with sessions() as session:
        row = await session.get(CaseDiscussion, _id(case))
        assert row is not None
        assert (row.status, row.meeting_id, row.decided_by_id) == (
            CaseStatus.SUBMITTED,
            None,
            None,
        )
        assert (await session.exec(select(CaseTakeaway))).all() == []


async def test_a_picked_case_is_on_the_agenda_until_withdrawn(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    w = await world(sessions)
    case = await submitted(sessions, w)
    async with transaction(sessions) as session:
        done = await cases.schedule(
            session,
            case_id=_id(case),
            meeting_id=_id(w.meeting),
            by_person_id=_id(w.facilitator),
            now=NOW,
        )
        again = await cases.schedule(
            session,
            case_id=_id(case),
            meeting_id=_id(w.meeting),
            by_person_id=_id(w.facilitator),
            now=NOW,
        )
        assert await cases.tell_presenter(session, done.case)
        # Told once per decision, however often it is asked.
        assert not await cases.tell_presenter(session, done.case)
    assert (done.changed, done.meetings, again.changed) == (True, (_id(w.meeting),), False)
    async with sessions() as session:
        shown = await cases.agenda_cases(session, meeting_id=_id(w.meeting))
    assert [(c.title, c.presenter) for c in shown] == [("Refus des services à domicile", None)]

    async with transaction(sessions) as session:
        withdrawn = await cases.withdraw(
            session, case_id=_id(case), person_id=_id(w.presenter), now=NOW
        )
        twice = await cases.withdraw(
            session, case_id=_id(case), person_id=_id(w.presenter), now=NOW
        )
    assert (withdrawn.changed, withdrawn.meetings, twice.changed) == (
        True,
        (_id(w.meeting),),
        False,
    )
    async with sessions() as session:
        assert await cases.agenda_cases(session, meeting_id=_id(w.meeting)) == []
        assert (
            await cases.facilitators_list(
                session, community_id=_id(w.community), viewer_id=_id(w.facilitator)
            )
            == []
        )
    # Withdrawn is final for the facilitators.
    with pytest.raises(CaseClosed):
        async with transaction(sessions) as session:
            await cases.schedule(
                session,
                case_id=_id(case),
                meeting_id=_id(w.meeting),
                by_person_id=_id(w.facilitator),
                now=NOW,
            )


async def test_themes_feed_the_topic_bank_and_the_monthly_summary(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    w = await world(sessions)
    case = await submitted(sessions, w)
    async with transaction(sessions) as session:
        session.add(
            Topic(community_id=_id(w.community), title="Proches aidants", kind=Volet.EXCHANGE)
        )
        await cases.schedule(
            session,
            case_id=_id(case),
            meeting_id=_id(w.meeting),
            by_person_id=_id(w.facilitator),
            now=NOW,
        )
    with pytest.raises(TooEarly):
        async with transaction(sessions) as session:
            await cases.record_themes(
                session,
                case_id=_id(case),
                themes=["Refus de soins"],
                by_person_id=_id(w.facilitator),
                now=NOW,
            )
    with pytest.raises(HasIdentifiers):
        async with transaction(sessions) as session:
            await cases.record_themes(
                session,
                case_id=_id(case),
                themes=["Appeler au 514 555-1234"],
                by_person_id=_id(w.facilitator),
                now=AFTER,
            )
    themes = cases.parse_themes("Refus de soins, proches aidants; Aptitude ; refus de soins")
    assert themes == ["Refus de soins", "proches aidants", "Aptitude"]
    async with transaction(sessions) as session:
        done = await cases.record_themes(
            session, case_id=_id(case), themes=themes, by_person_id=_id(w.facilitator), now=AFTER
        )
        again = await cases.record_themes(
            session, case_id=_id(case), themes=themes, by_person_id=_id(w.facilitator), now=AFTER
        )
    assert (done.changed, done.case.status, again.changed) == (True, CaseStatus.DISCUSSED, False)
    async with sessions() as session:
        bank = sorted(t.title for t in (await session.exec(select(Topic))).all())
        summary = await vitality_summary(
            session,
            community_id=_id(w.community),
            month=MEETING_AT.date().replace(day=1),
            tz=TZ,
            now=AFTER + timedelta(days=30),
            with_history=False,
        )
    # « proches aidants » was in the bank already: not twice.
    assert bank == ["Aptitude", "Proches aidants", "Refus de soins"]
    assert summary.cases_discussed == 1
    assert sorted(summary.case_themes) == [
        ("Aptitude", 1),
        ("Refus de soins", 1),
        ("proches aidants", 1),
    ]
    for locale, label in (("fr-CA", "Cas discutés"), ("en-US", "Cases discussed")):
        card = build_vitality_card(summary, community_name="CdeP", locale=locale, tz=TZ)
        text = json.dumps(card, ensure_ascii=False)
        assert label in text
        assert "Refus de soins (1)" in text


async def test_the_takeaway_is_the_presenters_alone(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    w = await world(sessions)
    case = await submitted(sessions, w)
    async with transaction(sessions) as session:
        await cases.schedule(
            session,
            case_id=_id(case),
            meeting_id=_id(w.meeting),
            by_person_id=_id(w.facilitator),
            now=NOW,
        )
        assert await cases.record_takeaway(
            session,
            case_id=_id(case),
            person_id=_id(w.presenter),
            text="Essayer le PII.",
            now=AFTER,
        )
        assert not await cases.record_takeaway(
            session,
            case_id=_id(case),
            person_id=_id(w.presenter),
            text="Essayer le PII.",
            now=AFTER,
        )
    async with sessions() as session:
        assert (
            await cases.takeaway_of(session, case_id=_id(case), person_id=_id(w.facilitator))
            is None
        )
        assert (
            await cases.takeaway_of(session, case_id=_id(case), person_id=_id(w.presenter))
            == "Essayer le PII."
        )
        theirs = await privacy.export(session, person_id=_id(w.facilitator))
        mine = await privacy.export(session, person_id=_id(w.presenter))
        listed = await cases.facilitators_list(
            session, community_id=_id(w.community), viewer_id=_id(w.facilitator)
        )
    assert "Essayer le PII." not in json.dumps(theirs, ensure_ascii=False)
    assert "Essayer le PII." not in repr(listed)
    (exported,) = mine["cases_submitted"]
    assert (exported["title"], exported["takeaway"], exported["status"]) == (
        "Refus des services à domicile",
        "Essayer le PII.",
        "scheduled",
    )


async def test_erasure_deletes_open_cases_and_keeps_discussed_ones_without_author(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    w = await world(sessions)
    discussed = await submitted(sessions, w, key="a")
    waiting = await submitted(sessions, w, key="b", title="Un autre cas")
    async with transaction(sessions) as session:
        await cases.schedule(
            session,
            case_id=_id(discussed),
            meeting_id=_id(w.meeting),
            by_person_id=_id(w.facilitator),
            now=NOW,
        )
        await cases.record_takeaway(
            session, case_id=_id(discussed), person_id=_id(w.presenter), text="Ma note", now=AFTER
        )
        await cases.record_themes(
            session,
            case_id=_id(discussed),
            themes=["Autonomie"],
            by_person_id=_id(w.facilitator),
            now=AFTER,
        )
    async with transaction(sessions) as session:
        report = await privacy.erase(session, person_id=_id(w.presenter), now=AFTER)
    assert report.deleted.get("cases_deleted") == 1
    assert report.deleted.get("case_takeaways") == 1
    assert report.anonymised.get("cases_anonymised") == 1
    async with sessions() as session:
        assert await session.get(CaseDiscussion, _id(waiting)) is None
        kept = await session.get(CaseDiscussion, _id(discussed))
        assert kept is not None
        assert (kept.presenter_id, kept.context, kept.question, kept.title) == (
            None,
            "",
            "",
            "Refus des services à domicile",
        )
        assert (await session.exec(select(CaseTakeaway))).all() == []
        assert [t.theme for t in (await session.exec(select(CaseTheme))).all()] == ["Autonomie"]
        # Still on the meeting's agenda, by title, naming nobody.
        shown = await cases.agenda_cases(session, meeting_id=_id(w.meeting))
        assert [(c.title, c.presenter) for c in shown] == [("Refus des services à domicile", None)]
    async with transaction(sessions) as session:
        second = await privacy.erase(session, person_id=_id(w.presenter), now=AFTER)
    assert "cases_deleted" not in second.deleted
    assert "cases_anonymised" not in second.anonymised


# -- the agenda card ----------------------------------------------------------------------------


async def test_the_agenda_card_names_the_presenter_only_if_they_agreed(
    sessions: SessionFactory,
) -> None:
    w = await world(sessions)
    hidden = await submitted(sessions, w, key="a")
    shown = await submitted(sessions, w, key="b", title="Deuil compliqué", name_shown=True)
    async with transaction(sessions) as session:
        for case in (hidden, shown):
            await cases.schedule(
                session,
                case_id=_id(case),
                meeting_id=_id(w.meeting),
                by_person_id=_id(w.facilitator),
                now=NOW,
            )
    async with sessions() as session:
        items = list((await session.exec(select(AgendaItem))).all())
        picked = await cases.agenda_cases(session, meeting_id=_id(w.meeting))
    for locale, unnamed, named in (
        (
            "fr-CA",
            "Cas\xa0: «\xa0Refus des services à domicile\xa0»",
            "Cas\xa0: «\xa0Deuil compliqué\xa0», présenté par Personne 1",
        ),
        (
            "en-US",
            "Case: “Refus des services à domicile”",
            "Case: “Deuil compliqué”, presented by Personne 1",
        ),
    ):
        card = build_agenda_card(
            w.meeting, w.community, items, {}, locale=locale, tz=TZ, cases=picked
        )
        text = json.dumps(card, ensure_ascii=False)
        assert unnamed + '"' in text
        assert named in text
        assert text.count("Personne 1") == 1
    # Without a reflective part on the agenda, the cases still show, labelled.
    card = build_agenda_card(w.meeting, w.community, [], {}, locale="fr-CA", tz=TZ, cases=picked)
    assert "Volet réflexif" in json.dumps(card, ensure_ascii=False)


# -- the dialog -----------------------------------------------------------------------------------


@dataclass
class Dialog(DialogChat):
    options: SubmitCaseOptions = field(default_factory=SubmitCaseOptions)
    wakes: int = 0

    def dialog(self) -> SubmitCaseDialog:
        return SubmitCaseDialog(self.sessions, self._wake, clock=lambda: NOW)

    def begin_options(self) -> SubmitCaseOptions:
        return self.options

    def _wake(self) -> None:
        self.wakes += 1


async def test_submitting_in_french_screens_each_text_and_records_the_confirmation(
    sessions: SessionFactory,
) -> None:
    w = await world(sessions)
    chat = Dialog(sessions, w.presenter)

    intro, ask_title = await chat.say("soumettre un cas")
    assert intro.startswith("Préparons votre cas pour le volet réflexif de CdeP Soins palliatifs.")
    assert ask_title.startswith("Quel court titre donner à ce cas\xa0?")
    (ask_context,) = await chat.say("Refus des services à domicile")
    assert ask_context.startswith("Quel est le contexte de la situation\xa0?")
    # A phone number cannot be confirmed: refused, and the question again.
    refused, asked_again = await chat.say(PHONE)
    assert refused.startswith(
        "J’ai repéré dans «\xa0Contexte\xa0» ce qui ressemble à un numéro de téléphone. Ce "
        "renseignement ne peut pas rester, même avec une confirmation\xa0: récrivez le texte"
    )
    assert "514" not in refused
    assert "[" not in refused
    assert asked_again.startswith("Quel est le contexte de la situation\xa0?")
    # A name may be: the choice.
    (spotted,) = await chat.say(NAMED)
    assert spotted.startswith(
        "J’ai repéré dans «\xa0Contexte\xa0» ce qui ressemble à un nom de personne."
    )
    assert "Tremblay" not in spotted
    assert spotted.endswith("[Récrire le texte]\n[Il n’identifie personne]")
    # Rewriting: the question again, and the first text is gone.
    (asked_again,) = await chat.say("Récrire le texte")
    assert asked_again.startswith("Quel est le contexte de la situation\xa0?")
    (ask_complexity,) = await chat.say(CLEAN)
    assert ask_complexity.startswith("Qu’est-ce qui rend cette situation complexe pour vous\xa0?")
    # Confirming: kept, with the kinds confirmed.
    (spotted,) = await chat.say("Sa fille Nathalie insiste pour un hébergement, ce qui compte ici.")
    assert "un nom de personne" in spotted
    (ask_question,) = await chat.say("Il n’identifie personne")
    assert ask_question.startswith("Quelle question voulez-vous poser au groupe\xa0?")
    (ask_tried,) = await chat.say("Comment respecter son choix tout en gardant le lien\xa0?")
    assert ask_tried.startswith("Qu’avez-vous déjà essayé\xa0?")
    (ask_name,) = await chat.say("passer")
    assert ask_name.startswith("Acceptez-vous que votre nom figure avec ce cas à l’ordre du jour")
    (summary,) = await chat.say("non")
    assert "- Titre\xa0: Refus des services à domicile\n" in summary
    assert "- Ce qui a été essayé\xa0: —\n" in summary
    assert "- Votre nom à l’ordre du jour\xa0: Non, sans mon nom\n" in summary
    assert "Vous avez confirmé que les éléments repérés n’identifient personne" in summary
    (thanks,) = await chat.say("Soumettre")
    assert thanks.startswith(
        "Merci\xa0! Votre cas «\xa0Refus des services à domicile\xa0» est soumis à l’animation "
        "de CdeP Soins palliatifs."
    )
    async with sessions() as session:
        (case,) = (await session.exec(select(CaseDiscussion))).all()
    assert (case.context, case.tried, case.name_shown) == (CLEAN, "", False)
    assert case.screening == {"complexity": ["name"]}
    assert chat.result == SubmittedCase(case_id=_id(case), community_id=_id(w.community))
    rows = await queued(sessions)
    assert [(r.person_id, r.kind, r.dedup_key, r.params) for r in rows] == [
        (
            w.facilitator.id,
            "case_submitted",
            f"cases:{case.id}:submitted:to:{w.facilitator.id}",
            {"case_id": case.id},
        )
    ]
    assert chat.wakes == 1
    # The facilitator reads the notice in their language, with the presenter's name.
    (row,) = rows
    notice = await render_submitted(render_context(sessions, row, locale="en-US"))
    assert notice is not None
    assert notice.text == (
        "Personne 1 submitted a case to CdeP Soins palliatifs: “Refus des services à domicile”. "
        "Write me “case discussions” to read and answer it."
    )


async def test_submitting_in_english_asks_the_community_and_can_be_cancelled(
    sessions: SessionFactory,
) -> None:
    w = await world(sessions)
    async with transaction(sessions) as session:
        await factories.member(session, w.presenter, w.other)
    chat = Dialog(sessions, w.presenter, locale="en-US")
    (ask_community,) = await chat.say("submit a case")
    assert ask_community.startswith("To which community do you want to submit this case?")
    intro, _ask_title = await chat.say("CdeP Organisation communautaire")
    assert "reflective part of CdeP Organisation communautaire" in intro
    (retry,) = await chat.say("x" * 130)
    assert retry.startswith("I need a title of at most 120 characters.")
    await chat.say("Housing refusal")
    (retry,) = await chat.say("Too short")
    assert retry == "I need 10 to 2000 characters."
    await chat.say(CLEAN)
    await chat.say("She is able to decide, but the team worries for her safety.")
    await chat.say("How do we respect her choice and keep in touch?")
    (ask_name,) = await chat.say("We offered meals on wheels and a weekly call.")
    assert ask_name.startswith("Do you agree to your name appearing with this case on the agenda?")
    (summary,) = await chat.say("yes")
    assert "- Your name on the agenda: Yes, show my name\n" in summary
    assert await chat.say("Cancel") == ["All right, I cancelled. Nothing was saved."]
    async with sessions() as session:
        assert (await session.exec(select(CaseDiscussion))).all() == []
    assert await queued(sessions) == []


async def test_a_non_member_is_told_politely(sessions: SessionFactory) -> None:
    w = await world(sessions)
    for locale, options, expected in (
        ("fr-CA", SubmitCaseOptions(), "Pour soumettre un cas, il faut d’abord être membre"),
        ("en-US", SubmitCaseOptions(), "To submit a case, you first need to be a member"),
        (
            "fr-CA",
            SubmitCaseOptions(community_id=_id(w.other)),
            "Seuls les membres de cette communauté peuvent y soumettre un cas.",
        ),
    ):
        async with transaction(sessions) as session:
            loner = await factories.person(session, 90 + len(expected) % 7, locale=locale)
        who = loner if options.community_id is None else w.presenter
        chat = Dialog(sessions, who, locale=locale, options=options)
        (reply,) = await chat.say("soumettre un cas")
        assert reply.startswith(expected)


# -- the buttons, as the host routes them ------------------------------------------------------


async def click(
    sessions: SessionFactory,
    who: Person,
    value: dict[str, Any],
    *,
    locale: str = "fr-CA",
    now: datetime = NOW,
) -> list[Activity]:
    adapter = ChatAdapter()
    activity = Activity(
        type=ActivityTypes.message,
        id="clicked",
        channel_id="msteams",
        service_url="https://smba.example/",
        from_property=ChannelAccount(id=who.teams_user_id),
        recipient=ChannelAccount(id="28:carrefour-bot"),
        conversation=ConversationAccount(id="a:personal", conversation_type="personal"),
        value=value,
    )
    context = TurnContext(adapter, activity)
    info = TurnInfo(person_id=who.id, locale=locale, timezone=TZ, in_channel=False)
    assert await press(
        context, value, sessions=sessions, settings=SETTINGS, info=info, clock=lambda: now
    )
    return list(adapter.activity_buffer)


def texts(replies: list[Activity]) -> list[str]:
    return [said(a) for a in replies]


async def test_facilitators_pick_return_and_decline_and_presenters_are_told(
    sessions: SessionFactory,
) -> None:
    w = await world(sessions)
    first = await submitted(sessions, w, key="a")
    second = await submitted(sessions, w, key="b", title="Deuil compliqué")

    # The facilitator's list: both cases, the name, the meeting to pick.
    (_mine, theirs) = await click(sessions, w.facilitator, {"verb": "cases.show"})
    listed = said(theirs)
    assert "Cas soumis" in listed
    assert "Présenté par Personne 1" in listed
    verbs = {a["data"]["verb"] for a in card_actions(json.loads(listed))}
    assert {"cases.schedule", "cases.return", "cases.decline"} <= verbs

    meeting_field = f"meeting_{first.id}"
    replies = await click(
        sessions,
        w.facilitator,
        {"verb": "cases.schedule", "case_id": first.id, meeting_field: str(w.meeting.id)},
    )
    assert texts(replies)[-1].startswith("«\xa0Refus des services à domicile\xa0» est retenu pour")
    # Clicked twice: nothing more, and said so.
    again = await click(
        sessions,
        w.facilitator,
        {"verb": "cases.schedule", "case_id": first.id, meeting_field: str(w.meeting.id)},
    )
    assert texts(again)[-1].startswith("«\xa0Refus des services à domicile\xa0» est déjà retenu")

    # Returning needs a message, screened like any shared text.
    need = await click(sessions, w.facilitator, {"verb": "cases.return", "case_id": second.id})
    assert texts(need) == [
        "Écrivez d’abord un message à la personne\xa0: elle saura ainsi quoi faire."
    ]
    spotted = await click(
        sessions,
        w.facilitator,
        {
            "verb": "cases.return",
            "case_id": second.id,
            f"message_{second.id}": "Appelez le 514 555-1234.",
        },
        locale="en-US",
    )
    assert texts(spotted) == [
        "Your message seems to hold a phone number. Remove it, then click again. Nothing was sent."
    ]
    declined = await click(
        sessions,
        w.facilitator,
        {
            "verb": "cases.decline",
            "case_id": second.id,
            f"message_{second.id}": "Ce cas relève plutôt d’une consultation.",
        },
    )
    assert texts(declined)[-1] == (
        "«\xa0Deuil compliqué\xa0» est décliné\xa0; la personne reçoit votre message."
    )

    rows = [r for r in await queued(sessions) if r.kind == "case_update"]
    assert [(r.person_id, r.params["status"]) for r in rows] == [
        (w.presenter.id, "scheduled"),
        (w.presenter.id, "declined"),
    ]
    scheduled = await render_update(render_context(sessions, rows[0], locale="fr-CA"))
    assert scheduled is not None
    assert scheduled.text is not None
    assert scheduled.text.startswith("Votre cas «\xa0Refus des services à domicile\xa0» est retenu")
    refused = await render_update(render_context(sessions, rows[1], locale="en-US"))
    assert refused is not None
    assert refused.text == (
        "The facilitators of CdeP Soins palliatifs declined your case “Deuil compliqué”: "
        "Ce cas relève plutôt d’une consultation."
    )


async def test_forged_buttons_are_refused_in_the_users_language(sessions: SessionFactory) -> None:
    w = await world(sessions)
    case = await submitted(sessions, w)
    field_ = f"meeting_{case.id}"
    attempts = [
        (w.member, {"verb": "cases.schedule", "case_id": case.id, field_: str(w.meeting.id)}),
        (
            w.outsider_facilitator,
            {"verb": "cases.schedule", "case_id": case.id, field_: str(w.meeting.id)},
        ),
        (
            w.outsider_facilitator,
            {"verb": "cases.decline", "case_id": case.id, f"message_{case.id}": "Non merci."},
        ),
        (w.member, {"verb": "cases.show", "community_id": w.community.id}),
    ]
    for who, value in attempts:
        assert texts(await click(sessions, who, value)) == [
            "Seule l’animation de la communauté de ce cas peut faire cela."
        ]
    assert texts(
        await click(
            sessions, w.facilitator, {"verb": "cases.withdraw", "case_id": case.id}, locale="en-US"
        )
    ) == ["Only the person who submitted this case can withdraw it."]
    assert texts(
        await click(sessions, w.member, {"verb": "cases.withdraw", "case_id": "1; DROP"})
    ) == ["Ce bouton n’est plus valide. Tapez «\xa0aide\xa0» pour voir ce que je peux faire."]
    async with sessions() as session:
        row = await session.get(CaseDiscussion, _id(case))
    assert row is not None
    assert (row.status, row.meeting_id) == (CaseStatus.SUBMITTED, None)
    assert await queued(sessions) == []


async def test_the_presenter_withdraws_and_records_a_private_takeaway(
    sessions: SessionFactory,
) -> None:
    w = await world(sessions)
    kept = await submitted(sessions, w, key="a")
    dropped = await submitted(sessions, w, key="b", title="Deuil compliqué")
    for case in (kept, dropped):
        await click(
            sessions,
            w.facilitator,
            {"verb": "cases.schedule", "case_id": case.id, f"meeting_{case.id}": str(w.meeting.id)},
        )
    replies = await click(sessions, w.presenter, {"verb": "cases.withdraw", "case_id": dropped.id})
    assert texts(replies)[-1].startswith("«\xa0Deuil compliqué\xa0» est retiré")
    async with sessions() as session:
        assert [c.title for c in await cases.agenda_cases(session, meeting_id=_id(w.meeting))] == [
            "Refus des services à domicile"
        ]

    # After the meeting: the takeaway, in the presenter's card only.
    note = "Je vais proposer une rencontre avec sa fille."
    replies = await click(
        sessions,
        w.presenter,
        {"verb": "cases.takeaway", "case_id": kept.id, f"takeaway_{kept.id}": note},
        now=AFTER,
    )
    assert texts(replies)[-1] == "C’est noté. Vous seul·e pouvez lire ce que vous retenez."
    assert note in said(replies[0])
    mine = await click(sessions, w.presenter, {"verb": "cases.show"}, now=AFTER)
    assert note in said(mine[0])
    theirs = await click(sessions, w.facilitator, {"verb": "cases.show"}, now=AFTER)
    assert all(note not in said(a) for a in theirs)
    # The facilitator records the themes after the meeting.
    replies = await click(
        sessions,
        w.facilitator,
        {"verb": "cases.themes", "case_id": kept.id, f"themes_{kept.id}": "Autonomie, risque"},
        now=AFTER,
    )
    assert texts(replies)[-1].startswith(
        "Thèmes enregistrés pour «\xa0Refus des services à domicile\xa0»\xa0: Autonomie, risque."
    )
    async with sessions() as session:
        assert sorted(t.title for t in (await session.exec(select(Topic))).all()) == [
            "Autonomie",
            "risque",
        ]
        takeaways = (await session.exec(select(CaseTakeaway))).all()
    assert [(t.person_id, t.text) for t in takeaways] == [(w.presenter.id, note)]
    # Nothing about the takeaway went anywhere else.
    rows: list[OutboxMessage] = await queued(sessions)
    assert all(note not in json.dumps(r.params, ensure_ascii=False) for r in rows)


async def test_the_meeting_reminder_lists_the_picked_cases_like_the_agenda(
    sessions: SessionFactory,
) -> None:
    w = await world(sessions)
    hidden = await submitted(sessions, w, key="a")
    shown = await submitted(sessions, w, key="b", title="Deuil compliqué", name_shown=True)
    gone = await submitted(sessions, w, key="c", title="Proche aidant épuisé", name_shown=True)
    async with transaction(sessions) as session:
        for case in (hidden, shown, gone):
            await cases.schedule(
                session,
                case_id=_id(case),
                meeting_id=_id(w.meeting),
                by_person_id=_id(w.facilitator),
                now=NOW,
            )
        await cases.withdraw(session, case_id=_id(gone), person_id=_id(w.presenter), now=NOW)
    # The J-1 reminder, rendered when it is sent (the agenda and its cases as they are then).
    row = OutboxMessage(
        dedup_key="reminder-test",
        kind=KIND_MEETING_REMINDER,
        params={"meeting_id": _id(w.meeting), "offset": "P1D"},
        person_id=_id(w.member),
        not_before=MEETING_AT - timedelta(days=1),
    )
    for locale, unnamed, named in (
        (
            "fr-CA",
            "Cas\xa0: «\xa0Refus des services à domicile\xa0»",
            "Cas\xa0: «\xa0Deuil compliqué\xa0», présenté par Personne 1",
        ),
        (
            "en-US",
            "Case: “Refus des services à domicile”",
            "Case: “Deuil compliqué”, presented by Personne 1",
        ),
    ):
        activity = await render_meeting_reminder(
            render_context(sessions, row, now=MEETING_AT - timedelta(days=1), locale=locale)
        )
        assert activity is not None
        assert activity.attachments
        text = json.dumps(card_content(activity.attachments[0]), ensure_ascii=False)
        assert unnamed + '"' in text  # no name: the presenter did not agree
        assert named in text
        assert text.count("Personne 1") == 1
        assert "Proche aidant épuisé" not in text  # withdrawn
