"""The run history under `reports/`: one JSON line per run, and what it tells (changes, flaky cases, trends).

Only the controller writes (pytest-xdist workers never register the report plugin), and it writes the
whole file to a temporary sibling and renames it over the old one, so a reader or a crashed run never
sees half a line. The store keeps the last `KEEP_RUNS` runs so it cannot grow without bound.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from iflowtest.errors import ConfigError
from iflowtest.files import write_atomically

KEEP_RUNS: Final = 200
TREND_RUNS: Final = 30
FLAKY_WINDOW: Final = 10
# Outcome changes (pass to fail or back) within FLAKY_WINDOW runs that make a case flaky: two are a
# regression and its fix, three or more a case that cannot make up its mind.
FLAKY_FLIPS: Final = 3


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The nearest-rank percentile (the value a lead can find in the table), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return round(ordered[rank - 1], 1)


@dataclass(frozen=True)
class CaseResult:
    """One test case of one run, as the history keeps it."""

    nodeid: str
    outcome: str  # passed, failed, error, skipped
    iflow: str = ""
    latency_ms: float | None = None
    http_status: str = ""
    mpl_id: str = ""
    mpl_link: str = ""

    @property
    def broken(self) -> bool:
        """Failed or errored."""
        return self.outcome in ("failed", "error")


@dataclass(frozen=True)
class RunRecord:
    """One run: when, against what, and every case's outcome and latency."""

    run_id: str
    started: str
    target: str
    profile: str | None
    cases: tuple[CaseResult, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        """One compact line; cases as [nodeid, outcome, iflow, latency] to keep 2000-case runs small."""
        cases = [[c.nodeid, c.outcome, c.iflow, c.latency_ms] for c in self.cases]
        head = {k: v for k, v in asdict(self).items() if k != "cases"}
        return json.dumps({**head, "cases": cases}, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> RunRecord:
        """The run written by `to_json`."""
        data = json.loads(line)
        cases = tuple(CaseResult(nodeid=c[0], outcome=c[1], iflow=c[2], latency_ms=c[3]) for c in data["cases"])
        return cls(data["run_id"], data["started"], data["target"], data.get("profile"), cases)

    def outcome_of(self, nodeid: str) -> str | None:
        """The outcome of one case in this run, None when it did not run."""
        return self._outcomes().get(nodeid)

    def _outcomes(self) -> dict[str, str]:
        cached: dict[str, str] | None = self.__dict__.get("_outcome_cache")
        if cached is None:
            cached = {c.nodeid: c.outcome for c in self.cases}
            object.__setattr__(self, "_outcome_cache", cached)
        return cached


class HistoryStore:
    """The history file: read every run, append one atomically."""

    def __init__(self, path: Path, keep: int = KEEP_RUNS) -> None:
        self.path = path
        self.keep = keep

    def runs(self) -> list[RunRecord]:
        """Every stored run, oldest first; unreadable lines (a hand edit) are a ConfigError naming the line."""
        if not self.path.exists():
            return []
        runs = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                runs.append(RunRecord.from_json(line))
            except (ValueError, KeyError, IndexError, TypeError):
                raise ConfigError(
                    f"line {number} of the run history {self.path} is not a run record: remove the line (or the file "
                    "to start a new history)"
                ) from None
        return runs

    def append(self, run: RunRecord) -> list[RunRecord]:
        """Add a run (keeping the last `keep`) and return the stored runs, this one last."""
        runs = [*self.runs(), run][-self.keep :]
        write_atomically(self.path, "".join(r.to_json() + "\n" for r in runs))
        return runs


@dataclass(frozen=True)
class Changes:
    """What changed in the last run compared with the one before, and which cases keep flipping."""

    previous_run: str | None
    new_failures: tuple[str, ...]
    fixes: tuple[str, ...]
    flaky: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for summary.json (lists, as JSON reads them back)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def changes(runs: Sequence[RunRecord]) -> Changes:
    """New failures and fixes of the last run against the previous one; flaky cases over FLAKY_WINDOW runs."""
    if not runs:
        return Changes(None, (), (), ())
    current = runs[-1]
    previous = runs[-2] if len(runs) > 1 else None
    new_failures, fixes = [], []
    if previous is not None:
        for case in current.cases:
            before = previous.outcome_of(case.nodeid)
            if case.broken and before == "passed":
                new_failures.append(case.nodeid)
            elif case.outcome == "passed" and before in ("failed", "error"):
                fixes.append(case.nodeid)
    return Changes(previous.run_id if previous else None, tuple(new_failures), tuple(fixes), flaky(runs))


def flaky(runs: Sequence[RunRecord], window: int = FLAKY_WINDOW, flips: int = FLAKY_FLIPS) -> tuple[str, ...]:
    """Cases of the last run whose outcome changed at least `flips` times within the last `window` runs."""
    if not runs:
        return ()
    recent = runs[-window:]
    found = []
    for case in runs[-1].cases:
        outcomes = [o for o in (r.outcome_of(case.nodeid) for r in recent) if o in ("passed", "failed", "error")]
        states = ["passed" if o == "passed" else "broken" for o in outcomes]
        if sum(1 for a, b in itertools.pairwise(states) if a != b) >= flips:
            found.append(case.nodeid)
    return tuple(found)


@dataclass(frozen=True)
class TrendPoint:
    """One iFlow in one run: pass rate (0-100) and p95 latency."""

    run_id: str
    pass_rate: float | None
    p95_ms: float | None


def trends(runs: Sequence[RunRecord], last: int = TREND_RUNS) -> dict[str, list[TrendPoint]]:
    """Per iFlow, one point per run of the last `last` runs (None where the iFlow did not run)."""

    recent = runs[-last:]
    names = sorted({c.iflow for r in recent for c in r.cases if c.iflow})
    series: dict[str, list[TrendPoint]] = {name: [] for name in names}
    for run in recent:
        for name in names:
            cases = [c for c in run.cases if c.iflow == name and c.outcome != "skipped"]
            latencies = [c.latency_ms for c in cases if c.latency_ms is not None]
            rate = 100.0 * sum(1 for c in cases if c.outcome == "passed") / len(cases) if cases else None
            series[name].append(TrendPoint(run.run_id, rate, percentile(latencies, 95)))
    return series
