"""The Process Integration Runtime (`it-rt`) service broker of the emulated tenant.

Cloud Foundry hands instance and key requests to this broker; it checks the instance parameters against the
tenant's role catalog (user roles such as ESBMessaging.send and custom ones like ESBMessaging_DE for the
`integration-flow` plan, role templates such as MonitoringDataRead for the `api` plan) and issues the keys
through `Emulator.issue_service_key`. A rejection is a `BrokerError` whose text CF wraps into a failed job,
as on a real landscape. The real broker's wording is unconfirmed (cpi-facts §1); these texts say what is
wrong and what to do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from iflowtest.emulator.tenant import GRANT_TYPES, PLANS, validate_roles

OFFERING: Final = "it-rt"
# Predefined user roles of every tenant (they cannot be deleted).
PREDEFINED_ROLES: Final = ("ESBMessaging.send", "API.invoke")
# Role templates of the `api` plan (cpi-facts §1, the list from the Fatih Pense blog).
API_ROLE_TEMPLATES: Final = frozenset(
    {
        "WorkspacePackagesTransport",
        "WorkspacePackagesRead",
        "QueuesActivate",
        "AccessAllAccessPoliciesArtifacts",
        "AccessPoliciesEdit",
        "AccessPoliciesRead",
        "AuthGroup_Administrator",
        "AuthGroup_BusinessExpert",
        "AuthGroup_ContentPublisher",
        "AuthGroup_IntegrationDeveloper",
        "AuthGroup_ReadOnly",
        "AuthGroup_TenantPartnerDirectoryConfigurator",
        "CatalogPackageArtifactsRead",
        "CatalogPackagesCopy",
        "CatalogPackagesRead",
        "CredentialsEdit",
        "DataStorePayloadsRead",
        "DataStoresAndQueuesConfig",
        "DataStoresAndQueuesDelete",
        "DataStoresAndQueuesRead",
        "HealthCheckMonitoringDataRead",
        "MessagePayloadsRead",
        "MessageProcessingLocksDelete",
        "MessageProcessingLocksRead",
        "MonitoringArtifactsDeploy",
        "MonitoringDataRead",
        "QueuesRetry",
        "SecurityMaterialDownload",
        "SecurityMaterialEdit",
        "TraceConfigurationEdit",
        "TraceConfigurationRead",
        "WorkspaceArtifactLocksDelete",
        "WorkspaceArtifactLocksRead",
        "WorkspaceArtifactsDeploy",
        "WorkspacePackagesConfigure",
        "WorkspacePackagesEdit",
    }
)
_KEY_TYPES: Final = ("certificate",)  # no parameters means a ClientId/Secret key
_INSTANCE_PARAMETERS: Final = frozenset({"roles", "grant-types", "redirect-uris", "token-validity"})
_KEY_PARAMETERS: Final = frozenset({"key-type", "validity", "key-length"})

IssueKey = Callable[..., dict[str, Any]]


class BrokerError(Exception):
    """The broker's refusal, with the description it sends back to Cloud Foundry."""


