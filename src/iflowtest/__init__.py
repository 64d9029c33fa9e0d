"""iflowtest: a pytest harness for SAP Cloud Integration iFlow endpoints."""

from iflowtest.calls.client import CallRecord, IflowClient, mpl_id_of, record_of
from iflowtest.cases.format import SuiteFormatError
from iflowtest.checks.assertions import ExpectationError, check_response
from iflowtest.checks.baselines import BaselineRules, compare_baseline
from iflowtest.credentials.registry import ClientRegistry
from iflowtest.credentials.servicekey import ServiceKey
from iflowtest.credentials.tokens import BasicClientAuth, BearerAuth, OAuthToken
from iflowtest.errors import (
    CassetteError,
    ClientRejectedError,
    CloudFoundryError,
    ConfigError,
    CsrfError,
    IflowCallError,
    IflowtestError,
    ProvisioningError,
    ServiceKeyError,
    TokenEndpointError,
    TokenError,
)
from iflowtest.redaction import Secret, redact_text
from iflowtest.settings import ClientSpec, Settings, installed_version, resolve_settings

__version__ = installed_version()

__all__ = [
    "BaselineRules",
    "BasicClientAuth",
    "BearerAuth",
    "CallRecord",
    "CassetteError",
    "ClientRegistry",
    "ClientRejectedError",
    "ClientSpec",
    "CloudFoundryError",
    "ConfigError",
    "CsrfError",
    "ExpectationError",
    "IflowCallError",
    "IflowClient",
    "IflowtestError",
    "OAuthToken",
    "ProvisioningError",
    "Secret",
    "ServiceKey",
    "ServiceKeyError",
    "Settings",
    "SuiteFormatError",
    "TokenEndpointError",
    "TokenError",
    "__version__",
    "check_response",
    "compare_baseline",
    "mpl_id_of",
    "record_of",
    "redact_text",
    "resolve_settings",
]
