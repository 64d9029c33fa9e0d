"""Honest verdicts, as a user meets them through `iflowtest run`: the target is named, mistakes stop the run."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from iflowtest.emulator import Emulator

from .servers import iflowtest, user_environ, write_key_profile

ROOT = Path(__file__).resolve().parents[1]
KEYS = ROOT / "fixtures" / "servicekeys"


def first_and_last(text: str) -> tuple[str, str]:
    lines = text.strip().splitlines()
    return lines[0], lines[-1]


def test_an_emulator_run_says_so_on_its_first_and_last_line(project: Path) -> None:
    result = iflowtest("run", "suites/costcenters/test_failing_flow.py", cwd=project)

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    line = "iflowtest: target emulator, profile none, emulated tenant"
    assert first_and_last(result.stdout) == (line, line)


def test_an_offline_run_says_so(project: Path) -> None:
    shutil.copytree(ROOT / "cassettes", project / "cassettes")

    result = iflowtest("run", "--offline", "suites/costcenters/test_failing_flow.py", cwd=project)

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    line = "iflowtest: target emulator, profile none, offline: cassettes"
    assert first_and_last(result.stdout) == (line, line)


def test_a_tenant_run_names_its_profile_and_host(project: Path) -> None:
    with Emulator() as emu:
        write_key_profile(emu, project, "dev")
        result = iflowtest("run", "--iflow-env", "dev", "suites/costcenters/test_failing_flow.py", cwd=project)
        host = re.sub(r"^https://|:\d+$", "", emu.url)

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    line = f"iflowtest: target tenant, profile dev, host {host}"
    assert first_and_last(result.stdout) == (line, line)


def test_plain_pytest_names_the_target_first_and_last(project: Path) -> None:
    plain = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "suites/costcenters/test_failing_flow.py"],
        cwd=project,
        env=user_environ(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert plain.returncode == 0, plain.stdout[-2000:]
    line = "iflowtest: target emulator, profile none, emulated tenant"
    assert first_and_last(plain.stdout) == (line, line)


def test_a_misspelt_key_variable_in_a_profile_is_exit_2_not_an_emulator_run(project: Path) -> None:
    (project / ".env.dev").write_text(f"IFLOWTEST_CLIENT_SENDR_KEY={KEYS / 'FAKE-integration-flow-key.json'}\n")

    result = iflowtest("run", "--iflow-env", "dev", cwd=project)

    assert result.returncode == 2
    assert result.stderr == (
        "iflowtest: error: unknown variable IFLOWTEST_CLIENT_SENDR_KEY in .env.dev (did you mean "
        "IFLOWTEST_CLIENT_SENDER_KEY?): no client 'sendr' is declared (declared clients: monitor, sender, "
        "sender_basic, sender_no_de): fix the name (`.env.example` lists every variable iflowtest reads) or "
        "remove it\n"
    )
    assert result.stdout == ""
    assert not (project / "reports").exists()


def test_an_unknown_setting_variable_in_the_environment_is_exit_2(project: Path) -> None:
    result = iflowtest("run", cwd=project, env={"IFLOWTEST_READ_TIMOUT": "5"})

    assert result.returncode == 2
    assert result.stderr.startswith(
        "iflowtest: error: unknown variable IFLOWTEST_READ_TIMOUT in the environment (did you mean "
        "IFLOWTEST_READ_TIMEOUT?)"
    )


def test_a_profile_without_keys_never_falls_back_to_the_emulator(project: Path) -> None:
    (project / ".env.dev").write_text("PARTNER_COMPANY_CODE=1010\n")

    refused = iflowtest("run", "--iflow-env", "dev", cwd=project)
    emulated = iflowtest("run", "--iflow-env", "dev", "--iflow-target", "emulator", "-k", "mpl_id", cwd=project)

    assert refused.returncode == 2
    assert refused.stderr.startswith(
        "ERROR: iflowtest: profile 'dev' names a tenant, which needs a service key for every client the selected "
        "tests use"
    )
    assert refused.stderr.rstrip().endswith("; or run against the emulated tenant with --iflow-target emulator")
    assert emulated.returncode == 0, emulated.stdout[-2000:]
    assert emulated.stdout.startswith("iflowtest: target emulator, profile dev, emulated tenant\n")


def test_pyproject_cannot_turn_a_profile_into_an_emulator_run(project: Path) -> None:
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(
        text.replace("[tool.iflowtest]\n", '[tool.iflowtest]\ntarget = "emulator"\n', 1)
    )
    (project / ".env.dev").write_text("PARTNER_COMPANY_CODE=1010\n")

    result = iflowtest("run", "--iflow-env", "dev", cwd=project)

    assert result.returncode == 2
    assert result.stderr == (
        "iflowtest: error: profile 'dev' names a tenant but [tool.iflowtest] target = 'emulator': pass "
        "--iflow-target emulator (or set IFLOWTEST_TARGET=emulator in .env.dev) to run the profile against the "
        "emulated tenant\n"
    )


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            '@pytest.mark.iflow("ReadCostCenter")',
            "ERROR: iflowtest: suites/costcenters/test_typo.py::test_typo (@pytest.mark.iflow): unknown iFlow "
            "'ReadCostCenter': declared iFlows are ChangeCostCenter, CostCentersOData, FailingFlow, ReadCostCenters, "
            "ReadCostCentersDE; declare it as [tool.iflowtest.iflows.ReadCostCenter] in pyproject.toml, an empty "
            "table will do (did you mean 'ReadCostCenters'?)",
        ),
        (
            '@pytest.mark.client("sendr")',
            "ERROR: iflowtest: suites/costcenters/test_typo.py::test_typo (@pytest.mark.client): unknown client "
            "'sendr': declared clients are monitor, sender, sender_basic, sender_no_de; declare it as "
            "[tool.iflowtest.clients.sendr] in pyproject.toml (did you mean 'sender'?)",
        ),
    ],
    ids=["iflow", "client"],
)
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_an_unknown_name_in_a_marker_stops_the_run_before_any_test(
    project: Path, marker: str, message: str, workers: list[str]
) -> None:
    (project / "suites" / "costcenters" / "test_typo.py").write_text(
        f"import pytest\n\n\n{marker}\ndef test_typo(iflow):\n    iflow.get(path='/http/costcenters')\n"
    )

    result = iflowtest("run", *workers, cwd=project)

    assert result.returncode == 2, result.stdout[-2000:]
    assert result.stderr.strip() == message
    assert " passed" not in result.stdout and not (project / "reports" / "latest").exists()


def test_the_same_mistake_in_yaml_says_the_same(project: Path) -> None:
    (project / "suites" / "costcenters" / "typo.iflow.yaml").write_text(
        "iflow: ReadCostCenter\ncases:\n  - name: typo\n    request: {path: /http/costcenters}\n"
    )

    result = iflowtest("run", cwd=project)

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "ERROR: iflowtest: case 'typo' (suites/costcenters/typo.iflow.yaml:3): unknown iFlow 'ReadCostCenter': "
        "declared iFlows are ChangeCostCenter, CostCentersOData, FailingFlow, ReadCostCenters, ReadCostCentersDE; "
        "declare it as [tool.iflowtest.iflows.ReadCostCenter] in pyproject.toml, an empty table will do (did you "
        "mean 'ReadCostCenters'?)"
    )


def test_an_unknown_client_in_a_fixture_call_stops_the_run(project: Path) -> None:
    (project / "suites" / "costcenters" / "test_typo.py").write_text(
        "def test_typo(iflow_client):\n    iflow_client('sendr')\n\n\ndef test_after():\n    pass\n"
    )

    result = iflowtest("run", "suites/costcenters/test_typo.py", "-p", "no:randomly", cwd=project)

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "ERROR: iflowtest: suites/costcenters/test_typo.py::test_typo (iflow_client): unknown client 'sendr': "
        "declared clients are monitor, sender, sender_basic, sender_no_de; declare it as "
        "[tool.iflowtest.clients.sendr] in pyproject.toml (did you mean 'sender'?)"
    )
    assert "test_after" not in result.stdout  # the run stopped at the mistake


def test_a_stale_ca_bundle_is_one_line_and_keeps_the_last_report(project: Path) -> None:
    assert iflowtest("run", "suites/costcenters/test_failing_flow.py", cwd=project).returncode == 0
    report = (project / "reports" / "latest" / "report.html").read_text()
    flow, api = KEYS / "FAKE-integration-flow-key.json", KEYS / "FAKE-api-key.json"
    keys = {"SENDER": flow, "SENDER_BASIC": flow, "SENDER_NO_DE": flow, "MONITOR": api}
    lines = [f"IFLOWTEST_CLIENT_{name}_KEY={path}" for name, path in keys.items()]
    lines.append("IFLOWTEST_CA_BUNDLE=/tmp/iflowtest-gone/ca.pem")  # an emulator's, that has stopped
    (project / ".env.stale").write_text("\n".join(lines) + "\n")

    result = iflowtest("run", "--iflow-env", "stale", cwd=project)

    assert result.returncode == 2
    assert result.stderr == (
        "iflowtest: error: CA bundle /tmp/iflowtest-gone/ca.pem (IFLOWTEST_CA_BUNDLE) does not exist: set "
        "IFLOWTEST_CA_BUNDLE to your CA bundle (a PEM file), or remove it to verify with the default CA "
        "certificates\n"
    )
    assert (project / "reports" / "latest" / "report.html").read_text() == report


def test_an_unknown_option_gets_iflowtests_usage_line(project: Path) -> None:
    result = iflowtest("run", "--no-such-option", cwd=project)

    assert result.returncode == 2
    assert result.stderr == ("iflowtest: error: unrecognized arguments: --no-such-option (see iflowtest run --help)\n")


def test_an_unreachable_cloud_foundry_api_is_exit_3(project: Path) -> None:
    # Nothing listens on the discard port of loopback.
    (project / ".env.cfdown").write_text(
        "IFLOWTEST_CF_API=https://127.0.0.1:9\nIFLOWTEST_CF_ORG=o\nIFLOWTEST_CF_SPACE=s\n"
        "IFLOWTEST_CF_USERNAME=u\nIFLOWTEST_CF_PASSWORD=not-a-secret\n"
    )

    run = iflowtest("run", "--iflow-env", "cfdown", "suites/costcenters/test_failing_flow.py", cwd=project)
    listed = iflowtest("provision", "list", "--iflow-env", "cfdown", cwd=project)

    assert run.returncode == 3, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Cloud Foundry API https://127.0.0.1:9 cannot be reached" in run.stdout
    assert "1 failed (1 new, 1 unreachable)" in run.stdout  # the failure keeps its iFlow, FailingFlow
    assert "1 failing: FailingFlow" in run.stdout
    assert listed.returncode == 3
    assert listed.stderr.startswith("iflowtest: error: Cloud Foundry API https://127.0.0.1:9 cannot be reached")
    assert "not-a-secret" not in run.stdout + run.stderr + listed.stderr


def test_provision_create_checks_its_request_before_looking_for_a_cloud_foundry_api(project: Path) -> None:
    # No IFLOWTEST_CF_API and no cf CLI session (CF_HOME is empty): the request is refused first.
    bad_role = iflowtest("provision", "create", "x", "--roles", "ESB Messaging", "--out", "x.json", cwd=project)
    bad_grant = iflowtest("provision", "create", "x", "--grant-types", "client_x509", "--out", "x.json", cwd=project)

    assert bad_role.returncode == 2
    assert bad_role.stderr == (
        "iflowtest: error: client 'x' (the command line): role 'ESB Messaging' may only use letters, digits, '_' "
        "and '.'\n"
    )
    assert bad_grant.returncode == 2
    assert "grant type 'client_x509' reached its end of life" in bad_grant.stderr
    assert not (project / "x.json").exists()
