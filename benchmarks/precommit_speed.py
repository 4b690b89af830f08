"""How fast is the pre-commit hook on a project of qcmanybody's size?

    python benchmarks/precommit_speed.py            # the installed qcmanybody package
    python benchmarks/precommit_speed.py --repeat 9

pre-commit runs `pickle-audit lint FILE ...` with the files of the commit, in
the repository root. This copies the installed qcmanybody package into a
scratch project (with `boundary-classes = ["qcmanybody.core.ManyBodyCore"]`),
then times, as separate processes and side by side: interpreter start-up
alone, pickle-audit on one file with a warm cache (the everyday commit), on
one file with no cache, on the whole project warm, and ruff and flake8 on the
same file. Each contender runs `--repeat` times; the median is reported.

Target (from the issue): the warm one-file run well under a second.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import qcmanybody

# The same qcmanybody project the integration tests lint.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from gate_helpers import copy_qcmanybody

TARGET_WARM_SECONDS = 1.0
CHANGED_FILE = "qcmanybody/core.py"


def pickle_audit_command() -> list[str]:
    script = shutil.which("pickle-audit")
    return [script] if script else [sys.executable, "-m", "pickle_audit"]


def median_seconds(command: list[str], cwd: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def contenders() -> list[tuple[str, list[str]]]:
    lint = [*pickle_audit_command(), "lint"]
    chosen = [
        ("python start-up only", [sys.executable, "-c", "pass"]),
        ("pickle-audit, 1 file, warm cache", [*lint, CHANGED_FILE]),
        ("pickle-audit, 1 file, --no-cache", [*lint, CHANGED_FILE, "--no-cache"]),
        ("pickle-audit, whole project, warm", lint),
    ]
    for tool, args in (("ruff", ["check", "--no-cache", "--isolated"]), ("flake8", [])):
        if shutil.which(tool):
            chosen.append((f"{tool}, 1 file", [tool, *args, CHANGED_FILE]))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="precommit-speed-") as scratch:
        project = copy_qcmanybody(Path(scratch))
        files = sorted(project.rglob("*.py"))
        lines = sum(len(path.read_text(encoding="utf-8").splitlines()) for path in files)
        subprocess.run([*pickle_audit_command(), "lint"], cwd=project, capture_output=True)
        results = [
            (name, median_seconds(command, project, arguments.repeat))
            for name, command in contenders()
        ]
    warm = dict(results)["pickle-audit, 1 file, warm cache"]
    print(f"project: qcmanybody {qcmanybody.__version__}, {len(files)} files, {lines} lines")
    print(f"changed file: {CHANGED_FILE}; median of {arguments.repeat} runs\n")
    print(f"{'contender':<38}{'seconds':>9}{'vs warm hook':>14}")
    for name, seconds in results:
        print(f"{name:<38}{seconds:>9.3f}{seconds / warm:>13.2f}x")
    verdict = "PASS" if warm < TARGET_WARM_SECONDS else "MISS"
    print(f"\n{verdict}  warm one-file run < {TARGET_WARM_SECONDS:.0f} s: {warm:.3f} s")


if __name__ == "__main__":
    main()
