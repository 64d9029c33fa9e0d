"""Chai chains and boolean conditions of Postman tests as (subject, spec) checks.

`chain` reads what follows `pm.expect(x)` or `pm.response`: language words (`to`, `be`, `have`…), flags (`not`,
`deep`, `nested`, `include`, `length`), and assertions (`eql(…)`, `above(…)`, `ok`, `status(…)`…), each
assertion giving one check. `condition` reads the boolean expression of a legacy `tests["…"] = …` or of
`pm.expect(a === b).to.be.true`. Semantics follow chai 4 and Postman's chai plugin as the Postman sandbox
runs them (e.g. `pm.response.to.be.ok` is status 200, `equal` on an object literal compares references).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from tree_sitter import Node

from iflowtest.postman.chai import (
    _STATUS_CLASSES,
    _STATUS_NAMES,
    LANGUAGE,
    Scope,
    Subject,
    Unsupported,
    equal,
    evaluate,
    flatten,
    literal,
    lodash_path,
    names,
    negated,
    regex_spec,
    short,
    text,
    unwrap,
)

Check = tuple[Subject, Any]
_COMPARISONS: Final = {
    "above": "above",
    "gt": "above",
    "greaterThan": "above",
    "below": "below",
    "lt": "below",
    "lessThan": "below",
    "least": "min",
    "gte": "min",
    "greaterThanOrEqual": "min",
    "most": "max",
    "lte": "max",
    "lessThanOrEqual": "max",
}
# not above n is "at most n" (and still a number, as chai demands): negations that keep the type check
_NEGATED_COMPARISON: Final = {"above": "max", "below": "min", "min": "below", "max": "above"}
_INCLUDE: Final = frozenset({"include", "includes", "contain", "contains"})
_EQUAL: Final = frozenset({"equal", "equals", "eq"})
_EQL: Final = frozenset({"eql", "eqls"})
_FLAGS: Final = frozenset({"deep", "nested", "own", "any", "all", "ordered"})
_JS_TYPES: Final = {"string", "number", "boolean", "object", "array", "null"}


def chain(subject: Subject, links: list[tuple[str, Any]], scope: Scope, node: Node) -> list[Check]:
    """The checks a chai chain makes on `subject`."""
    checks: list[Check] = []
    negate = deep = nested = including = anyflag = False
    position = 0
    asserted = False
    while position < len(links):
        kind, word = links[position]
        if kind != "prop":
            raise Unsupported(f"{short(node)} (a call or index where a chai word was expected)")
        args: list[Node] | None = None
        if position + 1 < len(links) and links[position + 1][0] == "call":
            args = links[position + 1][1]
            position += 1
        position += 1
        if word in LANGUAGE and args is None:
            continue
        if word == "not" and args is None:
            negate = True
            continue
        if word in _FLAGS and args is None:
            deep = deep or word == "deep"
            nested = nested or word == "nested"
            anyflag = (anyflag or word == "any") and word != "all"
            continue
        if word in _INCLUDE and args is None:
            including = True
            continue
        if word in ("length", "lengthOf") and args is None:
            if subject.kind not in ("json", "text", "header", "literal"):
                raise Unsupported(f"{short(node)} (.length of {subject.kind})")
            subject = replace(subject, length=True)
            continue
        if subject.kind == "response":
            new_subject, made = _response(word, args, negate, scope, node)
            if new_subject is not None:
                subject = new_subject
                if made is None:
                    continue
            checks.extend(made or [])
            asserted = True
            continue
        if word == "property" and args is not None:
            subject, made_property = _property(subject, args, negate, nested, scope, node)
            checks.extend(made_property)
            asserted = True
            continue
        if word == "jsonSchema" and args and subject == Subject("json") and not negate:
            schema = literal(args[0], scope)  # pm.expect(pm.response.json()).to.have.jsonSchema(schema)
            if not isinstance(schema, Mapping):
                raise Unsupported(f"{short(node)} (jsonSchema takes a schema object)")
            checks.append((Subject("schema"), dict(schema)))
            asserted = True
            continue
        if word in ("keys", "key") and args:
            checks.append((subject, _keys(args, negate, including, anyflag, scope, node)))
            asserted = True
            continue
        spec = _assertion(word, args, negate, deep, including, subject, scope, node)
        checks.append((subject, spec))
        asserted = True
    if not asserted:
        raise Unsupported(f"{short(node)} (the chain asserts nothing)")
    return checks


def _values(args: list[Node] | None, scope: Scope, count: int, word: str, node: Node) -> list[Any]:
    if args is None or len(args) < count:
        raise Unsupported(f"{short(node)} ({word} needs {count} argument(s))")
    return [literal(a, scope) for a in args[:count]]


def _number(value: Any, word: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str) and value.startswith("${"):
            return value  # type: ignore[return-value]  # a variable: the matcher reads it as a number at run time
        raise Unsupported(f"{word}({value!r}) needs a number")
    return value


def _assertion(
    word: str,
    args: list[Node] | None,
    negate: bool,
    deep: bool,
    including: bool,
    subject: Subject,
    scope: Scope,
    node: Node,
) -> Any:
    spec: Any
    if word in _EQUAL | _EQL:
        (value,) = _values(args, scope, 1, word, node)
        if word in _EQUAL and not deep and isinstance(value, list | Mapping):
            raise Unsupported(
                f"{short(node)} (chai's {word} compares a list or object by reference: it fails in Newman on any "
                "answer; use eql)"
            )
        spec = equal(value)
    elif word in _COMPARISONS:
        (value,) = _values(args, scope, 1, word, node)
        key = _COMPARISONS[word]
        if negate:
            return {_NEGATED_COMPARISON[key]: _number(value, word)}
        return {key: _number(value, word)}
    elif word == "within":
        low, high = _values(args, scope, 2, word, node)
        spec = {"min": _number(low, word), "max": _number(high, word)}
    elif word == "oneOf":
        (values,) = _values(args, scope, 1, word, node)
        if not isinstance(values, list) or not values:
            raise Unsupported(f"{short(node)} (oneOf takes a list)")
        spec = {"one_of": values}
    elif word in _INCLUDE or word == "string":
        (value,) = _values(args, scope, 1, word, node)
        if isinstance(value, Mapping):
            spec = {"fields": {k: equal(v) for k, v in value.items()}}
            if deep:  # deep.include: an object with these fields, or a list holding an object equal to it
                spec = {"any_of": [{"type": "object", **spec}, {"type": "array", "contains": dict(value)}]}
        else:
            spec = {"contains": value}
    elif word == "members":
        (values,) = _values(args, scope, 1, word, node)
        if not isinstance(values, list):
            raise Unsupported(f"{short(node)} (members takes a list)")
        spec = {"all_of": [{"contains": v} for v in values]} if including else {"any_order": values}
    elif word in ("lengthOf", "length"):
        (value,) = _values(args, scope, 1, word, node)
        spec = {"length": _number(value, word)}
    elif word in ("match", "matches"):
        if args is None or len(args) < 1 or unwrap(args[0]).type != "regex":
            raise Unsupported(f"{short(node)} (match takes a regular expression literal)")
        spec = regex_spec(unwrap(args[0]))
    elif word in ("a", "an"):
        (name,) = _values(args, scope, 1, word, node)
        if str(name).lower() not in _JS_TYPES:
            raise Unsupported(f"{short(node)} (type {name!r} never occurs in JSON)")
        spec = {"type": str(name).lower()}
    elif word in ("closeTo", "approximately"):
        value, delta = _values(args, scope, 2, word, node)
        spec = {"approx": _number(value, word), "tolerance": _number(delta, word)}
    elif args is None and word == "ok":
        return {"truthy": not negate}
    elif args is None and word in ("true", "false"):
        spec = {"exactly": word == "true"}
    elif args is None and word == "null":
        spec = {"exactly": None}
    elif args is None and word == "undefined":
        return {"present": True} if negate else {"absent": True}
    elif args is None and word == "exist":
        if negate:
            return {"any_of": [{"absent": True}, {"exactly": None}]}
        return {"present": True, "not": {"exactly": None}}
    elif args is None and word == "empty":
        return {"length": {"min": 1}} if negate else {"length": 0}
    else:
        raise Unsupported(f"{short(node)} (the chai assertion {word} is not converted)")
    return negated(spec) if negate else spec


def _keys(args: list[Node], negate: bool, including: bool, anyflag: bool, scope: Scope, node: Node) -> Any:
    """chai's keys: all (exactly these), include (at least these), any (at least one of these)."""
    values = [literal(a, scope) for a in args]
    if len(values) == 1 and isinstance(values[0], list):
        values = values[0]
    if not values or not all(isinstance(v, str) for v in values):
        raise Unsupported(f"{short(node)} (keys takes names)")
    present = [{"fields": {name: {"present": True}}} for name in values]
    if anyflag:
        spec: Any = present[0] if len(present) == 1 else {"any_of": present}
    else:
        spec = {"fields": {name: {"present": True} for name in values}, "type": "object"}
        if not including:
            spec["length"] = len(set(values))
    return negated(spec) if negate else spec


