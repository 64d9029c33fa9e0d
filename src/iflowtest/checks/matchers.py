"""Matchers: small named checks of a value that return (ok, reason), shared by YAML cases and Python tests.

A matcher receives every value a query found (a JSONPath or XPath can match several nodes, or none). Scalar
matchers look at *the* value (the one match, or the list when there are several); list matchers look at the
list (the one match when it is a list, else the list of matches).

In YAML a matcher is a mapping of matcher keywords, all of which must hold (`{min: 1, max: 10}`); any other
value means "equals". In Python, build them with the functions below or `matcher(spec)` from the same spec.
"""

from __future__ import annotations

import json
import math
import re
import uuid as uuid_module
from collections.abc import Callable, Mapping, Sequence
from datetime import date as date_type
from datetime import datetime
from typing import Any, Final

Found = list[Any]
Matcher = Callable[[Found], tuple[bool, str]]

KEYWORDS: Final = (
    "equals",
    "any",
    "regex",
    "uuid",
    "date",
    "approx",
    "tolerance",
    "min",
    "max",
    "contains",
    "any_order",
    "count",
    "every",
    "fields",
    "present",
    "absent",
    "exactly",
    "not",
    "one_of",
    "any_of",
    "all_of",
    "above",
    "below",
    "length",
    "type",
    "truthy",
    "empty_ok",
)
# JSON type names, as JavaScript's chai `a(...)` spells them for parsed JSON
TYPES: Final = ("string", "number", "boolean", "object", "array", "null")
_NOTHING: Final = "nothing (the query matched no value)"


def text_of(value: Any) -> str:
    """The text form a value is compared by when one side is a string (JSON spelling for numbers and null)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, ensure_ascii=False)


def same(expected: Any, actual: Any) -> bool:
    """Equality that forgives string-vs-number (`"10"` equals 10, as a data-table cell must) but not structure."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return expected.keys() == actual.keys() and all(same(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(same(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, str) != isinstance(actual, str) and not isinstance(expected, list | Mapping):
        return not isinstance(actual, list | Mapping) and text_of(expected) == text_of(actual)
    if isinstance(expected, bool) != isinstance(actual, bool):
        return False
    return bool(expected == actual)


def show(value: Any, limit: int = 120) -> str:
    """A value as messages show it, shortened."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _subject(found: Found) -> Any:
    return found[0] if len(found) == 1 else found


def _items(found: Found) -> list[Any]:
    if len(found) == 1 and isinstance(found[0], list):
        return list(found[0])
    return list(found)


def _scalar(name: str, check: Callable[[Any], bool], wanted: str) -> Matcher:
    def match(found: Found) -> tuple[bool, str]:
        if not found:
            return False, f"expected {wanted}, got {_NOTHING}"
        value = _subject(found)
        return (True, "") if check(value) else (False, f"expected {wanted}, got {show(value)}")

    match.__name__ = name
    return match


def equals(expected: Any) -> Matcher:
    """The value equals `expected` (a string equals a number with the same text)."""
    return _scalar("equals", lambda value: same(expected, value), show(expected))


def any_value() -> Matcher:
    """Some value is there, whatever it is."""
    return _scalar("any", lambda value: True, "any value")


def regex(pattern: str) -> Matcher:
    """The value's text matches `pattern` as a whole (re.fullmatch)."""
    compiled = re.compile(pattern, re.S)
    return _scalar("regex", lambda value: compiled.fullmatch(text_of(value)) is not None, f"to match /{pattern}/")


def _is_uuid(value: Any) -> bool:
    try:
        uuid_module.UUID(text_of(value))
    except ValueError:
        return False
    return True


def uuid() -> Matcher:
    """The value is a UUID (any version, with or without dashes)."""
    return _scalar("uuid", _is_uuid, "a UUID")


_ODATA_DATE = re.compile(r"/Date\(-?\d+([+-]\d{4})?\)/")


def _is_date(value: Any, form: str) -> bool:
    text = text_of(value)
    if form == "odata":
        return _ODATA_DATE.fullmatch(text) is not None
    if form == "iso":
        for parse in (date_type.fromisoformat, datetime.fromisoformat):
            try:
                parse(text)
            except ValueError:
                continue
            return True
        return False
    try:
        datetime.strptime(text, form)  # a format check only; the value is never used
    except ValueError:
        return False
    return True


