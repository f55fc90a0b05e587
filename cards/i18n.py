"""French and English text: Babel gettext catalogs, and dates formatted with Babel.

Message ids are stable keys (``help.title``); both catalogs translate every key, so a missing
or unused entry is a test failure rather than English leaking into a French chat.
The catalogs are read from the ``.po`` sources at first use (no compile step to forget), by a
reader of the subset of the format they use (`read_messages`): Babel's `read_po` builds a
`Message` object per entry, and the memory it leaves behind stayed resident (5 MB of a serving
process's idle RSS). tests/test_catalogs.py checks the reader gives what Babel reads.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

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
        if candidate and _speakable(candidate):
            return candidate.replace("_", "-")
    return DEFAULT_LOCALE


# Every turn asks about its client's locale; there are few of them. A bounded cache: the
# locale is whatever the activity says.
@functools.lru_cache(maxsize=256)
def _speakable(candidate: str) -> bool:
    if language_of(candidate) != candidate.replace("_", "-").split("-")[0].lower():
        return False
    try:
        Locale.parse(candidate.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return False
    return True


def babel_locale(locale: str) -> str:
    return normalize_locale(locale).replace("-", "_")


def catalog(language: str) -> Catalog:
    """The language's catalog as Babel reads it (for tools and tests; turns use `messages`)."""
    from babel.messages.pofile import read_po

    with _po_path(language).open("rb") as handle:
        return read_po(handle, locale=language)


class MissingTranslationError(KeyError):
    pass


def _po_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"


# A C escape of the .po format: \n, \t, \r, \", \\ (Babel's `unescape` reads the same).
_ESCAPE = re.compile(r"\\([\\trn\"])")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _unquote(text: str) -> str:
    body = text.strip()
    if len(body) < 2 or body[0] != '"' or body[-1] != '"':
        raise ValueError(f"not a quoted .po string: {text!r}")
    return _ESCAPE.sub(lambda found: _ESCAPES.get(found[1], found[1]), body[1:-1])


def read_messages(lines: Iterable[str]) -> dict[str, str]:
    """msgid → msgstr of a .po file's entries that have both (no plurals or contexts: the
    catalogs have none, and an entry of that kind is refused rather than misread)."""
    found: dict[str, str] = {}
    field: str | None = None
    parts: dict[str, list[str]] = {}

    def close() -> None:
        key = "".join(parts.get("msgid", []))
        text = "".join(parts.get("msgstr", []))
        if key and text:
            found[key] = text
        parts.clear()

    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # comments, flags and obsolete (#~) entries
        if stripped.startswith('"'):
            if field is None:
                raise ValueError(f"a continuation line outside an entry: {line!r}")
            parts[field].append(_unquote(stripped))
            continue
        keyword, _, rest = stripped.partition(" ")
        if keyword not in ("msgid", "msgstr"):
            raise ValueError(f"unsupported .po keyword: {keyword!r}")
        if keyword == "msgid" and parts:
            close()
        field = keyword
        parts[field] = [_unquote(rest)]
    close()
    return found


@functools.cache
def messages(language: str) -> dict[str, str]:
    with _po_path(language).open(encoding="utf-8") as handle:
        return read_messages(handle)


def translator(locale: str | None) -> Translate:
    """`t = translator('fr-CA'); t('help.title')` or `t('x', name='Léa')` for placeholders."""
    table = messages(language_of(locale))

    def t(key: str, /, **values: Any) -> str:
        try:
            text = table[key]
        except KeyError as error:
            # The catalog test catches this before release; at run time fail loudly.
            raise MissingTranslationError(key) from error
        return text.format(**values) if values else text

    return t


NBSP = "\u00a0"


def _in_zone(moment: datetime, tz: str) -> datetime:
    if moment.tzinfo is None:
        # Stored times are UTC (SQLite returns them naive); never read them as local wall time.
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(tz))


