"""`iflowtest cassettes check`: orphaned, missing, old and leaking cassettes, run as the README shows it."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest

from iflowtest.cassettes.modes import CassetteOptions
from tests.servers import iflowtest

ROOT = Path(__file__).resolve().parents[2]
FOLDER = "cassettes/costcenters/test_read_costcenters"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("suites", "fixtures", "cassettes"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_committed_cassettes_are_clean(project: Path) -> None:
    result = iflowtest("cassettes", "check", cwd=project)

    assert result.returncode == 0, result.stdout + result.stderr
    assert re.fullmatch(r"iflowtest cassettes: \d\d+ tests checked against cassettes/: no problems\n", result.stdout)


def test_every_kind_of_problem_is_one_line(project: Path) -> None:
    folder = project / FOLDER
    (folder / "test_one_cost_center_by_id.yaml").rename(folder / "test_renamed_long_ago.yaml")
    leaking = folder / "test_unknown_company_code_gives_an_empty_list.yaml"
    leaking.write_text(leaking.read_text().replace("Bearer {access_token}", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIi.x"))
    old = project / "cassettes/costcenters/test_failing_flow/test_failure_carries_the_mpl_id.yaml"
    old.write_text(re.sub(r"recorded_at: .*", "recorded_at: '2020-01-01T00:00:00+00:00'", old.read_text()))

    result = iflowtest("cassettes", "check", "--max-age", "30", cwd=project)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert (
        f"iflowtest cassettes: {FOLDER}/test_renamed_long_ago.yaml: no test records this cassette: delete it, or rename it after its test"
        in lines
    )
    test = "suites/costcenters/test_read_costcenters.py::test_one_cost_center_by_id"
    assert (
        f"iflowtest cassettes: {test} has no cassette ({FOLDER}/test_one_cost_center_by_id.yaml): "
        f"record it with: iflowtest run --record {test}"
    ) in lines
    assert any(
        re.fullmatch(
            r"iflowtest cassettes: cassettes/costcenters/test_failing_flow/test_failure_carries_the_mpl_id.yaml was "
            r"recorded \d+ days ago \(limit 30\): re-record it with: iflowtest run --record "
            r"suites/costcenters/test_failing_flow.py::test_failure_carries_the_mpl_id",
            line,
        )
        for line in lines
    )
    assert any(
        re.fullmatch(
            rf"iflowtest cassettes: {FOLDER}/test_unknown_company_code_gives_an_empty_list.yaml:\d+ looks like it "
            r"holds a JWT: delete the cassette, rotate the secret if it is real, and re-record .*",
            line,
        )
        for line in lines
    )
    assert re.fullmatch(r"iflowtest cassettes: \d\d+ tests checked against cassettes/: 5 problem\(s\)", lines[-1])


def test_yaml_cases_need_their_cassettes_too(project: Path) -> None:
    case = "suites/costcenters/costcenters.iflow.yaml::cost centers of a company code[A000-1010]"
    cassette = "cassettes/costcenters/costcenters.iflow/cost centers of a company code[A000-1010].yaml"
    (project / cassette).unlink()

    result = iflowtest("cassettes", "check", cwd=project)

    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        f"iflowtest cassettes: {case} has no cassette ({cassette}): record it with: iflowtest run --record '{case}'"
    )


def test_bad_max_age_is_exit_2(project: Path) -> None:
    result = iflowtest("cassettes", "check", "--max-age", "0", cwd=project)

    assert result.returncode == 2
    assert result.stderr.strip() == "iflowtest: error: --max-age must be a whole number of days ≥ 1, got 0"


def test_the_readme_cassettes_table_is_valid() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```toml\n(.*?)```", readme, flags=re.S) if "cassettes]" in b)

    options = CassetteOptions.from_table(ROOT, tomllib.loads(block)["tool"]["iflowtest"]["cassettes"])

    assert options.max_age_days == 90 and options.rules.ignore_fields == {"RequestId"}
