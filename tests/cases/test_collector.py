"""YAML suites run by pytest (pytester, emulated tenant): ids, markers, every assertion kind, the failure view."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers import iflowtest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = "suites/costcenters/costcenters.iflow.yaml"
ODATA = "/gw/odata/SAP/CostCenters;v=1/A_CostCenter"
NAMESPACES = {
    "atom": "http://www.w3.org/2005/Atom",
    "d": "http://schemas.microsoft.com/ado/2007/08/dataservices",
}
LIST: dict[str, Any] = {"query": {"companyCode": "1010", "$top": "2"}}
COUNTED: dict[str, Any] = {
    "iflow": "CostCentersOData",
    "request": {"path": ODATA, "query": {"$filter": "CompanyCode eq '1010'", "$inlinecount": "allpages", "$top": "2"}},
}
ATOM: dict[str, Any] = {
    "iflow": "CostCentersOData",
    "request": {"path": ODATA, "query": {"$top": "2", "$format": "xml"}},
}
CHANGE: dict[str, Any] = {
    "iflow": "ChangeCostCenter",
    "request": {
        "method": "POST",
        "body": {
            "xml": "<CostCenterChangeRequest><ControllingArea>A000</ControllingArea><CostCenter>10101101</CostCenter>"
            "<ValidFrom>2026-01-01</ValidFrom><Changes><Field name='CostCtrResponsiblePersonName'>J. Smith</Field>"
            "</Changes></CostCenterChangeRequest>"
        },
    },
}
FAILING: dict[str, Any] = {"iflow": "FailingFlow", "request": {}}

# kind: (request, expectation that holds, expectation that does not, the failure line it prints)
KINDS: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]] = {
    "status list": ({"request": LIST}, {"status": [201, "2xx"]}, {"status": 404}, "status: expected 404, got 200 OK"),
    "status range": (
        {"request": LIST},
        {"status": "200-204"},
        {"status": "300-399"},
        "status: expected 300-399, got 200 OK",
    ),
    "header equals": (
        {"request": LIST},
        {"headers": {"Content-Type": "application/json;charset=utf-8"}},
        {"headers": {"Content-Type": "text/xml"}},
        "header Content-Type: expected 'text/xml', got 'application/json;charset=utf-8'",
    ),
    "header regex": (
        {"request": LIST},
        {"headers": {"content-type": {"regex": "application/json.*"}}},
        {"headers": {"Content-Type": {"regex": "text/.*"}}},
        "header Content-Type: expected to match /text/.*/, got 'application/json;charset=utf-8'",
    ),
    "header presence": (
        {"request": LIST},
        {"headers": {"Content-Type": {"present": True}, "X-Nope": {"absent": True}}},
        {"headers": {"X-Nope": {"present": True}}},
        "header X-Nope: expected to be present, got nothing",
    ),
    "json equals": (
        {"request": LIST},
        {"json": {"$.d.results[0].CompanyCode": "1010"}},
        {"json": {"$.d.results[0].CompanyCode": "1020"}},
        "json $.d.results[0].CompanyCode: expected '1020', got '1010'",
    ),
    "json any": (
        {"request": LIST},
        {"json": {"$.d.results[1].CostCenter": {"any": True}}},
        {"json": {"$.d.results[5].CostCenter": {"any": True}}},
        "json $.d.results[5].CostCenter: expected any value, got nothing (the query matched no value)",
    ),
    "json regex": (
        {"request": LIST},
        {"json": {"$.d.results[0].CostCenter": {"regex": "\\d{8}"}}},
        {"json": {"$.d.results[0].CostCenter": {"regex": "\\d{4}"}}},
        "json $.d.results[0].CostCenter: expected to match /\\d{4}/, got '10101101'",
    ),
    "uuid": (
        CHANGE,
        {"xpath": {"//RequestId": {"uuid": True}}},
        {"xpath": {"//CostCenter": {"uuid": True}}},
        "xpath //CostCenter: expected a UUID, got '10101101'",
    ),
    "date": (
        {"request": LIST},
        {"json": {"$.d.results[0].ValidityEndDate": {"date": "odata"}}},
        {"json": {"$.d.results[0].ValidityEndDate": {"date": "iso"}}},
        "json $.d.results[0].ValidityEndDate: expected a date (iso), got '/Date(253402214400000)/'",
    ),
    "numeric tolerance": (
        COUNTED,
        {"json": {"$.d.__count": {"approx": 50, "tolerance": 2}}},
        {"json": {"$.d.__count": {"approx": 40, "tolerance": 0.5}}},
        "json $.d.__count: expected 40 ± 0.5, got '48'",
    ),
    "list contains": (
        {"request": LIST},
        {"json": {"$.d.results[*].CostCenter": {"contains": "10101102"}}},
        {"json": {"$.d.results[*].CostCenter": {"contains": "10101103"}}},
        'json $.d.results[*].CostCenter: expected a list containing \'10101103\', got ["10101101", "10101102"]',
    ),
    "list any order": (
        {"request": LIST},
        {"json": {"$.d.results[*].CostCenter": {"any_order": ["10101102", "10101101"]}}},
        {"json": {"$.d.results[*].CostCenter": {"any_order": ["10101101"]}}},
        'json $.d.results[*].CostCenter: expected ["10101101"] in any order, got ["10101101", "10101102"] '
        '(unexpected ["10101102"])',
    ),
    "count": (
        {"request": LIST},
        {"json": {"$.d.results": {"count": 2}}},
        {"json": {"$.d.results": {"count": {"min": 3}}}},
        "json $.d.results: count: expected a number ≥ 3, got 2",
    ),
    "every": (
        {"request": LIST},
        {"json": {"$.d.results": {"every": {"fields": {"CompanyCode": "1010"}}}}},
        {"json": {"$.d.results[*].CompanyCode": {"every": "1020"}}},
        "json $.d.results[*].CompanyCode: item [0] of 2: expected '1020', got '1010'",
    ),
    "xpath namespaces": (
        ATOM,
        {"xpath": {"count(/atom:feed/atom:entry)": 2, "//d:CompanyCode": {"count": 2}}},
        {"xpath": {"//atom:entry[2]//d:CostCenter": "10101101"}},
        "xpath //atom:entry[2]//d:CostCenter: expected '10101101', got '10101102'",
    ),
    "text contains": (
        FAILING,
        {"status": 500, "text": {"contains": "internal server error"}},
        {"text": {"contains": "COMPLETED"}},
        "text: expected text containing 'COMPLETED', got 'An internal server error occured: *",
    ),
    "text regex": (
        FAILING,
        {"text": {"regex": "(?s).*The MPL ID for the failed message is : AG.*"}},
        {"text": {"regex": "OK"}},
        "text: expected to match /OK/, got 'An internal server error occured: *",
    ),
    "odata": (
        COUNTED,
        {"odata": {"count": 2, "inlinecount": {"min": 40}, "every": {"CompanyCode": "1010"}}},
        {"odata": {"count": 3, "every": {"CostCenter": "10101101"}}},
        "odata count: expected 3, got 2",
    ),
    "json schema": (
        {"request": LIST},
        {"json_schema": "fixtures/costcenters/costcenter_list.schema.json"},
        {"json_schema": {"type": "object", "required": ["value"]}},
        "json_schema inline schema: $: 'value' is a required property",
    ),
    "xsd": (
        CHANGE,
        {"xsd": "fixtures/costcenters/change_response.xsd"},
        {"xsd": "fixtures/other.xsd"},
        "xsd fixtures/other.xsd: line *: Element 'CostCenterChangeResponse': No matching global declaration available "
        "for the validation root.",
    ),
    "mpl status": (
        FAILING,
        {"status": 500, "mpl": {"status": "FAILED", "timeout": 30}},
        {"mpl": {"status": "COMPLETED", "timeout": 30}},
        "  message AG* of iFlow 'FailingFlow' ended FAILED, expected COMPLETED; error: *",
    ),
    "reason phrase": (
        {"request": LIST},
        {"reason": "OK"},
        {"reason": "Created"},
        "reason: expected 'Created', got 'OK'",
    ),
    "exactly": (
        {"request": LIST},
        {"json": {"$.d.results[0].CompanyCode": {"exactly": "1010"}}},
        {"json": {"$.d.results[0].CompanyCode": {"exactly": 1010}}},
        "json $.d.results[0].CompanyCode: expected exactly 1010, got '1010'",
    ),
    "not": (
        {"request": LIST},
        {"json": {"$.d.results[0].CompanyCode": {"not": "1020"}, "$.d.nothing": {"not": 1}}},
        {"json": {"$.d.results[0].CompanyCode": {"not": "1010"}}},
        "json $.d.results[0].CompanyCode: expected not '1010', got '1010'",
    ),
    "one of": (
        {"request": LIST},
        {"json": {"$.d.results[0].CompanyCode": {"one_of": ["1710", "1010"]}}},
        {"json": {"$.d.results[0].CompanyCode": {"one_of": ["1710"]}}},
        "json $.d.results[0].CompanyCode: expected one of [\"1710\"], got '1010'",
    ),
    "any of and all of": (
        {"request": LIST},
        {
            "json": {
                "$.d.results[0].CompanyCode": {
                    "any_of": [{"exactly": 1010}, {"all_of": [{"regex": "10.*"}, {"length": 4}]}]
                }
            }
        },
        {"json": {"$.d.results[0].CompanyCode": {"any_of": [{"exactly": 1010}, {"regex": "17.*"}]}}},
        "json $.d.results[0].CompanyCode: none of the alternatives holds: expected exactly 1010, got '1010'; "
        "expected to match /17.*/, got '1010'",
    ),
    "above below length": (
        {"request": LIST},
        {"json": {"$.d.results": {"length": {"above": 1, "below": 3}}}},
        {"json": {"$.d.results[0].CompanyCode": {"length": {"below": 4}}}},
        "json $.d.results[0].CompanyCode: length 4 of '1010': expected a number < 4, got 4",
    ),
    "type": (
        {"request": LIST},
        {"json": {"$.d.results": {"type": "array"}, "$.d.results[0].CompanyCode": {"type": "string"}}},
        {"json": {"$.d.results[0].CompanyCode": {"type": "number"}}},
        "json $.d.results[0].CompanyCode: expected a value of type number, got '1010'",
    ),
    "truthy": (
        {"request": LIST},
        {"json": {"$.d.results[0].CostCenter": {"truthy": True}, "$.d.results[0].BusinessArea": {"truthy": False}}},
        {"json": {"$.d.results[0].BusinessArea": {"truthy": True}}},
        "json $.d.results[0].BusinessArea: expected a truthy value, got ''",
    ),
    "every of an empty list": (
        {"request": {"query": {"companyCode": "9999"}}},
        {"json": {"$.d.results": {"every": {"fields": {"CompanyCode": "1010"}}, "empty_ok": True}}},
        {"json": {"$.d.results": {"every": {"fields": {"CompanyCode": "1010"}}}}},
        "json $.d.results: expected every item to match, got nothing (the query matched no value)",
    ),
    "response time": (
        {"request": LIST},
        {"max_ms": 60000},
        {"max_ms": 0.001},
        "max_ms: expected at most 0.001 ms, took * ms",
    ),
}
OTHER_XSD = (
    '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="Other" type="xs:string"/></xs:schema>'
)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # Without hypothesis's plugin: pytester drops modules imported in a run, and re-importing hypothesis with
    # assertion rewriting costs seconds per run.
    return pytester.runpytest_inprocess(*args, "-p", "no:hypothesispytest")


def project(pytester: pytest.Pytester, *, sample: bool = False) -> Path:
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    shutil.copytree(ROOT / "fixtures", pytester.path / "fixtures")
    if sample:
        shutil.copytree(ROOT / "suites", pytester.path / "suites")
    return pytester.path


def write_suite(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_sample_suite_items_read_well_and_select_with_k_and_m(pytester: pytest.Pytester) -> None:
    project(pytester, sample=True)

    listed = run(pytester, SAMPLE, "--collect-only", "-q")
    selected = run(pytester, SAMPLE, "--collect-only", "-q", "-k", "company and 1010")
    tagged = run(pytester, "suites", "--collect-only", "-q", "-m", "costcenters")

    ids = [line for line in listed.stdout.lines if "::" in line]
    assert len(ids) >= 20
    assert f"{SAMPLE}::cost centers of a company code[A000-1010]" in ids
    assert f"{SAMPLE}::German company codes through the custom role[1020]" in ids
    assert f"{SAMPLE}::change request is accepted" in ids
    assert [line for line in selected.stdout.lines if "::" in line] == [
        f"{SAMPLE}::cost centers of a company code[A000-1010]",
        f"{SAMPLE}::German company codes through the custom role[1010]",
    ]
    assert [line for line in tagged.stdout.lines if "::" in line] == ids


def test_sample_suite_passes_and_reports_its_iflows(pytester: pytest.Pytester) -> None:
    project(pytester, sample=True)
    junit = pytester.path / "junit.xml"

    result = run(pytester, SAMPLE, f"--junitxml={junit}")

    result.assert_outcomes(passed=25)
    text = junit.read_text()
    assert '<property name="iflowtest.iflow" value="ChangeCostCenter"' in text
    assert '<property name="iflowtest.calls" value="2"' in text  # the multi-step case
    assert '<property name="iflowtest.client" value="sender_no_de"' in text
    assert '<property name="iflowtest.client" value="(no credentials)"' in text


def test_each_assertion_kind_passes_and_fails(pytester: pytest.Pytester) -> None:
    project(pytester)
    (pytester.path / "fixtures" / "other.xsd").write_text(OTHER_XSD)
    cases = []
    for kind, (call, holds, fails, _line) in KINDS.items():
        cases.append({"name": f"{kind} holds", **copy.deepcopy(call), "expect": holds})
        cases.append({"name": f"{kind} fails", **copy.deepcopy(call), "expect": fails})
    suite = {"iflow": "ReadCostCenters", "namespaces": NAMESPACES, "cases": cases}
    write_suite(pytester.path / "suites" / "kinds.iflow.yaml", suite)

    result = run(pytester, "suites", "-v", "-p", "no:randomly")

    result.assert_outcomes(passed=len(KINDS), failed=len(KINDS))
    out = result.stdout
    for kind, (*_, line) in KINDS.items():
        out.fnmatch_lines([f"*::{kind} holds PASSED*"])
        out.fnmatch_lines(
            [f"case '{kind} fails' (suites/kinds.iflow.yaml:*) failed", "*", "failed:", f"  {line.strip()}"]
        )
    assert "Traceback" not in out.str() and "runtest" not in out.str()


def test_failure_view_shows_the_case_the_request_and_the_answer(pytester: pytest.Pytester) -> None:
    project(pytester)
    (pytester.path / ".env").write_text("PARTNER_API_TOKEN=partner-token-0123456789\n")
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "change.iflow.yaml").write_text(
        """\
