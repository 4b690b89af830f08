"""What a serializer saves for one object, as named children.

This mirrors the dispatch order of `pickle.Pickler.save` (containers, reducer
override, dispatch table, `__reduce_ex__(protocol)`), so the children the
tracer visits are exactly the values the serializer would save, and each gets
the user-facing name from DESIGN.md's path syntax rather than a position in an
internal reduce tuple. Instance state is read only through what `__reduce_ex__`
returns and through `__dict__`/slot descriptors: properties are never called.
"""

from __future__ import annotations

import copyreg
import dataclasses
import re
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pickle_audit.trace.serializers import Serializer, dispatch_table_of

# Values that every pickler saves inline and that can never fail.
ATOMIC_TYPES = frozenset(
    {type(None), bool, int, float, complex, str, bytes, type(Ellipsis), type(NotImplemented)}
)

# A segment of None marks a reduction's reconstructor or class: when that fails,
# the object that owns it is the one to report.
OWNER = None

Group = tuple[Iterable[tuple[Any, Any]], Callable[[Any], "str | None"]]

_MAX_REPR = 60
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def safe_repr(value: object) -> str:
    """repr() that survives hostile `__repr__` and stays short enough for a path."""
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__} object>"
    text = _ADDRESS.sub("", text)  # paths must not change from run to run
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def _item(index: Any) -> str:
    return f"[{index}]"


def _value(key: Any) -> str:
    return f"[{safe_repr(key)}]"


def _key(key: Any) -> str:
    return f"<{safe_repr(key)}>"


def _member(element: Any) -> str:
    return "{" + safe_repr(element) + "}"


def _literal(segment: str | None) -> str | None:
    return segment


def _attr_segment(name: Any) -> str:
    return f".{name}" if isinstance(name, str) else f".__dict__[{safe_repr(name)}]"


def children(obj: Any, serializer: Serializer, pickler: Any) -> list[Group]:
    """The groups of (key, child) pairs the serializer saves for `obj`.

    Raises whatever the object's own reduction raises: then `obj` is a leaf.
    An empty list means the object is saved whole (by reference or by custom
    code), so it can only be judged as a whole.
    """
    cls = type(obj)
    if cls in ATOMIC_TYPES:
        return []
    if cls is list or cls is tuple:
        return [(enumerate(obj), _item)]
    if cls is dict:
        return _mapping_groups(obj.items())
    if cls is set or cls is frozenset:
        return [(((element, element) for element in obj), _member)]
    if isinstance(obj, types.FunctionType):
        return _function_groups(obj) if serializer.functions_by_value else []
    if isinstance(obj, type):
        return _class_groups(obj) if serializer.functions_by_value else []
    if cls in serializer.opaque_types:
        return []
    override = getattr(pickler, "reducer_override", None)
    if override is not None:
        reduced = override(obj)
        if reduced is not NotImplemented:
            return _reduce_groups(obj, reduced)
    if _is_object_array(obj):
        return [(_ndenumerate(obj), _item)]
    reducer = dispatch_table_of(pickler).get(cls)
    if reducer is not None:
        return _reduce_groups(obj, reducer(obj))
    reduce_ex = getattr(obj, "__reduce_ex__", None)
    reduced = reduce_ex(serializer.protocol) if reduce_ex is not None else obj.__reduce__()
    return _reduce_groups(obj, reduced)


def _mapping_groups(items: Iterable[tuple[Any, Any]]) -> list[Group]:
    pairs = list(items)
    keys = [(key, key) for key, _ in pairs if type(key) not in ATOMIC_TYPES]
    return [(keys, _key), (pairs, _value)]


def _function_groups(func: types.FunctionType) -> list[Group]:
    """What a by-value serializer (cloudpickle, dill) ships with a function."""
    named: list[tuple[str, Any]] = []
    code = func.__code__
    for name, cell in zip(code.co_freevars, func.__closure__ or (), strict=False):
        try:
            named.append((f".__closure__[{name}]", cell.cell_contents))
        except ValueError:  # an empty cell: nothing to ship
            continue
    module_globals = func.__globals__
    named.extend(
        (f".__globals__[{name!r}]", module_globals[name])
        for name in sorted(_global_names(code))
        if name in module_globals
    )
    named.extend((f".__defaults__[{i}]", value) for i, value in enumerate(func.__defaults__ or ()))
    named.extend(
        (f".__kwdefaults__[{key!r}]", value) for key, value in (func.__kwdefaults__ or {}).items()
    )
    named.extend((f".{key}", value) for key, value in func.__dict__.items())
    return [(named, _literal)]


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


_CLASS_BOOKKEEPING = frozenset(
    {"__dict__", "__weakref__", "__module__", "__doc__", "__qualname__", "__slots__"}
)


def _class_groups(cls: type) -> list[Group]:
    """A class pickled by value ships its namespace."""
    namespace = [
        (f".{name}", value)
        for name, value in vars(cls).items()
        if name not in _CLASS_BOOKKEEPING and not isinstance(value, types.MemberDescriptorType)
    ]
    return [(namespace, _literal)]


def _is_object_array(obj: Any) -> bool:
    cls = type(obj)
    if cls.__name__ != "ndarray" or not cls.__module__.startswith("numpy"):
        return False
    return obj.dtype.hasobject


def _ndenumerate(array: Any) -> Iterator[tuple[Any, Any]]:
    import numpy

    for index, value in numpy.ndenumerate(array):
        yield (index[0] if len(index) == 1 else ", ".join(map(str, index))), value


