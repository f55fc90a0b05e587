"""Confirming that a spotted name identifies no client (storage.identifiers.unconfirmed): only
names may be confirmed, in the consultation request's summary (the dialog, fr and en) and in the
consultation feedback's comment (the card's toggle); a forged confirmation of any other kind is
refused by storage, and a refusal stores nothing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest

from cards.consultations import NO_CLIENT_INPUT, build_feedback_card
from storage import consultations
from storage.db import SessionFactory, create_engine, session_factory, transaction
from storage.identifiers import CONFIRMABLE, HasIdentifiers, IdentifierKind, unconfirmed
from storage.models import ConsultationEvent, ConsultationRequest, ConsultationStatus
from tests.test_consultations import (
    DRAFT,
    START,
    SUMMARY,
    Bot,
    Dialog,
    _id,
    _line,
    assign,
    fresh,
    rows,
    scene,
    state_holds,
    step,
    submitted,
)

NAMED = {
    "fr-CA": f"Mme Tremblay, 82 ans. {SUMMARY}",
    "en-US": f"Mrs. Smith, 82, refuses home care and her family insists. {SUMMARY}",
}
WORDS = {"fr-CA": "«\xa0Mme Tremblay\xa0»", "en-US": "“Mrs. Smith”"}
PHONE = "Joindre sa fille au 514 555-1234."


@pytest.fixture
async def any_sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """Sessions on SQLite and on PostgreSQL."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


def test_only_names_may_be_confirmed() -> None:
    assert {IdentifierKind.NAME} == CONFIRMABLE
    assert unconfirmed("Mme Tremblay, 82 ans", []) == (IdentifierKind.NAME,)
    assert unconfirmed("Mme Tremblay, 82 ans", ["name"]) == ()
    # A phone number is never « no one's », whatever was sent.
    assert unconfirmed(f"Mme Tremblay. {PHONE}", ["name", "phone"]) == (IdentifierKind.PHONE,)
    assert unconfirmed("Née le 3 mars 1954", ["birth_date", "name"]) == (IdentifierKind.BIRTH_DATE,)


