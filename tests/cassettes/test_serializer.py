"""Readable cassettes: bodies pretty-printed in block style, and replayed byte for byte as recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from iflowtest.cassettes import serializer as cassette_yaml
from iflowtest.cassettes.serializer import drop_handled_csrf_challenges


def roundtrip(body: str | bytes | None, content_type: str) -> tuple[str, object]:
    cassette = {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "POST", "uri": "{runtime}/x", "body": body, "headers": {}},
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"Content-Type": [content_type]},
                    "body": {"string": body},
                },
            }
        ],
    }
    text = cassette_yaml.serialize(json.loads(json.dumps(cassette)) if not isinstance(body, bytes) else cassette)
    loaded = cassette_yaml.deserialize(text)["interactions"][0]
    assert loaded["response"]["body"]["string"] == body
    assert loaded["request"]["body"] == body
    return text, loaded


@pytest.mark.parametrize(
    "body",
    [
        '{"d":{"results":[{"a":1,"b":"ü"}]}}',
        '{"d": {"results": [{"a": 1, "b": "\\u00fc"}]}}',
        '{"a": 1.5, "b": null}',
    ],
)
def test_json_is_pretty_in_a_block_and_restored_exactly(body: str) -> None:
    text, _ = roundtrip(body, "application/json")

    assert "string: |-\n" in text
    assert '\n        {\n          "' in text


def test_xml_with_and_without_declaration() -> None:
    text, _ = roundtrip("<a><b x='1'>t</b><c/></a>", "application/xml")
    assert "    <a>\n" in text and "      <b x='1'>t</b>\n" in text

    declared = "<?xml version='1.0' encoding='UTF-8'?>\n<r><s>ok</s></r>"
    text, _ = roundtrip(declared, "application/xml")
    assert "format: xml-declared" in text and "<?xml version='1.0' encoding='UTF-8'?>\n" in text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"a":1, "b":2}', "application/json"),  # mixed separators: cannot be reproduced, kept as recorded
        ("<a> <b/></a>", "application/xml"),  # whitespace between tags is data
        ("line one\nline two", "text/plain"),
        ("", "text/plain"),
        (None, "text/plain"),
    ],
)
def test_bodies_that_cannot_be_reformatted_exactly_are_kept_as_recorded(body: str | None, content_type: str) -> None:
    text, _ = roundtrip(body, content_type)

    assert "format:" not in text


def test_binary_stays_binary() -> None:
    text, _ = roundtrip(bytes(range(200, 256)), "application/octet-stream")

    assert "!!binary" in text


def test_unknown_layout_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown body_format 'yaml' in cassette: re-record it"):
        cassette_yaml.undo_pretty("x", "yaml")


def test_headers_are_written_sorted_by_name() -> None:
    cassette = {
        "interactions": [
            {
                "request": {"method": "GET", "uri": "{runtime}/x", "body": None, "headers": {"b": ["1"], "A": ["2"]}},
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"Server": ["s"], "content-type": ["text/plain"], "Content-Length": ["2"]},
                    "body": {"string": "ok"},
                },
            }
        ]
    }

    loaded = cassette_yaml.deserialize(cassette_yaml.serialize(cassette))["interactions"][0]

    assert list(loaded["request"]["headers"]) == ["A", "b"]
    assert list(loaded["response"]["headers"]) == ["Content-Length", "content-type", "Server"]


def _interaction(method: str, status: int, csrf: str | None = None) -> dict[str, Any]:
    headers = {"X-CSRF-Token": [csrf]} if csrf else {}
    return {
        "request": {"method": method, "uri": "{runtime}/http/costcenters/changerequest", "headers": {}},
        "response": {"status": {"code": status, "message": ""}, "headers": headers, "body": {"string": ""}},
    }


def test_a_handled_csrf_challenge_is_left_out_and_one_that_came_back_stays() -> None:
    # The first modifying call of a client in its process meets the challenge, whichever test it belongs to.
    handled = {"interactions": [_interaction("POST", 403, "Required"), _interaction("POST", 200)]}
    came_back = {"interactions": [_interaction("POST", 403, "Required"), _interaction("POST", 403, "Required")]}
    alone = {"interactions": [_interaction("POST", 403, "Required")]}

    drop_handled_csrf_challenges(handled)
    drop_handled_csrf_challenges(came_back)
    drop_handled_csrf_challenges(alone)

    assert [i["response"]["status"]["code"] for i in handled["interactions"]] == [200]
    assert len(came_back["interactions"]) == 2 and len(alone["interactions"]) == 1
