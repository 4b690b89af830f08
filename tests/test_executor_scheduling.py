"""Which worker runs what: a short task never waits behind a long one while a worker idles.

Real worker processes, real sleeps; the assertions are about order and placement, not
about how long anything took (the wall time is measured by benchmarks/mbe_backends.py).
"""

from __future__ import annotations

import pytest
from executor_helpers import nap, square

from pickle_audit.executor import Executor


@pytest.mark.timeout(120)
def test_mixed_lengths_never_queue_a_long_task_behind_another():
    lengths = [1.0, 0.05, 1.0, *[0.05] * 7]
    with Executor("process", 2) as executor:
        executor.wait_ready()
        runs = list(executor.map(nap, lengths))
    (first_pid, _, first_ended), (second_pid, second_began, _) = runs[0], runs[2]
    assert first_pid != second_pid  # the second long task went to the other worker ...
    assert second_began < first_ended  # ... and ran beside the first, not after it
    # the short ones ran on whichever worker was free: the first long task's worker
    # ran none of them before it finished
    shorts_on_first = [began for pid, began, _ in runs[3:] if pid == first_pid]
    assert all(began >= first_ended - 0.01 for began in shorts_on_first)


@pytest.mark.timeout(120)
def test_tiny_tasks_sent_ahead_all_come_back_in_order():
    with Executor("process", 2) as executor:
        assert list(executor.map(square, range(2_000))) == [n * n for n in range(2_000)]
