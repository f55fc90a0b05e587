"""Real-client end-to-end test of a date poll that becomes a meeting, in the Microsoft 365 Agents
Playground, as a facilitator of the demo community (`carrefour demo seed`) bound to the
Playground's channel (tests/e2e/seed_date_poll.py `bind`, with three productions in its
register).

In the channel: `sondage de dates` opens the form; three dates are picked in the calendar and
the poll is posted in the channel. Then the poll's week is played by the seed (`close`): four
members vote, and at a clock passed in, after the closing time, the real jobs close the poll
and queue its winning date, which the bot's outbox posts in the channel. The facilitator opens
the meeting form from that card (« Remplir ici »: the Playground has no Teams dialogs), filled
with the winning date. Then the charter, saved again, shows the community's one-pager with its
productions.

    .venv/bin/pytest -q -m e2e tests/e2e/test_playground_date_poll.py -s

Screenshots for the docs land in test-output/e2e/: date-poll-fr.png (the poll as posted in the
channel), date-poll-outcome-fr.png (the winning date), date-poll-meeting-fr.png (the meeting form
filled with it) and one-pager-productions-fr.png.
"""

from __future__ import annotations

import subprocess
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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

ZONE = ZoneInfo("America/Montreal")  # the bot's default time zone (bot/settings.py)
QUESTION = f"Quelle date vous convient pour notre rencontre d’hiver{NBSP}?"
TUESDAY = 1


def poll_days(today: date) -> list[date]:
    """A Tuesday, Wednesday and Thursday two weeks ahead or later, after the poll closes (a
    week from today by default) and outside the holiday break (24 December to 2 January)."""

    def in_break(day: date) -> bool:
        return (day.month, day.day) >= (12, 24) or (day.month, day.day) <= (1, 2)

    day = today + timedelta(days=14)
    while True:
        week = [day + timedelta(days=n) for n in range(3)]
        if day.weekday() == TUESDAY and not any(in_break(d) for d in week):
            return week
        day += timedelta(days=1)


def test_a_date_poll_becomes_a_meeting_and_the_one_pager_lists_productions(
    tmp_path: Path,
) -> None:
    require_prerequisites()
    today = datetime.now(ZONE).date()
    days = poll_days(today)
    # The form's default closing: a week from today at 17 h; the jobs run the next morning.
    closing_day = today + timedelta(days=7)
    jobs_at = datetime.combine(closing_day + timedelta(days=1), time(9, 0), tzinfo=ZONE)
    launch: list[dict[str, Any]] = [
        {"open": CHANNEL_NAME},
        mention(
            "sondage de dates",
            expect=["Sondage de dates", "Date 1", "Fermeture du sondage", "Lancer le sondage"],
            card=True,
        ),
        {
            "click": "Lancer le sondage",
            "in": ["Sondage de dates"],
            "fill": {
                "Question": QUESTION,
                "Date 1": days[0].isoformat(),
                "Date 2": days[1].isoformat(),
                "Date 3": days[2].isoformat(),
            },
            "label": "poll",
            "expect": [QUESTION, "Plusieurs choix possibles", "Personne n’a encore voté."],
            "card": True,
            "cardScreenshot": "date-poll-fr.png",
        },
    ]
    outcome: list[dict[str, Any]] = [
        {
            # Nothing to do but wait: the seed closes the poll, the bot posts the outcome.
            "open": CHANNEL_NAME,
            "label": "outcome",
            "expect": [
                "Sondage de dates terminé",
                QUESTION,
                f"Date retenue{NBSP}:",
                f"(3{NBSP}votes)",
                "Planifier la rencontre",
                "Remplir ici",
            ],
            "card": True,
            "cardScreenshot": "date-poll-outcome-fr.png",
        },
        {
            "click": "Remplir ici",
            "in": ["Sondage de dates terminé"],
            "label": "meeting form",
            "expect": ["Planifier une rencontre", "Titre (facultatif)", "Date", "Début", "Fin"],
            "card": True,
            "cardScreenshot": "date-poll-meeting-fr.png",
        },
        mention(
            "modifier la charte",
            expect=[f"Charte de {DEMO}"],
            card=True,
        ),
        {
            "click": "Enregistrer la charte",
            "in": [f"Charte de {DEMO}"],
            "label": "one-pager",
            "expect": [
                DEMO,
                "Nos productions",
                "Guide d’accompagnement du deuil des proches aidants (Guide, 20 mai 2026)",
                "avec Léa Tremblay, Chloé Roy",
                "Proposer un sujet",
            ],
            "card": True,
            "cardScreenshot": "one-pager-productions-fr.png",
        },
    ]
    with Stack(tmp_path, "date-poll") as stack:
        assert "created" in stack.cli("demo", "seed")
        stack.start()
        stack.chat([{"send": "langue fr", "expect": []}])  # the facilitator, known to the bot
        stack.seed(
            "seed_date_poll",
            "bind",
            FACILITATOR.user_id,
            TEAM_ID,
            CHANNEL_ID,
            in_bot_directory=True,
        )
        # The poll's week, played once the poll is posted, while the browser stays on the
        # channel: the outcome is a reply in the poll's thread, which a reopened Playground
        # no longer shows.
        week = subprocess.Popen(
            stack.seed_command("seed_date_poll", "close", jobs_at.isoformat()),
            cwd=stack.tmp_path,
            env=stack.seed_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            seen = stack.chat(
                [*launch, *outcome],
                screenshots=[
                    "date-poll-fr.png",
                    "date-poll-outcome-fr.png",
                    "date-poll-meeting-fr.png",
                    "one-pager-productions-fr.png",
                ],
            )
        finally:
            try:
                _, errors = week.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                week.kill()
                _, errors = week.communicate()
        assert week.returncode == 0, errors

    poll = seen.card_showing("poll", QUESTION)
    # Members tick every date that suits them; the three typed dates are its options.
    assert "Voter" in poll["buttons"], poll
    for day in days:
        assert f" {day.day} " in poll["text"], (day, poll)
    won = seen.card("outcome", "Sondage de dates terminé")
    # The second date won (three ballots); the form under it is filled with that day.
    assert str(days[1].day) in won["text"], won
    form = seen.card_showing("meeting form", "Titre (facultatif)")
    assert "Planifier une rencontre" in form["text"], form
    one_pager = seen.card_showing("one-pager", "Nos productions")
    assert "Trajectoire de soins palliatifs à domicile en Montérégie" in one_pager["text"]
