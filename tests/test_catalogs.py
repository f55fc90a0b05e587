"""Every message the code uses exists in French and English, and nothing in them is unused."""

from __future__ import annotations

import ast
import json
import re
import string
from pathlib import Path

import pytest

from bot.app import REGISTRY
from cards.community import DEFAULT_INTERESTS, DISCIPLINES, REGIONS
from cards.i18n import LANGUAGES, catalog, messages, plural, read_messages
from storage.models import MeetingMode

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / layer for layer in ("bot", "dialogs", "cards", "storage")]
KEY_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")


def _literal_keys() -> set[str]:
    """First arguments of calls to `t(...)` and of `translator(...)(...)`, and catalog-key
    strings used as templates (e.g. the manifest's `{{t:key}}`)."""
    keys: set[str] = set()
    for source in SOURCES:
        for path in source.rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                first = node.args[0]
                called = node.func
                is_t = isinstance(called, ast.Name) and called.id == "t"
                is_translator_call = (
                    isinstance(called, ast.Call)
                    and isinstance(called.func, ast.Name)
                    and called.func.id == "translator"
                )
                if (is_t or is_translator_call) and isinstance(first, ast.Constant):
                    keys.add(str(first.value))
                # plural(locale, "key", n) uses key.one and key.other
                is_plural = isinstance(called, ast.Name) and called.id == "plural"
                second = node.args[1] if len(node.args) > 1 else None
                if is_plural and isinstance(second, ast.Constant):
                    key = str(second.value)
                    keys.update({f"{key}.one", f"{key}.other"})
    for template in (ROOT / "manifest").glob("*.json"):
        keys.update(re.findall(r"\{\{t:([a-z0-9_.]+)\}\}", template.read_text(encoding="utf-8")))
    return keys


def _mentioned_keys() -> set[str]:
    """Every string constant in the code shaped like a key (keys chosen in code, then passed
    to `t`, such as `("reminder.lead.days", n)`)."""
    found: set[str] = set()
    for source in SOURCES:
        for path in source.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                value = node.value if isinstance(node, ast.Constant) else None
                if isinstance(value, str) and KEY_PATTERN.match(value):
                    found.add(value)
    return found


def _dynamic_prefixes() -> set[str]:
    """Constant beginnings of f-string keys, e.g. f"setup.field.{id_}" → "setup.field."."""
    prefixes: set[str] = set()
    for source in SOURCES:
        for path in source.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.JoinedStr) and node.values:
                    first = node.values[0]
                    text = first.value if isinstance(first, ast.Constant) else None
                    if isinstance(text, str) and re.match(r"^[a-z0-9_]+(\.[a-z0-9_]+)*\.$", text):
                        prefixes.add(text)
    return prefixes


def _expected_dynamic() -> set[str]:
    """Keys built at run time whose complete list the code knows."""
    return (
        {
            f"command.{feature.key}.{part}"
            for feature in REGISTRY.help_entries
            for part in ("title", "description")
        }
        | {f"command.{feature.key}.button" for feature in REGISTRY.help_entries if feature.button}
        | {f"meeting.mode.{mode.value}" for mode in MeetingMode}
        | {f"discipline.{code}" for code in DISCIPLINES}
        | {f"region.{code}" for code in REGIONS}
        | {f"interest.{code}" for code in DEFAULT_INTERESTS}
    )


def _used_keys() -> set[str]:
    mentioned = _mentioned_keys()
    plurals = {f"{key}.{form}" for key in mentioned for form in ("one", "other")}
    return _literal_keys() | mentioned | plurals | _expected_dynamic()


def _entries(language: str) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in catalog(language) if m.id}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_used_message_is_translated(language: str) -> None:
    entries = _entries(language)
    needed = _literal_keys() | _expected_dynamic()
    missing = sorted(k for k in needed if not entries.get(k))
    assert missing == [], f"{language} catalog lacks {missing}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_catalog_entry_is_unused(language: str) -> None:
    prefixes = tuple(_dynamic_prefixes())
    unused = sorted(k for k in set(_entries(language)) - _used_keys() if not k.startswith(prefixes))
    assert unused == [], f"{language} catalog has unused entries {unused}"


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    french, english = _entries("fr"), _entries("en")
    assert set(french) == set(english)
    for key in french:
        assert _placeholders(french[key]) == _placeholders(english[key]), key


def test_buttons_have_labels_only_where_shown() -> None:
    for language in LANGUAGES:
        labelled = {
            k.split(".")[1]
            for k in _entries(language)
            if k.startswith("command.") and k.endswith(".button")
        }
        assert labelled == {feature.key for feature in REGISTRY.help_entries if feature.button}


