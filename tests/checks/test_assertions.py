"""The public assertion API on real HTTP answers: each kind passes, fails with its message, and `check_response`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.wrappers import Request, Response

from iflowtest.checks.assertions import (
    ExpectationError,
    check_response,
    expect_header,
    expect_json,
    expect_json_schema,
    expect_max_ms,
    expect_odata,
    expect_status,
    expect_text,
    expect_xpath,
    expect_xsd,
)
from iflowtest.checks.matchers import regex
from iflowtest.errors import ConfigError
from tests.servers import serve

ODATA = {
    "d": {
        "__count": "12",
        "results": [
            {"CostCenter": "10101101", "CompanyCode": "1010", "Amount": 10.5},
            {"CostCenter": "10101102", "CompanyCode": "1010", "Amount": 3},
        ],
    }
}
XML = (
    b'<?xml version="1.0"?><r:Answer xmlns:r="urn:costcenters"><r:Status>ACCEPTED</r:Status>'
    b'<r:Field name="Person">J. Smith</r:Field><r:Field name="Area">A000</r:Field></r:Answer>'
)
ANSWERS = {
    "/json": (200, "application/json", json.dumps(ODATA).encode()),
    "/xml": (200, "application/xml", XML),
    # Parses (entities are declared, never resolved), and then stops libxml2's schema validator (issue 18, C9).
    "/entities": (200, "application/xml", b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;&e;</r>'),
    "/text": (
        500,
        "text/plain",
        b"An internal server error occured: boom.\nThe MPL ID for the failed message is : AGabc",
    ),
}


def app(request: Request) -> Response:
    status, kind, body = ANSWERS[request.path]
    return Response(body, status=status, content_type=kind, headers={"SAP_MessageProcessingLogID": "AGxyz"})


@pytest.fixture(scope="module")
def answers() -> Iterator[dict[str, requests.Response]]:
    with serve(app) as url, requests.Session() as session:
        session.trust_env = False
        yield {path: session.get(url + path, timeout=5) for path in ANSWERS}


def failure(check: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(ExpectationError) as caught:
        check(*args, **kwargs)  # type: ignore[operator]
    assert isinstance(caught.value, AssertionError)  # pytest shows it as a test failure
    return str(caught.value)


def test_status(answers: dict[str, requests.Response]) -> None:
    ok, error = answers["/json"], answers["/text"]
    for spec in (200, "200", "2xx", "200-204", [201, "2xx"]):
        expect_status(ok, spec)
    assert failure(expect_status, error, "2xx") == "status: expected 2xx, got 500 INTERNAL SERVER ERROR"
    assert failure(expect_status, ok, [201, 202]) == "status: expected 201 or 202, got 200 OK"
    with pytest.raises(ConfigError, match="status 'ok' is not a status: write 200, '2xx', '200-204'"):
        expect_status(ok, "ok")


def test_headers(answers: dict[str, requests.Response]) -> None:
    response = answers["/json"]
    expect_header(response, "content-type", "application/json")
    expect_header(response, "SAP_MessageProcessingLogID", {"regex": "AG.*"})
    expect_header(response, "X-Missing", {"absent": True})
    expect_header(response, "Content-Type", {"present": True})
    assert failure(expect_header, response, "Content-Type", regex("application/xml")) == (
        "header Content-Type: expected to match /application/xml/, got 'application/json'"
    )
    assert failure(expect_header, response, "X-Missing", {"present": True}) == (
        "header X-Missing: expected to be present, got nothing"
    )
    assert failure(expect_header, response, "Content-Type", {"absent": True}) == (
        "header Content-Type: expected to be absent, got 'application/json'"
    )


def test_json_paths(answers: dict[str, requests.Response]) -> None:
    response = answers["/json"]
    expect_json(response, "$.d.results[0].CostCenter", "10101101")
    expect_json(response, "$.d.results[*].CompanyCode", {"every": "1010", "count": 2})
    expect_json(response, "$.d.results[*].Amount", {"contains": 3})
    expect_json(response, "$.d.results[?(@.Amount > 5)].CostCenter", "10101101")
    assert failure(expect_json, response, "$.d.results[1].CostCenter", "10101101") == (
        "json $.d.results[1].CostCenter: expected '10101101', got '10101102'"
    )
    assert failure(expect_json, response, "$.d.nothing", {"any": True}) == (
        "json $.d.nothing: expected any value, got nothing (the query matched no value)"
    )
    assert failure(expect_json, answers["/xml"], "$.a", 1).startswith("body: expected JSON, got application/xml")
    with pytest.raises(ConfigError, match=r"JSONPath '\$\.\[' does not parse"):
        expect_json(response, "$.[", 1)


def test_xpath_with_namespaces(answers: dict[str, requests.Response]) -> None:
    response, ns = answers["/xml"], {"r": "urn:costcenters"}
    expect_xpath(response, "/r:Answer/r:Status", "ACCEPTED", ns)
    expect_xpath(response, "//r:Field/@name", {"any_order": ["Area", "Person"]}, ns)
    expect_xpath(response, "count(//r:Field)", 2, ns)
    assert failure(expect_xpath, response, "//r:Field[@name='Person']", "Jane", ns) == (
        "xpath //r:Field[@name='Person']: expected 'Jane', got 'J. Smith'"
    )
    with pytest.raises(ConfigError, match=r"XPath '//x:Status' cannot be evaluated .*\(declared prefixes: r\)"):
        expect_xpath(response, "//x:Status", "ACCEPTED", ns)
    assert failure(expect_xpath, answers["/text"], "/a", 1).startswith(
        "body: expected XML, got text/plain that does not parse"
    )


def test_text(answers: dict[str, requests.Response]) -> None:
    response = answers["/text"]
    expect_text(response, {"contains": "internal server error"})
    expect_text(response, {"regex": r"(?s).*MPL ID for the failed message is : AG\w+"})
    assert failure(expect_text, response, {"contains": "COMPLETED"}).startswith(
        "text: expected text containing 'COMPLETED', got 'An internal server error occured: boom."
    )


def test_odata(answers: dict[str, requests.Response]) -> None:
    response = answers["/json"]
    expect_odata(
        response, count=2, inlinecount={"min": 10}, every={"CompanyCode": "1010", "CostCenter": {"regex": r"\d{8}"}}
    )
    assert failure(expect_odata, response, count={"min": 3}, every={"CostCenter": "10101101"}) == (
        "odata count: expected a number ≥ 3, got 2\n"
        "odata every CostCenter: result [1] of 2: expected '10101101', got '10101102'"
    )
    assert failure(expect_odata, response, inlinecount=11) == "odata inlinecount: expected 11, got 12"


def test_json_schema_and_xsd(answers: dict[str, requests.Response], tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"d": {"required": ["results", "next"]}}}
    expect_json_schema(answers["/json"], {"type": "object"})
    assert failure(expect_json_schema, answers["/json"], schema) == (
        "json_schema inline schema: $.d: 'next' is a required property"
    )
    (tmp_path / "answer.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:costcenters" '
        'elementFormDefault="qualified"><xs:element name="Answer"><xs:complexType><xs:sequence>'
        '<xs:element name="Status" type="xs:string"/></xs:sequence></xs:complexType></xs:element></xs:schema>'
    )
    message = failure(expect_xsd, answers["/xml"], "answer.xsd", base=tmp_path)
    assert message.startswith("xsd answer.xsd: line 1: Element '{urn:costcenters}Field': This element is not expected.")
    with pytest.raises(
        ConfigError, match=r"XSD missing\.xsd cannot be read .*: put it under fixtures/ and check the path"
    ):
        expect_xsd(answers["/xml"], "missing.xsd", base=tmp_path)


def test_xsd_against_an_answer_with_unresolved_entities_is_a_failure_not_an_lxml_error(
    answers: dict[str, requests.Response], tmp_path: Path
) -> None:
    (tmp_path / "r.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="r" type="xs:string"/></xs:schema>'
    )
    assert failure(expect_xsd, answers["/entities"], "r.xsd", base=tmp_path) == (
        "xsd r.xsd: the answer cannot be validated: it uses entities declared in its DOCTYPE, which are never "
        "resolved (no file or network is read for an answer)"
    )


def test_max_ms(answers: dict[str, requests.Response]) -> None:
    expect_max_ms(answers["/json"], 10_000)
    assert failure(expect_max_ms, answers["/json"], 0.0001).startswith("max_ms: expected at most 0.0001 ms, took ")


def test_check_response_reports_every_unmet_expectation(answers: dict[str, requests.Response]) -> None:
    response = answers["/json"]
    check_response(response, {"status": 200, "json": {"$.d.results[0].CompanyCode": "1010"}})

    message = failure(
        check_response,
        response,
        {"status": 201, "headers": {"Content-Type": "text/plain"}, "json": {"$.d.__count": "13"}, "max_ms": 60_000},
    )

    assert message.splitlines() == [
        "status: expected 201, got 200 OK",
        "header Content-Type: expected 'text/plain', got 'application/json'",
        "json $.d.__count: expected '13', got '12'",
    ]
    with pytest.raises(ConfigError, match="unknown expectation 'stauts': expectations are status, max_ms"):
        check_response(response, {"stauts": 200})
