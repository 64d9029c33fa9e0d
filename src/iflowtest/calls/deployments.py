"""The deployment gate: an iFlow whose runtime artifact is not STARTED fails its tests with that one cause.

A call to an iFlow whose deployment failed answers 404 (no servlet), which says nothing about why. When an
`api`-plan client is declared, the run reads the tenant's `IntegrationRuntimeArtifacts` once (and, for the
artifacts in ERROR, their `ErrorInformation/$value`); every test of an iFlow in ERROR, STOPPED or not
deployed then fails before its first call with the status and the API's error text, as the token circuit
breaker does for a broken token endpoint. The gate only explains failures the calls would have anyway: when
the status cannot be read (the api client's token, its role, the API unreachable), the tests make their calls
as without it, and the run says once, as a warning and in the report's `Deployments` row, why it was not read.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import requests

from iflowtest.bounds import nesting
from iflowtest.calls import odata
from iflowtest.calls.session import HarnessSession
from iflowtest.credentials.registry import ClientRegistry
from iflowtest.errors import IflowtestError, UnreachableError
from iflowtest.redaction import error_reason

ARTIFACTS_PATH: Final = "/api/v1/IntegrationRuntimeArtifacts"


class DeploymentError(IflowtestError):
    """Raised for each test of an iFlow whose runtime artifact is not STARTED (or when the status cannot be read)."""


class DeploymentReadUnreachableError(DeploymentError, UnreachableError):
    """Raised when the runtime-artifact API cannot be reached."""


class DeploymentStatusWarning(UserWarning):
    """Warned once per run when the iFlows' deployment status could not be read (the tests run without the gate)."""


@dataclass(frozen=True)
class ArtifactStatus:
    """One deployed artifact as `IntegrationRuntimeArtifacts` shows it."""

    id: str
    status: str
    version: str = ""
    error: str = ""


def error_text(document: str) -> str:
    """The readable part of `ErrorInformation/$value` (a JSON text of nested messages), else the text itself."""
    try:
        data = nesting.loads(document)
    except ValueError:
        return document.strip()
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.get("parameters", []) or []:
                if isinstance(value, str):
                    texts.append(value)
            for child in node.get("childMessageInstances", []) or []:
                walk(child)

    for parameter in data.get("parameter", []) if isinstance(data, dict) else []:
        try:
            walk(nesting.loads(parameter))
        except (TypeError, ValueError):
            texts.append(str(parameter))
    message = data.get("message", {}) if isinstance(data, dict) else {}
    head = message.get("messageText") if isinstance(message, dict) else None
    return "; ".join([t for t in [head, *texts] if t]) or document.strip()


def read_runtime_artifacts(registry: ClientRegistry, client: str) -> dict[str, ArtifactStatus]:
    """Every runtime artifact of the tenant, read through the declared 'api'-plan client `client`."""
    resolved = registry.resolve(client)
    base = resolved.url.rstrip("/") + ARTIFACTS_PATH
    with HarnessSession() as session:
        session.auth = resolved.auth()
        session.headers["Accept"] = "application/json"

        def get(url: str, accept: str | None = None) -> requests.Response:
            try:
                return session.get(
                    url,
                    headers={"Accept": accept} if accept else None,
                    timeout=resolved.timeout,
                    verify=resolved.verify,
                )
            except requests.RequestException as exc:
                raise DeploymentReadUnreachableError(
                    f"the runtime-artifact API {base} could not be reached ({error_reason(exc)}), so the deployment "
                    "status of the iFlows is unknown"
                ) from None

        response = get(base)
        if response.status_code != 200:
            raise DeploymentError(
                f"reading the deployment status ({base}) as client {client!r} answered HTTP {response.status_code}: "
                f"{response.text[:200].strip()}; give the client role MonitoringDataRead (its plan must be 'api')"
            )
        what = f"the runtime-artifact API {base} answered no OData list of artifacts"
        rows = odata.rows(odata.entity(response, what, DeploymentError), what, DeploymentError)
        statuses: dict[str, ArtifactStatus] = {}
        for row in rows:
            artifact_id, status = str(row.get("Id", "")), str(row.get("Status", ""))
            error = ""
            if status == "ERROR":
                answer = get(
                    f"{base}('{quote(artifact_id.replace(chr(39), chr(39) * 2), safe='')}')/ErrorInformation/$value",
                    "text/plain",
                )
                error = error_text(answer.text) if answer.status_code == 200 else ""
            statuses[artifact_id] = ArtifactStatus(artifact_id, status, str(row.get("Version", "")), error)
        return statuses


class DeploymentGate:
    """Reads the runtime status once, then lets a test through or fails it with its iFlow's status."""

    def __init__(self, read: Callable[[], dict[str, ArtifactStatus]]) -> None:
        self._read = read
        self._lock = threading.Lock()
        self._statuses: dict[str, ArtifactStatus] | None = None
        self.unread: str | None = None  # why the status could not be read, when it could not

    @property
    def statuses(self) -> dict[str, ArtifactStatus]:
        """What was read ({} before the first check or when the read failed)."""
        return dict(self._statuses or {})

    def check(self, iflow: str, artifact_id: str) -> None:
        """Raise DeploymentError unless `iflow`'s runtime artifact `artifact_id` is STARTED (or the status is unknown)."""
        with self._lock:
            if self._statuses is None and self.unread is None:
                try:
                    self._statuses = self._read()
                except IflowtestError as exc:
                    self.unread = str(exc)
                    warnings.warn(
                        DeploymentStatusWarning(
                            f"iflowtest: the deployment status of the iFlows was not read, so tests of an iFlow that "
                            f"is not deployed fail on their calls without the reason: {exc}"
                        ),
                        stacklevel=2,
                    )
        if self._statuses is None:
            return
        found = self._statuses.get(artifact_id)
        if found is not None and found.status == "STARTED":
            return
        named = f"iFlow {iflow!r}" + (f" (artifact id {artifact_id!r})" if artifact_id != iflow else "")
        if found is None:
            raise DeploymentError(
                f"{named} is not deployed on the tenant: IntegrationRuntimeArtifacts lists no artifact "
                f"{artifact_id!r}, so this test sent no call; deploy it, or set its artifact id as `id` in "
                f"[tool.iflowtest.iflows.{iflow}]"
            )
        error = f": {found.error}" if found.error else ""
        raise DeploymentError(
            f"{named} is deployed with status {found.status} (IntegrationRuntimeArtifacts){error}; this test sent "
            "no call: fix the deployment in the Integration Suite (Monitor > Manage Integration Content) and rerun"
        )
