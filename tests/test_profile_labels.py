"""Every profile value a person reads on a card is a catalog label, never its stored code."""

from __future__ import annotations

import json

import pytest

from cards.common import Element
from cards.mentoring import build_proposal_card, build_suggestions_card
from cards.privacy import build_my_data_card
from storage.mentoring import Suggestion
from storage.models import (
    Community,
    Membership,
    MentorPairing,
    MentorRequest,
    PairingStatus,
    Person,
    Role,
)
from storage.privacy import MembershipFact, PersonalData

# code → (French label, English label)
DISCIPLINE = ("psychology", "Psychologie", "Psychology")
REGION = ("16", "Montérégie", "Montérégie")
ROLES = {
    Role.MEMBER.value: ("membre", "member"),
    Role.MENTOR.value: ("mentor·e", "mentor"),
    Role.ANIMATOR.value: ("animation", "facilitator"),
}


def _texts(card: Element) -> str:
    return json.dumps(card, ensure_ascii=False)


def _facts(card: Element) -> dict[str, str]:
    found: dict[str, str] = {}

    def walk(items: list[Element]) -> None:
        for item in items:
            if item.get("type") == "FactSet":
                found.update({fact["title"]: fact["value"] for fact in item["facts"]})
            walk(item.get("items", []))

    walk(card["body"])
    return found


def _profile() -> Membership:
    return Membership(
        person_id=4,
        community_id=1,
        discipline=DISCIPLINE[0],
        region=REGION[0],
        roles=list(ROLES),
        establishment="CLSC de Longueuil",
    )


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
def test_mentoring_cards_show_the_discipline_and_region_labels(locale: str) -> None:
    french = locale.startswith("fr")
    mentee = Person(id=4, teams_user_id="29:n", name="Léa Tremblay")
    mentor = Person(id=10, teams_user_id="29:m", name="Marie Gagnon")
    where = Community(id=1, name="CdeP Soins palliatifs")
    request = MentorRequest(id=3, community_id=1, mentee_id=4)
    pairing = MentorPairing(
        id=7,
        request_id=3,
        community_id=1,
        mentor_id=10,
        mentee_id=4,
        status=PairingStatus.PROPOSED,
        reason="discipline,region;load=1/3",
    )
    suggestions = build_suggestions_card(
        request,
        mentee=mentee,
        profile=_profile(),
        community=where,
        suggestions=[Suggestion(mentor, 1, 3, ("discipline",), "discipline;load=1/3")],
        locale=locale,
    )
    proposal = build_proposal_card(
        pairing, mentee=mentee, profile=_profile(), community=where, locale=locale
    )
    discipline = DISCIPLINE[1] if french else DISCIPLINE[2]
    region = REGION[1] if french else REGION[2]
    for card in (suggestions, proposal):
        values = set(_facts(card).values())
        assert discipline in values
        assert region in values
        assert DISCIPLINE[0] not in values
        assert REGION[0] not in values


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
def test_my_data_card_shows_role_labels(locale: str) -> None:
    french = locale.startswith("fr")
    data = PersonalData(
        person_id=4,
        name="Léa Tremblay",
        locale=locale,
        consent_reminders=True,
        consent_surveys=False,
        memberships=(
            MembershipFact(
                community="CdeP Soins palliatifs",
                roles=tuple(ROLES),
                has_profile=True,
                active=True,
            ),
        ),
    )
    text = _texts(build_my_data_card(data, locale=locale))
    labels = sorted(fr if french else en for fr, en in ROLES.values())
    assert ", ".join(labels) in text
    # The codes themselves never appear as the list of roles (« animator, member, mentor »).
    assert ", ".join(sorted(ROLES)) not in text
