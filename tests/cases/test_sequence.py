"""Sequences: YAML files that run as one in a fixed order, sharing saved values, on one xdist worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from iflowtest.cases.sequence import SequenceScheduling, declared_sequence, has_sequences

ROOT = Path(__file__).resolve().parents[2]
FIRST = """sequence: flow
defaults:
  company: "9999"
cases:
  - name: saves a cost center
    order: 0
    client: sender
    request:
      path: /http/costcenters
      query: {companyCode: "${company}", $top: 1}
    save:
      cc: {json: "$.d.results[0].CostCenter"}
"""
SECOND = """sequence: flow
cases:
  - name: reads it back
    order: 1
    client: sender
    request:
      path: /http/costcenters
      query: {controllingArea: A000, costCenter: "${cc}"}
    expect:
      status: 200
      text: {contains: "${cc}"}
"""


def test_cases_of_a_sequence_run_in_its_order_and_share_saved_values(pytester: pytest.Pytester) -> None:
    (pytester.path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (pytester.path / ".env").write_text("company=1010\n")  # the profile over the file's defaults
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "a.iflow.yaml").write_text(SECOND)  # first by name, second in the sequence
    (pytester.path / "suites" / "b.iflow.yaml").write_text(FIRST)

    result = pytester.runpytest_inprocess("suites", "-v", "-p", "no:hypothesispytest", "-p", "no:randomly")

    result.assert_outcomes(passed=2)
    ran = [line for line in result.outlines if "PASSED" in line]
    assert "saves a cost center" in ran[0] and "reads it back" in ran[1]


def test_every_file_of_a_sequence_is_one_xdist_work_unit(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "a.iflow.yaml").write_text(SECOND)
    (tmp_path / "suites" / "b.iflow.yaml").write_text("sequence: 'flow'  # quoted, with a comment\ncases: []\n")
    (tmp_path / "suites" / "c.iflow.yaml").write_text("cases: []\n")
    scheduling = SequenceScheduling.__new__(SequenceScheduling)
    scheduling.root = tmp_path

    scopes = {scheduling._split_scope(f"suites/{n}.iflow.yaml::case") for n in "ab"}

    assert scopes == {"sequence flow"}
    assert scheduling._split_scope("suites/c.iflow.yaml::case") == "suites/c.iflow.yaml"
    assert scheduling._split_scope("tests/test_x.py::test_y") == "tests/test_x.py"
    assert declared_sequence(tmp_path / "suites" / "b.iflow.yaml") == "flow"
    assert has_sequences(tmp_path) and has_sequences(tmp_path / "suites" / "a.iflow.yaml")
    assert not has_sequences(tmp_path / "suites" / "c.iflow.yaml")
