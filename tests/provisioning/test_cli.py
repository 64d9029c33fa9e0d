"""`iflowtest provision ...` against `iflowtest emulator` running as a separate process, as a user runs them."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import servers
from tests.servers import IFLOWTEST, standing_emulator, user_environ

ROOT = Path(__file__).resolve().parents[2]


def iflowtest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return iflowtest_concurrently([*args], cwd=cwd)[0]


def iflowtest_concurrently(*calls: list[str], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """Run independent commands side by side (each process spends most of its time importing)."""
    environ = user_environ()
    environ["CF_HOME"] = str(cwd)  # no cf CLI session of the machine's user
    processes = [
        subprocess.Popen(
            [IFLOWTEST, *args], cwd=cwd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for args in calls
    ]
    results = []
    for args, process in zip(calls, processes, strict=True):
        stdout, stderr = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess([IFLOWTEST, *args], process.returncode, stdout, stderr))
    return results


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project folder with the sample pyproject and `iflowtest emulator` serving it; `.env.emu` points at it."""
    folder = tmp_path_factory.mktemp("provision-cli")
    shutil.copy(ROOT / "pyproject.toml", folder / "pyproject.toml")
    with standing_emulator(folder) as emulator:
        emulator.write_profile("emu")
        yield folder


def instance_names(project: Path) -> list[str]:
    """The instances in the emulator's space, read straight from its CF API (faster than a process)."""
    return servers.instance_names(project / ".env.emu")


def test_emulator_command_provisions_its_keys_through_its_cf_api(project: Path) -> None:
    listed = iflowtest("provision", "list", "--iflow-env", "emu", cwd=project)
    names = [line.split("\t")[0] for line in listed.stdout.splitlines()]

    assert listed.returncode == 0, listed.stderr
    assert names == instance_names(project)
    assert sorted(n.split("-", 2)[2] for n in names) == [
        "monitor",
        "sender",
        "sender_basic",
        "sender_cert",
        "sender_no_de",
    ]
    assert all(n.startswith("iflowtest-") for n in names)
    assert stat.S_IMODE((project / "keys" / "cf.env").stat().st_mode) == 0o600


