"""`pm.sendRequest` in a pre-request script, as the step that runs before the request and the values it saves.

A pre-request script that fetches a token (`pm.sendRequest({url, method, header, body}, (err, res) =>
pm.environment.set("token", res.json().access_token))`) becomes a preceding step of the case: its request
(URL, method, headers, a raw or url-encoded body) and its `save:` (a JSON path of `res.json()`, a header of
`res.headers.get`, or the whole `res.text()`). The script is read through tree-sitter's JavaScript syntax tree,
the parser the test scripts go through; whatever else the script does is returned as not converted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

import tree_sitter_javascript
from tree_sitter import Language, Node, Parser

_PARSER: Final = Parser(Language(tree_sitter_javascript.language()))
_GET: Final = re.compile(r"^pm\.(?:environment|variables|collectionVariables|globals|iterationData)\.get$")
_SET: Final = re.compile(r"^pm\.(?:environment|variables|collectionVariables|globals)\.set$")


class _Unsupported(Exception):
    """A part of the script with no declarative form."""


@dataclass
class SentRequest:
    """One `pm.sendRequest` of a pre-request script: the call (`{{name}}` as in Postman) and what its callback saves."""

    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    save: dict[str, dict[str, str]] = field(default_factory=dict)
    left: list[str] = field(default_factory=list)  # parts of its callback that were not converted


def send_requests(lines: list[str]) -> tuple[list[SentRequest], list[str]]:
    """The script's `pm.sendRequest` calls, and its other statements (not converted) as text."""
    code = "\n".join(lines)
    tree = _PARSER.parse(code.encode("utf-8"))
    sent: list[SentRequest] = []
    others: list[str] = []
    for statement in tree.root_node.named_children:
        call = _send_call(statement)
        if call is None:
            if statement.type != "comment":
                others.append(_text(statement))
            continue
        try:
            sent.append(_sent(call))
        except _Unsupported:
            others.append(_text(statement))
    return sent, others


def _send_call(statement: Node) -> Node | None:
    node = (
        statement.named_children[0] if statement.type == "expression_statement" and statement.named_children else None
    )
    if node is not None and node.type == "call_expression":
        function = node.child_by_field_name("function")
        if function is not None and _text(function) == "pm.sendRequest":
            return node
    return None


def _sent(call: Node) -> SentRequest:
    arguments = call.child_by_field_name("arguments")
    args = [a for a in arguments.named_children if a.type != "comment"] if arguments is not None else []
    if not args:
        raise _Unsupported
    first = args[0]
    if first.type == "object":
        spec = _object(first)
        url = spec.get("url")
        if not isinstance(url, str):
            raise _Unsupported
        sent = SentRequest(url=url, method=str(spec.get("method") or "GET").upper())
        sent.headers = _headers(spec.get("header"))
        sent.body = _body(spec.get("body"))
    else:
        sent = SentRequest(url=_value(first))
    if len(args) > 1 and args[1].type in ("function_expression", "arrow_function", "function"):
        _callback(args[1], sent)
    return sent


def _callback(function: Node, sent: SentRequest) -> None:
    parameters = function.child_by_field_name("parameters")
    names = [_text(p) for p in parameters.named_children] if parameters is not None else []
    if len(names) < 2:
        return
    response, aliases = names[1], {}
    body = function.child_by_field_name("body")
    for node in _walk(body) if body is not None else []:
        if node.type == "variable_declarator":
            name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
            if (
                name is not None
                and value is not None
                and _text(value) in (f"{response}.json()", f"JSON.parse({response}.text())")
            ):
                aliases[_text(name)] = "$"
        if node.type != "call_expression":
            continue
        function_node = node.child_by_field_name("function")
        if function_node is None or not _SET.match(_text(function_node)):
            continue
        arguments = node.child_by_field_name("arguments")
        args = arguments.named_children if arguments is not None else []
        if len(args) != 2 or args[0].type != "string":
            sent.left.append(_text(node))
            continue
        source = _source(_text(args[1]), response, aliases)
        if source is None:
            sent.left.append(_text(node))
        else:
            sent.save[_string(args[0])] = source


