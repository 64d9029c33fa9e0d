"""The deployment gate through `iflowtest run`: a flow in ERROR fails its tests with the API's error, the others run."""

from __future__ import annotations

import json
import re
from pathlib import Path

from iflowtest.emulator import Emulator

from .servers import iflowtest, write_key_profile

ERROR = "java.lang.IllegalStateException: No credentials for 'S4H_DE' found"


def test_a_flow_in_error_fails_its_tests_with_the_deployment_error_and_the_others_run(project: Path) -> None:
    with Emulator() as emu:
        write_key_profile(emu, project, "test")
        emu.set_deployment("ReadCostCentersDE", "ERROR", ERROR)

        result = iflowtest("run", "--iflow-env", "test", cwd=project)
        de_calls = emu.counters.calls("ReadCostCentersDE")

    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    summary = json.loads((project / "reports" / "latest" / "summary.json").read_text())
    rows = {row["iflow"]: row for row in summary["iflows"]}
    assert {name for name, row in rows.items() if row["failed"]} == {"ReadCostCentersDE"}, rows
    assert rows["ReadCostCentersDE"]["passed"] == 0
    assert all(
        row["passed"] == row["cases"] - row["skipped"] for name, row in rows.items() if name != "ReadCostCentersDE"
    )
    assert de_calls == 0  # no test of the broken flow sent a call
    junit = (project / "reports" / "latest" / "junit.xml").read_text()
    assert "is deployed with status ERROR (IntegrationRuntimeArtifacts): Error while starting integration flow" in junit
    assert "No credentials for &apos;S4H_DE&apos; found" in junit or "No credentials for 'S4H_DE' found" in junit
    page = (project / "reports" / "latest" / "report.html").read_text()
    assert re.search(r"Deployments</td><td>[^<]*ReadCostCentersDE ERROR", page)
