"""The emulator's APIs as their real third-party clients read them: `cloudfoundry-client` and `pyodata`.

These clients were written against the real Cloud Controller and SAP Gateway, not against the emulator, so
where they stumble the emulator is wrong (an earlier 202 answer with a `{}` body broke `cloudfoundry-client`).
"""

from __future__ import annotations

from pathlib import Path

import pyodata
import pytest
import requests
from cloudfoundry_client.client import CloudFoundryClient

from iflowtest.emulator import Emulator
from iflowtest.emulator.costcenters import SERVICE_PATH
from tests.emulator.test_mpl import DECLARING_CATALOG, call_flow


def session(emu: Emulator, auth: tuple[str, str] | None = None) -> requests.Session:
    verified = requests.Session()
    verified.verify = str(emu.ca_file)
    verified.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override the emulator's CA
    verified.auth = auth
    return verified


@pytest.fixture
def cf_client(fresh_emulator: Emulator) -> CloudFoundryClient:
    landscape = fresh_emulator.cloud_foundry
    client = CloudFoundryClient(fresh_emulator.cf_api, verify=str(fresh_emulator.ca_file))
    client.init_with_user_credentials(landscape.username, landscape.password)
    return client


def test_cloudfoundry_client_creates_and_deletes_an_instance(
    fresh_emulator: Emulator, cf_client: CloudFoundryClient
) -> None:
    landscape = fresh_emulator.cloud_foundry
    offering = cf_client.v3.service_offerings.get_first(names="it-rt")
    plans = {p["name"]: p["guid"] for p in cf_client.v3.service_plans.list(service_offering_guids=offering["guid"])}
    space = cf_client.v3.spaces.get_first(names=landscape.space_name)

    created = cf_client.v3.service_instances.create(
        "by-client", space["guid"], plans["integration-flow"], parameters={"roles": ["ESBMessaging.send"]}
    )
    job = created["links"]["job"]["href"].rsplit("/", 1)[1]
    cf_client.v3.jobs.wait_for_job_completion(job)
    instance = cf_client.v3.service_instances.get_first(names="by-client")
    cf_client.v3.service_instances.remove(instance["guid"], asynchronous=False)

    assert set(plans) == {"integration-flow", "api"}
    assert instance["last_operation"]["state"] == "succeeded"
    assert landscape.instance_names() == []
    assert list(cf_client.v3.service_instances.list(label_selector="team=integration")) == []


def test_pyodata_reads_the_cost_center_service(emulator: Emulator) -> None:
    client = pyodata.Client(emulator.url + SERVICE_PATH, session(emulator))

    centers = (
        client.entity_sets.A_CostCenter.get_entities()
        .filter("CompanyCode eq '1010'")
        .select("CostCenter,CompanyCode")
        .top(3)
        .execute()
    )

    assert [s.name for s in client.schema.entity_sets] == ["A_CostCenter", "A_CostCenterText"]
    assert len(centers) == 3 and {c.CompanyCode for c in centers} == {"1010"}


def test_pyodata_reads_the_message_log(fresh_emulator: Emulator) -> None:
    sender = fresh_emulator.issue_service_key("sender", roles=["ESBMessaging.send"])["oauth"]
    monitor = fresh_emulator.issue_service_key("monitor", plan="api", roles=["MonitoringDataRead"])["oauth"]
    called = session(fresh_emulator, (sender["clientid"], sender["clientsecret"])).get(
        sender["url"] + "/http/costcenters", params={"companyCode": "1010"}
    )
    client = pyodata.Client(
        monitor["url"] + "/api/v1", session(fresh_emulator, (monitor["clientid"], monitor["clientsecret"]))
    )

    logs = (
        client.entity_sets.MessageProcessingLogs.get_entities()
        .filter("IntegrationFlowName eq 'ReadCostCenters'")
        .execute()
    )

    assert called.status_code == 200
    assert [log.Status for log in logs] == ["COMPLETED"]
    assert logs[0].MessageGuid == fresh_emulator.messages[-1].message_guid


def test_pyodata_navigates_and_expands_the_message_log(tmp_path: Path) -> None:
    catalog = tmp_path / "iflows.yaml"
    catalog.write_text(DECLARING_CATALOG, encoding="utf-8")
    with Emulator(catalog=catalog) as emu:
        guid = call_flow(emu, "/http/orders", {"SAP_ApplicationID": "PO-4711"})
        monitor = emu.issue_service_key("monitor", plan="api", roles=["MonitoringDataRead"])["oauth"]
        client = pyodata.Client(
            monitor["url"] + "/api/v1", session(emu, (monitor["clientid"], monitor["clientsecret"]))
        )
        logs = client.entity_sets.MessageProcessingLogs

        log = logs.get_entity(guid).execute()
        properties = log.nav("CustomHeaderProperties").get_entities().execute()
        runs = log.nav("Runs").get_entities().execute()
        expanded = (
            logs.get_entities()
            .filter("IntegrationArtifact/Id eq 'OrderIntake' and ApplicationMessageId eq 'PO-4711'")
            .expand("CustomHeaderProperties,Attachments,ErrorInformation")
            .execute()
        )
        back = client.entity_sets.MessageProcessingLogCustomHeaderProperties.get_entities().expand("Log").execute()
        emu.check_errors()

    assert log.IntegrationArtifact["Id"] == "OrderIntake" and log.ApplicationMessageId == "PO-4711"
    assert [(p.Name, p.Value) for p in properties] == [("po_number", "4711"), ("customer", "ACME")]
    assert [r.OverallState for r in runs] == ["COMPLETED"]
    assert [e.MessageGuid for e in expanded] == [guid]
    assert [a.Name for a in expanded[0].Attachments] == ["request.xml", "note"]
    assert expanded[0].ErrorInformation is None
    assert {p.Log.MessageGuid for p in back} == {guid}


def test_pyodata_reads_the_error_information_of_a_failed_message(fresh_emulator: Emulator) -> None:
    sender = fresh_emulator.issue_service_key("sender", roles=["ESBMessaging.send"])["oauth"]
    monitor = fresh_emulator.issue_service_key("monitor", plan="api", roles=["MonitoringDataRead"])["oauth"]
    failed = session(fresh_emulator, (sender["clientid"], sender["clientsecret"])).get(sender["url"] + "/http/failing")
    client = pyodata.Client(
        monitor["url"] + "/api/v1", session(fresh_emulator, (monitor["clientid"], monitor["clientsecret"]))
    )
    guid = fresh_emulator.messages[-1].message_guid

    error = client.entity_sets.MessageProcessingLogs.get_entity(guid).nav("ErrorInformation").execute()

    assert failed.status_code == 500
    assert error.MessageGuid == guid
