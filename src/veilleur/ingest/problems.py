"""Bad input is reported, never raised through the engine: one clear line per problem."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class InputProblem:
    source: str
    problem: str
    where: str | None = None
    fatal: bool = False
    """True when the whole input could not be read (nothing or only part of it was accepted)."""

    def __str__(self) -> str:
        where = f" ({self.where})" if self.where else ""
        return f"{self.source}{where}: {self.problem}"


@dataclass
class ProblemLog:
    """Collects problems across inputs; `limit_per_source` keeps a million bad lines readable."""

    limit_per_source: int = 50
    problems: list[InputProblem] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)
    _suppressed: dict[str, int] = field(default_factory=dict)

    def add(self, problem: InputProblem) -> None:
        n = self._counts.get(problem.source, 0) + 1
        self._counts[problem.source] = n
        if n <= self.limit_per_source or problem.fatal:
            self.problems.append(problem)
        else:
            self._suppressed[problem.source] = self._suppressed.get(problem.source, 0) + 1

    def report(self, source: str, problem: str, where: str | None = None, *, fatal: bool = False
               ) -> None:
        self.add(InputProblem(source=source, problem=problem, where=where, fatal=fatal))

    def __iter__(self) -> Iterator[InputProblem]:
        yield from self.problems
        for source, n in self._suppressed.items():
            yield InputProblem(source=source, problem=f"{n} more problems not shown")

    def __len__(self) -> int:
        return sum(self._counts.values())

    def __bool__(self) -> bool:
        return bool(self._counts)

    def sources(self) -> set[str]:
        return set(self._counts)
