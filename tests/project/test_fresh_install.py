"""The README's *Start your own project*, word for word: a fresh virtual environment, `pip install` of this
repository, `iflowtest init` and `iflowtest run` in an empty folder.

Marked `slow` (a whole install, and pip needs a package index): `pytest -m slow tests/project/test_fresh_install.py`.
The default suite proves the same with the installed command of the test environment (tests/project/test_init.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import user_environ

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_pip_install_init_run_in_an_empty_folder(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(ROOT)], check=True, timeout=1200)
    folder = tmp_path / "project"
    folder.mkdir()
    command = str(venv / "bin" / "iflowtest")

    init = subprocess.run(
        [command, "init"], cwd=folder, env=user_environ(), capture_output=True, text=True, timeout=120
    )
    run = subprocess.run([command, "run"], cwd=folder, env=user_environ(), capture_output=True, text=True, timeout=600)

    assert init.returncode == 0, init.stderr
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "2 tests, 2 passed" in run.stdout
