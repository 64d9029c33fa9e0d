"""Matchers: each passes and fails with a reason that names what was expected and what came."""

from __future__ import annotations

import re
from typing import Any

import pytest

from iflowtest.checks.matchers import (
    absent,
    any_order,
    any_value,
    approx,
    at_least,
    at_most,
    contains,
    count,
    date,
    equals,
    every,
    fields,
    matcher,
    present,
    regex,
    same,
    uuid,
)

CASES: list[tuple[Any, list[Any], list[Any], str]] = [
    # (matcher, found when it holds, found when it fails, the reason it fails)
    (equals("1010"), [1010], ["1020"], "expected '1010', got '1020'"),
    (equals(10), ["10"], [11], "expected 10, got 11"),
    (any_value(), [None], [], "expected any value, got nothing (the query matched no value)"),
    (regex(r"\d{8}"), ["10101101"], ["1010110"], r"expected to match /\d{8}/, got '1010110'"),
    (uuid(), ["c6e7b562-46dc-414b-95fb-2bf5ea9bb124"], ["c6e7b562"], "expected a UUID, got 'c6e7b562'"),
    (date(), ["2026-01-31"], ["31.01.2026"], "expected a date (iso), got '31.01.2026'"),
    (date("odata"), ["/Date(253402214400000)/"], ["2026-01-31"], "expected a date (odata), got '2026-01-31'"),
    (date("%d.%m.%Y"), ["31.01.2026"], ["2026-01-31"], "expected a date (%d.%m.%Y), got '2026-01-31'"),
    (approx(10.5, 0.01), ["10.505"], [10.6], "expected 10.5 ± 0.01, got 10.6"),
    (at_least(2), ["2.5"], [1], "expected a number ≥ 2, got 1"),
    (at_most(2), [2], ["3"], "expected a number ≤ 2, got '3'"),
    (contains("DE"), [["DE", "US"]], [["FR"]], "expected a list containing 'DE', got [\"FR\"]"),
    (contains("ACCEPT"), ["Status ACCEPTED"], ["REJECTED"], "expected text containing 'ACCEPT', got 'REJECTED'"),
    (any_order([1, 2]), [[2, 1]], [[1, 3]], "expected [1, 2] in any order, got [1, 3] (missing [2]; unexpected [3])"),
    (count(2), [["a", "b"]], ["a", "b", "c"], "count: expected 2, got 3"),
    (count(at_least(1)), [[1]], [[]], "count: expected a number ≥ 1, got 0"),
    (every(equals("DE")), ["DE", "DE"], ["DE", "FR"], "item [1] of 2: expected 'DE', got 'FR'"),
    (
        fields({"Country": equals("DE")}),
        [{"Country": "DE", "x": 1}],
        [{"x": 1}],
        "field 'Country': expected 'DE', got nothing (the query matched no value)",
    ),
    (present(), ["x"], [], "expected to be present, got nothing"),
    (absent(), [], ["x"], "expected to be absent, got 'x'"),
]


@pytest.mark.parametrize(
    ("check", "holds", "fails", "reason"), CASES, ids=[c[0].__name__ + str(i) for i, c in enumerate(CASES)]
)
def test_matcher_passes_and_fails_with_its_reason(check: Any, holds: list[Any], fails: list[Any], reason: str) -> None:
    assert check(holds) == (True, "")
    assert check(fails) == (False, reason)


def test_every_fails_on_nothing() -> None:
    assert every(equals(1))([]) == (False, "expected every item to match, got nothing (the query matched no value)")


@pytest.mark.parametrize(
    ("spec", "found", "expected"),
    [
        ({"min": 1, "max": 3}, [2], True),
        ({"min": 1, "max": 3}, [4], False),
        ({"approx": 1.0, "tolerance": 0.5}, ["1.4"], True),
        ({"count": "2"}, [[1, 2]], True),
        ({"every": {"regex": "[A-Z]+"}}, [["DE", "US"]], True),
        ({"equals": {"a": 1}}, [{"a": 1}], True),
        ("2", [2.0], True),
        (True, ["true"], True),
        (True, [1], False),
    ],
)
def test_specs_build_the_same_matchers(spec: Any, found: list[Any], expected: bool) -> None:
    assert matcher(spec)(found)[0] is expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"regx": "a"}, "unknown matcher 'regx': matchers are equals, any, regex,"),
        ({"tolerance": 1}, "'tolerance' needs 'approx' next to it: {approx: 10.5, tolerance: 0.01}"),
        ({"uuid": False}, "'uuid' takes true (uuid: true), not false"),
        ({"regex": "("}, "regex '(' is not a valid regular expression"),
        ({"min": "many"}, "'min' takes a number, not 'many'"),
        ({"any_order": "ab"}, "'any_order' takes a list of the expected items, not 'ab'"),
        ({"count": 1.5}, "'count' takes a whole number or a matcher such as {min: 1}, not 1.5"),
        ({"fields": [1]}, "'fields' takes a mapping of field name to expected value, not [1]"),
    ],
)
def test_nonsense_specs_are_refused_with_the_fix(spec: Any, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        matcher(spec)


def test_same_forgives_text_versus_number_but_not_structure() -> None:
    assert same("0010", "0010") and same("10", 10) and same(10, 10.0)
    assert not same("0010", 10)
    assert not same([1], 1) and not same({"a": "1"}, {"a": "1", "b": 2})
    assert not same(True, 1)
