"""Scrubbing at the cassette boundary: secrets become stable placeholders, hosts become portable names.

Every interaction passes through `scrub_request` and `scrub_response` just before it is written
(vcrpy's `before_save_interaction`), and through `restore_request` / `restore_response` just after it is
read (`after_load_interaction`). In memory a cassette therefore always speaks the current profile's URLs,
and on disk it speaks placeholders:

- hosts: `{runtime}` (integration-flow `url`), `{api}` (api-plan `url`), `{tokenurl}` (the whole token
  URL), `{cf}` (the Cloud Foundry API); a cassette recorded on a dev tenant or on one emulator port
  replays against any other profile, because loading puts that profile's URLs back;
- headers: `Authorization` (`Bearer {access_token}`, `Basic {credentials}`), cookie values (a request's
  `Cookie` header is left out altogether), `X-CSRF-Token` values (the protocol words `Fetch` and `Required`
  stay), API keys;
- form, query and JSON fields: `client_secret`/`clientsecret`, `password`, `access_token`,
  `refresh_token`, `id_token`, assertions; in CF `/details` answers `key` and `certificate` (PEM);
- a safety net over all remaining text: every secret value this process has wrapped in a `Secret`
  (redaction.py keeps the list), JWTs and PEM private keys.

vcrpy's own filters cannot do this: `before_record_response` never sees the request, so a token
endpoint's answer cannot be told from any other (vcrpy #527), and header filters miss token bodies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from iflowtest.bounds import nesting
from iflowtest.redaction import JWT, REDACTOR

PLACEHOLDER_HOSTS: Final = ("{runtime}", "{api}", "{tokenurl}", "{cf}")
# Secret fields in forms, queries and JSON, and the placeholder each becomes.
SECRET_FIELDS: Final = {
    "access_token": "{access_token}",
    "refresh_token": "{refresh_token}",
    "id_token": "{id_token}",
    "client_secret": "{clientsecret}",
    "clientsecret": "{clientsecret}",
    "password": "{password}",
    "assertion": "{assertion}",
    "client_assertion": "{assertion}",
    "apikey": "{apikey}",
    "api_key": "{apikey}",
}
# Fields of CF service-key credentials that are secret when they hold PEM text.
PEM_FIELDS: Final = {"key": "{private_key}", "certificate": "{certificate}"}
_CSRF_WORDS: Final = frozenset({"fetch", "required"})
# Request headers that change with library versions, connections or the order tests ran in (a session's
# cookies are sent once an earlier test of the same client got them) and say nothing about the call.
_VOLATILE_REQUEST_HEADERS: Final = frozenset(
    {"user-agent", "connection", "accept-encoding", "content-length", "cookie"}
)
_PEM_PRIVATE: Final = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)
_BEARER: Final = re.compile(r"(?i)\bbearer\s+(?!\{)[A-Za-z0-9._~+/=-]{8,}")


@dataclass
class HostMap:
    """The profile's URLs and client ids, and the placeholders they are stored as."""

    urls: dict[str, str] = field(default_factory=dict)  # placeholder -> URL of the current profile
    clients: dict[str, str] = field(default_factory=dict)  # clientid -> declared client name
    _pattern: re.Pattern[str] | None = field(default=None, repr=False)
    _by_url: dict[str, str] = field(default_factory=dict, repr=False)

    def add(self, placeholder: str, url: str) -> None:
        """Store `url` as `placeholder` (the first URL given for a placeholder is the one restored)."""
        if placeholder not in PLACEHOLDER_HOSTS:
            raise ValueError(f"unknown host placeholder {placeholder!r}: use one of {', '.join(PLACEHOLDER_HOSTS)}")
        url = url.rstrip("/")
        self.urls.setdefault(placeholder, url)
        self._by_url.setdefault(url, placeholder)  # the same URL twice (emulator: runtime = api) keeps the first
        self._pattern = None

    @property
    def token_urls(self) -> frozenset[str]:
        """Every token URL of the profile (requests to them are OAuth handshakes)."""
        return frozenset(u for u, p in self._by_url.items() if p == "{tokenurl}")

    def to_placeholders(self, text: str) -> str:
        """Replace the profile's URLs in `text` by their placeholders."""
        if not self._by_url:
            return text
        if self._pattern is None:
            # Longest first, so the token URL wins over the runtime URL it starts with; the lookahead keeps
            # https://h:5000 from matching inside https://h:50001.
            ordered = sorted(self._by_url, key=len, reverse=True)
            self._pattern = re.compile("(?:" + "|".join(re.escape(u) for u in ordered) + r")(?![\w.:-])")
        return self._pattern.sub(lambda m: self._by_url[m.group(0)], text)

    def from_placeholders(self, text: str) -> str:
        """Put the profile's URLs back in place of the placeholders."""
        if "{" not in text:
            return text
        for placeholder, url in self.urls.items():
            text = text.replace(placeholder, url)
        return text

    def display(self, url: str) -> str:
        """A URL as messages show it: placeholders for hosts, secrets scrubbed."""
        return self.to_placeholders(scrub_url(url))


# ------------------------------------------------------------------------------------------ text
def scrub_text(text: str) -> str:
    """The safety net: known secret values, JWTs, bearer tokens and PEM private keys."""
    text = REDACTOR.replace_known(text, "{secret}")
    text = _PEM_PRIVATE.sub("{private_key}", text)
    text = JWT.sub("{jwt}", text)
    return _BEARER.sub("Bearer {access_token}", text)


def scrub_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Form or query pairs with secret values replaced."""
    return [(k, SECRET_FIELDS[k.lower()]) if k.lower() in SECRET_FIELDS else (k, v) for k, v in pairs]


def scrub_url(url: str) -> str:
    """A URL with secret query parameters replaced."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    cleaned = scrub_pairs(pairs)
    if cleaned == pairs:
        return url
    return urlunsplit(parts._replace(query=urlencode(cleaned, safe="{}")))


