"""Alphabetical order as a French reader expects it. SQLite and PostgreSQL's C collation
compare code points, which puts « Émilie » after « Sarah » and « andré » after « Zoé »."""

from __future__ import annotations

import unicodedata


def name_key(name: str | None) -> tuple[str, str]:
    """Sort key for a name: accents and case set aside, then the name itself so that equal
    keys (« Eve », « Ève ») still come out in one stable order. No name sorts first."""
    text = name or ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)), text
