"""Postman collections read into plain requests: every accepted shape (v2.0/v2.1, strings, BOMs, UTF-16) in one place.

A `PostmanRequest` is one item of the collection with its folder path, its effective auth (inherited from
folder and collection), its URL split into path and query, its body and its test scripts. Turning those into
YAML cases is `postman_import.py`'s work; turning scripts into assertions is `postman_scripts.py`'s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from iflowtest.errors import PostmanError
from iflowtest.postman.check import check_collection, check_environment
from iflowtest.postman.shapes import normalise
from iflowtest.postman.v3 import is_v3_environment, load_v3_collection, load_v3_environment

SCHEMA_VERSIONS = {"v2.0.0": "2.0", "v2.1.0": "2.1"}
_POSTMAN_VARIABLE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
SECRET_WORDS = ("SECRET", "PASSWORD", "PASSWD", "TOKEN", "CREDENTIAL", "APIKEY", "API_KEY")


@dataclass(frozen=True)
class Auth:
    """An item's effective auth: type (basic, bearer, oauth2, noauth, …) and its attributes as a mapping."""

    type: str
    attributes: Mapping[str, Any]
    origin: str  # where it was set: "collection", a folder path or the item itself


@dataclass
class Body:
    """A request body in one of Postman's modes, with the raw language for mode raw."""

    mode: str
    raw: str = ""
    language: str = "text"
    pairs: list[dict[str, Any]] = field(default_factory=list)
    file_src: str | None = None
    graphql: dict[str, Any] = field(default_factory=dict)


@dataclass
class PostmanRequest:
    """One request item of a collection, its inherited auth and scripts resolved."""

    folders: tuple[str, ...]
    name: str
    method: str
    host: str  # as a template: "${baseUrl}", "api.example.com", "" for a URL without host
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Body | None
    auth: Auth | None
    tests: list[str]
    prerequest: list[str]
    notes: list[str] = field(default_factory=list)
    scheme: str = ""  # "https" when the URL names it outside the host
    port: str = ""
    order: int = 0  # position in the collection (Newman's run order)

    @property
    def full_url(self) -> str:
        """The URL without its query, as a template (`https://api.example.com:8443/orders`, `${url}`)."""
        host = f"{self.scheme}://{self.host}" if self.scheme else self.host
        port = f":{self.port}" if self.port else ""
        return host + port + (self.path if self.path != "/" or not self.host.startswith("${") else "")

    @property
    def label(self) -> str:
        """The item's path in the collection, as Postman's sidebar shows it."""
        return " / ".join((*self.folders, self.name))


def read_json_file(path: Path, what: str) -> Any:
    """JSON from a file in UTF-8 (with or without BOM), UTF-16 (as Postman on Windows sometimes exports) or UTF-32."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PostmanError(
            f"cannot read the {what} {path}: {exc.strerror or exc}: pass the path of an exported {what} file"
        ) from None
    try:
        data = json.loads(raw)  # detects UTF-8 (with or without BOM), UTF-16 and UTF-32 itself
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # a lone surrogate (\\ud800) cannot be written out
    except (UnicodeError, json.JSONDecodeError) as exc:
        raise PostmanError(
            f"the {what} {path} is not JSON ({exc}): export it again from Postman (Export → Collection v2.1)"
        ) from None
    except RecursionError:
        raise PostmanError(
            f"the {what} {path} nests arrays or objects too deep to read: export it again from Postman "
            "(Export → Collection v2.1)"
        ) from None
    return data


def load_collection(path: Path) -> tuple[dict[str, Any], str]:
    """The collection in the v2.1 shape and its schema version ("2.0" or "2.1"); anything else is a PostmanError.

    A folder is a Postman v3 collection (`v3.py`); a file is v2.0/v2.1 JSON in any shape Newman accepts.
    """
    if path.is_dir():
        data = load_v3_collection(path)
        check_collection(data, path)
        return data, "3"
    data = read_json_file(path, "collection")
    if isinstance(data, dict) and "item" not in data and "requests" in data:
        raise PostmanError(
            f"{path} is a Postman v1 collection, which iflowtest does not read: open it in Postman and export it "
            "again with Export → Collection v2.1"
        )
    if not isinstance(data, dict) or "item" not in data:
        raise PostmanError(
            f"{path} is JSON but not a Postman collection (expected an object with 'item'): "
            "export the collection from Postman with Export → Collection v2.1"
        )
    data = normalise(data)
    schema = str(data["info"].get("schema") or "")
    # Newman never reads the schema URL: a collection without one runs as v2.1.
    version = next((v for key, v in SCHEMA_VERSIONS.items() if f"/{key}/" in schema), None if schema else "2.1")
    if version is None:
        raise PostmanError(
            f"{path} has the unknown collection schema {schema!r}; expected v2.0.0 or v2.1.0: "
            "export it again from Postman with Export → Collection v2.1"
        )
    check_collection(data, path)
    return data, version


def load_environment(path: Path, what: str = "environment") -> dict[str, tuple[str, bool]]:
    """An environment's (or globals file's) enabled variables: name → (value, is secret)."""
    if is_v3_environment(path):
        data: Any = load_v3_environment(path)
    else:
        data = read_json_file(path, what)
    if not isinstance(data, dict) or not isinstance(data.get("values"), list):
        raise PostmanError(
            f"{path} is JSON but not a Postman environment (expected an object with a 'values' list): "
            "export the environment from Postman with Export on the environment's menu"
        )
    check_environment(data, path)
    return variables(data["values"])


def variables(entries: Any) -> dict[str, tuple[str, bool]]:
    """Enabled variables of a list of {key, value, type, disabled|enabled}; the last duplicate wins, as in Postman."""
    found: dict[str, tuple[str, bool]] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("disabled") or entry.get("enabled") is False:
            continue
        name = str(entry.get("key") or entry.get("id") or "")
        if name:
            value = entry.get("value")
            text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
            found[name] = (text, entry.get("type") == "secret" or is_secret_name(name))
    return found


def is_secret_name(name: str) -> bool:
    """Whether a variable's name says it holds a secret (then its value is never written out)."""
    upper = name.upper().replace("-", "_")
    if upper.endswith(("URL", "URI")):  # tokenUrl names where a token comes from, not a token
        return False
    return any(word in upper for word in SECRET_WORDS) or upper.endswith(("PASS", "PWD"))


