"""The tracer's differential run: `audit` against pickle 2 and 5, cloudpickle and dill.

    python benchmarks/trace_differential.py [--generated 2000] [--harvest -1]

Every module-level object of every importable stdlib module and submodule (and
of numpy, dill, cloudpickle, pydantic, hypothesis, libcst and click when
installed), plus hypothesis-generated graphs with injected bad leaves, each
serializer in its own subprocess. The checks are those of tests/differential.py:
verdict agreement, exact leaf sets that resolve to the injected leaves, no
crash, no hang, no mutation, no property call. Prints one row per serializer
and every failed check; exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HARNESS = Path(__file__).resolve().parent.parent / "tests" / "differential.py"
SERIALIZERS = ("pickle2", "pickle5", "cloudpickle", "dill")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=int, default=2000)
    parser.add_argument("--harvest", type=int, default=-1, help="modules (-1: all)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="per serializer")
    options = parser.parse_args()
    print(
        f"{'serializer':12} {'modules':>8} {'objects':>8} {'checks':>8} {'failed':>7} {'time':>8}"
    )
    failed = 0
    for serializer in SERIALIZERS:
        start = time.perf_counter()
        command = [sys.executable, str(HARNESS), "--serializer", serializer]
        command += ["--generated", str(options.generated), "--harvest", str(options.harvest)]
        try:
            run = subprocess.run(
                command, capture_output=True, text=True, timeout=options.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            print(f"{serializer:12} hung: no result within {options.timeout:g} s")
            failed += 1
            continue
        lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
        if run.returncode != 0 or not lines or "totals" not in lines[-1]:
            print(f"{serializer:12} crashed (exit {run.returncode}):\n{run.stderr[-2000:]}")
            failed += 1
            continue
        totals = lines[-1]["totals"]
        seconds = time.perf_counter() - start
        print(
            f"{serializer:12} {totals['modules']:>8,} {totals['objects']:>8,}"
            f" {totals['checks']:>8,} {totals['failures']:>7} {seconds:>7.1f}s"
        )
        for failure in lines[:-1]:
            print(f"    {failure['check']}: {failure['case']}: {failure['detail']}")
        failed += totals["failures"]
    print(f"disagreements and other failed checks: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
