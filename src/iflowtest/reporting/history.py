"""The run history under `reports/`: one JSON line per run, and what it tells (changes, flaky cases, trends).

Only the controller writes (pytest-xdist workers never register the report plugin), and only once every
file of the run is complete: it writes the whole file to a temporary sibling and renames it over the old
one, so a reader or a crashed run never sees half a line. The store keeps the last `KEEP_RUNS` runs so it
cannot grow without bound. A line that is not a run record (a hand edit, a merge) is skipped with a
warning and kept as it is, so that fixing it by hand is still possible.

Runs are compared only with runs of the same kind (`RunRecord.group`): the same target and profile,
live calls or replayed cassettes, TLS verification on or off. A nightly against the test tenant is not
"fixed" by a developer's offline replay in between.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from iflowtest.bounds import nesting
from iflowtest.files import write_atomically

try:
    import fcntl
except ImportError:  # not on Windows: the history is then written without a lock
    fcntl = None  # type: ignore[assignment]

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
    duration_s: float | None = None  # setup, call and teardown: what `--shard` balances by

    @property
    def broken(self) -> bool:
        """Failed or errored."""
        return self.outcome in ("failed", "error")


@dataclass(frozen=True)
class RunRecord:
    """One run: when, against what (target, profile, tenant hosts, mode, TLS), every case's outcome and latency."""

    run_id: str
    started: str
    target: str
    profile: str | None
    cases: tuple[CaseResult, ...] = field(default_factory=tuple)
    tenant_host: str = ""  # the tenant's hosts, comma-separated; empty for the emulator and offline replays
    mode: str = "live"  # live, record, offline, or replay (pytest-recording's --record-mode)
    tls_verify: bool = True

    def to_json(self) -> str:
        """One compact line; cases as [nodeid, outcome, iflow, latency, duration] to keep 2000-case runs small."""
        cases = [
            [c.nodeid, c.outcome, c.iflow, c.latency_ms]
            + ([round(c.duration_s, 3)] if c.duration_s is not None else [])
            for c in self.cases
        ]
        head = {k: v for k, v in asdict(self).items() if k != "cases"}
        return json.dumps({**head, "cases": cases}, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> RunRecord:
        """The run written by `to_json`; ValueError when the line is not one."""
        data = nesting.loads(line)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        # Lines written before runs carried durations have four fields per case.
        cases = tuple(
            CaseResult(
                nodeid=str(c[0]),
                outcome=str(c[1]),
                iflow=str(c[2] or ""),
                latency_ms=_number(c[3]),
                duration_s=_number(c[4]) if len(c) > 4 else None,
            )
            for c in data["cases"]
        )
        # Lines written before runs carried host, mode and TLS have target and profile already; they are
        # read as live runs with TLS verified, as nearly all of them were, so they stay in their target's and
        # profile's trends instead of forming a group of their own that no new run would ever join.
        return cls(
            run_id=str(data["run_id"]),
            started=str(data["started"]),
            target=str(data["target"]),
            profile=data.get("profile"),
            cases=cases,
            tenant_host=str(data.get("tenant_host") or ""),
            mode=str(data.get("mode") or "live"),
            tls_verify=data.get("tls_verify", True) is not False,
        )

    @property
    def group(self) -> tuple[str, str, str, bool]:
        """What must be equal for two runs to be compared: target, profile, live or replayed calls, TLS."""
        calls = "live" if self.mode in ("live", "record") else "replayed"
        return (self.target, self.profile or "", calls, self.tls_verify)

    def outcome_of(self, nodeid: str) -> str | None:
        """The outcome of one case in this run, None when it did not run."""
        return self._outcomes().get(nodeid)

    def _outcomes(self) -> dict[str, str]:
        cached: dict[str, str] | None = self.__dict__.get("_outcome_cache")
        if cached is None:
            cached = {c.nodeid: c.outcome for c in self.cases}
            object.__setattr__(self, "_outcome_cache", cached)
        return cached


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"latency {value!r} is not a number")
    return float(value)