def to_template(text: str) -> str:
    """Postman's `{{name}}` as the YAML suites' `${name}`; a literal `${` is escaped as `$${`."""
    return _POSTMAN_VARIABLE.sub(lambda m: "${" + m.group(1) + "}", text.replace("${", "$${"))


def auth_attributes(auth: Mapping[str, Any]) -> dict[str, Any]:
    """An auth's attributes from v2.1 key/value arrays or v2.0 plain objects."""
    attrs = auth.get(str(auth.get("type")), {})
    if isinstance(attrs, list):
        return {str(a.get("key")): a.get("value") for a in attrs if isinstance(a, dict)}
    return dict(attrs) if isinstance(attrs, dict) else {}


def _auth(raw: Any, origin: str, inherited: Auth | None) -> Auth | None:
    if not isinstance(raw, dict) or not raw.get("type"):
        return inherited  # no auth, or "inherit" in the app, means the parent's auth
    return Auth(str(raw["type"]), auth_attributes(raw), origin)


def _scripts(events: Any, listen: str) -> list[str]:
    lines: list[str] = []
    for event in events if isinstance(events, list) else []:
        if isinstance(event, dict) and event.get("listen") == listen and not event.get("disabled"):
            script = event.get("script") or {}
            exec_ = (script.get("exec") or []) if isinstance(script, dict) else []
            lines.extend(exec_.splitlines() if isinstance(exec_, str) else [str(x) for x in exec_])
    return [line for line in lines if line.strip()]


def walk(collection: Mapping[str, Any]) -> Iterator[PostmanRequest]:
    """Every request of a checked collection (`load_collection`), in order, with inherited auth and scripts."""
    root_auth = _auth(collection.get("auth"), "collection", None)
    yield from _walk_items(
        collection.get("item", []),
        (),
        root_auth,
        _scripts(collection.get("event"), "test"),
        _scripts(collection.get("event"), "prerequest"),
    )


def _walk_items(
    items: list[Mapping[str, Any]], folders: tuple[str, ...], auth: Auth | None, tests: list[str], pre: list[str]
) -> Iterator[PostmanRequest]:
    # postman_check has made sure every item is an object with either `item` (a folder) or `request`.
    for index, item in enumerate(items):
        name = str(item.get("name") or f"item {index + 1}")
        if "item" in item:
            inner = (*folders, name)
            yield from _walk_items(
                item["item"],
                inner,
                _auth(item.get("auth"), " / ".join(inner), auth),
                tests + _scripts(item.get("event"), "test"),
                pre + _scripts(item.get("event"), "prerequest"),
            )
        else:
            yield _request(item, folders, name, auth, tests, pre)