def _source(expression: str, response: str, aliases: dict[str, str]) -> dict[str, str] | None:
    expression = re.sub(r"\s+", "", expression)
    if m := re.fullmatch(re.escape(response) + r"\.headers\.get\((['\"])([^'\"]+)\1\)", expression):
        return {"header": m.group(2)}
    if expression == f"{response}.text()":
        return {"regex": r"(?s)^(.*)$"}
    for root, path in ((f"{response}.json()", "$"), *aliases.items()):
        if expression == root:
            return {"json": path}
        if expression.startswith(root) and re.fullmatch(
            r"(?:\.\w+|\[\d+\]|\[(['\"])[^'\"]+\1\])+", expression[len(root) :]
        ):
            return {"json": path + expression[len(root) :].replace('"', "'")}
    return None


def _headers(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        return {str(h["key"]): str(h.get("value", "")) for h in value if isinstance(h, dict) and "key" in h}
    if isinstance(value, str):  # "Name: value" lines
        return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in value.splitlines()) if k.strip()}
    return {}


def _body(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    mode = value.get("mode")
    if mode == "raw":
        raw = value.get("raw")
        if isinstance(raw, dict | list):
            return {"json": raw}
        return {"text": str(raw or "")}
    if mode == "urlencoded":
        pairs = value.get("urlencoded") or []
        if isinstance(pairs, dict):
            return {"form": {str(k): str(v) for k, v in pairs.items()}}
        return {"form": {str(p["key"]): str(p.get("value", "")) for p in pairs if isinstance(p, dict) and "key" in p}}
    raise _Unsupported


# ---------------------------------------------------------------------------------------------- JS values
def _value(node: Node) -> Any:
    """A JavaScript expression as a value in Postman's syntax: literals, objects, arrays, `pm.*.get("x")` → `{{x}}`."""
    kind = node.type
    if kind == "string":
        return _string(node)
    if kind == "template_string":
        text = _text(node)[1:-1]
        if "${" in text:
            raise _Unsupported
        return text
    if kind == "number":
        return json.loads(_text(node))
    if kind in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[kind]
    if kind == "object":
        return _object(node)
    if kind == "array":
        return [_value(c) for c in node.named_children if c.type != "comment"]
    if kind == "parenthesized_expression" and node.named_children:
        return _value(node.named_children[0])
    if kind == "binary_expression" and _text(node.child_by_field_name("operator") or node) == "+":
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None:
            raise _Unsupported
        return f"{_value(left)}{_value(right)}"
    if kind == "call_expression":
        function, arguments = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        args = arguments.named_children if arguments is not None else []
        name = _text(function) if function is not None else ""
        if _GET.match(name) and len(args) == 1 and args[0].type == "string":
            return "{{" + _string(args[0]) + "}}"
        if name == "pm.variables.replaceIn" and len(args) == 1:
            return _value(args[0])
        if name == "JSON.stringify" and len(args) == 1:
            return _value(args[0])
    raise _Unsupported


def _object(node: Node) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in node.named_children:
        if pair.type != "pair":
            if pair.type == "comment":
                continue
            raise _Unsupported
        key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
        if key is None or value is None:
            raise _Unsupported
        found[_string(key) if key.type == "string" else _text(key)] = _value(value)
    return found


def _string(node: Node) -> str:
    raw = _text(node)
    if raw[:1] in ("'", '"'):
        inner = raw[1:-1]
        candidate = raw if raw[0] == '"' else '"' + inner.replace("\\'", "'").replace('"', '\\"') + '"'
        try:
            return str(json.loads(candidate))  # JavaScript's common escapes are JSON's
        except json.JSONDecodeError:
            return inner
    return raw


def _walk(node: Node) -> list[Node]:
    found = [node]
    for child in node.named_children:
        found.extend(_walk(child))
    return found


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")
