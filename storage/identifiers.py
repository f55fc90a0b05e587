"""Spotting what could identify a client in a text a person typed — e-mail, phone, health
insurance (RAMQ) or file number, date of birth, social insurance number (NAS/SIN), address or
postal code — before it is kept or sent to anyone.

Anything that screens such text (consultation summaries and comments today) asks here. Only
the kinds spotted ever leave this module: repeating the identifier itself would copy it
somewhere else (a log, a message, an audit line).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Sequence


class IdentifierKind(enum.StrEnum):
    """Kinds of details that could identify a client, spotted in a text."""

    EMAIL = "email"
    PHONE = "phone"
    HEALTH_INSURANCE = "health_insurance"
    FILE_NUMBER = "file_number"
    BIRTH_DATE = "birth_date"
    SOCIAL_INSURANCE = "social_insurance"
    ADDRESS = "address"


class HasIdentifiers(ValueError):
    """The text seems to identify a client; `kinds` says what was spotted (never the text)."""

    def __init__(self, kinds: Sequence[IdentifierKind]) -> None:
        super().__init__("likely identifiers: " + ",".join(kinds))
        self.kinds = tuple(kinds)


# -- spotting identifiers ----------------------------------------------------------------------

_MONTHS = (
    "janvier|janv|fevrier|fevr|fev|mars|avril|avr|mai|juin|juillet|juil|aout|septembre|sept|"
    "octobre|oct|novembre|nov|decembre|dec|january|jan|february|feb|march|mar|april|apr|may|"
    "june|jun|july|jul|august|aug|september|sep|october|november|december"
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)\d{2}"
_SEP = r"[-/.]"
# Full numeric dates, day first (Quebec), month first (US) or year first (ISO).
_NUMERIC_DATE = (
    rf"(?:{_YEAR}{_SEP}{_MONTH}{_SEP}{_DAY}|{_DAY}{_SEP}{_MONTH}{_SEP}{_YEAR}"
    rf"|{_MONTH}{_SEP}{_DAY}{_SEP}{_YEAR})"
)
_WORDED_DATE = (
    rf"(?:{_DAY}(?:er|st|nd|rd|th)?\s+(?:{_MONTHS})\.?(?:\s+\d{{4}})?"
    rf"|(?:{_MONTHS})\.?\s+{_DAY}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?)"
)
_SHORT_DATE = r"\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
_BIRTH_WORDS = (
    r"(?:nee?|born|date\s+de\s+naissance|date\s+of\s+birth|ddn|dob|d\.o\.b\.?|naissance|birth)"
)

_PATTERNS: tuple[tuple[IdentifierKind, re.Pattern[str]], ...] = (
    (IdentifierKind.EMAIL, re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    (
        IdentifierKind.PHONE,
        re.compile(
            # 514 555-1234, (450) 555.1234, +1 819 555 1234, 1-800-555-1234, 5145551234
            r"(?<![\w])(?:\+?1[\s.-]?)?(?:\(\d{3}\)|\d{3})[\s.-]?\d{3}[\s.-]?\d{4}(?!\d)"
            # 555-1234 (no area code)
            r"|(?<![\w-])\d{3}[.-]\d{4}(?![\d-])"
        ),
    ),
    (
        IdentifierKind.HEALTH_INSURANCE,
        # RAMQ: 4 letters, then birth year, month (+50 for women), day, and 2 digits.
        re.compile(
            r"\b[a-z]{4}\s?\d{2}(?:0[1-9]|1[0-2]|5[1-9]|6[0-2])\s?(?:0[1-9]|[12]\d|3[01])\d{2}\b"
        ),
    ),
    (
        IdentifierKind.FILE_NUMBER,
        re.compile(
            r"\b(?:n[o°]\.?|numero|num\.?|number)\s*(?:de\s+|du\s+|of\s+)?(?:dossier|file)\b"
            r"[^\d\n]{0,15}\d{3,}"
            r"|\b(?:dossier|file|chart|record|mrn)\s*(?:n[o°]\.?|numero|number|#|:)?\s*:?\s*#?\s*"
            r"[a-z]{0,3}-?\d{4,}"
            r"|\b(?:usager|usagere|client|cliente|patient|patiente|beneficiaire)\s*"
            r"(?:n[o°]\.?|#|:)\s*\d{4,}"
            r"|(?<![\w&])#\s?\d{4,}"
        ),
    ),
    (
        IdentifierKind.BIRTH_DATE,
        re.compile(
            rf"\b{_BIRTH_WORDS}\b[\s:,-]*(?:le\s+|on\s+|en\s+|the\s+)?"
            rf"(?:{_NUMERIC_DATE}|{_WORDED_DATE}|{_SHORT_DATE})"
            rf"|(?<![\d/.-]){_NUMERIC_DATE}(?![\d/.-])"
            # A worded date with a year reads as a birth date when the year is long ago.
            rf"|\b{_DAY}(?:er|st|nd|rd|th)?\s+(?:{_MONTHS})\.?\s+(?:19\d{{2}}|200\d)\b"
            rf"|\b(?:{_MONTHS})\.?\s+{_DAY}(?:st|nd|rd|th)?,?\s+(?:19\d{{2}}|200\d)\b"
        ),
    ),
)


# NAS / SIN: nine digits, in threes or not, that pass the Luhn check (which spares most other
# nine-digit numbers; file numbers are caught by their words above).
_SOCIAL_INSURANCE = re.compile(r"(?<![\d-])(\d{3})[ -]?(\d{3})[ -]?(\d{3})(?![\d-])")
_ADDRESS = re.compile(
    # A Canadian postal code (H2X 1Y4; D, F, I, O, Q, U are never used) …
    r"\b[abceghj-nprstvxy]\d[abceghj-nprstv-z][ -]?\d[abceghj-nprstv-z]\d\b"
    # … or a civic number before a street: 1234 rue Saint-Denis, 56, boul. Taschereau, 8 Main St.
    r"|\b\d{1,5}[a-z]?,?\s+(?:rue|avenue|av\.|boulevard|boul\.|bd|chemin|ch\.|rang|route|"
    r"place|montee|cote|street|st\.|road|rd\.|drive|dr\.)\s"
    r"|\b\d{1,5}[a-z]?,?\s+[a-z][\w'-]*\s+(?:street|st|avenue|ave|road|rd|drive|boulevard)\b"
)


def _luhn(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(digits)):
        doubled = digit * 2 if position % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def _plain(text: str) -> str:
    """Lower case, accents and typographic variants removed (« n° » stays, `º` becomes `o`)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\u2010-\u2015\u2212]", "-", plain)


def likely_identifiers(text: str) -> tuple[IdentifierKind, ...]:
    """The kinds of client identifiers the text seems to hold, in a fixed order. The caller
    only ever says which kinds: repeating the identifier would copy it somewhere else."""
    plain = _plain(text)
    found = [kind for kind, pattern in _PATTERNS if pattern.search(plain)]
    if any(_luhn("".join(match.groups())) for match in _SOCIAL_INSURANCE.finditer(plain)):
        found.append(IdentifierKind.SOCIAL_INSURANCE)
    if _ADDRESS.search(plain):
        found.append(IdentifierKind.ADDRESS)
    return tuple(found)