def _property(
    subject: Subject, args: list[Node], negate: bool, nested: bool, scope: Scope, node: Node
) -> tuple[Subject, list[Check]]:
    if subject.kind != "json" or subject.length or not args:
        raise Unsupported(f"{short(node)} (have.property on {subject.kind})")
    name = literal(args[0], scope)
    if not isinstance(name, str | int):
        raise Unsupported(f"{short(node)} (the property name)")
    parts = lodash_path(name) if nested and isinstance(name, str) else (name,)
    inner = replace(subject, path=(*subject.path, *parts))
    if len(args) >= 2:
        value = literal(args[1], scope)
        spec = equal(value)
        return inner, [(inner, negated(spec) if negate else spec)]
    return inner, [(inner, {"absent": True} if negate else {"present": True})]


def _response(
    word: str, args: list[Node] | None, negate: bool, scope: Scope, node: Node
) -> tuple[Subject | None, list[Check] | None]:
    """An assertion of Postman's chai plugin on `pm.response`: (new subject, None) or (None, checks)."""

    def status(spec: Any) -> list[Check]:
        return [(Subject("status"), negated(spec) if negate else spec)]

    if word == "responseTime":
        if args:
            raise Unsupported(f"{short(node)} (responseTime(n) compares exactly)")
        return Subject("time"), None
    if word in ("status", "statusCode") and args:
        value = literal(args[0], scope)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return None, status({"exactly": int(value)})
        if word == "status":
            spec = equal(value)
            return None, [(Subject("reason"), negated(spec) if negate else spec)]
        return None, status(equal(value))
    if args is None and word == "ok":
        return None, status({"exactly": 200})
    if args is None and word in _STATUS_CLASSES:
        low = _STATUS_CLASSES[word] * 100
        return None, status({"min": low, "max": low + 99})
    if args is None and word == "error":
        return None, status({"min": 400, "max": 599})
    if args is None and word in _STATUS_NAMES:
        return None, status({"exactly": _STATUS_NAMES[word]})
    if word == "statusCodeClass" and args:
        low = int(literal(args[0], scope)) * 100
        return None, status({"min": low, "max": low + 99})
    if word == "header" and args:
        name = str(literal(args[0], scope))
        if len(args) == 1:
            return None, [(Subject("header", name), {"absent": True} if negate else {"present": True})]
        spec = equal(literal(args[1], scope))
        if negate:  # chai asserts the header is there, then (negated) that its value differs
            return None, [(Subject("header", name), {"present": True, "not": spec})]
        return None, [(Subject("header", name), spec)]
    if (word == "withBody" and args is None) or (word == "body" and not args):
        spec = {"regex": "(?s).+"}
        return None, [(Subject("text"), negated(spec) if negate else spec)]
    if word == "body" and args:
        argument = unwrap(args[0])
        if argument.type == "regex":
            spec = regex_spec(argument)
            return None, [(Subject("text"), negated(spec) if negate else spec)]
        value = literal(argument, scope)
        if isinstance(value, Mapping):
            return None, [(Subject("json"), negated(equal(value)) if negate else equal(value))]
        spec = {"exactly": value}
        return None, [(Subject("text"), negated(spec) if negate else spec)]
    if word in ("json", "jsonBody") and not args:
        if negate:
            raise Unsupported(f"{short(node)} (a body that is not JSON)")
        return None, [(Subject("schema"), {})]
    if word == "jsonBody" and args and unwrap(args[0]).type == "object":
        spec = equal(literal(args[0], scope))  # the whole body deep-equals the object
        return None, [(Subject("json"), negated(spec) if negate else spec)]
    if word == "jsonBody" and args:
        path = literal(args[0], scope)
        if not isinstance(path, str):
            raise Unsupported(f"{short(node)} (jsonBody takes a path)")
        target = Subject("json", path=lodash_path(path))
        if len(args) == 1:
            return None, [(target, {"absent": True} if negate else {"present": True})]
        spec = equal(literal(args[1], scope))
        return None, [(target, {"present": True, "not": spec} if negate else spec)]
    if word == "jsonSchema" and args:
        schema = literal(args[0], scope)
        if not isinstance(schema, Mapping) or negate:
            raise Unsupported(f"{short(node)} (jsonSchema takes a schema object)")
        return None, [(Subject("schema"), dict(schema))]
    raise Unsupported(f"{short(node)} (pm.response.to.{'not.' if negate else ''}{word} is not converted)")


