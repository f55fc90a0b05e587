"""Real-client end-to-end test of a team channel: a facilitator and a member, each in the
Microsoft 365 Agents Playground, with the bot answering only when @mentioned.

The facilitator links the channel to a new community (the setup card), plans a meeting (two form
cards: date in the calendar, times, format, link), and publishes its agenda; a member joins in
their personal chat, shows the agenda in the channel and answers « Présent·e » on its card; the
facilitator asks to cancel, is shown what will happen, keeps the meeting once (« Ne rien
changer »), then cancels it for good.

    .venv/bin/pytest -m e2e tests/e2e -k channel -s

Screenshots for the README land in test-output/e2e/: agenda-channel-fr.png (the published
agenda card), channel-agenda-fr.png (the whole window: the channel, the @mention, the card) and
cancel-confirm-fr.png (the cancel confirmation card).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    CHANNEL_NAME,
    FACILITATOR,
    MEMBER,
    NBSP,
    Stack,
    mention,
    require_prerequisites,
)

pytestmark = pytest.mark.e2e

COMMUNITY = "CdeP Soins palliatifs Montérégie"
OBJECTIVES = [
    "Discuter de situations cliniques complexes en toute confidentialité",
    "Harmoniser les pratiques d’accompagnement des proches aidants et du deuil",
]
THEMES = "fin de vie, deuil, proches aidants"
MEETING = "Rencontre d’hiver"
OBJECTIVE = "Mieux accompagner les proches aidants après un décès à domicile"
LINK = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_rencontre-hiver%40thread.v2/0"


def test_a_facilitator_plans_publishes_and_cancels_a_meeting_in_a_channel(
    tmp_path: Path,
) -> None:
    require_prerequisites()
    # The bot refuses a meeting in the past: a day well ahead of today, whatever today is.
    day = date.today() + timedelta(days=40)

    facilitator_plans: list[dict[str, Any]] = [
        {"open": CHANNEL_NAME},
        mention("configurer", expect=["Configurer une communauté de pratique"], card=True),
        {
            "click": "Créer la communauté",
            "fill": {
                "Nom": COMMUNITY,
                "Objectifs (un par ligne)": "\n".join(OBJECTIVES),
                "Thèmes (séparés par des virgules)": THEMES,
            },
            "expect": [f"La communauté «{NBSP}{COMMUNITY}{NBSP}» est créée et liée à ce canal."],
        },
        mention("planifier", expect=["Planifier une rencontre"], card=True),
        {
            # Where planning opens in a Teams dialog, the Playground (no task modules) takes the
            # small card's other way, the form in the conversation.
            "click": "Remplir ici",
            "in": ["Planifier une rencontre"],
            "optional": True,
            "expect": ["Titre (facultatif)"],
            "card": True,
        },
        {
            "click": f"Suivant{NBSP}: l’ordre du jour",
            "in": ["Planifier une rencontre"],
            "fill": {
                "Titre (facultatif)": MEETING,
                "Date": day.isoformat(),
                "Début": "13:00",
                "Fin": "16:00",
                "Formule": "Virtuelle",
                "Lien de la rencontre en ligne": LINK,
                "Objectif général de la journée": OBJECTIVE,
            },
            "expect": ["Ordre du jour", f"13{NBSP}h", "Publier dans le canal"],
            "card": True,
        },
        {
            "click": "Publier dans le canal",
            "in": ["Ordre du jour"],
            "expect": [COMMUNITY, MEETING, f"de 13{NBSP}h à 16{NBSP}h", "Présent·e (0)"],
            "card": True,
            "alsoExpect": ["Ordre du jour publié."],
            "screenshot": "channel-agenda-fr.png",
            "cardScreenshot": "agenda-channel-fr.png",
        },
    ]

    member_joins_and_answers: list[dict[str, Any]] = [
        # The Playground says "en-US": a French speaker's client is often English.
        {"send": "langue fr", "expect": []},
        {"send": "rejoindre", "expect": [f"Quelle est votre discipline{NBSP}?"]},
        {"send": "1", "expect": [f"Dans quel établissement travaillez-vous{NBSP}?"]},
        {"send": "CLSC de Longueuil", "expect": [f"Dans quelle région administrative{NBSP}?"]},
        {"send": "16", "expect": [f"Quels sujets vous intéressent{NBSP}?"]},
        {"send": "1, 2", "expect": ["nouveau ou nouvelle"]},
        {"send": "Non", "expect": ["Acceptez-vous de recevoir les rappels"]},
        {"send": "Rappels et sondages", "expect": [f"Voici votre profil pour {COMMUNITY}"]},
        {"send": "Confirmer", "expect": [f"Bienvenue dans {COMMUNITY}"]},
        {"open": CHANNEL_NAME},
        mention("ordre du jour", expect=[MEETING, "Présent·e (0)"], card=True),
        {
            # In a channel the card updating is the answer: nobody else reads who said what.
            "click": "Présent·e (0)",
            "in": [MEETING],
            "label": "rsvp",
            "expect": [MEETING, "Présent·e (1)"],
            "card": True,
        },
    ]

    notices = f"1{NBSP}personne qui a accepté recevra un avis."
    facilitator_cancels: list[dict[str, Any]] = [
        {"open": CHANNEL_NAME},
        mention(
            "annuler la rencontre",
            label="first ask",
            expect=[MEETING, notices, "Annuler la rencontre", "Ne rien changer"],
            card=True,
            cardScreenshot="cancel-confirm-fr.png",
        ),
        {"click": "Ne rien changer", "in": [notices], "expect": ["Rien n’a changé."]},
        # Still scheduled, still counting the member's answer: asking again names it the same.
        mention("annuler la rencontre", label="second ask", expect=[notices], card=True),
        {
            "click": "Annuler la rencontre",
            "in": [notices],
            "expect": [
                "est annulée.",
                f"1{NBSP}personne qui avait accepté en est avisée.",
                "Rétablir la rencontre",
            ],
            "card": True,
        },
        mention("ordre du jour", label="agenda after", expect=["Aucune rencontre n’est prévue"]),
    ]

    with Stack(tmp_path, "channel") as stack:
        stack.start(as_person=FACILITATOR)
        planned = stack.chat(
            facilitator_plans, screenshots=["channel-agenda-fr.png", "agenda-channel-fr.png"]
        )
        stack.switch_person(MEMBER)
        answered = stack.chat(member_joins_and_answers)
        stack.switch_person(FACILITATOR)
        cancelled = stack.chat(facilitator_cancels, screenshots=["cancel-confirm-fr.png"])

    agenda = planned.card("click:Publier dans le canal", COMMUNITY)
    for shown in (MEETING, "Accueil", "Tour de table", "Objectif général", OBJECTIVE):
        assert shown in agenda["text"], f"{shown!r} not on the published agenda:\n{agenda}"
    assert {"Présent·e (0)", "Absent·e (0)", "Peut-être (0)"} <= set(agenda["buttons"]), agenda
    planned.text("click:Publier dans le canal", "Ordre du jour publié.")

    # Only the card answered the member's click: no « C'est noté » for the whole channel.
    rsvp_texts = [reply["text"] for reply in answered.replies("rsvp")]
    assert not any("C’est noté" in text for text in rsvp_texts), rsvp_texts

    confirmation = cancelled.card("first ask", "Annuler")
    assert MEETING in confirmation["text"], confirmation
    assert confirmation["buttons"] == ["Annuler la rencontre", "Ne rien changer"], confirmation
    outcome = cancelled.card_showing("click:Annuler la rencontre", "est annulée.")
    assert "Rétablir la rencontre" in outcome["buttons"], outcome
