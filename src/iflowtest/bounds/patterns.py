"""Regular expressions from suites, matched in linear time (RE2) against text a remote side sent.

Python's `re` backtracks: `(a+)+$` against forty "a"s and a "!" runs for hours. RE2 (google-re2, the
engine behind Go's regexp) never backtracks; it does not offer backreferences or lookaround, and a pattern
using them is refused with a line saying so rather than matched unsafely.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final

import re2

from iflowtest.errors import ConfigError

_DOTALL: Final = 16  # re.S, the only flag the harness passes


@functools.lru_cache(maxsize=1024)
def compile_safe(pattern: str, flags: int = 0) -> Any:
    """A compiled RE2 pattern with `re`'s match/search/fullmatch API, or a ConfigError naming the pattern."""
    try:
        re.compile(pattern)  # Python's own verdict on the syntax first: its messages say where
    except re.error as exc:
        raise ConfigError(f"regex {pattern!r} is not a valid regular expression ({exc})") from None
    options = re2.Options()
    options.log_errors = False
    options.dot_nl = bool(flags & _DOTALL)
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ConfigError(
            f"regex {pattern!r} cannot be used ({reason}): patterns run on the safe regular-expression engine "
            "RE2, which has no backreferences or lookaround; rewrite it without them"
        ) from None
