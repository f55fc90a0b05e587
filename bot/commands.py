"""Reading what a person typed: French and English command words."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dialogs.base import CANCEL_WORDS, simplify


class Command(enum.StrEnum):
    HELP = "help"
    LANGUAGE = "language"
    CANCEL = "cancel"
    UNKNOWN = "unknown"


# Compared after `simplify` (lower case, accents removed).
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
    **dict.fromkeys(CANCEL_WORDS, Command.CANCEL),
}

_LANGUAGE_ARGUMENTS = {
    "fr": "fr-CA",
    "francais": "fr-CA",
    "french": "fr-CA",
    "en": "en",
    "anglais": "en",
    "english": "en",
}


@dataclass(frozen=True, slots=True)
class Parsed:
    command: Command
    argument: str = ""


def parse(text: str | None) -> Parsed:
    simple = simplify(text or "")
    if not simple:
        return Parsed(Command.UNKNOWN)
    if simple in _WORDS:
        return Parsed(_WORDS[simple])
    head, _, rest = simple.partition(" ")
    command = _WORDS.get(head)
    if command is Command.LANGUAGE:
        return Parsed(command, rest.strip())
    return Parsed(Command.UNKNOWN, simple)


def language_argument(argument: str) -> str | None:
    """'en' → 'en', 'français' → 'fr-CA'; None when not a language we speak."""
    return _LANGUAGE_ARGUMENTS.get(simplify(argument))
