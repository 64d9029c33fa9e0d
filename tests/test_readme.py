"""The README is the user's entry point: its commands are the ones CI runs and its example is a real test."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def shell_blocks() -> list[str]:
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", README, flags=re.S)]


def test_the_two_commands_are_there() -> None:
    blocks = shell_blocks()
    assert "python3.11 -m venv .venv && . .venv/bin/activate && pip install . && iflowtest run" in blocks
    assert "python3.11 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && pytest -n 2" in blocks


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = next(b for b in shell_blocks() if b.endswith("&& pytest -n 2"))
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in script


def test_every_documented_iflowtest_command_has_a_test() -> None:
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))
    for line in "\n".join(shell_blocks()).splitlines():
        match = re.match(r"iflowtest ([\w-]+)", line.strip())
        if match:
            assert f'"{match.group(1)}"' in tests, f"no test runs `iflowtest {match.group(1)}`"


def test_the_python_example_is_a_passing_suite(pytester: pytest.Pytester) -> None:
    example = next(b for b in re.findall(r"```python\n(.*?)```", README, flags=re.S) if "def test_" in b)
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    shutil.copytree(ROOT / "fixtures", pytester.path / "fixtures")
    pytester.makepyfile(test_readme_example=example)

    result = pytester.runpytest_inprocess("test_readme_example.py")

    result.assert_outcomes(passed=9)


def test_env_example_is_in_the_readme_flow() -> None:
    assert "cp .env.example" in README or "Copy `.env.example`" in README
