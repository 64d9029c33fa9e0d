"""The run history store and what it tells: changes, flaky cases, trends, and the per-iFlow summary."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from iflowtest.reporting.history import KEEP_RUNS, CaseResult, HistoryStore, RunRecord, changes, flaky, trends
from iflowtest.reporting.summary import build_summary, one_line, percentile, summarize_iflows
from tests.servers import iflowtest


def run(run_id: str, outcomes: dict[str, str], latency: float = 10.0, **kind: Any) -> RunRecord:
    cases = tuple(
        CaseResult(nodeid, outcome, iflow="Flow" + nodeid[-1].upper(), latency_ms=latency)
        for nodeid, outcome in outcomes.items()
    )
    head = {"target": "emulator", "profile": None, **kind}
    return RunRecord(run_id, "2026-01-01T00:00:00+00:00", cases=cases, **head)


def test_store_appends_atomically_and_keeps_the_last_runs(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "reports" / "history.jsonl", keep=5)

    for index in range(8):
        store.append(run(f"r{index:03d}", {"t::a": "passed"}))

    runs = store.runs()
    assert HistoryStore(store.path).keep == KEEP_RUNS == 200
    assert [r.run_id for r in runs] == ["r003", "r004", "r005", "r006", "r007"]
    assert runs[-1].cases == (CaseResult("t::a", "passed", "FlowA", 10.0),)
    assert [p.name for p in store.path.parent.iterdir()] == ["history.jsonl"]  # no temporary left behind


def test_runs_that_finish_together_each_keep_their_entry(tmp_path: Path) -> None:
    # Two stores on one file, as two runs are: without the lock, a read-modify-write would lose entries.
    path = tmp_path / "history.jsonl"
    stores = [HistoryStore(path), HistoryStore(path)]

    def add(store: HistoryStore, prefix: str) -> None:
        for number in range(25):
            store.append(run(f"{prefix}{number}", {"a": "passed"}))

    threads = [threading.Thread(target=add, args=(store, name)) for store, name in zip(stores, "xy", strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.run_id for r in HistoryStore(path).runs()) == sorted(f"{p}{n}" for p in "xy" for n in range(25))


def test_a_damaged_line_is_skipped_with_a_warning_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    good = run("r1", {"t::a": "passed"}).to_json()
    damaged = [
        "{not json",
        '{"run_id": "r2"}',
        "[1, 2]",
        '{"run_id":"r3","started":"s","target":"e","cases":[["t::a"]]}',
    ]
    path.write_text("\n".join([good, *damaged]) + "\n")
    store = HistoryStore(path, keep=2)

    runs = store.runs()
    warnings = store.warnings()
    store.append(run("r4", {"t::a": "failed"}))
    store.append(run("r5", {"t::a": "passed"}))

    assert [r.run_id for r in runs] == ["r1"]
    assert warnings == [
        f"line {n} of the run history {path} is not a run record: skipped (fix or remove the line)"
        for n in (2, 3, 4, 5)
    ]
    # The damaged lines stay for a person to repair; the oldest good run made room for the newest.
    assert path.read_text().splitlines()[:4] == damaged
    assert [r.run_id for r in store.runs()] == ["r4", "r5"]


def test_old_lines_without_host_mode_and_tls_are_live_verified_runs_of_their_target() -> None:
    line = '{"run_id":"r1","started":"s","target":"tenant","profile":"test","cases":[["t::a","passed","F",3.5]]}'

    old = RunRecord.from_json(line)

    assert (old.tenant_host, old.mode, old.tls_verify) == ("", "live", True)
    assert old.group == run("r2", {}, target="tenant", profile="test").group
    assert RunRecord.from_json(old.to_json()) == old


def test_only_runs_of_the_same_target_profile_kind_and_tls_are_compared() -> None:
    runs = [
        run("r1", {"t::a": "passed", "t::b": "failed"}, target="tenant", profile="test"),
        run("r2", {"t::a": "failed", "t::b": "passed"}),  # the emulator, in between
        run("r3", {"t::a": "failed", "t::b": "passed"}, target="tenant", profile="dev"),
        run("r4", {"t::a": "failed", "t::b": "passed"}, target="tenant", profile="test", mode="offline"),
        run("r5", {"t::a": "failed", "t::b": "passed"}, target="tenant", profile="test", tls_verify=False),
        run("r6", {"t::a": "failed", "t::b": "passed"}, target="tenant", profile="test", mode="record"),
    ]

    found = changes(runs)

    assert found.previous_run == "r1"  # record calls live like a live run: the same kind
    assert found.new_failures == ("t::a",) and found.fixes == ("t::b",)
    assert [p.run_id for p in trends(runs)["FlowA"]] == ["r1", "r6"]
    assert changes(runs[:2]).previous_run is None  # the emulator run has no earlier emulator run


def test_a_case_broken_on_its_first_recorded_run_is_new_and_skips_do_not_hide_a_break() -> None:
    runs = [
        run("r1", {"t::a": "passed", "t::b": "passed"}),
        run("r2", {"t::a": "skipped"}),  # -k: b did not run
        run("r3", {"t::a": "failed", "t::b": "failed", "t::c": "failed"}),
    ]

    assert changes(runs[:1]).new_failures == ()
    assert changes([run("r0", {"t::a": "failed"})]).new_failures == ("t::a",)
    assert changes(runs).new_failures == ("t::a", "t::b", "t::c")
    assert changes([*runs, run("r4", {"t::b": "passed"})]).fixes == ("t::b",)


def test_changes_new_failures_fixes_and_flaky() -> None:
    runs = [
        run("r1", {"t::a": "passed", "t::b": "passed", "t::c": "failed"}),
        run("r2", {"t::a": "failed", "t::b": "passed", "t::c": "failed"}),
        run("r3", {"t::a": "passed", "t::b": "failed", "t::c": "passed"}),
        run("r4", {"t::a": "failed", "t::b": "error", "t::c": "passed", "t::d": "failed"}),
    ]

    found = changes(runs)

    assert found.previous_run == "r3"
    assert found.new_failures == ("t::a", "t::d")  # b was already broken; d fails on its first recorded run
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
    unreachable = {**summary, "unreachable": 1, "fixes": ["t::x"]}
    assert one_line(unreachable) == (
        "iflowtest: 3 tests, 1 passed, 1 failed (1 new, 1 unreachable), 1 fixed, 1 skipped; 3 iFlows, 1 failing: "
        "FlowB; 1.5 s"
    )


def test_an_insecure_run_between_two_nightlies_is_not_their_previous_run(project: Path) -> None:
    suite = "suites/costcenters/test_failing_flow.py"
    first = iflowtest("run", suite, "--iflow-run-id=20260101T010000Z", cwd=project)
    insecure = iflowtest("run", suite, "--insecure", "--iflow-run-id=20260102T010000Z", cwd=project)
    insecure_summary = json.loads((project / "reports" / "latest" / "summary.json").read_text())
    third = iflowtest("run", suite, "--iflow-run-id=20260103T010000Z", cwd=project)

    assert first.returncode == insecure.returncode == third.returncode == 0, third.stdout[-2000:]
    summary = json.loads((project / "reports" / "latest" / "summary.json").read_text())
    assert insecure_summary["previous_run"] is None and insecure_summary["tls_verify"] is False
    assert summary["previous_run"] == "20260101T010000Z"
    assert (summary["target"], summary["profile"], summary["mode"], summary["tenant_host"]) == (
        "emulator",
        None,
        "live",
        "",
    )
    stored = HistoryStore(project / "reports" / "history.jsonl").runs()
    assert [(r.run_id, r.tls_verify) for r in stored] == [
        ("20260101T010000Z", True),
        ("20260102T010000Z", False),
        ("20260103T010000Z", True),
    ]
