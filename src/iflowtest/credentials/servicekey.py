"""CPI service keys, parsed exactly as the platform issues them.

Three shapes exist (cpi-facts §2): ClientId/Secret keys (`clientsecret`), certificate keys (`certificate`,
`key`, `certificatedetails`, no secret) and external-certificate keys (`certificate` only). All sit under a
top-level `oauth` object. A key comes from a file, a JSON string (usually an environment variable) or an
already-parsed mapping (the emulator and the CF `/details` endpoint).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from iflowtest.bounds import nesting
from iflowtest.errors import ServiceKeyError
from iflowtest.redaction import Secret, mask_id

KeyType = Literal["secret", "certificate", "certificate_external"]

_PEM_CERT = "-----BEGIN CERTIFICATE-----"
_PEM_KEY_MARKERS = ("-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----")


@dataclass(frozen=True)
class CertificateDetails:
    """The `certificatedetails` block of a certificate key."""

    issuerdn: str
    subjectdn: str
    validuntil: str
    serialnumber: str


@dataclass(frozen=True)
class ServiceKey:
    """One service key of a Process Integration Runtime instance (plan `integration-flow` or `api`)."""

    clientid: str
    url: str
    tokenurl: str
    source: str
    clientsecret: Secret | None = None
    certificate: str | None = None
    key: Secret | None = None
    createdate: str | None = None
    certificatedetails: CertificateDetails | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def key_type(self) -> KeyType:
        """Which of the three documented key types this is."""
        if self.clientsecret is not None:
            return "secret"
        return "certificate" if self.key is not None else "certificate_external"

    @property
    def masked_clientid(self) -> str:
        """The client id shortened for messages and reports."""
        return mask_id(self.clientid)

    @property
    def is_api_plan(self) -> bool:
        """True for `api`-plan keys (client id `...|it!b<n>`), whose `url` is the API host, not the runtime."""
        return "|it!b" in self.clientid

    def __repr__(self) -> str:
        return f"ServiceKey(clientid={self.masked_clientid!r}, url={self.url!r}, type={self.key_type!r}, source={self.source!r})"

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_mapping(cls, data: Any, source: str) -> ServiceKey:
        """Parse an already-decoded key (`{"oauth": {...}}`, or the bare inner object)."""
        if not isinstance(data, Mapping):
            raise ServiceKeyError(
                f"service key from {source} is a JSON {type(data).__name__}, expected an object with an 'oauth' "
                "member: paste the key exactly as the BTP cockpit shows it"
            )
        if "credentials" in data and isinstance(data["credentials"], Mapping):
            data = data["credentials"]  # the CF V3 /details envelope
        oauth = data.get("oauth", data if "clientid" in data else None)
        if not isinstance(oauth, Mapping):
            raise ServiceKeyError(
                f"service key from {source} has no 'oauth' object: a Process Integration Runtime key looks like "
                '{"oauth": {"clientid": ..., "clientsecret": ..., "url": ..., "tokenurl": ...}}'
            )
        return cls(
            clientid=_required_str(oauth, "clientid", source),
            url=_required_url(oauth, "url", source),
            tokenurl=_required_url(oauth, "tokenurl", source),
            source=source,
            clientsecret=_secret_or_none(oauth, "clientsecret", source),
            certificate=_certificate_or_none(oauth, source),
            key=_private_key_or_none(oauth, source),
            createdate=_optional_str(oauth, "createdate", source),
            certificatedetails=_details_or_none(oauth, source),
            extra={k: v for k, v in oauth.items() if k not in _KNOWN_FIELDS and k not in _SECRET_FIELDS},
        )._checked()

    @classmethod
    def from_json(cls, text: str, source: str) -> ServiceKey:
        """Parse a key from JSON text (a file's content or an environment variable)."""
        text = text.lstrip("\ufeff")  # keys saved by Windows editors start with a BOM
        if not text.strip():
            raise ServiceKeyError(f"service key from {source} is empty: paste the key JSON or point to its file")
        try:
            data = nesting.loads(text)
        except nesting.TooDeepError as exc:
            raise ServiceKeyError(
                f"service key from {source} is not a service key ({exc}): copy the key again from the BTP cockpit"
            ) from None
        except json.JSONDecodeError as exc:
            raise ServiceKeyError(
                f"service key from {source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}): "
                "copy the key again from the BTP cockpit (Instances and Subscriptions > the instance > Service Keys)"
            ) from None
        return cls.from_mapping(data, source)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ServiceKey:
        """Read a key from a JSON file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ServiceKeyError(f"service key file {p} does not exist: check the path or create the key") from None
        except UnicodeDecodeError as exc:
            raise ServiceKeyError(
                f"service key file {p} is not UTF-8 text (byte {exc.start}): save it as UTF-8"
            ) from None
        except OSError as exc:
            raise ServiceKeyError(f"service key file {p} cannot be read ({exc.strerror}): check the path") from None
        return cls.from_json(text, str(p))

    @classmethod
    def from_reference(cls, value: str, source: str, base: Path | None = None) -> ServiceKey:
        """Parse a setting that holds either the key JSON itself or a path to its file."""
        stripped = value.lstrip("\ufeff").strip()
        if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":
            stripped = stripped[1:-1].strip()  # quotes kept by `docker --env-file` and some CI secret stores
        if stripped.startswith("{"):
            return cls.from_json(stripped, source)
        # A path is shown when it looks like one; anything else may be a mangled key and is never echoed.
        plain = len(stripped) <= 200 and not any(c in stripped for c in "{}\"'\n\0")
        shown = f" ({stripped})" if plain else f" ({len(stripped)} characters)"
        path = Path(stripped).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            exists = path.is_file()
        except (OSError, ValueError):  # a name too long for the file system, a NUL byte: not a path either
            exists = False
        if not exists:
            raise ServiceKeyError(
                f"service key from {source} is neither JSON nor an existing file{shown}: "
                "set it to the key's JSON (starting with '{') or to the path of a file holding it"
            )
        return cls.from_file(path)

    def _checked(self) -> ServiceKey:
        if self.clientsecret is None and self.certificate is None:
            raise ServiceKeyError(
                f"service key from {self.source} has neither 'clientsecret' nor 'certificate': a ClientId/Secret "
                "key needs 'clientsecret', a certificate key needs 'certificate' (and 'key')"
            )
        if self.key is not None and self.certificate is None:
            raise ServiceKeyError(f"service key from {self.source} has 'key' but no 'certificate' to go with it")
        return self


_KNOWN_FIELDS = frozenset({"clientid", "url", "tokenurl", "createdate", "certificate", "certificatedetails"})
_SECRET_FIELDS = frozenset({"clientsecret", "key"})


def _field_error(source: str, name: str, problem: str) -> ServiceKeyError:
    return ServiceKeyError(f"service key from {source}: field 'oauth.{name}' {problem}")


def _required_str(oauth: Mapping[str, Any], name: str, source: str) -> str:
    if name not in oauth:
        raise _field_error(source, name, "is missing: copy the whole key from the BTP cockpit")
    value = oauth[name]
    if not isinstance(value, str) or not value.strip():
        raise _field_error(source, name, f"must be a non-empty string, got {_kind(value)}")
    return value.strip()


def _optional_str(oauth: Mapping[str, Any], name: str, source: str) -> str | None:
    if name not in oauth or oauth[name] is None:
        return None
    value = oauth[name]
    if not isinstance(value, str):
        raise _field_error(source, name, f"must be a string, got {_kind(value)}")
    return value


def _required_url(oauth: Mapping[str, Any], name: str, source: str) -> str:
    value = _required_str(oauth, name, source)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _field_error(source, name, f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _secret_or_none(oauth: Mapping[str, Any], name: str, source: str) -> Secret | None:
    if name not in oauth or oauth[name] is None:
        return None
    value = oauth[name]
    if not isinstance(value, str) or not value:
        # Never echo the value: a wrong type may still be the secret.
        raise _field_error(source, name, f"must be a non-empty string, got {_kind(value)}")
    return Secret(value)


def _certificate_or_none(oauth: Mapping[str, Any], source: str) -> str | None:
    value = _optional_str(oauth, "certificate", source)
    if value is not None and _PEM_CERT not in value:
        raise _field_error(source, "certificate", f"must be a PEM chain starting with {_PEM_CERT}")
    return value


def _private_key_or_none(oauth: Mapping[str, Any], source: str) -> Secret | None:
    secret = _secret_or_none(oauth, "key", source)
    if secret is not None and not any(m in secret.reveal() for m in _PEM_KEY_MARKERS):
        raise _field_error(source, "key", "must be a PEM private key (-----BEGIN RSA PRIVATE KEY-----)")
    return secret


def _details_or_none(oauth: Mapping[str, Any], source: str) -> CertificateDetails | None:
    raw = oauth.get("certificatedetails")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise _field_error(source, "certificatedetails", f"must be an object, got {_kind(raw)}")
    values = {}
    for name in ("issuerdn", "subjectdn", "validuntil", "serialnumber"):
        value = raw.get(name)
        if not isinstance(value, str):
            raise _field_error(source, f"certificatedetails.{name}", f"must be a string, got {_kind(value)}")
        values[name] = value
    return CertificateDetails(**values)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "an empty string" if value == "" else type(value).__name__
    )