def test_keys_are_well_formed() -> None:
    for key in _entries("fr"):
        assert KEY_PATTERN.match(key), key


def test_the_scanner_finds_keys_in_code() -> None:
    # Guards the guard: if the scanner broke, the tests above would pass vacuously.
    assert {"help.title", "error.apology", "language.saved"} <= _literal_keys()


# French typography (OQLF): a non-breaking space before « : ; ? ! », inside « », and between a
# number and what it counts, so that a narrow Teams column never leaves « ? » or « h » alone at
# the start of a line. A plain space there is a mistake the reader sees.
_BREAKABLE_IN_FRENCH = (
    (re.compile(r" [:;?!»]"), "a plain space before a high sign or a closing guillemet"),
    (re.compile(r"« "), "a plain space after an opening guillemet"),
    # « coché; vider » (no space at all): a word glued to its high sign. A colon after a URL
    # scheme named in a message (« http: ») is the scheme's, not punctuation.
    (re.compile(r"[^\s\u00a0\u202f(«\[{\"'/][;!?]"), "no space before a high sign"),
    (
        re.compile(r"[^\W\d_»)](?<!http)(?<!https)(?<!javascript)(?<!data)(?<!file):(?=\s|$)"),
        "no space before a colon",
    ),
    (re.compile(r"\d (?=[^\W\d_]|%)"), "a plain space between a number and its unit or noun"),
    (re.compile(r"[\d}]\u00a0h (?=[\d{])"), "a plain space inside a time such as « 16 h 00 »"),
    (
        re.compile(
            r"\{(?:count|hours|uec|weeks|days|minutes|capacity|load|length|max|k|rate)\} "
            r"(?=[^\W\d_]|%)"
        ),
        "a plain space between a counted placeholder and its noun",
    ),
)


def test_french_messages_use_non_breaking_spaces_where_typography_requires_them() -> None:
    mistakes = [
        f"{key}: {why}: {text!r}"
        for key, text in _entries("fr").items()
        for pattern, why in _BREAKABLE_IN_FRENCH
        if pattern.search(text)
    ]
    assert mistakes == []


def test_the_typography_check_catches_a_plain_space() -> None:
    # Guards the guard: each rule flags the mistake it names, and accepts the correct form.
    wrong = [
        "Prêt ?",
        "« aide »",
        "16 h 00",
        "16\u00a0h 00",
        "{count} personnes",
        "Note : oui",
        "coché; vider",
        "Note: oui",
        "Prêt!",
    ]
    right = [
        "Prêt\u00a0?",
        "«\u00a0aide\u00a0»",
        "16\u00a0h\u00a000",
        "{count}\u00a0personnes",
        "pas http:, javascript: ni autre",
        "Note\u00a0: oui",
        "https://exemple.ca/?a=1",
    ]
    assert all(any(p.search(text) for p, _ in _BREAKABLE_IN_FRENCH) for text in wrong)
    assert not any(p.search(text) for p, _ in _BREAKABLE_IN_FRENCH for text in right)


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_message_hedges_a_plural_with_parentheses(language: str) -> None:
    # « 1 personne(s) » reads as a form, not as a sentence: counted words go through
    # `plural(locale, "key", n)` with `key.one` / `key.other` (Babel's rule for the language).
    hedged = sorted(
        key for key, text in _entries(language).items() if re.search(r"\w\((?:s|e|es|x|nt)\)", text)
    )
    assert hedged == [], f"{language} catalog hedges plurals in {hedged}"


@pytest.mark.parametrize(
    ("locale", "key", "values", "one", "two"),
    [
        ("fr-CA", "polls.card.names_count", {}, "1\u00a0personne", "2\u00a0personnes"),
        ("en-US", "polls.card.names_count", {}, "1 person", "2 people"),
        (
            "fr-CA",
            "polls.card.names_more",
            {"names": "Léa"},
            "Léa et 1\u00a0autre",
            "Léa et 2\u00a0autres",
        ),
        ("en-US", "polls.card.names_more", {"names": "Léa"}, "Léa and 1 more", "Léa and 2 more"),
        ("fr-CA", "mentoring.terms.weeks", {}, "1\u00a0semaine", "2\u00a0semaines"),
        ("en-US", "mentoring.terms.weeks", {}, "1 week", "2 weeks"),
        ("fr-CA", "vitality.polls_launched", {}, "1\u00a0sondage lancé", "2\u00a0sondages lancés"),
        ("en-US", "vitality.polls_launched", {}, "1 poll launched", "2 polls launched"),
        ("fr-CA", "vitality.ballots", {}, "1\u00a0vote", "2\u00a0votes"),
        ("en-US", "vitality.ballots", {}, "1 vote", "2 votes"),
    ],
)
def test_counted_words_agree_with_their_number(
    locale: str, key: str, values: dict[str, str], one: str, two: str
) -> None:
    assert plural(locale, key, 1, **values) == one
    assert plural(locale, key, 2, **values) == two


