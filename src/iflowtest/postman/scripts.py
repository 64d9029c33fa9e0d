"""Postman test scripts turned into `expect:` and `save:` of a YAML case, through a JavaScript syntax tree.

The script is parsed with tree-sitter's JavaScript grammar (a maintained parser with wheels for every
platform and ES2023 syntax such as `?.`; esprima-python stopped at ES2017 in 2018). Every Postman assertion (each
`pm.test(...)`, each legacy `tests[...] = ...`, an assertion outside a test) is converted as a whole or not at
all: its checks join the case's expectations, or it is listed, with the reason, as not converted. A case keeps
the list (`unconverted:`) and fails until the user converts or removes each entry, so no imported case is
green on fewer checks than Newman ran. Statements that are not assertions (variables, saved values, logging)
are followed as far as they feed checks; `pm.*Variables.set` from the response becomes `save:`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import tree_sitter_javascript
from tree_sitter import Language, Node, Parser

from iflowtest.postman.chai import (
    Scope,
    Subject,
    Unsupported,
    evaluate,
    flatten,
    json_path,
    literal,
    names,
    short,
    text,
    unwrap,
    xml_path,
)
from iflowtest.postman.chains import Check, chain, condition

_SETTERS: Final = frozenset({"environment", "collectionVariables", "globals", "variables"})
_LEGACY_SETTERS: Final = frozenset({"setEnvironmentVariable", "setGlobalVariable"})
_FUNCTIONS: Final = frozenset({"function_expression", "function", "arrow_function"})
# Names the Postman sandbox declares itself (probed with Newman 6.2): a script that declares one of them with
# `const` or `let` at its top level stops with "Identifier '…' has already been declared" before any test runs.
SANDBOX_NAMES: Final = frozenset(
    [
        "data",
        "environment",
        "globals",
        "tests",
        "responseBody",
        "responseCode",
        "responseTime",
        "responseHeaders",
        "responseCookies",
        "request",
        "iteration",
        "postman",
        "pm",
        "console",
        "xml2Json",
        "_",
        "cheerio",
        "tv4",
        "CryptoJS",
        "atob",
        "btoa",
        "setTimeout",
        "Buffer",
        "JSON",
    ]
)


@dataclass
class Assertion:
    """One Postman assertion (a `pm.test`, a `tests[...]` entry) and whether it became expectations."""

    label: str
    converted: bool = True
    why: str = ""


@dataclass
class ScriptResult:
    """What a test script became: expectations, saved values, its assertions, and what was left with the reason."""

    expect: dict[str, Any] = field(default_factory=dict)
    save: dict[str, Any] = field(default_factory=dict)
    assertions: list[Assertion] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)  # (what was not converted, why)

    @property
    def unconverted(self) -> list[str]:
        """Each assertion not converted, with the reason: the case's `unconverted:` list."""
        return [f"{a.label}: {a.why}" for a in self.assertions if not a.converted]

    @property
    def converted(self) -> int:
        """How many assertions became expectations."""
        return sum(a.converted for a in self.assertions)


@functools.cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_javascript.language()))


def convert(lines: list[str]) -> ScriptResult:
    """Convert a test script (its lines as Postman stores them)."""
    source = "\n".join(lines)
    result = ScriptResult()
    if not source.strip():
        return result
    tree = _parser().parse(source.encode("utf-8"))
    stopped = _stops_in_newman(tree.root_node)
    if stopped:
        # Newman runs none of it: every assertion stays unconverted (and fails), as the item fails in Newman.
        labels = list(_assertions_within(tree.root_node)) or ["the test script"]
        result.assertions = [Assertion(label, False, stopped) for label in labels]
        result.kept = [(label, stopped) for label in labels]
        return result
    walker = _Walker(result)
    walker.block(tree.root_node.named_children, {}, None)
    walker.finish()
    return result


def _stops_in_newman(root: Node) -> str:
    """Why Newman would not run the script at all (a syntax error, a sandbox name declared again), or ""."""
    if root.has_error:
        broken = next((n for n in _descendants(root) if n.is_error or n.is_missing), root)
        line = broken.start_point[0] + 1
        return f"the script does not parse (near line {line}): Newman stops it with a SyntaxError before any test runs"
    for node in root.named_children:
        if node.type == "lexical_declaration":
            for declarator in node.named_children:
                name = declarator.child_by_field_name("name")
                if name is not None and text(name) in SANDBOX_NAMES:
                    return (
                        f"the script declares `{text(name)}` with {text(node).split()[0]}, a name the Postman sandbox "
                        f"already defines: Newman stops it (Identifier '{text(name)}' has already been declared) "
                        "before any test runs; rename the variable in Postman and import again"
                    )
    return ""


