"""Newman and the imported suite give the same pass/fail per request on the sample collection, same emulator."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import requests
from lxml import etree

from iflowtest.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "fixtures" / "postman"


def load_bench() -> ModuleType:
    if "bench_newman" in sys.modules:  # one module, so ensure_newman's one install attempt is shared
        return sys.modules["bench_newman"]
    spec = importlib.util.spec_from_file_location("bench_newman", ROOT / "bench" / "newman.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_newman"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_newman_and_the_imported_suite_agree_per_request(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_bench()
    newman, why = bench.ensure_newman()
    if newman is None:
        pytest.skip(why)
    rows = ["1010", "9999"]  # 9999 has no cost centers: the JSON check of the first request fails on both sides
    # JSON, not CSV: Newman reads the CSV cell 1010 as a number, and pm's eql then fails against the string "1010".
    data = tmp_path / "rows.json"
    data.write_text(json.dumps([{"companyCode": row} for row in rows]))
    with Emulator() as emulator:  # HTTPS: the harness sends client secrets over https only; Newman runs --insecure
        key = emulator.issue_service_key("postman")["oauth"]
        # Newman cannot fetch a client_credentials token by itself: the test does, as a pre-run step would.
        session = requests.Session()
        session.trust_env = False
        token = session.post(
            key["tokenurl"],
            data={"grant_type": "client_credentials"},
            auth=(key["clientid"], key["clientsecret"]),
            verify=str(emulator.ca_file),
        ).json()["access_token"]
        environment = {
            "baseUrl": key["url"],
            "tokenUrl": key["tokenurl"],
            "clientid": key["clientid"],
            "clientsecret": key["clientsecret"],
            "accessToken": token,
        }
        _, newman_results = bench.run_newman(
            newman, SAMPLE / "cpi-costcenters.postman_collection.json", tmp_path, environment, data
        )

        bench.imported_project(
            pytester.path,
            SAMPLE / "cpi-costcenters.postman_collection.json",
            data,
            SAMPLE / "cpi.postman_environment.json",
        )
        for name, value in bench.tenant_environment({"oauth": key}).items():
            if name.startswith("IFLOWTEST_") or name in environment:
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("IFLOWTEST_CA_BUNDLE", str(emulator.ca_file))
        junit = tmp_path / "junit.xml"
        pytester.runpytest_inprocess("suites", f"--junitxml={junit}", "-p", "no:hypothesispytest", "-p", "no:randomly")

    newman_verdicts = {(name, rows[iteration]): ok for name, iteration, ok in newman_results}
    ours = {}
    for case in etree.parse(junit).getroot().iter("testcase"):
        name, _, row = case.get("name", "").rpartition("[")
        ours[(name, row.rstrip("]"))] = case.find("failure") is None and case.find("error") is None
    assert len(newman_verdicts) == 10
    assert ours == newman_verdicts
    assert [key for key, ok in ours.items() if not ok] == [("cost centers of a company code", "9999")]


def test_bench_runs_both_sides_on_equal_work(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_bench()
    newman, why = bench.ensure_newman()
    if newman is None:
        pytest.skip(why)

    code = bench.main(["--requests", "3", "--workers", "0", "--repeat", "1"])

    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "| Newman | 3 |" in printed and "| iflowtest (imported suite) | 3 |" in printed
    assert "Newman / iflowtest wall time: " in printed


def test_bench_results_are_in_the_bench_readme() -> None:
    text = (ROOT / "bench" / "README.md").read_text()

    assert "## `newman.py`: Newman against the imported suite" in text
    assert "| Newman | 1000 |" in text


def test_without_node_the_newman_tests_skip_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load_bench()
    monkeypatch.setattr(bench.shutil, "which", lambda name: None if name == "node" else "/usr/bin/npm")

    assert bench.ensure_newman.__wrapped__() == (None, "Newman needs Node.js and npm on PATH (node is missing)")


def load_parity() -> ModuleType:
    if "bench_parity" in sys.modules:
        return sys.modules["bench_parity"]
    load_bench()  # parity.py imports newman.py: the same module, so ensure_newman's one attempt is shared
    sys.modules.setdefault("newman", sys.modules["bench_newman"])
    spec = importlib.util.spec_from_file_location("bench_parity", ROOT / "bench" / "parity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_parity"] = module
    spec.loader.exec_module(module)
    return module


def test_the_parity_corpus_has_newmans_verdicts_through_newman_itself() -> None:
    """The measurement itself: every collection of bench/postman_corpus through Newman and the imported suite."""
    parity = load_parity()
    newman, why = load_bench().ensure_newman()
    if newman is None:
        pytest.skip(why)

    rows = parity.run()

    assert parity.targets_met(rows), parity.table(rows)
    recorded = json.loads(parity.VERDICTS.read_text())
    assert {(r.collection, r.item): r.newman_ok for r in rows} == {
        (collection, item): ok for collection, items in recorded.items() for item, ok in items.items()
    }, "Newman's verdicts changed: rerun python bench/parity.py and review the diff"


def test_the_parity_table_is_in_the_bench_readme_and_rewritten_in_place(tmp_path: Path) -> None:
    parity = load_parity()
    text = (ROOT / "bench" / "README.md").read_text()
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\nintro\n")

    parity.write_readme("| table 1 |", readme)
    parity.write_readme("| table 2 |", readme)

    assert "## `parity.py`: Newman's verdicts against the imported suite" in text
    assert parity.START in text and parity.END in text and "Assertions converted: " in text
    assert readme.read_text() == f"# Benchmarks\n\nintro\n\n{parity.START}\n| table 2 |\n{parity.END}\n"
