"""Reading the results file for reports: one record per recipient, the last line winning, with a
compact file streamed as it is and a journal indexed in flat arrays."""

from __future__ import annotations

import csv
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulksend import report_source
from bulksend.report_source import LastLines, iter_results
from bulksend.results import COLUMNS, Outcome, ResultRecord


def write_results(path: Path, records: list[ResultRecord]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(record.to_csv_row() for record in records)


def line(row: int, identity: str, outcome: Outcome = Outcome.SENT) -> ResultRecord:
    return ResultRecord(row=row, phone=identity, outcome=outcome, identity=identity)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from([f"+4477009{n:05d}" for n in range(40)] + ["", "a | b"])))
def test_last_lines_agree_with_a_dict(identities: list[str]) -> None:
    """Whatever the order and repeats, the table answers as "the last index per identity"."""
    table, expected = LastLines(), {}
    for index, identity in enumerate(identities):
        table.note(identity, index)
        expected[identity] = index
    assert len(table) == len(expected)
    for index, identity in enumerate(identities):
        assert table.is_last(identity, index) == (expected[identity] == index)
    assert not table.is_last("never noted", 0)


def test_last_lines_keep_every_entry_as_they_grow() -> None:
    table = LastLines()
    for index in range(5000):
        table.note(f"id{index}", index)
    for index in range(0, 5000, 2):
        table.note(f"id{index}", 10_000 + index)
    assert len(table) == 5000
    assert all(table.is_last(f"id{i}", i + (10_000 if i % 2 == 0 else 0)) for i in range(5000))
    assert not table.is_last("id0", 0)


def test_last_lines_cost_a_few_dozen_bytes_per_identity() -> None:
    """A dict of the same (int keys and values) costs ~140 bytes per identity."""
    identities = 100_000
    tracemalloc.start()
    try:
        table = LastLines()
        for index in range(identities):
            table.note(f"+4477{index:08d}", index)
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(table) == identities
    assert current / identities < 50


def test_a_compact_file_is_streamed_without_a_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "results.csv"
    write_results(path, [line(2, "a"), line(3, "b", Outcome.REJECTED), line(4, "c")])

    def no_table() -> LastLines:
        raise AssertionError("a compact file needs no table")

    monkeypatch.setattr(report_source, "LastLines", no_table)
    assert [r.identity for r in iter_results(path)] == ["a", "b", "c"]


def test_a_rewritten_row_counts_once_even_without_pending_lines(tmp_path: Path) -> None:
    """An interrupted run that only wrote invalid or skipped lines leaves no pending line: the
    falling row number still shows the file is a journal."""
    path = tmp_path / "results.csv"
    write_results(
        path,
        [line(2, "a"), line(3, "b", Outcome.FAILED), line(4, "c"), line(3, "b", Outcome.INVALID)],
    )
    assert [(r.identity, r.outcome) for r in iter_results(path)] == [
        ("a", Outcome.SENT),
        ("c", Outcome.SENT),
        ("b", Outcome.INVALID),
    ]
