"""`iflowtest run` as a nightly job: dated folders, summary.json, JUnit names, exit codes, parallel runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from lxml import etree

from iflowtest.reporting.nightly import exit_code, junit_classname, pytest_options
from iflowtest.reporting.publish import RunFolder
from tests.servers import iflowtest

FAILING_CASE = """
import pytest


@pytest.mark.iflow("ReadCostCenters")
def test_a_broken_expectation(iflow):
    assert iflow.get(params={"controllingArea": "A000"}).status_code == 201
"""


def junit_outcomes(path: Path) -> dict[tuple[str, str], str]:
    outcomes = {}
    for case in etree.parse(str(path)).iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[(case.get("classname", ""), case.get("name", ""))] = kinds[0] if kinds else "passed"
    return outcomes


def test_nightly_run_writes_dated_folders_latest_summary_and_one_line(project: Path) -> None:
    first = iflowtest(
        "run", "suites/costcenters/test_read_costcenters.py", "suites/costcenters/test_failing_flow.py", cwd=project
    )
    second = iflowtest("run", "suites/costcenters/test_failing_flow.py", cwd=project)

    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    reports = project / "reports"
    dated = sorted(p.name for p in reports.iterdir() if re.fullmatch(r"\d{8}T\d{6}Z(-\d+)?", p.name))
    assert len(dated) == 2
    assert sorted(p.name for p in (reports / dated[1]).iterdir()) == ["junit.xml", "report.html", "summary.json"]
    assert sorted(p.name for p in (reports / "latest").iterdir()) == ["junit.xml", "report.html", "summary.json"]
    summary = json.loads((reports / "latest" / "summary.json").read_text())
    assert summary["run_id"] == dated[1] and summary["tests"] == 1 and summary["passed"] == 1
    assert len((reports / "history.jsonl").read_text().splitlines()) == 2
    assert re.search(
        r"^iflowtest: \d+ tests, \d+ passed, 0 failed, 0 skipped; 2 iFlows, 0 failing; [\d.]+ s$", first.stdout, re.M
    ), first.stdout[-1500:]
    assert "iflowtest: 1 tests, 1 passed, 0 failed, 0 skipped; 1 iFlows, 0 failing;" in second.stdout
    # JUnit: one case per data row, classname = suite folder / iFlow, name = the case id.
    junit = junit_outcomes(reports / dated[0] / "junit.xml")
    assert ("costcenters/ReadCostCenters", "test_cost_centers_of_a_company_code[A000-1010-oauth]") in junit
    assert ("costcenters/FailingFlow", "test_failure_carries_the_mpl_id") in junit


def test_unreachable_tenant_exits_3(project: Path) -> None:
    # Nothing listens on the discard port of loopback: the token endpoint cannot be reached.
    down = {"clientid": "sb-x!b1|it-rt-down!b196", "clientsecret": "not-a-secret", "url": "https://127.0.0.1:9"}
    down["tokenurl"] = "https://127.0.0.1:9/oauth/token"
    lines = [
        f"IFLOWTEST_CLIENT_{name}_KEY='{json.dumps({'oauth': down})}'"
        for name in ("SENDER", "SENDER_NO_DE", "SENDER_CERT")
    ]
    lines += [
        f"IFLOWTEST_CLIENT_{name}_KEY='{json.dumps({'oauth': {**down, 'clientid': 'sb-y!b1|it!b117'}})}'"
        for name in ("MONITOR",)
    ]
    lines.append(f"IFLOWTEST_CLIENT_SENDER_BASIC_KEY='{json.dumps({'oauth': down})}'")
    (project / ".env.down").write_text("\n".join(lines) + "\n")

    result = iflowtest(
        "run",
        "--iflow-env",
        "down",
        "suites/costcenters/test_failing_flow.py",
        "suites/costcenters/costcenters.iflow.yaml",
        "-k",
        "mpl_id or credentials",  # a marked Python test (token first) and a YAML case without auth
        "--iflow-connect-timeout=2",
        cwd=project,
    )

    assert result.returncode == 3, result.stdout[-2000:] + result.stderr[-1000:]
    # No call was answered, yet each case counts under its iFlow; unreachable cases are a part of the failed ones.
    assert (
        "iflowtest: 2 tests, 0 passed, 2 failed (2 new, 2 unreachable), 0 skipped; 2 iFlows, 2 failing: FailingFlow, "
        "ReadCostCenters;"
    ) in result.stdout
    assert "(none)" not in (project / "reports" / "latest" / "summary.json").read_text()
    assert "token endpoint https://127.0.0.1:9/oauth/token for client 'sender'" in result.stdout
    page = (project / "reports" / "latest" / "report.html").read_text()
    assert "not-a-secret" not in result.stdout + page
    assert "Tenant hosts" in page and "127.0.0.1" in page


def test_xdist_report_names_the_tenant_hosts_its_workers_called(project: Path) -> None:
    # The controller resolves no keys (it would provision clients for nothing); its workers tell it the hosts.
    down = {"clientid": "sb-x!b1|it-rt-down!b196", "clientsecret": "not-a-secret", "url": "https://127.0.0.9:9"}
    down["tokenurl"] = "https://127.0.0.9:9/oauth/token"
    names = ("SENDER", "SENDER_NO_DE", "SENDER_BASIC", "SENDER_CERT", "MONITOR")
    lines = [f"IFLOWTEST_CLIENT_{name}_KEY='{json.dumps({'oauth': down})}'" for name in names]
    (project / ".env.down").write_text("\n".join(lines) + "\n")

    result = iflowtest("run", "--iflow-env", "down", "-n", "2", "suites/costcenters/test_failing_flow.py", cwd=project)

    assert result.returncode == 3, result.stdout[-2000:] + result.stderr[-1000:]
    page = (project / "reports" / "latest" / "report.html").read_text()
    assert "Tenant hosts" in page and "127.0.0.9" in page
    assert "not-a-secret" not in result.stdout + page


def test_nothing_selected_is_a_usage_error(project: Path) -> None:
    result = iflowtest("run", "-k", "no_such_case", cwd=project)

    assert result.returncode == 2
    assert "iflowtest: error: no test was selected: check the suite paths and the -k/-m expressions\n" in result.stderr


def test_failures_exit_1_and_four_workers_give_the_serial_outcomes_and_one_report(project: Path) -> None:
    (project / "suites" / "costcenters" / "test_broken.py").write_text(FAILING_CASE)

    serial = iflowtest("run", cwd=project)
    serial_junit = junit_outcomes(project / "reports" / "latest" / "junit.xml")
    serial_summary = json.loads((project / "reports" / "latest" / "summary.json").read_text())
    parallel = iflowtest("run", "-n", "4", "--iflow-progress=0", cwd=project)
    parallel_junit = junit_outcomes(project / "reports" / "latest" / "junit.xml")
    parallel_summary = json.loads((project / "reports" / "latest" / "summary.json").read_text())

    assert serial.returncode == parallel.returncode == 1  # failures
    assert re.search(
        r"^iflowtest: 69 tests, 68 passed, 1 failed \(1 new\), 0 skipped; 9 iFlows, 1 failing: ReadCostCenters; ",
        serial.stdout,
        re.M,
    )
    assert "4 workers" in parallel.stdout
    assert parallel_junit == serial_junit
    for key in ("tests", "passed", "failed", "skipped"):
        assert parallel_summary[key] == serial_summary[key]
    assert [r["iflow"] for r in parallel_summary["iflows"]] == [r["iflow"] for r in serial_summary["iflows"]]
    dated = [p for p in (project / "reports").iterdir() if p.name[:8].isdigit()]
    assert sorted(len(list(p.glob("*.html"))) for p in dated) == [1, 1]
    # One report, built by the controller, holding every case; the progress line came from the controller.
    page = (project / "reports" / "latest" / "report.html").read_text()
    assert page.count("col-testId") >= serial_summary["tests"]
    assert re.search(
        rf"iflowtest: progress \d+/{serial_summary['tests']} done, \d failed, 0:\d\d elapsed", parallel.stdout
    )


def test_run_folders_options_and_codes(tmp_path: Path) -> None:
    first = RunFolder.claim(tmp_path, "20260101T000000Z")
    again = RunFolder.claim(tmp_path, "20260101T000000Z")

    assert (first.run_id, again.run_id) == ("20260101T000000Z", "20260101T000000Z-2")
    assert "--dist=loadfile" in pytest_options(tmp_path, ["-n", "4"], in_order=True)
    assert "--dist=loadfile" in pytest_options(tmp_path, ["-nauto"], in_order=True)
    assert "--dist=loadfile" not in pytest_options(tmp_path, ["-n", "4"], in_order=False)
    assert "--dist=loadfile" not in pytest_options(tmp_path, ["-n", "4", "--dist", "load"], in_order=True)
    assert "--dist=loadfile" not in pytest_options(tmp_path, ["-k", "nightly"], in_order=True)
    assert pytest_options(tmp_path, [])[0] == f"--iflow-reports={tmp_path}"
    assert not any(o.startswith("--iflow-reports") for o in pytest_options(tmp_path, ["--iflow-reports=elsewhere"]))
    assert [exit_code(c, False) for c in (0, 1, 2, 3, 4, 5)] == [0, 1, 2, 1, 2, 2]
    assert exit_code(2, False, keyboard_interrupt=True) == 130
    assert exit_code(1, True) == 3
    assert junit_classname("suites.costcenters.test_read", "ReadCostCenters") == "costcenters/ReadCostCenters"
    assert junit_classname("suites.costcenters.test_read.TestGroup", "") == "costcenters/test_read"
    assert junit_classname("tests.test_x", "") == "tests/test_x"


def test_in_order_iflow_runs_file_by_file_with_workers(project: Path) -> None:
    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write('\n[tool.iflowtest.iflows.Sequence]\naddress = "/http/costcenters"\nin_order = true\n')
    (project / "suites" / "sequence").mkdir()
    (project / "suites" / "sequence" / "test_steps.py").write_text(
        "import os\nimport pytest\n\n\n@pytest.mark.iflow('Sequence')\n@pytest.mark.parametrize('step', range(6))\n"
        "def test_step(step, record_property):\n    record_property('worker', os.environ['PYTEST_XDIST_WORKER'])\n"
    )
    (project / "suites" / "sequence" / "test_other.py").write_text(
        "import pytest\n\n\n@pytest.mark.parametrize('n', range(6))\ndef test_other(n):\n    pass\n"
    )

    result = iflowtest("run", "suites/sequence", "-n", "2", cwd=project)

    assert result.returncode == 0, result.stdout[-2000:]
    junit = etree.parse(str(project / "reports" / "latest" / "junit.xml"))
    workers = [p.get("value") for p in junit.iter("property") if p.get("name") == "worker"]
    assert len(workers) == 6 and len(set(workers)) == 1
