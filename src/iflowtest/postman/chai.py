"""JavaScript expressions of Postman test scripts read as checks: what is tested (the subject) and how (a spec).

A subject is a part of the response (`pm.response.code`, a JSON path through `pm.response.json()` or a variable
holding it, a header, the text, the time) or a literal value; a spec is a matcher of the YAML format
(`iflowtest.checks.matchers`). `chain` reads a chai chain (`pm.expect(x).to.not.be.oneOf([..])`,
`pm.response.to.have.status(200)`) and `condition` a boolean expression (legacy `tests["x"] = ...`). Anything
else raises `Unsupported` with the reason, so the caller can name the assertion that was not converted.

The syntax tree comes from tree-sitter's JavaScript grammar; these functions only walk it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from tree_sitter import Node

PathPart = str | int
# chai's words that only make a chain read as English
LANGUAGE: Final = frozenset(
    [
        "to",
        "be",
        "been",
        "is",
        "that",
        "which",
        "and",
        "has",
        "have",
        "with",
        "at",
        "of",
        "same",
        "but",
        "does",
        "still",
        "also",
        "an",
        "a",
    ]
)
_VARIABLE_SCOPES: Final = frozenset({"environment", "variables", "collectionVariables", "globals", "iterationData"})
_LEGACY_SCOPES: Final = frozenset({"environment", "globals", "data"})
_STATUS_CLASSES: Final = {"info": 1, "success": 2, "redirection": 3, "clientError": 4, "serverError": 5}
_STATUS_NAMES: Final = {
    "accepted": 202,
    "withoutContent": 204,
    "badRequest": 400,
    "unauthorised": 401,
    "unauthorized": 401,
    "forbidden": 403,
    "notFound": 404,
    "notAcceptable": 406,
    "rateLimited": 429,
}
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_JSONPATH_WORDS: Final = frozenset({"where", "wherenot"})  # words jsonpath-ng reads as operators after a dot


class Unsupported(Exception):
    """Raised when an expression or chain has no YAML form; the message says which part and why."""


@dataclass(frozen=True)
class Subject:
    """What a check looks at.

    kind: response, status, reason, time, text, header (`key` is the name), json (`path`), literal (`key` is the
    value; a `${NAME}` text for a Postman variable). `every` is the JSON path of the list a `forEach` walks: then
    `path` is relative to each item. `length` checks the length of the value instead of the value.
    """

    kind: str
    key: Any = None
    path: tuple[PathPart, ...] = ()
    every: tuple[PathPart, ...] | None = None
    length: bool = False
    optional: bool = False  # reached through `?.`: a missing parent gives undefined, not a TypeError


Scope = Mapping[str, Subject | None]  # a variable name → what it holds (None: something not understood)


def text(node: Node) -> str:
    """The source text of a node."""
    return (node.text or b"").decode("utf-8", "replace")


def short(node: Node, limit: int = 100) -> str:
    """A node's source on one line, shortened, for reports."""
    one = " ".join(text(node).split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def unwrap(node: Node) -> Node:
    """The expression inside parentheses."""
    while node.type == "parenthesized_expression" and node.named_child_count:
        node = node.named_children[0]
    return node


def flatten(node: Node) -> tuple[Node, list[tuple[str, Any]]]:
    """`a.b(c)[d]` as its root `a` and links [("prop", "b"), ("call", [c]), ("index", d)]."""
    links: list[tuple[str, Any]] = []
    node = unwrap(node)
    while True:
        if node.type == "member_expression":
            prop = node.child_by_field_name("property")
            links.append(("prop", text(prop) if prop is not None else ""))
            node = node.child_by_field_name("object") or node
        elif node.type == "subscript_expression":
            links.append(("index", node.child_by_field_name("index")))
            node = node.child_by_field_name("object") or node
        elif node.type == "call_expression":
            arguments = node.child_by_field_name("arguments")
            args = [a for a in (arguments.named_children if arguments else []) if a.type != "comment"]
            links.append(("call", args))
            node = node.child_by_field_name("function") or node
        else:
            break
        node = unwrap(node)
    links.reverse()
    return node, links


def names(links: list[tuple[str, Any]]) -> list[str]:
    """The links as words, a call as "()" and an index as "[]"."""
    return [v if k == "prop" else "()" if k == "call" else "[]" for k, v in links]


# --------------------------------------------------------------------------- literals
def literal(node: Node, scope: Scope) -> Any:
    """A JavaScript literal (or a variable holding one, or a Postman variable read) as Python; else Unsupported."""
    node = unwrap(node)
    kind = node.type
    if kind == "number":
        raw = text(node).replace("_", "")
        try:
            value = float(int(raw, 0)) if raw.lower().startswith(("0x", "0o", "0b")) else float(raw)
        except ValueError:
            raise Unsupported(f"the number {raw}") from None
        return int(value) if value.is_integer() and "." not in raw and "e" not in raw.lower() else value
    if kind == "string":
        return "".join(_string_part(c) for c in node.named_children)
    if kind == "template_string":
        if any(c.type == "template_substitution" for c in node.named_children):
            raise Unsupported(f"the template {short(node)} (it computes its text)")
        return "".join(_string_part(c) for c in node.named_children)
    if kind in ("true", "false"):
        return kind == "true"
    if kind == "null":
        return None
    if kind == "unary_expression" and text(node).startswith("-"):
        value = literal(node.named_children[0], scope)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value
    if kind == "array":
        return [literal(c, scope) for c in node.named_children if c.type != "comment"]
    if kind == "object":
        result: dict[str, Any] = {}
        for pair in node.named_children:
            if pair.type == "comment":
                continue
            if pair.type != "pair":
                raise Unsupported(f"the object {short(node)} (only plain key: value pairs)")
            key_node, value_node = pair.child_by_field_name("key"), pair.child_by_field_name("value")
            assert key_node is not None and value_node is not None
            key = literal(key_node, scope) if key_node.type in ("string", "number") else text(key_node)
            result[str(key)] = literal(value_node, scope)
        return result
    subject = evaluate(node, scope)
    if subject.kind == "literal":
        return subject.key
    raise Unsupported(f"{short(node)} is not a value known before the request")


def _string_part(node: Node) -> str:
    if node.type == "escape_sequence":
        try:
            decoded: str = json.loads(f'"{text(node)}"')
        except ValueError:
            return text(node)[1:]
        return decoded
    return text(node)


def variable_read(root: Node, links: list[tuple[str, Any]], scope: Scope) -> str | None:
    """The variable name of `pm.environment.get("x")`, `environment.x`, `postman.getEnvironmentVariable("x")`…"""
    words = names(links)
    root_name = text(root)
    if root_name == "pm" and len(words) == 3 and words[0] in _VARIABLE_SCOPES and words[1:] == ["get", "()"]:
        return _name_argument(links[2][1], scope)
    if (
        root_name == "postman"
        and len(words) == 2
        and words[1] == "()"
        and words[0]
        in (
            "getEnvironmentVariable",
            "getGlobalVariable",
        )
    ):
        return _name_argument(links[1][1], scope)
    if root_name in _LEGACY_SCOPES and root_name not in scope and len(links) == 1:
        kind, value = links[0]
        if kind == "prop":
            return str(value)
        if kind == "index":
            return str(literal(value, scope))
    return None


def _name_argument(args: list[Node], scope: Scope) -> str:
    if len(args) != 1:
        raise Unsupported("a variable read takes one name")
    name = literal(args[0], scope)
    if not isinstance(name, str):
        raise Unsupported(f"the variable name {short(args[0])}")
    return name


# --------------------------------------------------------------------------- subjects
def evaluate(node: Node, scope: Scope) -> Subject:
    """What an expression refers to: a part of the response or a literal value."""
    subject = _evaluate(unwrap(node), scope)
    if subject.kind in ("json", "xml") and "?." in text(node):
        return replace(subject, optional=True)
    return subject


def _evaluate(node: Node, scope: Scope) -> Subject:
    if node.type in ("number", "string", "template_string", "true", "false", "null", "array", "object"):
        return Subject("literal", literal(node, scope))
    if node.type == "unary_expression" and text(node).startswith("-"):
        return Subject("literal", literal(node, scope))
    if node.type == "undefined" or (node.type == "identifier" and text(node) == "undefined"):
        return Subject("literal", _UNDEFINED)
    root, links = flatten(node)
    if root.type not in ("identifier", "this"):
        raise Unsupported(f"{short(node)} (only pm.*, legacy globals and variables are understood)")
    name = text(root)
    if (variable := variable_read(root, links, scope)) is not None:
        return Subject("literal", "${" + variable + "}")
    if name in scope:
        bound = scope[name]
        if bound is None:
            raise Unsupported(f"the variable {name} holds something not understood")
        return follow(bound, links, node)
    words = names(links)
    if name == "pm" and words[:1] == ["response"]:
        return _pm_response(links[1:], node)
    if name == "JSON" and words[:2] == ["parse", "()"] and len(links[1][1]) == 1:
        inner = evaluate(links[1][1][0], scope)
        if inner.kind == "text" and not inner.length:
            return follow(Subject("json"), links[2:], node)
        raise Unsupported(f"JSON.parse of {short(links[1][1][0])} (only of the response body)")
    if name == "xml2Json" and words[:1] == ["()"] and len(links[0][1]) == 1:
        inner = evaluate(links[0][1][0], scope)
        if inner.kind == "text" and not inner.length:
            return follow(Subject("xml"), links[1:], node)
        raise Unsupported(f"xml2Json of {short(links[0][1][0])} (only of the response body)")
    if name == "responseCode" and words[:1] in (["code"], ["name"]):
        return follow(Subject("status" if words[0] == "code" else "reason"), links[1:], node)
    if name == "responseBody":
        return follow(Subject("text"), links, node)
    if name == "responseTime":
        return follow(Subject("time"), links, node)
    if name == "responseHeaders" and links and links[0][0] in ("prop", "index"):
        header = links[0][1] if links[0][0] == "prop" else literal(links[0][1], scope)
        return follow(Subject("header", str(header)), links[1:], node)
    if name == "postman" and words[:2] == ["getResponseHeader", "()"] and len(links[1][1]) == 1:
        return follow(Subject("header", str(literal(links[1][1][0], scope))), links[2:], node)
    raise Unsupported(f"{short(node)} (not a part of the response this converter knows)")


class _Undefined:
    def __repr__(self) -> str:
        return "undefined"


_UNDEFINED: Final = _Undefined()


def _pm_response(links: list[tuple[str, Any]], node: Node) -> Subject:
    words = names(links)
    if not words:
        return Subject("response")
    first = words[0]
    if first == "code":
        return follow(Subject("status"), links[1:], node)
    if first == "status":
        return follow(Subject("reason"), links[1:], node)
    if first == "responseTime":
        return follow(Subject("time"), links[1:], node)
    if words[:2] == ["reason", "()"]:
        return follow(Subject("reason"), links[2:], node)
    if words[:2] == ["text", "()"]:
        return follow(Subject("text"), links[2:], node)
    if words[:2] == ["json", "()"]:
        return follow(Subject("json"), links[2:], node)
    if words[:3] == ["headers", "get", "()"] and len(links[2][1]) == 1:
        return follow(Subject("header", str(literal(links[2][1][0], {}))), links[3:], node)
    raise Unsupported(f"{short(node)} (pm.response.{first} is not converted)")


def follow(subject: Subject, links: list[tuple[str, Any]], node: Node) -> Subject:
    """`subject` followed by `.name`, `[index]` and `.length`."""
    for position, (kind, value) in enumerate(links):
        if subject.length:
            raise Unsupported(f"{short(node)} (nothing may follow .length)")
        if kind == "prop" and value == "length" and subject.kind in ("json", "text", "header"):
            subject = replace(subject, length=True)
        elif kind == "prop" and subject.kind in ("json", "xml"):
            subject = replace(subject, path=(*subject.path, str(value)))
        elif kind == "index" and subject.kind in ("json", "xml"):
            key = literal(value, {})
            if isinstance(key, bool) or not isinstance(key, str | int):
                raise Unsupported(f"the index {short(value)}")
            if isinstance(key, int) and key < 0:
                raise Unsupported(f"the negative index {key} (undefined in JavaScript)")
            subject = replace(subject, path=(*subject.path, key))
        elif subject.kind == "literal" and kind == "prop" and isinstance(subject.key, Mapping):
            subject = Subject("literal", subject.key.get(str(value), _UNDEFINED))
        else:
            shown = "".join(f".{v}" if k == "prop" else "(…)" if k == "call" else "[…]" for k, v in links[position:])
            raise Unsupported(f"{short(node)} ({shown} on {subject.kind} is not converted)")
    return subject


def json_path(path: tuple[PathPart, ...]) -> str:
    """A path of names and indexes as a JSONPath: ("d", "results", 0, "Id") → $.d.results[0].Id."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part) and part not in _JSONPATH_WORDS:
            out += f".{part}"
        else:
            out += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


def xml_path(path: tuple[PathPart, ...]) -> str:
    """A path through Postman's `xml2Json` object (xml2js: no arrays for single elements, `$` attributes, `_`
    text) as an XPath: ("feed", "entry", 0, "$", "id") → /*[name()='feed']/*[name()='entry'][1]/@*[name()='id'].

    `name()` matches the qualified name as xml2js keys it (`m:properties`), default namespace or not.
    """
    out, attribute = "", False
    for part in path:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        elif part == "$" and not attribute:
            attribute = True
        elif part == "_":
            out += "/text()"
        else:
            quoted = part.replace("'", "&apos;")
            out += f"/@*[name()='{quoted}']" if attribute else f"/*[name()='{quoted}']"
            attribute = False
    return out or "/*"


def lodash_path(path: str) -> tuple[PathPart, ...]:
    """A lodash path (`a.b[0].c`, as `jsonBody` takes it) as names and indexes."""
    parts: list[PathPart] = []
    for match in re.finditer(r"([^.\[\]]+)|\[(\d+)\]|\[[\"']([^\"']*)[\"']\]", path):
        name, index, quoted = match.groups()
        parts.append(int(index) if index is not None else quoted if quoted is not None else name)
    return tuple(parts)


# --------------------------------------------------------------------------- specs
def equal(value: Any) -> Any:
    """The spec "equals `value`" as JavaScript's ===/deep-equal sees it: typed, except for Postman variables.

    A variable's type is not known before the run (environment values are text, data rows may be typed), so
    `${NAME}` compares as `equals` does; a text that cannot be mistaken for a number stays a plain value.
    """
    if value is _UNDEFINED:
        return {"absent": True}
    if isinstance(value, str) and ("${" in value or not _looks_typed(value)):
        return value
    return {"exactly": value}


def _looks_typed(value: str) -> bool:
    if value in ("true", "false", "null"):
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True


def negated(spec: Any) -> Any:
    """The spec that holds where `spec` does not."""
    if isinstance(spec, Mapping) and len(spec) == 1 and "not" in spec:
        return spec["not"]
    return {"not": spec}


def regex_spec(node: Node) -> dict[str, str]:
    """A JavaScript regex literal as the `regex` matcher, with JavaScript's search (not whole-text) semantics."""
    pattern_node = node.child_by_field_name("pattern")
    flags_node = node.child_by_field_name("flags")
    pattern = text(pattern_node) if pattern_node is not None else ""
    flags = text(flags_node) if flags_node is not None else ""
    pattern = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", pattern)
    inline = "".join(f for f in "im" if f in flags) + ("s" if "s" in flags else "")
    full = (f"(?{inline})" if inline else "") + f".*?(?:{pattern}).*"
    try:
        re.compile(full, re.S)
    except re.error as exc:
        raise Unsupported(f"the regular expression /{pattern}/ ({exc})") from None
    return {"regex": full}
