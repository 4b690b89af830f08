"""A PyTorch DataLoader with worker processes pickles its dataset, `collate_fn` and
`worker_init_fn` for every worker it starts under spawn or forkserver.

Reported publicly many times, always the same way: code that trains fine on Linux
(fork: nothing is pickled) dies on Windows or macOS as soon as `num_workers > 0`,
because a lambda is the collate function (HazyResearch/cartridges#20,
taoyang1122/MutualNet#5) or sits on the dataset's transform (qfgaohao/pytorch-ssd#55).
The programs below are our own; the linter never imports torch, the runs need it.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from lint_helpers import project_findings, run_script, write_project

from pickle_audit.lint.rules import SPAWN_ONLY

pytestmark = pytest.mark.timeout(300)

TRAINING = """
import sys

import torch
from torch.utils.data import DataLoader, Dataset


class Squares(Dataset):
    def __init__(self, count):
        self.count = count
        self.transform = lambda value: value * value

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        return torch.tensor(self.transform(index))


class Plain(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        return torch.tensor(index)


def stack(items):
    return torch.stack(items)


def with_lambda_collate(workers, context):
    loader = DataLoader(
        Plain(),
        batch_size=2,
        num_workers=workers,
        collate_fn=lambda items: torch.stack(items),
        multiprocessing_context=context,
    )
    return [batch.tolist() for batch in loader]


def with_lambda_transform(workers):
    loader = DataLoader(Squares(4), batch_size=2, num_workers=workers, collate_fn=stack)
    return [batch.tolist() for batch in loader]


def in_process():
    loader = DataLoader(Squares(4), batch_size=2, num_workers=0, collate_fn=lambda b: b)
    return [[int(x) for x in batch] for batch in loader]


def forked():
    loader = DataLoader(
        Squares(4), batch_size=2, num_workers=1, multiprocessing_context="fork", collate_fn=stack
    )
    return [batch.tolist() for batch in loader]


def parent_side_sampler():
    loader = DataLoader(Plain(), num_workers=1, sampler=(i for i in range(4)), collate_fn=stack)
    return loader


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.set_start_method(sys.argv[2])
    arguments = [int(a) if a.isdigit() else a for a in sys.argv[3:]]
    print(globals()[sys.argv[1]](*arguments))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"train.py": textwrap.dedent(TRAINING).lstrip()})


def findings(root: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, str, list]]:
    found = project_findings(root, monkeypatch)
    return [(f.rule, f.line, f.message, [str(step) for step in f.chain]) for f in found]


def test_what_the_workers_get_is_judged_and_nothing_else(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert findings(project, monkeypatch) == [
        (
            "PA101",
            10,
            "lambda stored on Squares.transform cannot be pickled",
            ["<- DataLoader(...) (train.py:43)"],
        ),
        (
            "PA101",
            32,
            f"lambda passed to DataLoader(...) cannot be pickled{SPAWN_ONLY}",
            ["<- DataLoader(...) (train.py:32)"],
        ),
    ]


def test_the_start_method_given_to_the_loader_decides(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train = project / "train.py"
    train.write_text(
        train.read_text().replace(
            "multiprocessing_context=context", 'multiprocessing_context="spawn"'
        )
    )
    [_, collate] = findings(project, monkeypatch)
    assert collate[:3] == (
        "PA101",
        32,
        "lambda passed to DataLoader(...) cannot be pickled when the process starts"
        " (start method 'spawn')",
    )
    train.write_text(train.read_text().replace('"spawn"', '"fork"'))
    assert [f[:2] for f in findings(project, monkeypatch)] == [("PA101", 10)]  # via line 43


def run(project: Path, function: str, start_method: str, *args: str) -> subprocess.CompletedProcess:
    pytest.importorskip("torch", reason="torch is not installed: the DataLoader runs need it")
    return run_script(project, "train.py", function, start_method, *args)


def test_the_flagged_loaders_fail_under_spawn_and_run_under_fork(project: Path) -> None:
    collate = run(project, "with_lambda_collate", "fork", "1", "spawn")
    assert collate.returncode == 1
    assert "local object 'with_lambda_collate.<locals>.<lambda>'" in collate.stderr
    transform = run(project, "with_lambda_transform", "spawn", "1")
    assert transform.returncode == 1
    assert "local object 'Squares.__init__.<locals>.<lambda>'" in transform.stderr
    assert run(project, "with_lambda_transform", "fork", "1").stdout == "[[0, 1], [4, 9]]\n"


def test_the_loaders_left_alone_run_under_spawn(project: Path) -> None:
    assert run(project, "in_process", "spawn").stdout == "[[0, 1], [4, 9]]\n"
    assert run(project, "forked", "spawn").stdout == "[[0, 1], [4, 9]]\n"
