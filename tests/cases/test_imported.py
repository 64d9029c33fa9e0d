"""No imported case is green on fewer checks than its source ran: `unconverted:` fails the case, naming each
assertion, and the run says how many imported assertions were converted (terminal and report.html)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from iflowtest.cases.format import SuiteFormatError, parse_suite

ROOT = Path(__file__).resolve().parents[2]
LIST: dict[str, Any] = {"query": {"companyCode": "1010", "$top": "2"}}
SUITE: dict[str, Any] = {
    "iflow": "ReadCostCenters",
    "cases": [
        {"name": "all converted", "request": LIST, "expect": {"status": 200}, "imported_assertions": 2},
        {
            "name": "one not converted",
            "request": LIST,
            "expect": {"status": 200},
            "imported_assertions": 2,
            "unconverted": [
                "pm.test 'custom': `pm.expect(x).to.satisfy(f)` (the chai assertion satisfy is not converted)"
            ],
        },
        {
            "name": "steps",
            "steps": [
                {"name": "first", "request": LIST, "imported_assertions": 1, "unconverted": ["pm.test 'a': why"]},
                {"name": "second", "request": LIST, "expect": {"status": 200}, "imported_assertions": 1},
            ],
        },
        {"name": "written by hand", "request": LIST, "expect": {"status": 200}},
    ],
}


def test_unconverted_assertions_fail_their_case_and_the_run_counts_them(pytester: pytest.Pytester) -> None:
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "imported.iflow.yaml").write_text(yaml.safe_dump(SUITE, sort_keys=False))
    junit, report = pytester.path / "junit.xml", pytester.path / "report.html"

    result = pytester.runpytest_inprocess(
        "suites", "-p", "no:hypothesispytest", "-p", "no:randomly", f"--junitxml={junit}", f"--html={report}"
    )

    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "case 'one not converted' (suites/imported.iflow.yaml:*) failed",
            "*",
            "failed:",
            "  not converted: pm.test 'custom': `pm.expect(x).to.satisfy(f)` (the chai assertion satisfy is not "
            "converted)",
            "  convert each into expect: (or remove it from unconverted:) to check what it checked",
        ]
    )
    result.stdout.fnmatch_lines(["failed:", "  step 1 ('first'): not converted: pm.test 'a': why"])
    # the steps case ran both calls before failing for what was not converted
    assert junit.read_text().count('<property name="iflowtest.calls" value="2"') == 1
    summary = "3 imported case(s) from 6 Postman assertion(s): 4 converted, 2 not converted"
    result.stdout.fnmatch_lines(
        [
            "*imported assertions*",
            summary,
            "  suites/imported.iflow.yaml::one not converted: 1 of 2 converted, 1 not converted (the case fails *",
            "  suites/imported.iflow.yaml::steps: 1 of 2 converted, 1 not converted (the case fails *",
        ]
    )
    assert summary in report.read_text()


def test_a_case_with_steps_keeps_its_imported_counts_in_the_steps() -> None:
    text = yaml.safe_dump({"cases": [{"name": "c", "unconverted": ["x"], "steps": [{"request": {}}]}]}, sort_keys=False)

    with pytest.raises(SuiteFormatError, match="'unconverted' belongs inside a step when the case has 'steps'"):
        parse_suite(text, Path("s.iflow.yaml"), "s.iflow.yaml")
