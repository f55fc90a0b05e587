"""Reading what a person typed: French and English command words, the language they are
written in, and the closest commands to a misspelled one.

The words of each command are its catalog title in both languages (`cards.help.FEATURES`,
`command.<key>.title`), plus the synonyms below: what the help card shows, the manifest's
command menu lists and the parser reads are one list."""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass

from cards.help import FEATURES
from cards.i18n import translator
from dialogs.base import CANCEL_WORDS, simplify
from storage.models import Role

FRENCH = "fr-CA"
ENGLISH = "en"


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
    RESTORE_MEETING = "restore_meeting"
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
    MENTORING_REQUESTS = "mentoring_requests"
    ATTESTATION = "attestation"
    ATTESTATIONS = "attestations"
    PROPOSE_TOPIC = "propose_topic"
    SUBMIT_CASE = "submit_case"
    CASES = "cases"
    TOOLBOX = "toolbox"
    SHARE_RESOURCE = "share_resource"
    QUESTION = "question"
    CODEVELOPMENT = "codevelopment"
    UNKNOWN = "unknown"


# Which command each help-card entry (cards.help.FEATURES) is; tests check both lists match.
COMMAND_OF_FEATURE: dict[str, Command] = {
    "help": Command.HELP,
    "language": Command.LANGUAGE,
    "cancel": Command.CANCEL,
    "setup": Command.SETUP,
    "communities": Command.COMMUNITIES,
    "join": Command.JOIN,
    "leave": Command.LEAVE,
    "appoint": Command.GRANT,
    "revoke": Command.REVOKE,
    "onboarding": Command.ONBOARDING,
    "mentor": Command.MENTOR,
    "volunteer": Command.VOLUNTEER,
    "plan": Command.PLAN_MEETING,
    "agenda": Command.AGENDA,
    "edit_agenda": Command.EDIT_AGENDA,
    "cancel_meeting": Command.CANCEL_MEETING,
    "restore_meeting": Command.RESTORE_MEETING,
    "move_meeting": Command.MOVE_MEETING,
    "topics": Command.TOPICS,
    "poll": Command.POLL,
    "survey": Command.ANSWER_SURVEY,
    "needs_survey": Command.NEEDS_SURVEY,
    "results": Command.RESULTS,
    "summary": Command.SUMMARY,
    "my_data": Command.MY_DATA,
    "consultation": Command.CONSULTATION,
    "my_requests": Command.MY_REQUESTS,
    "assigned_requests": Command.ASSIGNED_REQUESTS,
    "volunteer_consultant": Command.VOLUNTEER_CONSULTANT,
    "consultation_audit": Command.CONSULTATION_AUDIT,
    "mentoring_requests": Command.MENTORING_REQUESTS,
    "attestation": Command.ATTESTATION,
    "attestations": Command.ATTESTATIONS,
    "propose": Command.PROPOSE_TOPIC,
    "submit_case": Command.SUBMIT_CASE,
    "cases": Command.CASES,
    "toolbox": Command.TOOLBOX,
    "share_resource": Command.SHARE_RESOURCE,
    "question": Command.QUESTION,
    "codevelopment": Command.CODEVELOPMENT,
}
FEATURE_OF_COMMAND = {command: key for key, command in COMMAND_OF_FEATURE.items()}

