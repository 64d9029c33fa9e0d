"""Shared fixtures of the project's own tests: emulated tenants over real HTTPS on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from iflowtest import ServiceKey
from iflowtest.emulator import Emulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """One emulated tenant for the whole test session (TLS, like a real tenant)."""
    with Emulator() as emu:
        yield emu


@pytest.fixture
def fresh_emulator() -> Iterator[Emulator]:
    """An emulated tenant of this test alone, for tests that move its clock or change its settings."""
    with Emulator() as emu:
        yield emu
        emu.check_errors()


@pytest.fixture
def issue_key() -> Callable[..., ServiceKey]:
    """Factory: issue a client on an emulator and parse its key as the harness would."""

    def issue(emu: Emulator, name: str = "sender", **options: Any) -> ServiceKey:
        return ServiceKey.from_mapping(emu.issue_service_key(name, **options), f"emulator key of {name}")

    return issue


@pytest.fixture(autouse=True)
def no_cf_cli_session(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test may find (and provision with) the cf CLI session of whoever runs the tests."""
    monkeypatch.setenv("CF_HOME", str(tmp_path_factory.getbasetemp() / "no-cf-home"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of this repository's sample project (pyproject, suites, fixtures) in a temporary folder."""
    root = Path(__file__).resolve().parents[1]
    shutil.copy(root / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(root / "suites", tmp_path / "suites")
    shutil.copytree(root / "fixtures", tmp_path / "fixtures")
    return tmp_path
