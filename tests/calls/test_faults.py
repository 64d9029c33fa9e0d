"""Injected faults against the emulator over real HTTPS: retries, their record, timeouts and the token breaker."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from iflowtest import IflowCallError, IflowClient, ServiceKey, record_of
from iflowtest.calls.hints import explain_answer
from iflowtest.calls.retrying import RetrySettings
from iflowtest.credentials.tokens import BasicClientAuth, BearerAuth, OAuthToken
from iflowtest.emulator.faults import Fault, parse_fault
from iflowtest.emulator.server import Emulator
from iflowtest.errors import TokenEndpointError
from iflowtest.settings import ClientSpec

IssueKey = Callable[..., ServiceKey]
FAST = RetrySettings(retries=2, backoff_factor=0.0)
PATH = "/http/costcenters"


@pytest.fixture
def client(fresh_emulator: Emulator, issue_key: IssueKey) -> Iterator[IflowClient]:
    key = issue_key(fresh_emulator)
    with IflowClient(
        key.url,
        BasicClientAuth(key),
        client_name="sender",
        iflow="ReadCostCenters",
        default_path=PATH,
        verify=str(fresh_emulator.ca_file),
        retry=FAST,
        timeout=(5.0, 5.0),
    ) as c:
        yield c
    fresh_emulator.check_errors()


def test_a_503_is_retried_and_the_retry_is_recorded(fresh_emulator: Emulator, client: IflowClient) -> None:
    fault = fresh_emulator.inject("ReadCostCenters", status=503, times=1)
    response = client.get()
    record = record_of(response)
    assert response.status_code == 200 and fault.fired == 1
    assert record is not None and record.retries == ("503",)


@pytest.mark.parametrize("status", [429, 502, 504])
def test_other_transient_statuses_are_retried(fresh_emulator: Emulator, client: IflowClient, status: int) -> None:
    fresh_emulator.inject("ReadCostCenters", status=status, times=2)
    record = record_of(client.get())
    assert record is not None and record.status == 200 and record.retries == (str(status), str(status))


def test_a_reset_before_the_answer_is_retried(fresh_emulator: Emulator, client: IflowClient) -> None:
    fresh_emulator.inject("ReadCostCenters", reset=True, times=1)
    record = record_of(client.get())
    assert record is not None and record.status == 200
    assert len(record.retries) == 1 and record.retries[0].startswith("connection error (")


def test_resets_beyond_the_retry_count_fail_with_the_attempts_named(
    fresh_emulator: Emulator, client: IflowClient
) -> None:
    fresh_emulator.inject("ReadCostCenters", reset=True)
    with pytest.raises(IflowCallError) as caught:
        client.get()
    message = str(caught.value)
    assert message.startswith("iFlow 'ReadCostCenters': GET ")
    assert "3 attempts: connection error (" in message
    assert "the connection was dropped before an answer each time; expected an HTTP answer" in message


def test_retries_are_bounded_in_count_and_the_last_answer_is_returned(
    fresh_emulator: Emulator, client: IflowClient
) -> None:
    fault = fresh_emulator.inject("ReadCostCenters", status=503)
    response = client.get()
    record = record_of(response)
    assert response.status_code == 503 and fault.fired == 3
    assert record is not None and record.retries == ("503", "503")


def test_retry_after_is_respected(fresh_emulator: Emulator, client: IflowClient) -> None:
    fresh_emulator.inject("ReadCostCenters", status=429, retry_after=1, times=1)
    record = record_of(client.get())
    # A lower bound only: the client waited the second the server asked for.
    assert record is not None and record.status == 200 and record.elapsed_ms >= 1000


def test_a_retry_after_beyond_the_limit_is_not_waited_for(fresh_emulator: Emulator, client: IflowClient) -> None:
    fault = fresh_emulator.inject("ReadCostCenters", status=429, retry_after=3600)
    record = record_of(client.get())
    assert record is not None and record.status == 429 and fault.fired == 1
    assert record.retries == ("not retried: Retry-After 3600 s exceeds the limit of 30 s",)


def test_post_is_retried_only_when_the_case_opts_in(fresh_emulator: Emulator, issue_key: IssueKey) -> None:
    key = issue_key(fresh_emulator)
    with IflowClient(
        key.url, BasicClientAuth(key), verify=str(fresh_emulator.ca_file), retry=FAST, iflow="ChangeCostCenter"
    ) as client:
        body = {"CostCenter": "10101501", "ControllingArea": "A000", "Description": "x"}
        fresh_emulator.inject("ChangeCostCenter", status=503, times=1, methods=frozenset({"POST"}))
        assert client.post("/http/costcenters/changerequest", json=body).status_code == 503
        fresh_emulator.inject("ChangeCostCenter", status=503, times=1, methods=frozenset({"POST"}))
        opted = client.for_iflow("ChangeCostCenter", None)
        opted.retry_post = True
        record = record_of(opted.post("/http/costcenters/changerequest", json=body))
        # The flow ran after the retried 503 (its answer to this body is not the point here).
        assert record is not None and record.status not in (403, 503) and record.retries == ("503",)


def test_a_share_of_faults_is_exact(fresh_emulator: Emulator, client: IflowClient) -> None:
    fault = fresh_emulator.inject("ReadCostCenters", status=503, share=0.25)
    statuses = [record_of(client.get()) for _ in range(8)]
    assert all(r is not None and r.status == 200 for r in statuses)
    assert fault.fired == 2 and sum(len(r.retries) for r in statuses if r) == 2


def test_a_redeployed_iflow_answers_404_until_it_is_back(fresh_emulator: Emulator, client: IflowClient) -> None:
    fresh_emulator.redeploy("ReadCostCenters", 60)
    response = client.get()
    record = record_of(response)
    assert response.status_code == 404 and record is not None and record.retries == ()
    assert record.hint is None or "404" in record.hint
    fresh_emulator.advance_clock(61)
    assert client.get().status_code == 200


@pytest.mark.parametrize("status", [404, 503])
def test_an_undeployed_iflow_is_explained_either_way(
    fresh_emulator: Emulator, client: IflowClient, status: int
) -> None:
    # 404 (Tomcat's page, seen on tenants) or 503 for an iFlow that is not deployed: UNCONFIRMED, so both.
    fresh_emulator.redeploy("ReadCostCenters", 60, status=status)
    response = client.get()
    hint = explain_answer(response, ClientSpec(name="sender"), "ReadCostCenters", None)

    assert response.status_code == status
    assert hint is not None and "deployed" in hint
    fresh_emulator.advance_clock(61)
    assert client.get().status_code == 200


def test_a_hanging_iflow_times_out_naming_the_iflow_and_the_limit(
    fresh_emulator: Emulator, client: IflowClient
) -> None:
    fresh_emulator.inject("ReadCostCenters", hang=True)
    no_retry = IflowClient(
        client.base_url,
        client.session.auth,  # type: ignore[arg-type]
        iflow="ReadCostCenters",
        default_path=PATH,
        verify=str(fresh_emulator.ca_file),
        retry=RetrySettings(retries=0),
    )
    with pytest.raises(IflowCallError) as caught:
        no_retry.get(timeout=(5.0, 0.2))
    message = str(caught.value)
    assert message.startswith("iFlow 'ReadCostCenters': GET https://")
    assert "timed out (limits: connect 5.0 s, read 0.2 s; ReadTimeout)" in message
    assert "raise IFLOWTEST_READ_TIMEOUT (or the case's @pytest.mark.iflow_timeout(read=S))" in message
    fresh_emulator.clear_faults()
    assert client.get().status_code == 200  # the run goes on
    no_retry.close()


def test_latency_delays_the_answer(fresh_emulator: Emulator, client: IflowClient) -> None:
    fresh_emulator.inject("ReadCostCenters", latency=0.3, times=1)
    record = record_of(client.get())
    assert record is not None and record.status == 200 and record.elapsed_ms >= 300


def test_the_token_breaker_sends_one_request_and_repeats_its_cause(
    fresh_emulator: Emulator, issue_key: IssueKey
) -> None:
    down, up = issue_key(fresh_emulator, "down"), issue_key(fresh_emulator, "up")
    fault = fresh_emulator.inject("token", status=503, client=down.clientid)
    now = [0.0]
    token = OAuthToken(down, "down", verify=str(fresh_emulator.ca_file), clock=lambda: now[0])
    messages = []
    for _ in range(3):
        with pytest.raises(TokenEndpointError) as caught:
            token.get()
        messages.append(str(caught.value))
    assert fault.fired == 1  # one token request reached the endpoint, not three
    assert messages[0].startswith(f"token endpoint {down.tokenurl} for client 'down' (")
    assert "answered HTTP 503" in messages[0]
    assert messages[1].startswith(messages[0] + " [circuit open for client 'down': the token request failed 0 s ago")
    assert token.breaker.short_circuited == 2
    # Other clients keep running.
    other = OAuthToken(up, "up", verify=str(fresh_emulator.ca_file), timeout=5)
    with IflowClient(up.url, BearerAuth(other), verify=str(fresh_emulator.ca_file)) as c:
        assert c.get(PATH).status_code == 200
    # After the cooldown one request goes out; once the endpoint is back the breaker closes.
    fresh_emulator.clear_faults()
    now[0] = 61.0
    assert token.get() and not token.breaker.is_open


def test_an_emulator_reset_is_a_real_connection_drop(fresh_emulator: Emulator, issue_key: IssueKey) -> None:
    key = issue_key(fresh_emulator)
    fresh_emulator.inject("ReadCostCenters", reset=True, times=1)
    assert key.clientsecret is not None
    with pytest.raises(requests.exceptions.ConnectionError, match=r"Connection aborted|reset"):
        requests.get(
            key.url + PATH,
            auth=(key.clientid, key.clientsecret.reveal()),
            verify=str(fresh_emulator.ca_file),
            timeout=5,
        )


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        ("ReadCostCenters:status=503,share=0.05", "ReadCostCenters", Fault(status=503, share=0.05)),
        ("token:reset", "token", Fault(reset=True)),
        ("api:status=429,retry_after=5,times=2", "api", Fault(status=429, retry_after=5, times=2)),
        ("X:latency=1.5,methods=get+head", "X", Fault(latency=1.5, methods=frozenset({"GET", "HEAD"}))),
    ],
)
def test_fault_specs_parse(text: str, target: str, expected: Fault) -> None:
    assert parse_fault(text) == (target, expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("token", "fault 'token' has no target or no settings: expected TARGET:key=value,..."),
        ("X:status=418", "fault 'X:status=418': status 418 is not injectable: use one of"),
        ("X:share=2,status=503", "fault 'X:share=2,status=503': share must be in (0, 1], got 2.0"),
        ("X:colour=red", "fault 'X:colour=red': unknown setting 'colour'; known: status, share,"),
        ("X:status=abc", "fault 'X:status=abc': status='abc' is not a valid status;"),
        (
            "X:times=2",
            "fault 'X:times=2': a fault needs at least one of status, reset, reset_after_bytes, latency or hang",
        ),
        ("X:reset,reset", "fault 'X:reset,reset': setting 'reset' given twice"),
    ],
)
def test_bad_fault_specs_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^fault ") as caught:
        parse_fault(text)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("status", [413, 500])
def test_a_body_over_the_iflows_body_size_is_explained_either_way(
    fresh_emulator: Emulator, issue_key: IssueKey, status: int
) -> None:
    # cpi-facts §4: SAP's text "Message body exceeds configured size limit", as 413 or 500 (UNCONFIRMED).
    fresh_emulator.body_limit_status = status
    key = issue_key(fresh_emulator)
    with IflowClient(
        key.url,
        BasicClientAuth(key),
        client_name="sender",
        iflow="ChangeCostCenter",
        verify=str(fresh_emulator.ca_file),
    ) as client:
        response = client.post("/http/costcenters/changerequest", data=b"<a>" + b"x" * (1024 * 1024) + b"</a>")
        small = client.post("/http/costcenters/changerequest", data=b"<CostCenterChangeRequest/>")
    hint = explain_answer(response, ClientSpec(name="sender"), "ChangeCostCenter", None)

    assert response.status_code == status
    assert "Message body exceeds configured size limit (1.0 MB)" in response.text
    assert hint == (
        f"{status} from /http/costcenters/changerequest: the request body (1048583 bytes) is over the Body Size "
        "of iFlow 'ChangeCostCenter' (1.0 MB): raise Body Size in its sender adapter, or send a smaller body"
    )
    assert "size limit" not in small.text
    failed = [m for m in fresh_emulator.messages if m.status == "FAILED"]
    assert [m.error_text for m in failed][:1] == ["Message body exceeds configured size limit (1.0 MB)"]
    if status == 500:  # SAP's 500 text names the failed message, as for any runtime error
        assert f"The MPL ID for the failed message is : {failed[0].message_guid}" in response.text