def _reduce_groups(obj: Any, reduced: Any) -> list[Group]:
    """Name the parts of a `__reduce__` value after the attributes they came from."""
    if isinstance(reduced, str):
        return []  # saved as a global, by reference
    if not isinstance(reduced, tuple) or not 2 <= len(reduced) <= 6:
        raise TypeError(
            f"{type(obj).__qualname__}.__reduce__ must return a string or a tuple of 2 to 6"
            f" items, not {safe_repr(reduced)}"
        )
    func, args, state, list_items, dict_items = (*reduced, None, None, None)[:5]
    if not isinstance(args, tuple):
        raise TypeError(f"the arguments in {type(obj).__qualname__}'s reduction must be a tuple")
    named: list[tuple[str | None, Any]] = []
    if func is copyreg.__newobj__ and args:
        named.append((OWNER, args[0]))
        arguments = list(args[1:])
    elif func is copyreg.__newobj_ex__ and len(args) == 3:
        named.append((OWNER, args[0]))
        arguments = [*args[1], *args[2].values()]
    elif func is copyreg._reconstructor and len(args) == 3:
        named.append((OWNER, args[0]))
        arguments = [args[2]]
    else:
        named.append((OWNER, func))
        arguments = list(args)
    attributes = _attribute_values(obj, state)
    whole = next((name for name, value in attributes.items() if value is args), None)
    if whole is not None:  # e.g. an exception's reduction passes self.args itself
        named.extend((f".{whole}[{index}]", value) for index, value in enumerate(args))
    else:
        named.extend(_name_by_identity(arguments, attributes, ".__getnewargs__()"))
    named.extend(_state_parts(obj, state, attributes))
    groups: list[Group] = [(named, _literal)]
    if list_items is not None:
        groups.append((enumerate(list_items), _item))
    if dict_items is not None:
        groups.extend(_mapping_groups(dict_items))
    return groups


def _state_parts(obj: Any, state: Any, attributes: dict[str, Any]) -> list[tuple[str, Any]]:
    if state is None:
        return []
    slots = None
    is_pair = isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict)
    if is_pair and (state[0] is None or isinstance(state[0], dict)):
        state, slots = state
    if isinstance(state, dict) or isinstance(slots, dict):
        parts: list[tuple[str, Any]] = []
        for mapping in (state, slots):
            if isinstance(mapping, dict):
                parts.extend(_flatten_state_dict(mapping))
        return parts
    if dataclasses.is_dataclass(obj) and isinstance(state, (list, tuple)):
        fields = dataclasses.fields(obj)
        if len(fields) == len(state):
            return [(f".{field.name}", value) for field, value in zip(fields, state, strict=True)]
    if isinstance(state, (tuple, list)):  # e.g. functools.partial: (func, args, keywords, dict)
        return _name_by_identity(list(state), attributes, ".__getstate__()")
    return _name_by_identity([state], attributes, ".__getstate__()")


def _flatten_state_dict(state: dict[Any, Any]) -> list[tuple[str, Any]]:
    """Attributes from a state dict; pydantic keeps fields and privates one level down."""
    parts: list[tuple[str, Any]] = []
    for key, value in state.items():
        if key in ("__dict__", "__pydantic_private__") and isinstance(value, dict):
            parts.extend((_attr_segment(name), item) for name, item in value.items())
        elif key in ("__pydantic_extra__", "__pydantic_private__") and value is None:
            continue
        else:
            parts.append((_attr_segment(key), value))
    return parts


def _name_by_identity(
    values: list[Any], attributes: dict[str, Any], fallback: str
) -> list[tuple[str, Any]]:
    by_id = {id(value): name for name, value in attributes.items()}
    named = []
    for index, value in enumerate(values):
        name = by_id.get(id(value))
        if name is not None:
            named.append((f".{name}", value))
        else:
            named.append((f"{fallback}[{index}]" if len(values) > 1 else fallback, value))
    return named


def _attribute_values(obj: Any, state: Any) -> dict[str, Any]:
    """Attributes to name reduction parts by; bound methods add `__self__`/`__func__`."""
    found = instance_attributes(obj, state)
    if isinstance(obj, (types.MethodType, types.BuiltinMethodType, types.MethodWrapperType)):
        found["__self__"] = obj.__self__  # C-level attributes, free of side effects
        if isinstance(obj, types.MethodType):
            found["__func__"] = obj.__func__
    return found


def instance_attributes(obj: Any, state: Any = None, *, c_level: bool = True) -> dict[str, Any]:
    """Attributes readable without running user code: slots, `__dict__`, C-level members.

    Properties and other Python descriptors are skipped on purpose: they may
    have side effects, and the serializer does not call them either. A state
    dict from the reduction stands in for `__dict__`. `c_level=False` leaves out
    computed C attributes (such as an array's `.T`), which a recursive comparison
    must not follow.
    """
    kinds = (
        (types.MemberDescriptorType, types.GetSetDescriptorType)
        if c_level
        else types.MemberDescriptorType
    )
    found: dict[str, Any] = {}
    for klass in reversed(type(obj).__mro__[:-1]):
        for name, descriptor in vars(klass).items():
            if isinstance(descriptor, kinds) and name not in ("__dict__", "__weakref__"):
                try:
                    found[name] = descriptor.__get__(obj, klass)
                except Exception:  # an unset slot, or a getter that refuses
                    continue
    found.update(_instance_dict(obj, state))
    return found


def _instance_dict(obj: Any, state: Any) -> dict[str, Any]:
    if isinstance(state, dict):
        instance_dict = state
    elif isinstance(obj, BaseException):
        # reading an exception's __dict__ creates one, which changes how it pickles
        reduced = BaseException.__reduce__(obj)
        instance_dict = reduced[2] if len(reduced) > 2 else None
    else:
        try:
            instance_dict = object.__getattribute__(obj, "__dict__")
        except Exception:
            instance_dict = None
    if not isinstance(instance_dict, dict):
        return {}
    return {key: value for key, value in instance_dict.items() if isinstance(key, str)}
