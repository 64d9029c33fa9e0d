"""The pacer: one schedule shared by processes, 429 answers hold every process back, what pacing cost is counted."""

from __future__ import annotations

import itertools
import json
import multiprocessing
from pathlib import Path

import pytest

from iflowtest.pacing.limits import RateLimits
from iflowtest.pacing.pacer import Pacer, retry_after_seconds

MPL = "https://tenant.it-cpi018.cfapps.eu10.hana.ondemand.com/api/v1/MessageProcessingLogs('X')"
RUNTIME = "https://tenant.it-cpi018-rt.cfapps.eu10.hana.ondemand.com/http/costcenters"
RATE = 50.0


def take_slots(folder: str, calls: int, out: str) -> None:
    """In another process: ask for `calls` slots without sleeping, write when each slot was."""
    pacer = Pacer(RateLimits({"message_log": RATE}), Path(folder), sleep=lambda _: None)
    slots = []
    for _ in range(calls):
        pacer.wait(MPL)
        slots.append(pacer.last_slot)
    Path(out).write_text(json.dumps(slots))


def test_processes_share_one_schedule(tmp_path: Path) -> None:
    # Two processes, as two xdist workers: their slots together keep the rate, none closer than 1/rate.
    context = multiprocessing.get_context("spawn")
    outputs = [tmp_path / f"slots{n}.json" for n in range(2)]
    workers = [context.Process(target=take_slots, args=(str(tmp_path), 15, str(o))) for o in outputs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    slots = sorted(s for o in outputs for s in json.loads(o.read_text()))
    assert len(slots) == 30
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) >= 1 / RATE - 1e-6  # the slots were handed out under the lock, one interval apart
    calls, seconds, slowed = Pacer(RateLimits(), tmp_path).delays()
    assert calls >= 25 and seconds > 0 and slowed == 0  # counted across processes, for the report


def test_a_429_holds_every_process_back_until_retry_after(tmp_path: Path) -> None:
    one = Pacer(RateLimits({}), tmp_path, sleep=lambda _: None)
    other = Pacer(RateLimits({}), tmp_path, sleep=lambda _: None)
    assert other.wait(RUNTIME) == 0.0  # unlimited: not paced
    one.slow_down(RUNTIME, 30.0)
    held = other.wait(RUNTIME)
    assert 25.0 < held <= 30.0
    assert other.wait(RUNTIME.replace("/http/costcenters", "/http/other")) > 0  # same API, same host
    assert other.wait("https://elsewhere.example.com/http/costcenters") == 0.0  # another host is not held
    assert Pacer(RateLimits({}), tmp_path).delays()[2] == 1
    one.slow_down(RUNTIME.replace("tenant.", "other."), 3600.0)  # beyond MAX_HOLD: the test gets the 429, no hold
    assert other.wait(RUNTIME.replace("tenant.", "other.")) == 0.0


def test_a_429_halves_the_pace_of_a_limited_api(tmp_path: Path) -> None:
    pacer = Pacer(RateLimits({"message_log": 10.0}), tmp_path, sleep=lambda _: None)
    pacer.wait(MPL)
    pacer.slow_down(MPL, 0.0)
    state = json.loads((tmp_path / "pacing.json").read_text())
    [bucket] = [b for k, b in state["buckets"].items() if k.startswith("message_log")]
    assert bucket["slow"] == 2.0


def test_documented_limits_are_the_default() -> None:
    limits = RateLimits()
    assert [rate for _, rate in limits.keys_for(MPL)] == [100.0]
    assert limits.keys_for(RUNTIME) == []  # no documented limit for iFlow calls
    assert limits.keys_for(RUNTIME.replace("/http/costcenters", "/api/v1/IntegrationRuntimeArtifacts('A')")) == [
        ("runtime_artifacts tenant.it-cpi018-rt.cfapps.eu10.hana.ondemand.com", 50.0)
    ]


@pytest.mark.parametrize(
    ("value", "seconds"), [("5", 5.0), (None, None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)]
)
def test_retry_after_is_read_as_seconds_or_a_date(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value) == seconds


def test_the_buckets_of_an_address_are_worked_out_once_whatever_its_query(tmp_path: Path) -> None:
    pacer = Pacer(RateLimits({"message_log": RATE}), tmp_path, sleep=lambda _: None)
    pacer.wait(MPL + "?$format=json")
    pacer.wait(MPL + "?$format=json&$top=1")
    first = pacer.last_slot
    pacer.wait(MPL)  # the same bucket, queries aside: one interval later
    assert pacer.last_slot == pytest.approx(first + 1 / RATE)
    assert pacer._route.cache_info().misses == 1
    # Another API of the same host and another host are other routes, each with its own buckets.
    assert pacer.wait(RUNTIME + "?x=1") == 0.0  # the runtime is not limited: not paced
    assert pacer._route(MPL.replace("tenant.", "other.")) == (
        (("message_log other.it-cpi018.cfapps.eu10.hana.ondemand.com", RATE),),
        "hold message_log other.it-cpi018.cfapps.eu10.hana.ondemand.com",
    )
