"""Deterministic water clusters: the many-body system of the docs, tests and benchmarks.

Waters sit on a grid (O-O 3.0 A) with orientations set by their index, so the
same call always gives the same molecule; a fragment is a block of waters,
and fragments sit on a coarser grid (6 A between blocks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from qcelemental.models.v2 import Molecule
from qcmanybody import ManyBodyCore

ANGSTROM_PER_BOHR = 0.529177210903
OH_LENGTH = 0.9572
HOH_ANGLE = math.radians(104.52)
WATER_SPACING = 3.0
FRAGMENT_GAP = 6.0


def _water(index: int) -> np.ndarray:
    """O, H, H positions (A) of water `index`, rotated by an index-dependent angle."""
    local = np.array(
        [
            [0.0, 0.0, 0.0],
            [OH_LENGTH, 0.0, 0.0],
            [OH_LENGTH * math.cos(HOH_ANGLE), OH_LENGTH * math.sin(HOH_ANGLE), 0.0],
        ]
    )
    a, b = 0.7 * index, 1.3 * index
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return local @ (rx @ rz).T


def _grid(count: int, spacing: float) -> list[np.ndarray]:
    side = math.ceil(count ** (1 / 3) - 1e-9)
    points = [
        np.array([i, j, k], dtype=float) * spacing
        for i in range(side)
        for j in range(side)
        for k in range(side)
    ]
    return points[:count]


def water_cluster(n_fragments: int, waters_per_fragment: int = 1) -> Molecule:
    """A (qcelemental v2) Molecule of `n_fragments` fragments of water blocks."""
    block = _grid(waters_per_fragment, WATER_SPACING)
    block_size = max(np.max(np.array(block), axis=0)) + FRAGMENT_GAP
    symbols: list[str] = []
    coordinates: list[np.ndarray] = []
    fragments: list[list[int]] = []
    for ifrag, origin in enumerate(_grid(n_fragments, block_size)):
        first = len(symbols)
        for iwater, offset in enumerate(block):
            coordinates.append(_water(ifrag * waters_per_fragment + iwater) + origin + offset)
            symbols.extend(["O", "H", "H"])
        fragments.append(list(range(first, len(symbols))))
    geometry = np.concatenate(coordinates) / ANGSTROM_PER_BOHR
    return Molecule(symbols=symbols, geometry=geometry, fragments=fragments)


def water_core(
    n_fragments: int,
    waters_per_fragment: int = 1,
    *,
    max_nbody: int = 3,
    bsse: Sequence[str] = ("nocp",),
    levels: dict[int, str] | None = None,
) -> ManyBodyCore:
    """A qcmanybody core over `water_cluster`, one model chemistry "gfn2" by default."""
    return ManyBodyCore(
        water_cluster(n_fragments, waters_per_fragment),
        list(bsse),
        levels or dict.fromkeys(range(1, max_nbody + 1), "gfn2"),
        return_total_data=True,
        supersystem_ie_only=False,
        embedding_charges={},
    )
