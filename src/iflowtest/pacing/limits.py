"""How fast a run may call each part of the target: `[tool.iflowtest.rate_limits]` over SAP's documented limits.

    [tool.iflowtest.rate_limits]
    runtime = 20                     # iFlow calls (the runtime host): requests per second
    message_log = 100                # the MPL OData API
    cf = 10                          # the Cloud Foundry API (provisioning)
    token = 5                        # the token endpoint
    "my-tenant.it-cpi018-rt.cfapps.eu10.hana.ondemand.com" = 8   # one host, all its calls

Without a setting, the API host's documented per-user limits apply (SAP Integration Suite, "Rate limits",
per tenant / per user: message-log API 1000 / 100 requests per second, runtime-artifact API 120 / 50,
design-time API 15 / 10); a run calls as one user, so the per-user figure is the one that binds. The
runtime, the token endpoint and the CF API have no documented limit and are not paced unless configured.
A limit of 0 turns pacing off for that API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from iflowtest.errors import ConfigError
from iflowtest.settings import Settings, load_pyproject_table

APIS: Final = ("runtime", "message_log", "runtime_artifacts", "design_time", "cf", "token")
# Per-user limits of SAP's APIs (cpi-facts "rate limits"), requests per second.
DOCUMENTED: Final[Mapping[str, float]] = {"message_log": 100.0, "runtime_artifacts": 50.0, "design_time": 10.0}
_MESSAGE_LOG: Final = ("/api/v1/MessageProcessingLogs", "/api/v1/MessageProcessingLogAttachments")
_RUNTIME_ARTIFACTS: Final = ("/api/v1/IntegrationRuntimeArtifacts", "/api/v1/ServiceEndpoints")


def api_of(url: str) -> str:
    """Which API a URL belongs to (one of APIS), by its path as the service keys and the CF API name them."""
    path = urlsplit(url).path
    if path.endswith("/oauth/token"):
        return "token"
    if path.startswith(_MESSAGE_LOG):
        return "message_log"
    if path.startswith(_RUNTIME_ARTIFACTS):
        return "runtime_artifacts"
    if path.startswith("/api/v1/"):
        return "design_time"
    if path.startswith(("/v3/", "/v2/")) or "/v3/" in path:
        return "cf"
    return "runtime"


@dataclass(frozen=True)
class RateLimits:
    """Requests per second per API (`APIS`) and per host; None where nothing limits."""

    apis: Mapping[str, float] = field(default_factory=lambda: dict(DOCUMENTED))
    hosts: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        """`[tool.iflowtest.rate_limits]` over the documented defaults; ConfigError for a bad entry."""
        table: Any = load_pyproject_table(settings.root).get("rate_limits", {})
        apis, hosts = dict(DOCUMENTED), {}
        for name, value in table.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(
                    f"[tool.iflowtest.rate_limits] {name} = {value!r}: give requests per second as a number ≥ 0 "
                    "(0 turns pacing off)"
                )
            if name in APIS:
                apis[name] = float(value)
            elif "." in name or ":" in name:
                hosts[name.lower()] = float(value)
            else:
                raise ConfigError(
                    f"[tool.iflowtest.rate_limits] {name!r} is neither an API ({', '.join(APIS)}) nor a host name"
                )
        return cls(apis, hosts)

    def keys_for(self, url: str) -> list[tuple[str, float]]:
        """The buckets a call to `url` draws from: its host's and its API's (each with its rate), where limited."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        api = api_of(url)
        found = []
        for name, rate in ((parts.netloc.lower(), self.hosts.get(parts.netloc.lower())), (host, self.hosts.get(host))):
            if rate:
                found.append((f"host {name}", rate))
                break
        rate = self.apis.get(api)
        if rate:
            found.append((f"{api} {parts.netloc.lower()}", rate))
        return found

    def describe(self) -> str:
        """`message_log 100/s, runtime_artifacts 50/s, ...` for the report."""
        limits = [f"{k} {v:g}/s" for k, v in self.apis.items() if v] + [
            f"{k} {v:g}/s" for k, v in self.hosts.items() if v
        ]
        return ", ".join(limits) or "none"
