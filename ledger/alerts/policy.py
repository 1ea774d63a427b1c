"""When to try a failed delivery again: exponential backoff with full jitter.

After the n-th failed attempt the next one waits a random time in
`[0, min(cap, base * 2**(n-1))]` ("full jitter": spreads the retries of many deliveries
that failed together, so a receiver coming back is not hit by all at once), but at least
`MIN_DELAY`, so one delivery round never retries what it just tried. After
`max_attempts` failed attempts the delivery is dead.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

#: Draws a delay in seconds from [0, ceiling]; injectable so tests are deterministic.
Jitter = Callable[[float], float]

MIN_DELAY: Final = timedelta(seconds=1)


def full_jitter(ceiling: float) -> float:
    """A uniformly random delay in [0, ceiling] (timing, not a secret: any PRNG will do)."""
    return random.SystemRandom().uniform(0.0, ceiling)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff base and cap, and how many attempts a delivery gets in all.

    Raises ValueError for a base that is not positive, a cap below the base, or fewer
    than one attempt.
    """

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 8
    jitter: Jitter = field(default=full_jitter, compare=False)

    def __post_init__(self) -> None:
        if self.base <= timedelta(0):
            raise ValueError(f"backoff base must be positive, not {self.base}")
        if self.cap < self.base:
            raise ValueError(f"backoff cap {self.cap} is below the base {self.base}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")

    def ceiling(self, failed_attempts: int) -> timedelta:
        """The longest wait after `failed_attempts` (>= 1) failures: base·2^(n-1), capped."""
        if failed_attempts < 1:
            raise ValueError("a delay follows at least one failed attempt")
        # Compare in float seconds first: base * 2**n overflows timedelta for large n.
        doubling = 2.0 ** min(failed_attempts - 1, 1000)
        if self.base.total_seconds() * doubling >= self.cap.total_seconds():
            return self.cap
        return self.base * (1 << (failed_attempts - 1))

    def delay(self, failed_attempts: int) -> timedelta:
        """The wait before the next attempt after `failed_attempts` failures: a jitter
        draw from [0, ceiling] (a draw outside is clamped), at least MIN_DELAY."""
        ceiling = self.ceiling(failed_attempts).total_seconds()
        drawn = min(max(self.jitter(ceiling), 0.0), ceiling)
        return max(MIN_DELAY, timedelta(seconds=drawn))

    def gives_up_after(self, attempts: int) -> bool:
        """True when a delivery that failed `attempts` times is dead."""
        return attempts >= self.max_attempts