class _Walker:
    """Walks the statements of a script, test bodies included, collecting checks per assertion."""

    def __init__(self, result: ScriptResult) -> None:
        self.result = result
        self.tests: list[tuple[Assertion, list[Check]]] = []
        self.loose = 0  # assertions outside pm.test, numbered for their label

    # ------------------------------------------------------------------ statements
    def block(self, nodes: list[Node], scope: dict[str, Subject | None], checks: list[Check] | None) -> None:
        for node in nodes:
            self.statement(node, scope, checks)

    def statement(self, node: Node, scope: dict[str, Subject | None], checks: list[Check] | None) -> None:
        kind = node.type
        if kind in ("comment", "empty_statement", "hash_bang_line"):
            return
        if kind == "expression_statement" and node.named_child_count:
            self.expression(node.named_children[0], scope, checks, node)
        elif kind in ("lexical_declaration", "variable_declaration"):
            for declarator in node.named_children:
                if declarator.type == "variable_declarator":
                    self.declare(declarator, scope)
        elif kind == "statement_block":
            self.block(node.named_children, scope, checks)
        elif kind == "try_statement" and (body := node.child_by_field_name("body")) is not None:
            # the usual `try { data = pm.response.json() } catch (e) {}`: the catch only hides a parse error,
            # which the checks on `data` then meet as missing values, as in Newman
            self.block(body.named_children, scope, checks)
        elif kind == "for_in_statement" and " of " in f" {text(node)} ":
            self.for_of(node, scope, checks)
        elif kind == "return_statement" and checks is not None and not node.named_child_count:
            return
        else:
            self.unknown(node, checks, f"`{short(node, 60)}` is not converted ({kind.replace('_', ' ')})")

    def declare(self, declarator: Node, scope: dict[str, Subject | None]) -> None:
        name_node, value = declarator.child_by_field_name("name"), declarator.child_by_field_name("value")
        if name_node is None:
            return
        if name_node.type == "identifier":
            scope[text(name_node)] = self.value_of(value, scope) if value is not None else None
        elif name_node.type == "object_pattern" and value is not None:
            source = self.value_of(value, scope)
            for part in name_node.named_children:
                if part.type == "shorthand_property_identifier_pattern":
                    key = text(part)
                    ok = source is not None and source.kind == "json" and not source.length
                    scope[key] = Subject("json", path=(*source.path, key), every=source.every) if ok else None  # type: ignore[union-attr]

    @staticmethod
    def value_of(node: Node, scope: Scope) -> Subject | None:
        if unwrap(node).type in _FUNCTIONS:
            return None
        try:
            return evaluate(node, scope)
        except Unsupported:
            return None

    def expression(
        self, node: Node, scope: dict[str, Subject | None], checks: list[Check] | None, statement: Node
    ) -> None:
        node = unwrap(node)
        if node.type == "assignment_expression":
            self.assignment(node, scope, checks)
            return
        if node.type == "sequence_expression":
            for part in node.named_children:
                self.expression(part, scope, checks, statement)
            return
        if node.type not in ("call_expression", "member_expression"):
            self.unknown(statement, checks, f"`{short(node, 60)}` is not converted")
            return
        root, links = flatten(node)
        words, root_name = names(links), text(root)
        if root_name == "pm" and words[:2] == ["test", "()"]:
            self.pm_test(node, links[1][1], scope, checks)
        elif root_name == "pm" and words[:3] == ["test", "skip", "()"]:
            return  # Newman skips it too: no assertion runs
        elif root_name == "pm" and (words[:2] == ["expect", "()"] or words[:2] == ["response", "to"]):
            self.assertion_chain(node, scope, checks)
        elif root_name == "console":
            return
        elif (root_name == "pm" and len(words) == 3 and words[0] in _SETTERS and words[1:] == ["set", "()"]) or (
            root_name == "postman" and len(words) == 2 and words[0] in _LEGACY_SETTERS
        ):
            self.save(node, links[-1][1], scope, checks)
        elif len(links) >= 2 and links[-2] == ("prop", "forEach") and links[-1][0] == "call":
            self.for_each(node, scope, checks)
        else:
            self.unknown(statement, checks, f"`{short(node, 60)}` is not converted")

    def assignment(self, node: Node, scope: dict[str, Subject | None], checks: list[Check] | None) -> None:
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        assert left is not None and right is not None
        if left.type == "identifier" and text(left) != "tests":
            scope[text(left)] = self.value_of(right, scope)
            return
        root, links = flatten(left)
        if text(root) == "tests" and len(links) == 1 and checks is not None:
            checks.extend(condition(right, scope))  # inside a pm.test: part of that test's checks
            return
        if text(root) == "tests" and len(links) == 1:
            kind, key = links[0]
            try:
                name = str(literal(key, scope)) if kind == "index" else str(key)
            except Unsupported:
                name = short(key)
            assertion = Assertion(f"tests[{name!r}]")
            self.result.assertions.append(assertion)
            try:
                made = condition(right, scope)
            except Unsupported as exc:
                self.fail(assertion, str(exc))
                return
            self.tests.append((assertion, made))
            return
        self.unknown(node, checks, f"`{short(node, 60)}` is not converted")

    # ------------------------------------------------------------------ assertions
    def pm_test(
        self, node: Node, args: list[Node], scope: dict[str, Subject | None], checks: list[Check] | None
    ) -> None:
        if checks is not None:
            raise Unsupported(f"`{short(node, 60)}` (a pm.test inside a test)")
        name = _test_name(args[0], scope) if args else "(no name)"
        assertion = Assertion(f"pm.test {name!r}")
        self.result.assertions.append(assertion)
        if len(args) < 2:
            return  # a test without a function: Newman counts it and it passes
        function = unwrap(args[1])
        made: list[Check] = []
        try:
            if function.type not in _FUNCTIONS:
                raise Unsupported(f"the test function {short(function, 40)} is defined elsewhere")
            body = function.child_by_field_name("body")
            local = dict(scope)
            if body is None:
                pass
            elif body.type == "statement_block":
                self.block(body.named_children, local, made)
            else:
                self.expression(body, local, made, body)
        except Unsupported as exc:
            self.fail(assertion, str(exc))
            return
        self.tests.append((assertion, made))

    def assertion_chain(self, node: Node, scope: Scope, checks: list[Check] | None) -> None:
        made = _chain_checks(node, scope) if checks is not None else None
        if checks is not None:
            assert made is not None
            checks.extend(made)
            return
        # An assertion outside pm.test: Newman reports a script error when it fails; it counts as one here.
        self.loose += 1
        assertion = Assertion(f"assertion outside pm.test #{self.loose} `{short(node, 50)}`")
        self.result.assertions.append(assertion)
        try:
            self.tests.append((assertion, _chain_checks(node, scope)))
        except Unsupported as exc:
            self.fail(assertion, str(exc))

    def for_each(self, node: Node, scope: dict[str, Subject | None], checks: list[Check] | None) -> None:
        function_node = node.child_by_field_name("function")
        owner = function_node.child_by_field_name("object") if function_node is not None else None
        arguments = node.child_by_field_name("arguments")
        function = unwrap(arguments.named_children[0]) if arguments and arguments.named_child_count else None
        if owner is None or function is None or function.type not in _FUNCTIONS:
            self.unknown(node, checks, f"`{short(node, 60)}` (forEach with a function defined elsewhere)")
            return
        parameters = function.child_by_field_name("parameters") or function.child_by_field_name("parameter")
        parameter = (
            parameters if parameters is not None and parameters.type == "identifier" else _first_identifier(parameters)
        )
        body = function.child_by_field_name("body")
        self.over_items(owner, parameter, body, scope, checks, node)

    def for_of(self, node: Node, scope: dict[str, Subject | None], checks: list[Check] | None) -> None:
        left, right, body = (node.child_by_field_name(n) for n in ("left", "right", "body"))
        self.over_items(
            right, left if left is not None and left.type == "identifier" else None, body, scope, checks, node
        )

    def over_items(
        self,
        owner: Node | None,
        parameter: Node | None,
        body: Node | None,
        scope: dict[str, Subject | None],
        checks: list[Check] | None,
        node: Node,
    ) -> None:
        """A loop over a JSON list: its checks hold for every item (none for an empty list, as in Newman)."""
        try:
            if owner is None or parameter is None or body is None:
                raise Unsupported(f"`{short(node, 60)}` (the loop's list or item is not understood)")
            source = evaluate(owner, scope)
            if source.kind != "json" or source.length or source.every is not None:
                raise Unsupported(f"`{short(node, 60)}` (a loop over {source.kind}, not over a JSON list)")
        except Unsupported as exc:
            self.unknown(node, checks, str(exc))
            return
        local = dict(scope)
        local[text(parameter)] = Subject("json", every=source.path)
        if body.type == "statement_block":
            self.block(body.named_children, local, checks)
        else:
            self.expression(body, local, checks, body)

    # ------------------------------------------------------------------ saved values and the rest
    def save(self, node: Node, args: list[Node], scope: Scope, checks: list[Check] | None) -> None:
        try:
            if len(args) != 2:
                raise Unsupported("a set takes a name and a value")
            name = literal(args[0], scope)
            source = evaluate(args[1], scope)
            if source.length or source.every is not None:
                raise Unsupported("the value is computed from the response")
            if source.kind == "json":
                spec: dict[str, str] = {"json": json_path(source.path)}
            elif source.kind == "xml":
                spec = {"xpath": xml_path(source.path)}
            elif source.kind == "header":
                spec = {"header": str(source.key)}
            elif source.kind == "text":
                spec = {"regex": "(?s)(.*)"}
            else:
                raise Unsupported(f"the value is a {source.kind}, not taken from the response body or headers")
            self.result.save[str(name)] = spec
        except Unsupported as exc:
            self.result.kept.append((f"`{short(node, 80)}`", f"value not saved: {exc}"))

    def unknown(self, node: Node, checks: list[Check] | None, why: str) -> None:
        if checks is not None:
            raise Unsupported(why)
        inner = list(_assertions_within(node))
        for label in inner:
            assertion = Assertion(label)
            self.result.assertions.append(assertion)
            self.fail(assertion, f"inside `{short(node, 50)}`, which is not converted")
        if not inner:
            self.result.kept.append((f"`{short(node, 80)}`", "script statement not converted (it asserts nothing)"))

    def fail(self, assertion: Assertion, why: str) -> None:
        assertion.converted, assertion.why = False, why
        self.result.kept.append((assertion.label, why))

    def finish(self) -> None:
        expect = _Expect()
        for assertion, checks in self.tests:
            try:
                for subject, spec in checks:
                    expect.add(subject, spec)
            except Unsupported as exc:
                self.fail(assertion, str(exc))
        self.result.expect = expect.as_yaml()


