"""The shapes Newman's runtime accepts, brought to the one v2.1 shape the importer reads.

Newman reads a collection through the `postman-collection` SDK, which is lenient where the schema is strict:
`PropertyList.populate` takes a single object where a list is expected (an `event`, an `item`, a variable),
`Request` takes a URL string, `Script` takes `exec` as text or lines and an event's `script` as text,
`Property` takes its name and id from the root when `info` is missing, a description may be text or
`{content, type}`, a header list may be a `Name: value` text (or an object of names to values: `Header.create`),
and auth attributes may be a `{key, value}` list or a plain object. `normalise` makes those the v2.1 forms
without judging anything else: the checks in `check.py` still name what no Postman tool can run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Lists of PropertyList types: a single object stands for a list of one.
_LISTS = ("item", "event", "variable")
_URL_LISTS = ("query", "variable")
_BODY_LISTS = ("urlencoded", "formdata")


def normalise(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a v2.0/v2.1 collection (or a shape Newman accepts) in the v2.1 shape."""
    root = dict(data)
    info = root.get("info")
    if not isinstance(info, dict):
        # The SDK reads name, id and schema from the root when there is no `info`.
        root["info"] = {k: root[k] for k in ("name", "_postman_id", "id", "schema", "description") if k in root}
    return _node(root)


def _node(node: dict[str, Any]) -> dict[str, Any]:
    node = dict(node)
    for key in _LISTS:
        if isinstance(node.get(key), dict):
            node[key] = [node[key]]
    if isinstance(node.get("event"), list):
        node["event"] = [_event(e) for e in node["event"]]
    if isinstance(node.get("item"), list):
        node["item"] = [_node(i) if isinstance(i, dict) else i for i in node["item"]]
    if isinstance(node.get("request"), dict):
        node["request"] = _request(node["request"])
    return node


def _event(event: Any) -> Any:
    if not isinstance(event, dict):
        return event
    event = dict(event)
    script = event.get("script")
    if isinstance(script, str | list):
        event["script"] = {"exec": script}
    return event


def _request(request: dict[str, Any]) -> dict[str, Any]:
    request = dict(request)
    header = request.get("header")
    if isinstance(header, dict) and "key" not in header:
        request["header"] = [{"key": k, "value": v} for k, v in header.items()]
    elif isinstance(header, dict):
        request["header"] = [header]
    for part, lists in (("url", _URL_LISTS), ("body", _BODY_LISTS)):
        value = request.get(part)
        if isinstance(value, dict):
            # A single entry where a list belongs (`"query": {...}`), as the SDK accepts it.
            request[part] = {k: [v] if k in lists and isinstance(v, dict) else v for k, v in value.items()}
    return request
