"""Real-client end-to-end tests of the practice-sharing features, in the Microsoft 365 Agents
Playground:

- the toolbox: on the demo community (`carrefour demo seed`), a new member shares a resource
  with the form card — a `javascript:` link is refused in French, with what they typed kept —
  then a real https link is accepted, and `outils` shows the toolbox with it, « Utile pour moi »
  clicked once;
- questions to the community: a facilitator links the Playground's channel to a new community,
  asks a question without their name from their personal chat (« poser une question »), finds
  its card in the channel, naming nobody, and adds a detail in its thread;
- the codevelopment command card (`groupes de codéveloppement`).

    .venv/bin/pytest -m e2e tests/e2e/test_playground_practice.py -s

Screenshots for the docs land in test-output/e2e/: toolbox-share-fr.png (the share form with the
refused link), toolbox-fr.png (the toolbox card), questions-ask-fr.png (the personal chat: the
question asked without a name, published), questions-card-fr.png (the question's card in the
channel), codevelopment-fr.png (« Mes groupes de codéveloppement ») and
codevelopment-group-fr.png (a group's card).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    CHANNEL_NAME,
    DEMO,
    FACILITATOR,
    NBSP,
    Stack,
    mention,
    require_prerequisites,
)

pytestmark = pytest.mark.e2e


JOIN_DEMO: list[dict[str, Any]] = [
    # The Playground says "en-US": a French speaker's client is often English.
    {"send": "langue fr", "expect": []},
    {"send": "rejoindre", "expect": [f"Quelle est votre discipline{NBSP}?"]},
    {"send": "1", "expect": ["Dans quel établissement"]},
    {"send": "CLSC de Longueuil", "expect": [f"Dans quelle région administrative{NBSP}?"]},
    {"send": "16", "expect": [f"Quels sujets vous intéressent{NBSP}?"]},
    {"send": "1, 2", "expect": ["nouveau ou nouvelle"]},
    {"send": "Non", "expect": ["rappels de rencontre"]},
    {"send": "Rappels et sondages", "expect": [f"Voici votre profil pour {DEMO}"]},
    {"send": "Confirmer", "expect": [f"Bienvenue dans {DEMO}"], "card": True},
]


# -- the toolbox -------------------------------------------------------------------------------

RESOURCE = "Échelle d’évaluation de la détresse (ESAS-r)"
LINK = "https://www.inesss.qc.ca/outils-cliniques/esas-r-guide.pdf"
WHY = "Je l’utilise à chaque visite à domicile pour suivre les symptômes d’une semaine à l’autre."
FORM_TITLE = f"Partager un outil avec {DEMO}"
REFUSED = f"Seuls les liens web (http:// ou https://) sont acceptés{NBSP}:"


def test_a_member_shares_a_resource_and_finds_it_in_the_toolbox(tmp_path: Path) -> None:
    require_prerequisites()
    form = {
        "Titre": RESOURCE,
        "Lien (http ou https, p. ex. un fichier Teams ou SharePoint)": "javascript:alert(1)",
        "Type": "Outil clinique",
        "Thèmes (jusqu’à 5, séparés par des virgules)": "Fin de vie, Évaluation",
        f"Pourquoi est-il utile{NBSP}?": WHY,
    }
    shares: list[dict[str, Any]] = [
        {"send": "partager un outil", "expect": [FORM_TITLE, "Partager"], "card": True},
        {
            "click": "Partager",
            "in": [FORM_TITLE],
            "fill": form,
            "label": "refused",
            # The form again, with what to fix above the fields and what was typed kept.
            "expect": [FORM_TITLE, REFUSED],
            "card": True,
            "cardScreenshot": "toolbox-share-fr.png",
        },
        {
            "click": "Partager",
            "in": [REFUSED],
            "fill": {"Lien (http ou https, p. ex. un fichier Teams ou SharePoint)": LINK},
            "label": "accepted",
            "expect": [f"«{NBSP}{RESOURCE}{NBSP}» est maintenant dans la boîte à outils de {DEMO}"],
            "card": True,
        },
        {
            "send": "outils",
            "expect": [f"Boîte à outils — {DEMO}", RESOURCE, "Utile pour moi"],
            "card": True,
            "cardScreenshot": "toolbox-fr.png",
        },
        {
            "click": "Utile pour moi",
            "in": [RESOURCE],
            "label": "useful",
            "expect": [
                RESOURCE,
                f"1{NBSP}personne l’a trouvé utile",
                f"Retirer «{NBSP}utile{NBSP}»",
            ],
            "card": True,
        },
    ]
    with Stack(tmp_path, "toolbox") as stack:
        assert "created" in stack.cli("demo", "seed")
        stack.start()
        seen = stack.chat(
            [*JOIN_DEMO, *shares], screenshots=["toolbox-share-fr.png", "toolbox-fr.png"]
        )

    refused = seen.card_showing("refused", REFUSED)
    assert "Partager" in refused["buttons"], refused
    toolbox = seen.card("outils", f"Boîte à outils — {DEMO}")
    for shown in (RESOURCE, WHY, "Outil clinique", "Partagé par Nadia Tremblay"):
        assert shown in toolbox["text"], f"{shown!r} not on the toolbox card:\n{toolbox}"
    assert {"Ouvrir", "Utile pour moi", "Partager un outil"} <= set(toolbox["buttons"]), toolbox
    # A new member manages their own share, not the others': no « Épingler ».
    assert "Retirer mon partage" in toolbox["buttons"], toolbox
    assert "Épingler" not in toolbox["buttons"], toolbox
    marked = seen.card("useful", f"Boîte à outils — {DEMO}")
    assert "Utile pour moi" not in marked["buttons"], marked


# -- questions to the community ----------------------------------------------------------------

QUESTION = (
    "Quels outils utilisez-vous pour préparer une famille à un décès à domicile, "
    f"surtout la nuit quand l’équipe n’est pas joignable{NBSP}?"
)
DETAIL = (
    "Précision : je cherche surtout un aide-mémoire à laisser au domicile, "
    "avec les numéros de garde et quoi faire en premier."
)
ASKED = f"Quelle est votre question pour {DEMO}{NBSP}?"
PUBLISHED = f"Votre question est publiée sans votre nom dans le canal de {DEMO}"


def test_a_question_asked_without_a_name_and_its_card_in_the_channel(tmp_path: Path) -> None:
    require_prerequisites()
    steps: list[dict[str, Any]] = [
        {"send": "langue fr", "expect": []},
        # The community, linked to the Playground's channel: its questions are posted there.
        {"open": CHANNEL_NAME},
        mention("configurer", expect=["Configurer une communauté de pratique"], card=True),
        {
            "click": "Créer la communauté",
            "fill": {
                "Nom": DEMO,
                "Objectifs (un par ligne)": "Partager nos pratiques en soins palliatifs",
                "Thèmes (séparés par des virgules)": "fin de vie, deuil, proches aidants",
            },
            "expect": [f"La communauté «{NBSP}{DEMO}{NBSP}» est créée et liée à ce canal."],
        },
        {"open": "Personal Chat"},
        {"send": "poser une question", "expect": [ASKED]},
        {"send": QUESTION, "expect": [f"Votre nom doit-il paraître avec la question{NBSP}?"]},
        {
            "send": "Sans mon nom",
            "expect": [f"Votre question pour {DEMO}{NBSP}:", QUESTION, "sans votre nom"],
        },
        {"send": "Publier", "expect": [PUBLISHED], "screenshot": "questions-ask-fr.png"},
        # The card went to the channel through the outbox meanwhile: already there.
        {
            "open": CHANNEL_NAME,
            "label": "card",
            "expect": ["Question à la communauté", QUESTION, "Aucune réponse pour l’instant."],
            "card": True,
            "cardScreenshot": "questions-card-fr.png",
        },
        # An answer in its thread (the Playground sends no inputs from the card that opens a
        # thread, so its own form cannot be tried here): the card is updated in place.
        mention(
            DETAIL,
            inThread=[QUESTION],
            label="answer",
            expect=["Question à la communauté", QUESTION, f"1{NBSP}réponse", DETAIL],
            card=True,
        ),
    ]
    with Stack(tmp_path, "questions") as stack:
        stack.start()
        seen = stack.chat(steps, screenshots=["questions-ask-fr.png", "questions-card-fr.png"])

    summary = seen.text("Sans mon nom", "Votre question pour")
    assert "sans votre nom" in summary, summary
    posted = seen.card("card", "Question à la communauté")
    # Asked without a name: the card names nobody.
    assert f"Posée sans nom dans {DEMO}" in posted["text"], posted
    assert FACILITATOR.given_name not in posted["text"], posted
    assert FACILITATOR.surname not in posted["text"], posted
    assert {"Répondre", "Gérer la question"} <= set(posted["buttons"]), posted
    # A reply in the thread shows its writer's name in Teams: the card says the same (and the
    # asker was warned so when it was published), without telling they asked it.
    answered = seen.card("answer", "Question à la communauté")
    assert FACILITATOR.name in answered["text"], answered
    assert "La personne qui pose la question" not in answered["text"], answered


# -- codevelopment -----------------------------------------------------------------------------

GROUP = "Groupe de codéveloppement Rive-Sud"  # seeded: tests/e2e/seed_codevelopment.py


def test_a_facilitator_finds_their_codevelopment_group(tmp_path: Path) -> None:
    require_prerequisites()
    with Stack(tmp_path, "codevelopment") as stack:
        assert "created" in stack.cli("demo", "seed")
        stack.start()
        stack.chat(JOIN_DEMO)
        stack.cli(
            "community",
            "grant",
            "--community",
            "1",
            "--person",
            "29:nadia-tremblay",
            "--role",
            "animator",
        )
        stack.seed("seed_codevelopment", GROUP, FACILITATOR.user_id)
        seen = stack.chat(
            [
                {
                    "send": "groupes de codéveloppement",
                    "expect": ["Mes groupes de codéveloppement", GROUP, f"Prochaine séance{NBSP}:"],
                    "card": True,
                    "cardScreenshot": "codevelopment-fr.png",
                },
                {
                    "click": f"Ouvrir «{NBSP}{GROUP}{NBSP}»",
                    "expect": [GROUP],
                    "card": True,
                    "cardScreenshot": "codevelopment-group-fr.png",
                },
            ],
            screenshots=["codevelopment-fr.png", "codevelopment-group-fr.png"],
        )

    groups = seen.card("groupes de codéveloppement", "Mes groupes de codéveloppement")
    assert DEMO in groups["text"], groups
    assert f"Ouvrir «{NBSP}{GROUP}{NBSP}»" in groups["buttons"], groups
