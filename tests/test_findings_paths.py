"""Issue 18, E1/E2: a suite reads and writes only inside the project, unless [tool.iflowtest] allowed_paths says so."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from .servers import iflowtest

ROOT = Path(__file__).resolve().parents[1]
LIST = {"query": {"companyCode": "1010", "$top": "1"}}


def project(tmp_path: Path, cases: list[dict[str, object]], extra: str = "") -> Path:
    root = tmp_path / "project"
    (root / "suites").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        (ROOT / "pyproject.toml").read_text().replace("[tool.iflowtest]\n", "[tool.iflowtest]\n" + extra, 1)
    )
    suite = {"iflow": "ReadCostCenters", "client": "sender", "cases": cases}
    (root / "suites" / "paths.iflow.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    return root


def test_e1_e2_files_outside_the_project_are_neither_written_nor_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside-content-e2\n")
    (outside / "schema.json").write_text('{"type": "object"}')
    (outside / "include.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="outside-xsd-e2"/></xs:schema>'
    )
    cases: list[dict[str, object]] = [
        {"name": "relative baseline", "request": LIST, "baseline": {"file": "../outside/new.baseline.json"}},
        {"name": "absolute baseline", "request": LIST, "baseline": {"file": str(outside / "abs.baseline.json")}},
        {"name": "absolute body", "request": {"method": "POST", "body": {"file": str(outside / "secret.txt")}}},
        {"name": "relative body", "request": {"method": "POST", "body": {"file": "../outside/secret.txt"}}},
        {"name": "schema", "request": LIST, "expect": {"json_schema": "../outside/schema.json"}},
        {"name": "xsd include", "request": LIST, "expect": {"xsd": "fixtures/inc.xsd"}},
    ]
    root = project(tmp_path, cases)
    (root / "fixtures").mkdir()
    (root / "fixtures" / "inc.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        f'<xs:include schemaLocation="{outside / "include.xsd"}"/></xs:schema>'
    )
    result = iflowtest("run", "--iflow-update-baselines", "-rf", cwd=root, timeout=300)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert "6 failed" in result.stdout, result.stdout[-3000:]
    assert sorted(p.name for p in outside.iterdir()) == ["include.xsd", "schema.json", "secret.txt"]
    assert "outside-content-e2" not in result.stdout + result.stderr
    assert result.stdout.count("is outside the project") >= 6, result.stdout[-4000:]
    assert "allowed_paths" in result.stdout


def test_e2_a_table_outside_the_project_is_refused_at_collection(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("company\n1010\n")
    root = project(tmp_path, [{"name": "rows", "table": "../rows.csv", "request": LIST}])
    result = iflowtest("run", cwd=root, timeout=300)
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-2000:]
    assert "is outside the project" in result.stdout + result.stderr


def test_allowed_paths_let_a_suite_read_a_shared_folder(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "rows.csv").write_text("company\n1010\n")
    shutil.copy(ROOT / "fixtures" / "costcenters" / "costcenter_list.schema.json", shared / "list.schema.json")
    cases: list[dict[str, object]] = [
        {
            "name": "rows",
            "table": "../shared/rows.csv",
            "request": {"query": {"companyCode": "${company}"}},
            "expect": {"json_schema": "../shared/list.schema.json"},
        },
    ]
    root = project(tmp_path, cases, extra='allowed_paths = ["../shared"]\n')
    result = iflowtest("run", cwd=root, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