def date(form: str = "iso") -> Matcher:
    """The value is a date: `iso` (2026-01-31 or a datetime), `odata` (/Date(ms)/) or a strftime format."""
    return _scalar("date", lambda value: _is_date(value, form), f"a date ({form})")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def approx(expected: float, tolerance: float = 1e-9) -> Matcher:
    """The value is a number within `tolerance` of `expected` (numeric text counts)."""

    def check(value: Any) -> bool:
        number = _number(value)
        return number is not None and abs(number - expected) <= tolerance

    return _scalar("approx", check, f"{expected:g} ± {tolerance:g}")


def at_least(bound: float) -> Matcher:
    """The value is a number ≥ `bound`."""
    return _scalar("min", lambda v: (n := _number(v)) is not None and n >= bound, f"a number ≥ {bound:g}")


def at_most(bound: float) -> Matcher:
    """The value is a number ≤ `bound`."""
    return _scalar("max", lambda v: (n := _number(v)) is not None and n <= bound, f"a number ≤ {bound:g}")


def contains(expected: Any) -> Matcher:
    """A list holds an item equal to `expected`; a single text value contains `expected` as a substring."""

    def match(found: Found) -> tuple[bool, str]:
        if len(found) == 1 and isinstance(found[0], str):
            ok = text_of(expected) in found[0]
            return (True, "") if ok else (False, f"expected text containing {show(expected)}, got {show(found[0])}")
        items = _items(found)
        if any(same(expected, item) for item in items):
            return True, ""
        return False, f"expected a list containing {show(expected)}, got {show(items)}"

    return match


def any_order(expected: Sequence[Any]) -> Matcher:
    """A list holds exactly the `expected` items, in any order."""

    def match(found: Found) -> tuple[bool, str]:
        items, left = _items(found), list(expected)
        extra = []
        for item in items:
            index = next((i for i, e in enumerate(left) if same(e, item)), None)
            if index is None:
                extra.append(item)
            else:
                del left[index]
        if not left and not extra:
            return True, ""
        parts = ([f"missing {show(left)}"] if left else []) + ([f"unexpected {show(extra)}"] if extra else [])
        return False, f"expected {show(list(expected))} in any order, got {show(items)} ({'; '.join(parts)})"

    return match


def count(expected: int | Matcher) -> Matcher:
    """How many items a list has (or how many values matched) equals `expected` or meets a matcher."""
    inner = expected if callable(expected) else equals(expected)

    def match(found: Found) -> tuple[bool, str]:
        total = len(_items(found))
        ok, reason = inner([total])
        return (True, "") if ok else (False, f"count: {reason}")

    return match


def every(inner: Matcher, *, empty_ok: bool = False) -> Matcher:
    """Every item of a list (or every value matched) meets `inner`; no items fails unless `empty_ok`.

    With `empty_ok` an empty list passes (as a JavaScript `forEach` runs no assertion on it), but a query that
    matched nothing, or a value that is not a list, still fails.
    """

    def match(found: Found) -> tuple[bool, str]:
        items = _items(found)
        if empty_ok and len(found) == 1 and not isinstance(found[0], list):
            return False, f"expected a list, got {show(found[0])}"
        if not items:
            if empty_ok and found:
                return True, ""
            return False, f"expected every item to match, got {_NOTHING}"
        for index, item in enumerate(items):
            ok, reason = inner([item])
            if not ok:
                return False, f"item [{index}] of {len(items)}: {reason}"
        return True, ""

    return match


def fields(expected: Mapping[str, Matcher]) -> Matcher:
    """An object has these fields, each meeting its matcher (other fields are ignored)."""

    def match(found: Found) -> tuple[bool, str]:
        value = _subject(found)
        if not isinstance(value, Mapping):
            return False, f"expected an object with fields {', '.join(expected)}, got {show(value)}"
        for name, inner in expected.items():
            ok, reason = inner([value[name]] if name in value else [])
            if not ok:
                return False, f"field {name!r}: {reason}"
        return True, ""

    return match


def present() -> Matcher:
    """The query matched at least one value."""
    return lambda found: (True, "") if found else (False, "expected to be present, got nothing")


