"""The suite schema from an installed project: `iflowtest schema --write` and the path `init` wires up."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from iflowtest.project.init import init_project
from tests.servers import iflowtest

ROOT = Path(__file__).resolve().parents[2]


def test_schema_write_gives_the_packaged_schema(tmp_path: Path) -> None:
    result = iflowtest("schema", "--write", "editor/iflow-suite.schema.json", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    written = tmp_path / "editor" / "iflow-suite.schema.json"
    assert result.stdout == "iflowtest: wrote the *.iflow.yaml JSON Schema to editor/iflow-suite.schema.json\n"
    assert written.read_text() == (ROOT / "src" / "iflowtest" / "schema" / "iflow-suite.schema.json").read_text()


def test_the_modeline_of_an_init_project_resolves_and_its_suite_is_valid(tmp_path: Path) -> None:
    init_project(tmp_path)
    suite = tmp_path / "suites" / "orders" / "status.iflow.yaml"
    modeline = suite.read_text().splitlines()[0]
    relative = modeline.split("$schema=", 1)[1]

    schema = json.loads((suite.parent / relative).read_text())
    settings = json.loads((tmp_path / ".vscode" / "settings.json").read_text())

    jsonschema.validate(yaml.safe_load(suite.read_text()), schema)
    assert settings["yaml.schemas"] == {"./schema/iflow-suite.schema.json": "*.iflow.yaml"}
    assert (tmp_path / "schema" / "iflow-suite.schema.json").is_file()


def test_schema_write_to_an_unwritable_place_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    result = iflowtest("schema", "--write", "taken/schema.json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("iflowtest: error: cannot write taken/schema.json")
