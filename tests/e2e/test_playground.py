"""Real-client end-to-end tests: the bot behind the Microsoft 365 Agents Playground.

A person's path through the product, in a real browser: open the Playground, pick "Personal
Chat", type commands, see what the bot answers. Needs Node, the npm dev tools (`npm install`:
@microsoft/m365agentsplayground, playwright-core) and Debian's Chromium (`apt-get install
chromium`). Skipped when they are missing, unless CI is set (then it fails).

    .venv/bin/pytest -m e2e tests/e2e -s

Screenshots (and on failure the bot and Playground logs) land in test-output/e2e/; the card
ones (help-card-fr.png, communities-fr.png, onboarding-welcome-fr.png) suit the README.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Stack, require_prerequisites

pytestmark = pytest.mark.e2e

FR_TITLE = "Carrefour — vos communautés de pratique"
EN_TITLE = "Carrefour — your communities of practice"
FR_BUTTON = "Changer de langue"
EN_BUTTON = "Change language"


def test_help_card_in_french_then_english_in_the_playground(tmp_path: Path) -> None:
    require_prerequisites()
    # The Playground always sends locale "en-US" (hard-coded in its activity generators), so the
    # French path starts by choosing French, as a French-speaking user with an English client
    # would.
    steps: list[dict[str, Any]] = [
        {"send": "langue fr", "expect": []},
        {
            "send": "aide",
            "expect": [FR_TITLE],
            "card": True,
            "screenshot": "help-fr.png",
            "cardScreenshot": "help-card-fr.png",
        },
        {"send": "language en", "expect": []},
        {"send": "help", "expect": [EN_TITLE], "card": True, "screenshot": "help-en.png"},
    ]
    with Stack(tmp_path, "help") as stack:
        stack.start()
        seen = stack.chat(steps, screenshots=["help-fr.png", "help-card-fr.png", "help-en.png"])

    french = seen.card("aide", FR_TITLE)
    assert FR_BUTTON in french["buttons"], french
    assert EN_TITLE not in french["text"]

    english = seen.card("help", EN_TITLE)
    assert EN_BUTTON in english["buttons"], english
    assert FR_TITLE not in english["text"]


# -- joining a community ------------------------------------------------------------------------

COMMUNITY = "CdeP Soins palliatifs Montérégie"
DOMAIN = (
    "Soins palliatifs et de fin de vie à domicile, en CHSLD et en maison de soins palliatifs "
    "sur le territoire des trois CISSS de la Montérégie : partager les situations cliniques "
    "complexes et harmoniser les pratiques entre les équipes."
)
OBJECTIVES = [
    "Discuter de situations cliniques complexes en toute confidentialité",
    "Harmoniser les pratiques d’accompagnement des proches aidants et du deuil",
    "Soutenir les intervenant·es nouvellement arrivé·es en soins palliatifs",
]
THEMES = ["fin de vie", "deuil", "proches aidants"]
AUDIENCE = (
    "Travailleuses et travailleurs sociaux, infirmières, psychologues et intervenant·es en "
    "soins spirituels des équipes de soins palliatifs"
)
CADENCE = "5 rencontres par année"
RULES = [
    "Ce qui se dit dans la communauté reste dans la communauté.",
    "Les situations sont présentées sans information permettant d’identifier l’usager.",
    "On respecte les opinions divergentes et le temps de parole de chacun·e.",
    "Caméra ouverte pour les personnes à distance.",
]
ESTABLISHMENT = "CLSC de Longueuil"


def test_join_a_community_in_the_playground(tmp_path: Path) -> None:
    require_prerequisites()
    steps: list[dict[str, Any]] = [
        {"send": "langue fr", "expect": []},
        {
            "send": "communautés",
            "expect": [COMMUNITY, "Rejoindre"],
            "card": True,
            "cardScreenshot": "communities-fr.png",
        },
        {"send": "rejoindre", "expect": ["Quelle est votre discipline ?"]},
        {"send": "1", "expect": ["Dans quel établissement travaillez-vous ?"]},
        {"send": ESTABLISHMENT, "expect": ["Dans quelle région administrative ?"]},
        {"send": "16", "expect": ["Quels sujets vous intéressent ?", *THEMES]},
        {"send": "1, 2", "expect": ["Êtes-vous nouveau ou nouvelle dans votre poste ?"]},
        {"send": "Oui", "expect": ["Acceptez-vous de recevoir les rappels"]},
        {
            "send": "Rappels et sondages",
            "expect": [f"Voici votre profil pour {COMMUNITY}"],
            "screenshot": "join-summary-fr.png",
        },
        {
            # The day-0 onboarding card comes from the outbox dispatcher, after the direct reply.
            "send": "Confirmer",
            "expect": ["Bienvenue, ", COMMUNITY, OBJECTIVES[0], "Règles du groupe"],
            "card": True,
            "cardScreenshot": "onboarding-welcome-fr.png",
        },
    ]
    with Stack(tmp_path, "join") as stack:
        created = stack.cli(
            "community",
            "create",
            "--name",
            COMMUNITY,
            "--domain",
            DOMAIN,
            *(arg for objective in OBJECTIVES for arg in ("--objective", objective)),
            "--theme",
            ", ".join(THEMES),
            "--audience",
            AUDIENCE,
            "--cadence",
            CADENCE,
            "--mode",
            "hybrid",
            *(arg for rule in RULES for arg in ("--rule", rule)),
        )
        assert COMMUNITY in created, created
        stack.start()
        seen = stack.chat(
            steps,
            screenshots=["communities-fr.png", "join-summary-fr.png", "onboarding-welcome-fr.png"],
        )

    listed = seen.card("communautés", "Communautés")
    assert COMMUNITY in listed["text"], listed
    assert "Rejoindre" in listed["buttons"], listed

    summary = seen.text("Rappels et sondages", f"Voici votre profil pour {COMMUNITY}")
    for answer in (
        "Travail social",
        ESTABLISHMENT,
        "Montérégie",
        "Fin de vie, Deuil",
        "Nouveau ou nouvelle dans le poste : Oui",
        "Rappels : Oui",
        "Sondages : Oui",
    ):
        assert answer in summary, f"{answer!r} not in the summary:\n{summary}"

    seen.text("Confirmer", f"Bienvenue dans {COMMUNITY} !")  # the direct reply to a newcomer
    welcome = seen.card("Confirmer", "Bienvenue, ")
    for shown in (COMMUNITY, "Domaine et mandat", "Objectifs", *OBJECTIVES, "Règles du groupe"):
        assert shown in welcome["text"], f"{shown!r} not on the onboarding card:\n{welcome}"
    # A community created from the CLI has nobody yet to confirm a mentor: no mentor button.
    assert "À désigner" in welcome["text"], welcome
    assert "Demander un·e mentor·e" not in welcome["buttons"], welcome


def test_the_demo_community_agenda_in_the_playground(tmp_path: Path) -> None:
    """`carrefour demo seed` (what `make run` loads), join it, read the next meeting's agenda."""
    require_prerequisites()
    community = "CdeP Soins palliatifs Montérégie"
    steps: list[dict[str, Any]] = [
        {"send": "langue fr", "expect": []},
        {"send": "rejoindre", "expect": ["Quelle est votre discipline ?"]},
        {"send": "3", "expect": ["Dans quel établissement"]},
        {"send": "Maison Victor-Gadbois", "expect": ["Dans quelle région administrative ?"]},
        {"send": "16", "expect": ["Quels sujets vous intéressent ?"]},
        {"send": "1, 2", "expect": ["nouveau ou nouvelle"]},
        {"send": "Non", "expect": ["rappels de rencontre"]},
        {"send": "Rappels et sondages", "expect": [f"Voici votre profil pour {community}"]},
        {"send": "Confirmer", "expect": [f"Bienvenue dans {community}"], "card": True},
        {
            "send": "ordre du jour",
            "expect": ["Ordre du jour", "Tour de table", "Objectif général"],
            "card": True,
            "cardScreenshot": "agenda-fr.png",
        },
        {
            "send": "sujets",
            "expect": ["Banque de sujets", "L’usure de compassion"],
            "card": True,
            "cardScreenshot": "topics-fr.png",
        },
    ]
    with Stack(tmp_path, "demo") as stack:
        assert "created" in stack.cli("demo", "seed")
        stack.start()
        seen = stack.chat(steps, screenshots=["agenda-fr.png", "topics-fr.png"])

    agenda = seen.card("ordre du jour", community)
    for shown in (
        community,
        "Rencontre d’automne",
        "Accueil",
        "Volet formatif",
        "Repas",
        "Discussion de cas complexe",
        "Objectifs spécifiques",
    ):
        assert shown in agenda["text"], f"{shown!r} not on the agenda card:\n{agenda}"
    assert any(button.startswith("Présent·e (") for button in agenda["buttons"]), agenda
