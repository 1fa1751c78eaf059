"""The pure retry policy: backoff with full jitter and the 429 retry time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulksend.errors import ConfigError
from bulksend.retry import (
    RESOLUTION_S,
    RetryPolicy,
    parse_retry_at,
    rate_limit_wait_s,
    seconds_until,
)

NOW = datetime(2026, 4, 24, 12, 30, 0, tzinfo=UTC)
DOCUMENTED_BODY = (
    '{"message": "You have fired too many requests. Please try after 2026-04-24 12:34:56 UTC."}'
)


def test_can_retry_until_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.can_retry(n) for n in (1, 2, 3, 4)] == [True, True, False, False]


def test_single_attempt_policy_never_retries() -> None:
    assert not RetryPolicy(max_attempts=1).can_retry(1)


def test_max_attempts_below_one_is_refused() -> None:
    with pytest.raises(ConfigError, match="max_attempts must be at least 1"):
        RetryPolicy(max_attempts=0)


def test_backoff_cap_doubles_until_the_maximum() -> None:
    policy = RetryPolicy(backoff_base_s=0.5, backoff_max_s=5.0)
    caps = [policy.backoff_cap_s(n) for n in range(1, 7)]
    assert caps == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_backoff_is_the_fraction_of_the_cap() -> None:
    """Full jitter: the wait scales linearly with the injected random fraction."""
    policy = RetryPolicy(backoff_base_s=0.5, backoff_max_s=30.0)
    assert policy.backoff_s(3, random_fraction=0.0) == 0.0
    assert policy.backoff_s(3, random_fraction=0.5) == pytest.approx(1.0)
    assert policy.backoff_s(3, random_fraction=0.999) == pytest.approx(1.998)


def test_backoff_refuses_fraction_outside_unit_interval() -> None:
    with pytest.raises(ValueError, match="random_fraction"):
        RetryPolicy().backoff_s(1, random_fraction=1.0)


@given(
    attempts=st.integers(min_value=-5, max_value=10_000),
    fraction=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    base=st.floats(min_value=0.0, max_value=100.0),
    maximum=st.floats(min_value=0.0, max_value=3600.0),
)
def test_backoff_stays_within_bounds(
    attempts: int, fraction: float, base: float, maximum: float
) -> None:
    policy = RetryPolicy(backoff_base_s=base, backoff_max_s=maximum)
    wait = policy.backoff_s(attempts, random_fraction=fraction)
    assert 0.0 <= wait <= maximum
    assert wait <= base * 2.0 ** min(max(attempts, 1) - 1, 60)


@given(attempts=st.integers(min_value=1, max_value=200))
def test_backoff_cap_never_shrinks_with_more_attempts(attempts: int) -> None:
    policy = RetryPolicy()
    assert policy.backoff_cap_s(attempts + 1) >= policy.backoff_cap_s(attempts)


def test_documented_429_body_gives_its_utc_time() -> None:
    retry_at = parse_retry_at(DOCUMENTED_BODY, {}, now_utc=NOW)
    assert retry_at == datetime(2026, 4, 24, 12, 34, 56, tzinfo=UTC)
    assert retry_at is not None and retry_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "body",
    [
        "You have fired too many requests. Please try after 2026-04-24 12:34:56 UTC",
        "You have fired too many requests. Please try after 2026-04-24T12:34:56 UTC.",
        "You have fired too many requests. Please try after 2026-04-24T12:34:56Z",
        "please TRY AFTER 2026-04-24 12:34:56 UTC.",
    ],
)
def test_429_body_variants_are_accepted(body: str) -> None:
    assert parse_retry_at(body, {}, now_utc=NOW) == datetime(2026, 4, 24, 12, 34, 56, tzinfo=UTC)


def test_429_body_with_fractional_seconds() -> None:
    body = "Please try after 2026-04-24 12:34:56.250 UTC."
    assert parse_retry_at(body, {}, now_utc=NOW) == datetime(
        2026, 4, 24, 12, 34, 56, 250_000, tzinfo=UTC
    )


def test_retry_after_seconds_header_counts_from_now() -> None:
    assert parse_retry_at(None, {"Retry-After": "7"}, now_utc=NOW) == NOW + timedelta(seconds=7)


def test_retry_after_header_name_is_case_insensitive() -> None:
    assert parse_retry_at("", {"retry-after": "3"}, now_utc=NOW) == NOW + timedelta(seconds=3)


def test_retry_after_http_date_header() -> None:
    headers = {"Retry-After": "Fri, 24 Apr 2026 12:40:00 GMT"}
    assert parse_retry_at(None, headers, now_utc=NOW) == datetime(2026, 4, 24, 12, 40, tzinfo=UTC)


def test_retry_after_http_date_in_another_zone_is_converted_to_utc() -> None:
    headers = {"Retry-After": "Fri, 24 Apr 2026 14:40:00 +0200"}
    retry_at = parse_retry_at(None, headers, now_utc=NOW)
    assert retry_at == datetime(2026, 4, 24, 12, 40, tzinfo=UTC)
    assert retry_at is not None and retry_at.tzinfo == UTC


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2", datetime(2026, 4, 24, 12, 34, 56, tzinfo=UTC)),  # body later
        ("600", NOW + timedelta(seconds=600)),  # header later
        ("Fri, 24 Apr 2026 12:35:30 GMT", datetime(2026, 4, 24, 12, 35, 30, tzinfo=UTC)),
    ],
)
def test_body_and_header_together_the_later_wins(header: str, expected: datetime) -> None:
    assert parse_retry_at(DOCUMENTED_BODY, {"Retry-After": header}, now_utc=NOW) == expected


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (None, {}),
        ("", {}),
        ("Too many requests", {}),
        ("Please try after tomorrow", {"Retry-After": "soon"}),
        ("Please try after 2026-13-45 99:99:99 UTC.", {"Retry-After": "-5"}),
        ("<html>502 Bad Gateway</html>", {"Content-Type": "text/html", "Retry-After": ""}),
    ],
)
def test_unparseable_answers_give_none(body: str | None, headers: dict[str, str]) -> None:
    assert parse_retry_at(body, headers, now_utc=NOW) is None


@given(body=st.text(max_size=200), header=st.text(max_size=40))
def test_arbitrary_text_never_raises(body: str, header: str) -> None:
    result = parse_retry_at(body, {"Retry-After": header}, now_utc=NOW)
    assert result is None or result.tzinfo is not None


def test_seconds_until_waits_for_the_named_second_to_pass() -> None:
    retry_at = datetime(2026, 4, 24, 12, 34, 56, tzinfo=UTC)
    assert seconds_until(retry_at, now_utc=retry_at - timedelta(seconds=10)) == 11.0
    assert seconds_until(retry_at, now_utc=retry_at) == 1.0
    assert seconds_until(retry_at, now_utc=retry_at + timedelta(seconds=0.25)) == 0.75


def test_seconds_until_handles_other_zones() -> None:
    retry_at = datetime(2026, 4, 24, 12, 34, 56, tzinfo=UTC)
    now_elsewhere = datetime(2026, 4, 24, 14, 34, 50, tzinfo=timezone(timedelta(hours=2)))
    assert seconds_until(retry_at, now_utc=now_elsewhere) == 7.0


@given(
    retry_offset_s=st.floats(min_value=-1e6, max_value=1e6),
)
def test_seconds_until_is_never_negative(retry_offset_s: float) -> None:
    retry_at = NOW + timedelta(seconds=retry_offset_s)
    assert seconds_until(retry_at, now_utc=NOW) >= 0.0


def test_wait_after_a_429_ends_after_the_named_second_plus_jitter() -> None:
    retry_at = NOW + timedelta(seconds=10)
    wait_s = rate_limit_wait_s(
        retry_at,
        now_utc=NOW,
        times_limited=1,
        policy=RetryPolicy(),
        jitter_fraction=0.25,
        backoff_fraction=0.9,
    )
    assert wait_s == pytest.approx(10 + RESOLUTION_S + 0.25)


def test_wait_after_a_429_naming_no_time_backs_off_but_at_least_the_fallback() -> None:
    policy = RetryPolicy(backoff_base_s=1.0, backoff_max_s=30.0)
    waits = [
        rate_limit_wait_s(
            None,
            now_utc=NOW,
            times_limited=n,
            policy=policy,
            jitter_fraction=0.0,
            backoff_fraction=0.5,
        )
        for n in (1, 2, 3, 4, 5)
    ]
    assert waits == [1.0, 1.0, 2.0, 4.0, 8.0]


@given(
    offset_s=st.floats(min_value=-600, max_value=600),
    times_limited=st.integers(min_value=1, max_value=100),
    jitter=st.floats(min_value=0.0, max_value=0.999),
    backoff=st.floats(min_value=0.0, max_value=0.999),
    named=st.booleans(),
)
def test_wait_after_a_429_is_bounded(
    offset_s: float, times_limited: int, jitter: float, backoff: float, named: bool
) -> None:
    """At least the jitter, never more than the named time + 2 s or the backoff cap + 1 s."""
    policy = RetryPolicy()
    retry_at = NOW + timedelta(seconds=offset_s) if named else None
    wait_s = rate_limit_wait_s(
        retry_at,
        now_utc=NOW,
        times_limited=times_limited,
        policy=policy,
        jitter_fraction=jitter,
        backoff_fraction=backoff,
    )
    assert wait_s >= jitter
    bound = max(offset_s, 0) + 2.0 if named else max(1.0, policy.backoff_max_s) + 1.0
    assert wait_s <= bound + 1e-9
