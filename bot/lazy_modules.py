"""Two libraries the Agents SDK imports at start-up for work Carrefour does not do, loaded only
if that work ever comes (issue 14, idle RSS under 130 MB).

`microsoft_agents.hosting.dialogs` imports all its prompts, and with them
`recognizers_date_time` (7 MB resident, 140 modules) for `DateTimePrompt`, which no dialog of
ours uses; and `recognizers_text` imports `emoji` (5 MB) for one membership test in
`StringUtility.is_emoji`. Each is replaced in `sys.modules`, before the SDK is imported, by a
stand-in that holds the names the SDK binds at import time; reading any of those, or any other
attribute, imports the real module and puts it in `sys.modules` where the stand-in was. The
behaviour is the library's own: the stand-ins only delay the import.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any


class Deferred(ModuleType):
    """Stands in `sys.modules` for a module that is not imported yet."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # importlib and pickle probe dunders: not a reason to load
            raise AttributeError(name)
        return getattr(load(self.__name__), name)


def load(name: str) -> ModuleType:
    """The real module `name`, importing it now if a stand-in holds its place."""
    current = sys.modules.get(name)
    if not isinstance(current, Deferred):
        return importlib.import_module(name)
    del sys.modules[name]
    try:
        return importlib.import_module(name)
    except BaseException:
        sys.modules[name] = current
        raise


def _recognize_datetime(*args: Any, **kwargs: Any) -> Any:
    return load("recognizers_date_time").recognize_datetime(*args, **kwargs)


class _EmojiTable(Mapping[str, Any]):
    """`emoji.UNICODE_EMOJI`, read from the real module the first time it is used."""

    def _table(self) -> Mapping[str, Any]:
        table: Mapping[str, Any] = load("emoji").UNICODE_EMOJI
        return table

    def __getitem__(self, key: str) -> Any:
        return self._table()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __contains__(self, key: object) -> bool:
        return key in self._table()


# The names the SDK's modules (and recognizers_text) bind with `from … import …`.
_STAND_INS: dict[str, Callable[[], dict[str, Any]]] = {
    "recognizers_date_time": lambda: {"recognize_datetime": _recognize_datetime},
    "emoji": lambda: {"UNICODE_EMOJI": _EmojiTable()},
}


def install() -> None:
    """Put the stand-ins in place, for the modules nobody has imported yet."""
    for name, names in _STAND_INS.items():
        if name not in sys.modules:
            module = Deferred(name)
            module.__dict__.update(names())
            sys.modules[name] = module
