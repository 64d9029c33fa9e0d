"""What the emulated tenant's flows keep besides their answers, over real HTTP: the asynchronous hand-over through a
JMS queue, data store entries, message store entries and trace payloads, each behind the role a tenant checks."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
import requests

from iflowtest.emulator import Emulator
from iflowtest.emulator.catalog import Catalog, CatalogError
from iflowtest.emulator.mpl import required_roles
from tests.emulator.test_mpl import API, monitor
from tests.servers import MONITOR_ROLES

EVERY_ROLE = MONITOR_ROLES
CHANGE = (
    "<CostCenterChangeRequest><ControllingArea>A000</ControllingArea><CostCenter>10101101</CostCenter>"
    "<ValidFrom>2026-01-01</ValidFrom><Changes><Field name='CostCtrResponsiblePersonName'>{person}</Field>"
    "</Changes></CostCenterChangeRequest>"
)


def post(emu: Emulator, path: str, person: str = "J. Smith") -> requests.Response:
    key = emu.issue_service_key(f"sender-{len(emu.messages)}")["oauth"]
    session = requests.Session()
    session.auth = (key["clientid"], key["clientsecret"])
    verify = str(emu.ca_file)  # per call: REQUESTS_CA_BUNDLE would override a session's verify
    fetched = session.get(emu.url + path, headers={"X-CSRF-Token": "Fetch"}, verify=verify)
    return session.post(
        emu.url + path,
        data=CHANGE.format(person=person),
        headers={"Content-Type": "application/xml", "X-CSRF-Token": fetched.headers.get("X-CSRF-Token", "")},
        verify=verify,
    )


def results(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["d"]["results"]
    return rows


def test_a_202_hands_over_through_the_queue_to_a_later_downstream_message(fresh_emulator: Emulator) -> None:
    api = monitor(fresh_emulator, roles=EVERY_ROLE)
    answer = post(fresh_emulator, "/http/costcenters/changerequest/async")
    guid = answer.headers["SAP_MessageProcessingLogID"]
    successors = {"$filter": f"PredecessorMessageGuid eq '{guid}'"}

    assert (answer.status_code, answer.text) == (202, "")
    [queued] = results(api.get("/api/v1/JmsMessages", params={"$filter": "Name eq 'CostCenterChanges'"}))
    assert (queued["MessageId"], queued["Failed"]) == (guid, False)
    assert results(api.get(API, params=successors)) == []  # a moment later, not yet

    fresh_emulator.advance_clock(1)

    [downstream] = results(api.get(API, params=successors))
    assert (downstream["IntegrationFlowName"], downstream["Status"]) == ("ProcessCostCenterChange", "COMPLETED")
    assert downstream["PredecessorMessageGuid"] == guid
    assert results(api.get("/api/v1/JmsMessages")) == []  # taken off the queue


def test_a_failed_downstream_run_leaves_its_message_on_the_queue_marked_failed(fresh_emulator: Emulator) -> None:
    api = monitor(fresh_emulator, roles=EVERY_ROLE)
    guid = post(fresh_emulator, "/http/costcenters/changerequest/async", "x" * 40).headers["SAP_MessageProcessingLogID"]

    fresh_emulator.advance_clock(1)

    [downstream] = results(api.get(API, params={"$filter": f"PredecessorMessageGuid eq '{guid}'"}))
    assert downstream["Status"] == "FAILED"
    [failed] = results(api.get("/api/v1/JmsMessages"))
    assert (failed["MessageId"], failed["Failed"], failed["RetryCount"]) == (guid, True, 1)
    broker = api.get("/api/v1/JmsBrokers('Broker1')", params={"$expand": "QueueStates"}).json()["d"]
    assert [q["Name"] for q in broker["QueueStates"]["results"]] == ["CostCenterChanges"]


def test_the_change_flow_writes_what_a_real_one_does(emulator: Emulator) -> None:
    api = monitor(emulator, "monitor-change", roles=EVERY_ROLE)
    answer = post(emulator, "/http/costcenters/changerequest")
    guid = answer.headers["SAP_MessageProcessingLogID"]
    request_id = answer.text.split("<RequestId>")[1].split("<")[0]

    names = [a["Name"] for a in results(api.get(f"{API}('{guid}')/Attachments"))]
    properties = {p["Name"]: p["Value"] for p in results(api.get(f"{API}('{guid}')/CustomHeaderProperties"))}
    [stored] = results(api.get(f"{API}('{guid}')/MessageStoreEntries"))
    [entry] = results(api.get("/api/v1/DataStoreEntries", params={"$filter": f"Id eq '{request_id}'"}))
    content = api.get("/api/v1" + entry["__metadata"]["uri"].split("/api/v1")[1] + "/$value")

    assert names == ["ChangeRequest", "BackendResponse"]
    assert properties == {"ControllingArea": "A000", "CostCenter": "10101101", "ChangeStatus": "ACCEPTED"}
    assert stored["MessageStoreId"] == "PersistResponse"
    assert b"ACCEPTED" in api.get(f"/api/v1/MessageStoreEntries('{stored['Id']}')/$value").content
    assert (entry["DataStoreName"], entry["IntegrationFlow"], entry["MessageId"]) == (
        "CostCenterChanges",
        "ChangeCostCenter",
        guid,
    )
    with zipfile.ZipFile(io.BytesIO(content.content)) as archive:  # as a tenant answers: body and headers.prop
        assert request_id in archive.read("body").decode()
        assert archive.read("headers.prop").decode() == f"SAP_MessageProcessingLogID={guid}\n"


def test_trace_payloads_expire_after_an_hour(fresh_emulator: Emulator) -> None:
    api = monitor(fresh_emulator, roles=EVERY_ROLE)
    guid = post(fresh_emulator, "/http/costcenters/changerequest").headers["SAP_MessageProcessingLogID"]
    [run] = results(api.get(f"{API}('{guid}')/Runs"))
    step = f"/api/v1/MessageProcessingLogRunSteps(RunId='{run['Id']}',ChildCount=2)/TraceMessages"

    [trace] = results(api.get(step))
    assert (run["LogLevel"], trace["ModelStepId"]) == ("TRACE", "EndEvent_2")
    assert b"ACCEPTED" in api.get(f"/api/v1/TraceMessages({trace['TraceId']}L)/$value").content

    fresh_emulator.advance_clock(3601)

    assert results(api.get(step)) == []
    assert len(results(api.get(f"/api/v1/MessageProcessingLogRuns('{run['Id']}')/RunSteps"))) == 2


@pytest.mark.parametrize(
    ("path", "roles"),
    [
        ("MessageProcessingLogs", ("MonitoringDataRead",)),
        ("MessageProcessingLogAttachments('x')/$value", ("MonitoringDataRead", "MessagePayloadsRead")),
        ("MessageStoreEntries('x')/$value", ("MonitoringDataRead", "MessagePayloadsRead")),
        (
            "MessageProcessingLogRunSteps(RunId='r',ChildCount=1)/TraceMessages",
            ("MonitoringDataRead", "TraceConfigurationRead"),
        ),
        ("TraceMessages(1L)/$value", ("MonitoringDataRead", "TraceConfigurationRead", "MessagePayloadsRead")),
        ("DataStoreEntries", ("DataStoresAndQueuesRead",)),
        (
            "DataStoreEntries(Id='a',DataStoreName='s',IntegrationFlow='f',Type='')/$value",
            ("DataStoresAndQueuesRead", "DataStorePayloadsRead"),
        ),
        ("JmsMessages", ("DataStoresAndQueuesRead",)),
        ("JmsBrokers('Broker1')", ("DataStoresAndQueuesRead",)),
    ],
)
def test_each_resource_needs_the_roles_a_tenant_checks(path: str, roles: tuple[str, ...]) -> None:
    assert required_roles(path, {}) == roles


def test_a_monitor_with_only_monitoring_data_read_cannot_read_stores_or_payloads(emulator: Emulator) -> None:
    api = monitor(emulator, "monitor-only-logs")

    refused = api.get("/api/v1/DataStoreEntries")

    assert (refused.status_code, refused.text) == (
        403,
        "Forbidden: the API needs an 'api'-plan client with role DataStoresAndQueuesRead",
    )


def test_a_jms_sender_flow_has_a_queue_instead_of_an_address() -> None:
    base = {"name": "Reader", "queue": "Orders", "behaviour": "change_cost_center"}
    flow = Catalog.from_data({"iflows": [base]}).get("Reader")

    assert flow is not None and (flow.adapter, flow.queue, flow.address) == ("jms", "Orders", "")
    with pytest.raises(CatalogError, match="key 'address': a flow with a JMS sender \\(queue\\) has no HTTP sender"):
        Catalog.from_data({"iflows": [{**base, "address": "/http/reader"}]})
    with pytest.raises(CatalogError, match="key 'queue': expected a queue name such as CostCenterChanges"):
        Catalog.from_data({"iflows": [{**base, "queue": "no spaces"}]})
    with pytest.raises(
        CatalogError, match=r"key 'message_log\.log_level': expected one of NONE, ERROR, INFO, DEBUG, TRACE"
    ):
        Catalog.from_data({"iflows": [{**base, "message_log": {"log_level": "VERBOSE"}}]})