def _request(
    item: Mapping[str, Any], folders: tuple[str, ...], name: str, auth: Auth | None, tests: list[str], pre: list[str]
) -> PostmanRequest:
    request = item["request"]
    if isinstance(request, str):
        request = {"url": request, "method": "GET"}
    scheme, host, port, path, query, notes = _url(request.get("url", ""))
    return PostmanRequest(
        scheme=scheme,
        port=port,
        folders=folders,
        name=name,
        method=str(request.get("method") or "GET").upper(),
        host=host,
        path=path,
        query=query,
        headers=_headers(request.get("header")),
        body=_body(request.get("body")),
        auth=_auth(request.get("auth"), " / ".join((*folders, name)), auth),
        tests=tests + _scripts(item.get("event"), "test"),
        prerequest=pre + _scripts(item.get("event"), "prerequest"),
        notes=notes,
    )


def _headers(raw: Any) -> dict[str, str]:
    if isinstance(raw, str):  # "Name: value\nName2: value2"
        pairs = [line.partition(":") for line in raw.splitlines() if ":" in line]
        return {k.strip(): to_template(v.strip()) for k, _, v in pairs}
    return {
        str(h["key"]): to_template(str(h.get("value", "")))
        for h in (raw if isinstance(raw, list) else [])
        if isinstance(h, dict) and h.get("key") and not h.get("disabled")
    }


def parse_url(raw: Any) -> tuple[str, str, str, str, dict[str, str], list[str]]:
    """(scheme, host, port, path, query, notes) of a URL string or object, as templates."""
    return _url(raw)


def _url(raw: Any) -> tuple[str, str, str, str, dict[str, str], list[str]]:
    """(scheme, host, port, path with path variables filled, enabled query, notes) from a URL string or object."""
    notes: list[str] = []
    if isinstance(raw, str):
        raw = {"raw": raw}
    if not isinstance(raw, dict):
        return "", "", "", "/", {}, ["the URL is neither a string nor an object"]
    text = str(raw.get("raw", ""))
    without_fragment = text.split("#", 1)[0]
    address, _, query_text = without_fragment.partition("?")
    scheme_match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", address)
    scheme = scheme_match.group(1) if scheme_match else ""
    scheme_less = address[scheme_match.end() :] if scheme_match else address
    host_text, slash, rest = scheme_less.partition("/")
    port = ""
    if re.fullmatch(r".*:\d+", host_text) and "{{" not in host_text.rsplit(":", 1)[1]:
        host_text, port = host_text.rsplit(":", 1)
    path = "/" + rest if slash else "/"
    query = dict(parse_qsl(query_text, keep_blank_values=True))
    if "path" in raw or "host" in raw:
        host = raw.get("host") or ""  # null stands for absent, as Postman itself reads it
        host_text = ".".join(map(str, host)) if isinstance(host, list) else str(host)
        scheme = str(raw.get("protocol") or scheme or "")
        port = str(raw.get("port") or "")
        parts = raw.get("path") or []
        if isinstance(parts, str):
            parts = parts.split("/")
        path = "/" + "/".join(str(p.get("value", "")) if isinstance(p, dict) else str(p) for p in parts).lstrip("/")
    if "query" in raw:
        query = {
            str(q["key"]): str(q.get("value") or "")
            for q in raw.get("query") or []
            if isinstance(q, dict) and q.get("key") is not None and not q.get("disabled")
        }
    path_variables = {
        str(v.get("key")): str(v.get("value") or "")
        for v in raw.get("variable") or []
        if isinstance(v, dict) and not v.get("disabled")
    }

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in path_variables:
            return path_variables[name]
        notes.append(f"path variable :{name} has no value; written as ${{{name}}}")
        return "${" + name + "}"

    path = re.sub(r"(?<=/):([A-Za-z_][A-Za-z0-9_]*)", fill, path)
    return (
        scheme,
        to_template(host_text),
        to_template(port),
        to_template(path),
        {to_template(k): to_template(v) for k, v in query.items()},
        notes,
    )


def _body(raw: Any) -> Body | None:
    if not isinstance(raw, dict) or not raw.get("mode") or raw.get("disabled"):
        return None
    mode = str(raw["mode"])
    if mode == "raw":
        language = (raw.get("options") or {}).get("raw", {}).get("language", "text")
        return Body(mode, raw=str(raw.get("raw") or ""), language=str(language))
    if mode in ("urlencoded", "formdata"):
        pairs = [p for p in raw.get(mode) or [] if isinstance(p, dict) and p.get("key") and not p.get("disabled")]
        return Body(mode, pairs=pairs)
    if mode == "file":
        src = (raw.get("file") or {}).get("src")
        return Body(mode, file_src=str(src) if src else None)
    if mode == "graphql":
        return Body(mode, graphql=dict(raw.get("graphql") or {}))
    return Body(mode)
