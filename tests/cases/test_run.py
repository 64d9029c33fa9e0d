"""Running YAML cases: a step that expects 202 waits for its message; message blocks use the step's saved values."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASYNC = """\
iflow: ChangeCostCenterAsync
client: sender
cases:
  - name: accepted
    request:
      method: POST
      headers: {Content-Type: application/xml}
      body: {xml: "<CostCenterChangeRequest><ControllingArea>A000</ControllingArea><CostCenter>10101101</CostCenter><ValidFrom>2026-01-01</ValidFrom><Changes><Field name='CostCtrResponsiblePersonName'>Q</Field></Changes></CostCenterChangeRequest>"}
    expect:
      status: 202
"""


def test_a_step_that_expects_202_waits_for_its_message(pytester: pytest.Pytester) -> None:
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    (pytester.path / "async.iflow.yaml").write_text(ASYNC)

    recorder = pytester.inline_run("async.iflow.yaml", "-p", "no:randomly", "-p", "no:hypothesispytest")

    [report] = [r for r in recorder.getreports("pytest_runtest_logreport") if r.when == "call"]
    properties = dict(report.user_properties)
    assert report.passed
    assert properties["iflowtest.mpl_status"] == "COMPLETED"  # the 202's own message was looked up and waited for
    assert properties["iflowtest.mpl_found_by"] == "application id (SAP_ApplicationID)"


def test_without_an_api_client_a_202_is_noted_not_waited_for(pytester: pytest.Pytester) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    start = pyproject.index("[tool.iflowtest.clients.monitor]")
    end = pyproject.index("\n[", start + 1)
    (pytester.path / "pyproject.toml").write_text(pyproject[:start] + pyproject[end + 1 :])
    (pytester.path / "async.iflow.yaml").write_text(ASYNC)

    recorder = pytester.inline_run("async.iflow.yaml", "-p", "no:randomly", "-p", "no:hypothesispytest")

    [report] = [r for r in recorder.getreports("pytest_runtest_logreport") if r.when == "call"]
    assert report.passed
    assert "iflowtest.mpl_status" not in dict(report.user_properties)
    assert (
        "step 1 expects 202 (accepted): its message was not waited for, as no client of plan 'api' is declared to "
        "read message logs"
    ) in report.sections[0][1]