iflow: ChangeCostCenter
cases:
  - name: change is accepted
    headers:
      X-Partner-Token: ${PARTNER_API_TOKEN}
    request:
      method: POST
      body:
        xml: <CostCenterChangeRequest><ControllingArea>A000</ControllingArea></CostCenterChangeRequest>
    expect:
      status: 200
      xpath:
        /CostCenterChangeResponse/Status: ACCEPTED
"""
    )

    result = run(pytester, "suites")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "case 'change is accepted' (suites/change.iflow.yaml:3) failed",
            "",
            "  - name: change is accepted",
            "    headers:",
            "      X-Partner-Token: ${PARTNER_API_TOKEN}",
            "*",
            "request sent: POST https://127.0.0.1:*/http/costcenters/changerequest",
            "  X-Partner-Token: ***",
            "  Content-Type: application/xml",
            "  X-CSRF-Token: ***",
            "  Cookie: ***",
            "  Authorization: ***",
            "  <CostCenterChangeRequest><ControllingArea>A000</ControllingArea></CostCenterChangeRequest>",
            "",
            "response: 400 BAD REQUEST in * ms*",  # no MPL id on a strict tenant's 400
            "  Content-Type: application/xml*",
            "  <CostCenterChangeResponse>",
            "    <Status>REJECTED</Status>",
            "*",
            "failed:",
            "  status: expected 200, got 400 BAD REQUEST",
            "  xpath /CostCenterChangeResponse/Status: expected 'ACCEPTED', got 'REJECTED'",
            "*iflow calls*",
        ]
    )
    assert "partner-token-0123456789" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def test_steps_save_values_for_the_next_and_variables_resolve(pytester: pytest.Pytester) -> None:
    project(pytester)
    (pytester.path / ".env").write_text("COMPANY_CODE=1010\n")
    write_suite(
        pytester.path / "suites" / "steps.iflow.yaml",
        {
            "iflow": "ReadCostCenters",
            "variables": {"area": "A000"},
            "cases": [
                {
                    "name": "saves flow through",
                    "steps": [
                        {
                            "request": {"query": {"companyCode": "${COMPANY_CODE}", "$top": "1"}},
                            "save": {
                                "center": {"json": "$.d.results[0].CostCenter"},
                                "kind": {"header": "Content-Type"},
                                "person": {"regex": '"CostCtrResponsiblePersonName": ?"([^"]+)"'},
                            },
                        },
                        {
                            "iflow": "CostCentersOData",
                            "request": {
                                "path": f"{ODATA}(ControllingArea='A000',CostCenter='${{center}}',"
                                "ValidityEndDate=datetime'9999-12-31T00:00:00')",
                                "query": {"$format": "xml"},
                            },
                            "save": {"name": {"xpath": "//*[local-name()='CostCenter']"}},
                        },
                        {
                            "request": {"query": {"controllingArea": "${area}", "costCenter": "${name}"}},
                            "expect": {
                                "json": {
                                    "$.d.results[0].CostCenter": "${center}",
                                    "$.d.results[0].CostCtrResponsiblePersonName": "${person}",
                                },
                                "headers": {"Content-Type": "${kind}"},
                                "text": {"contains": "$${not a variable}"},
                            },
                        },
                    ],
                },
                {"name": "unknown variable", "request": {"query": {"companyCode": "${company_cod}"}}},
            ],
        },
    )

    result = run(pytester, "suites", "-p", "no:randomly")

    result.assert_outcomes(passed=0, failed=2)
    result.stdout.fnmatch_lines(
        [
            "case 'saves flow through' (suites/steps.iflow.yaml:*) failed at step 3",
            "*",
            "saved: center='10101101', kind='application/json*', person=*, name=*",
            "*",
            "  text: expected text containing '${not a variable}', got *",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "error:",
            "  step 1 of case 'unknown variable' uses ${company_cod}, which is not defined (did you mean 'COMPANY_CODE'?): "
            "define it under variables, as a data-table column, with save in an earlier step, or in the profile "
            "(.env.<profile>)",
        ]
    )


def test_format_error_is_one_message_and_exit_2_on_the_command_line(pytester: pytest.Pytester) -> None:
    project(pytester)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "typo.iflow.yaml").write_text(
        "iflow: ReadCostCenters\ncases:\n  - name: list A000\n    request: {}\n    expcet: {status: 200}\n"
    )

    result = run(pytester, "suites")

    assert result.ret == pytest.ExitCode.USAGE_ERROR  # `iflowtest run` makes it 2
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting suites/typo.iflow.yaml*",
            "unknown key 'expcet' in case 'list A000' (suites/typo.iflow.yaml:5): did you mean 'expect'?",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    # pytest-xdist reports collection errors as failures; a broken suite is still a usage error.
    parallel = run(pytester, "suites", "-n", "2")
    assert parallel.ret == pytest.ExitCode.USAGE_ERROR


def test_data_table_problems_are_collection_errors(pytester: pytest.Pytester) -> None:
    project(pytester)
    write_suite(
        pytester.path / "suites" / "table.iflow.yaml",
        {
            "cases": [
                {
                    "name": "rows",
                    "iflow": "ReadCostCenters",
                    "table": "fixtures/costcenters/company_codes.csv",
                    "table_ids": ["company"],
                    "request": {},
                }
            ]
        },
    )
    write_suite(
        pytester.path / "suites" / "missing.iflow.yaml",
        {"cases": [{"name": "gone", "iflow": "ReadCostCenters", "table": "fixtures/nope.csv", "request": {}}]},
    )

    result = run(pytester, "suites")

    assert result.ret == pytest.ExitCode.USAGE_ERROR  # `iflowtest run` makes it 2
    assert (
        "data table fixtures/costcenters/company_codes.csv has no column 'company' used by table_ids of case 'rows' "
        "(suites/table.iflow.yaml:2); its columns are controlling_area, company_code, country, currency: add the "
        "column or fix the name"
    ) in result.stdout.lines
    result.stdout.fnmatch_lines(
        [
            "data table fixtures/nope.csv cannot be read (No such file or directory, at */fixtures/nope.csv): check the "
            "path (table of case 'gone' (suites/missing.iflow.yaml:2))"
        ]
    )


def test_update_baselines_writes_them_and_later_runs_compare(pytester: pytest.Pytester) -> None:
    project(pytester)
    baseline = pytester.path / "fixtures" / "new" / "list.baseline.json"
    write_suite(
        pytester.path / "suites" / "base.iflow.yaml",
        {
            "iflow": "ReadCostCenters",
            "cases": [
                {
                    "name": "list matches",
                    "request": LIST,
                    "baseline": {
                        "file": "fixtures/new/list.baseline.json",
                        "ignore": ["$..__metadata", "$..__deferred"],
                    },
                }
            ],
        },
    )

    missing = run(pytester, "suites")
    written = run(pytester, "suites", "--iflow-update-baselines", "-rP")
    compared = run(pytester, "suites")
    baseline.write_text(baseline.read_text().replace('"G. ', '"K. ', 1).replace('"10101102"', '"10101109"'))
    changed = run(pytester, "suites")

    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(
        ["error:", "  baseline fixtures/new/list.baseline.json does not exist: run once with --iflow-update-baselines*"]
    )
    written.assert_outcomes(passed=1)
    written.stdout.fnmatch_lines(
        ["*Captured notes call*", "baseline fixtures/new/list.baseline.json written from the response*"]
    )
    compared.assert_outcomes(passed=1)
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(
        [
            "failed:",
            "  baseline fixtures/new/list.baseline.json: the response differs in 2 place(s):",
            "    $.d.results[0].CostCtrResponsiblePersonName: expected 'K. Müller', got 'G. Müller'",
            "    $.d.results[1].CostCenter: expected '10101109', got '10101102'",
            "    (if the change is intended, rerun with --iflow-update-baselines and review the diff)",
        ]
    )


def test_the_same_checks_from_python(pytester: pytest.Pytester) -> None:
    project(pytester, sample=True)
    pytester.makepyfile(
        test_python_style="""
        import pytest
        from iflowtest.checks.assertions import check_response, expect_json, expect_odata
        from iflowtest.checks.baselines import BaselineRules, compare_baseline
        from iflowtest.checks.matchers import every, regex

        @pytest.mark.iflow("ReadCostCenters")
        def test_same_power(iflow):
            response = iflow.get(params={"companyCode": "1510", "$top": "4"})
            check_response(response, {"status": "2xx", "odata": {"count": 4, "every": {"Country": "JP"}}})
            expect_json(response, "$.d.results[*].CostCenter", every(regex(r"1510\\d{4}")))
            compare_baseline(
                response,
                "fixtures/costcenters/baselines/company-1510.baseline.json",
                BaselineRules(ignore=("$..__metadata", "$..__deferred"), unordered=("$.d.results",)),
            )

        @pytest.mark.iflow("ReadCostCenters")
        def test_fails_as_an_assertion(iflow):
            expect_odata(iflow.get(params={"companyCode": "1510"}), every={"Country": "DE"})
        """
    )

    result = run(pytester, "test_python_style.py")

    result.assert_outcomes(passed=1, failed=1)
    assert (
        "E       iflowtest.checks.assertions.ExpectationError: odata every Country: result [0] of 22: expected 'DE', got 'JP'"
    ) in result.stdout.lines
    assert "def expect_odata" not in result.stdout.str()  # the user's line is shown, not the library's


def test_iflowtest_run_exits_2_without_a_traceback_on_a_format_error(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "typo.iflow.yaml").write_text("cases:\n  - name: a\n    requst: {}\n")
    result = iflowtest("run", "-p", "no:hypothesispytest", cwd=tmp_path)

    assert result.returncode == 2, result.stdout[-2000:]
    assert "unknown key 'requst' in case 'a' (suites/typo.iflow.yaml:3): did you mean 'request'?" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_bodies_and_base_path_are_sent_as_written(pytester: pytest.Pytester) -> None:
    project(pytester)
    (pytester.path / "fixtures" / "order.json").write_text('{"company": "${code}"}')
    bodies = {
        "json": ({"json": {"company": "${code}", "n": 1}}, "application/json", '{"company": "1010", "n": 1}'),
        "xml": ({"xml": "<a>${code}</a>"}, "application/xml", "<a>1010</a>"),
        "text": ({"text": "code ${code}"}, "text/plain; charset=utf-8", "code 1010"),
        "form": ({"form": {"code": "${code}", "n": 2}}, "application/x-www-form-urlencoded", "code=1010&n=2"),
        "file": ({"file": "fixtures/order.json"}, "application/json", '{"company": "1010"}'),
        "typed": ({"text": "x", "content_type": "application/edi-x12"}, "application/edi-x12", "x"),
    }
    cases = [
        {"name": kind, "request": {"method": "POST", "path": "failing", "body": body}, "expect": {"status": 200}}
        for kind, (body, _, _) in bodies.items()
    ]
    write_suite(
        pytester.path / "suites" / "bodies.iflow.yaml",
        {"iflow": "FailingFlow", "base_path": "/http", "variables": {"code": "1010"}, "cases": cases},
    )

    result = run(pytester, "suites", "-p", "no:randomly")

    result.assert_outcomes(failed=len(bodies))
    for kind, (_, content_type, sent) in bodies.items():
        result.stdout.fnmatch_lines(
            [
                f"case '{kind}' (suites/bodies.iflow.yaml:*) failed",
                "request sent: POST https://127.0.0.1:*/http/failing",
                f"  Content-Type: {content_type}",
                "  Authorization: ***",
                f"  {sent}",
            ]
        )


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            {"name": "typo", "client": "sendr", "iflow": "ReadCostCenters", "request": {}},
            # Unknown names: a usage error on stderr, worded as for markers (names.py)
            "ERROR: iflowtest: case 'typo' (suites/names.iflow.yaml:2): unknown client 'sendr': declared clients are "
            "monitor, sender, sender_basic, sender_cert, sender_no_de; declare it as [tool.iflowtest.clients.sendr] in "
            "pyproject.toml (did you mean 'sender'?)",
        ),
        (
            {"name": "no address", "iflow": "ReadCostCenter", "request": {}},
            "ERROR: iflowtest: case 'no address' (suites/names.iflow.yaml:2): unknown iFlow 'ReadCostCenter': declared "
            "iFlows are ChangeCostCenter, ChangeCostCenterAsync, CostCenterIDoc, CostCentersOData, FailingFlow, GetCostCenter, GetCostCenterSigned, ProcessCostCenterChange, ReadCostCenters, ReadCostCentersDE; declare "
            "it as [tool.iflowtest.iflows.ReadCostCenter] in pyproject.toml, an empty table will do (did you mean "
            "'ReadCostCenters'?)",
        ),
        (
            {"name": "nowhere", "steps": [{"request": {"path": "/http/costcenters"}}, {"request": {}}]},
            "step 2 of case 'nowhere' (suites/names.iflow.yaml:2) has no request path and no iflow: give request.path "
            "or an iflow with an address",
        ),
    ],
    ids=["client", "iflow", "path"],
)
def test_unknown_names_fail_at_collection(pytester: pytest.Pytester, case: dict[str, Any], message: str) -> None:
    project(pytester)
    write_suite(pytester.path / "suites" / "names.iflow.yaml", {"cases": [case]})

    result = run(pytester, "suites", "--collect-only")

    assert result.ret == pytest.ExitCode.USAGE_ERROR  # `iflowtest run` makes it 2
    assert message in result.stdout.lines + result.stderr.lines
