"""`iflowtest discover`: the iFlows deployed on a tenant and their sender endpoints, read from its API.

Reads `IntegrationRuntimeArtifacts` (id, name, version, status) and `ServiceEndpoints?$expand=EntryPoints`
(address, protocol) through the profile's `api`-plan client. With `--write` it adds a
`[tool.iflowtest.iflows.<id>]` table (id, address, the display name as a comment) for every deployed iFlow
that is not declared yet, and a smoke suite: one case per HTTPS endpoint, called without credentials, so no
flow runs and nothing changes on the tenant, expecting neither 404 (nothing deployed there) nor a 5xx.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import tomlkit

from iflowtest.calls import odata
from iflowtest.calls.deployments import read_runtime_artifacts
from iflowtest.calls.session import HarnessSession
from iflowtest.credentials.registry import ClientRegistry
from iflowtest.errors import ConfigError, IflowtestError
from iflowtest.files import write_atomically
from iflowtest.settings import Settings

ENDPOINTS_PATH: Final = "/api/v1/ServiceEndpoints"
SMOKE_SUITE: Final = "suites/smoke/deployed.iflow.yaml"
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class DeployedIflow:
    """One deployed iFlow with its sender endpoints."""

    id: str
    name: str
    version: str
    status: str
    endpoints: tuple[tuple[str, str], ...]  # (address below the runtime URL, protocol)

    @property
    def https_address(self) -> str | None:
        """The first HTTPS sender address (`/http/...`), if any."""
        return next((a for a, _ in self.endpoints if a.lower().startswith("/http/")), None)


def discover(registry: ClientRegistry, client: str) -> list[DeployedIflow]:
    """The tenant's deployed iFlows, read through the declared 'api'-plan client `client`."""
    artifacts = read_runtime_artifacts(registry, client)
    resolved = registry.resolve(client)
    url = resolved.url.rstrip("/") + ENDPOINTS_PATH
    with HarnessSession() as session:
        session.auth = resolved.auth()
        answer = session.get(
            url,
            params={"$expand": "EntryPoints"},
            headers={"Accept": "application/json"},
            timeout=resolved.timeout,
            verify=resolved.verify,
        )
    if answer.status_code != 200:
        raise IflowtestError(f"{url} answered HTTP {answer.status_code}: {answer.text[:200].strip()}")
    endpoints: dict[str, list[tuple[str, str]]] = {}
    names: dict[str, str] = {}
    what = f"{url} answered no OData list of service endpoints"
    for row in odata.rows(odata.entity(answer, what), what):
        name = odata.text_field(row, "Name") or ""
        for entry in odata.expanded(row, "EntryPoints", what):
            address = urlsplit(odata.text_field(entry, "Url") or "").path
            endpoints.setdefault(name, []).append((address, odata.text_field(row, "Protocol") or ""))
        names[name] = odata.text_field(row, "Title") or ""
    found = []
    for artifact in sorted(artifacts.values(), key=lambda a: a.id.lower()):
        found.append(
            DeployedIflow(
                id=artifact.id,
                name=names.get(artifact.id) or artifact.id,
                version=artifact.version,
                status=artifact.status,
                endpoints=tuple(endpoints.get(artifact.id, ())),
            )
        )
    return found


def listing(iflows: list[DeployedIflow], host: str) -> list[str]:
    """The lines `iflowtest discover` prints."""
    lines = [f"iflowtest: {len(iflows)} iFlows deployed on {host}"]
    width = max((len(i.id) for i in iflows), default=0)
    for iflow in iflows:
        where = ", ".join(f"{address} ({protocol})" for address, protocol in iflow.endpoints) or "no sender endpoint"
        lines.append(f"  {iflow.id:<{width}}  {iflow.version:<8} {iflow.status:<8} {where}  [{iflow.name}]")
    return lines


def write_tables(settings: Settings, iflows: list[DeployedIflow]) -> list[str]:
    """Add a `[tool.iflowtest.iflows.<id>]` table for each deployed iFlow not declared yet; their ids."""
    path = settings.root / "pyproject.toml"
    document = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    declared_ids = {spec.artifact_id for spec in settings.iflows.values()}
    tool = document.setdefault("tool", tomlkit.table(is_super_table=True))
    ours = tool.setdefault("iflowtest", tomlkit.table())
    tables = ours.setdefault("iflows", tomlkit.table(is_super_table=True))
    if not isinstance(tables, MutableMapping):
        raise ConfigError(f"{path}: [tool.iflowtest.iflows] is not a table")
    added = []
    for iflow in iflows:
        if iflow.id in declared_ids or iflow.id in tables or not _TABLE_NAME.fullmatch(iflow.id):
            continue
        table = tomlkit.table()
        if iflow.name and iflow.name != iflow.id:
            table.add(tomlkit.comment(iflow.name))
        table.add("id", iflow.id)
        address = iflow.https_address or (iflow.endpoints[0][0] if iflow.endpoints else None)
        if address:
            table.add("address", address)
        tables[iflow.id] = table
        added.append(iflow.id)
    if added:
        write_atomically(path, tomlkit.dumps(document))
    return added


def smoke_suite(iflows: list[DeployedIflow], names: dict[str, str]) -> str:
    """A YAML suite with one case per HTTPS endpoint: reachable and deployed, without running the flow.

    `names` maps artifact ids to the declared iFlow names the cases use.
    """
    lines = [
        "# Written by `iflowtest discover --write`: one case per deployed HTTPS endpoint. Each call sends no",
        "# credentials, so the sender adapter answers (401, or 405 for a method the flow does not take) and no",
        "# flow runs: the suite proves every endpoint is deployed (no 404) and healthy (no 5xx), nothing more.",
        "cases:",
    ]
    for iflow in iflows:
        address = iflow.https_address
        if address is None or iflow.status != "STARTED" or iflow.id not in names:
            continue
        lines += [
            f"  - name: {iflow.id} is deployed",
            f"    iflow: {names[iflow.id]}",
            "    auth: none",
            "    request:",
            f"      path: {address.removesuffix('/*')}",
            "    expect:",
            '      status: ["200-403", "405-499"]',
        ]
    return "\n".join(lines) + "\n"


def write_smoke_suite(root: Path, text: str, relative: str = SMOKE_SUITE) -> Path:
    """Write the smoke suite (replacing an earlier one: it is generated)."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text)
    return path
