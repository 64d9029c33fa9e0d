"""Postman v3 collections (Postman 12): a folder of YAML files read into the v2.1 shape the importer reads.

A v3 collection is a folder: each request a `*.request.yaml` (`$kind: http-request`, `url`, `method`,
`headers`, `queryParams`, `pathVariables`, `body: {type, content}`, `auth: {type, credentials}`,
`scripts: [{type, code}]`, `order`), each folder (and the collection itself) with an optional
`.resources/definition.yaml` (`name`, `variables`, `auth`, `scripts`, `order`). Environments are
`*.environment.yaml` files (`name`, `values: [{key, value, enabled, type}]`). Postman's own description
(postmanlabs/postman-plugin, skills/collection-schema-v3, and the "Postman Collections schemas" page) leaves
some forms open, so both plausible ones are read: key lists as a `{key, value}` list or as a map, script
types with or without the `http:` prefix, script code as text, lines or a file (`src`, or files under the
request's `<name>.resources/scripts/`), auth as one object or a multi-auth list (its first entry), `.yml`
as well as `.yaml`. The result runs through the same checks and conversion as a v2.1 export, so the suite
and its guarantees are the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from iflowtest.errors import PostmanError

V21_SCHEMA: Final = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
REQUEST_SUFFIXES: Final = (".request.yaml", ".request.yml")
DEFINITIONS: Final = ("definition.yaml", "definition.yml")
RAW_TYPES: Final = ("json", "text", "xml", "html", "javascript")
_EVENTS: Final = {"beforerequest": "prerequest", "afterresponse": "test"}
_FIX: Final = "fix the file (Postman's `postman workspace lint` names the problem) and import again"
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def is_v3_environment(path: Path) -> bool:
    """Whether an environment file is v3 YAML (by its name, as Postman's CLI decides)."""
    return path.name.lower().endswith((".yaml", ".yml"))


def load_v3_collection(path: Path) -> dict[str, Any]:
    """The v3 collection in folder `path` (or the one collection below `postman/collections/`) as v2.1 JSON data."""
    root = _collection_root(path)
    definition = _definition(root)
    collection: dict[str, Any] = {
        "info": {"name": str(definition.get("name") or root.name), "schema": V21_SCHEMA},
        "item": _children(root),
    }
    _scope(collection, definition, root)
    # v2.1 knows variables on the collection only: a folder's join them (the collection's own win).
    own = {entry.get("key") for entry in collection.get("variable", [])}
    for entry in _folder_variables(collection["item"]):
        if entry.get("key") not in own:
            collection.setdefault("variable", []).append(entry)
    return collection


def _folder_variables(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for node in items:
        if "item" in node:
            found += node.pop("variable", [])
            found += _folder_variables(node["item"])
    return found


def load_v3_environment(path: Path) -> dict[str, Any]:
    """A v3 environment file as a v2 environment (`{"name", "values": [{key, value, enabled, type}]}`)."""
    data = _yaml(path, "environment")
    if not isinstance(data, dict) or "values" not in data:
        raise PostmanError(
            f"{path} is YAML but not a Postman environment (expected 'name' and 'values'): export the environment "
            "from Postman again"
        )
    values = []
    for entry in _pairs(data["values"], path, "values"):
        entry = dict(entry)
        if entry.pop("secret", False) is True:
            entry["type"] = "secret"
        values.append(entry)
    return {"name": data.get("name"), "values": values}


# ---------------------------------------------------------------------------------------------- the folder tree
def _collection_root(path: Path) -> Path:
    container = path / "postman" / "collections"
    if not container.is_dir() and path.name == "collections" and path.parent.name == "postman":
        container = path
    if container.is_dir():
        found = sorted(p for p in container.iterdir() if p.is_dir() and not p.name.startswith("."))
        if len(found) != 1:
            names = ", ".join(p.name for p in found) or "none"
            raise PostmanError(
                f"{container} holds {len(found)} collections ({names}): pass the folder of the one to import"
            )
        return found[0]
    if not any(p.name.endswith(REQUEST_SUFFIXES) for p in path.rglob("*")) and not _definition_file(path):
        raise PostmanError(
            f"{path} is a folder without *.request.yaml files or .resources/definition.yaml: pass a Postman v3 "
            "collection folder (postman/collections/<name>) or an exported v2.1 collection file"
        )
    return path


def _definition_file(folder: Path) -> Path | None:
    return next((folder / ".resources" / n for n in DEFINITIONS if (folder / ".resources" / n).is_file()), None)


def _definition(folder: Path) -> dict[str, Any]:
    file = _definition_file(folder)
    if file is None:
        return {}
    data = _yaml(file, "collection definition")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PostmanError(f"{file} is not a mapping of name, variables, auth and scripts: {_FIX}")
    return data


def _children(folder: Path) -> list[dict[str, Any]]:
    """The folders and requests of `folder`, in Postman's order (`order`, then name)."""
    entries: list[tuple[float, str, dict[str, Any]]] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name.endswith(".resources"):
            continue  # metadata folders: definitions, examples, scripts
        if path.is_dir():
            definition = _definition(path)
            node: dict[str, Any] = {"name": str(definition.get("name") or path.name), "item": _children(path)}
            _scope(node, definition, path)
            entries.append((_order(definition), node["name"], node))
        elif path.name.endswith(REQUEST_SUFFIXES):
            data = _yaml(path, "request")
            if not isinstance(data, dict):
                raise PostmanError(f"{path} is not a mapping with $kind, method and url: {_FIX}")
            item = _request(data, path)
            entries.append((_order(data), item["name"], item))
    entries.sort(key=lambda e: (e[0], e[1].lower()))
    return [node for _, _, node in entries]


def _order(data: Mapping[str, Any]) -> float:
    value = data.get("order")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else float("inf")


def _scope(node: dict[str, Any], definition: Mapping[str, Any], folder: Path) -> None:
    """Auth, variables and scripts of a collection or folder definition, in v2.1 form."""
    where = _definition_file(folder) or folder
    if definition.get("auth") is not None:
        node["auth"] = _auth(definition["auth"], where)
    if definition.get("variables") is not None:
        node["variable"] = _pairs(definition["variables"], where, "variables")
    events = _events(definition.get("scripts"), where, [])
    if events:
        node["event"] = events


# ---------------------------------------------------------------------------------------------- one request
def _request(data: Mapping[str, Any], path: Path) -> dict[str, Any]:
    stem = path.name
    for suffix in REQUEST_SUFFIXES:
        stem = stem.removesuffix(suffix)
    name = str(data.get("name") or stem)
    kind = str(data.get("$kind") or "http-request")
    url_text = str(data.get("url") or "")
    if kind != "http-request":
        # Reported as not supported by the importer, like any method YAML suites do not send.
        return {"name": name, "request": {"method": kind.upper(), "url": url_text}}
    url: dict[str, Any] = {"raw": url_text}
    if data.get("queryParams") is not None:
        url["raw"] = url_text.split("?", 1)[0]  # queryParams and the URL's query say the same; the list is exact
        url["query"] = _pairs(data["queryParams"], path, "queryParams")
    if data.get("pathVariables") is not None:
        url["variable"] = _pairs(data["pathVariables"], path, "pathVariables")
    request: dict[str, Any] = {"method": str(data.get("method") or "GET").upper(), "url": url}
    if data.get("headers") is not None:
        request["header"] = _pairs(data["headers"], path, "headers")
    if data.get("body") is not None:
        body = _body(data["body"], path)
        if body is not None:
            request["body"] = body
    if data.get("auth") is not None:
        request["auth"] = _auth(data["auth"], path)
    item: dict[str, Any] = {"name": name, "request": request}
    scripts_folders = [
        path.parent / f"{stem}.resources" / "scripts",
        path.parent / ".resources" / f"{stem}.resources" / "scripts",
    ]
    events = _events(data.get("scripts"), path, scripts_folders)
    if events:
        item["event"] = events
    return item


def _body(body: Any, path: Path) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        raise PostmanError(f"{path}: 'body' is not a mapping with 'type' and 'content': {_FIX}")
    kind = str(body.get("type") or "none").lower()
    content = body.get("content")
    if kind == "none":
        return None
    if kind in RAW_TYPES:
        return {"mode": "raw", "raw": "" if content is None else str(content), "options": {"raw": {"language": kind}}}
    if kind in ("urlencoded", "formdata"):
        return {"mode": kind, kind: _pairs(content or [], path, f"body.content ({kind})")}
    if kind == "file":
        src = content.get("src") if isinstance(content, dict) else content
        return {"mode": "file", "file": {"src": src}}
    raise PostmanError(
        f"{path}: body type {kind!r} is not one of json, text, xml, html, javascript, urlencoded, formdata, file, none: {_FIX}"
    )


def _auth(auth: Any, where: Path) -> dict[str, Any]:
    if isinstance(auth, list):  # multi-auth: the first one applies where no rule picks another
        auth = next((a for a in auth if isinstance(a, dict)), {})
    if not isinstance(auth, dict):
        raise PostmanError(f"{where}: 'auth' is not a mapping with 'type' and 'credentials': {_FIX}")
    kind = str(auth.get("type") or "")
    if kind in ("", "inherit"):
        return {}  # no auth of its own: the parent's applies
    if kind == "noauth":
        return {"type": "noauth"}
    credentials = auth.get("credentials", auth.get(kind, []))
    return {"type": kind, kind: _pairs(credentials or [], where, "auth.credentials")}


def _events(scripts: Any, where: Path, folders: list[Path]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for entry in scripts if isinstance(scripts, list) else [scripts] if isinstance(scripts, dict) else []:
        if not isinstance(entry, dict):
            raise PostmanError(f"{where}: a script is not a mapping with 'type' and 'code': {_FIX}")
        listen = _EVENTS.get(str(entry.get("type") or "").split(":")[-1].lower())
        if listen is None:
            continue  # graphql:, grpc: and other protocols' scripts never run for an HTTP request
        code = entry.get("code", entry.get("exec"))
        source = entry.get("src") or entry.get("file") or entry.get("path")
        if code is None and isinstance(source, str):
            code = _read_text(where.parent / source, where)
        lines = code if isinstance(code, list) else str(code or "").splitlines()
        events.append({"listen": listen, "script": {"exec": [str(line) for line in lines]}})
    for folder in folders:  # scripts kept as files beside the request
        for file in sorted(folder.glob("*")) if folder.is_dir() else []:
            lowered = file.name.lower()
            listen = next((v for k, v in _EVENTS.items() if k in lowered.replace("-", "").replace("_", "")), None)
            if listen is not None and file.is_file():
                events.append({"listen": listen, "script": {"exec": _read_text(file, where).splitlines()}})
    return events


# ---------------------------------------------------------------------------------------------- small readers
def _pairs(value: Any, where: Path, what: str) -> list[dict[str, Any]]:
    """`[{key, value, ...}]` from that list or from a `{key: value}` map (both are v3 forms)."""
    if isinstance(value, dict):
        return [{"key": str(k), "value": "" if v is None else v} for k, v in value.items()]
    if not isinstance(value, list):
        raise PostmanError(
            f"{where}: '{what}' is neither a list of {{key, value}} nor a map of names to values: {_FIX}"
        )
    pairs = []
    for entry in value:
        if not isinstance(entry, dict):
            raise PostmanError(f"{where}: an entry of '{what}' is not a {{key, value}} mapping: {_FIX}")
        pairs.append(dict(entry))
    return pairs


def _yaml(path: Path, what: str) -> Any:
    text = _read_text(path, path)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506  # a safe loader (CSafeLoader or SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise PostmanError(f"the {what} {path} is not valid YAML ({line.strip() or 'unreadable'}): {_FIX}") from None
    except RecursionError:
        raise PostmanError(f"the {what} {path} nests too deep to read: {_FIX}") from None


def _read_text(path: Path, where: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise PostmanError(f"cannot read {path} (named by {where}): {reason}: {_FIX}") from None
