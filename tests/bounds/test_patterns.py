"""Suite regexes run on RE2: no catastrophic backtracking, and unsupported syntax is named."""

from __future__ import annotations

import re
import time

import pytest

from iflowtest.bounds.patterns import compile_safe
from iflowtest.errors import ConfigError


def test_catastrophic_patterns_answer_at_once() -> None:
    started = time.monotonic()
    assert compile_safe(r"(a+)+$").search("a" * 5000 + "!") is None  # Python's re would run for ages
    assert compile_safe(r"(a+)+$").search("a" * 5000) is not None
    assert time.monotonic() - started < 1


def test_dotall_and_groups_work_as_in_re() -> None:
    assert compile_safe(r"a.b", re.S).fullmatch("a\nb") is not None
    assert compile_safe(r"a.b").fullmatch("a\nb") is None
    match = compile_safe(r"id=(\d+)").search("x id=42")
    assert match is not None and match.group(1) == "42" and match.re.groups == 1


def test_backreferences_are_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError, match=r"regex '\(a\)\\\\1' cannot be used .*RE2, which has no backreferences"):
        compile_safe(r"(a)\1")
