"""Message-level expectations against the emulated tenant over real HTTP: each kind passing, and failing in the
user's terms; a read without its role is one line naming the role."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from iflowtest import BearerAuth, IflowClient, OAuthToken, ServiceKey
from iflowtest.calls.mpl import MplPermissionError
from iflowtest.checks.assertions import ExpectationError
from iflowtest.checks.messages import MessageChecks, check_message
from iflowtest.emulator import Emulator
from iflowtest.errors import ConfigError
from tests.servers import MONITOR_ROLES

KeyIssuer = Callable[..., ServiceKey]
ROOT = Path(__file__).resolve().parents[2]
EVERY_ROLE = MONITOR_ROLES
CHANGE = """<CostCenterChangeRequest>
  <ControllingArea>A000</ControllingArea>
  <CostCenter>10101101</CostCenter>
  <ValidFrom>2026-01-01</ValidFrom>
  <Changes><Field name="CostCtrResponsiblePersonName">{person}</Field></Changes>
</CostCenterChangeRequest>"""
TOO_LONG = "A name far longer than twenty characters"


def checks_for(emu: Emulator, issue_key: KeyIssuer, name: str, roles: tuple[str, ...] = EVERY_ROLE) -> MessageChecks:
    key = issue_key(emu, name, plan="api", roles=list(roles))
    token = OAuthToken(key, name, verify=str(emu.ca_file))
    return MessageChecks(key.url, BearerAuth(token), client_name=name, verify=str(emu.ca_file), first_poll=0.05)


def sender(emu: Emulator, issue_key: KeyIssuer, iflow: str, path: str) -> IflowClient:
    key = issue_key(emu, f"sender-{iflow.lower()}")
    token = OAuthToken(key, "sender", verify=str(emu.ca_file))
    return IflowClient(key.url, BearerAuth(token), iflow=iflow, default_path=path, verify=str(emu.ca_file))


@pytest.fixture(scope="module")
def tenant() -> Iterator[Emulator]:
    with Emulator() as emu:
        emu.jms_delay = 0.1
        yield emu


@pytest.fixture(scope="module")
def mpl(tenant: Emulator) -> Iterator[MessageChecks]:
    checks = checks_for(
        tenant, lambda emu, name, **o: ServiceKey.from_mapping(emu.issue_service_key(name, **o), name), "monitor"
    )
    yield checks
    checks.close()


@pytest.fixture(scope="module")
def issue() -> KeyIssuer:
    return lambda emu, name, **options: ServiceKey.from_mapping(emu.issue_service_key(name, **options), name)


@pytest.fixture(scope="module")
def accepted(tenant: Emulator, issue: KeyIssuer) -> requests.Response:
    client = sender(tenant, issue, "ChangeCostCenter", "/http/costcenters/changerequest")
    response = client.post(data=CHANGE.format(person="J. Smith"), headers={"Content-Type": "application/xml"})
    assert response.status_code == 200
    return response


@pytest.fixture(scope="module")
def queued(tenant: Emulator, issue: KeyIssuer) -> Callable[[str], requests.Response]:
    client = sender(tenant, issue, "ChangeCostCenterAsync", "/http/costcenters/changerequest/async")

    def post(person: str) -> requests.Response:
        response = client.post(data=CHANGE.format(person=person), headers={"Content-Type": "application/xml"})
        assert response.status_code == 202
        return response

    return post


def failures(call: Callable[[], object]) -> list[str]:
    with pytest.raises(ExpectationError) as failed:
        call()
    return failed.value.failures


def guid(response: requests.Response) -> str:
    return response.headers["SAP_MessageProcessingLogID"]


# ---------------------------------------------------------------- status, custom status, properties
def test_status_and_properties_pass(mpl: MessageChecks, accepted: requests.Response) -> None:
    log = mpl.expect_message(
        accepted, status="COMPLETED", properties={"CostCenter": "10101101", "ChangeStatus": "ACCEPTED"}
    )

    assert log.iflow == "ChangeCostCenter" and log.log_level == "TRACE"


def test_wrong_status_custom_status_and_property_fail_in_the_users_terms(
    mpl: MessageChecks, accepted: requests.Response
) -> None:
    lines = failures(
        lambda: mpl.expect_message(
            accepted, status="FAILED", custom_status="REJECTED", properties={"ChangeStatus": "REJECTED", "Owner": "x"}
        )
    )

    label = f"message {guid(accepted)} of iFlow 'ChangeCostCenter'"
    assert lines == [
        f"{label} ended COMPLETED, expected FAILED",
        f"{label} custom status: expected 'REJECTED', got 'COMPLETED'",
        f"{label} custom header property ChangeStatus: expected 'REJECTED', got 'ACCEPTED' "
        "(properties set: ChangeStatus, ControllingArea, CostCenter)",
        f"{label} custom header property Owner: not set (properties set: ChangeStatus, ControllingArea, CostCenter)",
    ]


# ---------------------------------------------------------------- attachments and message store
def test_attachments_are_checked_like_responses(mpl: MessageChecks, accepted: requests.Response) -> None:
    content = mpl.expect_attachment(
        accepted,
        "BackendResponse",
        json={"$.d.results[0].CompanyCode": "1010"},
        content_type={"regex": "application/json"},
    )
    mpl.expect_attachment(accepted, "ChangeRequest", xpath={"/CostCenterChangeRequest/CostCenter": "10101101"})
    mpl.expect_attachment(accepted, "NoSuchThing", absent=True)

    assert content is not None and content.json()["d"]["results"][0]["CostCenter"] == "10101101"


def test_attachment_failures_name_the_message_and_the_attachment(
    mpl: MessageChecks, accepted: requests.Response
) -> None:
    label = f"message {guid(accepted)} of iFlow 'ChangeCostCenter'"

    assert failures(
        lambda: mpl.expect_attachment(accepted, "BackendResponse", json={"$.d.results[0].CompanyCode": "9999"})
    ) == [f"{label} attachment 'BackendResponse': json $.d.results[0].CompanyCode: expected '9999', got '1010'"]
    assert failures(lambda: mpl.expect_attachment(accepted, "Payload")) == [
        f"{label} attachment 'Payload': not found (the message has attachments: BackendResponse, ChangeRequest)"
    ]
    assert failures(lambda: mpl.expect_attachment(accepted, "ChangeRequest", absent=True)) == [
        f"{label} attachment 'ChangeRequest': expected none, found 1"
    ]


def test_an_attachment_baseline_is_written_then_compared(
    mpl: MessageChecks, accepted: requests.Response, tmp_path: Path
) -> None:
    mpl.base, mpl.update_baselines = tmp_path, True
    try:
        mpl.expect_attachment(accepted, "ChangeRequest", baseline="request.baseline.xml")
        assert (tmp_path / "request.baseline.xml").exists()
        mpl.update_baselines = False
        mpl.expect_attachment(accepted, "ChangeRequest", baseline="request.baseline.xml")
        (tmp_path / "request.baseline.xml").write_text(
            (tmp_path / "request.baseline.xml").read_text().replace("10101101", "10101102")
        )
        lines = failures(lambda: mpl.expect_attachment(accepted, "ChangeRequest", baseline="request.baseline.xml"))
    finally:
        mpl.base, mpl.update_baselines = None, False

    assert lines[0].endswith(
        "attachment 'ChangeRequest': baseline request.baseline.xml: the response differs in 1 place(s):"
    )
    assert "/CostCenterChangeRequest/CostCenter[1]: text expected '10101102', got '10101101'" in lines[1]


def test_message_store_entries_by_persist_step(mpl: MessageChecks, accepted: requests.Response) -> None:
    mpl.expect_store_entry(accepted, "PersistResponse", xpath={"/CostCenterChangeResponse/Status": "ACCEPTED"})

    assert failures(lambda: mpl.expect_store_entry(accepted, "PersistRequest")) == [
        f"message {guid(accepted)} of iFlow 'ChangeCostCenter' message store entry 'PersistRequest': not found "
        "(the message has message store entrys: PersistResponse)"
    ]


# ---------------------------------------------------------------- trace
def test_trace_payloads_when_trace_is_on(mpl: MessageChecks, accepted: requests.Response) -> None:
    mpl.expect_trace(accepted, "EndEvent_2", xpath={"/CostCenterChangeResponse/Status": "ACCEPTED"})
    mpl.expect_trace(accepted, "StartEvent_2", text={"contains": "CostCenterChangeRequest"})


def test_trace_is_skipped_with_the_reason_when_trace_is_off(
    tenant: Emulator, issue: KeyIssuer, mpl: MessageChecks
) -> None:
    response = sender(tenant, issue, "ReadCostCenters", "/http/costcenters").get(params={"companyCode": "1010"})

    with pytest.raises(pytest.skip.Exception) as skipped:
        mpl.expect_message(response, trace={"EndEvent_2": {"text": {"contains": "1010"}}})

    assert str(skipped.value.msg) == (
        f"trace of message {guid(response)} of iFlow 'ReadCostCenters' not checked: the message ran at log level "
        "INFO, not Trace; set its log level to Trace in Monitor > Manage Integration Content (it falls back after "
        "about 10 minutes) and run again"
    )


def test_switching_trace_on_keeps_the_payloads(tenant: Emulator, issue: KeyIssuer, mpl: MessageChecks) -> None:
    tenant.trace("ReadCostCenters")
    try:
        response = sender(tenant, issue, "ReadCostCenters", "/http/costcenters").get(params={"companyCode": "1010"})
    finally:
        tenant.trace("ReadCostCenters", enabled=False)

    mpl.expect_trace(response, "EndEvent_2", json={"$.d.results[*].CompanyCode": {"every": "1010"}})


# ---------------------------------------------------------------- data store
def test_data_store_entry_written_for_the_message(mpl: MessageChecks, accepted: requests.Response) -> None:
    request_id = accepted.text.split("<RequestId>")[1].split("<")[0]

    body = mpl.expect_data_store(accepted, "CostCenterChanges", request_id, xpath={"//RequestId": request_id})

    assert b"ACCEPTED" in body.content
    assert failures(lambda: mpl.expect_data_store(accepted, "CostCenterChanges", "no-such-id")) == [
        f"message {guid(accepted)} of iFlow 'ChangeCostCenter': data store 'CostCenterChanges' entry 'no-such-id': "
        "not found (no entry with this id in the data store)"
    ]


def test_a_data_store_entry_of_another_message_is_not_this_ones(
    tenant: Emulator, issue: KeyIssuer, mpl: MessageChecks, accepted: requests.Response
) -> None:
    request_id = accepted.text.split("<RequestId>")[1].split("<")[0]
    other = sender(tenant, issue, "ReadCostCenters", "/http/costcenters").get(params={"companyCode": "1010"})

    assert failures(lambda: mpl.expect_data_store(other, "CostCenterChanges", request_id)) == [
        f"message {guid(other)} of iFlow 'ReadCostCenters': data store 'CostCenterChanges' entry {request_id!r}: "
        f"written by message {guid(accepted)}, not by this message"
    ]


# ---------------------------------------------------------------- asynchronous flows, downstream, queues
def test_a_202_waits_for_the_downstream_message(mpl: MessageChecks, queued: Callable[[str], requests.Response]) -> None:
    response = queued("J. Smith")

    (downstream,) = mpl.expect_downstream(
        response, "ProcessCostCenterChange", attachments={"ChangeRequest": {"text": {"contains": "J. Smith"}}}
    )
    mpl.expect_queue("CostCenterChanges", call=response)

    assert downstream.predecessor == guid(response)
    assert downstream.iflow == "ProcessCostCenterChange"


def test_a_failed_downstream_message_and_its_queue_entry_fail_the_check(
    mpl: MessageChecks, queued: Callable[[str], requests.Response]
) -> None:
    response = queued(TOO_LONG)

    lines = failures(
        lambda: mpl.expect_message(
            response, downstream=[{"iflow": "ProcessCostCenterChange"}], queues={"CostCenterChanges": {"failed": 0}}
        )
    )

    assert len(lines) == 2
    assert (
        lines[0].startswith("message ")
        and " of iFlow 'ProcessCostCenterChange' ended FAILED, expected COMPLETED; error: " in lines[0]
    )
    assert lines[1].startswith(
        "queue 'CostCenterChanges': messages in error that this message put on it: expected 0, got 1: ID:"
    )
    assert lines[1].endswith(f"(message {guid(response)}, 1 retries)")


def test_no_downstream_message_of_the_named_iflow_fails_after_the_wait(
    mpl: MessageChecks, queued: Callable[[str], requests.Response]
) -> None:
    response = queued("J. Smith")

    assert failures(lambda: mpl.expect_downstream(response, "SomeOtherFlow", timeout=0.3)) == [
        f"message {guid(response)} of iFlow 'ChangeCostCenterAsync': messages of iFlow 'SomeOtherFlow' that followed "
        "it: expected a number ≥ 1, got 0 (PredecessorMessageGuid)"
    ]


def test_an_unknown_queue_is_named(mpl: MessageChecks) -> None:
    assert failures(lambda: mpl.expect_queue("CostCentreChanges")) == [
        "queue 'CostCentreChanges' does not exist on the JMS broker (queues: CostCenterChanges)"
    ]


# ---------------------------------------------------------------- roles
@pytest.mark.parametrize(
    ("lacking", "read", "what"),
    [
        ("MessagePayloadsRead", lambda m, r: m.expect_attachment(r, "ChangeRequest"), "the attachment 'ChangeRequest'"),
        (
            "MessagePayloadsRead",
            lambda m, r: m.expect_store_entry(r, "PersistResponse"),
            "the message store entry 'PersistResponse'",
        ),
        ("TraceConfigurationRead", lambda m, r: m.expect_trace(r, "EndEvent_2"), None),
        ("DataStoresAndQueuesRead", lambda m, r: m.expect_queue("CostCenterChanges"), None),
    ],
    ids=["attachment", "message-store", "trace", "queue"],
)
def test_a_monitor_without_the_role_gets_one_line_naming_it(
    tenant: Emulator,
    issue: KeyIssuer,
    accepted: requests.Response,
    lacking: str,
    read: Callable[..., object],
    what: str | None,
) -> None:
    name = f"mon-no-{lacking.lower()[:12]}"
    checks = checks_for(tenant, issue, name, tuple(r for r in EVERY_ROLE if r != lacking))
    try:
        with pytest.raises(MplPermissionError) as refused:
            read(checks, accepted)
    finally:
        checks.close()

    text = str(refused.value)
    assert "\n" not in text
    assert f"client {name!r} lacks role {lacking}" in text or f"lacks role MessagePayloadsRead and {lacking}" in text
    assert text.endswith(f"(403): add it to roles of [tool.iflowtest.clients.{name}] and re-provision")
    if what:
        assert text == (
            f"cannot read {what}: client {name!r} lacks role {lacking} (403): add it to roles of "
            f"[tool.iflowtest.clients.{name}] and re-provision"
        )


# ---------------------------------------------------------------- the YAML form
def test_yaml_message_block_and_its_mistakes(mpl: MessageChecks, accepted: requests.Response) -> None:
    check_message(mpl, accepted, {"status": "COMPLETED", "attachments": {"ChangeRequest": None}, "queues": []})

    with pytest.raises(ConfigError, match="unknown key 'attachment' in message expectation: use status, "):
        check_message(mpl, accepted, {"attachment": {}})
    with pytest.raises(ConfigError, match="unknown key 'jsonpath' in attachment 'ChangeRequest': use json, xpath"):
        check_message(mpl, accepted, {"attachments": {"ChangeRequest": {"jsonpath": {}}}})


SMALL_SUITE = """\
iflow: ChangeCostCenterAsync
client: sender
cases:
  - name: asynchronous change {n}
    request:
      method: POST
      headers: {{Content-Type: application/xml}}
      body: {{xml: "<CostCenterChangeRequest><ControllingArea>A000</ControllingArea><CostCenter>10101101</CostCenter><ValidFrom>2026-01-01</ValidFrom><Changes><Field name='CostCtrResponsiblePersonName'>P{n}</Field></Changes></CostCenterChangeRequest>"}}
    expect:
      status: 202
      message:
        downstream:
          - iflow: ProcessCostCenterChange
            attachments: {{ChangeRequest: {{text: {{contains: P{n}}}}}}}
        queues: [CostCenterChanges]
"""


def test_message_checks_in_strict_mode_with_two_workers(pytester: pytest.Pytester) -> None:
    # Serially, the sample suite shows the same (suites/costcenters); here, two workers share one strict tenant.
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    suites = pytester.path / "suites"
    suites.mkdir()
    for n in range(3):
        (suites / f"async{n}.iflow.yaml").write_text(SMALL_SUITE.format(n=n))
    pytester.makepyfile(
        test_python="""
import pytest

@pytest.mark.iflow("ChangeCostCenter")
def test_attachment(iflow, mpl):
    body = b"<CostCenterChangeRequest><ControllingArea>A000</ControllingArea><CostCenter>10101101</CostCenter>" \\
        b"<ValidFrom>2026-01-01</ValidFrom><Changes><Field name='CostCtrResponsiblePersonName'>Q</Field></Changes>" \\
        b"</CostCenterChangeRequest>"
    response = iflow.post(data=body, headers={"Content-Type": "application/xml"})
    mpl.expect_attachment(response, "ChangeRequest", text={"contains": "<Field"})
"""
    )

    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=4)