# -- the request's summary ----------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
async def test_a_summary_with_a_name_is_sent_once_confirmed(
    sessions: SessionFactory, locale: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fr = locale == "fr-CA"
    s = await scene(sessions, locale=locale)
    chat = Dialog(sessions, s.requester, locale=locale)
    await chat.say("consultation")
    await chat.say("1")
    (spotted,) = await chat.say(NAMED[locale])
    assert spotted.startswith(
        f"Votre résumé semble contenir un nom de personne\xa0: {WORDS[locale]}."
        if fr
        else f"Your summary seems to contain a person’s name: {WORDS[locale]}."
    )
    buttons = (
        "[Récrire le résumé]\n[Il n’identifie personne]"
        if fr
        else "[Rewrite the summary]\n[It identifies no one]"
    )
    assert spotted.endswith(buttons)
    # Rewriting: the question again; the same text again: the same choice.
    (asked_again,) = await chat.say("Récrire le résumé" if fr else "Rewrite the summary")
    assert asked_again.startswith("Décrivez la situation" if fr else "Describe the situation")
    (spotted_again,) = await chat.say(NAMED[locale])
    assert spotted_again == spotted
    assert await rows(sessions, ConsultationRequest) == []
    (ask_urgency,) = await chat.say("Il n’identifie personne" if fr else "It identifies no one")
    assert ask_urgency.startswith("À quel point est-ce urgent" if fr else "How urgent is it?")
    await chat.say("1")
    await chat.say("1")
    (recap,) = await chat.say("Mardis après-midi")
    assert NAMED[locale] in recap
    (sent,) = await chat.say("1")
    (request,) = await rows(sessions, ConsultationRequest)
    assert request.reference in sent
    assert request.summary == NAMED[locale]
    assert not await state_holds(sessions, "82")
    # The words taken for a name reached no log.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Tremblay" not in logged
    assert "Smith" not in logged
    assert f"consultation {request.reference} submitted" in logged


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
async def test_a_summary_with_a_phone_number_is_refused_even_with_a_name(
    sessions: SessionFactory, locale: str
) -> None:
    fr = locale == "fr-CA"
    s = await scene(sessions, locale=locale)
    chat = Dialog(sessions, s.requester, locale=locale)
    await chat.say("consultation")
    await chat.say("1")
    (refused,) = await chat.say(f"{NAMED[locale]} {PHONE}")
    if fr:
        assert refused.startswith(
            "Votre résumé semble contenir un numéro de téléphone et un nom de personne. "
            "Pour protéger la personne concernée, retirez ces renseignements"
        )
    else:
        assert refused.startswith(
            "Your summary seems to contain a phone number and a person’s name. To protect"
        )
    # No confirmation offered; nothing of the text repeated.
    assert "[" not in refused
    for word in ("555", "Tremblay", "Smith"):
        assert word not in refused
    (ask_urgency,) = await chat.say(SUMMARY)
    assert ask_urgency.startswith("À quel point est-ce urgent" if fr else "How urgent is it?")
    assert await rows(sessions, ConsultationRequest) == []


async def test_storage_refuses_a_forged_confirmation(any_sessions: SessionFactory) -> None:
    sessions = any_sessions
    s = await scene(sessions)
    named = NAMED["fr-CA"]
    forged = [
        # A name not confirmed; a phone « confirmed »; a phone and a name, both « confirmed ».
        (replace(DRAFT, summary=named), (IdentifierKind.NAME,)),
        (
            replace(DRAFT, summary=f"{SUMMARY} {PHONE}", confirmed=("phone",)),
            (IdentifierKind.PHONE,),
        ),
        (
            replace(DRAFT, summary=f"{named} {PHONE}", confirmed=("phone", "name")),
            (IdentifierKind.PHONE,),
        ),
    ]
    for draft, kinds in forged:
        with pytest.raises(HasIdentifiers) as spotted:
            await submitted(sessions, s, draft=draft)
        assert spotted.value.kinds == kinds
    assert await rows(sessions, ConsultationRequest) == []
    request = await submitted(sessions, s, draft=replace(DRAFT, summary=named, confirmed=("name",)))
    assert (await fresh(sessions, request)).summary == named


# -- the feedback's comment ----------------------------------------------------------------------


async def closed_request(sessions: SessionFactory, locale: str) -> tuple[Bot, ConsultationRequest]:
    s = await scene(sessions, locale=locale)
    request = await submitted(sessions, s)
    await assign(sessions, _id(request), s.coordinator, s.volunteer)
    await step(sessions, consultations.start, _id(request), s.volunteer)
    await step(
        sessions, consultations.close, _id(request), s.volunteer, now=START + timedelta(days=1)
    )
    bot = Bot(sessions)
    bot.requester = s.requester  # type: ignore[attr-defined]
    return bot, request


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
def test_the_feedback_card_offers_the_toggle(locale: str) -> None:
    card = build_feedback_card(
        _line(status=ConsultationStatus.CLOSED, assignee_id=5, assignee_name="Marie"),
        locale=locale,
    )
    (toggle,) = [e for e in card["body"] if e["type"] == "Input.Toggle"]
    assert (toggle["id"], toggle["valueOn"], toggle["valueOff"]) == (
        NO_CLIENT_INPUT,
        "true",
        "false",
    )
    assert toggle["title"] == (
        "Ce commentaire n’identifie aucune personne usagère"
        if locale == "fr-CA"
        else "This comment identifies no client"
    )


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
async def test_a_comment_with_a_name_is_kept_only_with_the_toggle(
    sessions: SessionFactory, locale: str
) -> None:
    fr = locale == "fr-CA"
    bot, request = await closed_request(sessions, locale)
    requester = bot.requester  # type: ignore[attr-defined]
    comment = "Merci à Marie pour son écoute" if fr else "Thanks to Marie for listening"
    value = {"verb": "consultations.feedback", "request_id": _id(request), "rating": "5"}
    names = (
        "Votre commentaire semble contenir un nom de personne. Votre note n’est pas encore "
        "enregistrée. S’il ne s’agit pas d’une personne usagère (la personne qui vous a aidé·e, "
        "par exemple), cochez «\xa0Ce commentaire n’identifie aucune personne usagère\xa0» sur "
        "la carte, puis envoyez de nouveau\xa0; sinon, retirez ce nom."
        if fr
        else "Your comment seems to contain a person’s name. Your rating is not saved yet. If it "
        "is not a client (the person who helped you, for instance), tick “This comment "
        "identifies no client” on the card, then send again; otherwise, remove the name."
    )
    for toggle in ({}, {NO_CLIENT_INPUT: "false"}):
        said = await bot.click(requester, {**value, "comment": comment, **toggle}, locale)
        assert said == [names]
    # A phone number: refused with the toggle on too (which vouched for the name only).
    said = await bot.click(
        requester, {**value, "comment": f"{comment}, 514-555-1234", NO_CLIENT_INPUT: "true"}, locale
    )
    assert said == [
        "Votre commentaire semble contenir un numéro de téléphone. Votre note n’est pas encore "
        "enregistrée\xa0: retirez ces renseignements, puis envoyez de nouveau."
        if fr
        else "Your comment seems to contain a phone number. Your rating is not saved yet: "
        "remove these details, then send it again."
    ]
    # Nothing stored on refusal: no rating, no comment, no audit line.
    refused = await fresh(sessions, request)
    assert (refused.usefulness_rating, refused.usefulness_comment) == (None, None)
    assert "rated" not in [e.action for e in await rows(sessions, ConsultationEvent)]

    said = await bot.click(
        requester, {**value, "comment": comment, NO_CLIENT_INPUT: "true"}, locale
    )
    assert said == ["Merci pour votre réponse\xa0!" if fr else "Thank you for your answer!"]
    rated = await fresh(sessions, request)
    assert (rated.status, rated.usefulness_rating, rated.usefulness_comment) == (
        ConsultationStatus.CLOSED,
        5,
        comment,
    )


async def test_storage_takes_a_confirmed_name_in_a_comment_and_nothing_else(
    any_sessions: SessionFactory,
) -> None:
    sessions = any_sessions
    _bot, request = await closed_request(sessions, "fr-CA")

    async def rate(comment: str, confirmed: tuple[str, ...]) -> None:
        async with transaction(sessions) as session:
            await consultations.rate(
                session,
                request_id=_id(request),
                actor_id=request.requester_id,
                rating=4,
                comment=comment,
                now=START + timedelta(days=2),
                confirmed=confirmed,
            )

    for comment, confirmed in (
        ("Merci à Marie pour son écoute", ()),
        ("Rappeler au 514-555-1234", ("phone", "name")),
    ):
        with pytest.raises(HasIdentifiers):
            await rate(comment, confirmed)
    assert (await fresh(sessions, request)).usefulness_rating is None
    await rate("Merci à Marie pour son écoute", ("name",))
    assert (await fresh(sessions, request)).usefulness_comment == "Merci à Marie pour son écoute"
