"""The sample iFlows over real HTTP, and the catalog that deploys them."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree

from iflowtest.emulator import Emulator
from iflowtest.emulator.catalog import Catalog, CatalogError
from iflowtest.emulator.costcenters import SERVICE_PATH, CostCenterService

READ = "/http/costcenters"
READ_DE = "/http/de/costcenters"
CHANGE = "/http/costcenters/changerequest"
ODATA = "/gw/odata/SAP/CostCenters;v=1"
GERMAN = set(CostCenterService().company_codes("DE"))

Call = Callable[..., requests.Response]


@pytest.fixture
def call(emulator: Emulator) -> Call:
    """``call(method, path, **kwargs)`` on the shared emulator as a client with both sample roles."""
    oauth = emulator.issue_service_key("sender", roles=["ESBMessaging.send", "ESBMessaging_DE"])["oauth"]
    session = requests.Session()
    session.auth = (oauth["clientid"], oauth["clientsecret"])

    def send(method: str, path: str, **kwargs: Any) -> requests.Response:
        # verify per request: REQUESTS_CA_BUNDLE in the environment would beat a Session's verify.
        return session.request(method, emulator.url + path, verify=str(emulator.ca_file), timeout=5, **kwargs)

    return send


@pytest.fixture
def change(call: Call) -> Callable[[bytes], requests.Response]:
    """POST a change request after the CSRF handshake."""
    token = call("GET", CHANGE, headers={"X-CSRF-Token": "Fetch"}).headers["X-CSRF-Token"]
    return lambda body: call("POST", CHANGE, data=body, headers={"X-CSRF-Token": token})


def results(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text[:500]
    rows: list[dict[str, Any]] = response.json()["d"]["results"]
    return rows


# ---------------------------------------------------------------- ReadCostCenters
def test_read_filters_by_query_parameters(call: Call) -> None:
    rows = results(call("GET", READ, params={"controllingArea": "A000", "companyCode": "1010"}))

    assert rows
    assert {(r["ControllingArea"], r["CompanyCode"]) for r in rows} == {("A000", "1010")}


def test_read_parameter_names_are_case_insensitive_and_unknown_ones_ignored(call: Call) -> None:
    exact = results(call("GET", READ, params={"companyCode": "1510"}))
    shouted = results(call("GET", READ, params={"COMPANYCODE": "1510", "sap-client": "100", "foo": "bar"}))

    assert shouted == exact


def test_read_one_cost_center(call: Call) -> None:
    wanted = results(call("GET", READ, params={"companyCode": "1010", "top": "1"}))[0]["CostCenter"]

    rows = results(call("GET", READ, params={"controllingArea": "A000", "costCenter": wanted}))

    assert [r["CostCenter"] for r in rows] == [wanted]


@pytest.mark.parametrize("prefix", ["", "$"])
def test_read_passes_paging_options_with_or_without_dollar(call: Call, prefix: str) -> None:
    params = {"companyCode": "1010", f"{prefix}top": "2", f"{prefix}skip": "1", f"{prefix}inlinecount": "allpages"}
    params |= {f"{prefix}select": "CostCenter", f"{prefix}orderby": "CostCenter desc"}
    everything = results(call("GET", READ, params={"companyCode": "1010", "$orderby": "CostCenter desc"}))

    response = call("GET", READ, params=params)

    rows = results(response)
    assert [r["CostCenter"] for r in rows] == [r["CostCenter"] for r in everything[1:3]]
    assert set(rows[0]) == {"__metadata", "CostCenter"}
    assert int(response.json()["d"]["__count"]) == len(everything)


def test_read_answers_with_backend_uris_on_the_emulator(emulator: Emulator, call: Call) -> None:
    response = call("GET", READ, params={"top": "1"})

    assert response.headers["Content-Type"].startswith("application/json")
    uri = results(response)[0]["__metadata"]["uri"]
    assert uri.startswith(f"{emulator.url}{SERVICE_PATH}/A_CostCenter(ControllingArea='")


def test_read_escapes_quotes_in_parameters(call: Call) -> None:
    assert results(call("GET", READ, params={"costCenter": "x' or CostCenter ne 'x"})) == []


def test_backend_errors_fail_the_flow(emulator: Emulator, call: Call) -> None:
    response = call("GET", READ, params={"top": "many"})

    assert response.status_code == 500
    assert response.text.startswith(
        "An internal server error occured: com.sap.gateway.core.ip.component.odata.exception.OsciException: "
    )
    assert ": 400 : HTTP/1.1 400 Bad Request." in response.text
    record = next(m for m in emulator.messages if m.message_guid == response.headers["SAP_MessageProcessingLogID"])
    assert record.status == "FAILED"


# ---------------------------------------------------------------- ReadCostCentersDE
def test_read_de_returns_german_company_codes_only(call: Call) -> None:
    rows = results(call("GET", READ_DE, params={"$inlinecount": "allpages"}))

    assert rows
    assert {r["CompanyCode"] for r in rows} <= GERMAN
    assert {r["Country"] for r in rows} == {"DE"}


def test_read_de_hides_foreign_company_codes(call: Call) -> None:
    foreign = call("GET", READ_DE, params={"companyCode": "1710", "inlinecount": "allpages"})
    german = results(call("GET", READ_DE, params={"companyCode": "1020"}))

    assert foreign.json() == {"d": {"__count": "0", "results": []}}
    assert german
    assert {r["CompanyCode"] for r in german} == {"1020"}


# ---------------------------------------------------------------- ChangeCostCenter
def change_request(fields: str, cost_center: str = "10101101", valid_from: str = "2026-01-01") -> bytes:
    return (
        "<?xml version='1.0' encoding='UTF-8'?><CostCenterChangeRequest>"
        f"<ControllingArea>A000</ControllingArea><CostCenter>{cost_center}</CostCenter>"
        f"<ValidFrom>{valid_from}</ValidFrom><Changes>{fields}</Changes></CostCenterChangeRequest>"
    ).encode()


PERSON = '<Field name="CostCtrResponsiblePersonName">J. Smith</Field>'


def test_change_is_accepted(emulator: Emulator, change: Callable[[bytes], requests.Response]) -> None:
    old = CostCenterService().lookup("A000", "10101101")
    assert old is not None

    response = change(change_request(PERSON + '<Field name="CityName">Berlin</Field>'))

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/xml;charset=utf-8"
    answer = etree.fromstring(response.content)
    assert answer.tag == "CostCenterChangeResponse"
    assert answer.findtext("Status") == "ACCEPTED"
    assert re.fullmatch(r"[0-9a-f-]{36}", answer.findtext("RequestId") or "")
    assert answer.findtext("CostCenter") == "10101101"
    changed = {f.get("name"): (f.get("oldValue"), f.text) for f in answer.iterfind("Changes/Field")}
    assert changed == {
        "CostCtrResponsiblePersonName": (old["CostCtrResponsiblePersonName"], "J. Smith"),
        "CityName": (old["CityName"], "Berlin"),
    }
    # Nothing is stored: the data set stays the same for every emulator.
    assert CostCenterService().lookup("A000", "10101101") == old


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            change_request('<Field name="CostCtrResponsiblePersonName">A name far longer than twenty</Field>'),
            {"CostCtrResponsiblePersonName": "CostCtrResponsiblePersonName is longer than 20 characters"},
        ),
        (
            change_request(PERSON, cost_center="99999999"),
            {"CostCenter": "cost center 99999999 does not exist in controlling area A000"},
        ),
        (
            change_request('<Field name="CostCenterName">Marketing</Field>'),
            {"CostCenterName": "CostCenterName is not a field of A_CostCenter: names live in A_CostCenterText"},
        ),
        (
            change_request('<Field name="Colour">blue</Field><Field name="CompanyCode">1010</Field>'),
            {"Colour": "Colour is not a field of A_CostCenter"},
        ),
        (
            change_request('<Field name="ValidityEndDate">2030-01-01</Field>'),
            {"ValidityEndDate": "ValidityEndDate cannot be changed"},
        ),
        (
            change_request('<Field name="IsBlockedForRevenuePosting">Y</Field>'),
            {"IsBlockedForRevenuePosting": "IsBlockedForRevenuePosting must be 'X' or empty"},
        ),
        (
            change_request(PERSON, valid_from="2026-02-30"),
            {"ValidFrom": "ValidFrom '2026-02-30' is not a date in the form YYYY-MM-DD"},
        ),
        (
            change_request(PERSON, valid_from="1999-01-01"),
            {"ValidFrom": "ValidFrom 1999-01-01 is before the cost center's validity start 2022-07-01"},
        ),
        (change_request(""), {"Changes": "at least one Changes/Field is required"}),
        (b"<Other/>", {"": "root element must be CostCenterChangeRequest, not Other"}),
    ],
    ids=[
        "too-long",
        "unknown-cost-center",
        "name-field",
        "unknown-field",
        "key-field",
        "flag",
        "bad-date",
        "before-validity",
        "no-changes",
        "wrong-root",
    ],
)
def test_invalid_change_is_rejected(
    emulator: Emulator, change: Callable[[bytes], requests.Response], body: bytes, errors: dict[str, str]
) -> None:
    response = change(body)

    assert response.status_code == 400
    answer = etree.fromstring(response.content)
    assert answer.findtext("Status") == "REJECTED"
    assert {e.get("field"): e.text for e in answer.iterfind("Errors/Error")} == errors
    # A business rejection is a healthy flow's answer: the message completed.
    record = next(m for m in emulator.messages if m.message_guid == response.headers["SAP_MessageProcessingLogID"])
    assert record.status == "COMPLETED"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"<CostCenterChangeRequest><CostCenter>", "org.xml.sax.SAXParseException; lineNumber: 1; columnNumber: "),
        (b"", "org.xml.sax.SAXParseException"),
        (
            b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><CostCenterChangeRequest>&x;'
            b"</CostCenterChangeRequest>",
            "org.xml.sax.SAXParseException; lineNumber: 1; columnNumber: 10; DOCTYPE is disallowed",
        ),
    ],
    ids=["truncated", "empty", "external-entity"],
)
def test_malformed_xml_fails_the_flow(
    emulator: Emulator, change: Callable[[bytes], requests.Response], body: bytes, error: str
) -> None:
    response = change(body)

    assert response.status_code == 500
    assert response.text.startswith(f"An internal server error occured: {error}")
    assert "root:" not in response.text
    record = next(m for m in emulator.messages if m.message_guid == response.headers["SAP_MessageProcessingLogID"])
    assert record.status == "FAILED"
    assert record.error_text is not None
    assert error in record.error_text


# ---------------------------------------------------------------- CostCentersOData
def test_odata_flow_serves_the_entity_set_under_its_own_root(emulator: Emulator, call: Call) -> None:
    response = call("GET", f"{ODATA}/A_CostCenter", params={"$filter": "CompanyCode eq '1710'", "$top": "3"})

    rows = results(response)
    assert len(rows) == 3
    assert {r["CompanyCode"] for r in rows} == {"1710"}
    assert rows[0]["__metadata"]["uri"].startswith(f"{emulator.url}{ODATA}/A_CostCenter(")


def test_odata_flow_metadata_count_and_single_entity(call: Call) -> None:
    metadata = call("GET", f"{ODATA}/$metadata")
    count = call("GET", f"{ODATA}/A_CostCenter/$count")
    key = "A_CostCenter(ControllingArea='A000',CostCenter='10101101',ValidityEndDate=datetime'9999-12-31T00:00:00')"
    single = call("GET", f"{ODATA}/{key}", headers={"Accept": "application/json"})

    assert metadata.status_code == 200
    assert b"A_CostCenterType" in metadata.content
    assert count.status_code == 200
    assert int(count.text) > 100
    assert single.status_code == 200
    assert single.json()["d"]["CostCenter"] == "10101101"


def test_odata_errors_stay_odata_errors(emulator: Emulator, call: Call) -> None:
    response = call("GET", f"{ODATA}/A_CostCenter", params={"$filter": "NoSuchField eq 1"})

    assert response.status_code == 400
    assert "error" in response.json()
    record = next(m for m in emulator.messages if m.message_guid == response.headers["SAP_MessageProcessingLogID"])
    assert record.status == "FAILED"


# ---------------------------------------------------------------- FailingFlow
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_failing_flow_always_fails(call: Call, method: str) -> None:
    response = call(method, "/http/failing")

    assert response.status_code == 500
    assert response.text.startswith(
        "An internal server error occured: com.sap.it.rt.adapter.http.api.exception.HttpResponseException: "
        "Receiver system S4H_COSTCENTER returned HTTP 503.\nThe MPL ID for the failed message is : AG"
    )


# ---------------------------------------------------------------- the catalog
def test_bundled_catalog_deploys_the_sample_flows() -> None:
    catalog = Catalog.load()

    assert [f.name for f in catalog.flows] == [
        "ReadCostCenters",
        "ReadCostCentersDE",
        "ChangeCostCenter",
        "CostCentersOData",
        "FailingFlow",
        "ChangeCostCenterAsync",
        "ProcessCostCenterChange",
        "GetCostCenter",
        "GetCostCenterSigned",
        "CostCenterIDoc",
    ]
    assert {f.name: f.csrf for f in catalog.flows}["FailingFlow"] is False
    assert {f.name: f.csrf for f in catalog.flows}["ChangeCostCenter"] is True
    assert catalog.get("NoSuchFlow") is None
    shown = {f.name: f.shown_name for f in catalog.flows}
    assert shown["ReadCostCenters"] == "Read cost centers"
    assert all(name != display for name, display in shown.items())


def test_display_names_are_derived_from_the_artifact_id_unless_given() -> None:
    flows = Catalog.from_data({"iflows": [GOOD, {**GOOD, "name": "ReadSalesOrders", "address": "/http/so"}]}).flows
    assert [f.shown_name for f in flows] == ["Orders", "Read Sales Orders"]


GOOD = {
    "name": "Orders",
    "address": "/http/orders",
    "methods": ["GET"],
    "role": "ESBMessaging.send",
    "behaviour": "fail",
}


@pytest.mark.parametrize(
    ("flows", "message"),
    [
        ([{**GOOD, "methods": "GET"}], "flow 'Orders', key 'methods': expected a list of HTTP methods"),
        ([{**GOOD, "address": "/orders"}], "flow 'Orders', key 'address': expected a sender address"),
        ([{**GOOD, "address": "/http/or*ders"}], "flow 'Orders', key 'address'"),
        ([{**GOOD, "role": "ESB send"}], "flow 'Orders', key 'role': expected a role name"),
        ([{**GOOD, "csrf": "yes"}], "flow 'Orders', key 'csrf': expected true or false, got 'yes'"),
        ([{**GOOD, "behaviour": "teleport"}], "flow 'Orders', key 'behaviour': expected one of change_cost_center"),
        (
            [{**GOOD, "options": {"speed": 1}}],
            "flow 'Orders', key 'options.speed': behaviour 'fail' has no such option",
        ),
        ([{**GOOD, "options": {"error": 1}}], "flow 'Orders', key 'options.error': expected a str, got 1"),
        ([{**GOOD, "colour": "red"}], "flow 'Orders', key 'colour': unknown key"),
        ([{k: v for k, v in GOOD.items() if k != "name"}], "flow #1, key 'name': expected an iFlow name"),
        ([{**GOOD, "display_name": 7}], "flow 'Orders', key 'display_name': expected the artifact's name as text"),
        ([{**GOOD, "allowed_headers": "SAP_ApplicationID"}], "flow 'Orders', key 'allowed_headers': expected a list"),
        ([{**GOOD, "allowed_headers": ["SAP ApplicationID"]}], "flow 'Orders', key 'allowed_headers'"),
        ([{**GOOD, "message_log": {"headers": {}}}], "flow 'Orders', key 'message_log.headers': unknown key"),
        (
            [{**GOOD, "message_log": {"custom_header_properties": {"po": True}}}],
            "flow 'Orders', key 'message_log.custom_header_properties': expected a mapping of property names",
        ),
        (
            [{**GOOD, "message_log": {"attachments": [{"name": "a"}]}}],
            "flow 'Orders', key 'message_log.attachments[0]': expected a mapping with name and content",
        ),
        ([GOOD, GOOD], "flow 'Orders', key 'name': the name is used by another flow"),
        (
            [GOOD, {**GOOD, "name": "Shouting", "address": "/HTTP/ORDERS"}],
            "flow 'Shouting', key 'address': /HTTP/ORDERS is already the address of flow 'Orders'",
        ),
    ],
)
def test_catalog_problems_name_the_flow_and_key(flows: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(CatalogError, match=re.escape(f"test.yaml: {message}")):
        Catalog.from_data({"iflows": flows}, source="test.yaml")


def test_catalog_file_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("iflows: [", encoding="utf-8")
    flat = tmp_path / "flat.yaml"
    flat.write_text("- name: x\n", encoding="utf-8")

    with pytest.raises(CatalogError, match=r"broken\.yaml: not valid YAML"):
        Emulator(catalog=broken)
    with pytest.raises(CatalogError, match=r"flat\.yaml: expected a mapping with an 'iflows' list"):
        Emulator(catalog=flat)
    with pytest.raises(CatalogError, match=r"cannot read iFlow catalog .*missing\.yaml"):
        Emulator(catalog=tmp_path / "missing.yaml")
