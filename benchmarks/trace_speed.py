"""Speed of the runtime tracer, side by side with pickle itself and dill.detect.

    python benchmarks/trace_speed.py [--items 200000] [--cap 60]

On a list of small dicts: `pickle.dumps` of the clean list (the baseline),
`audit` of the clean list (target <= 1.3x), `audit` of the same list with one
lambda in the middle (target <= 5x), and `dill.detect.baditems` of that list,
run in a subprocess that is killed after `--cap` seconds.
"""

from __future__ import annotations

import argparse
import gc
import pickle
import subprocess
import sys
import time
from collections.abc import Callable


def make_items(count: int, *, with_lambda: bool) -> list[dict]:
    items = [{"id": i, "name": f"item-{i}", "weight": i * 0.5} for i in range(count)]
    if with_lambda:
        items[count // 2] = {"id": -1, "name": "bad", "weight": lambda x: x}
    return items


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--cap", type=float, default=60.0, help="seconds for dill.detect")
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()

    from pickle_audit import audit

    clean = make_items(options.items, with_lambda=False)
    bad = make_items(options.items, with_lambda=True)
    report = audit(bad)
    assert [p.path for p in report.problems] == [f"obj[{options.items // 2}]['weight']"]
    assert audit(clean).ok

    baseline, clean_audit, failing_audit = best_times(
        options.repeats,
        [lambda: pickle.dumps(clean), lambda: audit(clean), lambda: audit(bad)],
    )
    rows = [
        ("pickle.dumps(clean)", baseline, None),
        ("audit(clean)", clean_audit, 1.3),
        ("audit(one lambda)", failing_audit, 5.0),
    ]
    baditems = time_baditems(options.items, options.cap)

    print(
        f"{options.items} small dicts; best of {options.repeats} interleaved rounds;"
        " ratio vs pickle.dumps(clean)"
    )
    print(f"{'contender':<28} {'seconds':>10} {'ratio':>8}  target")
    for name, seconds, target in rows:
        ratio = seconds / baseline
        verdict = "" if target is None else f"<= {target}x {'ok' if ratio <= target else 'MISSED'}"
        print(f"{name:<28} {seconds:>10.3f} {ratio:>7.2f}x  {verdict}")
    if baditems is None:
        print(f"{'dill.detect.baditems':<28} {'> ' + format(options.cap, 'g') + ' s':>10} {'-':>8}")
    else:
        print(f"{'dill.detect.baditems':<28} {baditems:>10.3f} {baditems / baseline:>7.2f}x")


if __name__ == "__main__":
    main()
