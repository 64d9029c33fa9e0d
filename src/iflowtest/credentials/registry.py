"""The run's named OAuth clients, each resolved once into a `ResolvedClient` that the call path carries.

Keys come from a `KeyProvider`: loaded from the profile for a real tenant (`load_configured_key`), or issued
by the emulated tenant. Either way the rest of the harness sees the same `ServiceKey` and takes the same
code path to the token endpoint and the runtime. A `ResolvedClient` holds everything a call needs (the
declared spec, the key, the auth with its token and breaker, the certificate files, TLS verification and
timeouts), so the layers below it never ask the registry or the settings again.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests
from requests.auth import AuthBase

from iflowtest.credentials.mtls import CertificateFiles
from iflowtest.credentials.servicekey import ServiceKey
from iflowtest.credentials.tokens import BasicClientAuth, BearerAuth, OAuthToken
from iflowtest.errors import ConfigError, IflowtestError, ServiceKeyError
from iflowtest.redaction import Secret
from iflowtest.settings import ClientSpec, Settings

KeyProvider = Callable[[ClientSpec], ServiceKey]
_TEMPLATE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")


def load_configured_key(spec: ClientSpec, settings: Settings) -> ServiceKey:
    """Load a client's key from `IFLOWTEST_CLIENT_<NAME>_KEY`, its table's `service_key`, or the profile's variables."""
    if spec.source == "variables":
        return key_from_variables(spec, settings.variables)
    if not spec.service_key:
        raise ConfigError(
            f"client {spec.name!r} has no service key: set {spec.env_var} in .env.<profile> to the key JSON or "
            f"its file path, or set service_key in {spec.table}"
        )
    key = ServiceKey.from_reference(spec.service_key, spec.service_key_origin or spec.env_var, base=settings.root)
    check_key_fits(spec, key)
    return key


def key_from_variables(spec: ClientSpec, variables: Mapping[str, str]) -> ServiceKey:
    """The key of a `source = "variables"` client: url, client id, secret and token URL from the profile.

    This is how a Postman user holds a client (an environment with baseUrl, clientId, clientSecret and
    accessTokenUrl), so an imported collection runs with those values and no service-key file.
    """

    def value(field: str) -> str:
        template = spec.key_fields.get(field, "")

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            found = variables.get(name)
            if not found:
                raise ConfigError(
                    f"client {spec.name!r} takes its {field} from ${{{name}}}, which the profile does not set: set "
                    f"{name} in .env.<profile> (the Postman environment's value), or change {field} in {spec.table}"
                )
            return found

        return _TEMPLATE.sub(lookup, template).strip()

    fields = {name: value(name) for name in ("url", "clientid", "clientsecret")}
    # Basic auth never asks a token endpoint; the key's format still has one.
    fields["tokenurl"] = value("tokenurl") if spec.key_fields.get("tokenurl") else fields["url"]
    key = ServiceKey.from_mapping({"oauth": fields}, f"the profile's variables ({spec.table})")
    Secret(fields["clientsecret"])  # registered with the redactor: reports and failure views mask it
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


@dataclass(frozen=True)
class ResolvedClient:
    """A declared client with its key and, for OAuth, its token: what every call as this client needs."""

    spec: ClientSpec
    key: ServiceKey
    token: OAuthToken | None
    certificate: CertificateFiles | None = None
    verify: bool | str = True
    timeout: tuple[float, float] = (10.0, 60.0)

    @property
    def name(self) -> str:
        """The declared name (`[tool.iflowtest.clients.NAME]`)."""
        return self.spec.name

    @property
    def url(self) -> str:
        """The key's runtime URL (the API host for an 'api'-plan key)."""
        return self.key.url

    @property
    def cert(self) -> tuple[str, str] | None:
        """requests' `cert=` for certificate keys: the client certificate and private key files."""
        return self.certificate.pair if self.certificate is not None else None

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
    """Resolves declared clients lazily, once each; what it resolved is handed down, never asked back."""

    def __init__(self, settings: Settings, provide_key: KeyProvider, *, verify: bool | str = True) -> None:
        self.settings = settings
        self._provide_key = provide_key
        self.verify = verify
        self._lock = threading.Lock()
        self._resolved: dict[str, ResolvedClient] = {}
        self._failed: dict[str, IflowtestError] = {}  # clients whose key could not be had, and why

    def resolve(self, name: str | None = None) -> ResolvedClient:
        """The client `name` (default client when None), its key loaded or issued on first use."""
        spec = self.settings.client(name)
        with self._lock:
            found = self._resolved.get(spec.name)
            if found is None:
                if spec.name in self._failed:
                    raise self._failed[spec.name]  # the same cause for every test, without trying again
                try:
                    key = self._provide_key(spec)
                except IflowtestError as exc:
                    self._failed[spec.name] = exc
                    raise
                timeout = (self.settings.connect_timeout, self.settings.read_timeout)
                # Certificate keys: certificate and private key go to 0600 files for requests' `cert=`.
                files = CertificateFiles.write(key, spec.name) if key.clientsecret is None else None
                token = None
                if spec.auth == "oauth":
                    token = OAuthToken(
                        key, spec.name, verify=self.verify, timeout=timeout, cert=files.pair if files else None
                    )
                found = self._resolved[spec.name] = ResolvedClient(spec, key, token, files, self.verify, timeout)
            return found

    def resolved_keys(self) -> list[ServiceKey]:
        """The keys of the clients resolved so far (nothing is loaded or provisioned by asking)."""
        with self._lock:
            return [r.key for r in self._resolved.values()]

    def tokens_fetched(self) -> dict[str, int]:
        """How many tokens each resolved OAuth client fetched in this process."""
        with self._lock:
            return {n: r.token.fetch_count for n, r in self._resolved.items() if r.token is not None}

    def close(self) -> None:
        """Remove the client certificates' files."""
        with self._lock:
            files = [r.certificate for r in self._resolved.values() if r.certificate is not None]
        for item in files:
            item.remove()
