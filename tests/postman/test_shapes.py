"""Every shape Newman's runtime (the postman-collection SDK) accepts imports to the same suite as the v2.1 form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from iflowtest.postman.importer import import_collection

V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
TESTS = {"listen": "test", "script": {"exec": ["pm.response.to.have.status(200);"]}}
CANONICAL: dict[str, Any] = {
    "info": {"name": "shapes", "schema": V21, "description": "text"},
    "auth": {"type": "basic", "basic": [{"key": "username", "value": "{{u}}"}, {"key": "password", "value": "{{p}}"}]},
    "item": [
        {
            "name": "read",
            "event": [TESTS],
            "request": {
                "method": "GET",
                "url": "{{baseUrl}}/http/costcenters?companyCode=1010",
                "header": [{"key": "Accept", "value": "application/json"}],
            },
        }
    ],
}


def variant(**changes: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(CANONICAL))
    for path, value in changes.items():
        *parents, last = path.split("__")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is DROP:
            del node[last]
        else:
            node[int(last) if last.isdigit() else last] = value
    return data


DROP = object()
SHAPES = {
    "info missing, name at the top": {
        **{k: v for k, v in CANONICAL.items() if k != "info"},
        "name": "shapes",
    },
    "no schema": variant(info__schema=DROP),
    "description as an object": variant(info__description={"content": "text", "type": "text/markdown"}),
    "auth attributes as an object": variant(
        auth={"type": "basic", "basic": {"username": "{{u}}", "password": "{{p}}"}}
    ),
    "event as an object": variant(item__0__event=TESTS),
    "event script as text": variant(item__0__event=[{"listen": "test", "script": "pm.response.to.have.status(200);"}]),
    "script exec as text": variant(
        item__0__event=[{"listen": "test", "script": {"exec": "pm.response.to.have.status(200);"}}]
    ),
    "header as a text": variant(item__0__request__header="Accept: application/json"),
    "header as an object": variant(item__0__request__header={"Accept": "application/json"}),
    "url as an object": variant(
        item__0__request__url={
            "raw": "{{baseUrl}}/http/costcenters?companyCode=1010",
            "host": ["{{baseUrl}}"],
            "path": ["http", "costcenters"],
            "query": {"key": "companyCode", "value": "1010"},
        }
    ),
    "item as an object": {**CANONICAL, "item": CANONICAL["item"][0]},
}


def imported(tmp_path: Path, data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pyproject.toml").write_text("")
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    out = tmp_path / "suites" / "s"
    import_collection(path, out, force=True)
    return [yaml.safe_load(p.read_text()) for p in sorted(out.rglob("*.iflow.yaml"))]


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_newman_accepts_imports_like_the_v21_form(tmp_path: Path, shape: str) -> None:
    expected = imported(tmp_path / "canonical", CANONICAL, "canonical")

    assert imported(tmp_path / "variant", SHAPES[shape], "variant") == expected


def test_a_request_as_a_url_string_is_a_get(tmp_path: Path) -> None:
    data = variant(item__0__request="{{baseUrl}}/http/costcenters?companyCode=1010")

    (suite,) = imported(tmp_path, data, "string")

    assert suite["cases"][0]["request"] == {
        "method": "GET",
        "path": "/http/costcenters",
        "query": {"companyCode": "1010"},
    }
