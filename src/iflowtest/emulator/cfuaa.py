"""The UAA of the emulated Cloud Foundry landscape (`/cf/uaa`): the `cf` client's password and refresh grants.

Access tokens are HS256 JWTs (the cf CLI decodes their `exp` to decide when to refresh), checked against the
emulator's clock so tests can expire them without sleeping. `CfError` is the V3 error envelope both halves use.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from typing import Any, Final

import jwt
from werkzeug.wrappers import Request, Response

from iflowtest.emulator.tenant import Clock

CF_CLIENT: Final = "cf"
_ALGORITHM: Final = "HS256"


class CfError(Exception):
    """One V3 error answer."""

    def __init__(self, status: int, code: int, title: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.code, self.title, self.detail, self.headers = status, code, title, detail, headers or {}


class CfUaa:
    """Users of the landscape and the tokens handed to them."""

    def __init__(self, clock: Clock, signing_key: bytes) -> None:
        self._clock = clock
        self._signing_key = signing_key
        self._lock = threading.Lock()
        self.username = "developer@example.com"
        self.password = secrets.token_urlsafe(12)
        self._users: dict[str, tuple[str, bool]] = {self.username: (self.password, True)}
        self._refresh_tokens: dict[str, str] = {}
        self.token_lifetime = 1199  # cf CLI tokens live about 20 minutes

    def add_user(self, username: str, password: str, *, space_developer: bool = True) -> None:
        """Another user (without Space Developer, writes are refused with 403)."""
        with self._lock:
            self._users[username] = (password, space_developer)

    def remove_user(self, username: str) -> None:
        """Delete a user: tokens already handed out stop working."""
        with self._lock:
            self._users.pop(username, None)

    def token(self, request: Request) -> Response:
        """Answer `POST /cf/uaa/oauth/token` (password and refresh_token grants of client `cf`)."""
        if request.method != "POST":
            return json_response(
                405, {"error": "method_not_allowed", "error_description": "Request method not supported"}
            )
        auth = request.authorization
        client = auth.username if auth is not None and auth.type == "basic" else request.form.get("client_id")
        if client != CF_CLIENT:
            return json_response(401, {"error": "unauthorized", "error_description": "Bad credentials"})
        grant = request.form.get("grant_type")
        with self._lock:
            if grant == "password":
                user = self._users.get(request.form.get("username", ""))
                if user is None or not secrets.compare_digest(user[0], request.form.get("password", "")):
                    return json_response(401, {"error": "unauthorized", "error_description": "Bad credentials"})
                username = request.form["username"]
            elif grant == "refresh_token":
                refresh = request.form.get("refresh_token", "")
                found = self._refresh_tokens.get(refresh)
                if found is None:
                    return json_response(401, {"error": "invalid_token", "error_description": "Invalid refresh token"})
                username = found
            else:
                return json_response(
                    400, {"error": "unsupported_grant_type", "error_description": f"Unsupported grant type: {grant}"}
                )
            now = int(self._clock.now())
            access = jwt.encode(
                {
                    "user_name": username,
                    "client_id": CF_CLIENT,
                    "iat": now,
                    "exp": now + self.token_lifetime,
                    "jti": uuid.uuid4().hex,
                    "scope": ["cloud_controller.read", "cloud_controller.write"],
                },
                self._signing_key,
                algorithm=_ALGORITHM,
            )
            refresh_token = secrets.token_hex(16) + "-r"
            self._refresh_tokens[refresh_token] = username
        return json_response(
            200,
            {
                "access_token": access,
                "token_type": "bearer",
                "refresh_token": refresh_token,
                "expires_in": self.token_lifetime - 1,
                "scope": "cloud_controller.read cloud_controller.write",
                "jti": uuid.uuid4().hex,
            },
        )

    def issue_refresh_token(self, username: str | None = None) -> str:
        """A refresh token for `username` (default: the space developer), as a cf session would hold one."""
        token = secrets.token_hex(16) + "-r"
        with self._lock:
            self._refresh_tokens[token] = username or self.username
        return token

    def authenticate(self, request: Request) -> tuple[str, bool]:
        """(user name, is Space Developer) of the bearer token, or CfError 401."""
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise CfError(401, 10002, "CF-NotAuthenticated", "Authentication error")
        try:
            claims = jwt.decode(
                token,
                self._signing_key,
                algorithms=[_ALGORITHM],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "require": ["exp"]},
            )
        except jwt.InvalidTokenError:
            raise CfError(401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token") from None
        if self._clock.now() >= claims["exp"]:
            raise CfError(401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token")
        with self._lock:
            user = self._users.get(str(claims.get("user_name")))
        if user is None:
            raise CfError(401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token")
        return str(claims["user_name"]), user[1]


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
