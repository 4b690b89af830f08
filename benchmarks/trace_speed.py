"""Speed of the runtime tracer, side by side with pickle itself and dill.detect.

    python benchmarks/trace_speed.py [--items 200000] [--depth 400] [--cap 60]

Every ratio is against `pickle.dumps` of the same object made clean (the lambda
replaced by a number, the stored dict view by a list), in one process, in
interleaved rounds:

- a graph: a list of small dicts, clean (target <= 1.1x) and with one lambda in
  the middle (target <= 3x);
- deep nesting: a lambda at the bottom of a list nested `--depth` levels, as deep
  as pickle goes on every supported Python with the default recursion limit
  (target <= 3x);
- README's qcmanybody core (the water dimer of fixtures/scripts/qc_bound_method.py),
  clean (<= 1.1x) and with its stored dict view (<= 3x, and <= 5 ms after the
  first call, which parses qcmanybody's source once); skipped without qcmanybody;
- too deep: a list nested 100,000 levels, which pickle refuses at once with
  RecursionError (no target: the ratio is against that refusal);
- `dill.detect.baditems` of the failing graph, in a subprocess killed after `--cap`.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import pickle
import runpy
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def make_items(count: int, *, with_lambda: bool) -> list[dict]:
    items = [{"id": i, "name": f"item-{i}", "weight": i * 0.5} for i in range(count)]
    if with_lambda:
        items[count // 2] = {"id": -1, "name": "bad", "weight": lambda x: x}
    return items


def nested(depth: int, leaf: Any) -> Any:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


def best_times(repeats: int, contenders: list[Callable[[], object]]) -> list[float]:
    """Best time of each contender, run in interleaved rounds so that a busy
    machine slows them all alike rather than whichever ran during the busy spell.

    Like `timeit`, the cyclic garbage collector is paused while a contender runs
    (after collecting what the previous one left), so one contender's garbage is
    not collected on another's clock.
    """
    best = [float("inf")] * len(contenders)
    for _ in range(repeats):
        for index, run in enumerate(contenders):
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter()
                run()
                elapsed = time.perf_counter() - start
            finally:
                gc.enable()
            best[index] = min(best[index], elapsed)
    return best


def time_baditems(count: int, cap: float) -> float | None:
    """Seconds `dill.detect.baditems` takes, or None when it exceeds the cap."""
    code = (
        "import sys, time, dill.detect\n"
        f"sys.path.insert(0, {sys.path[0]!r})\n"
        "from trace_speed import make_items\n"
        f"items = make_items({count}, with_lambda=True)\n"
        "start = time.perf_counter()\n"
        "dill.detect.baditems(items)\n"
        "print(time.perf_counter() - start)\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=cap, check=True
        )
    except subprocess.TimeoutExpired:
        return None
    return float(done.stdout.strip().splitlines()[-1])


def refused(obj: Any) -> Callable[[], None]:
    def dump() -> None:
        with contextlib.suppress(RecursionError):
            pickle.dumps(obj)

    return dump


def qcmanybody_cores() -> tuple[Any, Any] | None:
    """README's core with its dict view, and a copy with a list instead."""
    try:
        make_core = runpy.run_path(str(ROOT / "fixtures" / "scripts" / "qc_bound_method.py"))
    except ImportError:
        return None
    core = make_core["make_core"]()
    clean = copy.copy(core)
    clean.mc_levels = list(core.mc_levels)
    return core, clean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--depth", type=int, default=400)
    parser.add_argument("--cap", type=float, default=60.0, help="seconds for dill.detect")
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()

    from pickle_audit import audit

    clean = make_items(options.items, with_lambda=False)
    bad = make_items(options.items, with_lambda=True)
    assert [p.path for p in audit(bad).problems] == [f"obj[{options.items // 2}]['weight']"]
    assert audit(clean).ok
    deep_clean, deep_bad = nested(options.depth, 1), nested(options.depth, lambda: 1)
    assert audit(deep_clean).ok and [p.rule for p in audit(deep_bad).problems] == ["PA101"]
    too_deep = nested(100_000, 1)

    # (case, contender, the timed call, target); each case starts with its baseline
    rows: list[tuple[str, str, Callable[[], object], float | None]]
    rows = [
        ("graph", "pickle.dumps(clean)", lambda: pickle.dumps(clean), None),
        ("graph", "audit(clean)", lambda: audit(clean), 1.1),
        ("graph", "audit(one lambda)", lambda: audit(bad), 3.0),
        ("deep", "pickle.dumps(clean)", lambda: pickle.dumps(deep_clean), None),
        ("deep", f"audit(lambda at depth {options.depth})", lambda: audit(deep_bad), 3.0),
        ("too deep", "pickle.dumps (refused)", refused(too_deep), None),
        ("too deep", "audit(100,000 levels)", lambda: audit(too_deep), None),
    ]
    cores = qcmanybody_cores()
    first_core = None
    if cores is not None:
        core, clean_core = cores
        start = time.perf_counter()
        assert [p.path for p in audit(core, name="core").problems] == ["core.mc_levels"]
        first_core = time.perf_counter() - start
        rows += [
            ("core", "pickle.dumps(clean)", lambda: pickle.dumps(clean_core), None),
            ("core", "audit(clean)", lambda: audit(clean_core), 1.1),
            ("core", "audit(dict view)", lambda: audit(core), 3.0),
        ]
    times = best_times(options.repeats, [row[2] for row in rows])
    baditems = time_baditems(options.items, options.cap)

    print(
        f"best of {options.repeats} interleaved rounds; ratio vs pickle.dumps of the same"
        " object made clean (too deep: vs pickle refusing it)"
    )
    print(f"{'case':<9} {'contender':<30} {'seconds':>10} {'ratio':>9}  target")
    baseline = 0.0
    for (group, name, _, target), seconds in zip(rows, times, strict=True):
        if not name.startswith("audit"):
            baseline = seconds
        ratio = seconds / baseline
        verdict = "" if target is None else f"<= {target}x {'ok' if ratio <= target else 'MISSED'}"
        print(f"{group:<9} {name:<30} {seconds:>10.5f} {ratio:>8.2f}x  {verdict}")
    if first_core is not None:
        after = times[-1] * 1000
        print(
            f"core: first audit {first_core:.3f} s (parses qcmanybody/core.py once);"
            f" after it {after:.2f} ms, <= 5 ms {'ok' if after <= 5 else 'MISSED'}"
        )
    else:
        print("core: skipped (qcmanybody is not installed: pip install 'pickle-audit[qc]')")
    graph_baseline = times[0]
    if baditems is None:
        print(f"dill.detect.baditems(one lambda)  > {options.cap:g} s")
    else:
        print(
            f"dill.detect.baditems(one lambda)  {baditems:.3f} s"
            f" ({baditems / graph_baseline:.1f}x the clean graph's dump)"
        )


if __name__ == "__main__":
    main()
