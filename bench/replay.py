"""Replay cost of cassettes: one test making N calls, live against the emulator and replayed offline.

    python bench/replay.py [--calls 200 2000] [--json results.json]

For each N the script writes a throw-away project with one test that makes N distinct iFlow calls,
runs it live (no cassettes), records it (`--iflow-record`), and replays it (`--iflow-offline`), all in
this process with pytest.main. Times come from pytest's own phase durations of that one test:

- live: the call phase (the emulator starts in setup and is not part of the calls);
- replay: setup + call + teardown (cassette loading happens in setup, so it is counted).

Targets (issue 4): replay ≤ 1x live at N = 2000, and replay time per call at 2000 within 1.5x of 200.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST = """
import os

import pytest

CODES = ["1010", "1020", "1030", "1210", "1710", "1720", "1110", "1510"]


@pytest.mark.iflow("ReadCostCenters")
def test_many_calls(iflow):
    for i in range(int(os.environ["BENCH_CALLS"])):
        # One cost center per answer (about 1.5 KB, as in peers.md D); `call` makes every request distinct.
        response = iflow.get(params={"companyCode": CODES[i % len(CODES)], "$top": "1", "call": str(i)})
        assert response.status_code == 200
"""


class PhaseTimes:
    """Collects the duration of each phase of the one test."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self.outcomes: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.phases[report.when] = report.duration
        self.outcomes.append(report.outcome)


def run(project: Path, *options: str) -> PhaseTimes:
    times = PhaseTimes()
    sys.modules.pop("test_many_calls", None)  # the same module runs again in this process
    code = pytest.main(
        [
            f"--rootdir={project}",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            str(project / "suites"),
            *options,
        ],
        plugins=[times],
    )
    if code != 0:
        raise SystemExit(f"bench run {options} failed with exit code {code}: {times.outcomes}")
    return times


def stock_vcrpy_replay(cassette: Path, calls: int) -> float:
    """Seconds for vcrpy's own Cassette (linear scan per request) to replay the same cassette and calls."""
    import requests
    from vcr import VCR

    from iflowtest.cassettes import serializer as cassette_yaml
    from iflowtest.cassettes.modes import OFFLINE_URLS
    from iflowtest.cassettes.scrub import HostMap, restore_request, restore_response

    hosts = HostMap()
    hosts.add("{runtime}", OFFLINE_URLS["{runtime}"])
    vcr = VCR(record_mode="none", match_on=("method", "path", "query"))
    vcr.register_serializer("yaml", cassette_yaml)  # the same file, read the same way
    codes = ["1010", "1020", "1030", "1210", "1710", "1720", "1110", "1510"]
    session = requests.Session()
    started = time.perf_counter()
    with vcr.use_cassette(
        str(cassette), after_load_interaction=lambda q, r: (restore_request(q, hosts), restore_response(r, hosts))
    ):
        for i in range(calls):
            params = {"companyCode": codes[i % len(codes)], "$top": "1", "call": str(i)}
            session.get(OFFLINE_URLS["{runtime}"] + "/http/costcenters", params=params, timeout=10)
    return time.perf_counter() - started


def measure(calls: int, folder: Path, stock: bool = False) -> dict[str, Any]:
    project = folder / "project"
    shutil.rmtree(project / "cassettes", ignore_errors=True)
    (project / "suites" / "bench").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    (project / "suites" / "bench" / "test_many_calls.py").write_text(TEST, encoding="utf-8")
    os.environ["BENCH_CALLS"] = str(calls)
    live = run(project)
    started = time.perf_counter()
    recorded = run(project, "--iflow-record")
    record_wall = time.perf_counter() - started
    replayed = run(project, "--iflow-offline")
    cassette = next((project / "cassettes").rglob("test_many_calls.yaml"))
    live_s = live.phases["call"]
    replay_s = sum(replayed.phases.values())
    stock_s = stock_vcrpy_replay(cassette, calls) if stock else None
    return {
        "calls": calls,
        "stock_vcrpy_s": None if stock_s is None else round(stock_s, 3),
        "live_s": round(live_s, 3),
        "record_s": round(recorded.phases["call"], 3),
        "record_wall_s": round(record_wall, 3),
        "replay_load_s": round(replayed.phases["setup"], 3),
        "replay_s": round(replay_s, 3),
        "live_ms_per_call": round(1000 * live_s / calls, 3),
        "replay_ms_per_call": round(1000 * replay_s / calls, 3),
        "replay_vs_live": round(replay_s / live_s, 2),
        "cassette_kb": round(cassette.stat().st_size / 1024),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--stock", action="store_true", help="also replay with vcrpy's own Cassette (slow: quadratic)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="iflowtest-bench-") as folder:
        rows = [measure(calls, Path(folder), args.stock) for calls in args.calls]
    print(
        "| calls | live (s) | replay incl. load (s) | of which load (s) | live ms/call | replay ms/call | replay/live | cassette KB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['calls']} | {r['live_s']} | {r['replay_s']} | {r['replay_load_s']} | {r['live_ms_per_call']} | "
            f"{r['replay_ms_per_call']} | {r['replay_vs_live']} | {r['cassette_kb']} |"
        )
    if args.stock:
        print("\n| calls | vcrpy's own Cassette, same cassette and calls (s) | ms/call |")
        print("|---:|---:|---:|")
        for r in rows:
            print(f"| {r['calls']} | {r['stock_vcrpy_s']} | {round(1000 * r['stock_vcrpy_s'] / r['calls'], 3)} |")
    if len(rows) >= 2:
        growth = rows[-1]["replay_ms_per_call"] / rows[0]["replay_ms_per_call"]
        print(f"\nreplay time per call at {rows[-1]['calls']} vs {rows[0]['calls']}: {growth:.2f}x (target ≤ 1.5x)")
        print(f"replay vs live at {rows[-1]['calls']}: {rows[-1]['replay_vs_live']}x (target ≤ 1x)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
