"""The emulated Message Processing Log API: roles, single logs, filters, paging, error text, held messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from lxml import etree  # type: ignore[import-untyped]

from iflowtest.emulator import Emulator
from iflowtest.emulator.catalog import Catalog
from iflowtest.emulator.tenant import MessageRecord, new_message_id

API = "/api/v1/MessageProcessingLogs"


class Api:
    """Basic-auth calls to one emulator's API host with its CA trusted (verify per call: REQUESTS_CA_BUNDLE)."""

    def __init__(self, emu: Emulator, key: dict[str, Any]) -> None:
        self.emu = emu
        self.auth = (key["oauth"]["clientid"], key["oauth"]["clientsecret"])
        self.url = key["oauth"]["url"]

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("headers", {"Accept": "application/json"})
        return requests.get(self.url + path, auth=self.auth, verify=str(self.emu.ca_file), timeout=5, **kwargs)


def monitor(emu: Emulator, name: str = "monitor", roles: tuple[str, ...] = ("MonitoringDataRead",)) -> Api:
    return Api(emu, emu.issue_service_key(name, plan="api", roles=roles))


def run_flow(emu: Emulator, path: str = "/http/costcenters") -> str:
    key = emu.issue_service_key("sender-" + new_message_id(0)[-6:].replace("-", "x").replace("_", "y"))["oauth"]
    response = requests.get(
        emu.url + path, auth=(key["clientid"], key["clientsecret"]), verify=str(emu.ca_file), timeout=5
    )
    return str(response.headers["SAP_MessageProcessingLogID"])


def add_logs(emu: Emulator, count: int, iflow: str = "Bulk", start: datetime | None = None) -> list[str]:
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    guids = []
    for index in range(count):
        guid = new_message_id(start.timestamp() + index)
        moment = start + timedelta(seconds=index)
        emu.tenant.messages.add(MessageRecord(guid, guid, iflow, "COMPLETED", moment, moment))
        guids.append(guid)
    return guids


def test_a_log_by_id_has_the_fields_and_monitor_link_of_cpi(emulator: Emulator) -> None:
    api = monitor(emulator, "monitor-fields")
    guid = run_flow(emulator)

    body = api.get(f"{API}('{guid}')").json()["d"]

    assert body["MessageGuid"] == guid
    assert body["IntegrationFlowName"] == "ReadCostCenters"
    assert body["Status"] == "COMPLETED"
    assert body["LogStart"].startswith("/Date(")
    assert body["__metadata"]["type"] == "com.sap.hci.api.MessageProcessingLog"
    assert body["AlternateWebLink"] == (
        f"{emulator.url}/shell/monitoring/Messages/%7B%22identifier%22%3A%22{guid}%22%7D"
    )


def test_api_needs_an_api_plan_client_with_monitoring_role(emulator: Emulator) -> None:
    sender = emulator.issue_service_key("sender-not-api")
    no_role = monitor(emulator, "monitor-no-role", roles=("WorkspacePackagesRead",))

    anonymous = requests.get(emulator.url + API, verify=str(emulator.ca_file), timeout=5)
    wrong_plan = Api(emulator, sender).get(API)
    missing_role = no_role.get(API)

    assert anonymous.status_code == 401
    assert wrong_plan.status_code == 403
    assert missing_role.status_code == 403
    assert missing_role.text == "Forbidden: the API needs an 'api'-plan client with role MonitoringDataRead"


def test_filter_by_status_name_and_utc_window_with_inlinecount(fresh_emulator: Emulator) -> None:
    api = monitor(fresh_emulator)
    run_flow(fresh_emulator)
    failed = run_flow(fresh_emulator, "/http/failing")
    add_logs(fresh_emulator, 3, start=datetime(2020, 5, 1, tzinfo=UTC))
    window = "LogStart gt datetime'2020-05-01T00:00:00' and LogStart lt datetime'2020-05-01T00:00:02'"

    by_status = api.get(API, params={"$filter": "Status eq 'FAILED'", "$inlinecount": "allpages"}).json()["d"]
    by_name = api.get(API, params={"$filter": "IntegrationFlowName eq 'Bulk'"}).json()["d"]
    in_window = api.get(API, params={"$filter": window, "$inlinecount": "allpages"}).json()["d"]

    assert [r["MessageGuid"] for r in by_status["results"]] == [failed]
    assert by_status["__count"] == "1"
    assert len(by_name["results"]) == 3
    assert in_window["__count"] == "1"


