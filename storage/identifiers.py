"""Spotting what could identify a client in a text a person typed — e-mail, phone, health
insurance (RAMQ) or file number, date of birth, social insurance number (NAS/SIN), address or
postal code, and people's names — before it is kept or sent to anyone.

Anything that screens such text asks here. Only the kinds spotted ever leave this module
(`likely_identifiers`): repeating the identifier itself would copy it somewhere else (a log, a
message, an audit line). `name_spans` says where the names are, for showing the author their
own words in their own conversation, and nowhere else.

Names (fr and en) are found by rules, on this server, with no model: « Mme Tremblay », « M. T. »
and "Mr. Smith" (a title, then a capitalised word or initials); « sa fille Nathalie », « la
jeune Léa », "her son Kevin" (kin or role, then a capitalised word); common first names in
Quebec and in English (« Jean-Guy », « Ginette », "Emily"), alone or before a surname; a
capitalised word before an age (« Monique (84 ans) », "Mary, 82,"); two initials (« J. T. »);
nicknames (« Ti-Guy », « surnommé « Coco » »). Names of places and of institutions
(« CLSC Samuel-de-Champlain », « Hôpital Pierre-Boucher », "Royal Victoria Hospital"), days,
months, peoples and the placeholders « Mme X », « M. Y » are left alone. Why rules and not
spaCy's French model, with the figures: bench/README.md; the corpus:
bench/data/identifier_corpus.txt.

Policy for colleagues (docs/decisions.md, « Names in shared texts »): a name after a
professional title (« Dre Roy », « Dr Gagnon », « Me Lavoie », "Dr. Roy") is not flagged: the
title says it is a professional, named in their role. Every other name is flagged, a
colleague's too (« l'infirmière Julie »): nothing in the text tells a colleague's first name
from a client's, and the author confirms it is not a client, or writes the role instead.

What the author may confirm (docs/decisions.md, same section): only names (`CONFIRMABLE`). A
phone, health-insurance or file number, a date of birth, an e-mail, a NAS or an address is
never « no one's »: it is refused until it is rewritten. Every feature that offers the choice
re-checks with `unconfirmed(text, confirmed)` in storage, whatever its card or dialog claimed.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache


class IdentifierKind(enum.StrEnum):
    """Kinds of details that could identify a client, spotted in a text."""

    EMAIL = "email"
    PHONE = "phone"
    HEALTH_INSURANCE = "health_insurance"
    FILE_NUMBER = "file_number"
    BIRTH_DATE = "birth_date"
    SOCIAL_INSURANCE = "social_insurance"
    ADDRESS = "address"
    NAME = "name"


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
    if name_spans(text):
        found.append(IdentifierKind.NAME)
    return tuple(found)


# -- what the author may confirm --------------------------------------------------------------

# The kinds an author may confirm identify no client: names only, the kind rules mistake most
# often (a colleague's first name, a consultant thanked). The other kinds are never no one's.
CONFIRMABLE: frozenset[IdentifierKind] = frozenset({IdentifierKind.NAME})


def unconfirmed(text: str, confirmed: Iterable[str]) -> tuple[IdentifierKind, ...]:
    """The kinds spotted in `text` that still count: all of them but the `CONFIRMABLE` kinds
    the author confirmed identify no one (`confirmed` holds kind values, e.g. "name"; any other
    kind in it, a forged "phone", is ignored)."""
    said = {str(kind) for kind in confirmed}
    return tuple(
        kind
        for kind in likely_identifiers(text)
        if kind not in CONFIRMABLE or kind.value not in said
    )


def confirmable(kinds: Iterable[IdentifierKind]) -> bool:
    """Whether the author may confirm every one of these kinds (and so be offered the choice
    rather than told to rewrite)."""
    return all(kind in CONFIRMABLE for kind in kinds)


# -- spotting people's names -------------------------------------------------------------------

_UP = "A-ZÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸÆŒ"
_LOW = "a-zàâäçéèêëîïôöùûüÿæœ"
# A capitalised word with at least one lower-case letter (acronyms such as DPJ are no name),
# hyphenated parts allowed (« Jean-Guy », « Samuel-de-Champlain »), « O'Brien » too.
_CAP = rf"(?:[{_UP}]')?[{_UP}][{_UP}{_LOW}]*[{_LOW}][{_UP}{_LOW}]*(?:-[{_UP}{_LOW}]+)*"
_INITIAL = rf"[{_UP}]\.(?:-[{_UP}]\.)?"
_NAME_PART = rf"(?:{_CAP}|{_INITIAL})"
_NAME_RUN = rf"{_NAME_PART}(?:[ \t]+{_NAME_PART}){{0,2}}"
_START = r"(?<![\w.'-])"
_END = r"(?![\w-])"
_HONORIFIC = (
    r"(?:Mmes?|MME|mme|Mlles?|mlle|MM?\.|Monsieur|monsieur|Madame|madame|Mademoiselle|"
    r"mademoiselle|Mrs?\.?|Ms\.?|Mx\.?|Miss|Mister)"
)
# Professional titles: the name after one is a professional's, not flagged (the policy above).
_TITLE = (
    r"(?:Dr|Dre|Drs|Dres|Docteur|Docteure|docteur|docteure|Pr|Pre|Prof|Professeur|"
    r"Professeure|Me|Maître|Doctor|Dr\.)\.?"
)
_INSTITUTIONS_BEFORE = (
    "CLSC|CHSLD|CH|CHU|CHUM|CHUS|CHUL|CIUSSS|CISSS|CSSS|CRDI|CRD|CLD|GMF|RPA|OMH|CPE|"
    "Hôpital|hôpital|Hôtel-Dieu|Centre|centre|Pavillon|pavillon|Institut|institut|Clinique|"
    "clinique|École|école|Polyvalente|polyvalente|Cégep|cégep|Collège|collège|Université|"
    "université|Maison|maison|Résidence|résidence|Manoir|manoir|Villa|villa|Foyer|foyer|"
    "Carrefour|Fondation|Société|Association|Coop|Coopérative|Église|église|Paroisse|paroisse|"
    "Parc|parc|Place|place|Rue|rue|Boulevard|boulevard|boul|Avenue|avenue|av|Chemin|chemin|"
    "rang|Rang|Route|route|autoroute|Autoroute|Pont|pont|Station|station|Métro|métro|Aréna|"
    "aréna|Mission|Refuge|refuge|Auberge|auberge|Accueil|Fédération|Regroupement|Table|"
    "Comité|Ordre|Programme|programme|Pharmacie|pharmacie|Caisse|caisse|Mouvement|Banque|"
    "Moisson|Ville|ville|MRC|Municipalité|municipalité|Saint|Sainte|St|Ste|Pointe|Lac|lac|"
    "Mont|mont|Île|île|Rivière|rivière|Baie|baie|Port|Fort|Val|Notre-Dame|Cap|Collectif|"
    "Maisonnée|Entraide|Cuisine|Festival|Prix|Bourse|Chaire|Rapport|Commission|Loi|loi|"
    # Places and buildings named after royalty: Queen Elizabeth, Prince Arthur, Sir Wilfrid.
    "Queen|King|Prince|Princess|Lady|Sir|Lord|Reine|Roi|Princesse"
)
_INSTITUTIONS_AFTER = (
    "Hospital|Institute|Centre|Center|Clinic|School|College|University|Foundation|Shelter|"
    "Church|Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Park|Mall|Residence|Manor|Lodge|"
    "House|Home|Hall|Library|Society|Association|Program|Programme|Group|Bank|Cupboard|"
    "Pharmacy|Act|Award|Report|Commission|Syndrome|Disease|Centres|Centers|Hospitals|Clinics|"
    "Homes|Services|Service|Complex|Network|Unit|Building|Pavilion|Wing|Campus|Office|Team|"
    "Fund|Trust|Ministry|Department|Board|Council|Committee|Day|Week|Month"
)
_CONNECTOR = r"(?:de|du|des|d'|de la|de l'|l'|la|le|les|en|sur|aux?|et|of|the)"
_INSTITUTION = (
    rf"{_START}(?:{_INSTITUTIONS_BEFORE})\.?"
    rf"(?:[ \t]+(?:{_CONNECTOR}[ \t]*)?{_CAP}(?:'s)?)+"
    rf"|{_START}(?:{_CAP}(?:'s)?[ \t]+)+(?:{_INSTITUTIONS_AFTER}){_END}"
)


class _NameRules:
    """The word lists and patterns, built on first use so that an idle bot holds none."""

    def __init__(self) -> None:
        from storage import name_lexicon as lexicon

        def plain_too(words: frozenset[str]) -> frozenset[str]:
            return words | {_unaccented(word) for word in words}

        self.ambiguous = plain_too(lexicon.words(lexicon.AMBIGUOUS_FIRST_NAMES))
        self.first_names = plain_too(lexicon.words(lexicon.FIRST_NAMES)) - self.ambiguous
        self.surnames = plain_too(lexicon.words(lexicon.SURNAMES))
        self.not_names = plain_too(lexicon.words(lexicon.NOT_NAMES))
        kin = "|".join(sorted(plain_too(lexicon.words(lexicon.KIN_WORDS)), key=len, reverse=True))
        brands = "|".join(re.escape(brand) for brand in lexicon.BRANDS)
        self.masks = re.compile(rf"{_INSTITUTION}|{_START}{_TITLE}[ \t]+{_NAME_RUN}|{brands}")
        self.honorific = re.compile(
            rf"{_START}{_HONORIFIC}[ \t]+"
            rf"(?:(?:et|and|&)[ \t]+{_HONORIFIC}[ \t]+)?"
            rf"(?:(?:de|du|des|van|von|le|la)[ \t]+|d')?({_NAME_RUN}){_END}"
        )
        self.after_kin = re.compile(
            rf"(?i:{_START}(?:{kin}))(?:[ \t]*,)?[ \t]+[«\"“]?[ \t\xa0]*({_NAME_RUN}){_END}"
        )
        self.word = re.compile(rf"{_START}{_CAP}{_END}")
        # A lookahead, so that pairs overlap: « Hier Keyshawn Tremblay » has two.
        self.pair = re.compile(rf"{_START}(?=({_CAP})[ \t]+({_CAP}){_END})")
        self.before_age = re.compile(
            rf"{_START}({_CAP})(?:,[ \t]*\d{{1,3}}[ \t]*(?:ans|an|years?|y/?o|yo)?(?=[ \t,;.)])"
            rf"|[ \t]*\([ \t]*\d{{1,3}}[ \t]*(?:ans|an|years?(?: old)?|y/?o|yo)?[ \t]*\))"
            rf"|{_START}({_CAP}),[ \t]*(?:a |an |aged |âgée? de )?\d{{1,3}}-year-old"
        )
        self.family = re.compile(rf"(?i:{_START}chez les|{_START}the)[ \t]+({_CAP})s?{_END}")
        self.initials = re.compile(rf"{_START}{_INITIAL}[ \t]?{_INITIAL}(?![\w])")
        self.nickname = re.compile(rf"{_START}(?:Ti|P'tit|P'tite|Ptit|Tit)-[{_UP}][\w-]+")

    def is_first_name(self, word: str) -> bool:
        """« Léa », « Jean-Guy », « Marie-Ève »: each part of a hyphenated word is a first name
        (« Pierre-Boucher », « Samuel-de-Champlain » are no one's first name)."""
        return all(part in self.first_names for part in word.casefold().split("-"))

    def could_be_name(self, word: str) -> bool:
        return word.casefold() not in self.not_names and not _is_initials_only(word)

    def spans(self, text: str) -> list[tuple[int, int]]:
        masked = [match.span() for match in self.masks.finditer(text)]

        def free(start: int, end: int) -> bool:
            return not any(start < m_end and m_start < end for m_start, m_end in masked)

        found: list[tuple[int, int]] = []
        for match in self.honorific.finditer(text):
            first = match.group(1).split()[0]
            if first.casefold().rstrip(".") not in self.not_names and free(*match.span(1)):
                found.append(match.span())
        for match in self.after_kin.finditer(text):
            first = match.group(1).split()[0]
            if self.could_be_name(first) and free(*match.span(1)):
                found.append(match.span(1))
        for match in self.word.finditer(text):
            if self.is_first_name(match.group()) and free(*match.span()):
                found.append(match.span())
        for match in self.pair.finditer(text):
            given, family = match.group(1), match.group(2)
            known = (given.casefold() in self.ambiguous or self.is_first_name(given)) or (
                family.casefold() in self.surnames
            )
            span = (match.start(1), match.end(2))
            if known and self.could_be_name(given) and self.could_be_name(family) and free(*span):
                found.append(span)
        for match in self.before_age.finditer(text):
            group = 1 if match.group(1) else 2
            if self.could_be_name(match.group(group)) and free(*match.span(group)):
                found.append(match.span(group))
        for match in self.family.finditer(text):
            family = match.group(1)
            named = family.casefold().rstrip("s") in self.surnames or (
                match.group().casefold().startswith("chez") and self.could_be_name(family)
            )
            if named and free(*match.span(1)):
                found.append(match.span(1))
        for match in self.initials.finditer(text):
            if match.group().replace(" ", "") not in _NOT_INITIALS and free(*match.span()):
                found.append(match.span())
        found.extend(match.span() for match in self.nickname.finditer(text))
        return found


# Abbreviations written like two initials: travailleur social, post-scriptum, États-Unis…
_NOT_INITIALS = frozenset(
    {
        *("T.S.", "N.B.", "P.S.", "É.-U.", "C.-B.", "N.-B.", "N.-É.", "T.-N.", "O.K.", "A.M."),
        *("P.M.", "U.S.", "U.K.", "B.A.", "M.A.", "R.N.", "I.A.", "É.U.", "E.U."),
    }
)


def _is_initials_only(word: str) -> bool:
    return len(word.rstrip(".")) <= 1


def _unaccented(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def _name_rules() -> _NameRules:
    return _NameRules()


def _for_names(text: str) -> str:
    """Same length as the text: typographic apostrophes and spaces made plain."""
    return text.translate(_TYPOGRAPHY)


_TYPOGRAPHY = str.maketrans({"\u2019": "'", "\u02bc": "'", "\xa0": " ", "\u202f": " "})


def name_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Where the text (in NFC) seems to name a person, as sorted, merged (start, end) offsets.

    For showing the author which words were taken for a name, in their own conversation; never
    for a log or for anyone else. Any model or word list is loaded on the first call."""
    composed = unicodedata.normalize("NFC", text)
    spans = sorted(_name_rules().spans(_for_names(composed)))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)