def _chain_checks(node: Node, scope: Scope) -> list[Check]:
    _, links = flatten(node)
    if names(links)[:2] == ["expect", "()"]:
        args = links[1][1]
        if not args:
            raise Unsupported("pm.expect() without a value")
        subject_node = unwrap(args[0])
        rest = links[2:]
        if _is_condition(subject_node):
            return _condition_chain(subject_node, rest, scope, node)
        return chain(evaluate(subject_node, scope), rest, scope, node)
    return chain(Subject("response"), links[1:], scope, node)


def _is_condition(node: Node) -> bool:
    if node.type == "call_expression":
        function = node.child_by_field_name("function")
        if function is None:
            return False
        name = text(function)
        return name in ("tv4.validate", "pm.response.headers.has") or name.endswith(".test") or name.startswith("_.is")
    if node.type == "binary_expression":
        operator = node.child_by_field_name("operator")
        return operator is not None and text(operator) in (
            "===",
            "==",
            "!==",
            "!=",
            "<",
            ">",
            "<=",
            ">=",
            "&&",
            "||",
            "in",
        )
    return node.type == "unary_expression" and text(node).startswith("!")


def _condition_chain(subject: Node, links: list[tuple[str, Any]], scope: Scope, node: Node) -> list[Check]:
    """`pm.expect(a === b).to.be.true` (or `.ok`, `.eql(true)`, `.not.…`, `.false`): the condition itself."""
    words = [w for w in names(links) if w not in ("to", "be", "is", "been", "equal", "eql", "()")]
    negate = "not" in words
    words = [w for w in words if w != "not"]
    call = links[-1][1] if links and links[-1][0] == "call" else None
    if call is not None and len(call) == 1:
        value = literal(call[0], scope)
        if value is True or value is False:
            words = ["true" if value else "false"]
    if words not in (["true"], ["ok"], ["false"]):
        raise Unsupported(f"`{short(node, 60)}` (only .to.be.true/.ok/.false on a condition)")
    return condition(subject, scope, negate != (words == ["false"]))


