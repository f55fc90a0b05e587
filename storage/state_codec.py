"""The bot's state (dialog stack, last form) as JSON text, and the reading of older rows.

Why not pickle, which the bot stored until the move to the Agents SDK: unpickling runs whatever
the data names (any importable callable, with any arguments), so anyone able to write one row
of `bot_state` (a leaked database password, an SQL injection elsewhere) could run code in the
bot. jsonpickle, used before pickle, has the same flaw. This codec writes plain JSON and
rebuilds, from its tags, only:
- JSON values, and tuples, sets, datetimes, dates, times, timedeltas, bytes, dicts with
  keys other than text;
- classes defined in a module under an allowed prefix (`microsoft_agents.`, `dialogs.`):
  dataclasses and plain classes (their fields set, no code of theirs run but `__new__`),
  enums (by member name), pydantic models (validated);
and refuses anything else with `StateCodecError` (the store then treats the row as empty
state, see storage/state_store.py).

Rows written by the earlier code (`pickle5:` base64 text, or jsonpickle JSON) are read by
`decode_legacy`: a restricted unpickler and a jsonpickle reader that build nothing but inert
placeholders, then map botbuilder's classes to their Agents SDK equivalents (msrest
Activities become pydantic Activities) and our `dialogs.*` classes to themselves; every other
class is refused, never imported nor called.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import functools
import importlib
import io
import json
import pickle
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any

from pydantic import BaseModel

ALLOWED_MODULE_PREFIXES = ("microsoft_agents.", "dialogs.")

# The tag of a tagged JSON object; a dict whose keys are text none of which starts with "$"
# is stored as a plain JSON object.
_TAG = "$t"
# Keys stored as pairs rather than as an object's keys: "$" (tags) and "py/" (jsonpickle's
# tags, so that a row of either format is told apart by its keys alone).
_RESERVED = ("$", "py/")


class StateCodecError(ValueError):
    """State that cannot be stored, or stored text that cannot (or must not) be rebuilt."""


# -- classes ---------------------------------------------------------------------------------


def _allowed_module(module: str) -> bool:
    return any(module.startswith(prefix) for prefix in ALLOWED_MODULE_PREFIXES)


# The per-class lookups below are cached: a turn's state holds the same handful of classes
# (dialog stack, instances, prompt options, choices), and every turn reads and writes it.
# Only answers are cached; a refusal raises each time.


_CLASS_REFS: dict[type, str] = {}
_DATACLASS_FIELDS: dict[type, dict[str, dataclasses.Field[Any]] | None] = {}


def class_ref(cls: type) -> str:
    """`module:qualname` of a class this codec may rebuild, else StateCodecError."""
    found = _CLASS_REFS.get(cls)
    if found is not None:
        return found
    module, qualname = cls.__module__, cls.__qualname__
    if not _allowed_module(module) or "<" in qualname:
        raise StateCodecError(f"cannot store an instance of {module}.{qualname}")
    found = _CLASS_REFS[cls] = f"{module}:{qualname}"
    return found


@functools.cache
def resolve_class(ref: str) -> type:
    """The class `module:qualname` names, only if its module is allowed and the class is
    defined there (a name a module merely imports from elsewhere is refused)."""
    module, _, qualname = ref.partition(":")
    parts = qualname.split(".")
    if (
        not _allowed_module(module)
        or not all(part.isidentifier() and not part.startswith("__") for part in parts)
        or not all(part.isidentifier() for part in module.split("."))
    ):
        raise StateCodecError(f"refused class {ref!r}")
    try:
        found: Any = importlib.import_module(module)
        for part in parts:
            found = getattr(found, part)
    except (ImportError, AttributeError) as error:
        raise StateCodecError(f"unknown class {ref!r}") from error
    if not isinstance(found, type) or found.__module__ != module or found.__qualname__ != qualname:
        raise StateCodecError(f"refused class {ref!r}")
    return found


def _dataclass_fields(cls: type) -> dict[str, dataclasses.Field[Any]] | None:
    """A dataclass's fields by name; None for any other class."""
    if cls not in _DATACLASS_FIELDS:
        _DATACLASS_FIELDS[cls] = (
            {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else None
        )
    return _DATACLASS_FIELDS[cls]


def _fields_of(value: object) -> dict[str, Any]:
    known = _dataclass_fields(type(value))
    if known is not None:
        return {name: getattr(value, name) for name in known}
    fields = getattr(value, "__dict__", None)
    if not isinstance(fields, dict):
        raise StateCodecError(f"cannot store an instance of {type(value).__qualname__}")
    return dict(fields)


def build_object(cls: type, fields: dict[str, Any]) -> Any:
    """An instance of `cls` (already allowed) with these fields, no `__init__` run."""
    if issubclass(cls, Enum | BaseModel):
        raise StateCodecError(f"{cls.__qualname__} is not stored as an object")
    instance = cls.__new__(cls)
    known = _dataclass_fields(cls)
    if known is not None:
        unknown = fields.keys() - known.keys()
        if unknown:
            raise StateCodecError(f"{cls.__qualname__} has no field {sorted(unknown)}")
        for name, spec in known.items():
            if name in fields:
                value = fields[name]
            elif spec.default is not dataclasses.MISSING:
                value = spec.default
            elif spec.default_factory is not dataclasses.MISSING:
                value = spec.default_factory()
            else:
                raise StateCodecError(f"{cls.__qualname__} misses its field {name!r}")
            object.__setattr__(instance, name, value)  # frozen and slotted dataclasses too
        return instance
    if not hasattr(instance, "__dict__"):
        raise StateCodecError(f"cannot rebuild {cls.__qualname__}")
    if not all(isinstance(name, str) for name in fields):
        raise StateCodecError(f"{cls.__qualname__}: field names must be text")
    instance.__dict__.update(fields)
    return instance


# -- encoding --------------------------------------------------------------------------------


def _to_json(value: Any) -> Any:
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is float or kind is str:
        return value
    if kind is list:
        return [_to_json(item) for item in value]
    if kind is dict:
        if all(type(key) is str and not key.startswith(_RESERVED) for key in value):
            return {key: _to_json(item) for key, item in value.items()}
        return {_TAG: "dict", "v": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if isinstance(value, Enum):
        return {_TAG: "enum", "c": class_ref(kind), "v": value.name}
    if isinstance(value, BaseModel):
        dumped = value.model_dump(mode="json", by_alias=True, exclude_none=True)
        return {_TAG: "model", "c": class_ref(kind), "v": dumped}
    if kind is tuple:
        return {_TAG: "tuple", "v": [_to_json(item) for item in value]}
    if kind is set or kind is frozenset:
        return {_TAG: kind.__name__, "v": [_to_json(item) for item in value]}
    if kind is dt.datetime or kind is dt.date or kind is dt.time:
        return {_TAG: kind.__name__, "v": value.isoformat()}
    if kind is dt.timedelta:
        return {_TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if kind is bytes:
        return {_TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    # A subclass outside models (a ChannelId): its plain value.
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    fields = _fields_of(value)
    return {
        _TAG: "object",
        "c": class_ref(kind),
        "v": {name: _to_json(item) for name, item in fields.items()},
    }


def encode(value: Any) -> str:
    """JSON text of `value` (see the module's docstring for what it may hold)."""
    return json.dumps(_to_json(value), ensure_ascii=False, separators=(",", ":"))


# -- decoding --------------------------------------------------------------------------------


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {key: _from_json(item) for key, item in value.items()}
    data = value.get("v")
    try:
        return _TAGS[tag](value, data)
    except KeyError as error:
        if tag not in _TAGS:
            raise StateCodecError(f"unknown tag {tag!r}") from error
        raise StateCodecError(f"malformed {tag!r}: {error}") from error
    except (TypeError, ValueError) as error:
        if isinstance(error, StateCodecError):
            raise
        raise StateCodecError(f"malformed {tag!r}: {error}") from error


def _enum(value: dict[str, Any], data: Any) -> Any:
    cls = resolve_class(value["c"])
    if not issubclass(cls, Enum):
        raise StateCodecError(f"{value['c']} is not an enum")
    return cls[data]


def _model(value: dict[str, Any], data: Any) -> Any:
    cls = resolve_class(value["c"])
    if not issubclass(cls, BaseModel):
        raise StateCodecError(f"{value['c']} is not a model")
    return cls.model_validate(data)


def _object(value: dict[str, Any], data: Any) -> Any:
    cls = resolve_class(value["c"])
    if issubclass(cls, Enum | BaseModel) or not isinstance(data, dict):
        raise StateCodecError(f"{value['c']} is not stored as an object")
    return build_object(cls, {name: _from_json(item) for name, item in data.items()})


def _pairs(data: Any) -> dict[Any, Any]:
    return {_from_json(k): _from_json(v) for k, v in data}


_TAGS: dict[str, Callable[[dict[str, Any], Any], Any]] = {
    "dict": lambda _, data: _pairs(data),
    "tuple": lambda _, data: tuple(_from_json(item) for item in data),
    "set": lambda _, data: {_from_json(item) for item in data},
    "frozenset": lambda _, data: frozenset(_from_json(item) for item in data),
    "datetime": lambda _, data: dt.datetime.fromisoformat(data),
    "date": lambda _, data: dt.date.fromisoformat(data),
    "time": lambda _, data: dt.time.fromisoformat(data),
    "timedelta": lambda _, data: dt.timedelta(*data),
    "bytes": lambda _, data: base64.b64decode(data, validate=True),
    "enum": _enum,
    "model": _model,
    "object": _object,
}


def decode(text: str) -> Any:
    """What `encode` stored; StateCodecError for anything it would not have written."""
    try:
        parsed = json.loads(text)
    except ValueError as error:
        raise StateCodecError(f"not JSON: {error}") from error
    return _from_json(parsed)


# -- rows from before: pickle and jsonpickle -------------------------------------------------


class _Legacy:
    """An inert placeholder for an object of a class the old code stored: its name, the
    arguments it would have been called with, and its state. Nothing of the class is run."""

    legacy_name = ""

    def __new__(cls, *args: Any) -> _Legacy:
        instance = super().__new__(cls)
        instance.args = args
        instance.state = {}
        return instance

    def __init__(self, *_args: Any) -> None:
        self.args: tuple[Any, ...]
        self.state: dict[str, Any]

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots) of slotted classes
            merged: dict[str, Any] = {}
            for part in state:
                merged.update(part or {})
            state = merged
        if not isinstance(state, dict):
            raise StateCodecError(f"{self.legacy_name}: unexpected state")
        self.state.update(state)


_placeholders: dict[str, type[_Legacy]] = {}


def _placeholder(name: str) -> type[_Legacy]:
    if not _legacy_allowed(name):
        raise StateCodecError(f"refused class {name!r} in an old row")
    found = _placeholders.get(name)
    if found is None:
        found = type("Legacy", (_Legacy,), {"legacy_name": name})
        _placeholders[name] = found
    return found


# Standard classes old rows may hold, safe to call with any arguments.
_SAFE_STANDARD: dict[str, type] = {
    "datetime.datetime": dt.datetime,
    "datetime.date": dt.date,
    "datetime.time": dt.time,
    "datetime.timedelta": dt.timedelta,
    "datetime.timezone": dt.timezone,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
}


def _legacy_allowed(name: str) -> bool:
    return name.startswith(("botbuilder.", "botframework.", "dialogs."))


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        full = f"{module}.{name}"
        if full in _SAFE_STANDARD:
            return _SAFE_STANDARD[full]
        return _placeholder(full)


def _read_pickle(raw: bytes) -> Any:
    try:
        return _RestrictedUnpickler(io.BytesIO(raw)).load()
    except StateCodecError:
        raise
    except Exception as error:  # truncated, or an opcode against placeholders
        raise StateCodecError(f"unreadable pickle: {error}") from error


class _JsonPickleReader:
    """jsonpickle's text, read the way jsonpickle 3 numbers its references (`py/id`), into
    plain values and placeholders; any tag or class not listed here is refused."""

    def __init__(self) -> None:
        self._objs: list[Any] = []

    def _ref(self, obj: Any) -> int:
        self._objs.append(obj)
        return len(self._objs) - 1

    def read(self, value: Any) -> Any:
        if isinstance(value, list):
            result: list[Any] = []
            self._ref(result)
            result.extend(self.read(item) for item in value)
            return result
        if not isinstance(value, dict):
            return value
        if "py/tuple" in value:
            return tuple(self.read(item) for item in value["py/tuple"])
        if "py/set" in value:
            return {self.read(item) for item in value["py/set"]}
        if "py/id" in value:
            index = value["py/id"]
            if not isinstance(index, int) or not 0 <= index < len(self._objs):
                raise StateCodecError("dangling py/id")
            return self._objs[index]
        if "py/object" in value:
            return self._object(value)
        if "py/reduce" in value:
            return self._reduce(value["py/reduce"])
        refused = [key for key in value if isinstance(key, str) and key.startswith("py/")]
        if refused:
            raise StateCodecError(f"refused jsonpickle tag {refused[0]!r}")
        data: dict[Any, Any] = {}
        self._ref(data)
        plain = [(k, v) for k, v in value.items() if not k.startswith("json://")]
        keyed = [(k, v) for k, v in value.items() if k.startswith("json://")]
        for key, item in plain:
            data[key] = self.read(item)
        for key, item in keyed:
            try:
                parsed_key = json.loads(key[len("json://") :])
            except ValueError as error:
                raise StateCodecError("unreadable jsonpickle key") from error
            data[self.read(parsed_key)] = self.read(item)
        return data

    def _class(self, value: Any) -> Any:
        if not isinstance(value, dict) or not isinstance(value.get("py/type"), str):
            raise StateCodecError("refused jsonpickle reduce")
        name: str = value["py/type"]
        return _SAFE_STANDARD.get(name) or _placeholder(name)

    def _reduce(self, parts: Any) -> Any:
        if not isinstance(parts, list) or not parts:
            raise StateCodecError("malformed py/reduce")
        index = self._ref(None)
        cls = self._class(parts[0])
        args = self.read(parts[1]) if len(parts) > 1 else ()
        if not isinstance(args, tuple | list):
            raise StateCodecError("malformed py/reduce")
        built = cls(*args)
        if len(parts) > 2 and parts[2]:
            built.__setstate__(self.read(parts[2]))
        self._objs[index] = built
        return built

    def _object(self, value: dict[str, Any]) -> Any:
        name = value["py/object"]
        if not isinstance(name, str):
            raise StateCodecError("malformed py/object")
        index = self._ref(None)
        if name in _SAFE_STANDARD:  # jsonpickle's datetime handler: bytes as base64 text
            cls, args = value["__reduce__"]
            found = _SAFE_STANDARD[name]
            if self._class(cls) is not found:
                raise StateCodecError("malformed datetime")
            first, *rest = args
            built = found(base64.b64decode(first), *(self.read(item) for item in rest))
        else:
            built = _placeholder(name)()
            state = {k: self.read(v) for k, v in value.items() if not k.startswith("py/")}
            if "py/state" in value:
                state.update(self.read(value["py/state"]))
            extra = [k for k in value if k.startswith("py/") and k not in ("py/object", "py/state")]
            if extra:
                raise StateCodecError(f"refused jsonpickle tag {extra[0]!r}")
            built.state.update(state)
        self._objs[index] = built
        return built


def _activity_namespaces() -> Iterable[Any]:
    import microsoft_agents.activity as activity
    import microsoft_agents.activity.teams as teams

    return (activity, teams)


def _dialog_namespaces() -> Iterable[Any]:
    import microsoft_agents.hosting.dialogs as dialogs
    import microsoft_agents.hosting.dialogs.choices as choices
    import microsoft_agents.hosting.dialogs.prompts as prompts

    return (dialogs, prompts, choices)


def _sdk_class(name: str, namespaces: Iterable[Any]) -> type:
    short = name.rsplit(".", 1)[-1]
    for namespace in namespaces:
        found = getattr(namespace, short, None)
        if isinstance(found, type) and _allowed_module(found.__module__):
            return found
    raise StateCodecError(f"no Agents SDK class for {name!r}")


class _Converter:
    """Placeholders to the classes the bot uses now; shared objects stay shared."""

    def __init__(self) -> None:
        self._done: dict[int, Any] = {}

    def convert(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.convert(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.convert(item) for item in value)
        if isinstance(value, set | frozenset):
            return type(value)(self.convert(item) for item in value)
        if isinstance(value, dict):
            return {self.convert(k): self.convert(v) for k, v in value.items()}
        if not isinstance(value, _Legacy):
            return value  # JSON values, datetimes
        if id(value) not in self._done:
            self._done[id(value)] = self._rebuild(value)
        return self._done[id(value)]

    def _fields(self, legacy: _Legacy) -> dict[str, Any]:
        return {name: self.convert(item) for name, item in legacy.state.items()}

    def _rebuild(self, legacy: _Legacy) -> Any:
        name = legacy.legacy_name
        if name.startswith("dialogs."):
            module, _, qualname = name.rpartition(".")
            cls = resolve_class(f"{module}:{qualname}")
            if issubclass(cls, Enum):
                return cls(*legacy.args)
            return build_object(cls, self._fields(legacy))
        if name.startswith(("botbuilder.schema", "botframework.")):
            cls = _sdk_class(name, _activity_namespaces())
            if issubclass(cls, Enum):
                return cls(*legacy.args)
            if not issubclass(cls, BaseModel):
                raise StateCodecError(f"no Agents SDK model for {name!r}")
            fields = {
                key: item
                for key, item in self._fields(legacy).items()
                if item is not None and key != "additional_properties"
            }
            return cls.model_validate(fields)
        if name.startswith("botbuilder.dialogs"):
            cls = _sdk_class(name, _dialog_namespaces())
            if issubclass(cls, Enum):  # botbuilder's ListStyle held "0".."5"
                (raw,) = legacy.args
                return cls(type(next(iter(cls)).value)(raw))
            fields = {key.lstrip("_"): item for key, item in self._fields(legacy).items()}
            if dataclasses.is_dataclass(cls):
                names = {f.name for f in dataclasses.fields(cls)}
                if "dialog_stack" in names and "stack" in fields:
                    fields["dialog_stack"] = fields.pop("stack")
                return build_object(cls, {k: v for k, v in fields.items() if k in names})
            fresh = cls()  # a plain class (PromptOptions): its attributes as a new one has
            for key, item in fields.items():
                if key in fresh.__dict__:
                    setattr(fresh, key, item)
            return fresh
        raise StateCodecError(f"refused class {name!r} in an old row")


PICKLE_PREFIX = "pickle5:"


def decode_legacy(text: str) -> Any:
    """A row the earlier code wrote (`pickle5:` base64, or jsonpickle JSON), rebuilt with
    today's classes; StateCodecError if it holds anything else."""
    if text.startswith(PICKLE_PREFIX):
        try:
            raw = base64.b64decode(text[len(PICKLE_PREFIX) :], validate=True)
        except ValueError as error:
            raise StateCodecError("unreadable base64") from error
        neutral = _read_pickle(raw)
    else:
        try:
            parsed = json.loads(text)
        except ValueError as error:
            raise StateCodecError(f"not JSON: {error}") from error
        neutral = _JsonPickleReader().read(parsed)
    try:
        return _Converter().convert(neutral)
    except StateCodecError:
        raise
    except (TypeError, ValueError, KeyError) as error:
        raise StateCodecError(f"cannot convert an old row: {error}") from error


def _has_jsonpickle_keys(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_jsonpickle_keys(item) for item in value)
    if isinstance(value, dict):
        return any(
            key.startswith("py/") or _has_jsonpickle_keys(item) for key, item in value.items()
        )
    return False


def decode_stored(text: str) -> tuple[Any, bool]:
    """A stored row's value, and whether it was written before this codec (then to be
    rewritten); StateCodecError for a row that cannot or must not be rebuilt."""
    if text.startswith(PICKLE_PREFIX):
        return decode_legacy(text), True
    try:
        parsed = json.loads(text)
    except ValueError as error:
        raise StateCodecError(f"not JSON: {error}") from error
    # jsonpickle's tags are keys starting "py/", which it writes unescaped: a row without the
    # text `"py/` is not one of its rows, and the walk is skipped (a value holding that text
    # is walked, and read as before; a row crafted with escaped keys is read as plain data,
    # which rebuilds nothing).
    if '"py/' in text and _has_jsonpickle_keys(parsed):
        return decode_legacy(text), True
    return _from_json(parsed), False
