"""Errors raised by iflowtest.

Every message says what happened, what was expected and how to fix it, and never carries a secret.

IflowtestError
├── ConfigError              a setting, profile or pyproject table is invalid
│   └── ServiceKeyError      a service key is missing, not JSON, or lacks a field
├── TokenError               the token endpoint refused the client or answered nonsense
│   ├── ClientRejectedError  401 unauthorized / unauthorized_client / invalid_client
│   └── TokenEndpointError   unreachable, not JSON, or no access_token in the answer
│       └── TokenEndpointUnreachableError (also an UnreachableError)
├── IflowCallError           an iFlow call could not be completed as the harness expects
│   ├── CsrfError            the CSRF handshake did not yield a usable token
│   └── RuntimeUnreachableError (also an UnreachableError)
├── CloudFoundryError        the Cloud Foundry API or its UAA refused a request or cannot be reached
│   ├── ProvisioningError    a client's service instance or key could not be created or deleted
│   └── CloudFoundryUnreachableError (also an UnreachableError)
├── UnreachableError         the tenant, its token endpoint or the CF API could not be reached (exit 3)
├── CassetteError            a recorded cassette cannot answer a replayed request
└── PostmanError             a Postman collection, environment or data file cannot be read or is not one
"""

from __future__ import annotations


class IflowtestError(Exception):
    """Base of every error iflowtest raises on purpose."""


class ConfigError(IflowtestError):
    """Raised when settings from the command line, environment or pyproject are invalid."""


class ServiceKeyError(ConfigError):
    """Raised when a service key cannot be read or lacks a required field."""


class TokenError(IflowtestError):
    """Raised when no access token can be obtained for a client."""


class ClientRejectedError(TokenError):
    """Raised when the token endpoint rejects the client id or secret."""


class TokenEndpointError(TokenError):
    """Raised when the token endpoint is unreachable or its answer is not a token."""


class IflowCallError(IflowtestError):
    """Raised when an iFlow call fails below the HTTP level (connection, timeout, handshake)."""


class CsrfError(IflowCallError):
    """Raised when an endpoint demands a CSRF token and the handshake cannot provide one."""


class CloudFoundryError(IflowtestError):
    """Raised when the Cloud Foundry V3 API or its UAA refuses a request or cannot be reached."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None, title: str | None = None):
        super().__init__(message)
        self.status, self.code, self.title = status, code, title


class ProvisioningError(CloudFoundryError):
    """Raised when a client's service instance or service key cannot be created, read or deleted."""


class UnreachableError(IflowtestError):
    """Raised when the tenant or its token endpoint cannot be reached at all (a nightly run exits 3)."""


class TokenEndpointUnreachableError(TokenEndpointError, UnreachableError):
    """Raised when no connection to the token endpoint can be made."""


class RuntimeUnreachableError(IflowCallError, UnreachableError):
    """Raised when no connection to the iFlow runtime can be made."""


class CloudFoundryUnreachableError(CloudFoundryError, UnreachableError):
    """Raised when no connection to the Cloud Foundry API or its UAA can be made."""


class CassetteError(IflowtestError):
    """Raised when a replayed request has no recorded answer (missing cassette or interaction)."""


class PostmanError(IflowtestError):
    """Raised when a Postman collection, environment or data file cannot be read or is not what it claims."""
