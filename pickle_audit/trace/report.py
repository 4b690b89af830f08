"""The audit report: plain data plus its human-readable and JSON renderings."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from pickle_audit.findings import Problem

LargestEntries = list[tuple[str, int]]


@dataclass(frozen=True)
class AuditReport:
    """What `audit` found for one object.

    `largest` (the biggest subtrees by pickled bytes) costs another pass over
    the graph, so it is computed on first access and then kept; pickling the
    report computes it and drops the reference to the audited object.
    """

    name: str
    serializer: str
    problems: list[Problem]
    size: int | None
    _largest: Callable[[], LargestEntries] | LargestEntries = field(
        default_factory=list, repr=False, compare=False
    )

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def largest(self) -> LargestEntries:
        if callable(self._largest):
            object.__setattr__(self, "_largest", self._largest())
        return self._largest  # type: ignore[return-value]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_largest": self.largest}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

    def format(self) -> str:
        """The report as users read it: a headline, then one block per problem."""
        if self.ok:
            return f"{self.name} pickles with {self.serializer} ({self.size} bytes)"
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{self.name} cannot cross a process boundary with {self.serializer}:"]
        lines[0] += f" {count} {noun}"
        for problem in self.problems:
            lines.extend(format_problem(problem))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "serializer": self.serializer,
            "ok": self.ok,
            "size": self.size,
            "problems": [asdict(problem) for problem in self.problems],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def format_problem(problem: Problem, indent: str = "  ") -> list[str]:
    rule = problem.rule or "-"
    # builtin types read as users write them (dict_keys); others keep their module
    kind = problem.type.removeprefix("builtins.")
    lines = [f"{indent}{problem.path}  {kind}  {rule}", f"{indent}    {problem.error}"]
    if problem.source:
        lines.append(f"{indent}    source: {problem.source}")
    if problem.fix:
        lines.append(f"{indent}    fix: {problem.fix}")
    return lines
