"""The emulated S/4HANA API_COSTCENTER_SRV: its data set and its OData V2 answers."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]

from iflowtest.emulator.costcenters import SERVICE_PATH, CostCenterService, ServiceResponse, cost_center_model

ROOT = "http://127.0.0.1:5000" + SERVICE_PATH
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
D = "{http://schemas.microsoft.com/ado/2007/08/dataservices}"
A = "{http://www.w3.org/2005/Atom}"
EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"
SAP = "{http://www.sap.com/Protocols/SAPData}"
END = datetime(9999, 12, 31, tzinfo=UTC)
KEY_10101101 = "ControllingArea='A000',CostCenter='10101101',ValidityEndDate=datetime'9999-12-31T00:00:00'"


@pytest.fixture(scope="module")
def service() -> CostCenterService:
    return CostCenterService()


def get(service: CostCenterService, path: str, accept: str | None = None, **query: str) -> ServiceResponse:
    return service.handle("GET", path, query, accept=accept, service_root=ROOT)


def results(response: ServiceResponse) -> list[dict[str, Any]]:
    assert response.status == 200, response.body
    entities: list[dict[str, Any]] = json.loads(response.body)["d"]["results"]
    return entities


def error(response: ServiceResponse) -> tuple[int, str, str]:
    body = json.loads(response.body)["error"]
    assert body["message"]["lang"] == "en"
    return response.status, body["code"], body["message"]["value"]


# ---------------------------------------------------------------- the data set
def test_the_interface_other_modules_code_against_is_pinned() -> None:
    assert SERVICE_PATH == "/sap/opu/odata/sap/API_COSTCENTER_SRV"
    assert [f.name for f in dataclasses.fields(ServiceResponse)] == ["status", "headers", "body"]
    assert inspect.signature(CostCenterService).parameters["seed"].default == 20240101
    handle = inspect.signature(CostCenterService.handle).parameters
    assert list(handle) == ["self", "method", "subpath", "query", "accept", "service_root"]
    assert {handle["accept"].kind, handle["service_root"].kind} == {inspect.Parameter.KEYWORD_ONLY}
    for name in ("lookup", "company_codes", "controlling_areas", "names"):
        assert callable(getattr(CostCenterService, name))
    assert isinstance(CostCenterService.rows, property)


def test_data_set_is_large_deterministic_and_seeded(service: CostCenterService) -> None:
    assert len(service.rows) == 240
    assert service.controlling_areas() == ["A000", "B000", "C000", "D000"]
    again = CostCenterService()
    assert [dict(r) for r in again.rows] == [dict(r) for r in service.rows]
    query = {"$format": "xml", "$expand": "to_Text", "$inlinecount": "allpages"}
    assert get(again, "A_CostCenter", **query).body == get(service, "A_CostCenter", **query).body
    other = CostCenterService(seed=7)
    assert [r["CostCenter"] for r in other.rows] == [r["CostCenter"] for r in service.rows]
    assert [dict(r) for r in other.rows] != [dict(r) for r in service.rows]


def test_company_codes_countries_and_currencies(service: CostCenterService) -> None:
    assert service.company_codes("DE") == ["1010", "1020", "1030"]
    assert service.company_codes() == ["1010", "1020", "1030", "1110", "1210", "1510", "1710", "1720"]
    assert service.company_codes("XX") == []
    currency = {(r["Country"], r["CostCenterCurrency"]) for r in service.rows}
    assert currency == {("DE", "EUR"), ("FR", "EUR"), ("US", "USD"), ("GB", "GBP"), ("JP", "JPY")}


def test_every_row_has_every_field_within_its_max_length(service: CostCenterService) -> None:
    model = cost_center_model()
    for entity_set in model.entity_sets:
        rows = service.rows if entity_set.name == "A_CostCenter" else service.text_rows
        for row in rows:
            assert list(row) == [p.name for p in entity_set.properties]
            for prop in entity_set.properties:
                value = row[prop.name]
                if prop.edm_type == "Edm.DateTime":
                    assert value.tzinfo is UTC
                else:
                    assert isinstance(value, str)
                    assert len(value) <= (prop.max_length or 0), (entity_set.name, prop.name, value)


def test_row_shapes_look_like_s4(service: CostCenterService) -> None:
    for row in service.rows:
        assert re.fullmatch(r"\d{8}", row["CostCenter"])
        assert row["CostCenter"].startswith(row["CompanyCode"])
        assert row["ValidityEndDate"] == END
        assert datetime(2015, 1, 1, tzinfo=UTC) <= row["ValidityStartDate"] < datetime(2024, 1, 1, tzinfo=UTC)
        assert row["CostCenterCreationDate"] <= row["ValidityStartDate"]
        assert row["CostCenterCategory"] in set("EFHLVW")
        assert re.fullmatch(r"[A-Z]\. \S.*", row["CostCtrResponsiblePersonName"])
        assert re.fullmatch(r"[A-Z]{2,12}", row["CostCtrResponsibleUser"])
        assert row["IsBlkdForPrimaryCostsPosting"] in ("", "X")
        assert service.names(row["ControllingArea"], row["CostCenter"]).keys() == {"EN", "DE"}
    assert len(service.text_rows) == 2 * len(service.rows)
    assert service.names("A000", "10101101") == {"EN": "Finance & Admin", "DE": "Finanzen & Verw."}
    assert any(row["IsBlkdForPrimaryCostsPosting"] == "X" for row in service.rows)


def test_lookup_returns_a_copy_of_the_current_row_or_none(service: CostCenterService) -> None:
    row = service.lookup("A000", "10101101")
    assert row is not None
    assert (row["CompanyCode"], row["Country"], row["CityName"], row["CostCenterCategory"]) == (
        "1010",
        "DE",
        "Walldorf",
        "H",
    )
    row["CityName"] = "changed"
    assert service.lookup("A000", "10101101") == {**row, "CityName": "Walldorf"}
    assert service.lookup("B000", "10101101") is None
    assert service.lookup("A000", "99999999") is None


# ---------------------------------------------------------------- the OData answers
def test_collection_json_matches_the_documented_v2_shape(service: CostCenterService) -> None:
    response = get(service, "A_CostCenter", **{"$top": "1"})
    assert response.headers == {"Content-Type": "application/json;charset=utf-8", "dataserviceversion": "2.0"}
    (entity,) = results(response)
    uri = f"{ROOT}/A_CostCenter(ControllingArea='A000',CostCenter='10101101',ValidityEndDate=datetime'9999-12-31T00%3A00%3A00')"
    assert entity["__metadata"] == {"id": uri, "uri": uri, "type": "API_COSTCENTER_SRV.A_CostCenterType"}
    assert entity["ValidityEndDate"] == "/Date(253402214400000)/"
    assert re.fullmatch(r"/Date\(\d{12,13}\)/", entity["CostCenterCreationDate"])
    assert entity["to_Text"] == {"__deferred": {"uri": uri + "/to_Text"}}
    assert list(entity)[1:4] == ["ControllingArea", "CostCenter", "ValidityEndDate"]


def test_service_root_trailing_slash_and_leading_slash_subpath(service: CostCenterService) -> None:
    response = service.handle("GET", "/A_CostCenter/", {"$top": "1"}, accept=None, service_root=ROOT + "/")
    assert results(response)[0]["__metadata"]["uri"].startswith(ROOT + "/A_CostCenter(")


def test_combined_filter_with_and_or_parentheses(service: CostCenterService) -> None:
    expression = (
        "(CompanyCode eq '1010' or CompanyCode eq '1710') and (CostCenterCategory eq 'F' or Department eq 'IT')"
    )
    found = [e["CostCenter"] for e in results(get(service, "A_CostCenter", **{"$filter": expression}))]
    expected = [
        r["CostCenter"]
        for r in service.rows
        if r["CompanyCode"] in ("1010", "1710") and (r["CostCenterCategory"] == "F" or r["Department"] == "IT")
    ]
    assert found == expected
    assert len(found) == 24


def test_filter_on_dates_and_with_functions(service: CostCenterService) -> None:
    expression = "ValidityStartDate ge datetime'2020-01-01T00:00:00' and Country ne 'DE'"
    found = results(get(service, "A_CostCenter", **{"$filter": expression}))
    expected = [r for r in service.rows if r["ValidityStartDate"].year >= 2020 and r["Country"] != "DE"]
    assert [e["CostCenter"] for e in found] == [r["CostCenter"] for r in expected]
    munich = results(get(service, "A_CostCenter", **{"$filter": "substringof('nchen', CityName)"}))
    assert {e["CompanyCode"] for e in munich} == {"1030"}


def test_filter_quote_escaping_finds_o_brien(service: CostCenterService) -> None:
    names = {r["CostCtrResponsiblePersonName"] for r in service.rows if r["CompanyCode"] == "1110"}
    o_brien = next(name for name in sorted(names) if name.endswith("O'Brien"))
    expression = "CostCtrResponsiblePersonName eq '" + o_brien.replace("'", "''") + "'"
    found = results(get(service, "A_CostCenter", **{"$filter": expression}))
    assert found
    assert {e["CostCtrResponsiblePersonName"] for e in found} == {o_brien}
    unescaped = get(service, "A_CostCenter", **{"$filter": f"CostCtrResponsiblePersonName eq '{o_brien}'"})
    assert error(unescaped)[:2] == (400, "InvalidFilter")


def test_inlinecount_with_top_and_skip(service: CostCenterService) -> None:
    query = {"$filter": "ControllingArea eq 'A000'", "$inlinecount": "allpages", "$top": "5", "$skip": "10"}
    body = json.loads(get(service, "A_CostCenter", **query).body)["d"]
    area = [r["CostCenter"] for r in service.rows if r["ControllingArea"] == "A000"]
    assert body["__count"] == str(len(area)) == "134"
    assert [e["CostCenter"] for e in body["results"]] == area[10:15]
    assert "__count" not in json.loads(get(service, "A_CostCenter", **{"$top": "1"}).body)["d"]


def test_select_keeps_metadata_and_only_the_chosen_fields(service: CostCenterService) -> None:
    (entity,) = results(get(service, "A_CostCenter", **{"$select": "CostCenter, CompanyCode", "$top": "1"}))
    assert list(entity) == ["__metadata", "CostCenter", "CompanyCode"]
    (with_nav,) = results(get(service, "A_CostCenter", **{"$select": "CostCenter,to_Text", "$top": "1"}))
    assert list(with_nav) == ["__metadata", "CostCenter", "to_Text"]


def test_orderby_desc_and_on_two_fields(service: CostCenterService) -> None:
    descending = [e["CostCenter"] for e in results(get(service, "A_CostCenter", **{"$orderby": "CostCenter desc"}))]
    assert descending == sorted((r["CostCenter"] for r in service.rows), reverse=True)
    query = {"$orderby": "CompanyCode desc,ValidityStartDate asc", "$select": "CompanyCode,ValidityStartDate"}
    pairs = [
        (e["CompanyCode"], int(e["ValidityStartDate"][6:-2])) for e in results(get(service, "A_CostCenter", **query))
    ]
    assert pairs == sorted(pairs, key=lambda p: (-int(p[0]), p[1]))


def test_single_entity_by_key_hit_and_miss(service: CostCenterService) -> None:
    entity = json.loads(get(service, f"A_CostCenter({KEY_10101101})").body)["d"]
    assert (entity["CostCenter"], entity["CompanyCode"]) == ("10101101", "1010")
    missing = get(service, f"A_CostCenter({KEY_10101101.replace('10101101', '10109999')})")
    assert error(missing) == (
        404,
        "ResourceNotFound",
        "Resource not found for segment "
        "'A_CostCenter(ControllingArea='A000',CostCenter='10109999',ValidityEndDate=datetime'9999-12-31T00:00:00')'",
    )
    assert error(get(service, "A_CostCenter(CostCenter='10101101')"))[0] == 400


def test_texts_by_navigation_and_expand(service: CostCenterService) -> None:
    texts = results(get(service, f"A_CostCenter({KEY_10101101})/to_Text", **{"$filter": "Language eq 'DE'"}))
    assert [(t["Language"], t["CostCenterName"]) for t in texts] == [("DE", "Finanzen & Verw.")]
    assert texts[0]["CostCenterDescription"] == "Finanzen & Verw. Walldorf (1010)"
    (expanded,) = results(get(service, "A_CostCenter", **{"$expand": "to_Text", "$top": "1"}))
    assert [t["Language"] for t in expanded["to_Text"]["results"]] == ["DE", "EN"]
    back = json.loads(get(service, texts[0]["__metadata"]["uri"].removeprefix(ROOT + "/") + "/to_CostCenter").body)
    assert back["d"]["CostCenter"] == "10101101"


def test_count_is_plain_text_and_honours_the_filter(service: CostCenterService) -> None:
    response = get(service, "A_CostCenter/$count", **{"$filter": "Country eq 'DE'"})
    assert response.headers["Content-Type"] == "text/plain;charset=utf-8"
    assert response.body == str(sum(r["Country"] == "DE" for r in service.rows)).encode() == b"108"
    assert get(service, "A_CostCenterText/$count").body == b"480"


def test_metadata_describes_the_real_properties(service: CostCenterService) -> None:
    response = get(service, "$metadata", "application/json")
    assert response.headers["Content-Type"] == "application/xml;charset=utf-8"
    schema = etree.fromstring(response.body).find(f".//{EDM}Schema")
    assert schema.get("Namespace") == "API_COSTCENTER_SRV"
    cost_center = schema.find(f"{EDM}EntityType[@Name='A_CostCenterType']")
    properties = {p.get("Name"): p for p in cost_center.findall(f"{EDM}Property")}
    assert len(properties) == 29
    assert properties["CostCtrResponsiblePersonName"].get("MaxLength") == "20"
    assert properties["CostCenterCurrency"].get(f"{SAP}semantics") == "currency-code"
    assert properties["ValidityEndDate"].attrib["Type"] == "Edm.DateTime"
    assert properties["ValidityEndDate"].get("Nullable") == "false"
    assert [k.get("Name") for k in cost_center.findall(f"{EDM}Key/{EDM}PropertyRef")] == [
        "ControllingArea",
        "CostCenter",
        "ValidityEndDate",
    ]
    text = schema.find(f"{EDM}EntityType[@Name='A_CostCenterTextType']")
    assert text.find(f"{EDM}Property[@Name='CostCenterDescription']").get("MaxLength") == "40"
    nav = cost_center.find(f"{EDM}NavigationProperty[@Name='to_Text']")
    association = schema.find(f"{EDM}Association[@Name='{nav.get('Relationship').split('.')[-1]}']")
    assert [e.get("Multiplicity") for e in association.findall(f"{EDM}End")] == ["1", "*"]
    entity_set = schema.find(f"{EDM}EntityContainer/{EDM}EntitySet[@Name='A_CostCenter']")
    assert entity_set.get(f"{SAP}creatable") == entity_set.get(f"{SAP}deletable") == "false"


def test_atom_feed_parses_with_count_and_entries(service: CostCenterService) -> None:
    query = {"$top": "3", "$inlinecount": "allpages", "$filter": "Country eq 'JP'"}
    response = get(service, "A_CostCenter", "application/atom+xml", **query)
    assert response.headers["Content-Type"] == "application/atom+xml;type=feed;charset=utf-8"
    feed = etree.fromstring(response.body)
    assert feed.findtext(f"{M}count") == "22"
    entries = feed.findall(f"{A}entry")
    assert len(entries) == 3
    properties = entries[0].find(f"{A}content/{M}properties")
    assert properties.findtext(f"{D}CostCenterCurrency") == "JPY"
    assert properties.findtext(f"{D}ValidityEndDate") == "9999-12-31T00:00:00"
    assert entries[0].find(f"{A}category").get("term") == "API_COSTCENTER_SRV.A_CostCenterType"
    assert get(service, "A_CostCenter", **{**query, "$format": "xml"}).body == response.body


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("A_CostCenter", {"$filter": "Nme eq 'x'"}, (400, "UnknownProperty", "Property 'Nme' not found in type 'A_CostCenterType' ($filter)")),
        ("A_CostCenter", {"$filter": "CostCenterName eq 'x'"}, (400, "UnknownProperty", "Property 'CostCenterName' not found in type 'A_CostCenterType' ($filter); it is a property of 'A_CostCenterTextType'")),
        ("A_CostCenter", {"$select": "CostCenterNam"}, (400, "UnknownProperty", "Property 'CostCenterNam' not found in type 'A_CostCenterType' ($select); did you mean 'CostCenter'?")),
        ("A_CostCenter", {"$expand": "to_Texts"}, (400, "UnknownProperty", "Property 'to_Texts' not found in type 'A_CostCenterType' ($expand); did you mean 'to_Text'?")),
        ("A_CostCenter", {"$orderby": "City desc"}, (400, "UnknownProperty", "Property 'City' not found in type 'A_CostCenterType' ($orderby); did you mean 'CityName'?")),
        ("A_CostCenter", {"$filter": "CompanyCode eq '1010' and"}, (400, "InvalidFilter", "Invalid $filter: expected a value but the expression ended")),
        ("A_CostCenter", {"$top": "ten"}, (400, "InvalidQueryOption", "Invalid value 'ten' for $top: expected a whole number ≥ 0")),
        ("A_CostCenter", {"$inlinecount": "yes"}, (400, "InvalidQueryOption", "$inlinecount must be allpages or none, not 'yes'")),
        ("A_CostCenters", {}, (404, "ResourceNotFound", "Resource not found for segment 'A_CostCenters'")),
    ],
)  # fmt: skip
def test_bad_requests_get_odata_error_bodies(
    service: CostCenterService, path: str, query: dict[str, str], expected: tuple[int, str, str]
) -> None:
    assert error(get(service, path, **query)) == expected


def test_errors_come_as_xml_when_xml_is_asked_for(service: CostCenterService) -> None:
    response = get(service, "A_CostCenter", **{"$filter": "Bogus eq 1", "$format": "xml"})
    assert (response.status, response.headers["Content-Type"]) == (400, "application/xml;charset=utf-8")
    root = etree.fromstring(response.body)
    assert (root.tag, root.findtext(f"{M}code")) == (f"{M}error", "UnknownProperty")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "MERGE", "DELETE"])
def test_writes_are_refused_as_read_only(service: CostCenterService, method: str) -> None:
    response = service.handle(method, "A_CostCenter", {}, accept="application/json", service_root=ROOT)
    assert response.headers["Allow"] == "GET, HEAD"
    assert error(response) == (
        405,
        "MethodNotAllowed",
        f"{method} is not allowed: entity set 'A_CostCenter' is read-only "
        "(sap:creatable, sap:updatable and sap:deletable are false); use GET",
    )


def test_service_document_lists_both_entity_sets(service: CostCenterService) -> None:
    assert json.loads(get(service, "").body) == {"d": {"EntitySets": ["A_CostCenter", "A_CostCenterText"]}}
    xml = etree.fromstring(get(service, "/", "application/atomsvc+xml").body)
    assert [c.get("href") for c in xml.iter("{http://www.w3.org/2007/app}collection")] == [
        "A_CostCenter",
        "A_CostCenterText",
    ]
