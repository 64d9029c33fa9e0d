"""The lead's report: several runs against the emulator, with failures, fixes, flaky cases and trends."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import matplotlib.figure  # noqa: F401  (loaded before pytester's runs: numpy cannot be imported twice per process)
import pytest

from iflowtest.reporting.dashboard import git_commit

ROOT = Path(__file__).resolve().parents[2]

PYPROJECT = """
[tool.iflowtest]
suites = ["suites"]

[tool.iflowtest.clients.sender]
roles = ["ESBMessaging.send"]

[tool.iflowtest.clients.monitor]
plan = "api"
roles = ["MonitoringDataRead"]

[tool.iflowtest.iflows.ReadCostCenters]
address = "/http/costcenters"

[tool.iflowtest.iflows.FailingFlow]
address = "/http/failing"

# A tenant that returns the MPL id header on every answer (strict mode sends none on success): the report
# shows and links each call's id.
[tool.iflowtest.emulator]
mpl_header = true
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
    response = iflow.get(params={"controllingArea": "A000"})
    assert response.status_code == 200
    assert case not in BROKEN, f"case {case} is broken in this run"


@pytest.mark.iflow("FailingFlow")
def test_failing_flow_fails_in_cpi(iflow, mpl):
    response = iflow.get()
    mpl.expect_status(response, "FAILED")
    assert "failing" not in BROKEN
