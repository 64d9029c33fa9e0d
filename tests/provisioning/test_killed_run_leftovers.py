"""A run killed with SIGKILL cannot delete its clients: the next run names them and `provision cleanup` deletes them.

The emulated landscape lives in this test process; `iflowtest run` and `iflowtest provision` reach its Cloud
Foundry API through a profile in subprocesses, as they would reach a real one, so the landscape outlives the
killed run (the SIGINT case is in test_teardown.py).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from iflowtest.emulator import Emulator
from iflowtest.provisioning.provisioner import ClientRequest
from iflowtest.settings import resolve_settings
from iflowtest.target import emulator_cf_profile, emulator_provisioner
from tests.servers import iflowtest

ROOT = Path(__file__).resolve().parents[2]
KILLING_TEST = """
import os
import signal

import pytest


@pytest.mark.iflow("ReadCostCenters")
def test_killed_after_its_call(iflow):
    assert iflow.get(params={"companyCode": "1010"}).status_code == 200
    os.kill(os.getpid(), signal.SIGKILL)  # as an OOM killer or a CI timeout would: no teardown runs
"""
PASSING_TEST = """
import pytest


@pytest.mark.iflow("ReadCostCenters")
def test_passes(iflow):
    assert iflow.get(params={"companyCode": "1010"}).status_code == 200
"""


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # CF_HOME: no cf CLI session of the machine's user
    return iflowtest(*args, cwd=project, env={"CF_HOME": str(project)}, timeout=120)


def test_clients_of_a_killed_run_are_reported_and_cleaned_up(tmp_path: Path, fresh_emulator: Emulator) -> None:
    landscape = fresh_emulator.cloud_foundry
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / ".env.live").write_text(emulator_cf_profile(fresh_emulator))
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "test_killed.py").write_text(KILLING_TEST)
    # An instance someone created by hand: cleanup must leave it alone.
    by_hand = emulator_provisioner(fresh_emulator, resolve_settings(tmp_path, environ={}))
    by_hand.provision(ClientRequest("keep_me"), "keep_me")
    by_hand.cf.close()

    killed = cli(tmp_path, "run", "--iflow-env", "live", "-p", "no:randomly")

    assert killed.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL), killed.stdout[-3000:] + killed.stderr
    left = sorted(n for n in landscape.instance_names() if n != "keep_me")
    # the clients the selected test uses: the sender and the 'api'-plan client that reads the deployments
    assert sorted(n.split("-", 2)[2] for n in left) == ["monitor", "sender"]
    assert len({n.split("-")[1] for n in left}) == 1  # one run id: the killed run's

    # The killed run is gone, so it cannot say anything; the space shows what it left.
    listed = cli(tmp_path, "provision", "list", "--iflow-env", "live")
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split("\t")[0] for line in listed.stdout.splitlines()) == sorted([*left, "keep_me"])

    # The next run, once they are older than cleanup's default age, names them and the command to run.
    for name in left:
        landscape.set_created_at(name, datetime.now(UTC) - timedelta(hours=7))
    (suites / "test_killed.py").unlink()
    (suites / "test_passes.py").write_text(PASSING_TEST)
    next_run = cli(tmp_path, "run", "--iflow-env", "live", "-p", "no:randomly")
    assert next_run.returncode == 0, next_run.stdout[-3000:] + next_run.stderr
    assert (
        f"iflowtest: 2 service instance(s) of earlier runs, older than 6h, are still in the space ({', '.join(left)}): "
        "a run was killed before it could delete its clients, or kept them; delete them with "
        "`iflowtest provision cleanup --iflow-env live`"
    ) in next_run.stdout
    assert sorted(n for n in landscape.instance_names() if n != "keep_me") == left  # its own are deleted

    cleanup = cli(tmp_path, "provision", "cleanup", "--older-than", "0s", "--iflow-env", "live")

    assert cleanup.returncode == 0, cleanup.stderr
    lines = cleanup.stdout.splitlines()
    assert sorted(lines[:-1]) == [f"iflowtest: deleted {name}" for name in left]
    assert lines[-1] == "iflowtest: 2 leftover instance(s) older than 0s deleted"
    assert landscape.instance_names() == ["keep_me"]
    assert landscape.key_count() == 1
    assert landscape.password not in killed.stdout + killed.stderr + next_run.stdout + cleanup.stdout
