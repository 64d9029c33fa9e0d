"""IntegrationRuntimeArtifacts and ServiceEndpoints of the emulated tenant, as SAP's API shapes them."""

from __future__ import annotations

from collections.abc import Callable

import requests

from iflowtest import OAuthToken, ServiceKey
from iflowtest.emulator import Emulator

KeyIssuer = Callable[..., ServiceKey]


def api_get(
    emu: Emulator, issue_key: KeyIssuer, path: str, roles: tuple[str, ...] = ("MonitoringDataRead",)
) -> requests.Response:
    key = issue_key(emu, "monitor", plan="api", roles=list(roles))
    token = OAuthToken(key, "monitor", verify=str(emu.ca_file)).get()
    return requests.get(
        key.url + "/api/v1/" + path,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        verify=str(emu.ca_file),
        timeout=10,
    )


def test_runtime_artifacts_list_every_flow_with_its_status(fresh_emulator: Emulator, issue_key: KeyIssuer) -> None:
    rows = api_get(fresh_emulator, issue_key, "IntegrationRuntimeArtifacts").json()["d"]["results"]
    by_id = {row["Id"]: row for row in rows}
    assert set(by_id) == {"ReadCostCenters", "ReadCostCentersDE", "ChangeCostCenter", "CostCentersOData", "FailingFlow"}
    row = by_id["ReadCostCenters"]
    assert row["__metadata"]["type"] == "com.sap.hci.api.IntegrationRuntimeArtifact"
    assert (row["Version"], row["Name"], row["Type"], row["Status"]) == (
        "1.0.0",
        "Read cost centers",
        "INTEGRATION_FLOW",
        "STARTED",
    )
    assert row["DeployedOn"].startswith("/Date(")
    assert row["ErrorInformation"]["__deferred"]["uri"].endswith(
        "IntegrationRuntimeArtifacts('ReadCostCenters')/ErrorInformation"
    )


def test_a_flow_in_error_shows_its_error_and_answers_404(fresh_emulator: Emulator, issue_key: KeyIssuer) -> None:
    fresh_emulator.set_deployment(
        "ReadCostCentersDE", "ERROR", "java.lang.IllegalStateException: No credentials for 'S4' found"
    )

    single = api_get(fresh_emulator, issue_key, "IntegrationRuntimeArtifacts('ReadCostCentersDE')").json()["d"]
    error = api_get(
        fresh_emulator, issue_key, "IntegrationRuntimeArtifacts('ReadCostCentersDE')/ErrorInformation/$value"
    )
    fine = api_get(fresh_emulator, issue_key, "IntegrationRuntimeArtifacts('ReadCostCenters')/ErrorInformation/$value")
    endpoints = api_get(fresh_emulator, issue_key, "ServiceEndpoints?$expand=EntryPoints").json()["d"]["results"]
    key = issue_key(fresh_emulator, "sender", roles=["ESBMessaging.send", "ESBMessaging_DE"])
    call = requests.get(
        key.url + "/http/de/costcenters",
        auth=(key.clientid, key.clientsecret.reveal() if key.clientsecret else ""),
        verify=str(fresh_emulator.ca_file),
        timeout=10,
    )

    assert single["Status"] == "ERROR"
    assert error.status_code == 200
    document = error.json()
    assert document["message"]["messageId"] == "InstanceError"
    assert "No credentials for 'S4' found" in document["parameter"][0]
    assert fine.status_code == 204
    assert "ReadCostCentersDE" not in {row["Name"] for row in endpoints}
    assert call.status_code == 404 and "HTTP Status 404" in call.text


def test_service_endpoints_with_entry_points(emulator: Emulator, issue_key: KeyIssuer) -> None:
    rows = api_get(emulator, issue_key, "ServiceEndpoints?$expand=EntryPoints").json()["d"]["results"]
    by_name = {row["Name"]: row for row in rows}
    read = by_name["ReadCostCenters"]
    assert read["Id"] == "ReadCostCenters$endpointAddress=costcenters"
    assert read["Protocol"] == "REST"
    assert read["__metadata"]["type"] == "com.sap.hci.api.ServiceEndpoint"
    entry = read["EntryPoints"]["results"][0]
    assert entry["Url"] == emulator.url + "/http/costcenters"
    assert (entry["Name"], entry["Type"]) == ("ReadCostCenters", "PROD")
    assert by_name["CostCentersOData"]["Protocol"] == "ODATAV2"
    only_odata = api_get(emulator, issue_key, "ServiceEndpoints?$expand=EntryPoints&$filter=Protocol eq 'ODATAV2'")
    assert [row["Name"] for row in only_odata.json()["d"]["results"]] == ["CostCentersOData"]


def test_the_api_needs_an_api_client_with_monitoring_data_read(emulator: Emulator, issue_key: KeyIssuer) -> None:
    assert (
        api_get(emulator, issue_key, "IntegrationRuntimeArtifacts", roles=("WorkspacePackagesRead",)).status_code == 403
    )
