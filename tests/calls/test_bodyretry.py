"""Connections reset in the middle of an answer's body, over real HTTP and HTTPS against the emulator."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree

from iflowtest import IflowCallError, IflowClient, ServiceKey, record_of
from iflowtest.calls.retrying import RetrySettings
from iflowtest.credentials.tokens import BasicClientAuth
from iflowtest.emulator.faults import Fault, parse_fault
from iflowtest.emulator.server import Emulator

IssueKey = Callable[..., ServiceKey]
FAST = RetrySettings(retries=2, backoff_factor=0.0)
PATH = "/http/costcenters"
ROOT = Path(__file__).resolve().parents[2]
CHANGE = {"CostCenter": "10101501", "ControllingArea": "A000", "Description": "x"}


@pytest.fixture(params=["https", "http"])
def tenant(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """An emulated tenant over TLS (as real tenants are) and over plain HTTP."""
    with Emulator(tls=request.param == "https") as emu:
        yield emu
        emu.check_errors()


def verify_of(emu: Emulator) -> bool | str:
    return str(emu.ca_file) if emu.url.startswith("https:") else True


@pytest.fixture
def client(tenant: Emulator, issue_key: IssueKey) -> Iterator[IflowClient]:
    key = issue_key(tenant)
    with IflowClient(
        key.url,
        BasicClientAuth(key),
        client_name="sender",
        iflow="ReadCostCenters",
        default_path=PATH,
        verify=verify_of(tenant),
        retry=FAST,
        timeout=(5.0, 5.0),
    ) as c:
        yield c


def test_the_fault_sends_the_status_the_headers_and_part_of_the_body(tenant: Emulator, issue_key: IssueKey) -> None:
    key = issue_key(tenant)
    assert key.clientsecret is not None
    tenant.inject("ReadCostCenters", reset_after_bytes=100, times=1)
    session = requests.Session()
    session.trust_env = False
    response = session.get(
        key.url + PATH,
        auth=(key.clientid, key.clientsecret.reveal()),
        verify=verify_of(tenant),
        timeout=5,
        stream=True,
    )
    assert response.status_code == 200 and int(response.headers["Content-Length"]) > 100
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match=r"IncompleteRead\(100 bytes read"):
        response.content  # noqa: B018
    assert response.raw.tell() == 100
    session.close()


def test_a_reset_mid_body_is_retried_and_recorded(tenant: Emulator, client: IflowClient) -> None:
    fault = tenant.inject("ReadCostCenters", reset_after_bytes=100, times=1)
    response = client.get()
    record = record_of(response)
    assert response.status_code == 200 and response.json() and fault.fired == 1
    size = len(response.content)
    assert record is not None and record.retries == (f"reset mid-body (HTTP 200, 100 of {size} bytes)",)


def test_mid_body_resets_and_other_faults_share_one_retry_budget(tenant: Emulator, client: IflowClient) -> None:
    tenant.inject("ReadCostCenters", status=503, times=1)
    tenant.inject("ReadCostCenters", reset_after_bytes=0, times=1)
    tenant.inject("ReadCostCenters", status=503, times=1)
    # 503, cut, 503: three failures, two retries; urllib3 hands the last 503 to the caller.
    response = client.get()
    record = record_of(response)
    assert response.status_code == 503
    assert record is not None and record.retries[0] == "503" and record.retries[1].startswith("reset mid-body (")


def test_a_persistent_reset_mid_body_fails_with_the_bytes_named(tenant: Emulator, client: IflowClient) -> None:
    fault = tenant.inject("ReadCostCenters", reset_after_bytes=100)
    with pytest.raises(IflowCallError) as caught:
        client.get(params={"apikey": "s3cr3t-in-the-query"})
    message = str(caught.value)
    size = message.split("100 of ", 1)[1].split(" bytes", 1)[0]
    attempt = f"reset mid-body (HTTP 200, 100 of {size} bytes)"
    assert message == (
        f"iFlow 'ReadCostCenters': GET {tenant.url}{PATH} failed; 3 attempts: {attempt}, {attempt}, "
        f"{attempt}: the connection was reset after 100 bytes of the answer (HTTP 200, {size} bytes announced); "
        "expected the whole answer: check the runtime's health, or opt in to retrying more (retries) if the tenant "
        "drops connections under load"
    )
    assert fault.fired == 3 and "s3cr3t" not in message
    tenant.clear_faults()
    assert client.get().status_code == 200  # the connection pool is fine afterwards


def test_post_is_not_retried_mid_body_unless_the_case_opts_in(tenant: Emulator, client: IflowClient) -> None:
    change = client.for_iflow("ChangeCostCenter", "/http/costcenters/changerequest")
    first = change.post(json=CHANGE)  # fetches the CSRF token, so the fault meets the call itself
    posts = frozenset({"POST"})
    fault = tenant.inject("ChangeCostCenter", reset_after_bytes=5, times=1, methods=posts)
    with pytest.raises(IflowCallError) as caught:
        change.post(json=CHANGE)
    assert str(caught.value) == (
        f"iFlow 'ChangeCostCenter': POST {tenant.url}/http/costcenters/changerequest failed: the connection was "
        f"reset after 5 bytes of the answer (HTTP {first.status_code}, {len(first.content)} bytes announced); not "
        "retried: POST is sent again only when the case opts in (@pytest.mark.retry_post), as the iFlow may have run "
        "already: check its message log"
    )
    assert fault.fired == 1

    tenant.inject("ChangeCostCenter", reset_after_bytes=5, times=1, methods=posts)
    opted = client.for_iflow("ChangeCostCenter", "/http/costcenters/changerequest")
    opted.retry_post = True
    record = record_of(opted.post(json=CHANGE))
    assert record is not None and record.status == first.status_code and len(record.retries) == 1


def test_without_retries_a_reset_mid_body_fails_at_once(tenant: Emulator, issue_key: IssueKey) -> None:
    key = issue_key(tenant)
    fault = tenant.inject("ReadCostCenters", reset_after_bytes=10)
    cut = r"failed: the connection was reset after 10 bytes of the answer"
    with (
        IflowClient(
            key.url, BasicClientAuth(key), iflow="ReadCostCenters", verify=verify_of(tenant), retry=RetrySettings(0)
        ) as client,
        pytest.raises(IflowCallError, match=cut),
    ):
        client.get(PATH)
    assert fault.fired == 1


def test_a_streamed_answer_is_left_to_the_caller(tenant: Emulator, client: IflowClient) -> None:
    tenant.inject("ReadCostCenters", reset_after_bytes=10, times=1)
    response = client.get(stream=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        response.content  # noqa: B018
    assert client.get().status_code == 200


def test_mid_body_fault_specs_parse_and_describe() -> None:
    target, fault = parse_fault("ReadCostCenters:reset_after_bytes=0,times=2")
    assert (target, fault) == ("ReadCostCenters", Fault(reset_after_bytes=0, times=2))
    assert fault.describe() == "reset_after_bytes=0,times=2"
    with pytest.raises(ValueError, match=r"^fault 'X:reset_after_bytes=-1': reset_after_bytes must be ≥ 0, got -1$"):
        parse_fault("X:reset_after_bytes=-1")
    with pytest.raises(ValueError, match=r"^fault 'X:reset,reset_after_bytes=5': ") as caught:
        parse_fault("X:reset,reset_after_bytes=5")
    assert str(caught.value) == (
        "fault 'X:reset,reset_after_bytes=5': reset and reset_after_bytes exclude each other: reset drops the "
        "connection before the answer, reset_after_bytes in the middle of its body"
    )


CASE = """
import pytest


@pytest.mark.iflow("ReadCostCenters")
def test_cut_once(iflow, iflow_emulator):
    iflow_emulator.inject("ReadCostCenters", reset_after_bytes=100, times=1)
    assert iflow.get().status_code == 200
"""


def test_the_report_shows_the_retry_after_a_reset_mid_body(pytester: pytest.Pytester) -> None:
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    pytester.makepyfile(test_cut=CASE)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_inprocess("-p", "no:randomly", f"--junitxml={junit}", "-rA")
    assert result.parseoutcomes().get("passed") == 1, result.stdout
    assert "retried: reset mid-body (HTTP 200, 100 of " in result.stdout.str()
    case = etree.parse(str(junit)).find(".//testcase[@name='test_cut_once']")
    assert case is not None
    assert {p.get("name"): p.get("value") for p in case.iter("property")}["iflowtest.retries"] == "1"
