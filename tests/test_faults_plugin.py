"""Faults seen through the plugin: retries in the report and JUnit, per-case limits, and the token breaker."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree

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
