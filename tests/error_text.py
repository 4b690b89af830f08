"""Serializer messages as the running Python words them.

Docs and expected outputs are written with CPython 3.11's wording; 3.13 says
"Can't get local object" where 3.11 says "Can't pickle local object". The phrase is
learned by really pickling a local function, so the tests follow the interpreter,
not a table of versions.
"""

from __future__ import annotations

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


def as_this_python_says(text: str) -> str:
    """`text` (3.11's wording) with the serializer phrases this interpreter uses."""
    return text.replace("Can't pickle local object", LOCAL_OBJECT)
