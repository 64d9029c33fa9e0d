"""The public API is pinned: adding or removing a name is a deliberate change to this list."""

from __future__ import annotations

import iflowtest

PUBLIC = {
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
}


def test_public_names() -> None:
    assert set(iflowtest.__all__) == PUBLIC
    for name in PUBLIC:
        assert hasattr(iflowtest, name), name


def test_every_error_derives_from_the_base_and_says_when_it_is_raised() -> None:
    errors = [getattr(iflowtest, n) for n in PUBLIC if n.endswith("Error")]
    for error in errors:
        assert issubclass(error, iflowtest.IflowtestError)
        assert error.__doc__ and error.__doc__.startswith(("Raised when", "Base of")), error