def _test_name(node: Node, scope: Scope) -> str:
    try:
        return str(literal(node, scope))
    except Unsupported:
        return short(node, 60)


def _first_identifier(node: Node | None) -> Node | None:
    if node is None:
        return None
    for child in node.named_children:
        if child.type == "identifier":
            return child
    return None


def _assertions_within(node: Node) -> Iterator[str]:
    """The labels of the assertions inside a statement that is not converted (an `if`, a function…)."""
    for child in _descendants(node):
        if child.type == "call_expression":
            root, links = flatten(child)
            words = names(links)
            if text(root) == "pm" and words[:2] == ["test", "()"]:
                args = links[1][1]
                yield f"pm.test {_test_name(args[0], {}) if args else '(no name)'!r}"
        elif child.type == "assignment_expression":
            left = child.child_by_field_name("left")
            if left is not None and left.type in ("subscript_expression", "member_expression"):
                root, links = flatten(left)
                if text(root) == "tests" and len(links) == 1:
                    yield f"tests[{short(left, 60)}]"


def _descendants(node: Node) -> Iterator[Node]:
    for child in node.named_children:
        yield child
        yield from _descendants(child)


# --------------------------------------------------------------------------- checks into an expect: block
class _Expect:
    """The checks of all converted assertions as one `expect:` mapping (every check must hold)."""

    def __init__(self) -> None:
        self.status: set[int] | None = None
        self.status_variable: Any = None
        self.max_ms: float | None = None
        self.single: dict[str, Any] = {}  # reason, text, json_schema
        self.headers: dict[str, Any] = {}
        self.json: dict[str, Any] = {}
        self.xpath: dict[str, Any] = {}

    def add(self, subject: Subject, spec: Any) -> None:
        if subject.length:
            spec = {"length": spec}
        if subject.every is not None:
            item = spec
            for part in reversed(subject.path):
                if isinstance(part, int):
                    raise Unsupported("an index inside the item of a loop")
                item = {"fields": {part: item}}
            self.json[json_path(subject.every)] = merge(
                self.json.get(json_path(subject.every)), {"every": item, "empty_ok": True}
            )
            return
        kind = subject.kind
        if kind == "json":
            if len(subject.path) >= 2 and not subject.optional and _tolerates_absence(spec):
                # `d.a.b` throws a TypeError in JavaScript when `d.a` is missing or null, so a check that a missing
                # value would meet (not, absent, falsy) also needs the parent there, as the test did in Newman.
                parent = json_path(subject.path[:-1])
                self.json[parent] = merge(self.json.get(parent), {"present": True, "not": {"exactly": None}})
            self.json[json_path(subject.path)] = merge(self.json.get(json_path(subject.path)), spec)
        elif kind == "xml":
            if subject.length:
                raise Unsupported("the length of a value of xml2Json (one element is not a list there)")
            if len(subject.path) >= 2 and not subject.optional and _tolerates_absence(spec):
                parent = xml_path(subject.path[:-1])
                self.xpath[parent] = merge(self.xpath.get(parent), {"present": True})
            self.xpath[xml_path(subject.path)] = merge(self.xpath.get(xml_path(subject.path)), spec)
        elif kind == "header":
            self.headers[str(subject.key)] = merge(self.headers.get(str(subject.key)), spec)
        elif kind in ("text", "reason"):
            self.single[kind] = merge(self.single.get(kind), spec)
        elif kind == "schema":
            existing = self.single.get("json_schema")
            self.single["json_schema"] = spec if not existing else {"allOf": [existing, spec]} if spec else existing
        elif kind == "status":
            self._status(spec)
        elif kind == "time":
            self._time(spec)
        else:
            raise Unsupported(f"a check on a {kind}, which the request does not answer")

    def _status(self, spec: Any) -> None:
        if (isinstance(spec, str) and spec.startswith("${")) or (
            isinstance(spec, Mapping) and list(spec) == ["exactly"] and str(spec["exactly"]).startswith("${")
        ):
            self.status_variable = spec if isinstance(spec, str) else spec["exactly"]
            return
        allowed = {code for code in range(100, 600) if _holds(spec, code)}
        combined = allowed if self.status is None else self.status & allowed
        if not combined:
            raise Unsupported("its status check contradicts another test's: Newman fails the item on any answer")
        self.status = combined

    def _time(self, spec: Any) -> None:
        if isinstance(spec, Mapping) and len(spec) == 1 and ("below" in spec or "max" in spec):
            # below(N) is "< N" and max_ms is "<= N": they differ only for a call of exactly N ms, which Postman's
            # whole milliseconds can hit and iflowtest's fractional timing practically cannot.
            limit = spec.get("below", spec.get("max"))
            if isinstance(limit, int | float) and limit > 0:
                self.max_ms = limit if self.max_ms is None else min(self.max_ms, limit)
                return
        raise Unsupported("only an upper bound on the response time (below, lessThan, most) is converted")

    def as_yaml(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.status_variable is not None:
            out["status"] = self.status_variable
        elif self.status is not None:
            out["status"] = _status_yaml(self.status)
        if "reason" in self.single:
            out["reason"] = self.single["reason"]
        if self.max_ms is not None:
            out["max_ms"] = self.max_ms
        if self.headers:
            out["headers"] = self.headers
        if self.json:
            out["json"] = self.json
        if self.xpath:
            out["xpath"] = self.xpath
        if "text" in self.single:
            out["text"] = self.single["text"]
        if "json_schema" in self.single:
            out["json_schema"] = self.single["json_schema"]
        return out


def _tolerates_absence(spec: Any) -> bool:
    """Whether a spec can hold on a value that is not there (so a missing parent would go unnoticed)."""
    if not isinstance(spec, Mapping):
        return False
    if spec.get("absent") is True or spec.get("truthy") is False or "not" in spec:
        return True
    return any(_tolerates_absence(inner) for inner in spec.get("any_of", []))


def merge(existing: Any, spec: Any) -> Any:
    """Two specs on one value, both to hold: one mapping when their keywords differ, else `all_of`."""
    if existing is None or existing == spec:
        return spec
    disjoint = isinstance(existing, Mapping) and isinstance(spec, Mapping) and not set(existing) & set(spec)
    if disjoint and "empty_ok" not in existing and "empty_ok" not in spec:
        return {**existing, **spec}
    parts = list(existing["all_of"]) if isinstance(existing, Mapping) and list(existing) == ["all_of"] else [existing]
    return {"all_of": [*parts, spec]}


def _holds(spec: Any, code: int) -> bool:
    """Whether a status code meets a spec the converter made (a small evaluator: the matchers live in checks/)."""
    if not isinstance(spec, Mapping):
        if isinstance(spec, str) and spec.isdigit():
            return int(spec) == code
        return isinstance(spec, int) and not isinstance(spec, bool) and spec == code
    results = []
    for key, value in spec.items():
        if isinstance(value, str) and "${" in value:
            raise Unsupported("a status compared with a variable")
        if key == "exactly":
            results.append(isinstance(value, int | float) and not isinstance(value, bool) and value == code)
        elif key == "not":
            results.append(not _holds(value, code))
        elif key == "one_of" or key == "any_of":
            results.append(any(_holds(v, code) for v in value))
        elif key == "all_of":
            results.append(all(_holds(v, code) for v in value))
        elif key in ("above", "below", "min", "max"):
            results.append(
                {"above": code > value, "below": code < value, "min": code >= value, "max": code <= value}[key]
            )
        elif key == "truthy":
            results.append(bool(value))
        elif key in ("type", "present"):
            results.append(value in ("number", True))
        elif key == "absent":
            results.append(False)
        else:
            raise Unsupported(f"the status check {key}")
    return all(results)


def _status_yaml(codes: set[int]) -> Any:
    runs: list[tuple[int, int]] = []
    for code in sorted(codes):
        if runs and runs[-1][1] == code - 1:
            runs[-1] = (runs[-1][0], code)
        else:
            runs.append((code, code))
    items: list[Any] = []
    for low, high in runs:
        if low == high:
            items.append(low)
        elif low % 100 == 0 and high == low + 99:
            items.append(f"{low // 100}xx")
        else:
            items.append(f"{low}-{high}")
    return items[0] if len(items) == 1 else items
