"""Two shards merged against one run: same tests, same verdicts, and the merged report's size.

    python bench/shards.py [--write]

Copies the sample project (pyproject.toml, suites, fixtures) into a temporary folder, adds a file with a
failing, an erroring and a skipped case, and runs it with the installed `iflowtest` command against the
emulator: once whole (`--iflow-reports whole`), then as `--shard 1/2 -n 2` and `--shard 2/2`, merged with
`iflowtest merge`. It compares every case's verdict (history entry), the JUnit cases and totals, and the
per-iFlow counts of summary.json, and reports the sizes of both report.html files against the report budget
(5 MB for a 2000-case nightly, bench/report_size.py). Exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from overhead import write_readme

ROOT: Final = Path(__file__).resolve().parents[1]
IFLOWTEST: Final = str(Path(sys.executable).parent / "iflowtest")
START: Final = "<!-- shards:results:start -->"
END: Final = "<!-- shards:results:end -->"
BUDGET_BYTES: Final = 5 * 1024 * 1024
OUTCOMES: Final = """import pytest


def test_fails():
    assert 1 == 2


@pytest.fixture
def broken():
    raise RuntimeError("setup fails")


def test_errors(broken):
    pass


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
"""


def run(*args: str, cwd: Path) -> float:
    """Run `iflowtest ARGS`; its wall seconds. Exit 0 or 1 (the added failure) only."""
    started = time.perf_counter()
    done = subprocess.run([IFLOWTEST, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"iflowtest {' '.join(args)} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr}")
    return time.perf_counter() - started


def verdicts(history: Path) -> dict[str, str]:
    [line] = [line for line in history.read_text().splitlines() if line.strip()]
    return {case[0]: case[1] for case in json.loads(line)["cases"]}


def junit(path: Path) -> tuple[dict[str, str | None], set[tuple[str | None, str | None, str]]]:
    tree = etree.parse(str(path))
    suite = next(tree.iter("testsuite"))
    cases = {
        (c.get("classname"), c.get("name"), next((e.tag for e in c if e.tag in ("failure", "error", "skipped")), "ok"))
        for c in tree.iter("testcase")
    }
    return {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")}, cases


def per_iflow(summary: Path) -> list[dict[str, Any]]:
    rows = json.loads(summary.read_text())["iflows"]
    return [{k: v for k, v in row.items() if k not in ("p50_ms", "p95_ms")} for row in rows]


def main(argv: list[str] | None = None) -> int:
    """Run both ways, compare, print (and with --write record) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update the results section of bench/README.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="iflowtest-shards-") as tmp:
        project = Path(tmp)
        shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
        shutil.copytree(ROOT / "suites", project / "suites")
        shutil.copytree(ROOT / "fixtures", project / "fixtures")
        (project / "suites" / "test_outcomes.py").write_text(OUTCOMES)
        whole_s = run("run", "--iflow-reports", "whole", cwd=project)
        shard_s = [run("run", "--shard", "1/2", "-n", "2", cwd=project), run("run", "--shard", "2/2", cwd=project)]
        merge_s = run("merge", "reports/shard-1-of-2", "reports/shard-2-of-2", cwd=project)
        whole, merged = project / "whole" / "latest", project / "reports" / "latest"
        checks = {
            "every case's verdict (history entry)": verdicts(project / "whole" / "history.jsonl")
            == verdicts(project / "reports" / "history.jsonl"),
            "JUnit totals and cases": junit(whole / "junit.xml") == junit(merged / "junit.xml"),
            "per-iFlow counts (summary.json)": per_iflow(whole / "summary.json") == per_iflow(merged / "summary.json"),
        }
        cases = len(verdicts(project / "whole" / "history.jsonl"))
        sizes = {"one run": (whole / "report.html").stat().st_size, "merged": (merged / "report.html").stat().st_size}
        shard_cases = [
            len(json.loads((project / "reports" / f"shard-{k}-of-2" / "shard.json").read_text())["planned"])
            for k in (1, 2)
        ]
    scaled = sizes["merged"] / cases * 2000
    lines = [
        f"Sample suite plus three cases ({cases} cases); shards of {shard_cases[0]} and {shard_cases[1]} cases.",
        "",
        "| check | equal |",
        "|---|:---:|",
        *(f"| {name} | {'✓' if same else '✗'} |" for name, same in checks.items()),
        "",
        "| | one run | two shards merged |",
        "|---|---:|---:|",
        f"| report.html bytes | {sizes['one run']} | {sizes['merged']} |",
        f"| wall s (processes) | {whole_s:.1f} | {shard_s[0]:.1f} + {shard_s[1]:.1f} shards, {merge_s:.1f} merge |",
        "",
        f"Merged report per case scaled to 2000 cases: {scaled / 1024 / 1024:.2f} MB, budget 5 MB "
        f"({'✓' if scaled <= BUDGET_BYTES else '✗'}); both runs started with an empty history.",
    ]
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_readme(table, START, END)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
