"""JSON parsed with a bound on nesting: a document a remote side sends may not crash what walks it afterwards."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any, Final

# Deeper than any real payload (OData answers nest about six levels), shallow enough for every recursive
# walk after parsing (diffs, deep copies, pretty printing) to stay far from Python's recursion limit.
MAX_DEPTH: Final = 200


class TooDeepError(ValueError):
    """Raised when a JSON document nests deeper than MAX_DEPTH (a ValueError, as json's own errors are)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the JSON document nests deeper than {limit} levels; expected at most {limit}")


def loads(text: str | bytes | bytearray, *, limit: int = MAX_DEPTH) -> Any:
    """`json.loads`, refusing (TooDeepError) a document nested deeper than `limit`."""
    check(text, limit=limit)
    try:
        return json.loads(text)
    except RecursionError:
        raise TooDeepError(limit) from None


def check(text: str | bytes | bytearray, *, limit: int = MAX_DEPTH) -> None:
    """Raise TooDeepError when the JSON text nests deeper than `limit` (cheap when it has few brackets)."""
    if _opening_brackets(text) > limit and _depth_exceeds(text, limit):
        raise TooDeepError(limit)


def _opening_brackets(text: str | bytes | bytearray) -> int:
    if isinstance(text, str):
        return text.count("[") + text.count("{")
    return text.count(b"[") + text.count(b"{")


def _depth_exceeds(text: str | bytes | bytearray, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than `limit`: strings are cut out and the brackets left
    counted by the `re` engine and `accumulate`, so a large answer is not walked a character at a time."""
    if not isinstance(text, str):
        text = bytes(text).decode("utf-8", "replace")
    brackets = _BRACKETS.findall(_STRINGS.sub("", text))
    return max(accumulate(_STEP[b] for b in brackets), default=0) > limit


# A JSON string (an unterminated one runs to the end: the document is broken anyway and json says so).
_STRINGS: Final = re.compile(r'"(?:[^"\\]|\\.)*(?:"|$)', re.DOTALL)
_BRACKETS: Final = re.compile(r"[\[\]{}]")
_STEP: Final = {"[": 1, "{": 1, "]": -1, "}": -1}
