"""Fault injection: the bad nights of a real platform, on demand, per iFlow and per endpoint.

A `FaultPlan` holds faults keyed by target: an iFlow name (its runtime address), or one of the endpoints
`token`, `cf`, `api` (message log API) and `backend`. Each fault can add latency, answer a share of the
calls with a status (429 with `Retry-After`, 502/503/504), reset the connection before the answer (a real
TCP RST on the socket, over TLS too) or in the middle of it (`reset_after_bytes`: the status line, the
headers and the first bytes of the body go out, then the RST), or hang until the plan is cleared.
`redeploy(iflow, seconds)` answers 404 until the emulator clock has moved past the redeployment, as an
undeployed flow does.

The target `cf-jobs` is not an HTTP endpoint but the Cloud Foundry jobs of the emulated landscape (service
instance and key creation and deletion): `hang` keeps the jobs it hits in PROCESSING until the plan is
cleared, `latency=S` lets them finish only after S seconds of the emulator clock; `share` and `times`
choose which jobs, counted as they are created.

Shares are exact and deterministic (every 1/share-th matching call, Bresenham style), not random, so a
test that injects 5 % of 503s gets exactly 5 in 100 calls. Faults of one target are tried in the order they
were injected; the first that fires acts alone and the later ones do not count that request.
"""

from __future__ import annotations

import errno
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from werkzeug.wrappers import Request, Response

ENDPOINTS: Final = ("token", "cf", "api", "backend")
JOBS: Final = "cf-jobs"  # the CF jobs of the emulated landscape, not an HTTP endpoint
FAULT_STATUSES: Final = frozenset({404, 429, 500, 502, 503, 504})
_SPEC_KEYS: Final = (
    "status",
    "share",
    "retry_after",
    "reset",
    "reset_after_bytes",
    "latency",
    "hang",
    "times",
    "client",
    "methods",
)
# Where the server finds how much of the answer to send before a mid-body reset.
_CUT_AFTER: Final = "iflowtest.reset_after_bytes"
# The environ key of the server's callable that makes the connection's close a TCP RST (see `serving`).
RESET: Final = "iflowtest.reset"


@dataclass
class Fault:
    """One injected fault on one target; `times` limits it to the first N calls it hits."""

    status: int | None = None
    share: float = 1.0
    retry_after: int | None = None
    reset: bool = False
    reset_after_bytes: int | None = None  # reset mid-body: after the headers and this many body bytes
    latency: float = 0.0
    hang: bool = False
    times: int | None = None
    client: str | None = None  # token endpoint: only this client id
    methods: frozenset[str] | None = None
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in FAULT_STATUSES:
            raise ValueError(f"status {self.status} is not injectable: use one of {sorted(FAULT_STATUSES)}")
        if not 0.0 < self.share <= 1.0:
            raise ValueError(f"share must be in (0, 1], got {self.share!r}")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError(f"retry_after must be ≥ 0 seconds, got {self.retry_after!r}")
        if self.latency < 0 or not math.isfinite(self.latency):
            raise ValueError(f"latency must be a finite number of seconds ≥ 0, got {self.latency!r}")
        if self.times is not None and self.times < 1:
            raise ValueError(f"times must be ≥ 1, got {self.times!r}")
        if self.reset_after_bytes is not None and self.reset_after_bytes < 0:
            raise ValueError(f"reset_after_bytes must be ≥ 0, got {self.reset_after_bytes!r}")
        if self.reset and self.reset_after_bytes is not None:
            raise ValueError(
                "reset and reset_after_bytes exclude each other: reset drops the connection before the answer, "
                "reset_after_bytes in the middle of its body"
            )
        if self.status is None and not (self.reset or self.reset_after_bytes is not None or self.latency or self.hang):
            raise ValueError("a fault needs at least one of status, reset, reset_after_bytes, latency or hang")

    def describe(self) -> str:
        """The settings of this fault in the `--fault` syntax (without the target)."""
        parts = []
        for name in _SPEC_KEYS:
            value = getattr(self, name)
            if (
                value is None
                or (value in (False, 0.0) and name != "reset_after_bytes")
                or (name, value) == ("share", 1.0)
            ):
                continue
            if name == "methods":
                value = "+".join(sorted(value))
            parts.append(
                name if value is True else f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
            )
        return ",".join(parts)

    def hits(self, method: str, client: str | None) -> bool:
        """Count one matching call and say whether this fault fires on it."""
        if self.methods is not None and method not in self.methods:
            return False
        if self.client is not None and client != self.client:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.seen += 1
        # Exact share: fire when floor(seen * share) steps up.
        if math.floor(self.seen * self.share) > math.floor((self.seen - 1) * self.share):
            self.fired += 1
            return True
        return False


