"""Postman test scripts through the JavaScript syntax tree: each construct converted, and the converted corpus
failing where Newman fails, through real HTTP against the emulator."""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from iflowtest.postman.scripts import convert

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "bench" / "postman_corpus"

D = "const d = pm.response.json();"
CONSTRUCTS: dict[str, tuple[str, dict[str, Any]]] = {
    # status in its spellings, one line or many, several tests per line
    "status one line": ('pm.test("200", () => pm.response.to.have.status(200));', {"status": 200}),
    "status function": ('pm.test("200", function () {\n  pm.response.to.have.status(201);\n});', {"status": 201}),
    "several per line": (
        'pm.test("a", () => pm.response.to.have.status(200)); pm.test("b", () => { pm.expect(pm.response.code).to.eql(200); });',
        {"status": 200},
    ),
    "code eql": ('pm.test("t", () => pm.expect(pm.response.code).to.eql(403));', {"status": 403}),
    "code equal": ('pm.test("t", () => pm.expect(pm.response.code).to.equal(204));', {"status": 204}),
    "oneOf": ('pm.test("t", () => pm.expect(pm.response.code).to.be.oneOf([200, 404]));', {"status": [200, 404]}),
    "within": ('pm.test("t", () => pm.expect(pm.response.code).to.be.within(200, 299));', {"status": "2xx"}),
    "above and below": (
        'pm.test("t", () => pm.expect(pm.response.code).to.be.above(199).and.below(204));',
        {"status": "200-203"},
    ),
    "greaterThan lessThan": (
        'pm.test("t", () => { pm.expect(pm.response.code).to.be.greaterThan(399); pm.expect(pm.response.code).to.be.lessThan(500); });',
        {"status": "4xx"},
    ),
    "not status": ('pm.test("t", () => pm.response.to.not.have.status(500));', {"status": ["100-499", "501-599"]}),
    "be ok": ('pm.test("t", () => { pm.response.to.be.ok; });', {"status": 200}),
    "success": ('pm.test("t", () => { pm.response.to.be.success; });', {"status": "2xx"}),
    "not error": ('pm.test("t", () => { pm.response.to.not.be.error; });', {"status": "100-399"}),
    "named status": ('pm.test("t", () => { pm.response.to.be.notFound; });', {"status": 404}),
    "reason": ('pm.test("t", () => pm.expect(pm.response.status).to.eql("OK"));', {"reason": "OK"}),
    "status text": ('pm.test("t", () => pm.response.to.have.status("Created"));', {"reason": "Created"}),
    "responseTime": ('pm.test("t", () => pm.expect(pm.response.responseTime).to.be.below(2000));', {"max_ms": 2000}),
    # headers and text
    "have header": ('pm.test("t", () => pm.response.to.have.header("X-A"));', {"headers": {"X-A": {"present": True}}}),
    "header value": (
        'pm.test("t", () => pm.response.to.have.header("X-A", "1"));',
        {"headers": {"X-A": {"exactly": "1"}}},
    ),
    "headers.get include": (
        'pm.test("t", () => pm.expect(pm.response.headers.get("Content-Type")).to.include("json"));',
        {"headers": {"Content-Type": {"contains": "json"}}},
    ),
    "text include": (
        'pm.test("t", () => pm.expect(pm.response.text()).to.include("ok"));',
        {"text": {"contains": "ok"}},
    ),
    "text not empty": (
        'pm.test("t", () => pm.expect(pm.response.text()).to.not.be.empty);',
        {"text": {"length": {"min": 1}}},
    ),
    # JSON through variables
    "json path through a variable": (
        D + '\npm.test("t", function () {\n  pm.expect(d.d.results[0].CostCenter).to.eql("A1");\n});',
        {"json": {"$.d.results[0].CostCenter": "A1"}},
    ),
    "typed values stay typed": (
        D + '\npm.test("t", () => { pm.expect(d.n).to.eql(3); pm.expect(d.s).to.eql("3"); });',
        {"json": {"$.n": {"exactly": 3}, "$.s": {"exactly": "3"}}},
    ),
    "deep equal": (
        D + '\npm.test("t", () => pm.expect(d.a).to.deep.equal({b: [1, "x"]}));',
        {"json": {"$.a": {"exactly": {"b": [1, "x"]}}}},
    ),
    "not": (D + '\npm.test("t", () => pm.expect(d.a).to.not.eql("x"));', {"json": {"$.a": {"not": "x"}}}),
    "oneOf on a value": (
        D + '\npm.test("t", () => pm.expect(d.a).to.be.oneOf(["x", "y"]));',
        {"json": {"$.a": {"one_of": ["x", "y"]}}},
    ),
    "within on a value": (
        D + '\npm.test("t", () => pm.expect(d.n).to.be.within(1, 9));',
        {"json": {"$.n": {"min": 1, "max": 9}}},
    ),
    "above below aliases": (
        D + '\npm.test("t", () => { pm.expect(d.n).to.be.greaterThan(1); pm.expect(d.m).to.be.lessThan(9); });',
        {"json": {"$.n": {"above": 1}, "$.m": {"below": 9}}},
    ),
    "not above": (D + '\npm.test("t", () => pm.expect(d.n).to.not.be.above(5));', {"json": {"$.n": {"max": 5}}}),
    "include in a list": (
        D + '\npm.test("t", () => pm.expect(d.tags).to.include("a"));',
        {"json": {"$.tags": {"contains": "a"}}},
    ),
    "include an object subset": (
        D + '\npm.test("t", () => pm.expect(d.row).to.include({a: 1}));',
        {"json": {"$.row": {"fields": {"a": {"exactly": 1}}}}},
    ),
    "have property": (
        D + '\npm.test("t", () => { pm.expect(d).to.have.property("a"); pm.expect(d.r).to.have.property("b", "x"); });',
        {"json": {"$.a": {"present": True}, "$.r.b": "x"}},
    ),
    "property then chain": (
        D + '\npm.test("t", () => pm.expect(d).to.have.property("n").that.is.a("number"));',
        {"json": {"$.n": {"present": True, "type": "number"}}},
    ),
    "lengthOf": (
        D + '\npm.test("t", () => pm.expect(d.list).to.have.lengthOf(3));',
        {"json": {"$.list": {"length": 3}}},
    ),
    "length above": (
        D + '\npm.test("t", () => pm.expect(d.list.length).to.be.above(0));',
        {"json": {"$.list": {"length": {"above": 0}}}},
    ),
    "empty": (D + '\npm.test("t", () => pm.expect(d.list).to.be.empty);', {"json": {"$.list": {"length": 0}}}),
    "exist": (
        D + '\npm.test("t", () => { pm.expect(d.a).to.exist; pm.expect(d.b).to.not.exist; });',
        {
            "json": {
                "$.a": {"present": True, "not": {"exactly": None}},
                "$.b": {"any_of": [{"absent": True}, {"exactly": None}]},
            }
        },
    ),
    "ok and true": (
        D + '\npm.test("t", () => { pm.expect(d.a).to.be.ok; pm.expect(d.b).to.be.true; });',
        {"json": {"$.a": {"truthy": True}, "$.b": {"exactly": True}}},
    ),
    "match": (
        D + '\npm.test("t", () => pm.expect(d.id).to.match(/^\\d{4}$/));',
        {"json": {"$.id": {"regex": ".*?(?:^\\d{4}$).*"}}},
    ),
    "type": (D + '\npm.test("t", () => pm.expect(d.list).to.be.an("array"));', {"json": {"$.list": {"type": "array"}}}),
    "forEach every item": (
        D
        + '\npm.test("t", () => { d.d.results.forEach(function (r) { pm.expect(r.CompanyCode).to.eql("1010"); }); });',
        {"json": {"$.d.results": {"every": {"fields": {"CompanyCode": {"exactly": "1010"}}}, "empty_ok": True}}},
    ),
    "forEach arrow one line": (
        'pm.test("t", () => pm.response.json().rows.forEach(r => pm.expect(r.a.b).to.be.above(0)));',
        {"json": {"$.rows": {"every": {"fields": {"a": {"fields": {"b": {"above": 0}}}}}, "empty_ok": True}}},
    ),
    "jsonBody": (
        'pm.test("t", () => pm.response.to.have.jsonBody("d.results[0].Id", 7));',
        {"json": {"$.d.results[0].Id": {"exactly": 7}}},
    ),
    "jsonSchema": (
        'var schema = {"type": "object", "required": ["d"]};\npm.test("t", () => pm.response.to.have.jsonSchema(schema));',
        {"json_schema": {"type": "object", "required": ["d"]}},
    ),
    "condition to.be.true": (
        D + '\npm.test("t", () => pm.expect(d.n === 3 && d.s !== "x").to.be.true);',
        {"json": {"$.n": {"exactly": 3}, "$.s": {"not": "x"}}},
    ),
    # the legacy sandbox
    "legacy responseCode": ('tests["200"] = responseCode.code === 200;', {"status": 200}),
    "legacy responseBody": ('tests["has"] = responseBody.has("ok");', {"text": {"contains": "ok"}}),
    "legacy indexOf": ('tests["has"] = responseBody.indexOf("ok") !== -1;', {"text": {"contains": "ok"}}),
    "legacy JSON.parse": (
        'var data = JSON.parse(responseBody);\ntests["n"] = data.items.length > 2;',
        {"json": {"$.items": {"length": {"above": 2}}}},
    ),
    "legacy time and header": (
        'tests["fast"] = responseTime < 300;\ntests["ct"] = postman.getResponseHeader("Content-Type");',
        {"max_ms": 300, "headers": {"Content-Type": {"truthy": True}}},
    ),
    "legacy either status": (
        'tests["ok"] = responseCode.code === 201 || responseCode.code === 202;',
        {"status": "201-202"},
    ),
    "legacy tv4": (
        'var schema = {type: "array"};\ntests["valid"] = tv4.validate(JSON.parse(responseBody), schema);',
        {"json_schema": {"type": "array"}},
    ),
    "keys": (
        D
        + '\npm.test("t", () => { pm.expect(d.a).to.have.all.keys("x", "y"); pm.expect(d.b).to.include.keys("z"); });',
        {
            "json": {
                "$.a": {"fields": {"x": {"present": True}, "y": {"present": True}}, "type": "object", "length": 2},
                "$.b": {"fields": {"z": {"present": True}}, "type": "object"},
            }
        },
    ),
    "a missing parent throws as in JavaScript": (
        D + '\npm.test("t", () => pm.expect(d.a.b).to.not.exist);',
        {
            "json": {
                "$.a": {"present": True, "not": {"exactly": None}},
                "$.a.b": {"any_of": [{"absent": True}, {"exactly": None}]},
            }
        },
    ),
    "optional chaining does not throw": (
        D + '\npm.test("t", () => pm.expect(d?.a?.b).to.be.undefined);',
        {"json": {"$.a.b": {"absent": True}}},
    ),
    "xml2Json": (
        'var x = xml2Json(responseBody);\npm.test("t", () => { pm.expect(x.feed.entry[0]["d:Id"]).to.eql("7"); pm.expect(x.feed.$.lang).to.eql("en"); });',
        {
            "xpath": {
                "/*[name()='feed']/*[name()='entry'][1]/*[name()='d:Id']": {"exactly": "7"},
                "/*[name()='feed']/@*[name()='lang']": "en",
            }
        },
    ),
    "headers.has": (
        'pm.test("t", () => { pm.expect(pm.response.headers.has("X-A")).to.be.true; });',
        {"headers": {"X-A": {"present": True}}},
    ),
    "jsonSchema on the body": (
        'const s = {type: "object"};\npm.test("t", () => pm.expect(pm.response.json()).to.have.jsonSchema(s));',
        {"json_schema": {"type": "object"}},
    ),
    "regex test": (
        'tests["id"] = /^\\d+$/.test(JSON.parse(responseBody).id);',
        {"json": {"$.id": {"regex": ".*?(?:^\\d+$).*"}}},
    ),
    "lodash type checks": (
        'tests["list"] = _.isArray(JSON.parse(responseBody).items);',
        {"json": {"$.items": {"type": "array"}}},
    ),
    "jsonBody of an object": (
        'pm.test("t", () => pm.response.to.have.jsonBody({ok: true}));',
        {"json": {"$": {"exactly": {"ok": True}}}},
    ),
    # values from Postman variables
    "variable in an expectation": (
        D + '\npm.test("t", () => pm.expect(d.code).to.eql(pm.environment.get("companyCode")));',
        {"json": {"$.code": "${companyCode}"}},
    ),
}