class ProcessIntegrationBroker:
    """Validates it-rt instance parameters and issues one set of credentials per service key."""

    def __init__(self, issue_key: IssueKey, revoke: Callable[[str], None], custom_roles: Iterable[str] = ()) -> None:
        self._issue_key = issue_key
        self._revoke = revoke
        self._roles = set(PREDEFINED_ROLES) | set(custom_roles)
        self._lock = threading.Lock()
        # The instance parameters this broker knows. `token-validity` is a third-party guide's spelling, not
        # SAP's (cpi-facts §1, UNCONFIRMED): tests take it out to see how a broker that refuses it is reported.
        self.instance_parameters: set[str] = set(_INSTANCE_PARAMETERS)

    def add_role(self, role: str) -> None:
        """Create a user role in the tenant (Monitor > Manage Security > User Roles)."""
        (checked,) = validate_roles([role])
        with self._lock:
            self._roles.add(checked)

    def user_roles(self) -> list[str]:
        """The tenant's user roles usable by `integration-flow` instances."""
        with self._lock:
            return sorted(self._roles)

    def check_instance(self, plan: str, parameters: Mapping[str, Any]) -> None:
        """Raise BrokerError when an instance with these parameters cannot be created."""
        if plan not in PLANS:
            raise BrokerError(f"plan {plan!r} is not offered by {OFFERING}")
        known_parameters = set(self.instance_parameters)
        unknown = sorted(set(parameters) - known_parameters)
        if unknown:
            raise BrokerError(
                f"unknown instance parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known_parameters))}"
            )
        roles = parameters.get("roles", [])
        try:
            checked_roles = validate_roles(roles) if isinstance(roles, list) else validate_roles(str(roles))
        except ValueError as exc:
            raise BrokerError(str(exc)) from None
        known = API_ROLE_TEMPLATES if plan == "api" else set(self.user_roles())
        for role in checked_roles:
            if role not in known:
                where = (
                    "it is not a role template of the api plan"
                    if plan == "api"
                    else "create it under Monitor > Manage Security > User Roles first"
                )
                raise BrokerError(f"Role '{role}' does not exist in this tenant: {where}")
        grants = parameters.get("grant-types", ["client_credentials"])
        if not isinstance(grants, list) or not grants:
            raise BrokerError("grant-types must be a non-empty list")
        for grant in grants:
            if grant == "client_x509":
                raise BrokerError(
                    "The client_x509 grant type reached its end of life in January 2026: use client_credentials "
                    "with a certificate service key instead"
                )
            if grant not in GRANT_TYPES:
                raise BrokerError(f"grant type '{grant}' is not supported")
        validity = parameters.get("token-validity")
        if validity is not None and (not isinstance(validity, int) or not 3600 <= validity <= 86400):
            raise BrokerError(f"token-validity must be between 3600 and 86400 seconds, got {validity!r}")

    def issue(
        self, instance_name: str, plan: str, instance_parameters: Mapping[str, Any], key_parameters: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The credentials of a new service key; BrokerError when the key parameters are refused."""
        unknown = sorted(set(key_parameters) - _KEY_PARAMETERS)
        if unknown:
            raise BrokerError(f"unknown key parameter(s) {', '.join(unknown)}")
        key_type = key_parameters.get("key-type")
        grants = list(instance_parameters.get("grant-types", ["client_credentials"]))
        options: dict[str, Any] = {}
        if key_type is not None:
            if key_type not in _KEY_TYPES:
                raise BrokerError(f"key-type '{key_type}' is not supported; use 'certificate' or no key-type")
            if "client_credentials" not in grants:
                raise BrokerError("Client credentials grant is required to be able to use this key type")
            validity = key_parameters.get("validity", 365)
            key_length = key_parameters.get("key-length", 2048)
            if not isinstance(validity, int) or not 1 <= validity <= 365:
                raise BrokerError(f"validity must be between 1 and 365 days, got {validity!r}")
            if key_length not in (2048, 3072, 4096):
                raise BrokerError(f"key-length must be 2048, 3072 or 4096, got {key_length!r}")
            options = {"key_type": "certificate", "validity": validity, "key_length": key_length}
        try:
            return self._issue_key(
                instance_name,
                plan=plan,
                roles=list(instance_parameters.get("roles", [])),
                grant_types=grants,
                token_validity=instance_parameters.get("token-validity"),
                **options,
            )
        except ValueError as exc:
            raise BrokerError(str(exc)) from None

    def revoke(self, credentials: Mapping[str, Any]) -> None:
        """Make a deleted key's credentials (secret and certificate alike) worthless."""
        clientid = credentials.get("oauth", {}).get("clientid")
        if isinstance(clientid, str):
            self._revoke(clientid)
