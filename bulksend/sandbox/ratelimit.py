"""Per-key rate limit: at most N requests in any W-second span, then a block until a named second.

The 429 names ``ceil(lift)``, where ``lift`` is when the oldest counted request leaves the
window. The API does not say whether the named second is still blocked (octopods-api.md 3); the
sandbox takes the strict reading, so a client that resumes only after that second has passed is
never refused again, and one that resumes inside it is. Refused requests do not count.
Not thread-safe by itself: the sandbox calls it under its own lock.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

RATE_LIMIT_TEXT = "You have fired too many requests. Please try after {when} UTC."


@dataclass(frozen=True)
class RateVerdict:
    allowed: bool
    retry_after: float | None = None  # the named second (epoch seconds) when refused

    @property
    def message(self) -> str:
        """The documented 429 text, with the named second in UTC."""
        if self.retry_after is None:
            return ""
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.retry_after))
        return RATE_LIMIT_TEXT.format(when=when)


ALLOWED = RateVerdict(allowed=True)


class RateLimiter:
    """Sliding-window log per key, plus the block each key is under."""

    def __init__(self, limit: tuple[int, float] | None) -> None:
        self._limit = limit
        self._hits: dict[str, deque[float]] = {}
        self._named_second: dict[str, float] = {}

    @property
    def limit(self) -> tuple[int, float] | None:
        return self._limit

    def set_limit(self, limit: tuple[int, float] | None) -> None:
        """Change the ceiling; requests already counted stay counted, blocks stay."""
        self._limit = limit

    def check(self, key: str, now: float) -> RateVerdict:
        """Count this request for ``key`` at ``now``, or refuse it (then it is not counted)."""
        if self._limit is None:
            return ALLOWED
        named = self._named_second.get(key)
        if named is not None:
            if now < named + 1:
                return RateVerdict(allowed=False, retry_after=named)
            del self._named_second[key]
        count, window_s = self._limit
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - window_s:
            hits.popleft()
        if len(hits) >= count:
            named = float(math.ceil(hits[0] + window_s))
            self._named_second[key] = named
            return RateVerdict(allowed=False, retry_after=named)
        hits.append(now)
        return ALLOWED