@pytest.mark.parametrize("construct", CONSTRUCTS)
def test_each_construct_converts(construct: str) -> None:
    script, expected = CONSTRUCTS[construct]

    result = convert(script.splitlines())

    assert result.expect == expected
    assert result.unconverted == []
    assert result.converted == len(result.assertions) >= 1


def test_saves_from_the_response_become_save() -> None:
    script = [
        "const body = pm.response.json();",
        'pm.collectionVariables.set("id", body.d.Id);',
        'pm.environment.set("etag", pm.response.headers.get("ETag"));',
        'postman.setEnvironmentVariable("first", JSON.parse(responseBody).items[0]);',
        'pm.globals.set("fixed", "abc");',
    ]

    result = convert(script)

    assert result.save == {"id": {"json": "$.d.Id"}, "etag": {"header": "ETag"}, "first": {"json": "$.items[0]"}}
    assert result.assertions == []
    assert result.kept == [
        (
            '`pm.globals.set("fixed", "abc")`',
            "value not saved: the value is a literal, not taken from the response body or headers",
        )
    ]


@pytest.mark.parametrize(
    ("script", "why"),
    [
        (
            'if (pm.response.code === 200) { pm.test("a", () => pm.response.to.have.status(200)); }',
            'inside `if (pm.response.code === 200) { pm.test("a", () =…`, which is not converted',
        ),
        ('pm.test("a", () => pm.expect(pm.response.json().x).to.satisfy(v => v > 1));', "satisfy is not converted"),
        ('pm.test("a", () => { pm.sendRequest("u", () => {}); });', "is not converted"),
        (
            'pm.test("a", () => pm.expect(pm.response.json().list).to.equal([1]));',
            "compares a list or object by reference",
        ),
        (
            'pm.test("a", () => pm.response.to.have.status(200));\npm.test("b", () => pm.response.to.have.status(404));',
            "contradicts another test's",
        ),
        (
            'const data = pm.response.json();\npm.test("a", () => pm.expect(data.x).to.eql(1));',
            "Identifier 'data' has already been declared",
        ),
        ('pm.test("a", () => pm.expect(x).to.eql(1);', "does not parse"),
    ],
)
def test_what_does_not_convert_is_named_with_the_reason(script: str, why: str) -> None:
    result = convert(script.splitlines())

    assert result.unconverted and why in result.unconverted[-1]
    assert result.unconverted[-1].startswith("pm.test '")
    assert result.converted == len(result.assertions) - len(result.unconverted)


