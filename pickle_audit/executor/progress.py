"""A progress bar for long many-body runs: on a terminal only.

tqdm when installed, else one self-rewriting line; nothing at all when the
stream is not a terminal (CI logs and pipes stay clean).
"""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    """jobs done/total and failures, updated as results arrive."""

    def __init__(
        self,
        total: int,
        *,
        enabled: bool,
        done: int = 0,
        stream: TextIO | None = None,
        use_tqdm: bool = True,
    ):
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.total = total
        self.done = done
        self.failed = 0
        self._bar = None
        if self.enabled:
            tqdm = _tqdm() if use_tqdm else None
            if tqdm is None:
                self._draw()
            else:
                self._bar = tqdm(total=total, initial=done, unit="job", file=self.stream)

    def update(self, *, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(1)
            if self.failed:
                self._bar.set_postfix(failed=self.failed)
        else:
            self._draw()

    def _draw(self) -> None:
        self.stream.write(f"\rjobs {self.done}/{self.total}, {self.failed} failed")
        self.stream.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            self.stream.write("\n")
            self.stream.flush()


def _tqdm():
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm
