"""Serializer profiles: the rules a value is judged by.

A value is only a problem if the serializer that will really carry it fails:
multiprocessing uses pickle, Dask/loky/Ray use cloudpickle, multiprocess/pathos
use dill. A profile bundles what the tracer needs from each of them: a pickler
(for probing subtrees), `loads` (for round trips), the dispatch table and
whether functions travel by value (then their captured variables are children).
"""

from __future__ import annotations

import copyreg
import functools
import pickle
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SERIALIZERS = ("pickle", "cloudpickle", "dill")
# multiprocessing's own pickler: stdlib pickle plus the reducers registered with
# `ForkingPickler` in this process (sockets and connections as file descriptors; dict
# views as lists once `multiprocessing.managers` is imported), which is what its pools,
# processes, queues and pipes really send with
MULTIPROCESSING = "multiprocessing"

# How to install each optional serializer, for the "not installed" error.
_INSTALL_HINT = {
    "cloudpickle": "pip install 'pickle-audit[cloudpickle]'",
    "dill": "pip install dill (a dependency of pickle-audit: reinstall pickle-audit)",
}


class SerializerUnavailable(ImportError):
    """The chosen serializer is not installed; the message names the extra to install."""


@dataclass(frozen=True)
class Serializer:
    """One serializer's behaviour, as far as the tracer needs it."""

    name: str
    protocol: int
    pickler_class: type
    loads: Callable[[bytes], Any]
    fast_dumps: Callable[..., bytes]  # the serializer's own dumps(obj, protocol)
    functions_by_value: bool  # closures and referenced globals travel with a function
    opaque_types: frozenset[type] = frozenset()  # saved by custom code: judged whole

    def new_pickler(self, file: Any) -> Any:
        return self.pickler_class(file, protocol=self.protocol)

    def dumps(self, obj: object) -> bytes:
        return self.fast_dumps(obj, protocol=self.protocol)


def dispatch_table_of(pickler: Any) -> Mapping[type, Callable[[Any], Any]]:
    """The reducer table a pickler consults before `__reduce_ex__`."""
    table = getattr(pickler, "dispatch_table", None)
    return copyreg.dispatch_table if table is None else table


def get_serializer(name: str, protocol: int | None = None) -> Serializer:
    """Build the profile for `name`, importing optional serializers only when asked for."""
    if name == "pickle":
        return _profile(pickle, pickle.DEFAULT_PROTOCOL, protocol, functions_by_value=False)
    if name == MULTIPROCESSING:
        # judged as `pickle`, by the pickler the call really uses
        return _built(
            "pickle",
            pickle.DEFAULT_PROTOCOL if protocol is None else protocol,
            _forking_pickler(),
            pickle.loads,
            _forking_dumps,
            False,
            frozenset(),
        )
    if name == "cloudpickle":
        cloudpickle = _import_optional("cloudpickle")
        return _profile(cloudpickle, cloudpickle.DEFAULT_PROTOCOL, protocol)
    if name == "dill":
        dill = _import_optional("dill")
        # saved through their parts (bound methods: function and instance), so opened up
        containers = {dict, list, tuple, set, frozenset, types.MethodType}
        opaque = frozenset(
            t for t in dill.Pickler.dispatch if isinstance(t, type) and t not in containers
        )
        return _profile(dill, dill.settings["protocol"], protocol, opaque_types=opaque)
    raise ValueError(f"unknown serializer {name!r}; choose one of: {', '.join(SERIALIZERS)}")


def _profile(
    module: Any,
    default_protocol: int,
    protocol: int | None,
    *,
    functions_by_value: bool = True,
    opaque_types: frozenset[type] = frozenset(),
) -> Serializer:
    """A profile from a pickle-like module (Pickler, loads, dumps), as they are now."""
    return _built(
        module.__name__,
        default_protocol if protocol is None else protocol,
        module.Pickler,
        module.loads,
        module.dumps,
        functions_by_value,
        opaque_types,
    )


# Building a frozen profile costs as much as pickling a small object, so one is kept
# per distinct set of parts (a patched `pickle.loads` is another part: another profile).
_built = functools.lru_cache(maxsize=32)(Serializer)


def _import_optional(module_name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise SerializerUnavailable(
            f"serializer {module_name!r} is not installed: {_INSTALL_HINT[module_name]}"
        ) from error


@functools.cache
def _forking_pickler() -> type:
    """ForkingPickler with the `protocol=` keyword the tracer passes (its own
    `__init__` takes positional arguments only)."""
    from multiprocessing.reduction import ForkingPickler

    class MultiprocessingPickler(ForkingPickler):
        def __init__(self, file: Any, protocol: int | None = None) -> None:
            super().__init__(file, protocol)

    return MultiprocessingPickler


def _forking_dumps(obj: object, protocol: int | None = None) -> bytes:
    from multiprocessing.reduction import ForkingPickler

    return bytes(ForkingPickler.dumps(obj, protocol))