def _first_of_month(text: str, day: int, locale: str) -> str:
    """French writes the first of the month « 1er » (« mardi 1er décembre »)."""
    if day == 1 and language_of(locale) == "fr":
        return re.sub(r"(?<!\d)1(?=[\s\u00a0])", "1er", text, count=1)
    return text


def format_day(moment: datetime, *, locale: str, tz: str) -> str:
    """« mardi 29 décembre 2026 », « mardi 1er décembre 2026 » / « Tuesday, December 29, 2026 »."""
    local = _in_zone(moment, tz)
    text = str(format_date(local, format="full", locale=babel_locale(locale)))
    return _first_of_month(text, local.day, locale)


def format_clock(moment: datetime, *, locale: str, tz: str) -> str:
    """Quebec style « 9 h », « 9 h 30 », « 0 h » / English « 9:30 AM », with non-breaking spaces
    so that a narrow column never leaves « h » or « AM » alone on a line.

    French drops the minutes on the hour (« de 9 h à 16 h ») and never pads the hour: Babel's
    fr-CA short pattern (« 09 h 00 ») is the form the OQLF advises against in running text.
    """
    local = _in_zone(moment, tz)
    if language_of(locale) == "fr":
        pattern = "H 'h'" if local.minute == 0 else "H 'h' mm"
        text = str(format_time(local, pattern, locale=babel_locale(locale)))
    else:
        text = str(format_time(local, format="short", locale=babel_locale(locale)))
    # Babel/CLDR may put a plain or a narrow no-break space (U+202F) before AM/PM or « h ».
    return re.sub(r"[ \u202f]", NBSP, text)


def format_when(moment: datetime, *, locale: str, tz: str) -> str:
    """« mardi 29 décembre 2026 à 9 h 30 » / « Tuesday, December 29, 2026 at 9:30 AM ». The
    joiner is the catalog's: CLDR keeps « à » / "at" in its atTime patterns, which Babel does
    not expose (its `full` pattern became « {1}, {0} » with CLDR 42)."""
    return translator(locale)(
        "time.at",
        day=format_day(moment, locale=locale, tz=tz),
        time=format_clock(moment, locale=locale, tz=tz),
    )


def format_span(start: datetime, end: datetime, *, locale: str, tz: str) -> str:
    """« mardi 29 décembre 2026, de 9 h à 16 h » / « Tuesday, December 29, 2026, 9:00 AM –
    4:00 PM »; a span over two days names both in full (« du … à 9 h au … à 16 h »)."""
    t = translator(locale)
    if _in_zone(start, tz).date() == _in_zone(end, tz).date():
        return t(
            "time.span.same_day",
            day=format_day(start, locale=locale, tz=tz),
            start=format_clock(start, locale=locale, tz=tz),
            end=format_clock(end, locale=locale, tz=tz),
        )
    return t(
        "time.span.days",
        start=format_when(start, locale=locale, tz=tz),
        end=format_when(end, locale=locale, tz=tz),
    )


def format_month(moment: datetime | date, *, locale: str, abbreviated: bool = False) -> str:
    """« décembre 2026 » / « December 2026 »; abbreviated for chart axes: « déc. » / « Dec »."""
    if abbreviated:
        return str(format_date(moment, "LLL", locale=babel_locale(locale)))
    return str(format_date(moment, "LLLL y", locale=babel_locale(locale)))


def plural(locale: str, key: str, count: int, **values: Any) -> str:
    """`key.one` or `key.other` by the language's plural rule (Babel/CLDR): French treats 0 and
    1 as singular (« 0 membre »), English only 1."""
    category = Locale.parse(babel_locale(locale)).plural_form(count)
    suffix = "one" if category == "one" else "other"
    return translator(locale)(f"{key}.{suffix}", count=count, **values)


def long_date(day: date, locale: str) -> str:
    """« 1er mars 2026 » / « March 1, 2026 » (French writes the first of the month 1er)."""
    return _first_of_month(
        str(format_date(day, format="long", locale=babel_locale(locale))), day.day, locale
    )
