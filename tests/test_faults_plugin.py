"""Faults seen through the plugin: retries in the report and JUnit, per-case limits, and the token breaker."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from lxml import etree

from .servers import IFLOWTEST, standing_emulator, user_environ

ROOT = Path(__file__).resolve().parents[1]

CASES = """
import pytest


@pytest.fixture
def faults(iflow_emulator):
    yield iflow_emulator
    iflow_emulator.clear_faults()


@pytest.mark.iflow("ReadCostCenters")
def test_retried(iflow, faults):
    faults.inject("ReadCostCenters", status=503, times=2)
    assert iflow.get().status_code == 200


@pytest.mark.iflow("ReadCostCenters")
@pytest.mark.iflow_timeout(read=0.2)
def test_hangs(iflow, faults):
    faults.inject("ReadCostCenters", hang=True)
    iflow.get()


@pytest.mark.iflow("ReadCostCenters")
@pytest.mark.iflow_timeout(read="long")
def test_bad_limit(iflow):
    pass


@pytest.mark.iflow("ChangeCostCenter")
@pytest.mark.retry_post
def test_post_opted_in(iflow, faults):
    faults.inject("ChangeCostCenter", status=503, times=1, methods=frozenset({"POST"}))
    assert iflow.post(json={}).status_code != 503


@pytest.mark.iflow("ReadCostCenters")
def test_after_the_faults(iflow):
    assert iflow.get().status_code == 200
"""

BREAKER = """
import pytest



@pytest.fixture(scope="session", autouse=True)
def sender_token_down(iflow_emulator, iflow_clients):
    fault = iflow_emulator.inject("token", status=503, client=iflow_clients.resolve("sender").key.clientid)
    yield
    assert fault.fired == 1, "one token request for the whole run"
    iflow_emulator.clear_faults()


@pytest.mark.iflow("ReadCostCenters")
@pytest.mark.parametrize("n", range(3))
def test_sender(iflow, n):
    iflow.get()


@pytest.mark.iflow("ReadCostCenters")
@pytest.mark.client("sender_no_de")
def test_other_client(iflow):
    assert iflow.get().status_code == 200
"""


def project(pytester: pytest.Pytester, name: str, source: str) -> None:
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    pytester.makepyfile(**{name: source})


def properties(junit: Path, test: str) -> dict[str, str]:
    case = etree.parse(str(junit)).find(f".//testcase[@name='{test}']")
    assert case is not None
    return {p.get("name"): p.get("value") for p in case.iter("property")}


def test_retries_timeouts_and_post_opt_in_through_the_plugin(pytester: pytest.Pytester) -> None:
    project(pytester, "test_cases", CASES)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_inprocess("-p", "no:randomly", f"--junitxml={junit}", "-rA")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 3 and outcomes.get("failed") == 1 and outcomes.get("errors") == 1, result.stdout
    text = result.stdout.str()
    assert "retried: 503, 503" in text
    assert properties(junit, "test_retried")["iflowtest.retries"] == "2"
    assert properties(junit, "test_post_opted_in")["iflowtest.retries"] == "1"
    assert "iflowtest.retries" not in properties(junit, "test_after_the_faults")
    assert "iFlow 'ReadCostCenters': GET https://" in text
    assert "timed out (limits: connect 10.0 s, read 0.2 s; ReadTimeout)" in text
    assert (
        "test_bad_limit: @pytest.mark.iflow_timeout(read='long') is invalid: expected "
        "iflow_timeout(connect=S, read=S) with positive seconds" in text
    )
    assert "Traceback" not in text


def test_a_yaml_step_without_credentials_is_retried_like_any_other(pytester: pytest.Pytester) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    faults = '\n[tool.iflowtest.emulator]\nfaults = ["ReadCostCenters:status=503,times=1"]\n'
    (pytester.path / "pyproject.toml").write_text(pyproject + faults)
    (pytester.path / "anonymous.iflow.yaml").write_text(
        "iflow: ReadCostCenters\ncases:\n  - name: refused\n    auth: none\n"
        "    request: {query: {companyCode: '1010'}}\n    expect: {status: 401}\n"
    )
    junit = pytester.path / "junit.xml"

    result = pytester.runpytest_inprocess("-p", "no:randomly", f"--junitxml={junit}")

    result.assert_outcomes(passed=1)
    assert properties(junit, "refused")["iflowtest.retries"] == "1"


def test_a_down_token_endpoint_fails_its_client_once_and_spares_the_others(pytester: pytest.Pytester) -> None:
    project(pytester, "test_breaker", BREAKER)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_inprocess("-p", "no:randomly", f"--junitxml={junit}")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 3 and outcomes.get("passed") == 1, result.stdout
    cases = {c.get("name"): c for c in etree.parse(str(junit)).iter("testcase")}
    causes = [cases[f"test_sender[{n}]"].find("failure").get("message", "") for n in range(3)]  # type: ignore[union-attr]
    # One cause for each of the client's tests; only the first sent a token request.
    assert all("for client 'sender' (" in c and "answered HTTP 503" in c for c in causes)
    assert "circuit open" not in causes[0]
    assert all("[circuit open for client 'sender': the token request failed" in c for c in causes[1:])
    assert cases["test_other_client"].find("failure") is None


def test_the_emulator_command_injects_faults(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    options = ["--fault", "ReadCostCenters:status=503,share=0.05", "--fault", "token:status=429,retry_after=5,times=3"]
    options += ["--fault", "ReadCostCenters:reset_after_bytes=100,times=1"]
    with standing_emulator(tmp_path, *options) as emulator:
        output = emulator.output
        assert "iflowtest emulator: fault     ReadCostCenters: status=503,share=0.05\n" in output
        assert "iflowtest emulator: fault     token: status=429,retry_after=5,times=3\n" in output
        assert "iflowtest emulator: fault     ReadCostCenters: reset_after_bytes=100,times=1\n" in output
        answer = requests.post(
            emulator.shown("token url"), data={"grant_type": "client_credentials"}, verify=emulator.ca_file, timeout=10
        )
        assert answer.status_code == 429 and answer.headers["Retry-After"] == "5"


LONG_RETRY_AFTER = """
import pytest