# --------------------------------------------------------------------------- boolean conditions
_FLIP: Final = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "===": "===", "==": "==", "!==": "!==", "!=": "!="}
_ORDER: Final = {"<": "below", ">": "above", "<=": "max", ">=": "min"}


def condition(node: Node, scope: Scope, negate: bool = False) -> list[Check]:
    """The checks a JavaScript condition makes (each must hold), as in `tests["x"] = responseCode.code === 200`."""
    node = unwrap(node)
    if node.type == "unary_expression" and text(node).startswith("!"):
        return condition(node.named_children[0], scope, not negate)
    if node.type == "binary_expression":
        operator_node = node.child_by_field_name("operator")
        operator = text(operator_node) if operator_node is not None else ""
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        assert left is not None and right is not None
        if operator == "&&" and not negate:
            return condition(left, scope) + condition(right, scope)
        if operator == "||" and negate:
            return condition(left, scope, True) + condition(right, scope, True)
        if operator in ("||", "&&"):  # either side on one value: `code === 201 || code === 202`
            sides = condition(left, scope, negate) + condition(right, scope, negate)
            if len(sides) == 2 and sides[0][0] == sides[1][0]:
                return [(sides[0][0], {"any_of": [sides[0][1], sides[1][1]]})]
            raise Unsupported(f"{short(node)} (either of two checks on different values)")
        if operator in _FLIP:
            return [_comparison(left, operator, right, scope, negate, node)]
        if operator == "in":
            target = evaluate(right, scope)
            name = literal(left, scope)
            if target.kind != "json" or not isinstance(name, str | int):
                raise Unsupported(f"{short(node)}")
            return [(replace(target, path=(*target.path, name)), {"absent": True} if negate else {"present": True})]
        raise Unsupported(f"{short(node)} (the operator {operator})")
    if node.type == "call_expression":
        made = _call_condition(node, scope, negate)
        if made is not None:
            return [made]
    subject = evaluate(node, scope)
    return [(subject, {"truthy": not negate})]