# Other words people type for a command, compared after `simplify` (lower case, no accents).
# By language: a word of one language only tells which language the person writes in.
_FRENCH_WORDS: dict[str, Command] = {
    "menu": Command.HELP,
    "bonjour": Command.HELP,
    "allo": Command.HELP,
    "salut": Command.HELP,
    "configurer": Command.SETUP,
    "communaute": Command.COMMUNITIES,
    "adherer": Command.JOIN,
    "plan d'accueil": Command.ONBOARDING,
    "agenda": Command.AGENDA,  # French too (« l'agenda de la rencontre »)
    "consultante": Command.VOLUNTEER_CONSULTANT,
    "devenir consultante": Command.VOLUNTEER_CONSULTANT,
    "demander une consultation": Command.CONSULTATION,
    "mentor": Command.MENTOR,
    "mentore": Command.MENTOR,
    "mentorat": Command.MENTOR,
    "jumelage": Command.MENTOR,
    "groupe de codeveloppement": Command.CODEVELOPMENT,
    "codev": Command.CODEVELOPMENT,
    "devenir mentore": Command.VOLUNTEER,
    "proposer": Command.PROPOSE_TOPIC,
    "banque de sujets": Command.TOPICS,
    "cas complexe": Command.SUBMIT_CASE,
    "soumettre un cas complexe": Command.SUBMIT_CASE,
    "presenter un cas": Command.SUBMIT_CASE,
    "cas": Command.CASES,
    "mes cas": Command.CASES,
    "discussion de cas": Command.CASES,
    "poser une question": Command.QUESTION,
    "demander a la communaute": Command.QUESTION,
    "boite a outils": Command.TOOLBOX,
    "la boite a outils": Command.TOOLBOX,
    "outil": Command.TOOLBOX,
    "partager un outil": Command.SHARE_RESOURCE,
    "partager une ressource": Command.SHARE_RESOURCE,
    "ajouter un outil": Command.SHARE_RESOURCE,
    "planifier": Command.PLAN_MEETING,
    "bilan mensuel": Command.SUMMARY,
    "annule": Command.CANCEL,
    "arreter": Command.CANCEL,
    "attestation": Command.ATTESTATION,
}
_ENGLISH_WORDS: dict[str, Command] = {
    "codevelopment group": Command.CODEVELOPMENT,
    "menu": Command.HELP,
    "hello": Command.HELP,
    "hi": Command.HELP,
    "lang": Command.LANGUAGE,
    "configure": Command.SETUP,
    "community": Command.COMMUNITIES,
    "grant": Command.GRANT,
    "remove": Command.REVOKE,
    "onboarding plan": Command.ONBOARDING,
    "consultation": Command.CONSULTATION,
    "ask for a consultation": Command.CONSULTATION,
    "become a consultant": Command.VOLUNTEER_CONSULTANT,
    "mentor": Command.MENTOR,
    "mentor volunteer": Command.VOLUNTEER,
    "volunteer mentor": Command.VOLUNTEER,
    "propose": Command.PROPOSE_TOPIC,
    "topic bank": Command.TOPICS,
    "complex case": Command.SUBMIT_CASE,
    "submit a complex case": Command.SUBMIT_CASE,
    "present a case": Command.SUBMIT_CASE,
    "cases": Command.CASES,
    "my cases": Command.CASES,
    "case discussion": Command.CASES,
    "ask a question": Command.QUESTION,
    "ask the community": Command.QUESTION,
    "tools": Command.TOOLBOX,
    "resources": Command.TOOLBOX,
    "share a tool": Command.SHARE_RESOURCE,
    "add a resource": Command.SHARE_RESOURCE,
    "plan meeting": Command.PLAN_MEETING,
    "edit agenda": Command.EDIT_AGENDA,
    "cancel meeting": Command.CANCEL_MEETING,
    "restore meeting": Command.RESTORE_MEETING,
    "move meeting": Command.MOVE_MEETING,
    "answer survey": Command.ANSWER_SURVEY,
    "monthly summary": Command.SUMMARY,
    "stop": Command.CANCEL,
    "quit": Command.CANCEL,
}
# Words of both languages: they tell nothing about the language.
# (« ? » alone is read as an empty message, which the handler answers with the help card.)
_SHARED_WORDS: dict[str, Command] = {"consultant": Command.VOLUNTEER_CONSULTANT}

