"""Real-client end-to-end test of a community's year, in the Microsoft 365 Agents Playground, as
its facilitator: on the demo community (`carrefour demo seed`) with a year recorded around it
(tests/e2e/seed_year.py: productions, objectives' status, mentoring, a guest), bound to the
Playground's channel.

In the channel: the year's series of meetings planned from the form (five dates picked in the
calendar, places in rotation), a date completed into the meeting form, the charter edited, and
`bilan annuel` sent privately. In the personal chat: the register of productions, the 2026
objectives' status (one set on the card), the 2026 annual review (a year typed in words is
refused in French), the administrative support's lists, the partial presence card and the
mentoring supervision card.

    .venv/bin/pytest -q -m e2e tests/e2e/test_playground_year.py -s

Screenshots for the docs land in test-output/e2e/: plan-series-form-fr.png (the series form),
plan-series-fr.png (the year's dates), charter-fr.png (the charter form), productions-fr.png,
objectives-fr.png, annual-review-fr.png, admin-lists-fr.png, attendance-details-fr.png and
supervision-fr.png.
"""

from __future__ import annotations

from datetime import date, timedelta
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
    require_prerequisites,
)

pytestmark = pytest.mark.e2e

PLACES = ["CLSC Samuel-de-Champlain, salle 204", "Hôpital Charles-LeMoyne, salle A-110"]
CADENCE = "5 rencontres par année, dont au moins une en présence"
OBJECTIVE = "Discuter de situations cliniques complexes en toute confidentialité"
COMMENT = "Cinq situations complexes discutées en rencontre, sans renseignement identifiant."
TUESDAY = 1
THIS = "cette version"


def series_days(today: date, count: int = 5) -> list[date]:
    """Tuesdays nine weeks apart from five weeks ahead: in the future and within 18 months, as
    the bot requires, and never in the holiday break (24 December to 2 January)."""
    days: list[date] = []
    day = today + timedelta(days=35)
    while len(days) < count:
        in_break = (day.month, day.day) >= (12, 24) or (day.month, day.day) <= (1, 2)
        if day.weekday() == TUESDAY and not in_break:
            days.append(day)
            day += timedelta(days=63)
        else:
            day += timedelta(days=1)
    return days


