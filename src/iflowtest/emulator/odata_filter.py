"""The ``$filter`` and key-predicate language of the OData V2 engine: parsing, type checks, evaluation.

It also holds ``ODataError`` (and its 400 helpers), the refusal every part of the engine raises, so
that ``odata`` can import this module without a cycle.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

from iflowtest.emulator.odata_model import ComplexType, EntitySet, Property, ServiceModel
from iflowtest.errors import IflowtestError


# ---------------------------------------------------------------- errors
class ODataError(IflowtestError):
    """Raised inside the engine for a request it must refuse; ``handle`` turns it into a body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_request(code: str, message: str) -> ODataError:
    """A 400 error."""
    return ODataError(400, code, message)


def unknown_property(
    name: str, option: str, entity_set: EntitySet, allowed: set[str], model: ServiceModel | None = None
) -> ODataError:
    """A 400 naming the unknown property and where it lives instead, or what was probably meant."""
    owners = [s.entity_type for s in (model.entity_sets if model else ()) if s.property(name)]
    close = difflib.get_close_matches(name, sorted(allowed), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    if owners:
        hint = f"; it is a property of '{owners[0]}'"
    return bad_request(
        "UnknownProperty", f"Property '{name}' not found in type '{entity_set.entity_type}' ({option}){hint}"
    )


def unknown_member(name: str, option: str, holder: Property, complex_type: ComplexType) -> ODataError:
    """A 400 naming a member that the complex property ``holder`` does not have."""
    members = [p.name for p in complex_type.properties]
    close = difflib.get_close_matches(name, members, n=1)
    hint = f"; did you mean '{holder.name}/{close[0]}'?" if close else f"; it has {', '.join(members)}"
    return bad_request("UnknownProperty", f"Property '{name}' not found in type '{complex_type.name}' ({option}){hint}")


def not_a_member_path(prop: Property, option: str, complex_type: ComplexType) -> ODataError:
    """A 400 for a complex property used where only one of its members can be (compared, sorted by)."""
    example = f"{prop.name}/{complex_type.properties[0].name}" if complex_type.properties else prop.name
    return bad_request(
        "InvalidQueryOption" if option != "$filter" else "InvalidFilter",
        f"Property '{prop.name}' is of complex type '{complex_type.name}' and cannot be used as a whole in "
        f"{option}: name one of its members, such as {example}",
    )


# ---------------------------------------------------------------- $filter and key predicates
# Hand-written because odata-query (PyPI), the maintained parser, speaks OData V4 only: it rejects
# V2 literals such as datetime'...' that S/4 clients send, and would add sly as a dependency.

# Python value class each EDM type compares as; filter literals are checked against it.
_KIND = {
    "Edm.String": "str",
    "Edm.Guid": "str",
    "Edm.DateTime": "datetime",
    "Edm.DateTimeOffset": "datetime",
    "Edm.Boolean": "bool",
    "Edm.Byte": "number",
    "Edm.Int16": "number",
    "Edm.Int32": "number",
    "Edm.Int64": "number",
    "Edm.Decimal": "number",
    "Edm.Double": "number",
}
_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<datetime>datetime(?:offset)?'(?P<dt>[^']*)')
    |(?P<guid>guid'(?P<gv>[^']*)')
    |(?P<string>'(?:[^']|'')*')
    |(?P<number>[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[LlMmDdFf]?)
    |(?P<name>[A-Za-z_]\w*)
    |(?P<punct>[(),=/])""",
    re.VERBOSE,
)
_NUMBER_SUFFIX = {"Edm.Int64": "L", "Edm.Decimal": "M"}
_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCTIONS: dict[str, tuple[tuple[str, ...], str, Callable[..., Any]]] = {
    "substringof": (("str", "str"), "bool", lambda a, b: a is not None and b is not None and a in b),
    "startswith": (("str", "str"), "bool", lambda a, b: a is not None and b is not None and a.startswith(b)),
    "endswith": (("str", "str"), "bool", lambda a, b: a is not None and b is not None and a.endswith(b)),
    "tolower": (("str",), "str", lambda a: None if a is None else a.lower()),
    "toupper": (("str",), "str", lambda a: None if a is None else a.upper()),
    "trim": (("str",), "str", lambda a: None if a is None else a.strip()),
}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    value: Any
    pos: int


@dataclass(frozen=True)
class Expr:
    """A typed $filter expression node: ``op`` is a field, literal, call, comparison or connective."""

    op: str
    kind: str
    value: Any = None
    args: tuple[Expr, ...] = ()


def _tokenize(text: str, what: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            problem = "unterminated text literal" if text[pos] == "'" else "unexpected"
            raise _syntax_error(what, f"{problem} {text[pos : pos + 12]!r} at {pos}")
        kind = match.lastgroup or ""
        raw = match.group()
        if kind == "datetime":
            tokens.append(_Token("literal", raw, _parse_datetime(unquote(match.group("dt")), what), pos))
        elif kind == "guid":
            tokens.append(_Token("literal", raw, match.group("gv"), pos))
        elif kind == "string":
            tokens.append(_Token("literal", raw, raw[1:-1].replace("''", "'"), pos))
        elif kind == "number":
            tokens.append(_Token("literal", raw, _parse_number(raw), pos))
        elif kind == "name" and raw in ("true", "false", "null"):
            tokens.append(_Token("literal", raw, {"true": True, "false": False}.get(raw), pos))
        elif kind != "ws":
            tokens.append(_Token(kind, raw, raw, pos))
        pos = match.end()
    return tokens


def _parse_datetime(text: str, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _syntax_error(what, f"{text!r} is not a datetime") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _syntax_error(what: str, detail: str) -> ODataError:
    return bad_request("InvalidFilter" if what == "$filter" else "InvalidKey", f"Invalid {what}: {detail}")


def _parse_number(text: str) -> int | Decimal:
    digits = text.rstrip("LlMmDdFf")  # the token pattern already guarantees a valid number
    return int(digits) if digits.lstrip("+-").isdigit() else Decimal(digits)


def _literal_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, datetime):
        return "datetime"
    return "number" if isinstance(value, int | Decimal) else "str"


class _FilterParser:
    """Recursive descent: or > and > not > comparison > primary, as in the OData V2 URI conventions."""

    def __init__(self, text: str, entity_set: EntitySet, model: ServiceModel | None) -> None:
        self.tokens = _tokenize(text, "$filter")
        self.index = 0
        self.entity_set = entity_set
        self.model = model

    def parse(self) -> Expr:
        expr = self._or()
        if self.index < len(self.tokens):
            token = self.tokens[self.index]
            raise self._error(f"unexpected {token.text!r} at {token.pos}")
        if expr.kind != "bool":
            raise self._error("the expression is not a condition (true or false)")
        return expr

    def _error(self, detail: str) -> ODataError:
        return bad_request("InvalidFilter", f"Invalid $filter: {detail}")

    def _peek(self, text: str) -> bool:
        return self.index < len(self.tokens) and self.tokens[self.index].text == text

    def _next(self, expected: str) -> _Token:
        if self.index >= len(self.tokens):
            raise self._error(f"expected {expected} but the expression ended")
        self.index += 1
        return self.tokens[self.index - 1]

    def _expect(self, text: str) -> None:
        token = self._next(repr(text))
        if token.text != text:
            raise self._error(f"expected {text!r} but found {token.text!r} at {token.pos}")

    def _connective(self, op: str, operand: Callable[[], Expr]) -> Expr:
        left = operand()
        while self._peek(op):
            self.index += 1
            right = operand()
            for side in (left, right):
                if side.kind != "bool":
                    raise self._error(f"'{op}' needs conditions on both sides")
            left = Expr(op, "bool", args=(left, right))
        return left

    def _or(self) -> Expr:
        return self._connective("or", self._and)

    def _and(self) -> Expr:
        return self._connective("and", self._not)

    def _not(self) -> Expr:
        if self._peek("not"):
            self.index += 1
            operand = self._not()
            if operand.kind != "bool":
                raise self._error("'not' needs a condition")
            return Expr("not", "bool", args=(operand,))
        return self._comparison()

    def _comparison(self) -> Expr:
        left = self._primary()
        if self.index < len(self.tokens) and self.tokens[self.index].text in _COMPARISONS:
            op = self._next("operator").text
            right = self._primary()
            kinds = {left.kind, right.kind} - {"null"}
            if len(kinds) > 1:
                raise self._error(
                    f"cannot compare {left.kind} with {right.kind} using '{op}' "
                    "(text needs quotes: 'A000'; dates need datetime'2024-01-31T00:00:00')"
                )
            return Expr(op, "bool", args=(left, right))
        return left

    def _primary(self) -> Expr:
        token = self._next("a value")
        if token.kind == "literal":
            return Expr("literal", _literal_kind(token.value), token.value)
        if token.text == "(":
            inner = self._or()
            self._expect(")")
            return inner
        if token.kind != "name":
            raise self._error(f"unexpected {token.text!r} at {token.pos}")
        if self._peek("("):
            return self._call(token)
        prop = self.entity_set.property(token.text)
        if prop is None:
            names = {p.name for p in self.entity_set.properties}
            raise unknown_property(token.text, "$filter", self.entity_set, names, self.model)
        complex_type = self.model.complex_type(prop.edm_type) if self.model else None
        if complex_type is None:
            return Expr("field", _KIND.get(prop.edm_type, "str"), prop.name)
        # A member path such as IntegrationArtifact/Id: complex values compare only member by member.
        if not self._peek("/"):
            raise not_a_member_path(prop, "$filter", complex_type)
        self.index += 1
        name = self._next(f"a member of {prop.name}")
        member = complex_type.property(name.text) if name.kind == "name" else None
        if member is None:
            raise unknown_member(name.text, "$filter", prop, complex_type)
        return Expr("member", _KIND.get(member.edm_type, "str"), (prop.name, member.name))

    def _call(self, name: _Token) -> Expr:
        if name.text not in _FUNCTIONS:
            raise self._error(f"function {name.text!r} is not supported (use {', '.join(_FUNCTIONS)})")
        param_kinds, result_kind, _ = _FUNCTIONS[name.text]
        self._expect("(")
        args = [self._or()]
        while self._peek(","):
            self.index += 1
            args.append(self._or())
        self._expect(")")
        if len(args) != len(param_kinds) or any(
            a.kind not in (k, "null") for a, k in zip(args, param_kinds, strict=True)
        ):
            raise self._error(f"{name.text} expects {len(param_kinds)} text argument(s)")
        return Expr(name.text, result_kind, args=tuple(args))


def parse_filter(text: str, entity_set: EntitySet, model: ServiceModel | None = None) -> Expr:
    """Parse and type-check a ``$filter`` against ``entity_set``; raises ODataError (400)."""
    return _FilterParser(text, entity_set, model).parse()


def evaluate(expr: Expr, row: Mapping[str, Any]) -> Any:
    """The value of ``expr`` for one row (a bool for a condition)."""
    if expr.op == "literal":
        return expr.value
    if expr.op == "field":
        return row.get(expr.value)
    if expr.op == "member":
        return member_value(row, expr.value)
    if expr.op == "and":
        return bool(evaluate(expr.args[0], row)) and bool(evaluate(expr.args[1], row))
    if expr.op == "or":
        return bool(evaluate(expr.args[0], row)) or bool(evaluate(expr.args[1], row))
    if expr.op == "not":
        return not evaluate(expr.args[0], row)
    values = [evaluate(arg, row) for arg in expr.args]
    if expr.op in _FUNCTIONS:
        return _FUNCTIONS[expr.op][2](*values)
    left, right = values
    if expr.op == "eq":
        return left == right
    if expr.op == "ne":
        return left != right
    if left is None or right is None:
        return False  # ordering against null is never true, as in SQL
    return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[expr.op]


def member_value(row: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` (property, then members of complex values) in ``row``; None below a null."""
    value: Any = row
    for name in path:
        if value is None:
            return None
        value = value.get(name)
    return value


def parse_key_predicate(text: str, entity_set: EntitySet) -> tuple[Any, ...]:
    """The key values, in ``entity_set.keys`` order, of ``Name='v',...`` or ``'v'`` (single key)."""
    tokens = _tokenize(text, "key predicate")
    given: dict[str, Any] = {}
    if len(tokens) == 1 and tokens[0].kind == "literal" and len(entity_set.keys) == 1:
        given[entity_set.keys[0]] = tokens[0].value
    else:
        for start in range(0, len(tokens), 4):
            part = tokens[start : start + 4]
            shape = [t.kind for t in part[:3]] + [t.text for t in part[3:]]
            if shape not in (["name", "punct", "literal"], ["name", "punct", "literal", ","]):
                raise bad_request("InvalidKey", f"Invalid key predicate ({text})")
            if part[0].text in given:
                raise bad_request("InvalidKey", f"Key '{part[0].text}' given twice in ({text})")
            given[part[0].text] = part[2].value
    if sorted(given) != sorted(entity_set.keys):
        raise bad_request(
            "InvalidKey",
            f"Key predicate ({text}) must name exactly the keys {', '.join(entity_set.keys)} "
            f"of '{entity_set.entity_type}'",
        )
    for name, value in given.items():
        prop = entity_set.property(name)
        if prop is not None and _literal_kind(value) != _KIND.get(prop.edm_type, "str"):
            raise bad_request("InvalidKey", f"Key '{name}' has the wrong type in ({text})")
    return tuple(given[name] for name in entity_set.keys)


def format_key_predicate(entity_set: EntitySet, row: Mapping[str, Any]) -> str:
    """``(Name='v',...)`` percent-encoded as SAP Gateway writes it into ``__metadata`` uris."""
    parts = []
    for name in entity_set.keys:
        prop = entity_set.property(name)
        literal = quote(_format_literal(row.get(name), prop.edm_type if prop else "Edm.String"), safe="'")
        parts.append(literal if len(entity_set.keys) == 1 else f"{name}={literal}")
    return "(" + ",".join(parts) + ")"


def _format_literal(value: Any, edm_type: str) -> str:
    if isinstance(value, datetime):
        prefix = "datetimeoffset" if edm_type == "Edm.DateTimeOffset" else "datetime"
        return f"{prefix}'{xml_datetime(value, edm_type)}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if edm_type == "Edm.Guid":
        return f"guid'{value}'"
    if isinstance(value, int | Decimal):
        return str(value) + _NUMBER_SUFFIX.get(edm_type, "")
    return "'" + str(value).replace("'", "''") + "'"


def xml_datetime(value: datetime, edm_type: str) -> str:
    """A datetime as V2 writes it in literals and Atom (UTC, milliseconds, ``Z`` for DateTimeOffset)."""
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond // 1000:03d}"
    return text + "Z" if edm_type == "Edm.DateTimeOffset" else text
