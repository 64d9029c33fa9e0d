"""The cf CLI session: `$CF_HOME/.cf/config.json` (default `~/.cf/config.json`), read, never written.

The file is the cf CLI's (`util/configv3/json_config.go`): `Target` is the API URL, `AccessToken` is stored
with its `bearer ` prefix, `RefreshToken` renews it with the `cf` client, and `OrganizationFields` /
`SpaceFields` are what `cf target` chose. A token's expiry is read from its JWT `exp` claim without checking
the signature, exactly as the CLI decides when to refresh; the API itself checks the token.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from iflowtest.bounds import nesting
from iflowtest.errors import ConfigError
from iflowtest.redaction import Secret

# Refresh this long before the token runs out, as the cf CLI does (it uses one minute too).
EXPIRY_MARGIN_SECONDS: Final = 60.0


@dataclass(frozen=True)
class CfSession:
    """What `cf login` and `cf target` left in config.json."""

    path: Path
    api: str | None
    access_token: Secret | None
    refresh_token: Secret | None
    uaa_client: str
    uaa_client_secret: Secret
    org_guid: str | None
    org_name: str | None
    space_guid: str | None
    space_name: str | None

    @property
    def bearer(self) -> str | None:
        """The access token without the `bearer ` prefix the CLI stores it with."""
        if self.access_token is None:
            return None
        value = self.access_token.reveal()
        scheme, _, token = value.partition(" ")
        return token if scheme.lower() == "bearer" and token else value


def load_cf_session(path: Path) -> CfSession | None:
    """The session in `path`, or None when the file does not exist (nobody ran `cf login`)."""
    if not path.is_file():
        return None
    try:
        data = nesting.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError, JSONDecodeError and TooDeepError are ValueErrors
        raise ConfigError(
            f"cf CLI config {path} cannot be read ({type(exc).__name__}): run `cf login` again, or set "
            "IFLOWTEST_CF_USERNAME and IFLOWTEST_CF_PASSWORD instead"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"cf CLI config {path} is not a JSON object: run `cf login` again")
    org: Mapping[str, Any] = data.get("OrganizationFields") or {}
    space: Mapping[str, Any] = data.get("SpaceFields") or {}
    if not isinstance(org, dict) or not isinstance(space, dict):
        raise ConfigError(f"cf CLI config {path}: OrganizationFields and SpaceFields must be objects: run `cf target`")
    return CfSession(
        path=path,
        api=_text(data, "Target"),
        access_token=_secret(data, "AccessToken"),
        refresh_token=_secret(data, "RefreshToken"),
        uaa_client=_text(data, "UAAOAuthClient") or "cf",
        uaa_client_secret=Secret(_text(data, "UAAOAuthClientSecret") or ""),
        org_guid=_text(org, "GUID"),
        org_name=_text(org, "Name"),
        space_guid=_text(space, "GUID"),
        space_name=_text(space, "Name"),
    )


def token_expired(token: str, now: float | None = None, margin: float = EXPIRY_MARGIN_SECONDS) -> bool:
    """Whether a JWT access token is expired (or expires within `margin`); an unreadable token counts as expired."""
    import jwt  # here: PyJWT pulls in cryptography (~50 ms), which runs that never provision do not need

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return True
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        return True
    return (time.time() if now is None else now) + margin >= exp


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def _secret(data: Mapping[str, Any], name: str) -> Secret | None:
    value = _text(data, name)
    return Secret(value) if value else None
