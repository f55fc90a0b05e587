"""Reading what a person typed: French and English command words."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dialogs.base import CANCEL_WORDS, simplify
from storage.models import Role


class Command(enum.StrEnum):
    HELP = "help"
    LANGUAGE = "language"
    CANCEL = "cancel"
    SETUP = "setup"
    COMMUNITIES = "communities"
    JOIN = "join"
    LEAVE = "leave"
    GRANT = "grant"
    REVOKE = "revoke"
    ONBOARDING = "onboarding"
    MENTOR = "mentor"
    VOLUNTEER = "volunteer"
    PLAN_MEETING = "plan_meeting"
    AGENDA = "agenda"
    EDIT_AGENDA = "edit_agenda"
    CANCEL_MEETING = "cancel_meeting"
    MOVE_MEETING = "move_meeting"
    TOPICS = "topics"
    POLL = "poll"
    ANSWER_SURVEY = "answer_survey"
    NEEDS_SURVEY = "needs_survey"
    RESULTS = "results"
    SUMMARY = "summary"
    MY_DATA = "my_data"
    CONSULTATION = "consultation"
    MY_REQUESTS = "my_requests"
    ASSIGNED_REQUESTS = "assigned_requests"
    VOLUNTEER_CONSULTANT = "volunteer_consultant"
    CONSULTATION_AUDIT = "consultation_audit"
    ATTESTATION = "attestation"
    ATTESTATIONS = "attestations"
    PROPOSE_TOPIC = "propose_topic"
    UNKNOWN = "unknown"


# Compared after `simplify` (lower case, accents removed). Several words per command: people
# type what they say.
_WORDS: dict[str, Command] = {
    "aide": Command.HELP,
    "help": Command.HELP,
    "menu": Command.HELP,
    "?": Command.HELP,
    "bonjour": Command.HELP,
    "allo": Command.HELP,
    "salut": Command.HELP,
    "hello": Command.HELP,
    "hi": Command.HELP,
    "langue": Command.LANGUAGE,
    "language": Command.LANGUAGE,
    "lang": Command.LANGUAGE,
    "configurer": Command.SETUP,
    "setup": Command.SETUP,
    "configure": Command.SETUP,
    "communautes": Command.COMMUNITIES,
    "communaute": Command.COMMUNITIES,
    "communities": Command.COMMUNITIES,
    "community": Command.COMMUNITIES,
    "rejoindre": Command.JOIN,
    "adherer": Command.JOIN,
    "join": Command.JOIN,
    "quitter": Command.LEAVE,
    "leave": Command.LEAVE,
    "nommer": Command.GRANT,
    "appoint": Command.GRANT,
    "grant": Command.GRANT,
    "retirer": Command.REVOKE,
    "revoke": Command.REVOKE,
    "remove": Command.REVOKE,
    "accueil": Command.ONBOARDING,
    "onboarding": Command.ONBOARDING,
    "agenda": Command.AGENDA,
    "consultation": Command.CONSULTATION,
    "consultant": Command.VOLUNTEER_CONSULTANT,
    "consultante": Command.VOLUNTEER_CONSULTANT,
    "resultats": Command.RESULTS,
    "results": Command.RESULTS,
    "bilan": Command.SUMMARY,
    "summary": Command.SUMMARY,
    "attestation": Command.ATTESTATION,
    "certificate": Command.ATTESTATION,
    "attestations": Command.ATTESTATIONS,
    "certificates": Command.ATTESTATIONS,
    "sondage": Command.POLL,
    "poll": Command.POLL,
    "sujets": Command.TOPICS,
    "topics": Command.TOPICS,
    "proposer": Command.PROPOSE_TOPIC,
    "propose": Command.PROPOSE_TOPIC,
    "planifier": Command.PLAN_MEETING,
    "mentor": Command.MENTOR,
    "mentore": Command.MENTOR,
    "mentorat": Command.MENTOR,
    "jumelage": Command.MENTOR,
    **dict.fromkeys(CANCEL_WORDS, Command.CANCEL),
}

# Two-word commands, checked before single words.
_PHRASES: dict[str, Command] = {
    "devenir mentor": Command.VOLUNTEER,
    "devenir mentore": Command.VOLUNTEER,
    "mentor volunteer": Command.VOLUNTEER,
    "volunteer mentor": Command.VOLUNTEER,
    "plan d'accueil": Command.ONBOARDING,
    "onboarding plan": Command.ONBOARDING,
    "demandes assignees": Command.ASSIGNED_REQUESTS,
    "assigned requests": Command.ASSIGNED_REQUESTS,
    "mes demandes": Command.MY_REQUESTS,
    "my requests": Command.MY_REQUESTS,
    "demander une consultation": Command.CONSULTATION,
    "ask for a consultation": Command.CONSULTATION,
    "devenir consultant": Command.VOLUNTEER_CONSULTANT,
    "devenir consultante": Command.VOLUNTEER_CONSULTANT,
    "consultant volunteer": Command.VOLUNTEER_CONSULTANT,
    "journal des consultations": Command.CONSULTATION_AUDIT,
    "consultation audit": Command.CONSULTATION_AUDIT,
    "mes donnees": Command.MY_DATA,
    "my data": Command.MY_DATA,
    "repondre au sondage": Command.ANSWER_SURVEY,
    "answer the survey": Command.ANSWER_SURVEY,
    "answer survey": Command.ANSWER_SURVEY,
    "sondage des besoins": Command.NEEDS_SURVEY,
    "needs survey": Command.NEEDS_SURVEY,
    "bilan mensuel": Command.SUMMARY,
    "monthly summary": Command.SUMMARY,
    "proposer un sujet": Command.PROPOSE_TOPIC,
    "propose a topic": Command.PROPOSE_TOPIC,
    "banque de sujets": Command.TOPICS,
    "topic bank": Command.TOPICS,
    "planifier une rencontre": Command.PLAN_MEETING,
    "plan a meeting": Command.PLAN_MEETING,
    "plan meeting": Command.PLAN_MEETING,
    "ordre du jour": Command.AGENDA,
    "modifier l'ordre du jour": Command.EDIT_AGENDA,
    "edit the agenda": Command.EDIT_AGENDA,
    "edit agenda": Command.EDIT_AGENDA,
    "annuler la rencontre": Command.CANCEL_MEETING,
    "cancel the meeting": Command.CANCEL_MEETING,
    "cancel meeting": Command.CANCEL_MEETING,
    "deplacer la rencontre": Command.MOVE_MEETING,
    "move the meeting": Command.MOVE_MEETING,
    "move meeting": Command.MOVE_MEETING,
}

_LANGUAGE_ARGUMENTS = {
    "fr": "fr-CA",
    "francais": "fr-CA",
    "french": "fr-CA",
    "en": "en",
    "anglais": "en",
    "english": "en",
}

ROLE_WORDS: dict[str, Role] = {
    "animateur": Role.ANIMATOR,
    "animatrice": Role.ANIMATOR,
    "animation": Role.ANIMATOR,
    "animator": Role.ANIMATOR,
    "facilitator": Role.ANIMATOR,
    "coordination": Role.COORDINATOR,
    "coordonnateur": Role.COORDINATOR,
    "coordonnatrice": Role.COORDINATOR,
    "coordinator": Role.COORDINATOR,
    "mentor": Role.MENTOR,
    "mentore": Role.MENTOR,
    "parrain": Role.SPONSOR,
    "marraine": Role.SPONSOR,
    "sponsor": Role.SPONSOR,
    "soutien": Role.ADMIN_SUPPORT,
    "support": Role.ADMIN_SUPPORT,
}


@dataclass(frozen=True, slots=True)
class Parsed:
    command: Command
    argument: str = ""


def parse(text: str | None) -> Parsed:
    simple = simplify(text or "")
    if not simple:
        return Parsed(Command.UNKNOWN)
    for phrase, phrase_command in _PHRASES.items():
        if simple == phrase or simple.startswith(phrase + " "):
            return Parsed(phrase_command, simple[len(phrase) :].strip())
    if simple in _WORDS:
        return Parsed(_WORDS[simple])
    head, _, rest = simple.partition(" ")
    command = _WORDS.get(head)
    if command in (
        Command.LANGUAGE,
        Command.GRANT,
        Command.REVOKE,
        Command.LEAVE,
        Command.JOIN,
        Command.MENTOR,
        Command.ATTESTATION,
        Command.ATTESTATIONS,
        Command.SUMMARY,
        Command.VOLUNTEER_CONSULTANT,
        Command.CONSULTATION_AUDIT,
    ):
        return Parsed(command, rest.strip())
    return Parsed(Command.UNKNOWN, simple)


def language_argument(argument: str) -> str | None:
    """'en' → 'en', 'français' → 'fr-CA'; None when not a language we speak."""
    return _LANGUAGE_ARGUMENTS.get(simplify(argument))


def role_argument(argument: str) -> Role | None:
    """The role named in `nommer @personne animateur` (the mention is already stripped)."""
    for word in simplify(argument).split():
        if word in ROLE_WORDS:
            return ROLE_WORDS[word]
    return None


def volunteer_capacity(argument: str) -> int | None:
    """'devenir mentor 3' → 3; no number → None (the caller uses a default)."""
    for word in simplify(argument).split():
        if word.isascii() and word.isdigit() and len(word) <= 4:
            return int(word)
    return None
