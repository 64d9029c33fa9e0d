"""bench/overhead.py's YAML side stays runnable: its generated suites are valid and one small run does the work."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from iflowtest.cases.format import load_suite
from iflowtest.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_overhead", ROOT / "bench" / "overhead.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_overhead"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_generated_yaml_suites_and_one_run(bench: ModuleType, tmp_path: Path) -> None:
    with Emulator() as emulator:
        bench.write_project(tmp_path, emulator, 3)
        per_test = load_suite(tmp_path / "per_test.iflow.yaml")
        loop = load_suite(tmp_path / "loop.iflow.yaml")

        run = bench.run_once(tmp_path, emulator, "yaml", "loop", 3, 0)

    assert per_test.cases[0].table == "rows.csv" and len(loop.cases[0].steps) == 3
    assert run.runtime_calls == 3 and run.tokens_issued == 2 and run.protocol_s > 0  # sender, and the gate's monitor


def test_yaml_results_section_is_there() -> None:
    text = (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    assert "<!-- overhead:yaml-results:start -->" in text and "<!-- overhead:yaml-results:end -->" in text