def test_a_facilitator_plans_the_year_and_reviews_it(tmp_path: Path) -> None:
    require_prerequisites()
    days = series_days(date.today())
    dates = {f"Rencontre {n}": day.isoformat() for n, day in enumerate(days, start=1)}
    in_channel: list[dict[str, Any]] = [
        {"open": CHANNEL_NAME},
        mention(
            "planifier l’année",
            expect=["Planifier les rencontres de l’année", "Lieux en alternance", "Créer la série"],
            card=True,
            cardScreenshot="plan-series-form-fr.png",
        ),
        {
            "click": "Créer la série",
            "in": ["Planifier les rencontres de l’année"],
            "fill": {**dates, "Lieux en alternance (un par ligne)": "\n".join(PLACES)},
            "label": "series",
            "expect": ["Rencontres de l’année", f"Planifiées{NBSP}: 0 sur 5{NBSP}dates"],
            "card": True,
            "alsoExpect": [f"Série créée{NBSP}: 5{NBSP}dates à compléter une à une."],
            "cardScreenshot": "plan-series-fr.png",
        },
        {
            "click": "Compléter",
            "in": ["Rencontres de l’année"],
            "label": "complete",
            "expect": [f"Compléter la rencontre{NBSP}:"],
        },
        mention(
            "modifier la charte",
            expect=[f"Charte de {DEMO}", "Règles du groupe (une par ligne)"],
            card=True,
            cardScreenshot="charter-fr.png",
        ),
        {
            "click": "Enregistrer la charte",
            "in": [f"Charte de {DEMO}"],
            "fill": {"Fréquence des rencontres": CADENCE},
            "label": "charter",
            "expect": [CADENCE],
            "alsoExpect": [
                f"Charte mise à jour{NBSP}: les nouveaux membres verront cette version."
            ],
        },
        # From the channel, the review goes to the person's own chat: figures for the few.
        mention(
            "bilan annuel 2026",
            label="review in channel",
            expect=["Je vous envoie le bilan annuel en conversation privée."],
        ),
    ]
    in_chat: list[dict[str, Any]] = [
        {
            "send": "productions",
            "expect": [
                f"Productions — {DEMO}",
                "Guide d’accompagnement du deuil des proches aidants (Guide, 20 mai 2026)",
                "avec Léa Tremblay, Chloé Roy",
                "Ajouter une production",
            ],
            "card": True,
            "cardScreenshot": "productions-fr.png",
        },
        {
            "send": "statut des objectifs 2026",
            "expect": [f"Objectifs 2026 — {DEMO}", OBJECTIVE, "Date d’envoi du bilan annuel"],
            "card": True,
        },
        {
            # The first « Statut » and « Commentaire » are the first objective's.
            "click": "Enregistrer",
            "in": [f"Objectifs 2026 — {DEMO}"],
            "fill": {"Statut": "atteint", "Commentaire": COMMENT},
            "label": "objective",
            "expect": [f"Objectifs 2026 — {DEMO}", "Statut enregistré."],
            "card": True,
            "cardScreenshot": "objectives-fr.png",
        },
        {
            "send": "bilan annuel 2026",
            "expect": [
                f"Bilan annuel 2026 — {DEMO}",
                "Du dimanche 15 juin 2025 au dimanche 14 juin 2026",
                "Rencontres tenues par mois",
                # Thirteen calendar months, June at both ends: each label has its year.
                "juin 2025",
                "juin 2026",
                f"{OBJECTIVE}{NBSP}: atteint — {COMMENT}",
                "Télécharger le PDF",
            ],
            "card": True,
            "cardScreenshot": "annual-review-fr.png",
        },
        {
            "send": "bilan annuel deux mille vingt-six",
            "expect": [
                f"Je n’ai pas compris l’année. Écrivez par exemple «{NBSP}bilan annuel 2026{NBSP}»."
            ],
        },
        {
            "send": "listes administratives",
            "expect": [
                f"Listes administratives — {DEMO}",
                "Liste d’envoi (CSV)",
                "Feuille de temps (CSV)",
                "Feuilles de présence",
                f"{NBSP}: PDF · CSV",
            ],
            "card": True,
            "cardScreenshot": "admin-lists-fr.png",
        },
        {
            "send": "présences détaillées",
            "expect": [
                "Présences détaillées — ",
                "Dre Marie Roy (Conférencier·ère invité·e)",
                # The day's 5 h 45 of training (the meal left out); 45 minutes late: 5 h.
                f"— 5,75{NBSP}h",
                f"— 5{NBSP}h",
            ],
            "card": True,
            "cardScreenshot": "attendance-details-fr.png",
        },
        {
            "send": "supervision du mentorat",
            "expect": [
                f"Supervision du mentorat — {DEMO}",
                "Jumelages",
                "Demandes en attente",
                "Juliette Bélanger, depuis le",
                "Charge des mentors",
                f"Mathieu Côté{NBSP}: 1{NBSP}jumelage sur 2",
            ],
            "card": True,
            "cardScreenshot": "supervision-fr.png",
        },
    ]
    with Stack(tmp_path, "year") as stack:
        assert "created" in stack.cli("demo", "seed")
        stack.start()
        stack.chat([{"send": "langue fr", "expect": []}])  # the facilitator, known to the bot
        stack.seed("seed_year", FACILITATOR.user_id, TEAM_ID, CHANNEL_ID)
        channel = stack.chat(
            in_channel,
            screenshots=["plan-series-form-fr.png", "plan-series-fr.png", "charter-fr.png"],
        )
        chat = stack.chat(
            in_chat,
            screenshots=[
                "productions-fr.png",
                "objectives-fr.png",
                "annual-review-fr.png",
                "admin-lists-fr.png",
                "attendance-details-fr.png",
                "supervision-fr.png",
            ],
        )

    series = channel.card("series", "Rencontres de l’année")
    # The places went in turn to the five hybrid dates; each is a draft to complete.
    for place in PLACES:
        assert place in series["text"], series
    assert series["text"].count("brouillon à compléter") == 5, series
    assert series["buttons"].count("Compléter") == 5, series
    charter = channel.card_showing("charter", CADENCE)
    assert DEMO in charter["text"], charter

    productions = chat.card("productions", f"Productions — {DEMO}")
    # Named only with their consent; the facilitator manages every entry.
    assert "Nadia Tremblay" not in productions["text"], productions
    assert {"J’y ai contribué (me nommer)", "Modifier", "Retirer"} <= set(productions["buttons"])
    review = chat.card("bilan annuel 2026", f"Bilan annuel 2026 — {DEMO}")
    for shown in ("Rencontres tenues", "Satisfaction", "Productions", "Total", "Signaux"):
        assert shown in review["text"], f"{shown!r} not on the review:\n{review}"
    # The production of October 2026 belongs to the next review.
    assert "directives médicales anticipées" not in review["text"], review
    assert {"Statut des objectifs", "Registre des productions"} <= set(review["buttons"]), review
    supervision = chat.card("supervision du mentorat", f"Supervision du mentorat — {DEMO}")
    # The check-in's date is shown, never what was said in it.
    assert "dernier bilan le" in supervision["text"], supervision
    assert "Nos rencontres m’aident" not in supervision["text"], supervision
