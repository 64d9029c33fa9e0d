"""The YAML suite documentation is tested: every yaml and python example in it runs and passes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "yaml-suites.md"
README = ROOT / "README.md"


def blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def project(pytester: pytest.Pytester) -> None:
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    shutil.copytree(ROOT / "fixtures", pytester.path / "fixtures")
    (pytester.path / "suites").mkdir()


def test_readme_links_the_format_documentation() -> None:
    text = README.read_text(encoding="utf-8")
    assert "](docs/yaml-suites.md)" in text and DOC.is_file()
    assert blocks(README, "yaml"), "the README shows a YAML suite"


def test_every_yaml_example_is_a_passing_suite(pytester: pytest.Pytester) -> None:
    project(pytester)
    examples = blocks(README, "yaml") + blocks(DOC, "yaml")
    for number, example in enumerate(examples):
        (pytester.path / "suites" / f"example{number}.iflow.yaml").write_text(example, encoding="utf-8")

    result = pytester.runpytest_inprocess("suites", "-p", "no:hypothesispytest", "-p", "no:randomly")

    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()[-4000:]
    assert len(examples) >= 6 and outcomes["passed"] >= 15


def test_the_python_examples_pass(pytester: pytest.Pytester) -> None:
    project(pytester)
    [example] = blocks(DOC, "python")
    pytester.makepyfile(test_doc_example=example)

    result = pytester.runpytest_inprocess("test_doc_example.py", "-p", "no:hypothesispytest")

    result.assert_outcomes(passed=2)


def test_the_documented_error_is_the_real_one() -> None:
    documented = re.search(r"unknown key 'expcet'[^\n]*", DOC.read_text(encoding="utf-8"))
    assert documented is not None
    assert documented.group(0) == (
        "unknown key 'expcet' in case 'list A000' (suites/costcenters/costcenters.iflow.yaml:14): did you mean 'expect'?"
    )  # the same wording tests/cases/test_format.py asserts for that input
