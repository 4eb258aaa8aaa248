"""JSON codecs for what the engine keeps in keyed state, derived from the types' annotations.

A state store outside the process (a stream worker's RocksDB and its changelog topic, a
table) keeps values as bytes, and the bytes must never be code: no pickles. A namespace's
values are one typed dataclass (or plain type), so its codec is read off the annotations once
and compiled to two functions: `to_json` (plain JSON: dicts, lists, strings, numbers) and
`from_json`, which rebuilds exactly that type and refuses anything else with a `CodecError`
naming where in the value it went wrong.

Supported: dataclasses (slots or not, frozen or not), `X | None`, `str`, `int`, `float`,
`bool`, enums, `datetime`, `list`/`set`/`frozenset`/`tuple` of one type, fixed tuples,
`dict`/`Mapping` of any hashable key type (kept as a list of pairs: JSON keys are strings
only), and `Any` (kept as it is, which must already be JSON).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from typing import Any

Encode = Callable[[Any], Any]
Decode = Callable[[Any], Any]


class CodecError(ValueError):
    """A stored value that is not what its namespace keeps (or a type no codec is made for)."""


def codec(tp: Any) -> tuple[Encode, Decode]:
    """(to_json, from_json) for values of type `tp`."""
    return _encoder(tp), _decoder(tp)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _fields(cls: type) -> list[tuple[str, Any]]:
    hints = _hints(cls)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(cls)]


def _args(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp)


def _origin(tp: Any) -> Any:
    return typing.get_origin(tp)


def _is_union(tp: Any) -> bool:
    return _origin(tp) in (typing.Union, types.UnionType)


def _optional(tp: Any) -> Any:
    """X of `X | None` (the only unions kept: a value must say which type it is)."""
    inner = [a for a in _args(tp) if a is not type(None)]
    if len(inner) != 1:
        raise CodecError(f"no codec for a union of several types: {tp}")
    return inner[0]


def _is_collection(origin: Any, args: tuple[Any, ...]) -> bool:
    """list, set, frozenset or tuple of one type (`tuple[X, ...]`)."""
    return origin in (list, set, frozenset) or (origin is tuple and len(args) == 2
                                                and args[1] is Ellipsis)


def _sort_key(v: Any) -> tuple[str, str]:
    # Sets are written sorted so that one value always has one encoding (a changelog
    # compares bytes); mixed types sort by type name first.
    return (type(v).__name__, repr(v))


@cache
def _encoder(tp: Any) -> Encode:
    if tp is Any:
        return lambda v: v
    if tp in (str, int, bool, type(None)):
        return lambda v: v
    if tp is float:
        return float
    if tp is datetime:
        return lambda v: v.isoformat()
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return lambda v: v.value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        fields = [(name, _encoder(t)) for name, t in _fields(tp)]
        return lambda v: {name: enc(getattr(v, name)) for name, enc in fields}
    if _is_union(tp):
        enc = _encoder(_optional(tp))
        return lambda v: None if v is None else enc(v)
    origin, args = _origin(tp), _args(tp)
    if _is_collection(origin, args):
        enc = _encoder(args[0])
        if origin in (set, frozenset):
            return lambda v: [enc(x) for x in sorted(v, key=_sort_key)]
        return lambda v: [enc(x) for x in v]
    if origin is tuple:
        encs = [_encoder(a) for a in args]
        return lambda v: [e(x) for e, x in zip(encs, v, strict=True)]
    if origin in (dict, Mapping):
        ek, ev = _encoder(args[0]), _encoder(args[1])
        return lambda v: [[ek(k), ev(x)] for k, x in v.items()]
    raise CodecError(f"no codec for type {tp}")


def _expect(kind: type | tuple[type, ...], raw: Any, what: str) -> Any:
    # JSON's true is not a number here, and a number is not true.
    if not isinstance(raw, kind) or (isinstance(raw, bool) and kind is not bool):
        raise CodecError(f"expected {what}, got {type(raw).__name__}")
    return raw


@cache
def _decoder(tp: Any) -> Decode:
    if tp is Any:
        return lambda raw: raw
    if tp is type(None):
        return lambda raw: _none(raw)
    if tp is str:
        return lambda raw: _expect(str, raw, "a string")
    if tp is bool:
        return lambda raw: _expect(bool, raw, "true or false")
    if tp is int:
        return lambda raw: _expect(int, raw, "a whole number")
    if tp is float:
        return _float
    if tp is datetime:
        return _datetime
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return lambda raw: _enum(tp, raw)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        fields = [(name, _decoder(t)) for name, t in _fields(tp)]
        defaulted = _defaulted(tp)
        return lambda raw: _dataclass(tp, fields, raw, defaulted)
    if _is_union(tp):
        dec = _decoder(_optional(tp))
        return lambda raw: None if raw is None else dec(raw)
    origin, args = _origin(tp), _args(tp)
    if _is_collection(origin, args):
        dec = _decoder(args[0])
        make: Callable[[Any], Any] = {list: list, set: set, frozenset: frozenset,
                                      tuple: tuple}[origin]
        return lambda raw: make(dec(x) for x in _expect(list, raw, "a list"))
    if origin is tuple:
        decs = [_decoder(a) for a in args]
        return lambda raw: _fixed(decs, raw)
    if origin in (dict, Mapping):
        dk, dv = _decoder(args[0]), _decoder(args[1])
        return lambda raw: {dk(_pair(p)[0]): dv(p[1]) for p in _expect(list, raw, "a list")}
    raise CodecError(f"no codec for type {tp}")


def _float(raw: Any) -> float:
    value = float(_expect((int, float), raw, "a number"))
    if not math.isfinite(value):  # JSON parsers take NaN and Infinity; no kept value is one
        raise CodecError(f"expected a finite number, got {value}")
    return value


def _none(raw: Any) -> None:
    if raw is not None:
        raise CodecError(f"expected null, got {type(raw).__name__}")


def _datetime(raw: Any) -> datetime:
    try:
        return datetime.fromisoformat(_expect(str, raw, "a date"))
    except ValueError as exc:
        raise CodecError(f"not a date: {exc}") from None


def _enum(tp: type[enum.Enum], raw: Any) -> enum.Enum:
    try:
        return tp(raw)
    except ValueError:
        raise CodecError(f"{raw!r} is not a {tp.__name__}") from None


def _pair(raw: Any) -> list[Any]:
    if not isinstance(raw, list) or len(raw) != 2:
        raise CodecError("expected a [key, value] pair")
    return raw


def _fixed(decs: list[Decode], raw: Any) -> tuple[Any, ...]:
    items = _expect(list, raw, "a list")
    if len(items) != len(decs):
        raise CodecError(f"expected {len(decs)} items, got {len(items)}")
    return tuple(d(x) for d, x in zip(decs, items, strict=True))


def _defaulted(cls: type) -> frozenset[str]:
    """Fields with a default: a value stored before the field existed still decodes."""
    return frozenset(f.name for f in dataclasses.fields(cls)
                     if f.default is not dataclasses.MISSING
                     or f.default_factory is not dataclasses.MISSING)


def _dataclass(tp: type, fields: list[tuple[str, Decode]], raw: Any,
               defaulted: frozenset[str]) -> Any:
    obj = _expect(dict, raw, f"an object ({tp.__name__})")
    kwargs = {}
    for name, dec in fields:
        if name not in obj:
            if name in defaulted:
                continue
            raise CodecError(f"{tp.__name__}: '{name}' is missing")
        try:
            kwargs[name] = dec(obj[name])
        except CodecError as exc:
            raise CodecError(f"{tp.__name__}.{name}: {exc}") from None
    return tp(**kwargs)