def test_a_zoned_datetime_literal_is_refused(emulator: Emulator) -> None:
    api = monitor(emulator, "monitor-zoned")

    response = api.get(API, params={"$filter": "LogEnd gt datetime'2024-01-31T00:00:00Z'"})

    assert response.status_code == 400
    assert response.json()["error"]["message"]["value"] == (
        "Invalid $filter: datetime literals are UTC and take no time zone suffix "
        "(\"LogEnd gt datetime'2024-01-31T00:00:00Z'\"); write datetime'2024-01-31T00:00:00' without 'Z' or an offset"
    )


def test_pages_hold_1000_logs_and_continue_with_skiptoken(fresh_emulator: Emulator) -> None:
    api = monitor(fresh_emulator)
    guids = add_logs(fresh_emulator, 1205)

    first = api.get(API, params={"$inlinecount": "allpages"}).json()["d"]
    second = requests.get(
        first["__next"],
        auth=api.auth,
        verify=str(fresh_emulator.ca_file),
        timeout=5,
        headers={"Accept": "application/json"},
    ).json()["d"]
    top_skip = api.get(API, params={"$top": "2", "$skip": "3"}).json()["d"]

    assert len(first["results"]) == 1000
    assert first["__count"] == "1205"
    assert "%24skiptoken=1000" in first["__next"]
    assert [r["MessageGuid"] for r in first["results"] + second["results"]] == guids
    assert "__next" not in second
    assert [r["MessageGuid"] for r in top_skip["results"]] == guids[3:5]


def test_error_information_of_failed_and_completed_messages(emulator: Emulator) -> None:
    api = monitor(emulator, "monitor-errors")
    failed = run_flow(emulator, "/http/failing")
    completed = run_flow(emulator)

    text = api.get(f"{API}('{failed}')/ErrorInformation/$value")
    none = api.get(f"{API}('{completed}')/ErrorInformation")
    missing = api.get(f"{API}('AGnothere')/ErrorInformation/$value")

    assert text.status_code == 200
    assert text.headers["Content-Type"].startswith("text/plain")
    assert "Receiver system S4H_COSTCENTER returned HTTP 503" in text.text
    assert none.status_code == 204
    assert missing.status_code == 404


@pytest.mark.parametrize("interim", ["PROCESSING", "RETRY"])
def test_held_messages_finish_when_the_clock_moves(fresh_emulator: Emulator, interim: str) -> None:
    api = monitor(fresh_emulator)
    fresh_emulator.delay_messages("ReadCostCenters", 30, interim)
    guid = run_flow(fresh_emulator)

    before = api.get(f"{API}('{guid}')").json()["d"]["Status"]
    fresh_emulator.advance_clock(31)
    after = api.get(f"{API}('{guid}')").json()["d"]["Status"]

    assert (before, after) == (interim, "COMPLETED")


def test_delay_messages_refuses_a_final_status(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="interim status 'COMPLETED' is not one of PROCESSING, RETRY"):
        emulator.delay_messages("ReadCostCenters", 5, "COMPLETED")


# ---------------------------------------------------------------- SAP's fields and navigation properties
NAVIGATIONS = {
    "CustomHeaderProperties": "MessageProcessingLogCustomHeaderProperties",
    "MessageStoreEntries": "MessageStoreEntries",
    "ErrorInformation": "MessageProcessingLogErrorInformations",
    "AdapterAttributes": "MessageProcessingLogAdapterAttributes",
    "Attachments": "MessageProcessingLogAttachments",
    "Runs": "MessageProcessingLogRuns",
}
DECLARING_CATALOG = """
iflows:
  - name: OrderIntake
    display_name: Order intake
    address: /http/orders
    methods: [GET]
    role: ESBMessaging.send
    behaviour: read_cost_centers
    allowed_headers: [SAP_ApplicationID, sap_sender]
    message_log:
      custom_header_properties: {po_number: "4711", customer: ACME}
      attachments:
        - {name: request.xml, content_type: application/xml, content: "<order id='4711'/>"}
        - {name: note, content: checked}
  - name: Ignoring
    address: /http/ignoring
    methods: [GET]
    role: ESBMessaging.send
    behaviour: read_cost_centers
"""


@pytest.fixture
def declaring(tmp_path: Any) -> Any:
    catalog = tmp_path / "iflows.yaml"
    catalog.write_text(DECLARING_CATALOG, encoding="utf-8")
    with Emulator(catalog=catalog) as emu:
        yield emu
        emu.check_errors()


