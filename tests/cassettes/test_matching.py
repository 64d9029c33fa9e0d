"""Request matching: normalised keys, ignore rules for dynamic values, and the reasons a near miss missed."""

from __future__ import annotations

import uuid

import pytest

from iflowtest import ConfigError
from iflowtest.cassettes.matching import MatchRules, explain, request_key

RULES = MatchRules()
JSON = {"Content-Type": "application/json"}
XML = {"Content-Type": "application/xml"}


def key(method: str, uri: str, body: bytes | None = None, headers: dict[str, str] | None = None, rules=RULES):
    return request_key(method, uri, headers or {}, body, rules)


def test_path_and_query_are_normalised_and_hosts_ignored() -> None:
    assert key("get", "https://a:1/http//x/?b=2&a=1") == key("GET", "https://b:2/http/x?a=1&b=2")
    assert key("GET", "https://a/http/x%20y") == key("GET", "https://a/http/x y")
    assert key("GET", "https://a/http/x") != key("GET", "https://a/http/X")


def test_bodies_compare_by_content_for_modifying_calls_only() -> None:
    assert key("POST", "/x", b'{"a": 1, "b": [1, 2]}', JSON) == key("POST", "/x", b'{"b":[1,2],"a":1}', JSON)
    assert key("POST", "/x", b"<a>\n  <b>1</b>\n</a>", XML) == key("POST", "/x", b"<a><b>1</b></a>", XML)
    assert key("POST", "/x", b'{"a": 1}', JSON) != key("POST", "/x", b'{"a": 2}', JSON)
    assert key("GET", "/x", b"one") == key("GET", "/x", b"two")


def test_guids_timestamps_and_secrets_are_ignored_by_default() -> None:
    first = f'{{"id": "{uuid.uuid4()}", "at": "2026-11-24T07:41:00.123Z", "client_secret": "a"}}'.encode()
    second = f'{{"id": "{uuid.uuid4()}", "at": "2027-01-01T00:00:00+01:00", "client_secret": "b"}}'.encode()
    assert key("POST", "/x", first, JSON) == key("POST", "/x", second, JSON)
    assert key("GET", f"/x?id={uuid.uuid4()}") == key("GET", f"/x?id={uuid.uuid4()}")


def test_configured_fields_are_ignored_and_patterns_replace_the_defaults() -> None:
    rules = MatchRules.from_table({"ignore_fields": ["Stamp", "RequestId"], "ignore_patterns": [r"run-\d+"]})
    assert key("POST", "/x", b"<a><Stamp>1</Stamp>run-1</a>", XML, rules) == key(
        "POST", "/x", b"<a><Stamp>2</Stamp>run-2</a>", XML, rules
    )
    assert key("POST", "/x", b'{"RequestId": 1}', JSON, rules) == key("POST", "/x", b'{"RequestId": 2}', JSON, rules)
    guid_a, guid_b = (f'{{"id": "{uuid.uuid4()}"}}'.encode() for _ in range(2))
    assert key("POST", "/x", guid_a, JSON, rules) != key("POST", "/x", guid_b, JSON, rules)


def test_csrf_fetch_is_its_own_request() -> None:
    assert key("GET", "/x", headers={"X-CSRF-Token": "Fetch"}) != key("GET", "/x")


def test_explain_names_each_difference() -> None:
    live = key("POST", "/http/a?companyCode=1010&top=1", b'{"name": "Smith"}', JSON | {"X-CSRF-Token": "Fetch"})
    recorded = key("PUT", "/http/b?companyCode=1020", b'{"name": "Smyth"}', JSON)

    assert explain(live, recorded) == [
        "method is POST, recorded PUT",
        "path is /http/a, recorded /http/b",
        "query parameter companyCode is '1010', recorded '1020'",
        'body differs at character 12: sent ...\'{"name": "Smith"}\'..., recorded ...\'{"name": "Smyth"}\'...',
        "one is a CSRF fetch (X-CSRF-Token: Fetch), the other is not",
    ]
    assert explain(live, live) == []


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"ignore_fields": "Stamp"}, "[tool.iflowtest.cassettes] ignore_fields must be a list of non-empty strings"),
        ({"ignore_patterns": ["("]}, "[tool.iflowtest.cassettes] ignore_patterns: '(' is not a regular expression"),
    ],
)
def test_bad_rules_are_config_errors(table: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        MatchRules.from_table(table)
    assert str(caught.value).startswith(message)
