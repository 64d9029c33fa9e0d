"""SOAP in YAML cases: a fault as expectation and in the failure view, a missing envelope template."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = """
iflow: GetCostCenter
namespaces: {cc: "urn:iflowtest:costcenters"}
variables: {controlling_area: A000, cost_center: "99999999"}
cases:
  - name: fault expected otherwise
    request:
      soap:
        version: "1.2"
        file: fixtures/costcenters/soap/get-cost-center.xml
        wsdl: fixtures/costcenters/soap/costcenters.wsdl
    expect:
      soap_fault:
        code: soap:Receiver
        detail: {cc:CostCenter: "11111111"}
  - name: no template
    request:
      soap:
        envelope: fixtures/costcenters/soap/missing.xml
"""


def test_a_fault_shows_in_the_failure_view_and_fails_its_expectation_in_yaml_terms(pytester: pytest.Pytester) -> None:
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    shutil.copytree(ROOT / "fixtures", pytester.path / "fixtures")
    (pytester.path / "soap.iflow.yaml").write_text(SUITE)

    result = pytester.runpytest_inprocess("soap.iflow.yaml", "-p", "no:hypothesispytest", "-p", "no:randomly")

    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            '  Content-Type: application/soap+xml; charset=utf-8; action="urn:iflowtest:costcenters:GetCostCenter"',
            "SOAP 1.2 fault soap:Sender: Cost center 99999999 does not exist in controlling area A000 (detail: "
            '<CostCenterFault xmlns="urn:iflowtest:costcenters">*',
            "failed:",
            "  soap_fault code: expected 'soap:Receiver', got 'soap:Sender' (SOAP 1.2 fault soap:Sender: *",
            "  soap_fault detail cc:CostCenter: expected '11111111', got '99999999'",
            "error:",
            "  SOAP envelope fixtures/costcenters/soap/missing.xml of case 'no template' cannot be read (*No such file*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
