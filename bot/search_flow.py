"""The search message extension in the bot: Teams' `composeExtension/query` invoke, as a person
types in the compose box or the command box, answered with result cards.

No routing here: the feature (bot/features/search.py) registers `on_query` for the command id
the manifest declares. The invoke's value is read for the words typed and the page wanted
(`queryOptions`); nothing in it chooses a community: storage/search.py decides what the person
may see from their memberships.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.turns import FeatureTurn, as_int
from cards.search import build_search_message, build_search_results
from storage import search

logger = logging.getLogger(__name__)

# The manifest's `composeExtensions[0].commands[0]` (manifest/manifest.template.json).
COMMAND_ID = "search"
QUERY_PARAMETER = "query"
# Sent instead of the words on the first run (`initialRun`), when nothing is typed yet.
INITIAL_RUN_PARAMETER = "initialRun"


def typed_words(value: dict[str, Any]) -> str:
    """The text typed in the search box; empty on the initial run or when malformed."""
    parameters = value.get("parameters")
    if not isinstance(parameters, list):
        return ""
    for parameter in parameters:
        if not isinstance(parameter, dict) or parameter.get("name") != QUERY_PARAMETER:
            continue
        words = parameter.get("value")
        return words[: search.MAX_QUERY_CHARS] if isinstance(words, str) else ""
    return ""


def page_wanted(value: dict[str, Any]) -> tuple[int, int]:
    """(skip, count) from `queryOptions`; the first full page for anything missing or odd."""
    options = value.get("queryOptions")
    options = options if isinstance(options, dict) else {}
    skip = as_int(options.get("skip"))
    count = as_int(options.get("count"))
    return (
        min(skip if skip is not None else 0, search.MAX_SKIP),
        min(count, search.MAX_COUNT) if count else search.MAX_COUNT,
    )


async def on_query(turn: FeatureTurn, value: dict[str, Any]) -> dict[str, Any]:
    locale = turn.info.locale
    skip, count = page_wanted(value)
    async with turn.sessions() as session:
        page = await search.search(
            session,
            person_id=turn.info.person_id,
            query=typed_words(value),
            skip=skip,
            count=count,
        )
    if not page.member:
        return build_search_message("search.no_community", locale=locale)
    logger.info("search answered with %d results", len(page.results))
    return build_search_results(page.results, locale=locale)
