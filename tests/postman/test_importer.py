"""`iflowtest import-postman`: every accepted shape, every error (exit 2), the sample collection run against the emulator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from iflowtest.cases.format import load_schema
from iflowtest.cli import main
from iflowtest.postman.importer import import_collection

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "fixtures" / "postman"
V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
V20 = "https://schema.getpostman.com/json/collection/v2.0.0/collection.json"


def write(path: Path, data: Any, encoding: str = "utf-8", bom: bytes = b"") -> Path:
    path.write_bytes(bom + json.dumps(data).encode(encoding))
    return path


def suites(out: Path) -> list[dict[str, Any]]:
    found = [yaml.safe_load(p.read_text()) for p in sorted(out.rglob("*.iflow.yaml"))]
    for suite in found:
        jsonschema.validate(suite, load_schema())
    return found


def cases(out: Path) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for s in suites(out) for c in s["cases"]}


def import_sample(project: Path) -> Path:
    out = project / "suites" / "cpi"
    code = main(
        [
            "import-postman",
            str(SAMPLE / "cpi-costcenters.postman_collection.json"),
            "--environment",
            str(SAMPLE / "cpi.postman_environment.json"),
            "--data",
            str(SAMPLE / "company_codes.json"),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_sample_collection_imports_into_valid_suites_and_a_full_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.iflowtest]\n")
    out = import_sample(tmp_path)

    found = cases(out)
    assert set(found) == {
        "cost centers of a company code",
        "unknown company code",
        "without credentials",
        "one cost center by key",
        "a failing flow answers 500",
    }
    first = found["cost centers of a company code"]
    assert first["client"] == "pm_cpi_basic"
    assert first["table"] == "fixtures/cpi/data.json"
    assert (tmp_path / "fixtures" / "cpi" / "data.json").is_file()
    assert first["request"]["query"] == {"companyCode": "${companyCode}", "$top": "${top}"}
    assert first["request"]["headers"] == {"Accept": "application/json"}  # the disabled X-Debug is left out
    assert first["expect"] == {
        "status": 200,
        "json": {"$.d.results[0].CompanyCode": "${companyCode}"},
        "headers": {"Content-Length": {"present": True}, "Content-Type": {"contains": "application/json"}},
        "max_ms": 5000,
    }
    assert found["unknown company code"]["expect"] == {"status": [200, 204], "text": {"contains": "results"}}
    assert found["without credentials"]["auth"] == "none"
    assert found["one cost center by key"]["client"] == "pm_cpi_oauth"

    report = (out / "CONVERSION.md").read_text()
    assert "5 item(s), 5 converted, 0 partly converted, 0 unsupported" in report
    assert "Note: The suite's files are one sequence ('suites/cpi')" in report
    assert "Note: Requests on `${baseUrl}` are taken as the CPI runtime" in report
    assert "| OData / a failing flow answers 500 | converted | 2 | 2 | 0 |" in report  # console.log checks nothing
    assert "| **total** | | 11 | 11 | 0 |" in report
    printed = capsys.readouterr().out
    assert (
        "5 item(s): 5 converted, 0 partly converted, 0 unsupported; Postman assertions: 11 of 11 converted" in printed
    )

    env = (out / ".env.example").read_text()
    assert "_KEY=" not in env  # the clients take the environment's values, no service key
    assert "clientsecret=\n" in env and "accessToken=\n" in env
    assert "tokenUrl=https://127.0.0.1:8443/oauth/token\n" in env
    clients = (out / "clients.toml").read_text()
    assert "[tool.iflowtest.clients.pm_cpi_oauth]" in clients
    assert (
        'source = "variables"\nurl = "${baseUrl}"\nclientid = "${clientid}"\nclientsecret = "${clientsecret}"'
        in clients
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "-n 2"])
def test_imported_sample_runs_against_the_emulator(pytester: pytest.Pytester, workers: list[str]) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    (pytester.path / "pyproject.toml").write_text(pyproject)
    out = import_sample(pytester.path)
    (pytester.path / "pyproject.toml").write_text(pyproject + "\n" + (out / "clients.toml").read_text())

    result = pytester.runpytest_inprocess("suites", "-v", "-p", "no:hypothesispytest", "-p", "no:randomly", *workers)

    result.assert_outcomes(passed=10)
    if workers:  # the sample's two iterations save nothing: one on each worker, each in collection order
        ran = [line.split() for line in result.outlines if "PASSED" in line]
        by_row = {row: [words for words in ran if words[-1].endswith(f"[{row}]")] for row in ("1010", "1710")}
        assert {words[0] for words in by_row["1010"]} != {words[0] for words in by_row["1710"]}
        assert all(len({words[0] for words in lines}) == 1 and len(lines) == 5 for lines in by_row.values())


def collection(items: list[Any], schema: str = V21, **extra: Any) -> dict[str, Any]:
    return {"info": {"name": "shapes", "schema": schema}, "item": items, **extra}


def item(name: str, request: Any, tests: Any = None, **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "request": request, **extra}
    if tests is not None:
        found["event"] = [{"listen": "test", "script": {"type": "text/javascript", "exec": tests}}]
    return found


BODIES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "raw json": (
        {"mode": "raw", "raw": '{"a": "{{x}}"}', "options": {"raw": {"language": "json"}}},
        {"json": {"a": "${x}"}},
    ),
    "raw json with a bare variable": (
        {"mode": "raw", "raw": '{"a": {{n}}}', "options": {"raw": {"language": "json"}}},
        {"text": '{"a": ${n}}', "content_type": "application/json"},
    ),
    "raw xml": ({"mode": "raw", "raw": "<a/>", "options": {"raw": {"language": "xml"}}}, {"xml": "<a/>"}),
    "raw text": ({"mode": "raw", "raw": "hello"}, {"text": "hello"}),
    "urlencoded": (
        {
            "mode": "urlencoded",
            "urlencoded": [{"key": "a", "value": "1"}, {"key": "b", "value": "2", "disabled": True}],
        },
        {"form": {"a": "1"}},
    ),
    "urlencoded with a literal secret": (
        {
            "mode": "urlencoded",
            "urlencoded": [{"key": "client_secret", "value": "abc"}, {"key": "pw", "value": "{{p}}"}],
        },
        {"form": {"client_secret": "${CLIENT_SECRET}", "pw": "${p}"}},
    ),
    "formdata": (
        {"mode": "formdata", "formdata": [{"key": "f", "type": "text", "value": "v"}]},
        {"multipart": {"f": "v"}},
    ),
    "file": ({"mode": "file", "file": {"src": "payload.xml"}}, {"file": "fixtures/out/payload.xml"}),
    "graphql": (
        {"mode": "graphql", "graphql": {"query": "query T { a }", "variables": '{"v": 1}'}},
        {"json": {"query": "query T { a }", "variables": {"v": 1}}},
    ),
}


@pytest.mark.parametrize("mode", BODIES)
def test_each_body_mode_becomes_a_body(tmp_path: Path, mode: str) -> None:
    body, expected = BODIES[mode]
    path = write(
        tmp_path / "c.json", collection([item("b", {"method": "POST", "url": "http://h/http/x", "body": body})])
    )
    (tmp_path / "pyproject.toml").write_text("")

    import_collection(path, tmp_path / "out")

    assert cases(tmp_path / "out")["b"]["request"]["body"] == expected


def test_long_bodies_go_to_fixtures(tmp_path: Path) -> None:
    xml = "<a>\n" + "".join(f"  <b>{{{{v{i}}}}}</b>\n" for i in range(6)) + "</a>"
    body = {"mode": "raw", "raw": xml, "options": {"raw": {"language": "xml"}}}
    path = write(
        tmp_path / "c.json", collection([item("Long one", {"method": "POST", "url": "x/http/y", "body": body})])
    )
    (tmp_path / "pyproject.toml").write_text("")

    import_collection(path, tmp_path / "suites" / "long")

    assert cases(tmp_path / "suites" / "long")["Long one"]["request"]["body"] == {
        "file": "fixtures/long/long-one.xml",
        "content_type": "application/xml",
    }
    assert "<b>${v0}</b>" in (tmp_path / "fixtures" / "long" / "long-one.xml").read_text()


def test_v20_shapes_strings_path_variables_and_inherited_auth(tmp_path: Path) -> None:
    data = collection(
        [
            {
                "name": "Outer",
                "auth": {"type": "bearer", "bearer": {"token": "{{tok}}"}},  # v2.0: an object, not key/value pairs
                "item": [
                    {
                        "name": "Inner",
                        "item": [
                            item("string request", "{{baseUrl}}/http/a?x=1&y"),
                            item(
                                "path variable",
                                {
                                    "method": "delete",
                                    "header": "Accept: application/xml\nX-Api-Key: abc123",
                                    "url": {
                                        "raw": "{{baseUrl}}/http/orders/:id",
                                        "host": "{{baseUrl}}",
                                        "path": "http/orders/:id",
                                        "variable": [{"key": "id", "value": "4711"}],
                                    },
                                },
                            ),
                        ],
                    }
                ],
            }
        ],
        schema=V20,
        variable=[
            {"key": "v", "value": "1"},
            {"key": "v", "value": "2"},
            {"key": "off", "value": "x", "disabled": True},
        ],
    )
    path = write(tmp_path / "c.json", data)
    (tmp_path / "pyproject.toml").write_text("")

    import_collection(path, tmp_path / "out")

    found = cases(tmp_path / "out")
    assert found["string request"]["request"] == {
        "method": "GET",
        "path": "/http/a",
        "query": {"x": "1", "y": ""},
        "headers": {"Authorization": "Bearer ${tok}"},
    }
    assert found["string request"]["auth"] == "none"  # a bearer token is sent as Postman sends it
    assert found["string request"]["request"]["headers"] == {"Authorization": "Bearer ${tok}"}
    assert found["path variable"]["request"] == {
        "method": "DELETE",
        "path": "/http/orders/4711",
        "headers": {"Authorization": "Bearer ${tok}", "Accept": "application/xml", "X-Api-Key": "${X_API_KEY}"},
    }
    assert (tmp_path / "out" / "outer" / "inner" / "inner.iflow.yaml").is_file()
    assert suites(tmp_path / "out")[0]["defaults"] == {"v": "2"}  # the last duplicate wins, disabled ones are left out
    assert "abc123" not in "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert "X_API_KEY=\n" in (tmp_path / "out" / ".env.example").read_text()


def test_a_csv_data_file_becomes_the_table_with_a_note_on_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", collection([item("a", "x/http/a?c={{code}}")]))
    (tmp_path / "rows.csv").write_text("code\n0010\n")
    (tmp_path / "pyproject.toml").write_text("")

    result = import_collection(path, tmp_path / "suites" / "rows", data=tmp_path / "rows.csv")

    assert cases(tmp_path / "suites" / "rows")["a"]["table"] == "fixtures/rows/data.csv"
    assert (tmp_path / "fixtures" / "rows" / "data.csv").read_text() == "code\n0010\n"
    assert "Note: Newman reads a CSV cell such as 1010 as the number 1010" in result.report.read_text()


def test_bom_and_utf16_files_are_read(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", collection([item("a", "x/http/a")]), bom=b"\xef\xbb\xbf")
    env = write(
        tmp_path / "e.json",
        {"values": [{"key": "pass", "value": "hunter2", "type": "secret"}, {"key": "host", "value": "h"}]},
        encoding="utf-16",
    )
    (tmp_path / "pyproject.toml").write_text("")

    result = import_collection(path, tmp_path / "out", environment=env)

    assert result.counts()["converted"] == 1
    written = (tmp_path / "out" / ".env.example").read_text()
    assert "pass=\n" in written and "host=h\n" in written
    assert "hunter2" not in written


SCRIPTS: dict[str, tuple[list[str], dict[str, Any]]] = {
    "status": (["pm.response.to.have.status(201);"], {"status": 201}),
    "code eql": (["pm.expect(pm.response.code).to.eql(204);"], {"status": 204}),
    "oneOf": (["pm.expect(pm.response.code).to.be.oneOf([200, 202]);"], {"status": [200, 202]}),
    "responseTime": (["pm.expect(pm.response.responseTime).to.be.below(300);"], {"max_ms": 300}),
    "header present": (['pm.response.to.have.header("X-A");'], {"headers": {"X-A": {"present": True}}}),
    "header includes": (
        ["pm.expect(pm.response.headers.get('Content-Type')).to.include('xml');"],
        {"headers": {"Content-Type": {"contains": "xml"}}},
    ),
    "body includes": (['pm.expect(pm.response.text()).to.include("ok");'], {"text": {"contains": "ok"}}),
    "json value": (
        ["var jsonData = pm.response.json();", 'pm.expect(jsonData.d["a-b"][0].c).to.eql(3);'],
        {"json": {"$.d['a-b'][0].c": {"exactly": 3}}},
    ),
    "jsonSchema": (
        ['var schema = {"type": "object",', '  "required": ["d"]};', "pm.response.to.have.jsonSchema(schema);"],
        {"json_schema": {"type": "object", "required": ["d"]}},
    ),
    "legacy": (
        [
            'tests["Status code is 200"] = responseCode.code === 200;',
            'tests["fast"] = responseTime < 200;',
            "tests['body'] = responseBody.has('ok');",
        ],
        {"status": 200, "max_ms": 200, "text": {"contains": "ok"}},
    ),
}


@pytest.mark.parametrize("pattern", SCRIPTS)
def test_each_supported_script_pattern_becomes_an_expectation(tmp_path: Path, pattern: str) -> None:
    lines, expected = SCRIPTS[pattern]
    path = write(
        tmp_path / "c.json", collection([item("s", "x/http/a", ["pm.test('t', function () {", *lines, "});"])])
    )
    (tmp_path / "pyproject.toml").write_text("")

    result = import_collection(path, tmp_path / "out")

    assert cases(tmp_path / "out")["s"]["expect"] == expected
    assert result.counts()["converted"] == 1


def test_saved_values_and_unsupported_scripts_are_reported(tmp_path: Path) -> None:
    tests = [
        "const body = pm.response.json();",
        'pm.environment.set("orderId", body.d.Id);',
        'pm.collectionVariables.set("n", pm.response.json().count);',
        "postman.setNextRequest(null);",
    ]
    items = [
        item("saves", {"method": "GET", "url": "x/http/a"}, tests),
        item("odd method", {"method": "OPTIONS", "url": "x/http/a"}),
        {"name": "pre", "request": "x/http/b", "event": [{"listen": "prerequest", "script": {"exec": "pm.x();"}}]},
    ]
    path = write(tmp_path / "c.json", collection(items))
    (tmp_path / "pyproject.toml").write_text("")

    result = import_collection(path, tmp_path / "out")

    assert cases(tmp_path / "out")["saves"]["save"] == {"orderId": {"json": "$.d.Id"}, "n": {"json": "$.count"}}
    assert [(i.label, i.outcome) for i in result.items] == [
        ("saves", "partly converted"),
        ("odd method", "unsupported"),
        ("pre", "partly converted"),
    ]
    report = result.report.read_text()
    assert (
        "| odd method | unsupported | method OPTIONS | YAML suites send GET, POST, PUT, PATCH, DELETE, HEAD |" in report
    )
    assert (
        "| pre | partly converted | pre-request script | scripts do not run in YAML suites; kept as a comment |"
        in report
    )
    text = (tmp_path / "out" / "shapes.iflow.yaml").read_text()
    assert "# not imported: odd method: method OPTIONS is not supported" in text
    assert "#   pm.x();" not in text and "# pm.x();" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"values": []}', "is JSON but not a Postman collection (expected an object with 'item')"),
        (
            json.dumps(
                {"info": {"schema": "https://schema.getpostman.com/json/collection/v1.0.0/"}, "item": []}
            ).encode(),
            "has the unknown collection schema 'https://schema.getpostman.com/json/collection/v1.0.0/'; expected v2.0.0 or v2.1.0",
        ),
        (b"{not json", "is not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
    ],
)
def test_bad_collections_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    (tmp_path / "c.json").write_bytes(content)

    code = main(["import-postman", str(tmp_path / "c.json"), "--out", str(tmp_path / "out")])

    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("iflowtest: error: ") and message in err
    assert "Traceback" not in err


def test_missing_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(SAMPLE / "cpi-costcenters.postman_collection.json", tmp_path / "c.json")

    missing = main(["import-postman", str(tmp_path / "nope.json"), "--out", str(tmp_path / "out")])
    no_env = main(["import-postman", str(tmp_path / "c.json"), "--environment", "e.json", "--out", str(tmp_path / "o")])
    bad_data = main(["import-postman", str(tmp_path / "c.json"), "--data", "d.txt", "--out", str(tmp_path / "o")])

    assert (missing, no_env, bad_data) == (2, 2, 2)
    err = capsys.readouterr().err
    assert f"cannot read the collection {tmp_path / 'nope.json'}: No such file or directory" in err
    assert "cannot read the environment e.json: No such file or directory" in err
    assert "the data file d.txt must be .csv or .json (Newman's iteration data formats)" in err


def test_a_corpus_of_every_shape_imports_and_the_report_accounts_for_every_item(tmp_path: Path) -> None:
    bodies = [
        item(f"body {mode}", {"method": "POST", "url": "{{baseUrl}}/http/x", "body": body})
        for mode, (body, _) in BODIES.items()
    ]
    scripts = [item(f"script {p}", "{{baseUrl}}/http/s", lines) for p, (lines, _) in SCRIPTS.items()]
    odd = [
        item("unsupported script", "{{baseUrl}}/http/u", ["pm.sendRequest(x, () => {});", "if (a) { b(); }"]),
        item("legacy unsupported", "{{baseUrl}}/http/u", ["tests['x'] = responseBody.length > 2;"]),
        {"name": "empty folder", "item": []},
    ]
    nested = {
        "name": "A",
        "auth": {"type": "oauth2", "oauth2": [{"key": "clientSecret", "value": "s3cr3t-value"}]},
        "item": [{"name": "B", "item": [*bodies, {"name": "C", "auth": {"type": "noauth"}, "item": scripts}]}],
    }
    total = len(bodies) + len(scripts) + 2  # the empty folder has no items
    for schema in (V21, V20):
        out = tmp_path / schema[-22:-16].replace(".", "")
        path = write(tmp_path / "c.json", collection([nested, *odd], schema=schema, auth={"type": "apikey"}))
        (tmp_path / "pyproject.toml").write_text("")

        result = import_collection(path, out)

        assert len(result.items) == total
        report = result.report.read_text()
        for entry in result.items:
            assert f"| {entry.label} | {entry.outcome} |" in report
        assert "s3cr3t-value" not in "".join(p.read_text() for p in out.rglob("*") if p.is_file())
        found = cases(out)
        assert found["script status"]["auth"] == "none"  # folder C's noauth over A's oauth2
        assert found["body raw text"]["client"] == f"pm_{out.name}_oauth"
        assert found["unsupported script"]["auth"] == "none"  # apikey is not a client: left out and reported
        assert "| unsupported script | partly converted | auth apikey |" in report


SAVE = [
    "var jsonData = pm.response.json();",
    'pm.collectionVariables.set("costCenter", jsonData.d.results[0].CostCenter);',
]
BASIC = {"type": "basic", "basic": [{"key": "username", "value": "{{id}}"}, {"key": "password", "value": "{{pw}}"}]}


def saved_value_collection() -> dict[str, Any]:
    """A value saved in folder "Z first" (first in the collection, last alphabetically), used in folder "A later"."""
    found = ["pm.response.to.have.status(200);", 'pm.expect(pm.response.text()).to.include("CostCenter");']
    return collection(
        [
            {
                "name": "Z first",
                "item": [
                    item(
                        "list 1010",
                        "{{baseUrl}}/http/costcenters?companyCode=1010&$top=1",
                        ["pm.response.to.have.status(200);", *SAVE],
                    )
                ],
            },
            {
                "name": "A later",
                "item": [
                    item(
                        "read it back",
                        "{{baseUrl}}/http/costcenters?controllingArea=A000&costCenter={{costCenter}}",
                        found,
                    )
                ],
            },
        ],
        auth=BASIC,
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "-n 2"])
def test_a_saved_value_is_seen_by_every_later_request_in_collection_order(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    path = write(pytester.path / "c.json", saved_value_collection())
    pyproject = (ROOT / "pyproject.toml").read_text()
    (pytester.path / "pyproject.toml").write_text(pyproject)

    import_collection(path, pytester.path / "suites" / "chain")

    found = cases(pytester.path / "suites" / "chain")
    assert (found["list 1010"]["order"], found["read it back"]["order"]) == (0, 1)
    assert found["list 1010"]["save"] == {"costCenter": {"json": "$.d.results[0].CostCenter"}}
    assert {s["sequence"] for s in suites(pytester.path / "suites" / "chain")} == {"suites/chain"}
    (pytester.path / "pyproject.toml").write_text(
        pyproject + "\n" + (pytester.path / "suites" / "chain" / "clients.toml").read_text()
    )
    run = pytester.runpytest_inprocess("suites", "-p", "no:hypothesispytest", "-p", "no:randomly", "-v", *workers)
    run.assert_outcomes(passed=2)
    order = [line for line in run.outlines if "PASSED" in line]
    assert "list 1010" in order[0] and "read it back" in order[1]  # collection order, not file names


@pytest.mark.parametrize(
    ("saves", "flags", "independent"),
    [(False, [], True), (True, [], False), (False, ["--iterations-in-order"], False)],
    ids=["nothing saved", "a value saved", "--iterations-in-order"],
)
def test_iterations_that_save_nothing_are_declared_independent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], saves: bool, flags: list[str], independent: bool
) -> None:
    chain = saved_value_collection()
    if not saves:
        chain["item"][0]["item"][0]["event"][0]["script"]["exec"] = ["pm.response.to.have.status(200);"]
        chain["item"][1]["item"][0]["request"] = "{{baseUrl}}/http/costcenters?companyCode={{companyCode}}"
    path = write(tmp_path / "c.json", chain)
    out = tmp_path / "suites" / "chain"

    code = main(["import-postman", str(path), "--data", str(SAMPLE / "company_codes.json"), "--out", str(out), *flags])

    assert code == 0, capsys.readouterr().err
    assert [s.get("iterations") for s in suites(out)] == ["independent" if independent else None] * 2
    report = (out / "CONVERSION.md").read_text()
    assert ("No request saves a value, so the data file's iterations are independent" in report) is independent
    if not saves:  # without a data file there is one iteration: nothing to declare
        import_collection(path, tmp_path / "one", force=True)
        assert [s.get("iterations") for s in suites(tmp_path / "one")] == [None] * 2


def test_a_folder_of_unsupported_items_only_gets_no_empty_suite(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    odd = {"name": "odd", "item": [item("options", {"method": "OPTIONS", "url": "x/http/a"})]}
    path = write(tmp_path / "c.json", collection([odd, item("fine", "x/http/b")]))

    result = import_collection(path, tmp_path / "out")

    # A suite needs at least one case: an empty one would stop every run with a format error.
    assert [p.relative_to(tmp_path / "out").as_posix() for p in sorted((tmp_path / "out").rglob("*.iflow.yaml"))] == [
        "shapes.iflow.yaml"
    ]
    assert list(cases(tmp_path / "out")) == ["fine"]
    assert "| odd / options | unsupported | method OPTIONS |" in result.report.read_text()


def test_environment_values_read_back_the_same_through_dotenv(tmp_path: Path) -> None:
    from dotenv import dotenv_values

    (tmp_path / "pyproject.toml").write_text("")
    values = {"site": "Zürich Nord", "quoted": 'a "b" #c', "plain": "1010"}
    env = write(tmp_path / "e.json", {"values": [{"key": k, "value": v} for k, v in values.items()]})
    path = write(tmp_path / "c.json", collection([item("a", "x/http/a")]))

    import_collection(path, tmp_path / "out", environment=env)

    assert dotenv_values(tmp_path / "out" / ".env.example") == values


def test_a_csrf_fetch_header_is_kept_and_literal_secrets_become_references(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    headers = [
        {"key": "X-CSRF-Token", "value": "Fetch"},
        {"key": "X-API-Key", "value": "literal-key-123"},
        {"key": "Cookie", "value": "JSESSIONID=abc123"},
        {"key": "Accept", "value": "application/json"},
    ]
    path = write(tmp_path / "c.json", collection([item("a", {"method": "GET", "url": "x/http/a", "header": headers})]))

    import_collection(path, tmp_path / "out")

    sent = cases(tmp_path / "out")["a"]["request"]["headers"]
    assert sent == {
        "X-CSRF-Token": "Fetch",
        "X-API-Key": "${X_API_KEY}",
        "Cookie": "${COOKIE}",
        "Accept": "application/json",
    }
    written = "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert "literal-key-123" not in written and "abc123" not in written


def test_a_utf32_collection_is_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    path = write(tmp_path / "c.json", collection([item("a", "x/http/a")]), encoding="utf-32")

    assert import_collection(path, tmp_path / "out").counts()["converted"] == 1


def test_an_import_never_overwrites_a_file_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    out = tmp_path / "suites" / "costcenters"
    out.mkdir(parents=True)
    mine = out / "costcenters.iflow.yaml"
    mine.write_text("cases: []  # written by hand\n")
    path = write(tmp_path / "c.json", {"info": {"name": "costcenters", "schema": V21}, "item": [item("a", "x/http/a")]})

    code = main(["import-postman", str(path), "--out", str(out)])
    assert mine.read_text() == "cases: []  # written by hand\n"
    assert sorted(p.name for p in out.iterdir()) == ["costcenters.iflow.yaml"]  # nothing else written either
    forced = main(["import-postman", str(path), "--out", str(out), "--force"])

    assert (code, forced) == (2, 2)
    assert mine.read_text() == "cases: []  # written by hand\n"
    assert sorted(p.name for p in out.iterdir()) == ["costcenters.iflow.yaml"]


def test_an_import_replaces_its_own_earlier_output_only_with_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    out = tmp_path / "suites" / "orders"
    path = write(tmp_path / "c.json", {"info": {"name": "orders", "schema": V21}, "item": [item("a", "x/http/a")]})
    assert main(["import-postman", str(path), "--out", str(out)]) == 0
    capsys.readouterr()

    again = main(["import-postman", str(path), "--out", str(out)])
    message = capsys.readouterr().err
    assert again == 2, message  # an import does not silently replace even its own earlier output
    forced = main(["import-postman", str(path), "--out", str(out), "--force"])
    (out / "orders.iflow.yaml").write_text((out / "orders.iflow.yaml").read_text() + "# my change\n")
    changed = main(["import-postman", str(path), "--out", str(out), "--force"])

    assert (again, forced, changed) == (2, 0, 2)
    assert "holds an earlier import" in message and "pass --force to replace the files that import wrote" in message
    assert "was changed after the import wrote it" in capsys.readouterr().err
    assert (out / "orders.iflow.yaml").read_text().endswith("# my change\n")


def test_names_that_differ_in_case_or_punctuation_stay_distinct_files(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    folders = [{"name": name, "item": [item(f"in {name}", "x/http/a")]} for name in ("Orders", "orders!", "ORDERS")]
    path = write(tmp_path / "c.json", {"info": {"name": "c", "schema": V21}, "item": folders})

    import_collection(path, tmp_path / "out")

    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.iflow.yaml"))
    assert files == ["orders-2/orders-2.iflow.yaml", "orders-3/orders-3.iflow.yaml", "orders/orders.iflow.yaml"]
    assert sorted(cases(tmp_path / "out")) == ["in ORDERS", "in Orders", "in orders!"]


def test_two_imports_into_one_project_never_share_client_names(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    auth = {"type": "basic", "basic": [{"key": "username", "value": "{{u}}"}, {"key": "password", "value": "{{p}}"}]}
    path = write(
        tmp_path / "c.json", {"info": {"name": "c", "schema": V21}, "auth": auth, "item": [item("a", "x/http/a")]}
    )

    for name in ("orders", "invoices", "orders-eu", "a/orders"):
        import_collection(path, tmp_path / "suites" / name)

    names = [
        line
        for name in ("orders", "invoices", "orders-eu", "a/orders")
        for line in (tmp_path / "suites" / name / "clients.toml").read_text().splitlines()
        if line.startswith("[tool")
    ]
    assert len(set(names)) == 4
    assert all(len(n.removeprefix("[tool.iflowtest.clients.").rstrip("]")) <= 15 for n in names)


def test_the_runtime_is_told_from_other_hosts_without_a_base_url_variable(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    items = [
        item("custom domain", "https://cpi.example.com/http/orders"),
        item("sap runtime", "https://t1.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com/http/orders"),
        item("partner api", "https://api.partner.example/v1/orders?x=1"),
    ]
    path = write(tmp_path / "c.json", collection(items))

    result = import_collection(path, tmp_path / "out")

    found = cases(tmp_path / "out")
    assert found["custom domain"]["request"]["path"] == "/http/orders"
    assert found["sap runtime"]["request"]["path"] == "/http/orders"
    assert (
        found["partner api"]["request"]
        == {
            "method": "GET",
            "url": "https://api.partner.example/v1/orders",
            "query": {"x": "1"},
            "auth": "none",
        }
        or found["partner api"]["request"]["url"] == "https://api.partner.example/v1/orders"
    )
    assert "partner api: `https://api.partner.example/v1/orders`" in result.report.read_text()