def absent() -> Matcher:
    """The query matched no value."""
    return lambda found: (True, "") if not found else (False, f"expected to be absent, got {show(_subject(found))}")


def exactly(expected: Any) -> Matcher:
    """The value equals `expected` in type too: "10" is not 10, true is not 1 (JavaScript's `===` on JSON values)."""
    return _scalar("exactly", lambda value: strictly_same(expected, value), f"exactly {show(expected)}")


def strictly_same(expected: Any, actual: Any) -> bool:
    """Deep equality of JSON values that tells text, numbers, booleans and null apart (1 and 1.0 are equal)."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return expected.keys() == actual.keys() and all(strictly_same(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(strictly_same(e, a) for e, a in zip(expected, actual, strict=True))
    return _json_type(expected) == _json_type(actual) and bool(expected == actual)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object" if isinstance(value, Mapping) else type(value).__name__


def negate(inner: Matcher, wanted: str) -> Matcher:
    """The inner matcher does not hold (a query that matched nothing meets any negation)."""

    def match(found: Found) -> tuple[bool, str]:
        ok, _ = inner(found)
        if not ok:
            return True, ""
        return False, f"expected not {wanted}, got {show(_subject(found)) if found else _NOTHING}"

    return match


def one_of(expected: Sequence[Any]) -> Matcher:
    """The value equals one of `expected` (each compared as `equals` does)."""
    return _scalar("one_of", lambda v: any(same(e, v) for e in expected), f"one of {show(list(expected))}")


def any_of(matchers: Sequence[Matcher]) -> Matcher:
    """At least one matcher holds; when none does, every reason is given."""

    def match(found: Found) -> tuple[bool, str]:
        reasons = []
        for inner in matchers:
            ok, reason = inner(found)
            if ok:
                return True, ""
            reasons.append(reason)
        return False, "none of the alternatives holds: " + "; ".join(reasons)

    return match


def _real_number(value: Any) -> float | None:
    # above/below compare numbers only: numeric text is text here, as in JavaScript's chai
    return None if isinstance(value, bool) or not isinstance(value, int | float) else float(value)


def above(bound: float) -> Matcher:
    """The value is a number > `bound` (text is not a number here)."""
    return _scalar("above", lambda v: (n := _real_number(v)) is not None and n > bound, f"a number > {bound:g}")


def below(bound: float) -> Matcher:
    """The value is a number < `bound` (text is not a number here)."""
    return _scalar("below", lambda v: (n := _real_number(v)) is not None and n < bound, f"a number < {bound:g}")


def length(expected: int | Matcher) -> Matcher:
    """The value's length meets `expected`: characters of a text, items of a list, fields of an object."""
    inner = expected if callable(expected) else equals(expected)

    def match(found: Found) -> tuple[bool, str]:
        if not found:
            return False, f"expected a length, got {_NOTHING}"
        value = _subject(found)
        if not isinstance(value, str | list | Mapping):
            return False, f"expected a text, list or object with a length, got {show(value)}"
        ok, reason = inner([len(value)])
        return (True, "") if ok else (False, f"length {len(value)} of {show(value, 60)}: {reason}")

    return match


def json_type(name: str) -> Matcher:
    """The value has this JSON type: string, number, boolean, object, array or null."""
    return _scalar("type", lambda value: _json_type(value) == name, f"a value of type {name}")


def _is_truthy(value: Any) -> bool:
    # JavaScript's truthiness for JSON values: every object and list is truthy, even an empty one
    if isinstance(value, list | Mapping):
        return True
    return bool(value)


def truthy(wanted: bool = True) -> Matcher:
    """The value is truthy as JavaScript sees it (not null, false, 0 or empty text), or falsy for False."""

    def match(found: Found) -> tuple[bool, str]:
        if not found:  # undefined is falsy
            return (not wanted, "" if not wanted else f"expected a truthy value, got {_NOTHING}")
        value = _subject(found)
        if _is_truthy(value) == wanted:
            return True, ""
        return False, f"expected a {'truthy' if wanted else 'falsy'} value, got {show(value)}"

    return match


def all_of(matchers: Sequence[Matcher]) -> Matcher:
    """Every matcher holds; the first that does not gives the reason."""

    def match(found: Found) -> tuple[bool, str]:
        for inner in matchers:
            ok, reason = inner(found)
            if not ok:
                return False, reason
        return True, ""

    return match


