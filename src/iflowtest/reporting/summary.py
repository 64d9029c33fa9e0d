"""The numbers of one run: per-iFlow counts and latency percentiles, `summary.json`, and the one-line summary.

`summary.json` is what CI scripts and the `iflowtest run` command read after pytest has finished: the
totals, each iFlow's figures, the changes since the previous run, how many cases failed because the
tenant or its token endpoint could not be reached (exit code 3), and what pacing cost the run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from iflowtest.bounds import nesting
from iflowtest.files import write_atomically
from iflowtest.pacing.pacer import delays_line
from iflowtest.reporting.history import Changes, RunRecord, percentile

SUMMARY_FILE: Final = "summary.json"
OUTCOMES: Final = ("passed", "failed", "error", "skipped")


@dataclass(frozen=True)
class IflowSummary:
    """One iFlow's cases in one run."""

    iflow: str
    cases: int
    passed: int
    failed: int
    skipped: int
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class PacingDelays:
    """What pacing cost a run: the calls it held back and their wait in all, the 429 answers that slowed it."""

    delayed_calls: int
    delay_s: float
    slowed_by_429: int
    limits: str  # as `[tool.iflowtest.rate_limits]` and the defaults set them: `runtime 20/s, message_log 100/s`

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PacingDelays:
        """From summary.json's `pacing` (KeyError, TypeError or ValueError when it is not one)."""
        return cls(int(data["delayed_calls"]), float(data["delay_s"]), int(data["slowed_by_429"]), str(data["limits"]))

    @classmethod
    def combined(cls, parts: Sequence[PacingDelays]) -> PacingDelays | None:
        """The pacing of a run's shards together: calls, seconds and 429s added up; None when none was paced."""
        if not parts:
            return None
        return cls(
            delayed_calls=sum(p.delayed_calls for p in parts),
            delay_s=round(sum(p.delay_s for p in parts), 3),
            slowed_by_429=sum(p.slowed_by_429 for p in parts),
            limits="; ".join(dict.fromkeys(p.limits for p in parts)),  # the shards' own, once each
        )

    def line(self) -> str:
        """`delayed 12 call(s) by 3.4 s in all; 2 answer(s) 429 slowed it down (limits: runtime 20/s)`."""
        return delays_line(self.delayed_calls, self.delay_s, self.slowed_by_429, self.limits)


def summarize_iflows(run: RunRecord) -> list[IflowSummary]:
    """Per iFlow (cases without an iFlow under '(none)'), broken ones first, then by name."""
    names = sorted({c.iflow for c in run.cases})
    rows = []
    for name in names:
        cases = [c for c in run.cases if c.iflow == name]
        latencies = [c.latency_ms for c in cases if c.latency_ms is not None]
        rows.append(
            IflowSummary(
                iflow=name or "(none)",
                cases=len(cases),
                passed=sum(1 for c in cases if c.outcome == "passed"),
                failed=sum(1 for c in cases if c.broken),
                skipped=sum(1 for c in cases if c.outcome == "skipped"),
                p50_ms=percentile(latencies, 50),
                p95_ms=percentile(latencies, 95),
            )
        )
    return sorted(rows, key=lambda r: (r.failed == 0, r.iflow))


def build_summary(
    run: RunRecord, found: Changes, *, unreachable: int, duration_s: float, pacing: PacingDelays | None = None
) -> dict[str, Any]:
    """The content of summary.json (`pacing` is null when pacing delayed no call and no 429 slowed it)."""
    totals = {outcome: sum(1 for c in run.cases if c.outcome == outcome) for outcome in OUTCOMES}
    return {
        "run_id": run.run_id,
        "started": run.started,
        "duration_s": round(duration_s, 2),
        "target": run.target,
        "profile": run.profile,
        "tenant_host": run.tenant_host,
        "mode": run.mode,
        "tls_verify": run.tls_verify,
        "tests": len(run.cases),
        **totals,
        "unreachable": unreachable,
        "iflows": [asdict(row) for row in summarize_iflows(run)],
        **found.as_dict(),
        "pacing": asdict(pacing) if pacing is not None else None,
    }


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """Write summary.json atomically (a CI step may read it while a later run writes)."""
    write_atomically(path, json.dumps(summary, indent=2) + "\n")


def read_summary(path: Path) -> dict[str, Any] | None:
    """A summary.json, or None when the run wrote none (pytest stopped before the session finished)."""
    try:
        data = nesting.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def one_line(summary: dict[str, Any]) -> str:
    """`iflowtest: 42 tests, 40 passed, 2 failed (1 new), 0 skipped; 5 iFlows, 1 failing: FailingFlow; 3.2 s`.

    Unreachable cases are a part of the failed ones, so they go in the parentheses: "4 failed (3 unreachable)"
    adds up to 4, where "4 failed, 3 unreachable" read as 7.
    """
    broken = summary["failed"] + summary["error"]
    within = [f"{len(summary['new_failures'])} new"] if summary["new_failures"] else []
    within += [f"{summary['unreachable']} unreachable"] if summary["unreachable"] else []
    of_broken = f" ({', '.join(within)})" if within else ""
    failing = [row["iflow"] for row in summary["iflows"] if row["failed"]]
    flows = f"{len(summary['iflows'])} iFlows, {len(failing)} failing" + (f": {', '.join(failing)}" if failing else "")
    fixed = f", {len(summary['fixes'])} fixed" if summary["fixes"] else ""
    return (
        f"iflowtest: {summary['tests']} tests, {summary['passed']} passed, {broken} failed{of_broken}{fixed}, "
        f"{summary['skipped']} skipped; {flows}; {summary['duration_s']:g} s"
    )
