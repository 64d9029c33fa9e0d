"""Soak: 20,000 iFlow calls through the plugin with 5 % injected 503s and 1 % resets (marked `slow`).

Run it with `pytest -m slow tests/test_soak.py -s` (it is deselected by default). The suite runs in a
child pytest so its peak RSS is its own; the numbers go to bench/README.md by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
TESTS, CALLS_PER_TEST = 2000, 10

CONFTEST = """
import json
import resource

import pytest

SEEN = []


@pytest.fixture(scope="session", autouse=True)
def faults(iflow_emulator):
    unavailable = iflow_emulator.inject("ReadCostCenters", status=503, share=0.05)
    reset = iflow_emulator.inject("ReadCostCenters", reset=True, share=0.01)
    yield
    with open("soak.json", "w") as out:
        json.dump({"fired_503": unavailable.fired, "fired_reset": reset.fired, "rss_kb": SEEN}, out)


@pytest.fixture(autouse=True)
def rss(request):
    yield
    if request.node.callspec.params["n"] % 200 == 199:
        SEEN.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
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
    # Flat: from the first tenth to the end, peak RSS grows by less than 64 MiB.
    assert rss[-1] - rss[0] < 64 * 1024