def test_create_writes_the_key_0600_and_never_prints_it_then_delete(project: Path) -> None:
    out = project / "monitor.json"

    created = iflowtest(
        "provision", "create", "monitor", "--plan", "api", "--roles", "MonitoringDataRead", "--out", str(out),
        "--iflow-env", "emu", cwd=project,
    )  # fmt: skip

    assert created.returncode == 0, created.stderr
    key = json.loads(out.read_text())["oauth"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert key["clientsecret"] not in created.stdout + created.stderr
    assert created.stdout.splitlines()[0] == (
        f"iflowtest: created service instance 'monitor' (plan api, roles MonitoringDataRead, secret key) and its "
        f"key; key written to {out} (mode 0600)"
    )
    assert "monitor" in instance_names(project)

    deleted = iflowtest("provision", "delete", "monitor", "--iflow-env", "emu", cwd=project)

    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout == "iflowtest: deleted service instance 'monitor' and its keys\n"
    assert "monitor" not in instance_names(project)


def test_create_a_certificate_key(project: Path) -> None:
    out = project / "sender-cert.json"

    created = iflowtest(
        "provision", "create", "sender_cert", "--key-type", "certificate", "--validity", "7", "--out", str(out),
        "--iflow-env", "emu", cwd=project,
    )  # fmt: skip

    assert created.returncode == 0, created.stderr
    key = json.loads(out.read_text())["oauth"]
    assert "BEGIN RSA PRIVATE KEY" in key["key"] and "clientsecret" not in key
    assert "PRIVATE KEY" not in created.stdout + created.stderr
    assert iflowtest("provision", "delete", "sender_cert", "--iflow-env", "emu", cwd=project).returncode == 0


def test_refused_requests_are_one_line_and_exit_2(project: Path) -> None:
    (project / "exists.json").write_text("{}")

    x509, exists, unknown, role = iflowtest_concurrently(
        ["provision", "create", "old", "--grant-types", "client_x509", "--out", "old.json", "--iflow-env", "emu"],
        ["provision", "create", "dup", "--out", "exists.json", "--iflow-env", "emu"],
        ["provision", "delete", "nothing-here", "--iflow-env", "emu"],
        ["provision", "create", "fr", "--roles", "ESBMessaging_FR", "--out", "fr.json", "--iflow-env", "emu"],
        cwd=project,
    )

    assert x509.returncode == 2 and x509.stderr == (
        "iflowtest: error: client 'old' (the command line): grant type 'client_x509' reached its end of life in "
        "January 2026 and no new keys can be created with it: use grant types ['client_credentials'] with key type "
        "'certificate' (a certificate key with client_credentials replaces it)\n"
    )
    assert exists.returncode == 2 and exists.stderr == (
        "iflowtest: error: exists.json exists: choose another --out or delete the file first (nothing was created)\n"
    )
    assert unknown.returncode == 2 and unknown.stderr == (
        "iflowtest: error: no service instance 'nothing-here' in the space: `iflowtest provision list` shows the "
        "names\n"
    )
    assert role.returncode == 2
    assert "Service broker error: Role 'ESBMessaging_FR' does not exist in this tenant" in role.stderr
    assert "Traceback" not in x509.stderr + exists.stderr + unknown.stderr + role.stderr
    assert not (project / "fr.json").exists()


def test_wrong_password_is_exit_2_without_the_password(project: Path) -> None:
    profile = (project / ".env.emu").read_text()
    (project / ".env.wrong").write_text(profile + "IFLOWTEST_CF_PASSWORD=definitely-wrong-password\n")

    result = iflowtest("provision", "list", "--iflow-env", "wrong", cwd=project)

    assert result.returncode == 2
    assert "rejected user 'developer@example.com' (401 unauthorized: Bad credentials)" in result.stderr
    assert "definitely-wrong-password" not in result.stderr


def test_without_a_landscape_the_fix_is_named(project: Path) -> None:
    result = iflowtest("provision", "list", cwd=project)

    assert result.returncode == 2
    assert result.stderr == (
        "iflowtest: error: no Cloud Foundry API to provision clients with: set IFLOWTEST_CF_API (the URL `cf api` "
        "shows), or log in with `cf login -a API`\n"
    )


def test_cleanup_deletes_run_prefixed_leftovers_by_age(project: Path) -> None:
    young, bad = iflowtest_concurrently(
        ["provision", "cleanup", "--older-than", "6h", "--iflow-env", "emu"],
        ["provision", "cleanup", "--older-than", "soon", "--iflow-env", "emu"],
        cwd=project,
    )
    leftover = iflowtest(
        "provision",
        "create",
        "iflowtest-abc123-sender",
        "--out",
        "keys/leftover.json",
        "--iflow-env",
        "emu",
        cwd=project,
    )
    assert leftover.returncode == 0, leftover.stderr
    old = iflowtest("provision", "cleanup", "--older-than", "0s", "--iflow-env", "emu", cwd=project)

    assert young.returncode == 0 and young.stdout.endswith("0 leftover instance(s) older than 6h deleted\n")
    assert bad.returncode == 2 and "--older-than 'soon' is not a duration" in bad.stderr
    assert old.returncode == 0, old.stderr
    assert old.stdout.endswith("1 leftover instance(s) older than 0s deleted\n")
    # The running emulator's own clients are not leftovers (issue 18): its keys keep working.
    remaining = [n for n in instance_names(project) if n.startswith("iflowtest-")]
    assert remaining and all(n.startswith("iflowtest-standing-") for n in remaining), remaining


def test_usage_mistakes_are_exit_2(tmp_path: Path) -> None:
    no_action, no_out = iflowtest_concurrently(["provision"], ["provision", "create", "x"], cwd=tmp_path)

    assert no_action.returncode == 2 and no_action.stderr == (
        "iflowtest: error: choose one of: create, list, delete, cleanup (see iflowtest provision --help)\n"
    )
    assert no_out.returncode == 2 and no_out.stderr.endswith(
        "iflowtest: error: the following arguments are required: --out (see iflowtest provision create --help)\n"
    )