class ConnectionResetFault(ConnectionResetError):
    """Raised inside the server thread to drop the connection after it was reset on purpose."""


class FaultPlan:
    """The faults of one emulator, thread-safe; the server asks it before dispatching each request."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._faults: dict[str, list[Fault]] = {}
        self._undeployed: dict[str, tuple[float, int]] = {}  # iFlow -> (until, status)
        self._release = threading.Event()

    def inject(self, target: str, fault: Fault) -> Fault:
        """Add `fault` to `target` (an iFlow name or an endpoint); returns it, to read `fired` later."""
        check_target(target, fault)
        with self._lock:
            self._faults.setdefault(target, []).append(fault)
            self._release.clear()
        return fault

    def redeploy(self, iflow: str, seconds: float, status: int = 404) -> None:
        """Answer `status` (404 or 503) for `iflow` until the emulator clock has moved `seconds` on."""
        if seconds <= 0:
            raise ValueError(f"seconds must be > 0, got {seconds!r}")
        if status not in (404, 503):
            raise ValueError(f"an undeployed iFlow answers 404 or 503, got {status!r}")
        with self._lock:
            self._undeployed[iflow] = (self._now() + seconds, status)

    def injected(self, target: str) -> list[Fault]:
        """The faults on `target` now, in injection order (to read their `fired` counts)."""
        with self._lock:
            return list(self._faults.get(target, ()))

    def job_fault(self) -> Fault | None:
        """The `cf-jobs` fault that hits a CF job being created now, if one does (counts the job)."""
        with self._lock:
            return next((f for f in self._faults.get(JOBS, ()) if f.hits("", None)), None)

    def job_delay(self, fault: Fault) -> float | None:
        """How long a job hit by `fault` takes (inf: never finishes); None once the fault was cleared."""
        with self._lock:
            if not any(f is fault for f in self._faults.get(JOBS, ())):
                return None
        return math.inf if fault.hang else fault.latency

    def clear(self) -> None:
        """Remove every fault and release hanging requests."""
        with self._lock:
            self._faults.clear()
            self._undeployed.clear()
        self._release.set()

    def apply(self, request: Request, target: str | None, client: str | None) -> Response | None:
        """Run the faults for one request: None to serve it normally, a Response to answer instead.

        Latency and hangs wait here, in the server's request thread; a reset raises `ConnectionResetFault`.
        A mid-body reset is marked on the request's environ for `cut_short`, which the server wraps around
        the answer's body.
        """
        if target is None:
            return None
        with self._lock:
            until, status = self._undeployed.get(target, (None, 404))
            if until is not None and self._now() >= until:
                del self._undeployed[target]
                until = None
            # The first fault that fires acts alone; the later ones do not see this request.
            fired = next((f for f in self._faults.get(target, ()) if f.hits(request.method, client)), None)
        if until is not None:
            from iflowtest.emulator.runtime import tomcat_page  # runtime imports nothing from here

            if status == 503:
                return tomcat_page(503, f"The requested service [{request.path}] is not available")
            return tomcat_page(404, f"The requested resource [{request.path}] is not available")
        if fired is None:
            return None
        if fired.hang:
            self._release.wait()
        elif fired.latency:
            self._release.wait(fired.latency)  # waits in the server thread; clear() cuts it short
        if fired.reset:
            reset_connection(request.environ)
        if fired.reset_after_bytes is not None:
            request.environ[_CUT_AFTER] = fired.reset_after_bytes
        if fired.status is not None:
            headers = {"Retry-After": str(fired.retry_after)} if fired.retry_after is not None else None
            return Response(
                f"injected fault: HTTP {fired.status} for {target}\n",
                status=fired.status,
                content_type="text/plain;charset=UTF-8",
                headers=headers,
            )
        return None


def reset_connection(environ: Mapping[str, Any], *, mid_body: bool = False) -> None:
    """Drop the request's connection with a TCP RST instead of an answer.

    The server's `RESET` callable sets SO_LINGER 0 and marks the connection, so closing it sends RST; the
    ECONNRESET raised here is what the server takes for a dropped connection: it ends keep-alive and closes.
    """
    drop = environ.get(RESET)
    if callable(drop):
        drop(mid_body)
    raise ConnectionResetFault(errno.ECONNRESET, "connection reset by an injected fault")


def cut_short(environ: Mapping[str, Any], body: Iterable[bytes]) -> Iterable[bytes]:
    """The answer's body as the server sends it: whole, or cut off by an injected mid-body reset."""
    limit = environ.get(_CUT_AFTER)
    if limit is None:
        return body
    return _cut(environ, body, limit)


