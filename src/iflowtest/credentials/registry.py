"""The run's named OAuth clients: their service keys, their one token each, and iFlow clients built on them.

Keys come from a `KeyProvider`: loaded from the profile for a real tenant (`load_configured_key`), or issued
by the emulated tenant. Either way the rest of the harness sees the same `ServiceKey` and takes the same
code path to the token endpoint and the runtime.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from iflowtest.calls.client import IflowClient
from iflowtest.calls.retrying import RetrySettings
from iflowtest.credentials.mtls import CertificateFiles
from iflowtest.credentials.servicekey import ServiceKey
from iflowtest.credentials.tokens import BasicClientAuth, BearerAuth, OAuthToken
from iflowtest.errors import ConfigError, ServiceKeyError
from iflowtest.settings import ClientSpec, Settings

KeyProvider = Callable[[ClientSpec], ServiceKey]


def load_configured_key(spec: ClientSpec, settings: Settings) -> ServiceKey:
    """Load a client's key from `IFLOWTEST_CLIENT_<NAME>_KEY` or its table's `service_key`."""
    if not spec.service_key:
        raise ConfigError(
            f"client {spec.name!r} has no service key: set {spec.env_var} in .env.<profile> to the key JSON or "
            f"its file path, or set service_key in {spec.table}"
        )
    key = ServiceKey.from_reference(spec.service_key, spec.service_key_origin or spec.env_var, base=settings.root)
    check_key_fits(spec, key)
    return key


def check_key_fits(spec: ClientSpec, key: ServiceKey) -> None:
    """Refuse keys that cannot work the way the client is declared (plan or auth mode mismatch)."""
    if spec.plan == "integration-flow" and key.is_api_plan:
        raise ServiceKeyError(
            f"client {spec.name!r}: the key from {key.source} belongs to the 'api' plan (client id "
            f"{key.masked_clientid}), whose url is the API host, not the iFlow runtime: use a key of an "
            "'integration-flow' instance, or set plan = 'api' in " + spec.table
        )
    if spec.auth == "basic" and key.clientsecret is None:
        raise ServiceKeyError(
            f"client {spec.name!r} uses auth = 'basic' but the key from {key.source} is a {key.key_type} key "
            f"without clientsecret: set auth = 'oauth' or 'certificate' in {spec.table} or create a ClientId/Secret key"
        )
    if key.clientsecret is None and key.key is None:
        raise ServiceKeyError(
            f"client {spec.name!r}: the key from {key.source} is an external-certificate key without a private key, "
            f"which the harness cannot use for mTLS: create a key with key type 'certificate' for {spec.table}"
        )


@dataclass
class ResolvedClient:
    """A declared client with its key and, for OAuth, its token."""

    spec: ClientSpec
    key: ServiceKey
    token: OAuthToken | None
    certificate: CertificateFiles | None = None

    def auth(self) -> AuthBase:
        """The requests auth object for calls to the runtime."""
        if self.spec.auth == "basic":
            return BasicClientAuth(self.key)
        if self.token is None:
            return _CertificateOnly()  # auth = 'certificate': the client certificate is the credential
        return BearerAuth(self.token)


class _CertificateOnly(AuthBase):
    """No Authorization header: the TLS client certificate authenticates the call."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class ClientRegistry:
    """Resolves declared clients lazily, once each, and hands out iFlow clients for them."""

    def __init__(self, settings: Settings, provide_key: KeyProvider, *, verify: bool | str = True) -> None:
        self.settings = settings
        self._provide_key = provide_key
        self.verify = verify
        self.retry = RetrySettings()  # for clients created from now on
        self._lock = threading.Lock()
        self._resolved: dict[str, ResolvedClient] = {}
        self._bases: dict[str, IflowClient] = {}

    def resolve(self, name: str | None = None) -> ResolvedClient:
        """The client `name` (default client when None), its key loaded or issued on first use."""
        spec = self.settings.client(name)
        with self._lock:
            found = self._resolved.get(spec.name)
            if found is None:
                key = self._provide_key(spec)
                # Certificate keys: certificate and private key go to 0600 files for requests' `cert=`.
                files = CertificateFiles.write(key, spec.name) if key.clientsecret is None else None
                token = None
                if spec.auth == "oauth":
                    token = OAuthToken(
                        key,
                        spec.name,
                        verify=self.verify,
                        timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                        cert=files.pair if files else None,
                    )
                found = self._resolved[spec.name] = ResolvedClient(spec, key, token, files)
            return found

    def iflow_client(self, name: str | None = None, iflow: str | None = None) -> IflowClient:
        """An IflowClient for client `name`, tagged with `iflow`; all of a client's share one connection pool."""
        resolved = self.resolve(name)
        with self._lock:
            base = self._bases.get(resolved.spec.name)
            if base is None:
                base = self._bases[resolved.spec.name] = IflowClient(
                    resolved.key.url,
                    resolved.auth(),
                    client_name=resolved.spec.name,
                    timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                    verify=self.verify,
                    explain=lambda response, flow: self.explain(response, flow, resolved.spec),
                    retry=self.retry,
                )
                if resolved.certificate is not None:
                    base.session.cert = resolved.certificate.pair
        address = self.settings.iflow(iflow).address if iflow else None
        return base.for_iflow(iflow, address)

    def resolved_keys(self) -> list[ServiceKey]:
        """The keys of the clients resolved so far (nothing is loaded or provisioned by asking)."""
        with self._lock:
            return [r.key for r in self._resolved.values()]

    def tokens_fetched(self) -> dict[str, int]:
        """How many tokens each resolved OAuth client fetched in this process."""
        with self._lock:
            return {n: r.token.fetch_count for n, r in self._resolved.items() if r.token is not None}

    def close(self) -> None:
        """Close every connection pool handed out and remove the client certificates' files."""
        with self._lock:
            bases, self._bases = list(self._bases.values()), {}
            files = [r.certificate for r in self._resolved.values() if r.certificate is not None]
        for base in bases:
            base.close()
        for item in files:
            item.remove()

    def explain(self, response: requests.Response, iflow: str | None, spec: ClientSpec) -> str | None:
        """A one-line diagnosis of an error answer in the terms of the declared client and iFlow."""
        status = response.status_code
        flow = f"iFlow {iflow!r}" if iflow else "the iFlow"
        path = urlsplit(response.url).path
        if status == 401:
            how = {
                "basic": "its clientid/clientsecret (Basic)",
                "certificate": "its client certificate",
            }.get(spec.auth, "its token, even after one refresh")
            return (
                f"401 from {path}: the runtime did not accept client {spec.name!r} ({how}): check that the key "
                "belongs to this tenant and was not deleted"
            )
        if status == 403:
            required = self.settings.iflow(iflow).role if iflow else None
            if required and required not in spec.roles:
                return (
                    f"403 from {path}: client {spec.name!r} (roles {', '.join(spec.roles)}) lacks role {required} "
                    f"required by {flow}: add it to roles of {spec.table} and re-provision"
                )
            return (
                f"403 from {path}: client {spec.name!r} (roles {', '.join(spec.roles)}) is not authorized for {flow}: "
                "the instance lacks the role of its sender adapter (declare role in [tool.iflowtest.iflows.NAME] "
                "to have it named here)"
            )
        if status == 404:
            return (
                f"404 from {path}: no iFlow is deployed at this address: check the address (case-insensitive; "
                "/http for HTTPS, /cxf for SOAP and IDoc senders) and that the iFlow is deployed and started"
            )
        if status == 500 and "text/plain" in response.headers.get("Content-Type", ""):
            return f"500 from {path}: {flow} failed at runtime; open its MPL in the message monitor"
        if status == 503:
            return f"503 from {path}: the runtime is not available for {flow} (starting, or not deployed)"
        return None
