"""The generic OData V2 engine, on a tiny message-log-like model with every supported EDM type."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]

from iflowtest.emulator.odata import (
    ComplexType,
    EntitySet,
    Navigation,
    ODataError,
    ODataService,
    Property,
    QueryOptions,
    ServiceModel,
    ServiceResponse,
    evaluate,
    format_key_predicate,
    json_value,
    negotiate_format,
    parse_filter,
    parse_key_predicate,
)

ROOT = "http://localhost:1/odata/TEST_SRV"
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
D = "{http://schemas.microsoft.com/ado/2007/08/dataservices}"
A = "{http://www.w3.org/2005/Atom}"

MESSAGES = EntitySet(
    name="Messages",
    entity_type="MessageType",
    keys=("MessageGuid",),
    properties=(
        Property("MessageGuid", max_length=32, nullable=False),
        Property("Flow", max_length=100),
        Property("Status", max_length=20),
        Property("LogStart", "Edm.DateTime"),
        Property("LogEnd", "Edm.DateTimeOffset"),
        Property("Size", "Edm.Int32"),
        Property("Bytes", "Edm.Int64"),
        Property("Amount", "Edm.Decimal"),
        Property("Archived", "Edm.Boolean"),
        Property("Note"),
    ),
    navigations=(Navigation("Attachments", "Attachments", (("MessageGuid", "MessageGuid"),)),),
)
ATTACHMENTS = EntitySet(
    name="Attachments",
    entity_type="AttachmentType",
    keys=("Id",),
    properties=(Property("Id", nullable=False), Property("MessageGuid"), Property("Name")),
    navigations=(Navigation("Message", "Messages", (("MessageGuid", "MessageGuid"),), many=False),),
)
MODEL = ServiceModel("TEST_SRV", (MESSAGES, ATTACHMENTS))


def _message(guid: str, flow: str, status: str, day: int, size: int, note: str | None) -> dict[str, Any]:
    start = datetime(2024, 3, day, 8, 30, tzinfo=UTC)
    return {
        "MessageGuid": guid,
        "Flow": flow,
        "Status": status,
        "LogStart": start,
        "LogEnd": start.replace(microsecond=250_000),
        "Size": size,
        "Bytes": size * 1000,
        "Amount": Decimal(size) / 4,
        "Archived": size > 20,
        "Note": note,
    }


ROWS = {
    "Messages": [
        _message("G1", "CostCenters_DE", "COMPLETED", 1, 10, "ok"),
        _message("G2", "CostCenters_DE", "FAILED", 2, 30, "it's broken"),
        _message("G3", "CostCenters_US", "COMPLETED", 3, 20, None),
        _message("G4", "Orders", "RETRY", 4, 40, "retry"),
        _message("G5", "Orders", "COMPLETED", 5, 5, None),
    ],
    "Attachments": [
        {"Id": "A1", "MessageGuid": "G2", "Name": "error.txt"},
        {"Id": "A2", "MessageGuid": "G2", "Name": "payload.xml"},
    ],
}


@pytest.fixture
def service() -> ODataService:
    return ODataService(MODEL, ROWS)


def get(service: ODataService, path: str, accept: str | None = None, **query: str) -> ServiceResponse:
    return service.handle("GET", path, query, accept=accept, service_root=ROOT)


def guids(response: ServiceResponse) -> list[str]:
    return [entity["MessageGuid"] for entity in json.loads(response.body)["d"]["results"]]


def matching(expression: str) -> list[str]:
    condition = parse_filter(expression, MESSAGES)
    return [row["MessageGuid"] for row in ROWS["Messages"] if evaluate(condition, row) is True]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Status eq 'COMPLETED'", ["G1", "G3", "G5"]),
        ("Status ne 'COMPLETED'", ["G2", "G4"]),
        ("Flow eq 'Orders' or Status eq 'FAILED' and Size gt 100", ["G4", "G5"]),  # and binds tighter
        ("(Flow eq 'Orders' or Status eq 'FAILED') and Size gt 10", ["G2", "G4"]),
        ("not (Status eq 'COMPLETED') and not Flow eq 'Orders'", ["G2"]),
        ("Note eq 'it''s broken'", ["G2"]),
        ("Note eq null", ["G3", "G5"]),
        ("Note ne null and Size le 10", ["G1"]),
        ("Note gt 'a'", ["G1", "G2", "G4"]),  # ordering against null is false, never an error
        ("LogStart ge datetime'2024-03-03T00:00:00' and LogStart lt datetime'2024-03-05T00:00'", ["G3", "G4"]),
        ("LogEnd gt datetimeoffset'2024-03-04T08:30:00Z'", ["G4", "G5"]),
        ("Bytes eq 40000L or Amount eq 1.25M", ["G4", "G5"]),
        ("Archived eq true", ["G2", "G4"]),
        ("substringof('Cost', Flow) and endswith(Flow, '_US')", ["G3"]),
        ("startswith(tolower(Flow), 'orders') eq false", ["G1", "G2", "G3"]),
        ("  Status   eq 'RETRY'  ", ["G4"]),
    ],
)
def test_filter_selects_the_rows_a_gateway_would(expression: str, expected: list[str]) -> None:
    assert matching(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("Status eq", "Invalid $filter: expected a value but the expression ended"),
        ("Status eq 'X' and", "Invalid $filter: expected a value but the expression ended"),
        ("(Status eq 'X'", "Invalid $filter: expected ')' but the expression ended"),
        ("Status eq 'X')", "Invalid $filter: unexpected ')' at 13"),
        ("Status", "Invalid $filter: the expression is not a condition (true or false)"),
        ("Size and Status eq 'X'", "Invalid $filter: 'and' needs conditions on both sides"),
        ("Status eq 'X", 'Invalid $filter: unterminated text literal "\'X" at 10'),
        ("Status eq 5", "Invalid $filter: cannot compare str with number using 'eq' (text needs quotes:"),
        ("LogStart eq '2024-03-01'", "Invalid $filter: cannot compare datetime with str using 'eq'"),
        ("LogStart eq datetime'yesterday'", "Invalid $filter: 'yesterday' is not a datetime"),
        ("length(Flow) eq 3", "Invalid $filter: function 'length' is not supported (use substringof,"),
        ("substringof(Flow) eq true", "Invalid $filter: substringof expects 2 text argument(s)"),
        ("Status == 'X'", "Invalid $filter: unexpected '=' at 7"),
        ("Stauts eq 'X'", "Property 'Stauts' not found in type 'MessageType' ($filter); did you mean 'Status'?"),
    ],
)
def test_filter_mistakes_are_400_with_a_reason(expression: str, message: str) -> None:
    with pytest.raises(ODataError) as caught:
        parse_filter(expression, MESSAGES)
    assert caught.value.status == 400
    assert caught.value.message.startswith(message)


def test_key_predicates_accept_the_short_and_the_named_form() -> None:
    assert parse_key_predicate("'G1'", MESSAGES) == ("G1",)
    assert parse_key_predicate("MessageGuid='it''s'", MESSAGES) == ("it's",)
    for bad in ("Id='G1'", "MessageGuid=1", "MessageGuid='G1',MessageGuid='G2'", "MessageGuid"):
        with pytest.raises(ODataError):
            parse_key_predicate(bad, MESSAGES)


def test_key_predicates_are_written_percent_encoded() -> None:
    assert format_key_predicate(MESSAGES, {"MessageGuid": "a b'c"}) == "('a%20b''c')"
    two_keys = EntitySet("S", "T", ("When", "N"), (Property("When", "Edm.DateTime"), Property("N", "Edm.Int64")))
    row = {"When": datetime(9999, 12, 31, tzinfo=UTC), "N": 7}
    assert format_key_predicate(two_keys, row) == "(When=datetime'9999-12-31T00%3A00%3A00',N=7L)"


def test_json_values_follow_v2_verbose_conventions() -> None:
    when = datetime(2020, 1, 1, tzinfo=UTC)
    assert json_value(when, "Edm.DateTime") == "/Date(1577836800000)/"
    assert json_value(when, "Edm.DateTimeOffset") == "/Date(1577836800000+0000)/"
    assert json_value(12, "Edm.Int64") == "12"
    assert json_value(Decimal("1.50"), "Edm.Decimal") == "1.50"
    assert json_value(12, "Edm.Int32") == 12
    assert json_value(True, "Edm.Boolean") is True
    assert json_value(None, "Edm.String") is None


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        ({"$format": "json"}, "application/atom+xml", "json"),
        ({"$format": "xml"}, "application/json", "xml"),
        ({"$format": "atom"}, None, "xml"),
        ({}, "application/json, text/plain, */*", "json"),
        ({}, "application/atom+xml", "xml"),
        ({}, "application/xml", "xml"),
        ({}, "*/*", "json"),
        ({}, None, "json"),
    ],
)
def test_format_negotiation(query: dict[str, str], accept: str | None, expected: str) -> None:
    assert negotiate_format(query, accept) == expected


def test_query_options_reject_unknown_system_options_but_pass_custom_ones() -> None:
    assert QueryOptions.parse({"sap-client": "100", "$top": "2"}, MESSAGES).top == 2
    with pytest.raises(ODataError, match=r"System query option '\$search' is not supported"):
        QueryOptions.parse({"$search": "x"}, MESSAGES)


def test_orderby_sorts_on_several_fields_and_keeps_nulls_last(service: ODataService) -> None:
    assert guids(get(service, "Messages", **{"$orderby": "Flow desc,Size"})) == ["G5", "G4", "G3", "G1", "G2"]
    assert guids(get(service, "Messages", **{"$orderby": "Note"})) == ["G2", "G1", "G4", "G3", "G5"]


def test_server_side_paging_links_to_the_next_page() -> None:
    paged = ODataService(MODEL, ROWS, page_size=2)
    first = json.loads(get(paged, "Messages", **{"$filter": "Size gt 1", "$inlinecount": "allpages"}).body)["d"]
    assert [r["MessageGuid"] for r in first["results"]] == ["G1", "G2"]
    assert first["__count"] == "5"
    assert first["__next"] == f"{ROOT}/Messages?%24filter=Size+gt+1&%24inlinecount=allpages&%24skiptoken=2"
    second = get(paged, "Messages", **{"$filter": "Size gt 1", "$skiptoken": "2"})
    assert guids(second) == ["G3", "G4"]
    assert "__next" not in json.loads(get(paged, "Messages", **{"$top": "3"}).body)["d"]


def test_navigation_collections_count_and_single_targets(service: ODataService) -> None:
    names = json.loads(get(service, "Messages('G2')/Attachments").body)["d"]["results"]
    assert [a["Name"] for a in names] == ["error.txt", "payload.xml"]
    assert get(service, "Messages('G2')/Attachments/$count").body == b"2"
    message = json.loads(get(service, "Attachments('A1')/Message").body)["d"]
    assert message["MessageGuid"] == "G2"
    assert message["Attachments"] == {"__deferred": {"uri": f"{ROOT}/Messages('G2')/Attachments"}}


def test_atom_entries_mark_nulls_and_type_values(service: ODataService) -> None:
    response = get(service, "Messages('G3')", **{"$format": "xml"})
    assert response.headers["Content-Type"] == "application/atom+xml;type=entry;charset=utf-8"
    properties = etree.fromstring(response.body).find(f"{A}content/{M}properties")
    assert properties.find(f"{D}Note").get(f"{M}null") == "true"
    assert properties.find(f"{D}LogStart").text == "2024-03-03T08:30:00"
    assert properties.find(f"{D}LogEnd").text == "2024-03-03T08:30:00.250Z"
    assert properties.find(f"{D}Archived").text == "false"


def test_atom_expand_inlines_the_related_feed(service: ODataService) -> None:
    body = get(service, "Messages('G2')", "application/atom+xml", **{"$expand": "Attachments"}).body
    inline = etree.fromstring(body).find(f"{A}link[@title='Attachments']/{M}inline/{A}feed")
    assert [e.findtext(f"{A}content/{M}properties/{D}Name") for e in inline.findall(f"{A}entry")] == [
        "error.txt",
        "payload.xml",
    ]


def test_head_answers_like_get_without_a_body(service: ODataService) -> None:
    response = service.handle("HEAD", "Messages", {}, accept=None, service_root=ROOT)
    assert (response.status, response.body) == (200, b"")
    assert response.headers["Content-Type"].startswith("application/json")


def test_errors_are_odata_bodies_in_the_negotiated_format(service: ODataService) -> None:
    response = get(service, "Messages", **{"$top": "-1"})
    assert response.status == 400
    assert json.loads(response.body) == {
        "error": {
            "code": "InvalidQueryOption",
            "message": {"lang": "en", "value": "Invalid value '-1' for $top: expected a whole number ≥ 0"},
        }
    }
    xml = etree.fromstring(get(service, "Nope", **{"$format": "xml"}).body)
    assert xml.tag == f"{M}error"
    assert xml.findtext(f"{M}code") == "ResourceNotFound"
    assert xml.findtext(f"{M}message") == "Resource not found for segment 'Nope'"
    unsupported = get(service, "Messages", **{"$format": "csv"})
    assert unsupported.status == 400
    assert unsupported.headers["Content-Type"] == "application/json;charset=utf-8"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "Messages('G9')", 404),
        ("GET", "Messages('G1')/Nothing", 404),
        ("GET", "Messages/Attachments", 404),
        ("GET", "Messages(", 404),
        ("GET", "Messages(Bad)", 400),
        ("DELETE", "Messages('G1')", 405),
        ("PATCH", "$metadata", 405),
    ],
)
def test_bad_paths_and_methods(service: ODataService, method: str, path: str, status: int) -> None:
    response = service.handle(method, path, {}, accept=None, service_root=ROOT)
    assert response.status == status
    assert "error" in json.loads(response.body)


# ---------------------------------------------------------------- complex types
ARTIFACT = ComplexType("Artifact", (Property("Id"), Property("Name"), Property("Version", "Edm.Int32")))
RUNS = EntitySet(
    name="Runs",
    entity_type="RunType",
    keys=("RunId",),
    properties=(Property("RunId", nullable=False), Property("Artifact", "TEST_SRV.Artifact", nullable=False)),
)
COMPLEX_MODEL = ServiceModel("TEST_SRV", (RUNS,), complex_types=(ARTIFACT,))
RUN_ROWS = {
    "Runs": [
        {"RunId": "R1", "Artifact": {"Id": "Orders", "Name": "Order flow", "Version": 2}},
        {"RunId": "R2", "Artifact": {"Id": "CostCenters", "Name": "Cost centers", "Version": 1}},
        {"RunId": "R3", "Artifact": None},
    ]
}


@pytest.fixture
def runs() -> ODataService:
    return ODataService(COMPLEX_MODEL, RUN_ROWS)


def run_ids(response: ServiceResponse) -> list[str]:
    return [entity["RunId"] for entity in json.loads(response.body)["d"]["results"]]


def test_complex_types_are_declared_in_metadata(runs: ODataService) -> None:
    edm = "{http://schemas.microsoft.com/ado/2008/09/edm}"
    schema = etree.fromstring(get(runs, "$metadata").body).find(f".//{edm}Schema")
    complex_type = schema.find(f"{edm}ComplexType[@Name='Artifact']")
    assert [(p.get("Name"), p.get("Type")) for p in complex_type.findall(f"{edm}Property")] == [
        ("Id", "Edm.String"),
        ("Name", "Edm.String"),
        ("Version", "Edm.Int32"),
    ]
    holder = schema.find(f"{edm}EntityType[@Name='RunType']/{edm}Property[@Name='Artifact']")
    assert (holder.get("Type"), holder.get("Nullable")) == ("TEST_SRV.Artifact", "false")


def test_complex_values_render_as_typed_nested_objects(runs: ODataService) -> None:
    entity = json.loads(get(runs, "Runs('R1')").body)["d"]
    assert entity["Artifact"] == {
        "__metadata": {"type": "TEST_SRV.Artifact"},
        "Id": "Orders",
        "Name": "Order flow",
        "Version": 2,
    }
    empty = json.loads(get(runs, "Runs('R3')").body)["d"]["Artifact"]
    assert empty == {"__metadata": {"type": "TEST_SRV.Artifact"}, "Id": None, "Name": None, "Version": None}
    selected = json.loads(get(runs, "Runs", **{"$select": "Artifact"}).body)["d"]["results"][0]
    assert set(selected) == {"__metadata", "Artifact"}


def test_complex_values_in_atom(runs: ODataService) -> None:
    body = get(runs, "Runs('R2')", **{"$format": "xml"}).body
    artifact = etree.fromstring(body).find(f"{A}content/{M}properties/{D}Artifact")
    assert artifact.get(f"{M}type") == "TEST_SRV.Artifact"
    assert [(child.tag, child.text) for child in artifact] == [
        (f"{D}Id", "CostCenters"),
        (f"{D}Name", "Cost centers"),
        (f"{D}Version", "1"),
    ]
    empty = etree.fromstring(get(runs, "Runs('R3')", **{"$format": "xml"}).body)
    assert empty.find(f"{A}content/{M}properties/{D}Artifact/{D}Id").get(f"{M}null") == "true"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"$filter": "Artifact/Id eq 'Orders'"}, ["R1"]),
        ({"$filter": "Artifact/Version ge 1 and startswith(Artifact/Name, 'Cost')"}, ["R2"]),
        ({"$filter": "Artifact/Id eq null"}, ["R3"]),
        ({"$orderby": "Artifact/Name"}, ["R2", "R1", "R3"]),
        ({"$orderby": "Artifact/Version,RunId"}, ["R2", "R1", "R3"]),
    ],
)
def test_complex_members_filter_and_sort(runs: ODataService, query: dict[str, str], expected: list[str]) -> None:
    assert run_ids(get(runs, "Runs", **query)) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"$filter": "Artifact eq 'Orders'"},
            "Property 'Artifact' is of complex type 'Artifact' and cannot be used as a whole in $filter: "
            "name one of its members, such as Artifact/Id",
        ),
        (
            {"$filter": "Artifact/Ids eq 'X'"},
            "Property 'Ids' not found in type 'Artifact' ($filter); did you mean 'Artifact/Id'?",
        ),
        ({"$filter": "Artifact/Version eq 'X'"}, "Invalid $filter: cannot compare number with str using 'eq'"),
        ({"$filter": "RunId/Id eq 'X'"}, "Invalid $filter: unexpected '/' at 5"),
        ({"$orderby": "Artifact"}, "Property 'Artifact' is of complex type 'Artifact' and cannot be used as a whole"),
        (
            {"$orderby": "Artifact/Nope"},
            "Property 'Nope' not found in type 'Artifact' ($orderby); it has Id, Name, Version",
        ),
        ({"$orderby": "RunId/Id"}, "Invalid $orderby: property 'RunId' has no members ('RunId/Id')"),
    ],
)
def test_complex_member_mistakes_are_400(runs: ODataService, query: dict[str, str], message: str) -> None:
    response = get(runs, "Runs", **query)
    assert response.status == 400
    assert json.loads(response.body)["error"]["message"]["value"].startswith(message)
