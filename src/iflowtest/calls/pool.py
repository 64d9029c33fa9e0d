"""The run's iFlow clients: one connection pool per declared client, handed out as views per iFlow.

A client name goes down one way: the registry resolves it once into a `ResolvedClient` (key, auth, token and
breaker, certificate, TLS verification, timeouts), this pool builds one `IflowClient` from that value, and
each test gets a view tagged with its iFlow's address and required role. Nothing below asks back up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import requests
from requests.auth import AuthBase

from iflowtest.calls.client import ApplicationIds, IflowClient
from iflowtest.calls.deployments import DeploymentGate
from iflowtest.calls.hints import explain_answer
from iflowtest.calls.retrying import RetrySettings
from iflowtest.credentials.registry import ClientRegistry, ResolvedClient
from iflowtest.settings import Settings


def iflow_client_of(
    resolved: ResolvedClient,
    *,
    retry: RetrySettings | None = None,
    application_ids: Callable[[], str] | None = None,
) -> IflowClient:
    """An IflowClient calling as `resolved`, its error answers explained in that client's terms."""
    spec = resolved.spec
    client = IflowClient(
        resolved.url,
        resolved.auth(),
        client_name=resolved.name,
        timeout=resolved.timeout,
        verify=resolved.verify,
        explain=lambda response, iflow, role: explain_answer(response, spec, iflow, role),
        retry=retry,
        application_ids=application_ids,
    )
    if resolved.cert is not None:
        client.session.cert = resolved.cert
    return client


class IflowClientPool:
    """Hands out IflowClients for declared clients; all of a client's views share one connection pool."""

    def __init__(
        self, registry: ClientRegistry, *, retry: RetrySettings | None = None, gate: DeploymentGate | None = None
    ) -> None:
        self.registry = registry
        # Fails the tests of an iFlow that is not STARTED on the tenant before their first call.
        self.gate = gate
        self.retry = retry or RetrySettings()  # the run's retry policy, for every client it hands out
        # Every call of the run sends a SAP_ApplicationID, so a message log can be found without the MPL id.
        self.application_ids = ApplicationIds()
        self._lock = threading.Lock()
        self._bases: dict[str, IflowClient] = {}

    @property
    def settings(self) -> Settings:
        """The run's settings (those the registry resolves clients with)."""
        return self.registry.settings

    def client(self, name: str | None = None, iflow: str | None = None) -> IflowClient:
        """A view of client `name` (default client when None) tagged with `iflow`'s address and role."""
        resolved = self.registry.resolve(name)
        with self._lock:
            base = self._bases.get(resolved.name)
            if base is None:
                base = self._bases[resolved.name] = iflow_client_of(
                    resolved, retry=self.retry, application_ids=self.application_ids
                )
        return self._view(base, iflow)

    def without_credentials(self, name: str | None = None, iflow: str | None = None) -> IflowClient:
        """A client of its own that sends no credentials to `name`'s runtime (YAML's `auth: none`).

        Its calls are reported as made by no client, so no 401 is blamed on a declared client's key. The
        caller closes it: it shares no connections with the declared clients.
        """
        resolved = self.registry.resolve(name)
        client = IflowClient(
            resolved.url,
            _NoAuth(),
            client_name="(no credentials)",
            timeout=resolved.timeout,
            verify=resolved.verify,
            retry=self.retry,  # the run's retry policy, like every declared client's
            application_ids=self.application_ids,
        )
        return self._view(client, iflow)

    def close(self) -> None:
        """Close every connection pool handed out."""
        with self._lock:
            clients, self._bases = list(self._bases.values()), {}
        for client in clients:
            client.close()

    def _view(self, base: IflowClient, iflow: str | None) -> IflowClient:
        spec = self.settings.iflow(iflow) if iflow else None
        if self.gate is not None and iflow and spec is not None:
            self.gate.check(iflow, spec.artifact_id)
        return base.for_iflow(iflow, spec.address if spec else None, spec.role if spec else None)


class _NoAuth(AuthBase):
    """Sends no credentials (stands in for a declared client's auth in `auth: none` cases)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request