# Commands that read what follows their words (`langue en`, `attestation 2026`, `quitter X`).
# Other commands are recognised only when the text is their words alone or followed by more.
_TAKES_ARGUMENT = frozenset(
    {
        Command.LANGUAGE,
        Command.GRANT,
        Command.REVOKE,
        Command.LEAVE,
        Command.JOIN,
        Command.MENTOR,
        Command.ATTESTATION,
        Command.ATTESTATIONS,
        Command.SUMMARY,
        Command.VOLUNTEER,
        Command.VOLUNTEER_CONSULTANT,
        Command.CONSULTATION_AUDIT,
        Command.QUESTION,  # `question <text>`: the question itself
    }
)

_LANGUAGE_NAMES = {
    "fr": FRENCH,
    "francais": FRENCH,
    "french": FRENCH,
    "en": ENGLISH,
    "anglais": ENGLISH,
    "english": ENGLISH,
}
# What surrounds a language's name when someone asks for it in so many words
# (« en français svp », « parlez-moi en anglais », "in English please").
_LANGUAGE_REQUEST_WORDS = frozenset(
    {
        "en",
        "in",
        "svp",
        "stp",
        "s'il",
        "vous",
        "te",
        "plait",
        "please",
        "pls",
        "merci",
        "thanks",
        "parle",
        "parlez",
        "parlez-moi",
        "parle-moi",
        "ecris",
        "ecrivez",
        "ecrivez-moi",
        "ecris-moi",
        "moi",
        "speak",
        "write",
        "to",
        "me",
        "langue",
        "language",
    }
)

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
    # The language the words belong to (FRENCH or ENGLISH); None when they are words of both
    # (`consultation`, `agenda`) or not a command at all.
    language: str | None = None

    @property
    def alone(self) -> bool:
        """A command's words and nothing else: what interrupts a question."""
        return self.command is not Command.UNKNOWN and not self.argument


@dataclass(frozen=True, slots=True)
class _Words:
    command: Command
    languages: frozenset[str]


@functools.cache
def _vocabulary() -> dict[str, _Words]:
    """Every command's words (simplified) → the command and the languages they belong to."""
    found: dict[str, tuple[Command, set[str]]] = {}

    def add(words: str, command: Command, language: str | None) -> None:
        key = simplify(words)
        previous, languages = found.setdefault(key, (command, set()))
        if previous is not command:
            raise ValueError(f"{words!r} names both {previous} and {command}")
        languages.update((FRENCH, ENGLISH) if language is None else (language,))

    for feature in FEATURES:
        for language in (FRENCH, ENGLISH):
            add(
                translator(language)(f"command.{feature.key}.title"),
                COMMAND_OF_FEATURE[feature.key],
                language,
            )
    for language, words in ((FRENCH, _FRENCH_WORDS), (ENGLISH, _ENGLISH_WORDS)):
        for text, command in words.items():
            add(text, command, language)
    for text, command in _SHARED_WORDS.items():
        add(text, command, None)
    for text in CANCEL_WORDS:
        add(text, Command.CANCEL, None)
    return {
        key: _Words(command, frozenset(languages)) for key, (command, languages) in found.items()
    }


def _language_of(words: _Words) -> str | None:
    return next(iter(words.languages)) if len(words.languages) == 1 else None


def _argument(command: Command, rest: str) -> str:
    if command is Command.SUMMARY:
        # « bilan d'octobre », « bilan d'avril »: the month, without the elided « de ».
        return re.sub(r"^d'(?=\w)", "", rest)
    return rest


# No command's words are longer than this many words (« modifier l'ordre du jour »: 4).
_LONGEST_WORDS = 5


