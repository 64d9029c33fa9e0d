"""The deployment gate against the emulated tenant: one cause per iFlow that is not STARTED."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from iflowtest import ServiceKey, resolve_settings
from iflowtest.calls.deployments import (
    ArtifactStatus,
    DeploymentError,
    DeploymentGate,
    DeploymentStatusWarning,
    error_text,
    read_runtime_artifacts,
)
from iflowtest.credentials.registry import ClientRegistry
from iflowtest.emulator import Emulator

KeyIssuer = Callable[..., ServiceKey]
PYPROJECT = """
[tool.iflowtest.clients.sender]
plan = "integration-flow"
[tool.iflowtest.clients.monitor]
plan = "api"
roles = ["{role}"]
[tool.iflowtest.iflows.ReadCostCenters]
[tool.iflowtest.iflows.German]
id = "ReadCostCentersDE"
"""


def registry(emu: Emulator, issue_key: KeyIssuer, root: Path, role: str = "MonitoringDataRead") -> ClientRegistry:
    (root / "pyproject.toml").write_text(PYPROJECT.replace("{role}", role))
    keys = {"sender": issue_key(emu, "sender"), "monitor": issue_key(emu, "monitor", plan="api", roles=[role])}
    return ClientRegistry(resolve_settings(root, environ={}), lambda spec: keys[spec.name], verify=str(emu.ca_file))


def test_started_flows_pass_and_a_flow_in_error_fails_with_the_apis_error(
    fresh_emulator: Emulator, issue_key: KeyIssuer, tmp_path: Path
) -> None:
    fresh_emulator.set_deployment(
        "ReadCostCentersDE", "ERROR", "java.lang.IllegalStateException: No credentials for 'S4' found"
    )
    clients = registry(fresh_emulator, issue_key, tmp_path)
    reads = []
    gate = DeploymentGate(lambda: reads.append(1) or read_runtime_artifacts(clients, "monitor"))

    gate.check("ReadCostCenters", "ReadCostCenters")
    with pytest.raises(DeploymentError) as raised:
        gate.check("German", "ReadCostCentersDE")
    with pytest.raises(DeploymentError):
        gate.check("German", "ReadCostCentersDE")

    assert str(raised.value) == (
        "iFlow 'German' (artifact id 'ReadCostCentersDE') is deployed with status ERROR (IntegrationRuntimeArtifacts): "
        "Error while starting integration flow ReadCostCentersDE; java.lang.IllegalStateException: No credentials for "
        "'S4' found; this test sent no call: fix the deployment in the Integration Suite (Monitor > Manage Integration "
        "Content) and rerun"
    )
    assert reads == [1]  # read once for the run
    assert gate.statuses["ReadCostCenters"] == ArtifactStatus("ReadCostCenters", "STARTED", "1.0.0", "")


def test_an_undeployed_flow_is_named(fresh_emulator: Emulator, issue_key: KeyIssuer, tmp_path: Path) -> None:
    fresh_emulator.set_deployment("FailingFlow", "")
    clients = registry(fresh_emulator, issue_key, tmp_path)
    gate = DeploymentGate(lambda: read_runtime_artifacts(clients, "monitor"))
    with pytest.raises(
        DeploymentError,
        match=r"^iFlow 'FailingFlow' is not deployed on the tenant: IntegrationRuntimeArtifacts lists no artifact 'FailingFlow'",
    ):
        gate.check("FailingFlow", "FailingFlow")


def test_a_read_that_fails_lets_the_tests_call_and_says_why_once(
    emulator: Emulator, issue_key: KeyIssuer, tmp_path: Path
) -> None:
    clients = registry(emulator, issue_key, tmp_path, role="WorkspacePackagesRead")
    reads = []
    gate = DeploymentGate(lambda: reads.append(1) or read_runtime_artifacts(clients, "monitor"))
    with pytest.warns(
        DeploymentStatusWarning, match=r"was not read, .*answered HTTP 403: .*give the client role MonitoringDataRead"
    ):
        gate.check("ReadCostCenters", "ReadCostCenters")
    gate.check("FailingFlow", "FailingFlow")  # no second read, no second warning, no failure
    assert reads == [1]
    assert gate.unread is not None and "HTTP 403" in gate.unread


def test_error_text_reads_sap_documents_and_plain_text() -> None:
    document = (
        '{"message": {"subsystemName": "CONTENT", "messageId": "InstanceError", "messageText": ""}, "parameter": '
        '["{\\"message\\":\\"ERROR\\",\\"childMessageInstances\\":[{\\"message\\":\\"EXCEPTION\\",\\"parameters\\":'
        '[\\"ComponentDefinitionException: bean\\"],\\"childMessageInstances\\":[{\\"message\\":\\"CAUSE\\",'
        '\\"parameters\\":[\\"No credentials for \'smtp\' found\\"]}]}]}"]}'
    )
    assert error_text(document) == "ComponentDefinitionException: bean; No credentials for 'smtp' found"
    assert error_text("  plain text  ") == "plain text"