_LODASH_TYPES: Final = {
    "isArray": {"type": "array"},
    "isString": {"type": "string"},
    "isNumber": {"type": "number"},
    "isBoolean": {"type": "boolean"},
    "isNull": {"exactly": None},
    "isPlainObject": {"type": "object"},
    "isUndefined": {"absent": True},
    "isEmpty": {"length": 0},
}


def _call_condition(node: Node, scope: Scope, negate: bool) -> Check | None:
    root, links = flatten(node)
    if root.type == "regex" and [k for k, _ in links] == ["prop", "call"] and links[0][1] == "test":
        args = links[1][1]  # /pattern/.test(value)
        if len(args) == 1:
            spec: Any = regex_spec(root)
            return evaluate(args[0], scope), negated(spec) if negate else spec
    if text(root) == "_" and [k for k, _ in links] == ["prop", "call"] and links[0][1] in _LODASH_TYPES:
        args = links[1][1]  # _.isArray(value) and its kin
        if len(args) == 1:
            spec = _LODASH_TYPES[links[0][1]]
            return evaluate(args[0], scope), negated(spec) if negate else spec
    if text(root) == "tv4" and [k for k, _ in links] == ["prop", "call"] and links[0][1] == "validate":
        # tv4.validate(body, schema), the schema check of older collections
        args = links[1][1]
        if len(args) == 2 and not negate and evaluate(args[0], scope) == Subject("json"):
            schema = literal(args[1], scope)
            if isinstance(schema, Mapping):
                return Subject("schema"), dict(schema)
        raise Unsupported(f"{short(node)} (tv4.validate of the whole JSON body with a schema object)")
    if text(root) == "Array" and len(links) == 2 and links[0] == ("prop", "isArray"):
        return evaluate(links[1][1][0], scope), negated({"type": "array"}) if negate else {"type": "array"}
    if len(links) < 2 or links[-1][0] != "call" or links[-2][0] != "prop":
        return None
    method, args = links[-2][1], links[-1][1]
    if text(root) == "pm" and names(links) == ["response", "headers", "has", "()"] and len(args) == 1:
        header = Subject("header", str(literal(args[0], scope)))
        return header, {"absent": True} if negate else {"present": True}
    if method not in ("has", "includes", "hasOwnProperty", "startsWith", "endsWith") or len(args) != 1:
        return None
    owner = node.child_by_field_name("function")
    owner_node = owner.child_by_field_name("object") if owner is not None else None
    if owner_node is None:
        return None
    target = evaluate(owner_node, scope)
    value = literal(args[0], scope)
    if method == "hasOwnProperty":
        if target.kind != "json" or not isinstance(value, str):
            raise Unsupported(f"{short(node)}")
        inner = replace(target, path=(*target.path, value))
        return inner, {"absent": True} if negate else {"present": True}
    if method in ("startsWith", "endsWith"):
        escaped = re.escape(str(value))
        spec = {"regex": f"{escaped}.*" if method == "startsWith" else f".*{escaped}"}
    else:
        spec = {"contains": value}
    return target, negated(spec) if negate else spec


