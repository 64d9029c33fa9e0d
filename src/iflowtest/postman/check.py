"""Postman files checked before anything is written, and the suite written all at once: bad input writes nothing.

The collection's shapes follow Postman's collection schema (v2.0/v2.1): `item` a list of objects, each a
folder (`item`) or a request (`request`, an object or a URL string), `url` a string or an object whose parts
have the schema's types, headers a list of objects (or Postman's "Name: value" string), auth an object of a
known type whose attributes are a key/value list or an object, events a list of objects whose `script.exec`
is text or a list of lines. The jsonschema package could check the shapes, but Postman's schema files are
not bundled and its messages name JSON pointers, not the item a user sees in Postman's sidebar: this walk
names the item and says how to fix it. Valid shapes the importer cannot convert (a method, an auth type, a
script) are not errors: the conversion report lists them.

`write_all` writes every file to a temporary name first and renames them only when all were written, so
a failing write (a full disk, a read-only folder) leaves neither new files nor new folders behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iflowtest.errors import ConfigError, PostmanError
from iflowtest.tables import load_table

AUTH_TYPES = (
    "apikey",
    "awsv4",
    "basic",
    "bearer",
    "digest",
    "edgegrid",
    "hawk",
    "noauth",
    "oauth1",
    "oauth2",
    "ntlm",
    "jwt",
    "asap",
    "akamai",
    "inherit",
)
BODY_MODES = ("raw", "urlencoded", "formdata", "file", "graphql")
MAX_DEPTH = 50  # folders within folders; Postman's app shows no more, Python's recursion limit allows ~300
_FIX = "fix it in Postman (or in the file) and export it again with Export → Collection v2.1"
_SCALARS = (str, int, float)


class _Broken(Exception):
    """One shape that breaks the format: where (an item's path or "the collection") and what."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")


def check_collection(data: Mapping[str, Any], path: Path) -> None:
    """Raise PostmanError naming the first item whose shape breaks the collection format."""
    try:
        _check_node(data, ())
    except _Broken as exc:
        raise PostmanError(f"{path} is not a valid Postman collection: {exc}; {_FIX}") from None


def check_environment(data: Mapping[str, Any], path: Path) -> None:
    """Raise PostmanError when an environment's values are not a list of {key, value} objects."""
    for index, entry in enumerate(data.get("values") or []):
        problem = _variable_problem(entry)
        if problem:
            raise PostmanError(
                f"{path} is not a valid Postman environment: value {index + 1} {problem}; "
                "fix it in Postman (or in the file) and export the environment again"
            )


def check_data(path: Path) -> bytes:
    """The data file's bytes; PostmanError unless it is text the suites' table loader reads into rows."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PostmanError(
            f"cannot read the data file {path}: {exc.strerror or exc}; pass an existing .csv or .json"
        ) from None
    try:
        load_table(path.resolve())  # its messages say what is wrong (not UTF-8, ragged rows, ...) and the fix
    except ConfigError as exc:
        raise PostmanError(f"the data file {str(exc).removeprefix('data table ')}") from None
    if b"\x00" in raw:  # the table loader reads NUL bytes as text
        raise PostmanError(f"the data file {path} holds binary data (a NUL byte): pass the .csv or .json text file")
    return raw


def check_out(out: Path) -> None:
    """Raise PostmanError when --out cannot become the suite's folder (a file is there, or no write access)."""
    if out.exists() and not out.is_dir():
        raise PostmanError(f"--out {out} is a file, not a folder: pass a folder for the suite (created if missing)")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise PostmanError(f"--out {out} cannot be created: {existing} is a file; pass a folder path for the suite")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PostmanError(f"--out {out} is not writable ({existing} denies write access): pass a folder you can write")


def write_all(files: Mapping[Path, str | bytes], out: Path) -> None:
    """Write every file (text as UTF-8), or none of them: PostmanError names the file that could not be written."""
    made: list[Path] = []  # folders this call created, outermost first
    temps: list[tuple[Path, Path]] = []
    try:
        for path, content in files.items():
            missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
            for folder in reversed(missing):
                folder.mkdir()
                made.append(folder)
            if path.is_dir():  # found now, not when renaming: then the other files would be in place already
                raise IsADirectoryError(errno.EISDIR, "a folder is in the way", str(path))
            temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            temps.append((temp, path))
            temp.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    except OSError as exc:
        for temp, _ in temps:
            with contextlib.suppress(OSError):  # the temp file that failed may not exist, or its folder not
                temp.unlink()
        for folder in reversed(made):
            folder.rmdir()
        where = exc.filename or out
        raise PostmanError(
            f"cannot write the suite into {out}: {where}: {exc.strerror or exc}; nothing was written: "
            "free space, move what is in the way or pass another --out folder"
        ) from None
    for temp, path in temps:
        temp.replace(path)


def _check_node(node: Mapping[str, Any], labels: tuple[str, ...]) -> None:
    where = f"item {' / '.join(labels)!r}" if labels else "the collection"
    if len(labels) > MAX_DEPTH:
        raise _Broken(where, f"folders are nested more than {MAX_DEPTH} deep")
    _check_auth(node.get("auth"), where)
    _check_events(node.get("event"), where)
    if "variable" in node:
        _check_variables(node["variable"], where)
    items = node["item"]
    if not isinstance(items, list):
        raise _Broken(where, f"'item' is {_kind(items)}, expected a list of items and folders")
    for index, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        named = isinstance(name, _SCALARS) and name != ""
        inner_labels = (*labels, str(name) if named else f"item {index + 1}")
        inner = f"item {' / '.join(inner_labels)!r}"
        if not isinstance(item, dict):
            raise _Broken(inner, f"the item is {_kind(item)}, expected an object (a request or a folder)")
        if name is not None and not isinstance(name, _SCALARS):
            raise _Broken(inner, f"'name' is {_kind(name)}, expected text")
        if "item" in item:
            _check_node(item, inner_labels)
        elif "request" in item:
            _check_events(item.get("event"), inner)
            _check_request(item["request"], inner)
        else:
            raise _Broken(inner, "the item has neither 'request' (a request) nor 'item' (a folder)")


def _check_request(request: Any, where: str) -> None:
    if isinstance(request, str):
        return
    if not isinstance(request, dict):
        raise _Broken(where, f"'request' is {_kind(request)}, expected an object or a URL string")
    if request.get("method") is not None and not isinstance(request["method"], str):
        raise _Broken(where, f"'method' is {_kind(request['method'])}, expected text such as GET")
    _check_url(request.get("url"), where)
    header = request.get("header")
    if header is not None and not isinstance(header, str):
        if not isinstance(header, list):
            raise _Broken(where, f"'header' is {_kind(header)}, expected a list of {{key, value}} objects")
        for index, entry in enumerate(header):
            problem = _variable_problem(entry)
            if problem:
                raise _Broken(where, f"header {index + 1} {problem}")
    _check_auth(request.get("auth"), where)
    _check_body(request.get("body"), where)


def _check_url(url: Any, where: str) -> None:
    if url is None or isinstance(url, str):
        return
    if not isinstance(url, dict):
        raise _Broken(where, f"'url' is {_kind(url)}, expected a URL string or an object with 'raw'")
    if url.get("raw") is not None and not isinstance(url["raw"], str):
        raise _Broken(where, f"'url.raw' is {_kind(url['raw'])}, expected the URL as text")
    for part in ("host", "path"):
        value = url.get(part)
        if value is None or isinstance(value, str):
            continue
        if not isinstance(value, list):
            raise _Broken(where, f"'url.{part}' is {_kind(value)}, expected text or a list of segments")
        for segment in value:
            ok = isinstance(segment, _SCALARS) or (
                part == "path" and isinstance(segment, dict) and isinstance(segment.get("value", ""), _SCALARS)
            )
            if not ok:
                raise _Broken(where, f"a segment of 'url.{part}' is {_kind(segment)}, expected text")
    for part in ("query", "variable"):
        value = url.get(part)
        if value is None:
            continue
        if not isinstance(value, list):
            raise _Broken(where, f"'url.{part}' is {_kind(value)}, expected a list of {{key, value}} objects")
        for index, entry in enumerate(value):
            problem = _variable_problem(entry, key_required=False)
            if problem:
                raise _Broken(where, f"'url.{part}' entry {index + 1} {problem}")


def _check_auth(auth: Any, where: str) -> None:
    if auth is None:
        return
    if not isinstance(auth, dict):
        raise _Broken(where, f"'auth' is {_kind(auth)}, expected an object with 'type'")
    kind = auth.get("type")
    if kind is not None and not isinstance(kind, str):
        raise _Broken(where, f"auth type is {_kind(kind)}, expected text such as 'basic'")
    # Postman's SDK ignores an auth type it does not know (the item then inherits): the importer reports it.
    attributes = auth.get(kind) if kind else None
    if attributes is None or isinstance(attributes, dict):
        return
    if not isinstance(attributes, list):
        raise _Broken(where, f"'auth.{kind}' is {_kind(attributes)}, expected a list of {{key, value}} objects")
    for index, entry in enumerate(attributes):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise _Broken(where, f"'auth.{kind}' entry {index + 1} is not a {{key, value}} object with a text key")


def _check_events(events: Any, where: str) -> None:
    if events is None:
        return
    if not isinstance(events, list):
        raise _Broken(where, f"'event' is {_kind(events)}, expected a list of {{listen, script}} objects")
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise _Broken(where, f"event {index + 1} is {_kind(event)}, expected a {{listen, script}} object")
        script = event.get("script")
        if script is None:
            continue
        if not isinstance(script, dict):
            raise _Broken(where, f"the script of event {index + 1} is {_kind(script)}, expected an object with 'exec'")
        lines = script.get("exec")
        if lines is None or isinstance(lines, str):
            continue
        if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
            raise _Broken(where, f"'exec' of event {index + 1} is not text or a list of lines")


def _check_variables(entries: Any, where: str) -> None:
    if not isinstance(entries, list):
        raise _Broken(where, f"'variable' is {_kind(entries)}, expected a list of {{key, value}} objects")
    for index, entry in enumerate(entries):
        problem = _variable_problem(entry, key_required=False)
        if problem:
            raise _Broken(where, f"variable {index + 1} {problem}")


def _check_body(body: Any, where: str) -> None:
    if body is None:
        return
    if not isinstance(body, dict):
        raise _Broken(where, f"'body' is {_kind(body)}, expected an object with 'mode'")
    mode = body.get("mode")
    if mode is None or mode == "":
        return
    if mode not in BODY_MODES:
        raise _Broken(where, f"body mode {mode!r} is not one of Postman's ({', '.join(BODY_MODES)})")
    value = body.get(mode)
    if value is None:
        return
    expected = {"raw": str, "urlencoded": list, "formdata": list, "file": dict, "graphql": dict}[mode]
    if not isinstance(value, expected):
        raise _Broken(where, f"'body.{mode}' is {_kind(value)}, expected {_kind_name(expected)}")
    if isinstance(value, list):
        for index, entry in enumerate(value):
            problem = _variable_problem(entry)
            if problem:
                raise _Broken(where, f"'body.{mode}' field {index + 1} {problem}")
    options = body.get("options")
    if options is not None and (not isinstance(options, dict) or not isinstance(options.get("raw", {}), dict)):
        raise _Broken(where, '\'body.options\' is not an object like {"raw": {"language": "json"}}')


def _variable_problem(entry: Any, *, key_required: bool = True) -> str | None:
    """Why a {key, value} entry (header, variable, form field) is broken, or None."""
    if not isinstance(entry, dict):
        return f"is {_kind(entry)}, expected a {{key, value}} object"
    key = entry.get("key")
    if key is None and not key_required:
        return None
    if not isinstance(key, _SCALARS):
        return f"has the key {_kind(key)}, expected text"
    return None


def _kind(value: Any) -> str:
    """A JSON value's type as a user reads it: "a list", "a number", "text", "null"…"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    return {dict: "an object", list: "a list", str: "text", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _kind_name(expected: type) -> str:
    names: dict[type, str] = {str: "text", list: "a list of {key, value} objects", dict: "an object"}
    return names[expected]
