"""Module facts as JSON-ready lists: the cache's format, which cannot run code when read.

The cache lives in the project folder, so anyone who can commit a file can
plant one. Pickle would execute whatever such a file asks for; JSON can only
describe data, and decoding checks every value against the field types of
the fact records, so a damaged or forged entry is refused (and rebuilt)
rather than half-trusted. A record is a list of its fields in declaration
order, a tuple a list, and everything else a string, integer, boolean or null.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any

from pickle_audit.lint import facts

Decoder = Callable[[Any], Any]


class ForgedFacts(ValueError):
    """A cache entry that is not what this version of the extractor writes."""


def encode_facts(module_facts: facts.ModuleFacts) -> list[Any]:
    return _encode(module_facts)


def decode_facts(data: Any) -> facts.ModuleFacts:
    """Rebuild facts from `encode_facts` output; raises ForgedFacts on anything else."""
    return _DECODERS[facts.ModuleFacts](data)


def _encode(value: Any) -> Any:
    if type(value) in _FIELDS:
        return [_encode(getattr(value, name)) for name in _FIELDS[type(value)]]
    if type(value) is tuple:
        return [_encode(item) for item in value]
    if value is None or type(value) in (str, int, bool):
        return value
    raise TypeError(f"no JSON form for {type(value).__name__} in module facts")


def _record_classes() -> list[type]:
    return [
        value
        for value in vars(facts).values()
        if isinstance(value, type)
        and dataclasses.is_dataclass(value)
        and value.__module__ == facts.__name__
    ]


def _stored_fields(cls: type) -> tuple[str, ...]:
    """Declared fields; underscored ones are caches rebuilt after loading."""
    return tuple(f.name for f in dataclasses.fields(cls) if not f.name.startswith("_"))


_FIELDS: dict[type, tuple[str, ...]] = {cls: _stored_fields(cls) for cls in _record_classes()}


def _fail(expected: str, data: Any) -> typing.NoReturn:
    raise ForgedFacts(f"expected {expected}, found {type(data).__name__}")


def _scalar(kind: type) -> Decoder:
    def decode(data: Any) -> Any:
        if type(data) is not kind:
            _fail(kind.__name__, data)
        return data

    return decode


def _optional(inner: Decoder) -> Decoder:
    return lambda data: None if data is None else inner(data)


def _sequence(inner: Decoder) -> Decoder:
    def decode(data: Any) -> tuple:
        if type(data) is not list:
            _fail("a list", data)
        return tuple(map(inner, data))

    return decode


def _pair(parts: tuple[Decoder, ...]) -> Decoder:
    def decode(data: Any) -> tuple:
        if type(data) is not list or len(data) != len(parts):
            _fail(f"a list of {len(parts)}", data)
        return tuple(part(item) for part, item in zip(parts, data, strict=True))

    return decode


def _record(cls: type, decoders: dict[type, Decoder]) -> Decoder:
    """Builds the frozen record without its __init__: the values are already checked.

    Scalar fields are checked inline, and only nested fields cost a call: the
    warm run decodes some 100,000 records, so this is its largest single cost.
    """
    names = _FIELDS[cls]
    hints = typing.get_type_hints(cls)
    scalars = [(index, hints[name]) for index, name in enumerate(names) if hints[name] in _SCALARS]
    nested: list[tuple[int, Decoder]] = []
    caches = [
        (f.name, f.default_factory) for f in dataclasses.fields(cls) if f.name.startswith("_")
    ]
    size = len(names)
    new = object.__new__

    def decode(data: Any) -> Any:
        if type(data) is not list or len(data) != size:
            _fail(f"{cls.__name__} with {size} fields", data)
        for index, kind in scalars:
            if type(data[index]) is not kind:
                _fail(kind.__name__, data[index])
        values = data[:]
        for index, field in nested:
            values[index] = field(values[index])
        record = new(cls)
        state = record.__dict__
        state.update(zip(names, values, strict=True))
        for name, factory in caches:
            state[name] = factory()
        return record

    decoders[cls] = decode
    nested.extend(
        (index, _decoder_for(hints[name], decoders))
        for index, name in enumerate(names)
        if hints[name] not in _SCALARS
    )
    return decode


_SCALARS = (str, int, bool)


def _decoder_for(hint: Any, decoders: dict[type, Decoder]) -> Decoder:
    if hint in decoders:
        return lambda data: decoders[hint](data)  # resolved late: records nest themselves
    if hint in _SCALARS:
        return _scalar(hint)
    if hint in _FIELDS:
        return _record(hint, decoders)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _optional(_decoder_for(inner, decoders))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _sequence(_decoder_for(args[0], decoders))
    if origin is tuple:
        return _pair(tuple(_decoder_for(arg, decoders) for arg in args))
    raise TypeError(f"module facts hold a field of type {hint!r}, which has no JSON form")


def _all_decoders() -> dict[type, Decoder]:
    decoders: dict[type, Decoder] = {}
    for cls in _FIELDS:
        if cls not in decoders:
            _record(cls, decoders)
    return decoders


_DECODERS = _all_decoders()
