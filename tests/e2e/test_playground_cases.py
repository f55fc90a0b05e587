"""Real-client end-to-end test of a complex-case discussion, in the Microsoft 365 Agents
Playground: on the demo community (`carrefour demo seed`), its facilitator submits a case in
their personal chat — a phone number in the context is spotted and must be rewritten (a phone
number cannot be confirmed, only a name can) — then, as the
community's facilitator, picks it for the next meeting and finds it on the agenda card, under
the reflective part, with their name (they agreed).

    .venv/bin/pytest -m e2e tests/e2e -k cases -s

Screenshots for the docs land in test-output/e2e/: cases-screening-fr.png (the window with what
was spotted), cases-facilitator-fr.png (the facilitators' card) and agenda-case-fr.png (the
agenda card with the case).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import DEMO as COMMUNITY
from tests.e2e.harness import NBSP, Stack, require_prerequisites

pytestmark = pytest.mark.e2e

TITLE = "Refus des services à domicile"


def test_a_case_submitted_screened_picked_and_on_the_agenda(tmp_path: Path) -> None:
    require_prerequisites()
    joining: list[dict[str, Any]] = [
        {"send": "langue fr", "expect": []},
        {"send": "rejoindre", "expect": [f"Quelle est votre discipline{NBSP}?"]},
        {"send": "3", "expect": ["Dans quel établissement"]},
        {"send": "CLSC de Longueuil", "expect": [f"Dans quelle région administrative{NBSP}?"]},
        {"send": "16", "expect": [f"Quels sujets vous intéressent{NBSP}?"]},
        {"send": "1, 2", "expect": ["nouveau ou nouvelle"]},
        {"send": "Non", "expect": ["rappels de rencontre"]},
        {"send": "Rappels et sondages", "expect": [f"Voici votre profil pour {COMMUNITY}"]},
        {"send": "Confirmer", "expect": [f"Bienvenue dans {COMMUNITY}"], "card": True},
    ]
    steps: list[dict[str, Any]] = [
        {"send": "soumettre un cas", "expect": [f"Quel court titre donner à ce cas{NBSP}?"]},
        {"send": TITLE, "expect": [f"Quel est le contexte de la situation{NBSP}?"]},
        {
            "send": "Une dame âgée vit seule; sa fille a laissé le 514 555-1234 pour la joindre.",
            "expect": ["ressemble à un numéro de téléphone", "ne peut pas rester"],
            "screenshot": "cases-screening-fr.png",
        },
        {
            "send": "Une dame âgée vit seule et refuse l’aide à domicile depuis deux mois.",
            "expect": ["Qu’est-ce qui rend cette situation complexe"],
        },
        {
            "send": "Elle est apte, mais sa sécurité inquiète l’équipe et ses proches.",
            "expect": ["Quelle question voulez-vous poser au groupe"],
        },
        {
            "send": "Comment respecter son choix tout en gardant le lien?",
            "expect": ["Qu’avez-vous déjà essayé"],
        },
        {"send": "passer", "expect": ["Acceptez-vous que votre nom figure"]},
        {"send": "Oui, afficher mon nom", "expect": [f"Voici votre cas pour {COMMUNITY}"]},
        {"send": "Soumettre", "expect": [f"Votre cas «{NBSP}{TITLE}{NBSP}» est soumis"]},
        {
            "send": "discussions de cas",
            "expect": ["Cas soumis", TITLE, "Retenir pour cette rencontre"],
            "card": True,
            "cardScreenshot": "cases-facilitator-fr.png",
        },
        {
            "click": "Retenir pour cette rencontre",
            "in": ["Cas soumis"],
            "expect": [f"«{NBSP}{TITLE}{NBSP}» est retenu pour"],
        },
        {
            "send": "ordre du jour",
            "expect": ["Ordre du jour", f"Cas{NBSP}: «{NBSP}{TITLE}{NBSP}», présenté par"],
            "card": True,
            "cardScreenshot": "agenda-case-fr.png",
        },
    ]
    with Stack(tmp_path, "cases") as stack:
        assert "created" in stack.cli("demo", "seed")
        stack.start()
        stack.chat(joining)
        # The member who joined is made the community's facilitator (the demo's only community).
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
        seen = stack.chat(
            steps,
            screenshots=[
                "cases-screening-fr.png",
                "cases-facilitator-fr.png",
                "agenda-case-fr.png",
            ],
        )

    spotted = seen.text(
        "Une dame âgée vit seule; sa fille a laissé le 514 555-1234 pour la joindre.",
        "ressemble à",
    )
    # The number itself is never repeated back.
    assert "555-1234" not in spotted, spotted
    agenda = seen.card_showing("ordre du jour", "Volet réflexif")
    assert TITLE in agenda["text"], agenda
