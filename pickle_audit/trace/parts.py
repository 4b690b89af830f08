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
import dis
import re
import sys
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


def _value(entry: tuple[int, Any]) -> str:
    """A mapping value: `[key!r]` when the repr is the key itself, else `[#i]`, the
    i-th entry in iteration order (a truncated or address-free repr may name another)."""
    position, key = entry
    return f"[{key!r}]" if _is_exact_literal(key) else f"[#{position}]"


def _key(entry: tuple[int, Any]) -> str:
    return f"<#{entry[0]}>"


def _member(entry: tuple[int, Any]) -> str:
    return f"{{#{entry[0]}}}"


def _is_exact_literal(key: Any, depth: int = 0) -> bool:
    """Keys whose repr reads back as an equal key (strings, numbers, tuples of them)."""
    kind = type(key)
    if kind is tuple:
        return depth < 3 and len(key) <= 8 and all(_is_exact_literal(k, depth + 1) for k in key)
    if kind is float:
        return key == key and key not in (float("inf"), float("-inf"))
    if kind in (str, bytes):
        return len(key) <= _MAX_REPR
    return kind in (int, bool, type(None))


def _item_by_repr(key: Any) -> str:
    return f"[{key!r}]"


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
        return [(((entry, entry[1]) for entry in enumerate(obj)), _member)]
    if issubclass(cls, (types.FunctionType, type)):
        if not serializer.functions_by_value or saved_by_reference(obj, serializer.name):
            return []
        if issubclass(cls, type):
            return _class_groups(obj)
        return _function_groups(obj, globals_travel=_globals_travel(serializer.name))
    if _is_object_array(obj):  # before dill's own array saver, which it adds on first use
        return _array_groups(obj)
    if opens_dict_view(obj, serializer):
        return _dict_view_groups(obj, serializer.name)
    if cls in serializer.opaque_types:
        return []
    override = getattr(pickler, "reducer_override", None)
    if override is not None:
        reduced = override(obj)
        if reduced is not NotImplemented:
            return _reduce_groups(obj, reduced, _BY_THE_SERIALIZER)
    reducer = dispatch_table_of(pickler).get(cls)
    if reducer is not None:
        return _reduce_groups(obj, reducer(obj), _BY_THE_SERIALIZER)
    reduce_ex = getattr(obj, "__reduce_ex__", None)
    reduced = reduce_ex(serializer.protocol) if reduce_ex is not None else obj.__reduce__()
    return _reduce_groups(obj, reduced, f".__reduce_ex__({serializer.protocol})")


DICT_VIEW_TYPES = frozenset({type({}.keys()), type({}.values()), type({}.items())})


def opens_dict_view(obj: Any, serializer: Serializer) -> bool:
    """A dict view the serializer saves (cloudpickle, dill): what fails is inside it.
    Stdlib pickle refuses every view, which is then a PA102 leaf."""
    return type(obj) in DICT_VIEW_TYPES and serializer.name != "pickle"


class _TrueMapping(dict):
    """`view.mapping | _TRUE_MAPPING` is the dict behind a view's read-only proxy (the
    reflected `|` of a dict subclass wins), the way dill itself reaches it."""

    def __ror__(self, other: Any) -> Any:
        return other


_TRUE_MAPPING = _TrueMapping()


def _dict_view_groups(view: Any, serializer: str) -> list[Group]:
    """What cloudpickle and dill save for a dict view (stdlib pickle refuses it whole).

    cloudpickle saves the view's own members (a keys view never carries the values),
    named `{#i}` in iteration order; dill saves the whole dict behind it, named
    `.mapping[key]`.
    """
    if serializer == "dill":
        return [([("mapping", view.mapping | _TRUE_MAPPING)], _attr_segment)]
    return [(((entry, entry[1]) for entry in enumerate(view)), _member)]