def test_an_assertion_converts_as_a_whole_or_not_at_all() -> None:
    result = convert(
        [
            'pm.test("mixed", function () {',
            "    pm.response.to.have.status(200);",
            "    pm.expect(pm.response.json().x).to.satisfy(Boolean);",
            "});",
            'pm.test("plain", () => pm.response.to.have.header("X-A"));',
        ]
    )

    assert result.expect == {"headers": {"X-A": {"present": True}}}  # nothing of the test that did not convert
    assert [a.label for a in result.assertions if not a.converted] == ["pm.test 'mixed'"]


# --------------------------------------------------------------------------- the corpus through real HTTP
def load_parity() -> ModuleType:
    if "bench_parity" in sys.modules:
        return sys.modules["bench_parity"]
    spec = importlib.util.spec_from_file_location("bench_parity", ROOT / "bench" / "parity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_parity"] = module
    spec.loader.exec_module(module)
    return module


def test_the_imported_corpus_has_newmans_verdict_on_the_emulator(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every corpus item whose assertions all converted gets the verdict Newman recorded; the others fail."""
    from iflowtest.postman.importer import import_collection

    parity = load_parity()
    newman = json.loads((CORPUS / "newman-verdicts.json").read_text())
    clients: dict[str, Any] = {}
    reports: dict[str, Any] = {}
    for collection in sorted(CORPUS.glob("*.postman_collection.json")):
        out = pytester.path / "suites" / collection.stem.split(".")[0]
        for item in import_collection(collection, out).items:
            reports[item.label.rsplit(" / ", 1)[-1]] = item
        if (out / "clients.toml").is_file():
            clients |= tomllib.loads((out / "clients.toml").read_text())["tool"]["iflowtest"]["clients"]
    tables = "".join(
        f"\n[tool.iflowtest.clients.{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in spec.items())
        for name, spec in clients.items()
    )
    (pytester.path / "pyproject.toml").write_text(f'[tool.iflowtest]\nsuites = ["suites"]\n{tables}')
    (pytester.path / "conftest.py").write_text(parity.CONFTEST)
    results_file = pytester.path / "results.json"
    monkeypatch.setenv("PARITY_RESULTS", str(results_file))
    monkeypatch.setenv("companyCode", "1010")

    pytester.runpytest_inprocess("suites", "-p", "no:hypothesispytest", "-p", "no:randomly")

    results: dict[str, Any] = {}
    for case in json.loads(results_file.read_text()):
        parity._case_into_items(case, results)
    expected = {item: ok for verdicts in newman.values() for item, ok in verdicts.items()}
    assert set(results) == set(expected)
    converted = {name for name, report in reports.items() if report.converted == report.assertions}
    assert {n: results[n].ours_ok for n in converted} == {n: expected[n] for n in converted}
    assert not any(results[n].ours_ok for n in set(results) - converted)  # not converted: fails until it is
    assert sum(1 for n in converted if not expected[n]) >= 25  # the corpus fails where Newman does, often
