"""The verdict banner: target and profile, counts, failing iFlows, changes, and each failure with its reason."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

import matplotlib.figure  # noqa: F401  (loaded before pytester's runs: numpy cannot be imported twice per process)
import pytest

from iflowtest.reporting.history import CaseResult, Changes, RunRecord
from iflowtest.reporting.reasons import Failure
from iflowtest.reporting.summary import summarize_iflows
from iflowtest.reporting.verdict import describe_target, render_verdict
from tests.reporting.pages import rows_of

PYPROJECT = """
[tool.iflowtest]
suites = ["suites"]

[tool.iflowtest.clients.sender]
roles = ["ESBMessaging.send"]

[tool.iflowtest.iflows.ReadCostCenters]
address = "/http/costcenters"

[tool.iflowtest.iflows.FailingFlow]
address = "/http/failing"
"""

# Which cases fail is read from a file the test rewrites between runs.
SUITE = """
import json
from pathlib import Path

import pytest

BROKEN = set(json.loads(Path(__file__).with_name("broken.json").read_text()))


@pytest.mark.iflow("ReadCostCenters")
@pytest.mark.parametrize("case", ["a", "b", "c"])
def test_read(iflow, case):
    assert iflow.get(params={"controllingArea": "A000"}).status_code == 200
    assert case not in BROKEN, f"case {case} is broken in this run"


@pytest.mark.iflow("FailingFlow")
def test_failing_flow(iflow):
    assert iflow.get().status_code == 500
"""


def run(pytester: pytest.Pytester, broken: list[str], run_id: str) -> str:
    (pytester.path / "suites" / "broken.json").write_text(json.dumps(broken))
    pytester.runpytest_inprocess(
        "suites",
        "--html=out/report.html",
        "--self-contained-html",
        "--iflow-history=out/history.jsonl",
        f"--iflow-run-id={run_id}",
    )
    return (pytester.path / "out" / "report.html").read_text()


def test_the_banner_says_what_broke_and_why_above_everything_else(pytester: pytest.Pytester) -> None:
    (pytester.path / "pyproject.toml").write_text(PYPROJECT)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "test_reads.py").write_text(SUITE)
    run(pytester, ["a"], "20261101T010000Z")

    page = run(pytester, ["b"], "20261102T010000Z")

    banner = re.search(r'<section id="verdict" class="failing">(.*?)</section>', page, re.S)
    assert banner is not None
    text = banner.group(1)
    assert "FAILED</span>: 1 of 4 tests failed, in 1 of 2 iFlows" in text
    assert re.search(r"Target: emulator \(emulated tenant at https://127\.0\.0\.1:\d+\), no profile", text)
    assert "3 passed &middot; 1 failed (1 new) &middot; 0 skipped" in text
    assert "Failing iFlows: <b>ReadCostCenters</b> (1 of 3)" in text
    assert "Since run 20261101T010000Z (emulator, no profile): 1 new failure, 1 fixed" in text
    assert 'Fixed: <span class="fixed-names">test_read[a]</span>' in text
    # One row per failing test: its iFlow, a link to its row, NEW, and the reason from the assertion.
    broke = re.findall(
        r"<tr><td>(.*?)</td><td><a href=\"#(.*?)\">(.*?)</a>(.*?)</td><td class=\"reason\">(.*?)</td>", text
    )
    assert len(broke) == 1
    iflow, anchor, name, badge, reason = broke[0]
    assert (iflow, name) == ("ReadCostCenters", "test_read[b]") and "NEW" in badge
    assert reason.startswith("AssertionError: case b is broken in this run")
    assert unquote(anchor) in rows_of(pytester.path / "out" / "report.html")  # pytest-html's row id is the nodeid
    # The banner comes first, then the iFlows, the trends and, folded, the environment.
    order = [
        page.index(marker)
        for marker in ('id="verdict"', 'id="iflow-summary"', "<h2>Trends", 'id="environment-details"')
    ]
    assert order == sorted(order)


def case(nodeid: str, outcome: str, iflow: str = "ReadCostCenters") -> CaseResult:
    return CaseResult(nodeid=nodeid, outcome=outcome, iflow=iflow)


def test_a_green_run_says_passed_and_names_its_fixes() -> None:
    run_ = RunRecord("r2", "", "tenant", "test", (case("t::a", "passed"), case("t::b", "passed", "Other")))
    before = RunRecord("r1", "", "tenant", "test", (case("t::a", "failed"),))

    banner = render_verdict(
        run_,
        Changes("r1", (), ("t::a",), ()),
        summarize_iflows(run_),
        target=describe_target("tenant", "test", "acme.cfapps.eu10.hana.ondemand.com"),
        failures={},
        previous=before,
    )

    assert '<section id="verdict" class="passing">' in banner
    assert "PASSED</span>: all 2 tests passed of 2 iFlows" in banner
    assert "Target: tenant (acme.cfapps.eu10.hana.ondemand.com), profile test" in banner
    assert "Since run r1 (tenant, profile test): no new failures, 1 fixed. Fixed:" in banner
    assert 'id="what-broke"' not in banner


def test_no_tests_no_history_and_many_failures() -> None:
    empty = RunRecord("r1", "", "emulator", None, ())
    assert "NO TESTS RAN" in render_verdict(
        empty, Changes(None, (), (), ()), [], target="emulator", failures={}, history=False
    )

    broken = tuple(case(f"t::test_{n:02}", "failed") for n in range(30))
    run_ = RunRecord("r1", "", "emulator", None, broken)
    failures = {c.nodeid: Failure(f"reason {c.nodeid}", c.nodeid) for c in broken}
    banner = render_verdict(
        run_, Changes(None, (), (), ("t::test_07",)), summarize_iflows(run_), target="x", failures=failures
    )

    assert banner.count('<td class="reason">') == 25
    assert "and 5 more failed tests in the results below" in banner
    assert "No earlier run to compare with" in banner
    assert re.search(r"test_07</a> <span class=\"flaky\"", banner)


def test_describe_target_marks_tls_off() -> None:
    assert describe_target("tenant", None, "h", tls_verify=False) == "tenant (h), no profile, TLS verification OFF"
