"""`iflowtest run --shard K/N` and `iflowtest merge`: two shards merged equal one unsharded run of the suite."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped, unused-ignore]
from werkzeug.wrappers import Request, Response

from ..servers import iflowtest, read_tests, serve

EXTRA = '''"""Outcomes the sample lacks: a failure, an error in setup, a skip."""

import pytest


@pytest.fixture
def broken():
    raise RuntimeError("setup fails")


def test_fails():
    assert 1 == 2


def test_errors(broken):
    pass


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
'''


def summary_of(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "summary.json").read_text())
    return data


def comparable_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """What must be equal: counts, changes, target, per-iFlow counts (latencies differ from run to run)."""
    drop = {"run_id", "started", "duration_s", "previous_run", "pacing"}  # pacing depends on timing too
    kept = {k: v for k, v in summary.items() if k not in drop}
    kept["iflows"] = [{k: v for k, v in row.items() if k not in ("p50_ms", "p95_ms")} for row in summary["iflows"]]
    return kept


def junit_cases(path: Path) -> tuple[dict[str, str], set[tuple[str, str, str]]]:
    tree = etree.parse(str(path))
    suite = next(tree.iter("testsuite"))
    totals = {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")}
    cases = set()
    for case in tree.iter("testcase"):
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        cases.add((case.get("classname"), case.get("name"), outcome))
    return totals, cases


def history_cases(path: Path) -> list[set[tuple[str, str, str]]]:
    runs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{(c[0], c[1], c[2]) for c in run["cases"]} for run in runs]


def report_rows(path: Path) -> dict[str, list[str]]:
    blob = re.search(r'data-jsonblob="([^"]*)"', path.read_text())
    assert blob is not None
    tests = json.loads(html.unescape(blob[1]))["tests"]
    return {nodeid: sorted(row["result"] for row in rows) for nodeid, rows in tests.items()}


def run_ok(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = iflowtest(*args, cwd=cwd, env=env)
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture
def suite(project: Path) -> Path:
    (project / "suites" / "test_outcomes.py").write_text(EXTRA)
    return project


def test_two_shards_merged_equal_one_unsharded_run(suite: Path) -> None:
    posted: list[dict[str, Any]] = []

    def webhook(request: Request) -> Response:
        posted.append(json.loads(request.get_data()))
        return Response("ok")

    with (suite / "pyproject.toml").open("a") as handle:
        handle.write('\n[tool.iflowtest.notify]\nkind = "json"\n')
    with serve(webhook) as url:
        env = {"IFLOWTEST_NOTIFY_WEBHOOK": url + "/hook"}
        run_ok("run", "--iflow-reports", "whole", cwd=suite, env=env)
        first = run_ok("run", "--shard", "1/2", "-n", "2", cwd=suite, env=env)  # xdist workers plan alike
        second = run_ok("run", "--shard=2/2", cwd=suite, env=env)
        assert len(posted) == 1  # the unsharded run's; shards leave the message to the merge
        reports = suite / "reports"
        assert not (reports / "latest").exists() and not (reports / "history.jsonl").exists()  # shards publish nothing
        merged = iflowtest("merge", "reports/shard-1-of-2", "reports/shard-2-of-2", cwd=suite, env=env)
    assert len(posted) == 2 and posted[1]["summary"]["tests"] == posted[0]["summary"]["tests"]
    reports = suite / "reports"
    assert f"iflowtest: report {reports / 'shard-1-of-2' / 'report.html'}" in first
    assert f"iflowtest: report {reports / 'shard-2-of-2' / 'report.html'}" in second

    assert merged.returncode == 1, merged.stdout[-3000:] + merged.stderr[-3000:]  # the suite has a failure
    assert "iflowtest: merged 2 shards of one run" in merged.stdout
    assert f"iflowtest: report {reports / 'latest' / 'report.html'}" in merged.stdout
    whole, latest = suite / "whole" / "latest", reports / "latest"
    shard_one, shard_two = summary_of(reports / "shard-1-of-2"), summary_of(reports / "shard-2-of-2")
    assert shard_one["tests"] and shard_two["tests"]
    assert shard_one["tests"] + shard_two["tests"] == summary_of(whole)["tests"]
    assert comparable_summary(summary_of(latest)) == comparable_summary(summary_of(whole))
    assert summary_of(latest)["failed"] == 1 and summary_of(latest)["error"] == 1 and summary_of(latest)["skipped"] == 1
    assert junit_cases(latest / "junit.xml") == junit_cases(whole / "junit.xml")
    [merged_cases] = history_cases(reports / "history.jsonl")  # one history entry for the two shards
    [whole_cases] = history_cases(suite / "whole" / "history.jsonl")
    assert merged_cases == whole_cases
    assert report_rows(latest / "report.html") == report_rows(whole / "report.html")
    assert "iflowtest: emulator" in (latest / "report.html").read_text()


PACED = read_tests(8)

# Ten calls a second to the runtime, and each shard's emulator answers its first call with a 429.
PACING = """
[tool.iflowtest.rate_limits]
runtime = 10

