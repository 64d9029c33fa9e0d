"""Planning shards: balanced by recorded durations, the same plan on every machine, whole files when asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from iflowtest.reporting.history import CaseResult, RunRecord
from iflowtest.reporting.shards import Shard, plan_id, plan_slices, recorded_durations, unit_of

ROOT = Path(__file__).resolve().parents[2]


def test_slices_are_balanced_by_duration_longest_first() -> None:
    units = {n: [n] for n in ("a", "b", "c", "d")}
    durations = {"a": 8.0, "b": 4.0, "c": 3.0, "d": 1.0}
    slices = plan_slices(units, durations, 2)
    assert slices == [["a"], ["b", "c", "d"]]
    assert slices == plan_slices(dict(reversed(units.items())), durations, 2)  # order of collection is irrelevant
    assert plan_id(slices) == plan_id(plan_slices(units, dict(durations), 2))


def test_cases_without_a_recorded_duration_count_as_the_median() -> None:
    units = {n: [n] for n in ("slow", "fast", "new1", "new2")}
    slices = plan_slices(units, {"slow": 9.0, "fast": 1.0}, 2)
    assert slices == [["slow", "fast"], ["new1", "new2"]]  # 5 s each, the median


def test_whole_files_stay_together() -> None:
    ids = ["s/test_a.py::one", "s/test_a.py::two", "s/test_b.py::one"]
    units: dict[str, list[str]] = {}
    for nodeid in ids:
        units.setdefault(unit_of(nodeid, whole_files=True), []).append(nodeid)
    assert units == {"s/test_a.py": ids[:2], "s/test_b.py": ids[2:]}
    assert unit_of(ids[0], whole_files=False) == ids[0]


def test_the_last_recorded_duration_wins() -> None:
    runs = [
        RunRecord("r1", "s", "emulator", None, (CaseResult("t::a", "passed", duration_s=1.0),)),
        RunRecord(
            "r2", "s", "emulator", None, (CaseResult("t::a", "passed", duration_s=2.5), CaseResult("t::b", "passed"))
        ),
    ]
    assert recorded_durations(runs) == {"t::a": 2.5}
    assert RunRecord.from_json(runs[1].to_json()) == runs[1]  # durations survive the history file


@pytest.mark.parametrize("text", ["0/2", "3/2", "2", "a/b", "1/0"])
def test_bad_shards_say_the_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not K/N with 1 ≤ K ≤ N, such as --shard 2/4"):
        Shard.parse(text)


def test_shard_names_its_folder() -> None:
    assert Shard.parse(" 2 / 4 ").folder_name == "shard-2-of-4"


SAVES = """sequence: flow
cases:
  - name: saves a cost center
    order: 0
    client: sender
    request: {path: /http/costcenters, query: {companyCode: "1010", $top: 1}}
    save: {cc: {json: "$.d.results[0].CostCenter"}}
"""
READS = """sequence: flow
cases:
  - name: reads it back
    order: 1
    client: sender
    request: {path: /http/costcenters, query: {controllingArea: A000, costCenter: "${cc}"}}
    expect: {status: 200, text: {contains: "${cc}"}}
"""
ALONE = """cases:
  - name: alone
    client: sender
    request: {path: /http/costcenters}
"""


def test_a_sequence_stays_whole_on_one_shard(pytester: pytest.Pytester) -> None:
    (pytester.path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (pytester.path / "suites").mkdir()
    # Case by case, "a::reads it back" and "b::saves a cost center" would plan onto different shards.
    for name, text in (("a", READS), ("b", SAVES), ("c", ALONE)):
        (pytester.path / "suites" / f"{name}.iflow.yaml").write_text(text)
    ran = {}
    for shard in ("1/2", "2/2"):
        result = pytester.runpytest_inprocess(
            "suites", "-v", "--iflow-shard", shard, "-p", "no:hypothesispytest", "-p", "no:randomly"
        )
        assert result.ret == 0, result.outlines[-20:]
        ran[shard] = [line for line in result.outlines if "PASSED" in line]
    together = [shard for shard, lines in ran.items() if len(lines) == 2]
    assert len(together) == 1 and "saves a cost center" in ran[together[0]][0]
    assert sum(len(lines) for lines in ran.values()) == 3
