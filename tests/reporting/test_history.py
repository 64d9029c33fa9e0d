"""The run history store and what it tells: changes, flaky cases, trends, and the per-iFlow summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from iflowtest.errors import ConfigError
from iflowtest.reporting.history import KEEP_RUNS, CaseResult, HistoryStore, RunRecord, changes, flaky, trends
from iflowtest.reporting.summary import build_summary, one_line, percentile, summarize_iflows


def run(run_id: str, outcomes: dict[str, str], latency: float = 10.0) -> RunRecord:
    cases = tuple(
        CaseResult(nodeid, outcome, iflow="Flow" + nodeid[-1].upper(), latency_ms=latency)
        for nodeid, outcome in outcomes.items()
    )
    return RunRecord(run_id, "2026-01-01T00:00:00+00:00", "emulator", None, cases)


def test_store_appends_atomically_and_keeps_the_last_runs(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "reports" / "history.jsonl", keep=5)

    for index in range(8):
        store.append(run(f"r{index:03d}", {"t::a": "passed"}))

    runs = store.runs()
    assert HistoryStore(store.path).keep == KEEP_RUNS == 200
    assert [r.run_id for r in runs] == ["r003", "r004", "r005", "r006", "r007"]
    assert runs[-1].cases == (CaseResult("t::a", "passed", "FlowA", 10.0),)
    assert [p.name for p in store.path.parent.iterdir()] == ["history.jsonl"]  # no temporary left behind


def test_a_damaged_line_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text(run("r1", {"t::a": "passed"}).to_json() + "\n{not json\n")

    with pytest.raises(ConfigError) as damaged:
        HistoryStore(path).runs()

    assert str(damaged.value) == (
        f"line 2 of the run history {path} is not a run record: remove the line (or the file to start a new history)"
    )


def test_changes_new_failures_fixes_and_flaky() -> None:
    runs = [
        run("r1", {"t::a": "passed", "t::b": "passed", "t::c": "failed"}),
        run("r2", {"t::a": "failed", "t::b": "passed", "t::c": "failed"}),
        run("r3", {"t::a": "passed", "t::b": "failed", "t::c": "passed"}),
        run("r4", {"t::a": "failed", "t::b": "error", "t::c": "passed", "t::d": "failed"}),
    ]

    found = changes(runs)

    assert found.previous_run == "r3"
    assert found.new_failures == ("t::a",)  # b was already broken, d is new to the suite
    assert found.fixes == ()
    assert found.flaky == ("t::a",)  # passed, failed, passed, failed
    assert changes(runs[:3]).fixes == ("t::a", "t::c")
    assert flaky(runs, window=2) == ()
    assert changes([]).previous_run is None


def test_trends_per_iflow_and_run() -> None:
    runs = [run("r1", {"t::a": "passed", "t::b": "failed"}, 10.0), run("r2", {"t::a": "passed"}, 30.0)]

    series = trends(runs)

    assert [(p.run_id, p.pass_rate, p.p95_ms) for p in series["FlowA"]] == [("r1", 100.0, 10.0), ("r2", 100.0, 30.0)]
    assert [(p.pass_rate, p.p95_ms) for p in series["FlowB"]] == [(0.0, 10.0), (None, None)]


def test_percentiles_summary_and_one_line() -> None:
    assert percentile([], 95) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([float(v) for v in range(1, 101)], 95) == 95.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    current = run("r2", {"t::a": "passed", "t::b": "failed", "t::c": "skipped"})

    rows = summarize_iflows(current)
    summary = build_summary(current, changes([run("r1", {"t::b": "passed"}), current]), unreachable=0, duration_s=1.5)

    assert [r.iflow for r in rows] == ["FlowB", "FlowA", "FlowC"]  # broken first
    assert summary["tests"] == 3 and summary["failed"] == 1 and summary["new_failures"] == ["t::b"]
    assert one_line(summary) == (
        "iflowtest: 3 tests, 1 passed, 1 failed (1 new), 1 skipped; 3 iFlows, 1 failing: FlowB; 1.5 s"
    )
