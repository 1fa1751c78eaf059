"""The run's compact view of the results file: last outcome per identity, claims, kept records."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from bulksend.checkpoint import Checkpoint
from bulksend.results import Outcome, ResultRecord


def line(row: int, identity: str, outcome: Outcome, **fields: object) -> ResultRecord:
    return ResultRecord(row=row, phone=identity, outcome=outcome, identity=identity, **fields)  # type: ignore[arg-type]


def test_the_last_line_per_identity_wins() -> None:
    checkpoint = Checkpoint.load(
        [line(2, "+1", Outcome.PENDING), line(3, "+2", Outcome.FAILED), line(2, "+1", Outcome.SENT)]
    )
    assert checkpoint.outcome("+1") is Outcome.SENT
    assert checkpoint.outcome("+2") is Outcome.FAILED
    assert checkpoint.outcome("+3") is None
    assert checkpoint.counts() == Counter({Outcome.SENT: 1, Outcome.FAILED: 1})


def test_whole_records_are_kept_only_while_a_row_is_unfinished() -> None:
    """Failed, uncertain and pending rows keep their record (attempts, reconciliation); a row
    that becomes sent drops it."""
    failed = line(2, "+1", Outcome.FAILED, attempts=5, error="HTTP 503")
    checkpoint = Checkpoint.load([failed, line(3, "+2", Outcome.SENT)])
    assert checkpoint.retry_record("+1") == failed
    assert checkpoint.retry_record("+2") is None
    checkpoint.remember(line(2, "+1", Outcome.SENT, attempts=6))
    assert checkpoint.retry_record("+1") is None
    assert checkpoint.outcome("+1") is Outcome.SENT


def test_pending_lists_rows_left_in_flight() -> None:
    pending = line(4, "+4", Outcome.PENDING, updated_at="2026-05-02T09:00:00Z")
    checkpoint = Checkpoint.load([pending, line(5, "+5", Outcome.UNCERTAIN)])
    assert checkpoint.pending() == [pending]


def test_a_claim_is_remembered_without_changing_the_outcome() -> None:
    checkpoint = Checkpoint.load([line(2, "+1", Outcome.SENT)])
    assert checkpoint.claim("+1") is False
    assert checkpoint.claim("+1") is True
    assert checkpoint.outcome("+1") is Outcome.SENT
    checkpoint.remember(line(2, "+1", Outcome.REJECTED))
    assert checkpoint.claim("+1") is True  # a new outcome keeps the claim


def test_an_identity_only_met_has_no_outcome_and_is_not_counted() -> None:
    checkpoint = Checkpoint()
    assert checkpoint.claim("+9") is False
    assert checkpoint.outcome("+9") is None
    assert checkpoint.counts() == Counter()


def test_holds_unsendable_matches_the_same_outcome_row_and_reason_only() -> None:
    checkpoint = Checkpoint.load([line(7, "+1", Outcome.INVALID, error="missing first_name")])
    assert checkpoint.holds_unsendable("+1", Outcome.INVALID, 7, "missing first_name")
    assert not checkpoint.holds_unsendable("+1", Outcome.INVALID, 8, "missing first_name")
    assert not checkpoint.holds_unsendable("+1", Outcome.INVALID, 7, "missing order id")
    assert not checkpoint.holds_unsendable("+1", Outcome.SKIPPED, 7, "missing first_name")
    assert not checkpoint.holds_unsendable("+2", Outcome.INVALID, 7, "missing first_name")


def test_is_compact_needs_one_line_per_identity_in_row_order() -> None:
    assert Checkpoint.load([line(2, "+1", Outcome.SENT), line(3, "+2", Outcome.SENT)]).is_compact
    repeated = [line(2, "+1", Outcome.PENDING), line(2, "+1", Outcome.SENT)]
    assert not Checkpoint.load(repeated).is_compact
    unordered = [line(3, "+2", Outcome.SENT), line(2, "+1", Outcome.SENT)]
    assert not Checkpoint.load(unordered).is_compact


@given(
    st.lists(
        st.tuples(st.integers(2, 9), st.sampled_from("abcd"), st.sampled_from(list(Outcome))),
        max_size=30,
    )
)
def test_outcomes_match_a_plain_last_line_wins_dict(lines: list[tuple[int, str, Outcome]]) -> None:
    records = [line(row, identity, outcome) for row, identity, outcome in lines]
    checkpoint = Checkpoint.load(records)
    plain = {record.identity: record for record in records}
    assert {identity: checkpoint.outcome(identity) for identity in plain} == {
        identity: record.outcome for identity, record in plain.items()
    }
    assert checkpoint.counts() == Counter(record.outcome for record in plain.values())
    assert len(checkpoint) == len(plain)
