"""Every message the code uses exists in French and English, and nothing in them is unused."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from cards.community import DEFAULT_INTERESTS, DISCIPLINES, REGIONS
from cards.help import FEATURES
from cards.i18n import LANGUAGES, catalog
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
            for feature in FEATURES
            for part in ("title", "description")
        }
        | {f"command.{feature.key}.button" for feature in FEATURES if feature.button}
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
        assert labelled == {feature.key for feature in FEATURES if feature.button}


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
    wrong = ["Prêt ?", "« aide »", "16 h 00", "16\u00a0h 00", "{count} personnes", "Note : oui"]
    right = ["Prêt\u00a0?", "«\u00a0aide\u00a0»", "16\u00a0h\u00a000", "{count}\u00a0personnes"]
    assert all(any(p.search(text) for p, _ in _BREAKABLE_IN_FRENCH) for text in wrong)
    assert not any(p.search(text) for p, _ in _BREAKABLE_IN_FRENCH for text in right)