def parse(text: str | None) -> Parsed:
    simple = simplify(text or "")
    if not simple:
        return Parsed(Command.UNKNOWN)
    requested = language_request(simple)
    if requested is not None:
        # « in French please » means French from now on, whatever language it was asked in.
        return Parsed(Command.LANGUAGE, requested.split("-")[0], requested)
    vocabulary = _vocabulary()
    if (exact := vocabulary.get(simple)) is not None:
        return Parsed(exact.command, language=_language_of(exact))
    # The longest command words the text starts with: `annuler la rencontre` before `annuler`.
    tokens = simple.split(" ")
    for size in range(min(len(tokens) - 1, _LONGEST_WORDS), 0, -1):
        words = vocabulary.get(" ".join(tokens[:size]))
        if words is None:
            continue
        # One word followed by more is a command only if it reads an argument (« proposer
        # quelque chose » is not, « bilan octobre » is); longer phrases always are.
        if size > 1 or words.command in _TAKES_ARGUMENT:
            rest = " ".join(tokens[size:])
            language = _language_of(words)
            if words.command is Command.LANGUAGE:
                language = language_argument(rest)  # « langue en »: English, said in French
            return Parsed(words.command, _argument(words.command, rest), language)
        break
    return Parsed(Command.UNKNOWN, simple)


def language_request(simple: str) -> str | None:
    """« en français svp », "English please", « parlez-moi en anglais » → the locale asked
    for; None when the text says anything else."""
    tokens = simple.split(" ")
    named = [_LANGUAGE_NAMES[t] for t in tokens if t in _LANGUAGE_NAMES and t not in {"en"}]
    if len(named) != 1 or not all(
        t in _LANGUAGE_NAMES or t in _LANGUAGE_REQUEST_WORDS for t in tokens
    ):
        return None
    return named[0]


def language_argument(argument: str) -> str | None:
    """'en' → 'en', 'français' → 'fr-CA', « en anglais svp » → 'en'; None when not a language
    we speak."""
    simple = simplify(argument)
    return _LANGUAGE_NAMES.get(simple) or language_request(simple)


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


# -- misspellings ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Suggestion:
    command: Command
    feature: str  # its key in cards.help.FEATURES
    argument: str  # what followed the misspelled words (« atestation 2025 » → "2025")
    distance: int


def _edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein (optimal string alignment): typing slips are a missing, extra,
    wrong or swapped letter, each one edit."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _tolerance(length: int) -> int:
    """Edits allowed for words of `length` letters: none below 4 (« ok » is not « hi »)."""
    if length < 4:
        return 0
    if length < 6:
        return 1
    if length < 10:
        return 2
    return 3


# Longer text is not a mistyped command (and comparing it would cost a turn's time).
_LONGEST_TYPO = 80

# Small words that say nothing about which command is meant.
_FILLERS = frozenset({"un", "une", "le", "la", "les", "de", "des", "du", "au", "a", "the", "my"})


def suggestions(text: str | None, *, limit: int = 3) -> list[Suggestion]:
    """The commands closest to `text`, best first; [] when none is close enough."""
    simple = simplify(text or "")
    if len(simple) > _LONGEST_TYPO:
        return []  # a sentence, not a command with a slip
    tokens = simple.split(" ") if simple else []
    best: dict[Command, Suggestion] = {}

    def offer(command: Command, argument: str, distance: int) -> None:
        known = best.get(command)
        if known is None or distance < known.distance:
            best[command] = Suggestion(command, FEATURE_OF_COMMAND[command], argument, distance)

    for words, entry in _vocabulary().items():
        size = len(words.split(" "))
        # The whole text, or its first words followed by an argument.
        for taken in {size - 1, size, size + 1}:
            if not 0 < taken <= len(tokens):
                continue
            head, rest = " ".join(tokens[:taken]), " ".join(tokens[taken:])
            if rest and entry.command not in _TAKES_ARGUMENT:
                continue
            distance = _edit_distance(head, words)
            if distance <= _tolerance(min(len(head), len(words))):
                offer(entry.command, rest, distance)
        # One word of a longer command (« sujet » → « proposer un sujet »), less close.
        if len(tokens) == 1 and size > 1 and len(simple) >= 4:
            for part in words.split(" "):
                if part not in _FILLERS and _edit_distance(simple, part) <= 1:
                    offer(entry.command, "", _tolerance(len(part)) + 1)
    return sorted(best.values(), key=lambda s: (s.distance, s.feature))[:limit]
