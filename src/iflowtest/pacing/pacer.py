"""The pacer: one token bucket per host or API, shared by every process of a run through a locked file.

xdist workers are processes, so the buckets live in a small JSON file in a folder the controller creates
and hands to its workers; each paced call takes the file lock (`filelock`, the well-kept cross-platform
lock), reads when its bucket's next slot is, moves it on by one interval and writes it back, then sleeps
outside the lock until its slot. That is the generic cell rate algorithm (a token bucket with a burst of
one), a dozen lines; the rate-limiting libraries on PyPI keep their buckets in one process's memory or in
Redis and SQLite servers, which a test run does not have.

A 429 slows the pace: the bucket's interval doubles (back to normal by 10 % a call) and nothing more is
sent to that API of that host until its `Retry-After` (1 s without one, none beyond `MAX_HOLD`) has passed,
on every worker;
urllib3's retry of that call waits as before. Calls to APIs without a limit are not paced and take no
lock: they only look (by the file's modification time) whether a 429 holds their API back.

What pacing cost is counted per bucket in the same file, for the terminal, the report and summary.json.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import pytest
from filelock import FileLock

from iflowtest.bounds import nesting
from iflowtest.files import write_atomically
from iflowtest.pacing.limits import RateLimits, api_of

STATE_FILE: Final = "pacing.json"
WORKER_FOLDER: Final = "iflowtest_pacing"  # xdist workerinput: the folder of the run's buckets
_SLOWEST: Final = 32.0  # a 429 doubles the interval, up to this factor
_RECOVERY: Final = 0.9  # each paced call takes this much of the slowdown back
_HOLD_WITHOUT_RETRY_AFTER: Final = 1.0
# A Retry-After beyond this is not waited for by the retry policy either (RetrySettings.max_retry_after): the
# answer goes to the test as it is, and holding every worker back for an hour would only stall the run.
MAX_HOLD: Final = 30.0
_NOTICEABLE: Final = 0.001  # seconds: shorter waits are not counted as delays


def _hold_key(url: str) -> str:
    return f"hold {api_of(url)} {urlsplit(url).netloc.lower()}"


class Pacer:
    """The buckets of one run, in `folder`/pacing.json."""

    def __init__(self, limits: RateLimits, folder: Path, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.limits = limits
        self.folder = folder
        self.path = folder / STATE_FILE
        self._lock = FileLock(str(folder / (STATE_FILE + ".lock")))
        self._sleep = sleep
        self._seen: tuple[int, dict[str, Any]] = (-1, {})
        self._seen_lock = threading.Lock()
        self.last_slot = 0.0  # when the last paced call of this process was let go (epoch seconds)
        # Which buckets a URL draws from depends on its host and path only, not on its query: worked out once
        # per address (three URL parses) instead of on every call. Bounded: paths can carry ids.
        self._route = functools.lru_cache(maxsize=1024)(self._route_of)

    def _route_of(self, address: str) -> tuple[tuple[tuple[str, float], ...], str]:
        """The buckets of a call to `address` (a URL without its query) with their rates, and its API's hold."""
        return tuple(self.limits.keys_for(address)), _hold_key(address)

    # ------------------------------------------------------------ the state file
    def _read(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = nesting.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            state = {}
        state.setdefault("buckets", {})
        state.setdefault("delayed", {})
        return state

    def _snapshot(self) -> dict[str, Any]:
        """The state as last written, read again only when the file changed (no lock: writes are atomic)."""
        try:
            stamp = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return {"buckets": {}, "delayed": {}}
        with self._seen_lock:
            if stamp != self._seen[0]:
                self._seen = (stamp, self._read())
            return self._seen[1]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            state = self._read()
            yield state
            write_atomically(self.path, json.dumps(state))

    # ------------------------------------------------------------ pacing
    def wait(self, url: str) -> float:
        """Block until a call to `url` may go out; returns the seconds waited."""
        keys, hold = self._route(url.partition("?")[0])
        if not keys:
            until = self._snapshot()["buckets"].get(hold, {}).get("next", 0.0)
            delay = float(until) - time.time()
            if delay <= _NOTICEABLE:
                return 0.0
            with self._locked() as state:
                self._count(state, hold, delay)
            self._sleep(delay)
            return delay
        with self._locked() as state:
            buckets = state["buckets"]
            now = time.time()
            start = max(now, buckets.get(hold, {}).get("next", 0.0))
            for key, _rate in keys:
                start = max(start, buckets.get(key, {}).get("next", 0.0))
            for key, rate in keys:
                bucket = buckets.setdefault(key, {"next": 0.0, "slow": 1.0})
                bucket["next"] = start + bucket["slow"] / rate
                bucket["slow"] = max(1.0, bucket["slow"] * _RECOVERY)
            delay = float(start) - now
            self.last_slot = float(start)
            if delay > _NOTICEABLE:
                self._count(state, keys[-1][0], delay)
        if delay > 0:
            self._sleep(delay)
        return max(delay, 0.0)

    def slow_down(self, url: str, retry_after: float | None) -> None:
        """A 429 from `url`: hold its API of its host back until `retry_after` has passed, and halve its pace."""
        hold_for = retry_after if retry_after is not None else _HOLD_WITHOUT_RETRY_AFTER
        if hold_for > MAX_HOLD:
            hold_for = 0.0
        with self._locked() as state:
            buckets = state["buckets"]
            now = time.time()
            for key, _ in self.limits.keys_for(url):
                bucket = buckets.setdefault(key, {"next": 0.0, "slow": 1.0})
                bucket["slow"] = min(_SLOWEST, bucket["slow"] * 2)
            hold = buckets.setdefault(_hold_key(url), {"next": 0.0, "slow": 1.0})
            hold["next"] = max(hold["next"], now + hold_for)
            state.setdefault("slowed", 0)
            state["slowed"] += 1

    @staticmethod
    def _count(state: dict[str, Any], key: str, delay: float) -> None:
        calls, seconds = state["delayed"].get(key, [0, 0.0])
        state["delayed"][key] = [calls + 1, seconds + delay]

    def delays(self) -> tuple[int, float, int]:
        """Calls delayed, seconds of delay in all, and 429 answers that slowed the pace, over every process."""
        state = self._read()
        calls = sum(c for c, _ in state["delayed"].values())
        seconds = sum(s for _, s in state["delayed"].values())
        return calls, seconds, int(state.get("slowed", 0))


# ------------------------------------------------------------ the run's pacer
_CURRENT: Pacer | None = None


def use_pacer(pacer: Pacer | None) -> Callable[[], None]:
    """Make `pacer` the one every call of this process goes through; returns the undo."""
    global _CURRENT
    before, _CURRENT = _CURRENT, pacer

    def undo() -> None:
        global _CURRENT
        _CURRENT = before

    return undo


def pace(url: str) -> float:
    """Wait for the run's pacer before a call to `url` (no pacer: no wait)."""
    return _CURRENT.wait(url) if _CURRENT is not None else 0.0


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` in seconds (a number, or an HTTP date from now); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def slowed(url: str, retry_after: float | None) -> None:
    """Tell the run's pacer that `url` answered 429."""
    if _CURRENT is not None:
        _CURRENT.slow_down(url, retry_after)


def delays_line(calls: int, seconds: float, slowed_by: int, limits: str) -> str:
    """`delayed 12 call(s) by 3.4 s in all; 2 answer(s) 429 slowed it down (limits: runtime 20/s)`: the terminal's
    pacing line, and the report's and the merged run's (`reporting/summary.py`)."""
    slowed = f"; {slowed_by} answer(s) 429 slowed it down" if slowed_by else ""
    return f"delayed {calls} call(s) by {seconds:.1f} s in all{slowed} (limits: {limits})"


class PacingReport:
    """pytest hooks of the controller: the folder of the buckets, and what pacing cost, in the terminal.

    The HTML report and summary.json get the same figures from the reporting side (`figures`), which also adds
    up the figures of a sharded run's shards.
    """

    def __init__(self, pacer: Pacer, *, owned: bool) -> None:
        self.pacer = pacer
        self.owned = owned  # the controller created the folder and removes it at the end
        self.line: str | None = None

    @classmethod
    def create(cls, limits: RateLimits) -> PacingReport:
        """A fresh folder for this run's buckets."""
        return cls(Pacer(limits, Path(tempfile.mkdtemp(prefix="iflowtest-pacing-"))), owned=True)

    def figures(self) -> tuple[int, float, int, str]:
        """Calls delayed, seconds of delay in all, 429 answers that slowed the pace (every process), the limits."""
        return (*self.pacer.delays(), self.pacer.limits.describe())

    @pytest.hookimpl(optionalhook=True)  # an xdist hook
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKER_FOLDER] = str(self.pacer.folder)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        calls, seconds, slowed_by, limits = self.figures()
        if calls or slowed_by:
            self.line = f"pacing {delays_line(calls, seconds, slowed_by, limits)}"
            print(f"\niflowtest: {self.line}", file=sys.stderr)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.owned:
            shutil.rmtree(self.pacer.folder, ignore_errors=True)