def _mapping_groups(items: Iterable[tuple[Any, Any]]) -> list[Group]:
    pairs = [((position, key), value) for position, (key, value) in enumerate(items)]
    keys = [(entry, entry[1]) for entry, _ in pairs if type(entry[1]) not in ATOMIC_TYPES]
    return [(keys, _key), (pairs, _value)]


def saved_by_reference(obj: Any, serializer: str) -> bool:
    """Whether a by-value serializer still saves this function or class by name, as it
    does for anything importable (cloudpickle: unless its module is registered by value)."""
    module_name = getattr(obj, "__module__", None)
    module = sys.modules.get(module_name) if isinstance(module_name, str) else None
    if module is None or module_name == "__main__":
        return False
    if serializer == "cloudpickle" and _registered_by_value(module_name):
        return False
    target: Any = module
    for part in str(getattr(obj, "__qualname__", "<locals>")).split("."):
        target = vars(target).get(part) if hasattr(target, "__dict__") else None
        if target is None:
            return False
    return target is obj


def _registered_by_value(module_name: str) -> bool:
    import cloudpickle

    registered = getattr(cloudpickle, "list_registry_pickle_by_value", lambda: set())()
    return any(module_name == name or module_name.startswith(f"{name}.") for name in registered)


def _globals_travel(serializer: str) -> bool:
    """dill saves a by-value function's module globals by reference to the module,
    unless told to recurse; cloudpickle ships the globals the code reads."""
    if serializer != "dill":
        return True
    import dill

    return bool(dill.settings.get("recurse"))


def _function_groups(func: types.FunctionType, *, globals_travel: bool) -> list[Group]:
    """What a by-value serializer (cloudpickle, dill) ships with a function."""
    named: list[tuple[str, Any]] = []
    code = func.__code__
    for name, cell in zip(code.co_freevars, func.__closure__ or (), strict=False):
        try:
            named.append((f".__closure__[{name}]", cell.cell_contents))
        except ValueError:  # an empty cell: nothing to ship
            continue
    module_globals = func.__globals__ if globals_travel else {}
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


_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_NAME"})


def _global_names(code: types.CodeType) -> set[str]:
    """Names the code reads as globals: `co_names` also holds attribute names, and
    `x.lock` must not ship a module global called `lock` (nor blame it)."""
    names = {
        instruction.argval
        for instruction in dis.get_instructions(code)
        if instruction.opname in _GLOBAL_OPS and isinstance(instruction.argval, str)
    }
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
    if cls.__name__ not in ("ndarray", "void") or not cls.__module__.startswith("numpy"):
        return False
    return obj.dtype.hasobject


def _array_groups(array: Any) -> list[Group]:
    """Elements of an object array; a structured one by field first (`arr['o'][1]`).

    numpy hands out a structured array's elements as fresh `void` scalars that
    reduce to fresh 0-d arrays, so walking elements would never meet a value twice
    and never end; its object fields are plain object arrays instead.
    """
    names = array.dtype.names
    if names:
        fields = [(name, array[name]) for name in names if array.dtype.fields[name][0].hasobject]
        return [(fields, _item_by_repr)]
    return [(_ndenumerate(array), _item)]


def _ndenumerate(array: Any) -> Iterator[tuple[Any, Any]]:
    import numpy

    for index, value in numpy.ndenumerate(array):
        yield (index[0] if len(index) == 1 else ", ".join(map(str, index))), value


# Reconstructors of object's own reduction: its state comes from __getstate__.
_DEFAULT = (copyreg.__newobj__, copyreg.__newobj_ex__, copyreg._reconstructor)


def _field_names(obj: Any) -> tuple[str, ...]:
    """A namedtuple's fields, read from its class (never from the instance)."""
    fields = getattr(type(obj), "_fields", ())
    if issubclass(type(obj), tuple) and isinstance(fields, tuple):
        return tuple(name for name in fields if isinstance(name, str) and name.isidentifier())
    return ()