def call_flow(emu: Emulator, path: str, headers: dict[str, str]) -> str:
    key = emu.issue_service_key("caller-" + new_message_id(0)[-6:].replace("-", "x").replace("_", "y"))["oauth"]
    response = requests.get(
        emu.url + path,
        headers=headers,
        auth=(key["clientid"], key["clientsecret"]),
        verify=str(emu.ca_file),
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return str(response.headers["SAP_MessageProcessingLogID"])


def test_a_log_has_the_fields_sap_documents(emulator: Emulator) -> None:
    api = monitor(emulator, "monitor-sap-fields")
    guid = run_flow(emulator)

    body = api.get(f"{API}('{guid}')").json()["d"]

    assert body["IntegrationArtifact"] == {
        "__metadata": {"type": "com.sap.hci.api.IntegrationArtifact"},
        "Id": "ReadCostCenters",
        "Name": "ReadCostCenters",
        "Type": "INTEGRATION_FLOW",
        "PackageId": "iflowtest.samples",
        "PackageName": "iflowtest samples",
    }
    assert body["PredecessorMessageGuid"] is None
    assert body["ApplicationMessageId"] is None
    assert body["LocalComponentName"] == body["OriginComponentName"] == "CPI_emulated-tenant"
    assert body["ArchivingStatus"] == "NOT_RELEVANT"
    for navigation in NAVIGATIONS:
        assert body[navigation] == {"__deferred": {"uri": f"{emulator.url}{API}('{guid}')/{navigation}"}}


def test_metadata_declares_the_navigation_properties_and_their_sets(emulator: Emulator) -> None:
    edm = "{http://schemas.microsoft.com/ado/2008/09/edm}"
    api = monitor(emulator, "monitor-metadata")
    schema = etree.fromstring(api.get("/api/v1/$metadata").content).find(f".//{edm}Schema")

    log_type = schema.find(f"{edm}EntityType[@Name='MessageProcessingLog']")
    container = schema.find(f"{edm}EntityContainer")

    assert [n.get("Name") for n in log_type.findall(f"{edm}NavigationProperty")] == list(NAVIGATIONS)
    assert {s.get("Name") for s in container.findall(f"{edm}EntitySet")} == {
        "MessageProcessingLogs",
        *NAVIGATIONS.values(),
        "MessageProcessingLogRunSteps",
        "TraceMessages",
        "DataStoreEntries",
        "JmsBrokers",
        "QueueStates",
        "JmsMessages",
    }
    artifact = schema.find(f"{edm}ComplexType[@Name='IntegrationArtifact']")
    assert [p.get("Name") for p in artifact] == ["Id", "Name", "Type", "PackageId", "PackageName"]


def test_filter_by_artifact_id(fresh_emulator: Emulator) -> None:
    api = monitor(fresh_emulator)
    read = run_flow(fresh_emulator)
    run_flow(fresh_emulator, "/http/failing")

    found = api.get(API, params={"$filter": "IntegrationArtifact/Id eq 'ReadCostCenters'"}).json()["d"]["results"]

    assert [log["MessageGuid"] for log in found] == [read]


def test_display_names_part_the_flow_name_from_the_artifact_id(fresh_emulator: Emulator) -> None:
    api = monitor(fresh_emulator)
    guid = run_flow(fresh_emulator)
    fresh_emulator.display_names = True

    log = api.get(f"{API}('{guid}')").json()["d"]
    by_id = api.get(API, params={"$filter": "IntegrationArtifact/Id eq 'ReadCostCenters'"}).json()["d"]["results"]
    by_name = api.get(API, params={"$filter": "IntegrationFlowName eq 'ReadCostCenters'"}).json()["d"]["results"]

    assert log["IntegrationFlowName"] == "Read cost centers"
    assert (log["IntegrationArtifact"]["Id"], log["IntegrationArtifact"]["Name"]) == (
        "ReadCostCenters",
        "Read cost centers",
    )
    assert [found["MessageGuid"] for found in by_id] == [guid]
    assert by_name == []


def test_an_allowed_sap_application_id_becomes_the_application_message_id(declaring: Emulator) -> None:
    api = monitor(declaring)
    allowed = call_flow(declaring, "/http/orders", {"sap_applicationid": "PO-4711", "SAP_Sender": "ERP"})
    ignored = call_flow(declaring, "/http/ignoring", {"SAP_ApplicationID": "PO-4712"})

    found = api.get(API, params={"$filter": "ApplicationMessageId eq 'PO-4711'"}).json()["d"]["results"]
    other = api.get(f"{API}('{ignored}')").json()["d"]

    assert [(log["MessageGuid"], log["Sender"]) for log in found] == [(allowed, "ERP")]
    assert (other["ApplicationMessageId"], other["Sender"]) == (None, None)


def test_the_sample_flows_allow_sap_application_id(emulator: Emulator) -> None:
    allowing = {f.name for f in Catalog.load().flows if f.allows_header("SAP_ApplicationID")}
    assert allowing == {
        "ReadCostCenters",
        "ReadCostCentersDE",
        "ChangeCostCenter",
        "CostCentersOData",
        "FailingFlow",
        "ChangeCostCenterAsync",
        "GetCostCenter",
        "GetCostCenterSigned",
        "CostCenterIDoc",
    }


def test_navigation_and_expand_reach_what_the_flow_declared(declaring: Emulator) -> None:
    api = monitor(declaring, roles=("MonitoringDataRead", "MessagePayloadsRead"))
    guid = call_flow(declaring, "/http/orders", {})

    properties = api.get(f"{API}('{guid}')/CustomHeaderProperties").json()["d"]["results"]
    expanded = api.get(f"{API}('{guid}')", params={"$expand": "CustomHeaderProperties,Attachments,Runs"}).json()["d"]
    by_property = api.get(
        "/api/v1/MessageProcessingLogCustomHeaderProperties",
        params={"$filter": "Name eq 'po_number' and Value eq '4711'", "$expand": "Log"},
    ).json()["d"]["results"]
    attachment = expanded["Attachments"]["results"][0]
    content = api.get(f"/api/v1/MessageProcessingLogAttachments('{attachment['Id']}')/$value", headers={})

    assert [(p["Name"], p["Value"]) for p in properties] == [("po_number", "4711"), ("customer", "ACME")]
    assert [p["Name"] for p in expanded["CustomHeaderProperties"]["results"]] == ["po_number", "customer"]
    assert [(a["Name"], a["ContentType"], a["PayloadSize"]) for a in expanded["Attachments"]["results"]] == [
        ("request.xml", "application/xml", "18"),
        ("note", "text/plain", "7"),
    ]
    assert [r["OverallState"] for r in expanded["Runs"]["results"]] == ["COMPLETED"]
    assert [found["Log"]["MessageGuid"] for found in by_property] == [guid]
    assert (content.status_code, content.headers["Content-Type"], content.text) == (
        200,
        "application/xml",
        "<order id='4711'/>",
    )
    assert api.get(f"{API}('{guid}')/AdapterAttributes").json()["d"]["results"] == []
    assert api.get(f"{API}('{guid}')/MessageStoreEntries/$count").text == "0"


def test_attachment_content_needs_the_payload_role(declaring: Emulator) -> None:
    api = monitor(declaring)
    guid = call_flow(declaring, "/http/orders", {})
    attachment = api.get(f"{API}('{guid}')/Attachments").json()["d"]["results"][0]["Id"]

    refused = api.get(f"/api/v1/MessageProcessingLogAttachments('{attachment}')/$value")

    assert (refused.status_code, refused.text) == (
        403,
        "Forbidden: the API needs an 'api'-plan client with role MessagePayloadsRead",
    )


def test_error_information_as_an_entity_and_expanded(emulator: Emulator) -> None:
    api = monitor(emulator, "monitor-error-entity")
    failed = run_flow(emulator, "/http/failing")
    completed = run_flow(emulator)

    entity = api.get(f"{API}('{failed}')/ErrorInformation").json()["d"]
    expanded = api.get(f"{API}('{failed}')", params={"$expand": "ErrorInformation"}).json()["d"]
    none = api.get(f"{API}('{completed}')", params={"$expand": "ErrorInformation"}).json()["d"]
    text = api.get(f"/api/v1/MessageProcessingLogErrorInformations('{failed}')/$value")

    assert entity["__metadata"]["type"] == "com.sap.hci.api.MessageProcessingLogErrorInformation"
    assert entity["MessageGuid"] == expanded["ErrorInformation"]["MessageGuid"] == failed
    assert none["ErrorInformation"] is None
    assert "Receiver system S4H_COSTCENTER returned HTTP 503" in text.text
