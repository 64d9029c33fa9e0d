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


INDEPENDENT = """sequence: flow
iterations: independent  # each data row of the sequence on its own worker
cases:
  - name: list [by company]
    order: 0
    table: fixtures/rows.csv
    client: sender
    request:
      path: /http/costcenters
      query: {companyCode: "${companyCode}", $top: 1}
  - name: once
    order: 2
    client: sender
    request: {path: /http/costcenters}
"""
LATER = """sequence: flow
iterations: independent
cases:
  - name: read
    order: 1
    table: fixtures/rows.csv
    client: sender
    request:
      path: /http/costcenters
      query: {companyCode: "${companyCode}"}
"""


def test_each_iteration_of_an_independent_sequence_is_one_work_unit(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "a.iflow.yaml").write_text(INDEPENDENT)
    (tmp_path / "suites" / "b.iflow.yaml").write_text(LATER)
    scheduling = SequenceScheduling.__new__(SequenceScheduling)
    scheduling.root = tmp_path

    def unit(nodeid: str) -> str:
        return scheduling._split_scope(nodeid)

    # A row's id names its iteration in every case, whatever brackets the case name or the id hold.
    assert unit("suites/a.iflow.yaml::list [by company][1010]") == unit("suites/b.iflow.yaml::read[1010]")
    assert unit("suites/a.iflow.yaml::list [by company][10]10]") == unit("suites/b.iflow.yaml::read[10]10]")
    assert len({unit("suites/b.iflow.yaml::read[1010]"), unit("suites/b.iflow.yaml::read[1710]")}) == 2
    # A case without a table runs once, in the sequence's own unit; other sequences stay whole.
    assert unit("suites/a.iflow.yaml::once") == "sequence flow"
    assert unit("suites/a.iflow.yaml::once") not in {unit("suites/b.iflow.yaml::read[1010]")}


def write_independent(pytester: pytest.Pytester, first: str, second: str) -> None:
    (pytester.path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (pytester.path / "fixtures").mkdir()
    (pytester.path / "fixtures" / "rows.csv").write_text("companyCode\n1010\n1710\n")
    (pytester.path / "fixtures" / "other.csv").write_text("companyCode\n1010\n")
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "a.iflow.yaml").write_text(first)
    (pytester.path / "suites" / "b.iflow.yaml").write_text(second)


def test_independent_iterations_spread_over_workers_in_order_within_each(pytester: pytest.Pytester) -> None:
    write_independent(pytester, INDEPENDENT, LATER)

    result = pytester.runpytest_inprocess("suites", "-v", "-n", "2", "-p", "no:hypothesispytest", "-p", "no:randomly")

    result.assert_outcomes(passed=5)
    ran = [line.rstrip() for line in result.outlines if "PASSED" in line]
    worker = {row: {line.split()[0] for line in ran if line.endswith(f"[{row}]")} for row in ("1010", "1710")}
    assert all(len(w) == 1 for w in worker.values())  # an iteration runs on one worker
    assert worker["1010"] != worker["1710"]  # two iterations, two workers
    for row in ("1010", "1710"):
        mine = [line for line in ran if line.endswith(f"[{row}]")]
        assert "list [by company]" in mine[0] and "::read[" in mine[1]  # in order within the iteration


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (
            LATER.replace("iterations: independent\n", ""),
            "suites/a.iflow.yaml declares 'iterations: independent' and suites/b.iflow.yaml does not, but both are "
            "files of sequence 'flow': declare it in every file of the sequence or in none",
        ),
        (
            LATER.replace("fixtures/rows.csv", "fixtures/other.csv"),
            "suites/b.iflow.yaml reads table fixtures/other.csv and suites/a.iflow.yaml "
            "table fixtures/rows.csv, but sequence 'flow' declares 'iterations: independent': every case of it reads "
            "the same table with the same table_ids, so that each iteration is one row of all of them",
        ),
    ],
    ids=["one file not independent", "another table"],
)
def test_files_of_one_sequence_agree_on_independent_iterations(
    pytester: pytest.Pytester, second: str, message: str
) -> None:
    write_independent(pytester, INDEPENDENT, second)

    result = pytester.runpytest_inprocess("suites", "-p", "no:hypothesispytest", "-p", "no:randomly")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.outlines


def test_a_shard_runs_whole_iterations_of_an_independent_sequence(pytester: pytest.Pytester) -> None:
    write_independent(pytester, INDEPENDENT, LATER)
    ran: dict[str, list[str]] = {}
    for shard in ("1/2", "2/2"):
        result = pytester.runpytest_inprocess(
            "suites", "-v", "--iflow-shard", shard, "-p", "no:hypothesispytest", "-p", "no:randomly"
        )
        assert result.ret == 0, result.outlines[-20:]
        ran[shard] = [line.split(" PASSED")[0] for line in result.outlines if " PASSED" in line]

    assert sorted(n for names in ran.values() for n in names) == sorted(
        [
            "suites/a.iflow.yaml::list [by company][1010]",
            "suites/a.iflow.yaml::list [by company][1710]",
            "suites/a.iflow.yaml::once",
            "suites/b.iflow.yaml::read[1010]",
            "suites/b.iflow.yaml::read[1710]",
        ]
    )
    for names in ran.values():  # an iteration's two cases are on one shard, in their order
        for row in ("1010", "1710"):
            mine = [n for n in names if n.endswith(f"[{row}]")]
            assert mine in ([], [f"suites/a.iflow.yaml::list [by company][{row}]", f"suites/b.iflow.yaml::read[{row}]"])
