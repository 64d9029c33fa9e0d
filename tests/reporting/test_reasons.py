"""A failed row opens with why it failed: the assertion or diff, the hint, the message's error, then the log."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import matplotlib.figure  # noqa: F401  (loaded before pytester's runs: numpy cannot be imported twice per process)
import pytest

from iflowtest.reporting.reasons import FailureReasons, failure_reason
from tests.reporting.pages import rows_of

PYPROJECT = """
[tool.iflowtest]
suites = ["suites"]

[tool.iflowtest.clients.sender]
roles = ["ESBMessaging.send", "ESBMessaging_DE"]

[tool.iflowtest.clients.no_de]
roles = ["ESBMessaging.send"]

[tool.iflowtest.iflows.ReadCostCenters]
address = "/http/costcenters"

[tool.iflowtest.iflows.ReadCostCentersDE]
address = "/http/de/costcenters"
role = "ESBMessaging_DE"
"""

SUITE = """
import pytest


@pytest.mark.iflow("ReadCostCenters")
def test_company_code(iflow):
    response = iflow.get(params={"companyCode": "1010", "$top": "1"})
    assert response.json()["d"]["results"][0]["CompanyCode"] == "9999"


@pytest.mark.iflow("ReadCostCentersDE")
@pytest.mark.client("no_de")
def test_german_codes(iflow):
    assert iflow.get(params={"companyCode": "1010"}).status_code == 200
"""

CASES = """
iflow: ReadCostCenters
cases:
  - name: unknown company code
    request:
      query: {companyCode: "9999"}
    expect:
      status: 404
"""


def report(longrepr: str, sections: list[tuple[str, str]] | None = None, when: str = "call") -> Any:
    return SimpleNamespace(
        failed=True, longreprtext=longrepr, sections=sections or [], nodeid="suites/t.py::test_x", when=when
    )


def test_pytest_e_lines_are_the_reason_with_their_location() -> None:
    text = (
        "    def test_x():\n>       assert a == b\nE       AssertionError: assert [] == [1]\nE         \n"
        "E         Right contains one more item: 1\n\nsuites/t.py:7: AssertionError"
    )

    reason = failure_reason(report(text))

    assert reason is not None
    assert reason.what == "AssertionError: assert [] == [1]\n\n  Right contains one more item: 1"
    assert reason.where == "suites/t.py:7"
    assert reason.headline == "AssertionError: assert [] == [1]"


def test_the_failed_block_of_a_yaml_case_and_the_hint_of_its_call() -> None:
    text = "case 'x' failed\n\n  - name: x\n\nresponse: 403\n  <html>failed:</html>\n\nfailed:\n  status: expected 200, got 403"
    calls = "GET https://h/http/de -> 403 in 3 ms as no_de\n    hint: client 'no_de' lacks role ESBMessaging_DE"

    reason = failure_reason(report(text, [("iflow calls", calls)]))

    assert reason is not None
    assert reason.what == "status: expected 200, got 403"
    assert reason.hints == ("client 'no_de' lacks role ESBMessaging_DE",)
    assert reason.headline == "status: expected 200, got 403 (hint: client 'no_de' lacks role ESBMessaging_DE)"


def test_a_one_line_error_and_the_message_logs_error_text() -> None:
    log = "AG1 of FailingFlow: FAILED\n    error: HttpResponseException: 500 from receiver"

    reason = failure_reason(report("suites/t.py:3: UnreachableError: token endpoint down", [("message log", log)]))

    assert reason is not None
    assert reason.what == "suites/t.py:3: UnreachableError: token endpoint down"
    assert reason.message_errors == ("HttpResponseException: 500 from receiver",)


def test_a_long_diff_is_cut_and_secrets_are_masked() -> None:
    lines = "\n".join(f"E         line {n}" for n in range(100))
    reason = failure_reason(report(f"E       AssertionError: Bearer eyJhbGciOi.secret.token\n{lines}"))

    assert reason is not None
    assert "eyJhbGciOi" not in reason.what and "eyJhbGciOi" not in reason.to_html()
    assert "line 28" in reason.what and "line 29" not in reason.what
    assert reason.what.endswith("more characters in the log below)")


def test_passed_reports_get_nothing_and_a_failed_setup_names_its_row() -> None:
    reasons = FailureReasons()
    passed = SimpleNamespace(failed=False, nodeid="t.py::a", when="call")
    setup = report("E   fixture 'x' not found", when="setup")

    reasons.note(passed)
    reasons.note(setup)

    assert not hasattr(passed, "extras")
    assert reasons.failures["suites/t.py::test_x"].row_id == "suites/t.py::test_x::setup"
    assert setup.extras[0]["format_type"] == "html" and 'class="why"' in setup.extras[0]["content"]


def test_failed_rows_open_with_the_reason_above_the_log(pytester: pytest.Pytester) -> None:
    (pytester.path / "pyproject.toml").write_text(PYPROJECT)
    suites = pytester.path / "suites"
    suites.mkdir()
    (suites / "test_reads.py").write_text(SUITE)
    (suites / "reads.iflow.yaml").write_text(CASES)

    result = pytester.runpytest_inprocess("suites", "--html=out/report.html", "--self-contained-html")

    result.assert_outcomes(failed=3)
    rows = rows_of(pytester.path / "out" / "report.html")
    # Each failed row's first extra is the reason block, which pytest-html puts above the log box.
    why = {nodeid.rsplit("::", 1)[-1]: row["extras"][0]["content"] for nodeid, row in rows.items()}
    assert all(block.startswith('<div class="why">') for block in why.values())
    assert "AssertionError: assert &#x27;1010&#x27; == &#x27;9999&#x27;" in why["test_company_code"]
    assert "at suites/test_reads.py:8" in why["test_company_code"]
    assert re.search(
        r"Hint:</b> 403 from /http/de/costcenters: client &#x27;no_de&#x27;.*lacks role", why["test_german_codes"]
    )
    assert "status: expected 404, got 200 OK" in why["unknown company code"]
    # The log box below still holds the whole failure, request and response included.
    assert "request sent: GET https://127.0.0.1:" in rows["suites/reads.iflow.yaml::unknown company code"]["log"]
