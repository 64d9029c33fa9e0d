"""Soak: 20,000 iFlow calls through the plugin with 5 % injected 503s and 1 % resets (marked `slow`).

Run it with `pytest -m slow tests/test_soak.py -s` (it is deselected by default). The suite runs in a
child pytest so its peak RSS is its own; the numbers go to bench/README.md by hand. With
SOAK_TRACE=1 the child also diffs tracemalloc snapshots taken after the first tenth and at the end,
and the test prints the allocation sites that still hold memory, in bytes per test (tracing makes it about
three times slower, and its own bookkeeping inflates the RSS figures of that run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
TESTS = int(os.environ.get("SOAK_TESTS", "2000"))  # fewer for a quicker look; bench/README.md has 2000
# 2000 tests of 10 calls by default; SOAK_CALLS=100 with SOAK_TESTS=200 makes the same
# 20,000 calls in a tenth of the tests, which separates what is kept per call from what is kept per test.
CALLS_PER_TEST = int(os.environ.get("SOAK_CALLS", "10"))

CONFTEST = f"""
import gc
import json
import os
import resource
import tracemalloc

import pytest

SEEN = []
TRACE = bool(os.environ.get("SOAK_TRACE"))
SNAPSHOTS = []


def pytest_configure(config):
    if TRACE:
        tracemalloc.start(1)


@pytest.fixture(scope="session", autouse=True)
def faults(iflow_emulator):
    unavailable = iflow_emulator.inject("ReadCostCenters", status=503, share=0.05)
    reset = iflow_emulator.inject("ReadCostCenters", reset=True, share=0.01)
    yield
    facts = {{"fired_503": unavailable.fired, "fired_reset": reset.fired, "rss_kb": SEEN, "sites": []}}
    if SNAPSHOTS:
        gc.collect()
        tests = {TESTS} - {TESTS} // 10
        diff = tracemalloc.take_snapshot().compare_to(SNAPSHOTS[0], "lineno")
        facts["per_test"] = sum(d.size_diff for d in diff) / tests
        facts["sites"] = [(d.size_diff / tests, str(d.traceback)) for d in diff[:15]]
    with open("soak.json", "w") as out:
        json.dump(facts, out)


@pytest.fixture(autouse=True)
def rss(request):
    yield
    n = request.node.callspec.params["n"]
    if n % ({TESTS} // 10) == {TESTS} // 10 - 1:
        SEEN.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        if TRACE and not SNAPSHOTS:
            gc.collect()
            SNAPSHOTS.append(tracemalloc.take_snapshot())
"""

CASES = f"""
import pytest


@pytest.mark.iflow("ReadCostCenters")
@pytest.mark.parametrize("n", range({TESTS}))
def test_calls(iflow, n):
    for _ in range({CALLS_PER_TEST}):
        assert iflow.get(params={{"controllingArea": "A000", "companyCode": "1010"}}).status_code == 200
"""


@pytest.mark.slow
def test_soak_accounts_for_every_call_and_stays_flat(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_soak_cases.py").write_text(CASES)
    junit = tmp_path / "junit.xml"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", f"--junitxml={junit}", "test_soak_cases.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    facts = json.loads((tmp_path / "soak.json").read_text())
    cases = list(etree.parse(str(junit)).iter("testcase"))
    props = [{p.get("name"): p.get("value") for p in case.iter("property")} for case in cases]
    calls = sum(int(p["iflowtest.calls"]) for p in props)
    retries = sum(int(p.get("iflowtest.retries", "0")) for p in props)
    after_retry = sum(1 for p in props if "iflowtest.retries" in p)
    # Every call is accounted for: all answered 200, and every injected fault shows as a reported retry.
    assert len(cases) == TESTS and calls == TESTS * CALLS_PER_TEST
    assert retries == facts["fired_503"] + facts["fired_reset"] > 0
    rss = facts["rss_kb"]
    print(
        f"\nsoak: {calls} calls, {after_retry} tests passed after retry, {retries} retries "
        f"({facts['fired_503']} x 503, {facts['fired_reset']} resets); peak RSS after each 10 %: {rss} KiB"
    )
    if facts["sites"]:
        print(f"Python heap growth after the first tenth: {facts['per_test']:.0f} bytes per test; largest sites:")
        print("\n".join(f"{size:8.0f} B/test  {site}" for size, site in facts["sites"]))
    # What still grows is the report data pytest keeps per test until the run ends (bench/README.md has the
    # measurement: about 12 KB of Python heap and 14 KiB of RSS per test of 10 calls; with 100 calls a test,
    # 51 KiB: the report's line per call adds about 0.4 KiB a call). Bounded after the first tenth at 16 KiB a
    # test plus 0.6 KiB a call. Tracing adds its own bookkeeping per allocation, so it is not bounded then.
    per_test_kib = (rss[-1] - rss[0]) / (TESTS - TESTS // 10)
    print(f"peak RSS growth after the first tenth: {per_test_kib:.1f} KiB per test")
    if not facts["sites"]:
        assert per_test_kib < 16 + 0.6 * CALLS_PER_TEST