def matcher(spec: Any) -> Matcher:
    """The matcher a spec describes: a matcher function as is, a mapping of matcher keywords, else `equals`."""
    if callable(spec):
        return spec  # type: ignore[no-any-return]
    if not isinstance(spec, Mapping):
        return equals(spec)
    unknown = [k for k in spec if k not in KEYWORDS]
    if unknown or not spec:
        raise ValueError(
            f"unknown matcher {str(unknown[0]) if unknown else '{}'!r}: matchers are {', '.join(KEYWORDS)} "
            "(to compare with an object, write {equals: {...}})"
        )
    built: list[Matcher] = []
    for key, value in spec.items():
        if key == "tolerance":
            if "approx" not in spec:
                raise ValueError("'tolerance' needs 'approx' next to it: {approx: 10.5, tolerance: 0.01}")
            continue
        if key == "empty_ok":
            if "every" not in spec or not isinstance(value, bool):
                raise ValueError("'empty_ok' takes true or false next to 'every': {every: {...}, empty_ok: true}")
            continue
        built.append(_from_keyword(key, value, spec))
    return built[0] if len(built) == 1 else all_of(built)


def _from_keyword(key: str, value: Any, spec: Mapping[str, Any]) -> Matcher:
    if key == "equals":
        return equals(value)
    if key in ("any", "uuid", "present", "absent"):
        if value is not True:
            raise ValueError(f"'{key}' takes true ({key}: true), not {show(value)}")
        return {"any": any_value, "uuid": uuid, "present": present, "absent": absent}[key]()
    if key == "regex":
        try:
            return regex(str(value))
        except re.error as exc:
            raise ValueError(f"regex {show(value)} is not a valid regular expression ({exc})") from None
    if key == "date":
        return date(str(value) if value is not True else "iso")
    if key in ("approx", "min", "max", "tolerance"):
        number = _number(value)
        if number is None:
            raise ValueError(f"'{key}' takes a number, not {show(value)}")
        if key == "approx":
            tolerance = _number(spec.get("tolerance", 1e-9))
            if tolerance is None:
                raise ValueError(f"'tolerance' takes a number, not {show(spec.get('tolerance'))}")
            return approx(number, tolerance)
        return at_least(number) if key == "min" else at_most(number)
    if key == "contains":
        return contains(value)
    if key == "any_order":
        if not isinstance(value, list):
            raise ValueError(f"'any_order' takes a list of the expected items, not {show(value)}")
        return any_order(value)
    if key == "count":
        if isinstance(value, str) and value.isdigit():  # an untyped table cell
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int | Mapping):
            raise ValueError(f"'count' takes a whole number or a matcher such as {{min: 1}}, not {show(value)}")
        return count(value if isinstance(value, int) else matcher(value))
    if key == "every":
        return every(matcher(value), empty_ok=bool(spec.get("empty_ok", False)))
    if key == "exactly":
        return exactly(value)
    if key == "not":
        return negate(matcher(value), show(value))
    if key in ("one_of", "any_of", "all_of"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"'{key}' takes a non-empty list, not {show(value)}")
        if key == "one_of":
            return one_of(value)
        inner = [matcher(v) for v in value]
        return any_of(inner) if key == "any_of" else all_of(inner)
    if key in ("above", "below"):
        number = _number(value)
        if number is None:
            raise ValueError(f"'{key}' takes a number, not {show(value)}")
        return above(number) if key == "above" else below(number)
    if key == "length":
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int | Mapping):
            raise ValueError(f"'length' takes a whole number or a matcher such as {{min: 1}}, not {show(value)}")
        return length(value if isinstance(value, int) else matcher(value))
    if key == "type":
        if value not in TYPES:
            raise ValueError(f"'type' takes one of {', '.join(TYPES)}, not {show(value)}")
        return json_type(str(value))
    if key == "truthy":
        if not isinstance(value, bool):
            raise ValueError(f"'truthy' takes true or false, not {show(value)}")
        return truthy(value)
    # fields
    if not isinstance(value, Mapping):
        raise ValueError(f"'fields' takes a mapping of field name to expected value, not {show(value)}")
    return fields({str(name): matcher(inner) for name, inner in value.items()})
