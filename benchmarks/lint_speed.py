"""How fast is `pickle-audit lint` next to parsing alone, Fixit and flake8?

    python benchmarks/lint_speed.py                      # the running interpreter's stdlib
    python benchmarks/lint_speed.py --paths src tests    # any file set
    python benchmarks/lint_speed.py --skip fixit

The file set is copied into a scratch project first, so the cache never lands
in the measured tree and every contender sees identical files. Each
contender runs as a child of this process through a small wrapper that times
it and reads the peak resident memory of its process tree from
`resource.getrusage(RUSAGE_CHILDREN)` (the largest single process).

Targets: a cold run with every core (--jobs default) >= 1.5x the throughput of
bare `libcst.parse_module` on one core; a warm run (nothing changed) <= 1 s on
the full stdlib; peak memory < 500 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pickle_audit
from pickle_audit.lint.files import list_python_files

BARE_PARSE = """
import sys
import libcst
for name in open(sys.argv[1], encoding="utf-8").read().splitlines():
    try:
        libcst.parse_module(open(name, "rb").read())
    except Exception:
        pass
"""

TARGET_COLD_RATIO = 1.5
TARGET_WARM_SECONDS = 1.0
TARGET_PEAK_MB = 500.0


@dataclass(frozen=True)
class Measurement:
    name: str
    seconds: float
    peak_mb: float
    returncode: int
    timed_out: bool = False


def measure_child(command: list[str], timeout: float) -> None:
    """Wrapper mode: run `command`, print its wall time and peak RSS as JSON."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        # A session of its own, so a timeout stops the contender's worker processes too.
        child = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True
        )
        signal.signal(signal.SIGTERM, _exit_on_signal)
        try:
            child.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:  # also when the benchmark itself is stopped
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        seconds = time.perf_counter() - start
        errors.seek(0)
        stderr = errors.read()
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak_kb / 1024,
                "returncode": child.returncode,
                "timed_out": timed_out,
                "stderr": stderr.decode(errors="replace")[-400:],
            }
        )
    )


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def run_contender(name: str, command: list[str], cwd: Path, timeout: float) -> Measurement:
    wrapper = [sys.executable, __file__, "--measure-child", "--timeout", str(timeout)]
    wrapper += ["--", *command]
    # The contenders import pickle-audit from the frozen copy in `cwd` (see freeze_code).
    environment = {**os.environ, "PYTHONPATH": str(cwd / "code")}
    output = subprocess.run(
        wrapper, cwd=cwd, env=environment, capture_output=True, text=True, check=True
    ).stdout
    data = json.loads(output)
    if data["timed_out"]:
        print(f"  {name}: stopped after {timeout:.0f} s", file=sys.stderr)
    elif data["returncode"] not in (0, 1):
        print(f"  {name} exited {data['returncode']}: {data['stderr']}", file=sys.stderr)
    print(f"  {name}: {data['seconds']:.2f} s", file=sys.stderr)
    return Measurement(
        name, data["seconds"], data["peak_mb"], data["returncode"], data["timed_out"]
    )


def copy_file_set(paths: list[Path], target: Path) -> list[Path]:
    """Copy the `.py` files below `paths` into `target`, keeping their relative layout."""
    files = list_python_files(paths, Path("/"), (), respect_gitignore=False)
    base = Path(os.path.commonpath([str(path.parent) for path in files]))
    copies = []
    for path in files:
        copy = target / path.relative_to(base)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        copies.append(copy)
    (target / "pyproject.toml").write_text('[project]\nname = "benchmark-file-set"\n')
    return copies


def freeze_code(target: Path) -> None:
    """Copy the pickle_audit package, so edits to the checkout during a run change nothing.

    The facts cache is keyed on the extractor's source: an edit between the
    cache-filling run and the warm run would otherwise make the warm run cold.
    """
    package = Path(pickle_audit.__file__).parent
    shutil.copytree(package, target / "pickle_audit", ignore=shutil.ignore_patterns("__pycache__"))


