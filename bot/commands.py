"""Reading what a person typed: French and English command words, the language they are
written in, and the closest commands to a misspelled one.

Each feature declares its commands (bot/registry.py `Command`): their words are the catalog
title in both languages (`command.<key>.title`) plus the synonyms the feature lists. What the
help card shows, the manifest's command menu lists and the parser reads are that one list,
gathered by the registry into a `Vocabulary`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from cards.i18n import translator
from dialogs.base import CANCEL_WORDS, simplify
from storage.models import Role

FRENCH = "fr-CA"
ENGLISH = "en"

# The commands the host itself reads (the help and language features answer them): a mention
# alone asks for help, a dialog takes « annuler » itself, a language is adopted before routing.
HELP_COMMAND = "help"
CANCEL_COMMAND = "cancel"
LANGUAGE_COMMAND = "language"
# Text that is no command (the host answers it with suggestions); no feature may declare it.
UNKNOWN_COMMAND = "unknown"


@dataclass(frozen=True, slots=True)
class Words:
    """What a person may type for one command. Its catalog title in each language
    (`command.<key>.title`) always counts; `french`/`english` are more words of that language
    only (they tell which language the person writes in), `shared` words of both."""

    key: str
    french: tuple[str, ...] = ()
    english: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    # Reads what follows its words (`langue en`, `attestation 2026`, `quitter X`); other
    # commands are recognised only alone, or as phrases of several words followed by more.
    takes_argument: bool = False
    # « bilan d'octobre »: the argument without the elided « de ».
    elided_de: bool = False


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
    # A command's key (bot/registry.py `Command`), or UNKNOWN_COMMAND.
    command: str
    argument: str = ""
    # The language the words belong to (FRENCH or ENGLISH); None when they are words of both
    # (`consultation`, `agenda`) or not a command at all.
    language: str | None = None

    @property
    def alone(self) -> bool:
        """A command's words and nothing else: what interrupts a question."""
        return self.command != UNKNOWN_COMMAND and not self.argument


@dataclass(frozen=True, slots=True)
class _Entry:
    words: Words
    languages: frozenset[str]


# No command's words are longer than this many words (« modifier l'ordre du jour »: 4).
_LONGEST_WORDS = 5


class Vocabulary:
    """Every command's words, from what the features declare (bot/registry.py builds it):
    reads what a person typed, and finds the commands closest to a misspelled one."""

    def __init__(self, commands: Iterable[Words]) -> None:
        found: dict[str, tuple[Words, set[str]]] = {}

        def add(text: str, words: Words, language: str | None) -> None:
            key = simplify(text)
            previous, languages = found.setdefault(key, (words, set()))
            if previous.key != words.key:
                raise ValueError(f"{text!r} names both {previous.key!r} and {words.key!r}")
            languages.update((FRENCH, ENGLISH) if language is None else (language,))

        self.keys: tuple[str, ...] = ()
        for words in commands:
            if words.key == UNKNOWN_COMMAND or words.key in self.keys:
                raise ValueError(f"command {words.key!r} declared twice or reserved")
            self.keys += (words.key,)
            for language in (FRENCH, ENGLISH):
                add(translator(language)(f"command.{words.key}.title"), words, language)
            for text in words.french:
                add(text, words, FRENCH)
            for text in words.english:
                add(text, words, ENGLISH)
            for text in words.shared:
                add(text, words, None)
            if words.key == CANCEL_COMMAND:
                for text in CANCEL_WORDS:  # what every dialog also takes as « annuler »
                    add(text, words, None)
        self._entries = {
            key: _Entry(words, frozenset(languages)) for key, (words, languages) in found.items()
        }

    def parse(self, text: str | None) -> Parsed:
        simple = simplify(text or "")
        if not simple:
            return Parsed(UNKNOWN_COMMAND)
        requested = language_request(simple)
        if requested is not None and LANGUAGE_COMMAND in self.keys:
            # « in French please » means French from now on, whatever language it was asked in.
            return Parsed(LANGUAGE_COMMAND, requested.split("-")[0], requested)
        if (exact := self._entries.get(simple)) is not None:
            return Parsed(exact.words.key, language=_language_of(exact))
        # The longest command words the text starts with: `annuler la rencontre` before `annuler`.
        tokens = simple.split(" ")
        for size in range(min(len(tokens) - 1, _LONGEST_WORDS), 0, -1):
            entry = self._entries.get(" ".join(tokens[:size]))
            if entry is None:
                continue
            # One word followed by more is a command only if it reads an argument (« proposer
            # quelque chose » is not, « bilan octobre » is); longer phrases always are.
            if size > 1 or entry.words.takes_argument:
                rest = " ".join(tokens[size:])
                language = _language_of(entry)
                if entry.words.key == LANGUAGE_COMMAND:
                    language = language_argument(rest)  # « langue en »: English, said in French
                if entry.words.elided_de:
                    rest = re.sub(r"^d'(?=\w)", "", rest)
                return Parsed(entry.words.key, rest, language)
            break
        return Parsed(UNKNOWN_COMMAND, simple)

    def suggestions(self, text: str | None, *, limit: int = 3) -> list[Suggestion]:
        """The commands closest to `text`, best first; [] when none is close enough."""
        simple = simplify(text or "")
        if len(simple) > _LONGEST_TYPO:
            return []  # a sentence, not a command with a slip
        tokens = simple.split(" ") if simple else []
        best: dict[str, Suggestion] = {}

        def offer(key: str, argument: str, distance: int) -> None:
            known = best.get(key)
            if known is None or distance < known.distance:
                best[key] = Suggestion(key, argument, distance)

        for words, entry in self._entries.items():
            size = len(words.split(" "))
            # The whole text, or its first words followed by an argument.
            for taken in {size - 1, size, size + 1}:
                if not 0 < taken <= len(tokens):
                    continue
                head, rest = " ".join(tokens[:taken]), " ".join(tokens[taken:])
                if rest and not entry.words.takes_argument:
                    continue
                distance = _edit_distance(head, words)
                if distance <= _tolerance(min(len(head), len(words))):
                    offer(entry.words.key, rest, distance)
            # One word of a longer command (« sujet » → « proposer un sujet »), less close.
            if len(tokens) == 1 and size > 1 and len(simple) >= 4:
                for part in words.split(" "):
                    if part not in _FILLERS and _edit_distance(simple, part) <= 1:
                        offer(entry.words.key, "", _tolerance(len(part)) + 1)
        return sorted(best.values(), key=lambda s: (s.distance, s.command))[:limit]


def _language_of(entry: _Entry) -> str | None:
    return next(iter(entry.languages)) if len(entry.languages) == 1 else None


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
    command: str  # its key
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