def test_mentor_volunteer_thanks_agrees_with_the_capacity() -> None:
    fr = plural("fr-CA", "mentoring.volunteer.saved", 1, community="Soins")
    assert "pour 1\u00a0personne à la fois" in fr
    assert "pour 3\u00a0personnes à la fois" in plural(
        "fr-CA", "mentoring.volunteer.saved", 3, community="Soins"
    )
    assert "for 1 person at a time" in plural(
        "en-US", "mentoring.volunteer.saved", 1, community="Soins"
    )
    assert "for 3 people at a time" in plural(
        "en-US", "mentoring.volunteer.saved", 3, community="Soins"
    )


def test_a_closed_poll_without_votes_does_not_say_yet() -> None:
    # « Personne n’a encore voté » on a closed poll promised votes that can no longer come.
    from datetime import UTC, datetime

    from cards.polls import build_poll_card
    from storage.models import Poll, PollStatus
    from storage.polls import PollResults

    closed = Poll(
        id=7,
        community_id=1,
        question="Quelle date\u00a0?",
        options=["Mardi", "Jeudi"],
        multiple=False,
        anonymous=False,
        closes_at=datetime(2026, 11, 30, 22, 0, tzinfo=UTC),
        closed_at=datetime(2026, 11, 30, 22, 0, tzinfo=UTC),
        status=PollStatus.CLOSED,
        created_by_id=1,
    )
    for locale, still in (("fr-CA", "encore"), ("en-US", "yet")):
        card = build_poll_card(
            PollResults(poll=closed, counts=(0, 0), voters=0, names=((), ())),
            locale=locale,
            tz="America/Montreal",
        )
        assert still not in json.dumps(card, ensure_ascii=False), locale


# English reads as written by a person: the walk found these French calques and mixed terms.
_UNNATURAL_IN_ENGLISH = (
    (re.compile(r"\bthe (?:professional )?coordination\b", re.I), "the coordinators"),
    (re.compile(r"\banimators?\b", re.I), "facilitators, as everywhere else"),
    (re.compile(r"\bmotives?\b", re.I), "reason"),
    (re.compile(r"\borientation\b", re.I), "a clinical direction"),
    (re.compile(r"\breserved to\b", re.I), "reserved for"),
)


def test_english_messages_avoid_the_calques_found_in_the_walk() -> None:
    mistakes = [
        f"{key}: say {better!r}: {text!r}"
        for key, text in _entries("en").items()
        for pattern, better in _UNNATURAL_IN_ENGLISH
        if pattern.search(re.sub(r"\{[^}]*\}", "", text))  # placeholders' names are code
    ]
    assert mistakes == []


def test_french_agreement_noted_in_the_walk() -> None:
    # « Seules vous et les personnes… »: with a masculine or mixed group, « seuls ».
    assert not [k for k, text in _entries("fr").items() if "Seules vous" in text]


# -- the catalogs' reader -------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_reader_turns_use_gives_what_babel_reads(language: str) -> None:
    babel = {str(m.id): str(m.string) for m in catalog(language) if m.id and m.string}

    assert messages(language) == babel
    assert len(babel) > 1000


def test_the_reader_joins_continued_lines_and_reads_escapes() -> None:
    source = [
        "# a comment\n",
        'msgid ""\n',
        'msgstr ""\n',
        '"Language: fr\\n"\n',
        "\n",
        'msgid "a.key"\n',
        'msgstr ""\n',
        '"Première ligne\\n"\n',
        '"« cité » \\"entre\\" \\\\ et\\ttab"\n',
        "\n",
        '#~ msgid "old.key"\n',
        '#~ msgstr "gone"\n',
        'msgid "empty.key"\n',
        'msgstr ""\n',
    ]

    assert read_messages(source) == {"a.key": 'Première ligne\n« cité » "entre" \\ et\ttab'}


@pytest.mark.parametrize(
    "line",
    ['msgid_plural "keys"', 'msgctxt "menu"', 'msgid "unterminated'],
    ids=["plural", "context", "unquoted"],
)
def test_the_reader_refuses_what_it_would_misread(line: str) -> None:
    with pytest.raises(ValueError, match=r"unsupported \.po keyword|not a quoted \.po string"):
        read_messages(['msgid "a.key"\n', f"{line}\n", 'msgstr "A"\n'])