def scrub_json(value: Any) -> Any:
    """A JSON document with secret fields (and PEM credentials) replaced; other values untouched."""
    if isinstance(value, dict):
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            lowered = key.lower() if isinstance(key, str) else key
            if lowered in SECRET_FIELDS and isinstance(item, str) and item:
                cleaned[key] = SECRET_FIELDS[lowered]
            elif lowered in PEM_FIELDS and isinstance(item, str) and "-----BEGIN" in item:
                cleaned[key] = PEM_FIELDS[lowered]
            else:
                cleaned[key] = scrub_json(item)
        return cleaned
    if isinstance(value, list):
        return [scrub_json(item) for item in value]
    return value


def scrub_body(body: bytes | None, content_type: str, hosts: HostMap) -> bytes | None:
    """A request or response body with secrets and hosts replaced (in binary bodies, the known secrets)."""
    if not body:
        return body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # Not text: stored as base64 (`!!binary`), where no reader would see a secret; replace the known
        # ones byte for byte so that none is hidden there either.
        return REDACTOR.redact_bytes(body, b"{secret}")
    kind = content_type.lower()
    if "json" in kind or text.lstrip()[:1] in ("{", "["):
        try:
            document = nesting.loads(text)
        except ValueError:
            pass
        else:
            cleaned = scrub_json(document)
            if cleaned != document:
                text = json.dumps(cleaned, ensure_ascii=False)
    elif "x-www-form-urlencoded" in kind:
        pairs = parse_qsl(text, keep_blank_values=True)
        cleaned_pairs = scrub_pairs(pairs)
        if cleaned_pairs != pairs:
            text = urlencode(cleaned_pairs, safe="{}")
    return hosts.to_placeholders(scrub_text(text)).encode("utf-8")


# --------------------------------------------------------------------------------------- headers
def scrub_header(name: str, value: str, hosts: HostMap) -> str:
    """One header value with its secret part replaced."""
    lowered = name.lower()
    if lowered in ("authorization", "proxy-authorization"):
        scheme = value.split(" ", 1)[0].lower()
        return {"bearer": "Bearer {access_token}", "basic": "Basic {credentials}"}.get(scheme, "{authorization}")
    if lowered == "cookie":
        return "; ".join(f"{part.split('=', 1)[0].strip()}={{cookie}}" for part in value.split(";") if part.strip())
    if lowered == "set-cookie":
        first, _, attributes = value.partition(";")
        name_part = first.split("=", 1)[0].strip()
        return f"{name_part}={{cookie}}" + (f";{hosts.to_placeholders(attributes)}" if attributes else "")
    if lowered == "x-csrf-token":
        return value if value.strip().lower() in _CSRF_WORDS else "{csrf_token}"
    if lowered in ("apikey", "x-api-key"):
        return "{apikey}"
    return hosts.to_placeholders(scrub_text(value))


def header_value(headers: Mapping[str, Any], name: str) -> str:
    """The first value of header `name` (lower case) in vcrpy's or requests' headers, or ""."""
    for key, value in headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list | tuple) and value else value)
    return ""


# ---------------------------------------------------------------------------------- interactions
def scrub_request(request: Any, hosts: HostMap) -> Any:
    """Scrub a vcrpy Request in place (it is a copy made for saving) and return it."""
    request.uri = hosts.to_placeholders(scrub_url(request.uri))
    request.headers = {
        name: scrub_header(name, str(value), hosts)
        for name, value in request.headers.items()
        if name.lower() not in _VOLATILE_REQUEST_HEADERS
    }
    body = request.body
    if isinstance(body, bytes):
        request.body = scrub_body(body, header_value(request.headers, "content-type"), hosts)
    return request


def scrub_response(response: dict[str, Any], hosts: HostMap) -> dict[str, Any]:
    """Scrub a vcrpy response dict in place (a copy made for saving) and return it."""
    headers: dict[str, list[str]] = response.get("headers", {})
    for name, values in headers.items():
        headers[name] = [scrub_header(name, str(v), hosts) for v in values]
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes):
        response["body"]["string"] = scrub_body(body, header_value(headers, "content-type"), hosts)
    _fix_content_length(response)
    return response


def restore_request(request: Any, hosts: HostMap) -> Any:
    """Put the current profile's URLs into a loaded request."""
    request.uri = hosts.from_placeholders(request.uri)
    body = request.body
    if isinstance(body, bytes) and b"{" in body:
        request.body = _restore_bytes(body, hosts.from_placeholders)
    return request


def restore_response(response: dict[str, Any], hosts: HostMap) -> dict[str, Any]:
    """Put the current profile's URLs into a loaded response (and make Content-Length fit again)."""
    headers: dict[str, list[str]] = response.get("headers", {})
    for name, values in headers.items():
        headers[name] = [hosts.from_placeholders(str(v)) for v in values]
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes) and b"{" in body:
        response["body"]["string"] = _restore_bytes(body, hosts.from_placeholders)
    _fix_content_length(response)
    return response


def _restore_bytes(body: bytes, restore: Callable[[str], str]) -> bytes:
    try:
        return restore(body.decode("utf-8")).encode("utf-8")
    except UnicodeDecodeError:
        return body


def _fix_content_length(response: dict[str, Any]) -> None:
    # Scrubbing and restoring change body lengths; urllib3 enforces Content-Length on replay.
    headers: dict[str, list[str]] = response.get("headers", {})
    body = response.get("body", {}).get("string")
    for name in headers:
        if name.lower() == "content-length" and isinstance(body, bytes):
            headers[name] = [str(len(body))]
