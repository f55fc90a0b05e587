"""Real-client end-to-end test of more of a community's year, in the Microsoft 365 Agents
Playground, as a facilitator of the demo community (`carrefour demo seed`) bound to the
Playground's channel, with what arrives by itself seeded around it (tests/e2e/seed_year_more.py:
this morning's meeting and its survey, a neighbouring community's invitation to co-host, an
onboarding plan with content that the facilitator follows as a newcomer elsewhere, last year's
needs survey and this year's proposal).

In the personal chat: the satisfaction survey with an item per objective of the meeting, the
yearly needs survey proposed with last year's results, the invitation to a joint meeting
(accepted), the welcome step's checklist (one item ticked), the onboarding plan and a step's
content form (saved), and the yearly learning questionnaire (previewed, launched, received). In
the channel: the agenda of the joint meeting.

    .venv/bin/pytest -q -m e2e tests/e2e/test_playground_year_more.py -s

Screenshots for the docs land in test-output/e2e/: survey-objectives-fr.png, needs-proposal-fr.png,
joint-invitation-fr.png, onboarding-checklist-fr.png, onboarding-plan-fr.png,
onboarding-content-fr.png, learning-fr.png (the questionnaire) and
joint-meeting-fr.png (the joint meeting's agenda card).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    CHANNEL_ID,
    CHANNEL_NAME,
    DEMO,
    FACILITATOR,
    NBSP,
    TEAM_ID,
    Stack,
    mention,
    quoted,
    require_prerequisites,
)
from tests.e2e.seed_year_more import HOST, JOINT_TITLE, MEETING_TITLE, OBJECTIVES

pytestmark = pytest.mark.e2e

CHAT = "Personal Chat"
WELCOME = "Bienvenue et fiche de la communauté"
CONTENT_FORM = f"Contenu du message «{NBSP}{WELCOME}{NBSP}» — {DEMO}"
NEW_ITEM = "Répondre au suivi d’un mois"


def test_a_facilitators_year_surveys_joint_meetings_and_onboarding(tmp_path: Path) -> None:
    require_prerequisites()
    # The cards the jobs and the other community queued meanwhile: already in the chat, or
    # arriving from the outbox (polled every few seconds).
    in_chat: list[dict[str, Any]] = [
        {
            "open": CHAT,
            "label": "survey",
            "expect": [
                "Votre avis sur la rencontre",
                f"3{NBSP}objectifs de la rencontre à évaluer",
                "Les objectifs de la rencontre",
                f"Cet objectif a été atteint{NBSP}: {quoted(OBJECTIVES[0])}",
                f"Cet objectif a été atteint{NBSP}: {quoted(OBJECTIVES[2])}",
                "Envoyer mes réponses",
            ],
            "card": True,
            "cardScreenshot": "survey-objectives-fr.png",
        },
        {
            "open": CHAT,
            "label": "needs",
            "expect": [
                "C’est le moment du sondage des besoins annuel",
                "L’an dernier",
                f"6{NBSP}réponses.",
                "Les sujets les plus demandés",
                "Le deuil des proches aidants",
                "moins de 3",
                "Lancer le sondage",
                "Plus tard",
            ],
            "card": True,
            "cardScreenshot": "needs-proposal-fr.png",
        },
        {
            "open": CHAT,
            "label": "invitation",
            "expect": [
                "Invitation à une rencontre conjointe",
                f"{quoted(HOST)} invite {quoted(DEMO)} à coanimer",
                "Accepter",
                "Décliner",
            ],
            "card": True,
            "cardScreenshot": "joint-invitation-fr.png",
        },
        {
            "click": "Accepter",
            "in": ["Invitation à une rencontre conjointe"],
            "label": "accepted",
            "expect": [f"{quoted(DEMO)} coanime"],
        },
        {
            "open": CHAT,
            "label": "welcome",
            "expect": [
                "À faire",
                "☐ Lire la charte de la communauté",
                "Guide d’accueil des nouvelles recrues",
                "Cocher",
            ],
            "card": True,
        },
        {
            "click": "Cocher",
            "in": ["☐ Lire la charte de la communauté"],
            "label": "ticked",
            "expect": [
                "☑ Lire la charte de la communauté (fait)",
                "☐ Se présenter dans le canal de la communauté",
                "Décocher",
            ],
            "card": True,
            "cardScreenshot": "onboarding-checklist-fr.png",
        },
        {
            "send": "plan d'accueil",
            "expect": [f"Plan d’accueil — {DEMO}", WELCOME, "Modifier le contenu"],
            "card": True,
            "cardScreenshot": "onboarding-plan-fr.png",
        },
        {
            # The first « Modifier le contenu » is the welcome step's.
            "click": "Modifier le contenu",
            "in": [f"Plan d’accueil — {DEMO}"],
            "label": "content",
            "expect": [CONTENT_FORM, "Texte", "Titre du lien 1", "Élément à cocher 1"],
            "card": True,
            "cardScreenshot": "onboarding-content-fr.png",
        },
        {
            "click": "Enregistrer",
            "in": [CONTENT_FORM],
            "fill": {"Élément à cocher 4": NEW_ITEM},
            "label": "content saved",
            "expect": [
                f"Contenu du message {quoted(WELCOME)} enregistré. "
                "Il paraîtra dans les messages pas encore envoyés."
            ],
        },
        {
            "send": "questionnaire des apprentissages",
            "expect": [
                f"Ce qui a changé dans ma pratique — {DEMO}",
                "Membres sollicités",
                "Lancer le sondage",
            ],
            "card": True,
        },
        {
            "click": "Lancer le sondage",
            "in": [f"Ce qui a changé dans ma pratique — {DEMO}"],
            "label": "learning",
            # The facilitator is a consenting member: their own questionnaire comes too.
            "expect": [
                f"Ce qui a changé dans ma pratique — {DEMO}",
                "J’ai changé quelque chose dans ma pratique grâce à la communauté.",
                "Envoyer mes réponses",
            ],
            "card": True,
            "alsoExpect": ["Questionnaire sur les apprentissages lancé"],
            "cardScreenshot": "learning-fr.png",
        },
    ]
    in_channel: list[dict[str, Any]] = [
        {"open": CHANNEL_NAME},
        mention(
            "ordre du jour",
            label="joint agenda",
            expect=[HOST, JOINT_TITLE, f"Rencontre conjointe avec {DEMO}"],
            card=True,
            cardScreenshot="joint-meeting-fr.png",
        ),
    ]
    with Stack(tmp_path, "year-more") as stack:
        assert "created" in stack.cli("demo", "seed")
        stack.start()
        stack.chat([{"send": "langue fr", "expect": []}])  # the facilitator, known to the bot
        stack.seed("seed_year_more", FACILITATOR.user_id, TEAM_ID, CHANNEL_ID)
        chat = stack.chat(
            in_chat,
            screenshots=[
                "survey-objectives-fr.png",
                "needs-proposal-fr.png",
                "joint-invitation-fr.png",
                "onboarding-checklist-fr.png",
                "onboarding-plan-fr.png",
                "onboarding-content-fr.png",
                "learning-fr.png",
            ],
        )
        channel = stack.chat(in_channel, screenshots=["joint-meeting-fr.png"])

    survey = chat.card("survey", "Votre avis sur la rencontre")
    assert MEETING_TITLE in survey["text"], survey
    assert OBJECTIVES[1] in survey["text"], survey
    needs = chat.card("needs", "C’est le moment du sondage des besoins annuel")
    # Last year's topic nobody chose is left out; the proposal names the community.
    assert "Les soins spirituels" not in needs["text"], needs
    assert DEMO in needs["text"], needs
    ticked = chat.card_showing("ticked", "☑ Lire la charte de la communauté (fait)")
    assert ticked["buttons"].count("Cocher") == 2, ticked
    assert ticked["buttons"].count("Décocher") == 1, ticked
    learning = chat.card_showing("learning", "Envoyer mes réponses")
    assert "Cet objectif a été atteint" not in learning["text"], learning
    agenda = channel.card_showing("joint agenda", f"Rencontre conjointe avec {DEMO}")
    assert HOST in agenda["text"], agenda
