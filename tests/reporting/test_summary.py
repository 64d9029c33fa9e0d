"""What pacing cost a run, as summary.json and the report say it, and for the shards of one run added up."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from iflowtest.reporting.summary import PacingDelays


def test_the_pacing_line_says_what_was_delayed_and_slowed() -> None:
    delays = PacingDelays(delayed_calls=12, delay_s=3.44, slowed_by_429=2, limits="runtime 20/s")
    assert delays.line() == "delayed 12 call(s) by 3.4 s in all; 2 answer(s) 429 slowed it down (limits: runtime 20/s)"
    assert PacingDelays(3, 0.25, 0, "runtime 10/s").line() == "delayed 3 call(s) by 0.2 s in all (limits: runtime 10/s)"
    assert PacingDelays.from_dict(asdict(delays)) == delays


def test_the_shards_pacing_is_added_up() -> None:
    shards = [
        PacingDelays(4, 1.25, 1, "runtime 10/s"),
        PacingDelays(3, 0.5, 0, "runtime 10/s"),
        PacingDelays(0, 0.0, 1, "runtime 5/s"),
    ]
    assert PacingDelays.combined(shards) == PacingDelays(7, 1.75, 2, "runtime 10/s; runtime 5/s")
    assert PacingDelays.combined([]) is None


@pytest.mark.parametrize("data", [{}, {"delayed_calls": "x", "delay_s": 1, "slowed_by_429": 0, "limits": ""}])
def test_a_damaged_pacing_entry_is_refused(data: dict[str, object]) -> None:
    with pytest.raises((KeyError, ValueError)):
        PacingDelays.from_dict(data)
