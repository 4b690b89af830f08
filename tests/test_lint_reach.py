"""How classes reach a worker: roots at boundaries, edges through attribute types."""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_core_helpers import lint, write_files

LEAF = """
import threading


class Leaf:
    def __init__(self):
        self.lock = threading.Lock()
"""


def leaf_chain(tmp_path: Path, holder: str, driver: str) -> list[str] | None:
    """The chain of the PA105 finding on Leaf.lock, or None when Leaf does not travel."""
    root = write_files(
        tmp_path / "proj",
        {
            "leaf.py": LEAF,
            "holder.py": "from __future__ import annotations\n"
            "import dataclasses\nimport typing\nfrom typing import Dict, List, Optional\n\n"
            "from leaf import Leaf\n\n\n" + holder,
            "driver.py": "import multiprocessing\nfrom concurrent.futures import "
            "ProcessPoolExecutor\n\nfrom holder import Holder\n\n\n" + driver,
        },
    )
    found = [f for f in lint(root) if f.symbol == "Leaf.lock"]
    return [step.text for step in found[0].chain] if found else None


DRIVER = """
def work(holder: Holder):
    return holder


def main():
    with ProcessPoolExecutor() as pool:
        pool.submit(work, Holder())
"""


@pytest.mark.parametrize(
    "holder",
    [
        "class Holder:\n    leaf: Leaf\n",
        "class Holder:\n    def __init__(self):\n        self.leaf = Leaf()\n",
        "class Holder:\n    def __init__(self, leaf: Leaf):\n        self.leaf = leaf\n",
        "class Holder:\n    def __init__(self):\n        self.leaf: List[Leaf] = []\n",
        "class Holder:\n    def __init__(self):\n        self.leaf: dict[str, Leaf] = {}\n",
        "class Holder:\n    leaf: Optional[Leaf] = None\n    def __init__(self):\n"
        "        self.leaf = None\n",
        "class Holder:\n    leaf: Leaf | None\n",
        "class Holder:\n    leaf: tuple[Leaf, ...]\n",
        "class Holder:\n    leaf: 'Dict[str, Leaf]'\n",
        "@dataclasses.dataclass\nclass Holder:\n"
        "    leaf: Leaf = dataclasses.field(default_factory=Leaf)\n",
        "class Holder:\n    def __init__(self):\n        self.leaf = [Leaf(), Leaf()]\n",
    ],
)
def test_edges_through_attribute_types(tmp_path: Path, holder: str) -> None:
    chain = leaf_chain(tmp_path, holder, DRIVER)
    assert chain == ["Leaf reaches a worker via Holder.leaf", "<- pool.submit(work, ...)"]


@pytest.mark.parametrize(
    "holder",
    [
        "class Holder:\n    kind = Leaf\n    def __init__(self, leaf):\n        self.leaf = leaf\n",
        "class Holder:\n    shared: typing.ClassVar[Leaf]\n",
    ],
)
def test_class_attributes_and_unrelated_names_are_not_edges(tmp_path: Path, holder: str) -> None:
    assert leaf_chain(tmp_path, holder, DRIVER) is None


@pytest.mark.parametrize(
    ("driver", "last_step"),
    [
        (
            "def make() -> Holder:\n    return Holder()\n\n\ndef main():\n"
            "    with ProcessPoolExecutor() as pool:\n        pool.submit(make)\n",
            "<- pool.submit(make)",
        ),
        (
            "def main(h: Holder):\n    q = multiprocessing.Queue()\n    q.put(h)\n",
            "<- q.put(...)",
        ),
        (
            "def work(x):\n    return x\n\n\ndef main():\n"
            "    p = multiprocessing.Process(target=work, args=(Holder(),))\n",
            "<- multiprocessing.Process(target=work, ...)",
        ),
        (
            "def work(x):\n    return x\n\n\nHOLDER = Holder()\n\n\ndef main():\n"
            "    with multiprocessing.Pool() as pool:\n        pool.apply_async(work, (HOLDER,))\n",
            "<- pool.apply_async(work, ...)",
        ),
    ],
)
def test_roots_at_boundaries(tmp_path: Path, driver: str, last_step: str) -> None:
    holder = "class Holder:\n    leaf: Leaf\n"
    chain = leaf_chain(tmp_path, holder, driver)
    assert chain == ["Leaf reaches a worker via Holder.leaf", last_step]


def test_thread_pools_are_not_roots(tmp_path: Path) -> None:
    holder = "class Holder:\n    leaf: Leaf\n"
    driver = (
        "from concurrent.futures import ThreadPoolExecutor\n\n\ndef work(h: Holder):\n"
        "    return h\n\n\ndef main():\n    with ThreadPoolExecutor() as pool:\n"
        "        pool.submit(work, Holder())\n"
    )
    assert leaf_chain(tmp_path, holder, driver) is None
