"""Lint pinned releases of real projects that use process pools, and judge every finding.

    python benchmarks/real_world.py                  # download (once), lint, print
    python benchmarks/real_world.py --only luigi ase
    python benchmarks/real_world.py --downloads DIR  # where releases are kept

Each release is fetched with `pip download --no-deps` (the sdist where it
builds without compilers, so its tests and examples are linted too; else the
wheel for CPython 3.11 on manylinux, whose Python files are the same on every
platform), unpacked into DIR (default: the user cache folder), and linted as
its own project (`--project-root`, no cache) in a child process. Nothing from
a release is imported or run.

The script prints, per project, files checked, seconds and findings by rule,
then every finding with its judgment from `JUDGMENTS` below, and the share of
judged findings that are true. A finding nobody has judged is printed as
UNJUDGED, and a judged finding that no longer appears as GONE, so a change to
the linter shows up here as a change of this table.

How findings were judged (pickle-audit 0.2.0, Python 3.11): a finding is
true when the value really fails that boundary's serializer and really
reaches it. PA301: the exception class was rebuilt from its source in a
scratch interpreter, an instance pickled and loaded again (all 7 fail with
`TypeError: __init__() missing ... argument(s)`). The 8 PA301s added later
(luigi's `cfg_parser.py:47`, snakemake's `exceptions.py` 259-490) were judged
in a venv with the release installed: each class built with mock arguments,
its `__dict__` cleared, pickled and loaded; all 8 raise `TypeError: __init__()
missing ... required positional argument(s)`. PA301 is checked on every
exception, since an exception raised in a worker is pickled back to the
parent. PA201 on a `Process` target: multiprocessing pickles the target under
spawn and forkserver (the default on macOS, Windows and, from Python 3.14,
Linux), and a nested function fails there with "Can't pickle local object";
the message says the finding holds under those start methods. PA202 is a
warning that the whole instance is pickled with every task: true when the
bound method (or a partial over it) is the task of a process pool, loky
executor or joblib `delayed`, which pickle the instance per task.

Measured on this machine for 0.2.0 (2 cores): 27 findings in 12 projects,
27 judged true (100 %). torchio's PA101 (a lambda as a DataLoader's
`collate_fn`) was judged by running the release's patch queue with one worker
under spawn, with torch 2.13 installed. An earlier 0.2.0 table counted two pymatgen PA202s
(`pourbaix_diagram.py` 602 and 646) as true; they were false, since the bound
name is a `@staticmethod`, and are no longer reported. Before the judgments
below were acted on, 0.2.0's predecessor reported 24, of which 4 were false: two nested *result
callbacks* of `Pool.apply_async` (MDAnalysis; callbacks run in the parent),
and two bound-method `initializer=`s of loky executors (pickled once per
worker, not per task, and picklable).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Release:
    name: str
    version: str
    form: str  # "sdist" or "wheel"

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


RELEASES = (
    Release("qcmanybody", "0.8.0", "sdist"),
    Release("qcfractal", "0.15.8.1", "sdist"),
    Release("ase", "3.23.0", "sdist"),
    Release("luigi", "3.5.1", "sdist"),
    Release("nipype", "1.8.6", "sdist"),
    Release("snakemake", "8.20.5", "sdist"),
    Release("pathos", "0.3.2", "sdist"),
    Release("loky", "3.4.1", "sdist"),
    Release("MDAnalysis", "2.7.0", "wheel"),
    Release("pymatgen", "2024.8.9", "wheel"),
    Release("scikit-learn", "1.5.1", "wheel"),
    Release("torchio", "0.18.20", "wheel"),  # a DataLoader whose workers get a lambda
)

TRUE, FALSE = "true", "false"
_SPAWN = "true under spawn/forkserver: a nested function cannot be pickled as a Process target"
_PER_TASK = "true: the bound method is the task, so its instance is pickled with every task"
_ROUND_TRIP = "true: pickles, and loading it raises TypeError (missing __init__ arguments)"

# (project, path, line, rule) -> (verdict, why)
JUDGMENTS: dict[tuple[str, str, int, str], tuple[str, str]] = {
    ("ase", "ase/io/castep/castep_input_file.py", 522, "PA301"): (TRUE, _ROUND_TRIP),
    ("ase", "ase/io/vasp_parsers/vasp_outcar_parsers.py", 37, "PA301"): (TRUE, _ROUND_TRIP),
    ("luigi", "luigi/contrib/bigquery.py", 866, "PA301"): (TRUE, _ROUND_TRIP),
    # through the stdlib base configparser.InterpolationError, which sets self.args to 3
    ("luigi", "luigi/configuration/cfg_parser.py", 47, "PA301"): (TRUE, _ROUND_TRIP),
    ("luigi", "luigi/contrib/hdfs/error.py", 25, "PA301"): (TRUE, _ROUND_TRIP),
    ("luigi", "luigi/contrib/external_program.py", 198, "PA201"): (TRUE, _SPAWN),
    ("luigi", "test/rpc_test.py", 167, "PA201"): (TRUE, _SPAWN),
    (
        "nipype",
        "nipype/pipeline/plugins/tests/test_legacymultiproc_nondaemon.py",
        59,
        "PA201",
    ): (TRUE, _SPAWN),
    ("snakemake", "snakemake/exceptions.py", 526, "PA301"): (TRUE, _ROUND_TRIP),
    # RuleException passes one message up; these reach it with keyword arguments
    **{
        ("snakemake", "snakemake/exceptions.py", line, "PA301"): (TRUE, _ROUND_TRIP)
        for line in (259, 302, 320, 332, 355, 386, 490)
    },
    ("scikit-learn", "sklearn/exceptions.py", 36, "PA301"): (
        TRUE,
        "true: keyword-only __init__; loading calls it with self.args and raises TypeError",
    ),
    ("scikit-learn", "sklearn/exceptions.py", 171, "PA301"): (
        TRUE,
        "true: keyword-only __init__; loading calls it with no arguments and raises TypeError",
    ),
    ("loky", "tests/test_reusable_executor.py", 966, "PA202"): (TRUE, _PER_TASK),
    ("loky", "tests/test_reusable_executor.py", 973, "PA202"): (TRUE, _PER_TASK),
    ("loky", "tests/test_reusable_executor.py", 977, "PA202"): (TRUE, _PER_TASK),
    ("loky", "tests/test_reusable_executor.py", 982, "PA202"): (TRUE, _PER_TASK),
    ("pathos", "examples/mp_class_example.py", 28, "PA202"): (TRUE, _PER_TASK),
    ("pathos", "examples/mp_class_example.py", 46, "PA202"): (TRUE, _PER_TASK),
    ("pymatgen", "pymatgen/entries/compatibility.py", 689, "PA202"): (TRUE, _PER_TASK),
    ("pymatgen", "pymatgen/io/icet.py", 324, "PA202"): (TRUE, _PER_TASK),
    ("torchio", "torchio/data/queue.py", 234, "PA101"): (
        TRUE,
        "true under spawn/forkserver: the lambda is the collate_fn of a DataLoader with"
        " num_workers workers, and the worker start pickles it (publicly reported as"
        " TorchIO-project/torchio#422)",
    ),
}


def default_downloads() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pickle-audit-real-world"


def fetch(release: Release, downloads: Path) -> Path:
    """The unpacked release (downloaded and unpacked once)."""
    unpacked = downloads / f"{release.name}-{release.version}"
    if (unpacked / ".complete").exists():
        return unpacked
    archives = downloads / "archives"
    archives.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d"]
    command += [str(archives), release.spec]
    if release.form == "sdist":
        command += ["--no-binary", ":all:"]
    else:
        command += ["--only-binary", ":all:", "--python-version", "3.11"]
        command += ["--implementation", "cp", "--platform", "manylinux2014_x86_64"]
    subprocess.run(command, check=True, timeout=600)
    archive = _archive_of(release, archives)
    unpacked.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            wheel.extractall(unpacked)
    else:
        with tarfile.open(archive) as sdist:
            if hasattr(tarfile, "data_filter"):  # refuses links and paths out of the folder
                sdist.extractall(unpacked, filter="data")
            else:
                sdist.extractall(unpacked)
        [inner] = [path for path in unpacked.iterdir() if path.is_dir()]
        for path in inner.iterdir():
            path.rename(unpacked / path.name)
        inner.rmdir()
    (unpacked / ".complete").write_text(archive.name)
    return unpacked


def _archive_of(release: Release, archives: Path) -> Path:
    stem = release.name.lower().replace("-", "_")
    for path in sorted(archives.iterdir()):
        name = path.name.lower().replace("-", "_")
        if name.startswith(f"{stem}_{release.version}") and (
            name.endswith(".whl") == (release.form == "wheel")
        ):
            return path
    raise FileNotFoundError(f"pip downloaded no {release.form} of {release.spec}")


@dataclass(frozen=True)
class LintRun:
    release: Release
    files: int
    seconds: float
    findings: tuple[dict, ...]


def lint(release: Release, folder: Path) -> LintRun:
    command = [sys.executable, "-m", "pickle_audit", "lint", "--format", "json", "--no-cache"]
    command += ["--exit-zero", "--project-root", ".", "."]
    started = time.perf_counter()
    run = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise RuntimeError(f"lint of {release.spec} failed:\n{run.stderr}")
    # "Found 3 problems (3 errors) in 5 files." or "All checked: 5 files, no problems."
    summary = run.stderr.strip().splitlines()[-1]
    files = int(re.search(r"(\d+) files?\b", summary).group(1))
    return LintRun(release, files, seconds, tuple(json.loads(run.stdout)["findings"]))


def report(runs: list[LintRun]) -> int:
    """Print the tables; exit status 1 when a finding is unjudged or judged false."""
    print(f"{'project':<28} {'files':>6} {'seconds':>8}  findings by rule")
    for run in runs:
        rules = Counter(finding["rule"] for finding in run.findings)
        by_rule = ", ".join(f"{rule} {count}" for rule, count in sorted(rules.items())) or "-"
        print(f"{run.release.spec:<28} {run.files:>6} {run.seconds:>8.1f}  {by_rule}")
    print()
    seen: set[tuple[str, str, int, str]] = set()
    verdicts: Counter[str] = Counter()
    for run in runs:
        for finding in run.findings:
            key = (run.release.name, finding["path"], finding["line"], finding["rule"])
            seen.add(key)
            verdict, why = JUDGMENTS.get(key, ("UNJUDGED", "no judgment recorded"))
            verdicts[verdict] += 1
            print(f"{verdict:<9} {run.release.name}: {finding['path']}:{finding['line']}")
            print(f"          {finding['rule']} {finding['message']}")
            print(f"          judged: {why}")
    linted = {run.release.name for run in runs}
    gone = [key for key in JUDGMENTS if key[0] in linted and key not in seen]
    for key in gone:
        print(f"GONE      {key[0]}: {key[1]}:{key[2]} {key[3]} (judged {JUDGMENTS[key][0]})")
    judged = verdicts[TRUE] + verdicts[FALSE]
    share = f"{100 * verdicts[TRUE] / judged:.0f} %" if judged else "n/a"
    print(
        f"\n{sum(len(run.findings) for run in runs)} findings in {len(runs)} projects:"
        f" {verdicts[TRUE]} true, {verdicts[FALSE]} false, {verdicts['UNJUDGED']} unjudged,"
        f" {len(gone)} gone; true among judged: {share}"
    )
    return 1 if verdicts[FALSE] or verdicts["UNJUDGED"] else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--downloads", type=Path, default=default_downloads())
    parser.add_argument("--only", nargs="+", metavar="NAME", help="lint only these projects")
    options = parser.parse_args()
    chosen = [r for r in RELEASES if not options.only or r.name in options.only]
    runs = [lint(release, fetch(release, options.downloads)) for release in chosen]
    return report(runs)


if __name__ == "__main__":
    sys.exit(main())