class HistoryStore:
    """The history file: read every run, append one atomically."""

    def __init__(self, path: Path, keep: int = KEEP_RUNS) -> None:
        self.path = path
        self.keep = keep
        self.skipped: list[int] = []  # numbers of the lines the last read could not use

    def _lines(self) -> list[tuple[str, RunRecord | None]]:
        self.skipped = []
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        lines: list[tuple[str, RunRecord | None]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                lines.append((line, RunRecord.from_json(line)))
            except (ValueError, KeyError, IndexError, TypeError):
                self.skipped.append(number)
                lines.append((line, None))
        return lines

    def runs(self) -> list[RunRecord]:
        """Every stored run, oldest first; lines that are not run records are skipped (see `warnings`)."""
        return [run for _, run in self._lines() if run is not None]

    def warnings(self) -> list[str]:
        """One sentence per line the last read skipped, naming the file and the line."""
        return [
            f"line {number} of the run history {self.path} is not a run record: skipped (fix or remove the line)"
            for number in self.skipped
        ]

    def append(self, run: RunRecord) -> list[RunRecord]:
        """Add a run (keeping the last `keep`) and return the stored runs, this one last."""
        with self.locked():
            text, runs = self.appended(run)
            write_atomically(self.path, text)
        return runs

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the history's lock file while reading and rewriting it: two runs that finish at the same
        moment each add their entry, neither overwrites the other's (an flock; none where fcntl is missing)."""
        if fcntl is None:
            yield
            return
        # On the folder, not on a file of its own: no lock file is left beside the history.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # closing releases the lock

    def appended(self, run: RunRecord) -> tuple[str, list[RunRecord]]:
        """The file's new content with `run` added and the oldest runs beyond `keep` dropped, and its runs.

        Skipped lines stay where they were: the history never loses what a person may still repair.
        """
        lines = [*self._lines(), (run.to_json(), run)]
        surplus = sum(1 for _, r in lines if r is not None) - self.keep
        kept = []
        for line, stored in lines:
            if stored is not None and surplus > 0:
                surplus -= 1
                continue
            kept.append((line, stored))
        return "".join(line + "\n" for line, _ in kept), [r for _, r in kept if r is not None]


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


def comparable(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """The runs of the last run's group (same target, profile, kind of calls and TLS), the last run last."""
    if not runs:
        return []
    group = runs[-1].group
    return [run for run in runs if run.group == group]


def changes(runs: Sequence[RunRecord]) -> Changes:
    """New failures and fixes of the last run; flaky cases over FLAKY_WINDOW runs; only runs of its group count.

    Each case is compared with its last recorded outcome (passed or broken) in an earlier run of the group,
    so a case left out of the previous run (`-k`) is still compared; a case broken on its first recorded
    run is a new failure.
    """
    runs = comparable(runs)
    if not runs:
        return Changes(None, (), (), ())
    current, earlier = runs[-1], runs[:-1]
    new_failures, fixes = [], []
    for case in current.cases:
        before = _last_outcome(earlier, case.nodeid)
        if case.broken and before != "broken":
            new_failures.append(case.nodeid)
        elif case.outcome == "passed" and before == "broken":
            fixes.append(case.nodeid)
    previous = earlier[-1].run_id if earlier else None
    # By node id, not by when each test ended: the same run gives the same lists serially, with -n and merged.
    return Changes(previous, tuple(sorted(new_failures)), tuple(sorted(fixes)), flaky(runs))


def _last_outcome(runs: Sequence[RunRecord], nodeid: str) -> str | None:
    for run in reversed(runs):
        outcome = run.outcome_of(nodeid)
        if outcome == "passed":
            return "passed"
        if outcome in ("failed", "error"):
            return "broken"
    return None


def flaky(runs: Sequence[RunRecord], window: int = FLAKY_WINDOW, flips: int = FLAKY_FLIPS) -> tuple[str, ...]:
    """Cases of the last run whose outcome changed at least `flips` times within the group's last `window` runs."""
    runs = comparable(runs)
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
    """Per iFlow, one point per run of the last run's group's last `last` runs (None where the iFlow did not run)."""
    recent = comparable(runs)[-last:]
    names = sorted({c.iflow for r in recent for c in r.cases if c.iflow})
    series: dict[str, list[TrendPoint]] = {name: [] for name in names}
    for run in recent:
        for name in names:
            cases = [c for c in run.cases if c.iflow == name and c.outcome != "skipped"]
            latencies = [c.latency_ms for c in cases if c.latency_ms is not None]
            rate = 100.0 * sum(1 for c in cases if c.outcome == "passed") / len(cases) if cases else None
            series[name].append(TrendPoint(run.run_id, rate, percentile(latencies, 95)))
    return series
