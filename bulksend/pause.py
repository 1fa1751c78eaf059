"""What every run does on a 429, send and status alike: one function, so they cannot drift.

The wait is ``retry.rate_limit_wait_s`` (until the second the answer names has passed, plus up
to 1 s of jitter; exponential backoff of at least ``fallback_s`` when it names none), and it is
applied to the run's shared ``Pacer`` (``Pacer.rate_limited``): every worker holds, and the rate
drops below what the API refused, measured up to when the refused request left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from bulksend.retry import RetryPolicy, rate_limit_wait_s

if TYPE_CHECKING:
    from bulksend.answers import ApiAnswer
    from bulksend.pacing import Pacer


def pause_after_429(
    pacer: Pacer,
    answer: ApiAnswer,
    *,
    times_limited: int,
    latency_s: float,
    policy: RetryPolicy,
    utc_now: Callable[[], dt.datetime],
    random_fraction: Callable[[], float],
    fallback_s: float,
) -> float:
    """Pause every user of ``pacer`` after the 429 ``answer``; returns the pause in seconds.

    ``times_limited`` counts the 429s this request met, this one included; ``latency_s`` is how
    long the refused request was in flight.
    """
    wait_s = rate_limit_wait_s(
        answer.retry_at,
        now_utc=utc_now(),
        times_limited=times_limited,
        policy=policy,
        jitter_fraction=random_fraction(),  # spreads the workers' restarts over 1 s
        backoff_fraction=random_fraction(),
        fallback_s=fallback_s,
    )
    pacer.rate_limited(wait_s, latency_s=latency_s)
    return wait_s
