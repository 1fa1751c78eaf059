"""Pure retry policy: how many attempts, how long to back off, when a 429 says to come back.

Nothing here sleeps or does I/O: the engine reads the clock, asks these functions and waits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from bulksend.errors import ConfigError

# Beyond 2**60 the cap has long since applied; stopping there keeps the float maths finite.
_MAX_EXPONENT = 60

# The documented body: "... Please try after 2026-04-24 12:34:56 UTC." (octopods-api.md, section 3).
# A "T" separator, fractional seconds and any zone word or none (always read as UTC) are accepted.
_TRY_AFTER = re.compile(
    r"try\s+after\s+(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?",
    re.IGNORECASE,
)
_DELTA_SECONDS = re.compile(r"\s*(\d+(?:\.\d+)?)\s*")

# The 429 time has whole-second resolution and the API does not say whether the named second is
# inclusive, so a run resumes only once that second has passed (octopods-api.md section 3).
RESOLUTION_S = 1.0


@dataclass(frozen=True)
class RetryPolicy:
    """Retries for transient trouble (5xx, connection refused or reset before sending).

    ``attempts_made`` counts requests already made for the row, the first one included.
    """

    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if not (self.backoff_base_s >= 0 and self.backoff_max_s >= 0):
            raise ConfigError("backoff times must be zero or more seconds")

    def can_retry(self, attempts_made: int) -> bool:
        """True while another attempt stays within ``max_attempts``."""
        return attempts_made < self.max_attempts

    def backoff_cap_s(self, attempts_made: int) -> float:
        """The upper bound of the jittered wait after ``attempts_made`` attempts."""
        exponent = min(max(attempts_made, 1) - 1, _MAX_EXPONENT)
        return min(self.backoff_max_s, self.backoff_base_s * 2.0**exponent)

    def backoff_s(self, attempts_made: int, *, random_fraction: float) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(n-1))); ``random_fraction`` in [0, 1).

        The caller supplies the random number (``random.random()``), so tests need no seeding.
        """
        if not 0.0 <= random_fraction < 1.0:
            raise ValueError(f"random_fraction must be in [0, 1), not {random_fraction}")
        return random_fraction * self.backoff_cap_s(attempts_made)


def rate_limit_wait_s(
    retry_at: datetime | None,
    *,
    now_utc: datetime,
    times_limited: int,
    policy: RetryPolicy,
    jitter_fraction: float,
    backoff_fraction: float,
    fallback_s: float = 1.0,
) -> float:
    """Seconds to wait after a 429: until the second it names has passed, plus up to 1 s of jitter.

    A 429 that names no time backs off exponentially (``policy``, full jitter) but at least
    ``fallback_s``. ``times_limited`` counts the 429s met so far, this one included; both
    fractions are ``random.random()`` draws in [0, 1), supplied by the caller.
    """
    if not 0.0 <= jitter_fraction < 1.0:
        raise ValueError(f"jitter_fraction must be in [0, 1), not {jitter_fraction}")
    if retry_at is not None:
        return seconds_until(retry_at, now_utc=now_utc) + jitter_fraction
    backoff = policy.backoff_s(times_limited, random_fraction=backoff_fraction)
    return max(fallback_s, backoff) + jitter_fraction


def parse_retry_at(
    body_text: str | None, headers: Mapping[str, str], *, now_utc: datetime
) -> datetime | None:
    """The UTC time a 429 answer says to come back, or None when it names none.

    Reads the body's "Please try after YYYY-MM-DD HH:MM:SS UTC" and a ``Retry-After`` header
    (delta-seconds or HTTP-date); when both are present the later one wins. ``now_utc`` anchors
    a delta-seconds header. The result is an aware datetime in UTC.
    """
    candidates = [_retry_at_from_body(body_text), _retry_at_from_header(headers, now_utc=now_utc)]
    found = [moment for moment in candidates if moment is not None]
    return max(found) if found else None


def seconds_until(retry_at: datetime, *, now_utc: datetime) -> float:
    """Seconds to wait so that the second named by ``retry_at`` has fully passed; never negative.

    The wait ends at ``retry_at + 1 s``: the API names whole seconds and does not say whether that
    second is still blocked, so resuming only after it has passed is the safe reading.
    """
    remaining = (_as_utc(retry_at) - _as_utc(now_utc)).total_seconds() + RESOLUTION_S
    return max(0.0, remaining)


def _retry_at_from_body(body_text: str | None) -> datetime | None:
    if not body_text:
        return None
    match = _TRY_AFTER.search(body_text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction = match.group(7) or ""
    microsecond = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)
    except ValueError:  # 2026-13-45 and the like: nothing usable
        return None


def _retry_at_from_header(headers: Mapping[str, str], *, now_utc: datetime) -> datetime | None:
    value = _header(headers, "retry-after")
    if value is None:
        return None
    delta = _DELTA_SECONDS.fullmatch(value)
    if delta is not None:
        seconds = float(delta.group(1))
        if not math.isfinite(seconds):
            return None
        try:
            return _as_utc(now_utc) + timedelta(seconds=seconds)
        except OverflowError:
            return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # an HTTP-date is always GMT (RFC 9110 section 5.6.7)
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC: this module never mixes in local time."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works on plain dicts as well as requests' headers."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
