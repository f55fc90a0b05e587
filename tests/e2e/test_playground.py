"""Real-client end-to-end tests: the bot behind the Microsoft 365 Agents Playground.

A person's path through the product, in a real browser: open the Playground, pick "Personal
Chat", type commands, see what the bot answers. Needs Node, the npm dev tools (`npm install`:
@microsoft/m365agentsplayground, playwright-core) and Debian's Chromium (`apt-get install
chromium`). Skipped when they are missing, unless CI is set (then it fails).

    .venv/bin/pytest -m e2e tests/e2e -s

Screenshots (and on failure the bot and Playground logs) land in test-output/e2e/; the card
ones (help-card-fr.png, communities-fr.png, onboarding-welcome-fr.png) suit the README. A team
channel, with a facilitator and a member, is in test_playground_channel.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import MEMBER, Stack, require_prerequisites

pytestmark = pytest.mark.e2e

FR_TITLE = "Carrefour — vos communautés de pratique"
EN_TITLE = "Carrefour — your communities of practice"
FR_BUTTON = "Changer de langue"
EN_BUTTON = "Change language"
SEASON_TITLE = r"Rencontre (d’hiver|du printemps|d’été|de la rentrée|d’automne) \d{4}"


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


def test_a_french_speaker_on_an_english_client_is_answered_in_french(tmp_path: Path) -> None:
    """The Playground, like many clients in Quebec, says "en-US": writing `aide` (no `langue
    fr`) gets the French help card, and the choice is remembered for words of both languages."""
    require_prerequisites()
    steps: list[dict[str, Any]] = [
        # The answer takes about a second: an English card instead fails fast.
        {"send": "aide", "expect": [FR_TITLE], "card": True, "timeoutMs": 20_000},
        {"send": "menu", "expect": [FR_TITLE], "card": True, "timeoutMs": 20_000},  # both languages
    ]
    with Stack(tmp_path, "french") as stack:
        stack.start(as_person=MEMBER)
        seen = stack.chat(steps)

    for sent in ("aide", "menu"):
        french = seen.card(sent, FR_TITLE)
        assert FR_BUTTON in french["buttons"], french
        assert EN_TITLE not in french["text"], french
        assert not any(EN_TITLE in reply["text"] for reply in seen.replies(sent))


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
        {"send": "rejoindre", "expect": ["Quelle est votre discipline\u00a0?"]},
        {"send": "1", "expect": ["Dans quel établissement travaillez-vous\u00a0?"]},
        {"send": ESTABLISHMENT, "expect": ["Dans quelle région administrative\u00a0?"]},
        {"send": "16", "expect": ["Quels sujets vous intéressent\u00a0?", *THEMES]},
        {"send": "1, 2", "expect": ["Êtes-vous nouveau ou nouvelle dans votre poste\u00a0?"]},
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
        "Nouveau ou nouvelle dans le poste\u00a0: Oui",
        "Rappels\u00a0: Oui",
        "Sondages\u00a0: Oui",
    ):
        assert answer in summary, f"{answer!r} not in the summary:\n{summary}"

    seen.text("Confirmer", f"Bienvenue dans {COMMUNITY}\u00a0!")  # the direct reply to a newcomer
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
        {"send": "rejoindre", "expect": ["Quelle est votre discipline\u00a0?"]},
        {"send": "3", "expect": ["Dans quel établissement"]},
        {"send": "Maison Victor-Gadbois", "expect": ["Dans quelle région administrative\u00a0?"]},
        {"send": "16", "expect": ["Quels sujets vous intéressent\u00a0?"]},
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
    # The demo's next meeting is a few weeks from today, titled after its season.
    assert re.search(SEASON_TITLE, agenda["text"]), agenda
    for shown in (
        community,
        "Accueil",
        "Volet formatif",
        "Repas",
        "Discussion de cas complexe",
        "Objectifs spécifiques",
    ):
        assert shown in agenda["text"], f"{shown!r} not on the agenda card:\n{agenda}"
    assert any(button.startswith("Présent·e (") for button in agenda["buttons"]), agenda
