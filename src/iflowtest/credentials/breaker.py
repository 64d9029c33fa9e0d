"""A circuit breaker per client for its token endpoint: one clear cause, not one token request per test.

When a client's token endpoint fails (unreachable, answering 5xx or no token), the breaker opens: for `cooldown` seconds every later test of that client fails at once with the same cause, and no
request is sent. After the cooldown one request is let through (half-open): success closes the breaker,
failure opens it again. A rejected client (wrong secret) does not trip it: each test reports that
itself, and replayed cassettes hold one token answer per test. Other clients have their own breakers and keep running. Hand-written: the
libraries for this (pybreaker, circuitbreaker) wrap functions and count failures across calls, while what
is needed here is "remember the first error and repeat it", tied to the token's own lock and clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from iflowtest.errors import TokenEndpointError

DEFAULT_COOLDOWN: Final = 60.0


class CircuitBreaker:
    """Remembers a client's token failure and repeats it without a request until the cooldown is over.

    Not locked itself: the `OAuthToken` calls it under its own lock.
    """

    def __init__(
        self, client_name: str, *, cooldown: float = DEFAULT_COOLDOWN, clock: Callable[[], float] = time.monotonic
    ):
        self.client_name = client_name
        self.cooldown = cooldown
        self._clock = clock
        self._error: TokenEndpointError | None = None
        self._opened_at = 0.0
        self.short_circuited = 0  # requests not sent while open

    @property
    def is_open(self) -> bool:
        """Whether calls are being refused without a request right now."""
        return self._error is not None and self._clock() - self._opened_at < self.cooldown

    def check(self) -> None:
        """Raise the remembered failure (same class, same cause) while the breaker is open."""
        if self._error is None or not self.is_open:
            return
        self.short_circuited += 1
        waited = self._clock() - self._opened_at
        error = type(self._error)(
            f"{self._error} [circuit open for client {self.client_name!r}: the token request failed {waited:.0f} s "
            f"ago, so this test sent none; the next attempt is made {self.cooldown:g} s after the failure]"
        )
        raise error

    def trip(self, error: TokenEndpointError) -> None:
        """Open (or re-open) the breaker with `error` as the cause."""
        self._error = error
        self._opened_at = self._clock()

    def close(self) -> None:
        """A token was obtained: let every call through again."""
        self._error = None