def contenders(project: Path, file_list: Path, skip: set[str]) -> list[tuple[str, list[str]]]:
    lint = [sys.executable, "-m", "pickle_audit", "lint", str(project), "--format", "json"]
    cores = os.cpu_count() or 1
    chosen = [
        ("libcst.parse_module, 1 core", [sys.executable, "-c", BARE_PARSE, str(file_list)]),
        ("pickle-audit cold, --jobs 1", [*lint, "--no-cache", "--jobs", "1"]),
        (f"pickle-audit cold, --jobs {cores}", [*lint, "--no-cache"]),
        ("pickle-audit filling the cache", lint),
        ("pickle-audit warm (no change)", lint),
    ]
    if "fixit" not in skip and shutil.which("fixit"):
        chosen.append(("fixit lint", ["fixit", "lint", str(project)]))
    if "flake8" not in skip and shutil.which("flake8"):
        chosen.append(("flake8", ["flake8", str(project)]))
    return chosen


def table(results: list[Measurement], files: int, megabytes: float, where: str) -> str:
    bare = results[0].seconds
    lines = [
        f"file set: {files} files, {megabytes:.1f} MB of source ({where})",
        "",
        f"{'contender':<36}{'seconds':>9}{'files/s':>10}{'throughput vs parse':>21}"
        f"{'peak RSS MB':>13}",
    ]
    for result in results:
        over = ">" if result.timed_out else " "
        lines.append(
            f"{result.name:<35}{over}{result.seconds:>9.2f}{files / result.seconds:>10.0f}"
            f"{bare / result.seconds:>20.2f}x{result.peak_mb:>13.0f}"
        )
    return "\n".join(lines)


def verdicts(results: list[Measurement]) -> str:
    by_name = {result.name: result for result in results}
    cores = os.cpu_count() or 1
    cold_ratio = results[0].seconds / by_name[f"pickle-audit cold, --jobs {cores}"].seconds
    warm = by_name["pickle-audit warm (no change)"].seconds
    peak = max(result.peak_mb for result in results if result.name.startswith("pickle-audit"))
    checks = [
        (
            f"cold throughput on {cores} cores >= {TARGET_COLD_RATIO}x bare parse on one",
            cold_ratio,
            cold_ratio >= TARGET_COLD_RATIO,
            f"{cold_ratio:.2f}x",
        ),
        (
            f"warm run <= {TARGET_WARM_SECONDS:.0f} s",
            warm,
            warm <= TARGET_WARM_SECONDS,
            f"{warm:.2f} s",
        ),
        (f"peak memory < {TARGET_PEAK_MB:.0f} MB", peak, peak < TARGET_PEAK_MB, f"{peak:.0f} MB"),
    ]
    return "\n".join(
        f"{'PASS' if ok else 'MISS'}  {label}: {shown}" for label, _value, ok, shown in checks
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", nargs="+", type=Path, help="default: the stdlib")
    parser.add_argument("--skip", nargs="*", default=[], choices=["fixit", "flake8"])
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds a contender may take (default 900)"
    )
    parser.add_argument("--measure-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("command", nargs="*", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.measure_child:
        measure_child(arguments.command, arguments.timeout)
        return
    paths = arguments.paths or [Path(sysconfig.get_paths()["stdlib"])]
    with tempfile.TemporaryDirectory(prefix="lint-speed-") as scratch:
        project = Path(scratch) / "project"
        files = copy_file_set(paths, project)
        freeze_code(Path(scratch) / "code")
        file_list = Path(scratch) / "files.txt"
        file_list.write_text("\n".join(str(path) for path in files))
        megabytes = sum(path.stat().st_size for path in files) / 1e6
        print(f"measuring {len(files)} files ...", file=sys.stderr)
        results = [
            run_contender(name, command, Path(scratch), arguments.timeout)
            for name, command in contenders(project, file_list, set(arguments.skip))
        ]
    where = ", ".join(str(path) for path in paths)
    print(table(results, len(files), megabytes, where))
    print()
    print(verdicts(results))


if __name__ == "__main__":
    main()
