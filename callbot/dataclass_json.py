"""Dataclasses to JSON and back, driven by their type hints (no hand-written field lists).

Used to store a call's `DialogueSession` in Redis: a field added to the dataclass is stored and read
back without touching this code. Supported field types: str, int, float, bool, None, Enum, date/time,
bytes (base64), nested dataclasses, list/tuple/set/frozenset/dict of those, and `X | None` unions.
Fields whose type is process-local (`asyncio.Lock` and other `RUNTIME_ONLY` types) are not stored: a
restored object gets their default.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import enum
import functools
import json
import threading
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")
RUNTIME_ONLY: tuple[type, ...] = (asyncio.Lock, asyncio.Event, type(threading.Lock()))


class CodecError(ValueError):
    """A value cannot be stored as JSON, or stored JSON does not fit the dataclass."""


def dumps(obj: Any) -> str:
    """A dataclass instance as JSON text."""
    return json.dumps(to_jsonable(obj), ensure_ascii=False, separators=(",", ":"))


def loads(cls: type[T], text: str | bytes) -> T:
    """The instance of `cls` stored by `dumps`; unknown keys (a field since removed) are ignored."""
    return from_jsonable(cls, json.loads(text))


def to_jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if not isinstance(v, RUNTIME_ONLY):
                out[f.name] = to_jsonable(v)
        return out
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    raise CodecError(f"cannot store a {type(value).__name__} as JSON: {value!r}")


def from_jsonable(tp: Any, data: Any) -> Any:
    if tp is Any or tp is object:
        return data
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if data is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return from_jsonable(option, data)
            except (CodecError, TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise CodecError(f"{data!r} fits none of {tp}: {'; '.join(errors)}")
    if origin is not None:
        args = typing.get_args(tp)
        if origin in (list, set, frozenset):
            return origin(from_jsonable(args[0] if args else Any, v) for v in _list(data, tp))
        if origin is tuple:
            items = _list(data, tp)
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(from_jsonable(args[0], v) for v in items)
            return tuple(from_jsonable(a, v) for a, v in zip(args, items, strict=False))
        if origin is dict:
            key_t, val_t = args if args else (Any, Any)
            if not isinstance(data, dict):
                raise CodecError(f"expected an object for {tp}, got {data!r}")
            return {from_jsonable(key_t, k): from_jsonable(val_t, v) for k, v in data.items()}
        return data
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _dataclass(tp, data)
        if issubclass(tp, enum.Enum):
            return tp(data)
        if tp is bool or tp is str:
            if not isinstance(data, tp):
                raise CodecError(f"expected {tp.__name__}, got {data!r}")
            return data
        if tp in (int, float):
            if isinstance(data, bool) or not isinstance(data, int | float):
                raise CodecError(f"expected {tp.__name__}, got {data!r}")
            return tp(data)
        if tp in (dt.datetime, dt.date, dt.time):
            return tp.fromisoformat(data)
        if tp is bytes:
            return base64.b64decode(data)
    return data


def _dataclass(cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise CodecError(f"expected an object for {cls.__name__}, got {data!r}")
    hints = _type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data and f.init:
            kwargs[f.name] = from_jsonable(hints.get(f.name, Any), data[f.name])
    return cls(**kwargs)


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _list(data: Any, tp: Any) -> list[Any]:
    if not isinstance(data, list):
        raise CodecError(f"expected a list for {tp}, got {data!r}")
    return data
