"""Rows left pending by a crash: matched against the message list by phone and time."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from bulksend.reconcile import Listed, listed_messages, parse_utc, reconcile
from bulksend.results import Outcome, ResultRecord

NOW = "2026-05-02T10:00:00.000Z"


def pending(row: int, phone: str, at: str) -> ResultRecord:
    return ResultRecord(
        row=row, phone=phone, outcome=Outcome.PENDING, identity=phone, updated_at=at
    )


def listed(message_id: str, phone: str, at: str) -> Listed:
    moment = parse_utc(at)
    assert moment is not None
    return Listed(message_id, phone.lstrip("+"), moment)


def test_a_listed_message_after_the_pending_line_is_that_rows_message() -> None:
    decided = reconcile(
        [pending(2, "+447700900123", "2026-05-02T09:00:00.500Z")],
        [listed("51", "+447700900123", "2026-05-02T09:00:01Z")],
        recorded_message_ids=set(),
        now_iso=NOW,
    )
    assert [(r.outcome, r.message_id, r.row) for r in decided] == [(Outcome.SENT, "51", 2)]


def test_a_message_sent_before_the_pending_line_is_an_older_send() -> None:
    decided = reconcile(
        [pending(2, "+447700900123", "2026-05-02T09:00:00Z")],
        [listed("51", "+447700900123", "2026-05-02T08:00:00Z")],
        recorded_message_ids=set(),
        now_iso=NOW,
    )
    assert decided[0].outcome is Outcome.UNCERTAIN
    assert "--resend-uncertain" in decided[0].error


def test_a_small_clock_skew_is_allowed() -> None:
    decided = reconcile(
        [pending(2, "+447700900123", "2026-05-02T09:00:03Z")],
        [listed("51", "+447700900123", "2026-05-02T09:00:00Z")],
        recorded_message_ids=set(),
        now_iso=NOW,
    )
    assert decided[0].outcome is Outcome.SENT


def test_an_already_recorded_message_is_not_claimed_twice() -> None:
    decided = reconcile(
        [pending(2, "+447700900123", "2026-05-02T09:00:00Z")],
        [listed("51", "+447700900123", "2026-05-02T09:00:01Z")],
        recorded_message_ids={"51"},
        now_iso=NOW,
    )
    assert decided[0].outcome is Outcome.UNCERTAIN


def test_each_listed_message_matches_one_row_only() -> None:
    """Two rows (key columns) for one phone and a single listed send: one stays uncertain."""
    rows = [
        pending(2, "+447700900123", "2026-05-02T09:00:00Z"),
        pending(3, "+447700900123", "2026-05-02T09:00:00.100Z"),
    ]
    decided = reconcile(
        rows,
        [listed("51", "+447700900123", "2026-05-02T09:00:01Z")],
        recorded_message_ids=set(),
        now_iso=NOW,
    )
    assert sorted(r.outcome for r in decided) == [Outcome.SENT, Outcome.UNCERTAIN]


def test_listing_items_without_an_id_phone_or_time_are_ignored() -> None:
    items = [
        {"message_id": "1", "phone_number": "+1555", "sent_at": "2026-05-02T09:00:00Z"},
        {"message_id": "", "phone_number": "+1555", "sent_at": "2026-05-02T09:00:00Z"},
        {"message_id": "2", "phone_number": "", "sent_at": "2026-05-02T09:00:00Z"},
        {"message_id": "3", "phone_number": "+1555", "sent_at": "yesterday"},
    ]
    assert [item.message_id for item in listed_messages(items)] == ["1"]


@given(
    offsets=st.lists(st.integers(min_value=-100, max_value=100), min_size=1, max_size=8),
    listed_offsets=st.lists(st.integers(min_value=-100, max_value=100), max_size=8),
)
def test_reconciliation_never_invents_or_reuses_a_message(
    offsets: list[int], listed_offsets: list[int]
) -> None:
    base = dt.datetime(2026, 5, 2, 9, tzinfo=dt.UTC)

    def at(offset: int) -> str:
        return (base + dt.timedelta(seconds=offset)).isoformat().replace("+00:00", "Z")

    rows = [pending(n, "+447700900123", at(o)) for n, o in enumerate(offsets, start=2)]
    items = [listed(str(100 + i), "+447700900123", at(o)) for i, o in enumerate(listed_offsets)]
    decided = reconcile(rows, items, recorded_message_ids=set(), now_iso=NOW)
    ids = [r.message_id for r in decided if r.outcome is Outcome.SENT]
    assert len(ids) == len(set(ids)) <= len(items)
    assert {r.row for r in decided} == {r.row for r in rows}
    for record in decided:
        if record.outcome is Outcome.SENT:
            item = next(i for i in items if i.message_id == record.message_id)
            started = parse_utc(next(r for r in rows if r.row == record.row).updated_at)
            assert started is not None and item.sent_at >= started - dt.timedelta(seconds=5)