def _comparison(left: Node, operator: str, right: Node, scope: Scope, negate: bool, node: Node) -> Check:
    index_check = _index_of(left, operator, right, scope, negate) or _index_of(
        right, _FLIP[operator], left, scope, negate
    )
    if index_check is not None:
        return index_check
    typeof = _typeof(left, right, scope) or _typeof(right, left, scope)
    if typeof is not None and operator in ("===", "==", "!==", "!="):
        subject, name = typeof
        spec: Any = {"type": name}
        return subject, negated(spec) if negate != operator.startswith("!") else spec
    a, b = evaluate(left, scope), evaluate(right, scope)
    if a.kind == "literal" and b.kind != "literal":
        a, b, operator = b, a, _FLIP[operator]
    if a.kind == "literal" or b.kind != "literal":
        raise Unsupported(f"{short(node)} (compares two computed values)")
    value = b.key
    if operator in ("===", "!=="):
        spec = equal(value)
    elif operator in ("==", "!="):
        spec = value if not isinstance(value, list | Mapping) else {"equals": value}
    else:
        spec = {_ORDER[operator]: _number_or_variable(value, node)}
    if operator.startswith("!"):
        negate = not negate
    return a, negated(spec) if negate else spec


def _number_or_variable(value: Any, node: Node) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.startswith("${"):
        return value
    raise Unsupported(f"{short(node)} (compares with a value that is not a number)")


def _index_of(call: Node, operator: str, bound: Node, scope: Scope, negate: bool) -> Check | None:
    call = unwrap(call)
    if call.type != "call_expression":
        return None
    _, links = flatten(call)
    if len(links) < 2 or links[-2] != ("prop", "indexOf") or len(links[-1][1]) != 1:
        return None
    function = call.child_by_field_name("function")
    owner = function.child_by_field_name("object") if function is not None else None
    if owner is None:
        return None
    try:
        limit = literal(bound, scope)
    except Unsupported:
        return None
    found = {("!==", -1), ("!=", -1), (">", -1), (">=", 0)}
    missing = {("===", -1), ("==", -1), ("<", 0)}
    if (operator, limit) in found:
        holds = True
    elif (operator, limit) in missing:
        holds = False
    else:
        return None
    spec: Any = {"contains": literal(links[-1][1][0], scope)}
    return evaluate(owner, scope), spec if holds != negate else negated(spec)


def _typeof(side: Node, other: Node, scope: Scope) -> tuple[Subject, str] | None:
    side = unwrap(side)
    if side.type != "unary_expression" or not text(side).startswith("typeof"):
        return None
    name = literal(other, scope)
    if name not in ("string", "number", "boolean", "object"):
        raise Unsupported(f"typeof … === {name!r}")
    return evaluate(side.named_children[0], scope), str(name)