@pytest.mark.iflow("ReadCostCenters")
def test_told_to_wait_too_long(iflow, iflow_emulator):
    iflow_emulator.inject("ReadCostCenters", status=429, retry_after=120, times=1)
    try:
        assert iflow.get().status_code == 200
    finally:
        iflow_emulator.clear_faults()
"""


def test_an_answer_not_retried_is_not_counted_as_a_retry(pytester: pytest.Pytester) -> None:
    """Issue 18: a 429 whose Retry-After exceeds the limit reads 'not retried: ...', and counts no retry."""
    project(pytester, "test_wait", LONG_RETRY_AFTER)
    junit = pytester.path / "junit.xml"

    result = pytester.runpytest_inprocess("-p", "no:randomly", f"--junitxml={junit}")

    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "retried: not retried" not in text, text
    assert "iflowtest.retries" not in properties(junit, "test_told_to_wait_too_long")
    assert "    not retried: Retry-After 120 s exceeds the limit of" in text


def test_a_fault_on_an_unknown_target_is_one_line_naming_the_targets(tmp_path: Path) -> None:
    # Issue 18: `--fault Nope:status=503` was accepted and then never fired.
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    command = [IFLOWTEST, "emulator", "--keys-dir", str(tmp_path / "keys"), "--fault", "Nope:status=503"]

    result = subprocess.run(command, cwd=tmp_path, env=user_environ(), capture_output=True, text=True, timeout=120)

    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in result.stderr
    assert line.startswith("iflowtest: error: --fault: unknown target 'Nope': use one of the tenant's iFlows or ")
    assert "ReadCostCenters" in line and "token" in line and "cf-jobs" in line
    assert not (tmp_path / "keys").exists()


def test_a_configured_fault_on_an_unknown_target_stops_the_run(tmp_path: Path) -> None:
    text = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(
        text + '\n[tool.iflowtest.emulator]\nfaults = ["ReadCostCentres:status=503"]\n'
    )
    if "[tool.iflowtest.emulator]" in text:
        pytest.skip("the sample pyproject.toml has its own emulator table")
    shutil.copytree(ROOT / "suites", tmp_path / "suites")
    shutil.copytree(ROOT / "fixtures", tmp_path / "fixtures")

    result = subprocess.run(
        [IFLOWTEST, "run", "suites/costcenters/test_read_costcenters.py"],
        cwd=tmp_path,
        env=user_environ(),
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "[tool.iflowtest.emulator] faults: unknown target 'ReadCostCentres'" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
