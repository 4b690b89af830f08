"""Serializer messages as the running Python words them.

Docs and expected outputs are written with CPython 3.11's wording; 3.13 says
"Can't get local object" where 3.11 says "Can't pickle local object", and 3.10,
which has no default `object.__getstate__`, asks an unguarded `__getattr__` for
it while pickling, where later Pythons only fail on loading. Each phrase is
learned by really pickling, so the tests follow the interpreter, not a table of
versions.
"""

from __future__ import annotations

import os
import pickle


def _local_object_phrase() -> str:
    def local() -> None:
        return None

    try:
        pickle.dumps(local)
    except (AttributeError, pickle.PicklingError) as error:
        return str(error).split(" '", 1)[0].split(" <", 1)[0]
    raise AssertionError("a local function pickled")


LOCAL_OBJECT = _local_object_phrase()


class UnguardedGetattr:
    """Reads instance state in `__getattr__` without refusing dunder names (PA302)."""

    def __init__(self) -> None:
        self.values = {"x": 1}

    def __getattr__(self, name: str) -> object:
        return self.values[name]


def _unguarded_getattr_error() -> str:
    try:
        data = pickle.dumps(UnguardedGetattr())
    except KeyError as error:  # Python 3.10: the lookup of __getstate__
        return f"KeyError: {error}"
    try:
        pickle.loads(data)
    except RecursionError as error:
        return f"pickles, but loading it back raises RecursionError: {error}"
    raise AssertionError("an unguarded __getattr__ survived a round trip")


UNGUARDED_GETATTR_ERROR = _unguarded_getattr_error()


def _open_file_error() -> str:
    """3.11 says "cannot pickle '_io.TextIOWrapper' object", 3.12 "... 'TextIOWrapper'
    instances"."""
    with open(os.devnull, encoding="utf-8") as handle:
        try:
            pickle.dumps(handle)
        except TypeError as error:
            return str(error)
    raise AssertionError("an open file pickled")


OPEN_FILE_ERROR = _open_file_error()
_GETATTR_ERROR_AS_DOCUMENTED = (
    "pickles, but loading it back raises RecursionError: maximum recursion depth exceeded"
)


def as_this_python_says(text: str) -> str:
    """`text` (3.11's wording) with the serializer phrases this interpreter uses."""
    return text.replace("Can't pickle local object", LOCAL_OBJECT).replace(
        _GETATTR_ERROR_AS_DOCUMENTED, UNGUARDED_GETATTR_ERROR
    )
