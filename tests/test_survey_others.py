"""The results card's « Autres sondages »: Teams cuts a button's title after a few words, so
five buttons titled « « Le deuil blanc » du jeudi 5 novembre 2026 » all read « « Le deuil
bl… ». The surveys are a choice list (whole labels, wrapped) with one short button."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cards.i18n import translator
from cards.surveys import build_results_card, survey_label
from storage.models import Community, Meeting, Survey, SurveyKind
from storage.surveys import SurveyResults
from tests.support import card_actions

TZ = "America/Montreal"
START = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)
# Teams shows about this many characters of a button's title in a chat column.
SHORT_BUTTON = 24


def _surveys() -> tuple[Community, list[tuple[Survey, Meeting | None]]]:
    where = Community(id=1, name="CdeP Soins palliatifs")
    found: list[tuple[Survey, Meeting | None]] = []
    for n in range(6):
        starts = START - timedelta(days=30 * n)
        meeting = Meeting(
            id=10 + n,
            community_id=1,
            title="Le deuil blanc et les proches aidants",
            starts_at=starts,
            ends_at=starts + timedelta(hours=3),
        )
        survey = Survey(
            id=20 + n,
            community_id=1,
            meeting_id=meeting.id,
            kind=SurveyKind.SATISFACTION,
            opens_at=meeting.ends_at,
            closes_at=meeting.ends_at + timedelta(days=7),
        )
        found.append((survey, meeting))
    return where, found


@pytest.mark.parametrize("locale", ["fr-CA", "en-US"])
def test_other_surveys_are_a_choice_list_with_one_short_button(locale: str) -> None:
    where, listed = _surveys()
    current, meeting = listed[0]
    results = SurveyResults(
        survey=current,
        community=where,
        meeting=meeting,
        invited=12,
        responses=2,
        k=5,
        closed=True,
    )
    card = build_results_card(results, locale=locale, tz=TZ, others=listed)
    buttons = card_actions(card)
    assert all(len(b["title"]) <= SHORT_BUTTON for b in buttons), [b["title"] for b in buttons]
    (show,) = [b for b in buttons if b["data"].get("verb") == "surveys.results"]
    assert show["title"] == translator(locale)("surveys.results.others_show")
    assert "survey_id" not in show["data"]  # the choice list says which one

    inputs = [e for e in card["body"] if e.get("type") == "Input.ChoiceSet"]
    (choice,) = inputs
    assert choice["id"] == "survey_id"
    assert choice.get("wrap") is True
    others = [(s, m) for s, m in listed[1:6]]
    assert choice["choices"] == [
        {"title": survey_label(s, meeting=m, locale=locale, tz=TZ), "value": str(s.id)}
        for s, m in others
    ]
    assert choice["value"] == str(others[0][0].id)
