"""Provisioned clients are deleted at the end of a run, also when the run is interrupted with Ctrl-C (SIGINT).

The emulated landscape lives in this test process; `iflowtest run` in a subprocess reaches its Cloud Foundry
API through a profile, exactly as it would reach a real one, so the landscape outlives the interrupted run.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

from iflowtest.emulator import Emulator

from .servers import IFLOWTEST, iflowtest, user_environ

ROOT = Path(__file__).resolve().parents[1]

BLOCKING_TEST = """
import threading

import pytest



@pytest.mark.iflow("ReadCostCenters")
def test_waits_for_ctrl_c(iflow):
    assert iflow.get(params={"companyCode": "1010"}).status_code == 200
    print("INSIDE-THE-TEST", flush=True)
    threading.Event().wait()  # until SIGINT raises KeyboardInterrupt here
"""


def profile_for(emu: Emulator, project: Path, name: str) -> None:
    landscape = emu.cloud_foundry
    (project / f".env.{name}").write_text(
        f"IFLOWTEST_CF_API={emu.cf_api}\n"
        f"IFLOWTEST_CF_ORG={landscape.org_name}\n"
        f"IFLOWTEST_CF_SPACE={landscape.space_guid}\n"
        f"IFLOWTEST_CF_USERNAME={landscape.username}\n"
        f"IFLOWTEST_CF_PASSWORD={landscape.password}\n"
        f"IFLOWTEST_CA_BUNDLE={emu.ca_file}\n"
    )


def test_clients_are_deleted_after_sigint(tmp_path: Path, fresh_emulator: Emulator) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "test_blocking.py").write_text(BLOCKING_TEST)
    profile_for(fresh_emulator, tmp_path, "live")
    environ = user_environ()
    environ["CF_HOME"] = str(tmp_path)
    process = subprocess.Popen(
        [IFLOWTEST, "run", "--iflow-env", "live", "-s", "-p", "no:randomly", "--log-cli-level=DEBUG"],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:  # blocks until the run is inside the test
            seen.append(line)
            if "INSIDE-THE-TEST" in line:
                break
        during = fresh_emulator.cloud_foundry.instance_names()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()

    # Only the clients the selected test uses are provisioned: the sender, and the 'api'-plan client that
    # reads the deployments before the first call (the others need no key in this run).
    assert sorted(n.split("-", 2)[2] for n in during) == ["monitor", "sender"], "".join(seen)
    assert "KeyboardInterrupt" in stdout
    assert process.returncode == 130, stdout[-2000:] + stderr[-2000:]
    assert fresh_emulator.cloud_foundry.instance_names() == [], stderr
    assert fresh_emulator.cloud_foundry.key_count() == 0
    # requests-oauthlib logs the password grant at DEBUG: the log is scrubbed.
    output = "".join(seen) + stdout + stderr
    assert "Request to fetch token completed" in output
    assert fresh_emulator.cloud_foundry.password not in output


def test_parallel_run_provisions_per_worker_and_deletes_everything(tmp_path: Path, fresh_emulator: Emulator) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "test_quick.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.parametrize('n', range(4))\n"
        "def test_call(iflow, n):\n"
        "    assert iflow.get('/http/costcenters', params={'companyCode': '1010'}).status_code == 200\n"
    )
    profile_for(fresh_emulator, tmp_path, "live")
    result = iflowtest("run", "--iflow-env", "live", "-n", "2", cwd=tmp_path, env={"CF_HOME": str(tmp_path)})

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    # Each of the two workers provisions the one client its tests use; the controller, which runs no test, none.
    assert len(fresh_emulator.tenant.clients.all()) == 2
    assert fresh_emulator.cloud_foundry.instance_names() == []