def _cut(environ: Mapping[str, Any], body: Iterable[bytes], limit: int) -> Iterator[bytes]:
    # Werkzeug sends the status line and headers with the first chunk, so the reset comes after them.
    try:
        whole = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    if not whole:
        return  # nothing to cut (HEAD, 204): the answer goes out whole
    yield whole[: min(limit, len(whole) - 1)]  # at least one byte short, or the answer would be complete
    reset_connection(environ, mid_body=True)


def check_target(target: str, fault: Fault) -> None:
    """Raise ValueError when `fault` has settings its target cannot act on (`cf-jobs` takes few)."""
    if target != JOBS:
        return
    f = fault
    http_only = (f.status, f.retry_after, f.reset_after_bytes, f.client, f.methods) != (None,) * 5 or f.reset
    if http_only or not (f.hang or f.latency):
        raise ValueError(
            f"{JOBS} takes hang (jobs never finish) or latency=S (jobs finish after S seconds of the emulator "
            f"clock), with share and times; got {fault.describe()}: for the answers of the CF API use the target cf"
        )


def parse_fault(text: str) -> tuple[str, Fault]:
    """Parse `TARGET:key=value,...` (the `iflowtest emulator --fault` syntax) into a target and a Fault.

    Keys: status, share, retry_after, reset, reset_after_bytes, latency, hang, times, client, methods (`GET+HEAD`).
    Flags (`reset`, `hang`) may stand alone. Raises ValueError with the reason and the expected form.
    """
    form = "expected TARGET:key=value,... such as 'ReadCostCenters:status=503,share=0.05' or 'token:reset'"
    target, sep, spec = text.partition(":")
    target = target.strip()
    if not sep or not target or not spec.strip():
        raise ValueError(f"fault {text!r} has no target or no settings: {form}")
    values: dict[str, Any] = {}
    for part in spec.split(","):
        key, has_value, value = (s.strip() for s in part.partition("="))
        if key not in _SPEC_KEYS:
            raise ValueError(f"fault {text!r}: unknown setting {key!r}; known: {', '.join(_SPEC_KEYS)}")
        if key in values:
            raise ValueError(f"fault {text!r}: setting {key!r} given twice")
        try:
            if key in ("reset", "hang"):
                if has_value and value.lower() not in ("1", "true", "yes", "on"):  # as the harness reads flags
                    raise ValueError
                values[key] = True
            elif key in ("status", "retry_after", "times", "reset_after_bytes"):
                values[key] = int(value)
            elif key in ("share", "latency"):
                values[key] = float(value)
            elif key == "methods":
                values[key] = frozenset(m.strip().upper() for m in value.split("+") if m.strip()) or None
            else:
                values[key] = value or None
        except ValueError:
            raise ValueError(f"fault {text!r}: {key}={value!r} is not a valid {key}; {form}") from None
    try:
        fault = Fault(**values)
        check_target(target, fault)
        return target, fault
    except ValueError as exc:
        raise ValueError(f"fault {text!r}: {exc}") from None
