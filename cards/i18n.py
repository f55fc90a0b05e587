"""French and English text: Babel gettext catalogs, and dates formatted with Babel.

Message ids are stable keys (``help.title``); both catalogs translate every key, so a missing
or unused entry is a test failure rather than English leaking into a French chat.
The catalogs are read from the ``.po`` sources at first use (no compile step to forget).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = ("fr", "en")
DEFAULT_LOCALE = "fr-CA"

Translate = Callable[..., str]


def language_of(locale: str | None) -> str:
    """'fr-CA' → 'fr', 'en-US' → 'en'; anything else → French, the network's language."""
    if locale:
        prefix = locale.replace("_", "-").split("-")[0].lower()
        if prefix in LANGUAGES:
            return prefix
    return "fr"


def normalize_locale(locale: str | None, default: str = DEFAULT_LOCALE) -> str:
    """A locale we can speak and Babel can format with, as a BCP 47 tag ('fr-CA', 'en-US')."""
    for candidate in (locale, default):
        if (
            candidate
            and language_of(candidate) == candidate.replace("_", "-").split("-")[0].lower()
        ):
            try:
                Locale.parse(candidate.replace("-", "_"))
            except (ValueError, UnknownLocaleError):
                continue
            return candidate.replace("_", "-")
    return DEFAULT_LOCALE


def babel_locale(locale: str) -> str:
    return normalize_locale(locale).replace("-", "_")


@functools.cache
def catalog(language: str) -> Catalog:
    path = LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


class MissingTranslationError(KeyError):
    pass


@functools.cache
def _messages(language: str) -> dict[str, str]:
    return {
        str(message.id): str(message.string)
        for message in catalog(language)
        if message.id and message.string
    }


def translator(locale: str | None) -> Translate:
    """`t = translator('fr-CA'); t('help.title')` or `t('x', name='Léa')` for placeholders."""
    messages = _messages(language_of(locale))

    def t(key: str, /, **values: Any) -> str:
        try:
            text = messages[key]
        except KeyError as error:
            # The catalog test catches this before release; at run time fail loudly.
            raise MissingTranslationError(key) from error
        return text.format(**values) if values else text

    return t


def format_day(moment: datetime, *, locale: str, tz: str) -> str:
    """« samedi 5 décembre 2026 » / « Saturday, December 5, 2026 »."""
    return str(
        format_date(moment.astimezone(ZoneInfo(tz)), format="full", locale=babel_locale(locale))
    )


def format_clock(moment: datetime, *, locale: str, tz: str) -> str:
    """« 09 h 00 » / « 9:00 AM »."""
    zone = ZoneInfo(tz)
    return str(
        format_time(
            moment.astimezone(zone), format="short", tzinfo=zone, locale=babel_locale(locale)
        )
    )


def format_when(moment: datetime, *, locale: str, tz: str) -> str:
    """« samedi 5 décembre 2026 à 09 h 00 » — the locale's own way to join date and time."""
    joiner = str(get_datetime_format("full", locale=babel_locale(locale))).replace("'", "")
    return joiner.format(
        format_clock(moment, locale=locale, tz=tz), format_day(moment, locale=locale, tz=tz)
    )


def plural(locale: str, key: str, count: int, **values: Any) -> str:
    """`key.one` or `key.other` by the language's plural rule (Babel/CLDR): French treats 0 and
    1 as singular (« 0 membre »), English only 1."""
    category = Locale.parse(babel_locale(locale)).plural_form(count)
    suffix = "one" if category == "one" else "other"
    return translator(locale)(f"{key}.{suffix}", count=count, **values)


def long_date(day: date, locale: str) -> str:
    """« 1er mars 2026 » / « March 1, 2026 » (French writes the first of the month 1er)."""
    text = str(format_date(day, format="long", locale=babel_locale(locale)))
    if day.day == 1 and language_of(locale) == "fr" and text.startswith("1 "):
        text = "1er " + text[2:]
    return text