[tool.iflowtest.emulator]
faults = ["ReadCostCenters:status=429,retry_after=1,times=1"]
"""


def test_the_merged_report_shows_the_pacing_delays_of_every_shard_added_up(project: Path) -> None:
    (project / "suites" / "test_paced.py").write_text(PACED)
    with (project / "pyproject.toml").open("a") as handle:
        handle.write(PACING)
    for shard in ("1/2", "2/2"):
        run_ok("run", "suites/test_paced.py", "--shard", shard, cwd=project)
    reports = project / "reports"
    shards = [summary_of(reports / f"shard-{k}-of-2")["pacing"] for k in (1, 2)]
    for folder, pacing in zip(("shard-1-of-2", "shard-2-of-2"), shards, strict=True):
        # Each shard held calls back and was slowed by its 429; shard.json carries what its summary says.
        assert pacing["delayed_calls"] >= 1 and pacing["delay_s"] > 0 and pacing["slowed_by_429"] == 1, pacing
        assert json.loads((reports / folder / "shard.json").read_text())["pacing"] == pacing

    merged = iflowtest("merge", "reports/shard-1-of-2", "reports/shard-2-of-2", cwd=project)

    assert merged.returncode == 0, merged.stdout[-3000:] + merged.stderr[-3000:]
    calls = shards[0]["delayed_calls"] + shards[1]["delayed_calls"]
    seconds = round(shards[0]["delay_s"] + shards[1]["delay_s"], 3)
    limits = shards[0]["limits"]
    assert "runtime 10/s" in limits and shards[1]["limits"] == limits
    latest = reports / "latest"
    assert summary_of(latest)["tests"] == 8
    assert summary_of(latest)["pacing"] == {
        "delayed_calls": calls,
        "delay_s": seconds,
        "slowed_by_429": 2,
        "limits": limits,
    }
    line = f"delayed {calls} call(s) by {seconds:.1f} s in all; 2 answer(s) 429 slowed it down (limits: {limits})"
    assert f'<p class="iflowtest-pacing">Pacing: {html.escape(line)}</p>' in (latest / "report.html").read_text()
    assert f"iflowtest: pacing {line}" in merged.stderr


def shard_file(folder: Path, index: int, count: int, *, plan: str = "p1", nodeids: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True)
    ids = nodeids or (f"t.py::test_{index}",)
    reports = [{"nodeid": n, "when": w, "outcome": "passed", "$report_type": "TestReport"} for n in ids for w in "x"]
    content = {
        "format": 1,
        "shard": index,
        "of": count,
        "plan": plan,
        "selected": 2,
        "planned": list(ids),
        "whole_files": False,
        "run": {"target": "emulator", "profile": None, "mode": "live", "tls_verify": True, "started": "s"},
        "duration_s": 1.0,
        "reports": reports,
    }
    (folder / "shard.json").write_text(json.dumps(content))
    return folder


@pytest.mark.parametrize(
    ("shards", "message"),
    [
        ([(1, 2, "p1")], "iflowtest: error: shard 2 of 2 missing: a merged report must hold every test of the run"),
        ([(1, 2, "p1"), (2, 2, "p2")], "iflowtest: error: shard 2 of 2 was planned differently from shard 1"),
        ([(1, 2, "p1"), (1, 2, "p1")], "iflowtest: error: shard 1 of 2 given twice"),
        ([(1, 2, "p1"), (2, 3, "p1")], "iflowtest: error: "),
    ],
)
def test_a_failed_merge_says_why_and_leaves_latest_and_the_history(
    project: Path, shards: list[tuple[int, int, str]], message: str
) -> None:
    reports = project / "reports"
    (reports / "r1").mkdir(parents=True)
    (reports / "r1" / "report.html").write_text("last night")
    os.symlink("r1", reports / "latest")
    (reports / "history.jsonl").write_text("{}\n")
    folders = [
        str(shard_file(project / "in" / f"s{n}", index, count, plan=plan))
        for n, (index, count, plan) in enumerate(shards)
    ]

    result = iflowtest("merge", *folders, cwd=project)

    assert result.returncode == 2
    assert result.stderr.startswith(message) and len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert (reports / "latest" / "report.html").read_text() == "last night"
    assert (reports / "history.jsonl").read_text() == "{}\n"
    assert sorted(p.name for p in reports.iterdir()) == ["history.jsonl", "latest", "r1"]


def test_a_folder_without_shard_json_is_named(project: Path) -> None:
    (project / "empty").mkdir()
    result = iflowtest("merge", "empty", cwd=project)
    assert result.returncode == 2
    assert result.stderr.startswith("iflowtest: error: empty holds no shard.json: pass the folders")


def test_a_shard_that_did_not_report_a_planned_test_is_refused(project: Path) -> None:
    one = shard_file(project / "a", 1, 1, nodeids=("t.py::a", "t.py::b"))
    data = json.loads((one / "shard.json").read_text())
    data["reports"] = data["reports"][:1]
    (one / "shard.json").write_text(json.dumps(data))
    result = iflowtest("merge", str(one), cwd=project)
    assert result.returncode == 2
    assert "shard 1 of 1 did not report 1 planned test(s), such as t.py::b: run that shard again" in result.stderr


def test_bad_shard_option_is_exit_2(project: Path) -> None:
    result = iflowtest("run", "--shard", "3/2", cwd=project)
    assert result.returncode == 2
    assert "--shard '3/2' is not K/N with 1 ≤ K ≤ N, such as --shard 2/4" in result.stderr
    assert "Traceback" not in result.stderr
    shutil.rmtree(project / "reports", ignore_errors=True)
