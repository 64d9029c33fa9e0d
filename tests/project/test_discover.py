"""`iflowtest discover` against `iflowtest emulator`, as a user would point it at a tenant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import servers
from tests.servers import iflowtest

PYPROJECT = """# a team's project
[project]
name = "integration-tests"   # ours

[tool.iflowtest.clients.sender]
plan = "integration-flow"
roles = ["ESBMessaging.send"]

[tool.iflowtest.clients.monitor]
plan = "api"
roles = ["MonitoringDataRead"]

[tool.iflowtest.iflows.Read]
id = "ReadCostCenters"
address = "/http/costcenters"
"""
SAMPLE_ADDRESSES = {
    "ChangeCostCenter": "/http/costcenters/changerequest (REST)",
    "CostCentersOData": "/gw/odata/SAP/CostCenters;v=1 (ODATAV2)",
    "FailingFlow": "/http/failing (REST)",
    "ReadCostCenters": "/http/costcenters (REST)",
    "ReadCostCentersDE": "/http/de/costcenters (REST)",
}


@pytest.fixture
def standing_emulator(tmp_path: Path) -> Iterator[Path]:
    """`iflowtest emulator` in a project folder, its landscape copied to `.env.emu` as the README says."""
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    with servers.standing_emulator(tmp_path) as emulator:
        emulator.write_profile("emu")
        yield tmp_path


def test_discover_lists_the_sample_iflows_and_writes_a_smoke_suite_that_passes(standing_emulator: Path) -> None:
    project = standing_emulator

    listed = iflowtest("discover", "--iflow-env", "emu", cwd=project)

    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("iflowtest: 10 iFlows deployed on 127.0.0.1\n")
    for iflow, address in SAMPLE_ADDRESSES.items():
        line = next(line for line in listed.stdout.splitlines() if line.strip().startswith(iflow + " "))
        assert "STARTED" in line and address in line, line

    written = iflowtest("discover", "--iflow-env", "emu", "--write", cwd=project)

    assert written.returncode == 0, written.stderr
    assert (
        "iflowtest: declared 9 iFlows in pyproject.toml: ChangeCostCenter, ChangeCostCenterAsync, CostCenterIDoc, "
        "CostCentersOData, FailingFlow, GetCostCenter, GetCostCenterSigned, ProcessCostCenterChange, "
        "ReadCostCentersDE" in written.stdout
    )
    text = (project / "pyproject.toml").read_text()
    assert text.startswith(PYPROJECT)
    assert (
        '[tool.iflowtest.iflows.ReadCostCentersDE]\n# Read cost centers (Germany)\nid = "ReadCostCentersDE"\naddress = "/http/de/costcenters"'
        in text
    )
    smoke = (project / "suites" / "smoke" / "deployed.iflow.yaml").read_text()
    assert "iflow: Read\n" in smoke  # the declared name of an iFlow declared under another name
    assert smoke.count("auth: none") == 5  # HTTPS endpoints only; the OData and JMS senders are not ones

    run = iflowtest("run", "--iflow-env", "emu", cwd=project)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "5 tests, 5 passed" in run.stdout

    again = iflowtest("discover", "--iflow-env", "emu", "--write", "--no-smoke", cwd=project)
    assert "iflowtest: declared 0 iFlows in pyproject.toml\n" in again.stdout


def test_discover_needs_a_tenant(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    result = iflowtest("discover", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("iflowtest: error: discover reads a tenant: give a profile (--iflow-env NAME)")