"""


def project(pytester: pytest.Pytester) -> Path:
    (pytester.path / "pyproject.toml").write_text(PYPROJECT)
    suite = pytester.path / "suites" / "reads"
    suite.mkdir(parents=True)
    (suite / "test_reads.py").write_text(SUITE)
    return suite


def run(pytester: pytest.Pytester, suite: Path, broken: list[str], run_id: str) -> pytest.RunResult:
    (suite / "broken.json").write_text(json.dumps(broken))
    return pytester.runpytest_inprocess(
        "suites",
        "--html=out/report.html",
        "--self-contained-html",
        "--iflow-history=out/history.jsonl",
        f"--iflow-run-id={run_id}",
    )


def test_report_shows_iflows_changes_flaky_cases_trends_and_monitor_links(pytester: pytest.Pytester) -> None:
    suite = project(pytester)
    run(pytester, suite, [], "20261101T010000Z")
    run(pytester, suite, ["b"], "20261102T010000Z")
    run(pytester, suite, ["a"], "20261103T010000Z")
    last = run(pytester, suite, ["b"], "20261104T010000Z")

    last.assert_outcomes(passed=3, failed=1)
    page = (pytester.path / "out" / "report.html").read_text()
    summary = json.loads((pytester.path / "out" / "summary.json").read_text())
    reads = "suites/reads/test_reads.py::test_read"

    # The per-iFlow summary: the broken iFlow first, with counts and latency percentiles.
    rows = re.findall(r'<tr class="iflow-row (\w+)">(.*?)</tr>', page)
    assert [(state, re.findall(r">([^<]+)<", row)[0]) for state, row in rows] == [
        ("failing", "ReadCostCenters"),
        ("passing", "FailingFlow"),
    ]
    assert re.search(
        r'<td>ReadCostCenters</td><td class="status">failing</td><td>3</td><td>2</td><td class="failed-count">1</td>'
        r"<td>0</td>",
        page,
    )
    assert summary["iflows"][0]["iflow"] == "ReadCostCenters" and summary["iflows"][0]["p95_ms"] > 0
    # Changes since the previous run, and the case that flipped pass/fail/pass/fail.
    assert "Since the previous run (20261103T010000Z)" in page
    assert summary["new_failures"] == [f"{reads}[b]"] and summary["fixes"] == [f"{reads}[a]"]
    assert re.search(rf'<ul id="new-failures"><li>{re.escape(reads)}\[b\]</li></ul>', page)
    assert re.search(rf'<ul id="fixes"><li>{re.escape(reads)}\[a\]</li></ul>', page)
    assert summary["flaky"] == [f"{reads}[b]"]
    # Two trend charts over the four runs, drawn as inline SVG with one panel per iFlow.
    assert "Trends (last 4 runs)" in page
    charts = re.findall(r"<svg .*?</svg>", page, re.S)
    assert len(charts) == 2
    assert "Pass rate per iFlow" in charts[0] and "p95 latency per iFlow" in charts[1]
    assert "ReadCostCenters" in charts[0] and "FailingFlow" in charts[0]
    assert charts[0].count('<g id="axes_') == 2
    assert ">11-04</text>" in charts[0] and ">01:00</text>" in charts[0]  # x axis labelled by run date and time
    # MPL ids of the emulated tenant are not links: its message monitor stopped with the run.
    data = json.loads(html.unescape(re.findall(r'data-jsonblob="(.*?)"', page, re.S)[0]))
    cells = [c for rows in data["tests"].values() for row in rows for c in row["resultsTableRow"] if "col-mpl" in c]
    assert len(cells) == 4
    assert all(re.search(r'<span class="mpl-gone" title="not linked: emulated tenant[^"]*">AG', c) for c in cells)
    assert not any("<a " in c for c in cells)
    # The FailingFlow row carries its message's status and error text from the message log.
    failing = next(row for rows in data["tests"].values() for row in rows if "failing_flow" in row["testId"])
    assert re.search(
        r"message log -+\n\S+ of FailingFlow: FAILED \(found by MPL id \(header\)\)  \(emulated tenant: its message monitor stopped",
        failing["log"],
    )
    assert "error: com.sap.it.rt.adapter.http.api.exception.HttpResponseException" in failing["log"]


def test_passed_rows_stay_light_and_failures_show_the_exchange(pytester: pytest.Pytester) -> None:
    suite = project(pytester)
    (suite / "test_noise.py").write_text(
        "import pytest\n\n@pytest.mark.iflow('ReadCostCenters')\n"
        "def test_noisy(iflow):\n    print('x' * 5000)\n    assert iflow.get().status_code == 200\n"
    )

    run(pytester, suite, ["a"], "20261101T010000Z")

    page = (pytester.path / "out" / "report.html").read_text()
    data = page[page.index("data-jsonblob") :]
    assert "x" * 5000 not in data  # the passed test's captured output is not in the report
    assert "iflow calls" in data
    # The failed case shows its request and response, redacted: no credential of the sender.
    assert "iflow exchanges" in data and "GET https://127.0.0.1:" in data
    assert re.search(r"Authorization: \*\*\*", data)
    assert "case a is broken in this run" in data


def test_environment_names_commit_versions_and_no_history_hint(pytester: pytest.Pytester) -> None:
    project(pytester)
    (pytester.path / "suites" / "reads" / "broken.json").write_text("[]")

    pytester.runpytest_inprocess("suites", "--html=out/report.html", "--self-contained-html")

    page = (pytester.path / "out" / "report.html").read_text()
    assert "Git commit" in page and "(not a git checkout)" in page
    assert "iflowtest 0" in page or "iflowtest 0+unknown" in page
    assert "No run history: <code>iflowtest run</code> keeps one" in page
    assert (pytester.path / "out" / "summary.json").exists()


def test_git_commit_of_this_checkout() -> None:
    assert re.fullmatch(r"[0-9a-f]{7,}( \+changes)?|\(not a git checkout\)|\(git not available\)", git_commit(ROOT))


def test_monitor_url_setting_links_messages_no_test_looked_up(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = project(pytester)
    monkeypatch.setenv("IFLOWTEST_MONITOR_URL", "https://acme.integrationsuite.cfapps.eu10.hana.ondemand.com")

    run(pytester, suite, [], "20261101T010000Z")

    page = html.unescape((pytester.path / "out" / "report.html").read_text())
    links = re.findall(r'<a href=\\"([^"\\]+)\\"', page)
    assert any(
        link.startswith("https://acme.integrationsuite.cfapps.eu10.hana.ondemand.com/shell/monitoring/Messages/%7B")
        for link in links
    )
    # A message the test looked up has CPI's own AlternateWebLink; the emulator's is not shown as a link.
    assert not any(link.startswith("https://127.0.0.1:") for link in links)
