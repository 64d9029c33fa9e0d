"""JSON nesting bound: deep documents are refused before anything recursive walks them."""

from __future__ import annotations

import pytest

from iflowtest.bounds.nesting import MAX_DEPTH, TooDeepError, loads


def test_ordinary_documents_parse() -> None:
    assert loads('{"d": {"results": [{"a": "[[[["}]}}') == {"d": {"results": [{"a": "[[[["}]}}
    assert loads(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "[" * (MAX_DEPTH + 1), '{"a":' * 5000])
def test_deep_documents_are_refused_with_the_limit(text: str) -> None:
    with pytest.raises(TooDeepError, match=f"nests deeper than {MAX_DEPTH} levels"):
        loads(text)


def test_brackets_inside_strings_do_not_count() -> None:
    assert loads('["' + "[" * 1000 + '"]') == ["[" * 1000]