# A reduction made by the serializer's own reducer (a dispatch table entry or
# `reducer_override`), not by a method of the object a path could call again.
_BY_THE_SERIALIZER = ".<reduced by the serializer>"


def _reduce_groups(obj: Any, reduced: Any, reduce_call: str) -> list[Group]:
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
        arguments = [(f"[{i}]", value) for i, value in enumerate(args[1:])]
        if not issubclass(type(obj), tuple):  # a tuple's arguments are its items
            arguments = [(".__getnewargs__()" + key, value) for key, value in arguments]
    elif func is copyreg.__newobj_ex__ and len(args) == 3:
        named.append((OWNER, args[0]))
        arguments = [(f".__getnewargs_ex__()[0][{i}]", value) for i, value in enumerate(args[1])]
        arguments.extend(
            (f".__getnewargs_ex__()[1][{key!r}]", value) for key, value in args[2].items()
        )
    elif func is copyreg._reconstructor and len(args) == 3:
        named.append((OWNER, args[0]))
        arguments = [(f"{reduce_call}[1][2]", args[2])]
    else:
        named.append((OWNER, func))
        arguments = [(f"{reduce_call}[1][{i}]", value) for i, value in enumerate(args)]
    attributes = _attribute_values(obj, state)
    whole = next((name for name, value in attributes.items() if value is args), None)
    if whole is not None:  # e.g. an exception's reduction passes self.args itself
        named.extend((f".{whole}[{index}]", value) for index, value in enumerate(args))
    else:
        named.extend(_name_by_identity(arguments, attributes, _field_names(obj)))
    named.extend(_state_parts(obj, state, attributes, reduce_call, custom=func not in _DEFAULT))
    for position, items in (("fourth", list_items), ("fifth", dict_items)):
        if items is not None and not hasattr(type(items), "__next__"):  # as pickle checks
            raise _not_an_iterator(position, "__reduce__", items)
    groups: list[Group] = [(named, _literal)]
    if list_items is not None:
        groups.append((enumerate(list_items), _item))
    if dict_items is not None:
        groups.extend(_mapping_groups(dict_items))
    return groups


def _not_an_iterator(position: str, method: str, items: Any) -> TypeError:
    return TypeError(
        f"{position} element of the tuple returned by {method} must be an iterator,"
        f" not {type(items).__name__}"
    )


def _state_parts(
    obj: Any, state: Any, attributes: dict[str, Any], reduce_call: str, *, custom: bool
) -> list[tuple[str, Any]]:
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
    base = f"{reduce_call}[2]" if custom else ".__getstate__()"
    if isinstance(state, (tuple, list)):  # e.g. functools.partial: (func, args, keywords, dict)
        values = [(f"{base}[{i}]", value) for i, value in enumerate(state)]
    else:
        values = [(base, state)]
    return _name_by_identity(values, attributes)


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
    values: list[tuple[str, Any]], attributes: dict[str, Any], fields: tuple[str, ...] = ()
) -> list[tuple[str, Any]]:
    """Reduction parts named after the attribute (or namedtuple field) holding them;
    the rest keep the call that produced them, so every path resolves again."""
    by_id = {id(value): name for name, value in attributes.items()}
    named = []
    for index, (where, value) in enumerate(values):
        name = by_id.get(id(value))
        if name is None and index < len(fields):
            name = fields[index]
        named.append((f".{name}" if name is not None else where, value))
    return named


def _attribute_values(obj: Any, state: Any) -> dict[str, Any]:
    """Attributes to name reduction parts by; bound methods add `__self__`/`__func__`."""
    found = instance_attributes(obj, state)
    cls = type(obj)
    if issubclass(cls, (types.MethodType, types.BuiltinMethodType, types.MethodWrapperType)):
        found["__self__"] = obj.__self__  # C-level attributes, free of side effects
        if issubclass(cls, types.MethodType):
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
    elif issubclass(type(obj), BaseException):
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
