"""The results CSV: record round trip, torn lines, last-line-wins, compaction, rewrite, archive."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulksend.errors import BulksendError, InputFileError
from bulksend.journal import BOM, csv_line
from bulksend.results import COLUMNS, Outcome, ResultRecord, ResultsFile


def record(row: int, phone: str, outcome: Outcome = Outcome.SENT, **fields: object) -> ResultRecord:
    return ResultRecord(row=row, phone=phone, outcome=outcome, identity=phone, **fields)  # type: ignore[arg-type]


def write_lines(path: Path, *records: ResultRecord, tail: str = "") -> None:
    """A results file written by hand: header, records, then ``tail`` verbatim."""
    text = BOM + csv_line(COLUMNS) + "".join(csv_line(r.to_csv_row()) for r in records) + tail
    path.write_text(text, encoding="utf-8", newline="")


@pytest.fixture
def results(tmp_path: Path) -> ResultsFile:
    (tmp_path / "results").mkdir()
    return ResultsFile(tmp_path / "results" / "run.csv")


# Line breaks are left out here: they become spaces (test_line_breaks_in_a_cell_become_spaces).
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=30
)
OPTIONAL_INT = st.none() | st.integers(min_value=0, max_value=10**6)
RECORDS = st.builds(
    ResultRecord,
    row=st.integers(min_value=2, max_value=10**7),
    phone=TEXT,
    outcome=st.sampled_from(Outcome),
    identity=TEXT,
    message_id=TEXT,
    request_id=TEXT,
    channel_message_id=TEXT,
    http_status=OPTIONAL_INT,
    error_code=OPTIONAL_INT,
    error=TEXT,
    attempts=st.integers(min_value=0, max_value=100),
    updated_at=TEXT,
    segments=OPTIONAL_INT,
    delivery_status=TEXT,
    delivery_detail=TEXT,
    sent_at=TEXT,
    delivered_at=TEXT,
    read_at=TEXT,
    last_updated=TEXT,
    status_checked_at=TEXT,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(RECORDS, max_size=8))
def test_every_field_survives_a_round_trip(tmp_path: Path, records: list[ResultRecord]) -> None:
    results = ResultsFile(tmp_path / "round-trip.csv")
    results.rewrite(records)
    assert list(results.iter_records()) == records


def test_formula_cells_are_escaped_on_disk_and_restored_on_read(results: ResultsFile) -> None:
    risky = record(2, "+447700900123", error='=HYPERLINK("http://x")', message_id="@SUM(A1)")
    results.rewrite([risky])
    raw = results.path.read_text(encoding="utf-8-sig")
    cells = list(csv.reader(raw.splitlines()))[1]
    assert not any(cell[:1] in "=+-@" and cell for cell in cells)
    assert list(results.iter_records()) == [risky]


def test_file_opens_in_excel_as_utf8(results: ResultsFile) -> None:
    """UTF-8 with a BOM, CRLF line ends, the documented columns first."""
    results.rewrite([record(2, "+447700900123", error="José ✓ 日本")])
    raw = results.path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfrow,phone,outcome,message_id,request_id,")
    assert raw.count(b"\r\n") == 2 and "José ✓ 日本".encode() in raw


def test_last_line_wins_per_identity(results: ResultsFile) -> None:
    write_lines(
        results.path,
        record(2, "+1", Outcome.PENDING),
        record(3, "+2", Outcome.PENDING),
        record(2, "+1", Outcome.SENT, message_id="11"),
        record(3, "+2", Outcome.FAILED, http_status=503),
        record(3, "+2", Outcome.PENDING, attempts=2),
    )
    outcomes = results.load_outcomes()
    assert outcomes["+1"].outcome is Outcome.SENT and outcomes["+1"].message_id == "11"
    assert outcomes["+2"].outcome is Outcome.PENDING and outcomes["+2"].attempts == 2


def test_missing_file_has_no_records(results: ResultsFile) -> None:
    assert not results.exists()
    assert list(results.iter_records()) == [] and results.load_outcomes() == {}


def test_empty_and_header_only_files_have_no_records(results: ResultsFile) -> None:
    results.path.write_bytes(b"")
    assert results.load_outcomes() == {}
    write_lines(results.path)
    assert results.load_outcomes() == {}


def test_file_without_bom_is_read_too(results: ResultsFile) -> None:
    results.path.write_text(csv_line(COLUMNS) + csv_line(record(2, "+1").to_csv_row()), "utf-8")
    assert list(results.iter_records()) == [record(2, "+1")]


def test_torn_last_line_is_skipped(results: ResultsFile) -> None:
    write_lines(results.path, record(2, "+1"), record(3, "+2"), tail="4,'+447700900125,se")
    assert [r.identity for r in results.iter_records()] == ["+1", "+2"]


def test_torn_last_line_cut_inside_a_character_is_skipped(results: ResultsFile) -> None:
    write_lines(results.path, record(2, "+1"))
    with results.path.open("ab") as handle:
        handle.write(csv_line(record(3, "+2", error="✓✓").to_csv_row()).encode()[:-5])
    assert [r.identity for r in results.iter_records()] == ["+1"]


def test_torn_line_that_happens_to_parse_is_still_skipped(results: ResultsFile) -> None:
    """No line end means the write never finished, even if the cells look whole."""
    write_lines(results.path, record(2, "+1"), tail="3,'+2,sent,12")
    assert [r.identity for r in results.iter_records()] == ["+1"]


def test_unreadable_line_in_the_middle_names_the_line(results: ResultsFile) -> None:
    write_lines(results.path, record(2, "+1"), tail="3,'+2,sen\r\n" + csv_line(["4", "+3", "sent"]))
    with pytest.raises(InputFileError) as caught:
        list(results.iter_records())
    assert f"{results.path}: line 3 is not a readable results record" in str(caught.value)
    assert "--restart" in str(caught.value)


def test_foreign_csv_is_refused_with_a_clear_message(results: ResultsFile) -> None:
    results.path.write_text("name,phone\nDana,+447700900123\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="not a bulksend results file: .* no row column"):
        results.load_outcomes()


def test_older_file_with_fewer_columns_is_read(results: ResultsFile) -> None:
    results.path.write_text("row,phone,outcome,attempts\r\n7,'+1,failed,3\r\n", encoding="utf-8")
    assert list(results.iter_records()) == [record(7, "+1", Outcome.FAILED, attempts=3)]


def test_compact_keeps_the_last_record_per_identity_in_row_order(results: ResultsFile) -> None:
    write_lines(
        results.path,
        record(5, "+5", Outcome.PENDING),
        record(2, "+2", Outcome.FAILED),
        record(5, "+5", Outcome.SENT, message_id="55"),
        record(9, "+9", Outcome.PENDING),
        record(2, "+2", Outcome.SENT, message_id="22"),
        tail="3,'+3,pend",
    )
    results.compact()
    assert list(results.iter_records()) == [
        record(2, "+2", Outcome.SENT, message_id="22"),
        record(5, "+5", Outcome.SENT, message_id="55"),
        record(9, "+9", Outcome.PENDING),
    ]
    assert results.path.read_bytes().endswith(b"\r\n")


def test_compact_leaves_a_compact_file_alone(results: ResultsFile) -> None:
    results.rewrite([record(2, "+2"), record(3, "+3")])
    before = os.stat(results.path)
    results.compact()
    after = os.stat(results.path)
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_compact_without_a_file_creates_nothing(results: ResultsFile) -> None:
    results.compact()
    assert not results.exists()


def test_failed_rewrite_leaves_the_old_file_intact(results: ResultsFile) -> None:
    results.rewrite([record(2, "+2"), record(3, "+3")])
    before = results.path.read_bytes()

    def breaks_midway() -> Iterator[ResultRecord]:
        yield record(2, "+2", Outcome.REJECTED)
        raise InputFileError("the source went away")

    with pytest.raises(InputFileError, match="the source went away"):
        results.rewrite(breaks_midway())
    assert results.path.read_bytes() == before
    assert sorted(p.name for p in results.path.parent.iterdir()) == ["run.csv"]


def test_rewrite_may_stream_from_the_same_file(results: ResultsFile) -> None:
    """status rewrites the file from its own records, one at a time."""
    results.rewrite([record(2, "+2"), record(3, "+3")])
    results.rewrite(replace(r, delivery_status="delivered") for r in results.iter_records())
    assert [r.delivery_status for r in results.iter_records()] == ["delivered", "delivered"]


def test_rewrite_keeps_the_file_permissions(results: ResultsFile) -> None:
    results.rewrite([record(2, "+2")])
    os.chmod(results.path, 0o640)
    results.rewrite([record(3, "+3")])
    assert os.stat(results.path).st_mode & 0o777 == 0o640


def test_rewrite_where_no_folder_can_be_made_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("not a folder")
    results = ResultsFile(tmp_path / "plain-file" / "run.csv")
    with pytest.raises(BulksendError, match="cannot write the results file .*run.csv"):
        results.rewrite([record(2, "+2")])


def test_rewrite_creates_missing_folders(tmp_path: Path) -> None:
    results = ResultsFile(tmp_path / "a" / "b" / "run.csv")
    results.rewrite([record(2, "+2")])
    assert list(results.iter_records()) == [record(2, "+2")]


def test_archive_renames_beside_with_a_utc_stamp(results: ResultsFile) -> None:
    results.rewrite([record(2, "+2")])
    content = results.path.read_bytes()
    moment = datetime(2026, 4, 24, 12, 34, 56, tzinfo=UTC)
    first = results.archive(now_utc=moment)
    assert first == results.path.with_name("run.20260424T123456Z.csv")
    assert first.read_bytes() == content and not results.exists()
    results.rewrite([record(3, "+3")])
    second = results.archive(now_utc=moment)
    assert second == results.path.with_name("run.20260424T123456Z-2.csv")
    assert first.read_bytes() == content


def test_archive_without_a_file_returns_none(results: ResultsFile) -> None:
    assert results.archive() is None


def test_open_journal_repairs_a_torn_tail_and_appends_on_a_fresh_line(
    results: ResultsFile,
) -> None:
    write_lines(results.path, record(2, "+2"), tail="3,'+3,pen")
    with results.open_journal() as journal:
        journal.append(record(4, "+4", Outcome.PENDING))
    assert [r.identity for r in results.iter_records()] == ["+2", "+4"]
    assert results.path.read_bytes().count(b"\r\n") == 3


def test_line_breaks_in_a_cell_become_spaces(results: ResultsFile) -> None:
    results.rewrite([record(2, "+2", Outcome.FAILED, error="<html>\r\n<h1>503</h1>\n\nbusy\r")])
    assert [r.error for r in results.iter_records()] == ["<html> <h1>503</h1> busy "]
    assert results.path.read_bytes().count(b"\n") == 2  # the header and the one record


def test_a_record_cut_anywhere_never_swallows_the_lines_appended_after_it(
    results: ResultsFile,
) -> None:
    """A crash can cut the last record at any byte; the next run's lines stay whole records."""
    failed = record(2, "+2", Outcome.FAILED, error='<html>\n<body>503 "busy"</body>\n</html>')
    write_lines(results.path, record(1, "+1"), failed)
    whole = results.path.read_bytes()
    start = whole.rindex(b"\r\n", 0, len(whole) - 2) + 2
    for cut in range(start + 1, len(whole) - 1):
        results.path.write_bytes(whole[:cut])
        with results.open_journal() as journal:
            journal.append(record(4, "+4", message_id="777"))
        last = results.load_outcomes()
        assert last["+4"] == record(4, "+4", message_id="777"), cut
        assert last["+1"] == record(1, "+1"), cut


def test_open_journal_upgrades_an_older_header(results: ResultsFile) -> None:
    results.path.write_text("row,phone,outcome\r\n2,'+2,sent\r\n", encoding="utf-8")
    with results.open_journal() as journal:
        journal.append(record(3, "+3", error="x"))
    assert [r.identity for r in results.iter_records()] == ["+2", "+3"]
    with results.path.open(encoding="utf-8-sig", newline="") as handle:
        assert next(csv.reader(handle)) == list(COLUMNS)


def test_compact_refuses_while_the_journal_is_open(results: ResultsFile) -> None:
    journal = results.open_journal()
    try:
        with pytest.raises(RuntimeError, match="journal is open"):
            results.compact()
    finally:
        journal.close()
    results.compact()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(
        st.tuples(st.integers(2, 30), st.sampled_from(["+1", "+2", "+3", "+4", "+5"])),
        max_size=25,
    )
)
def test_compact_matches_last_line_wins_sorted_by_row(
    tmp_path: Path, lines: list[tuple[int, str]]
) -> None:
    """Whatever the journal order, compaction keeps exactly each identity's last line, by row."""
    results = ResultsFile(tmp_path / "journal.csv")
    written = [record(row, phone, message_id=str(n)) for n, (row, phone) in enumerate(lines)]
    write_lines(results.path, *written)

    def by_row(record: ResultRecord) -> tuple[int, str]:
        return record.row, record.identity

    expected = sorted(results.load_outcomes().values(), key=by_row)
    results.compact()
    assert sorted(results.iter_records(), key=by_row) == expected
    rows = [r.row for r in results.iter_records()]
    assert rows == sorted(rows)


def test_compact_leaves_no_scratch_file_behind(results: ResultsFile) -> None:
    write_lines(results.path, record(3, "+3"), record(2, "+2"), record(3, "+3", Outcome.FAILED))
    results.compact()
    assert sorted(p.name for p in results.path.parent.iterdir()) == ["run.csv"]


def test_compact_removes_scratch_files_a_crash_left(results: ResultsFile) -> None:
    write_lines(results.path, record(3, "+3"), record(2, "+2"))
    folder = results.path.parent
    for name in (
        ".run.csv.abc.sqlite",
        ".run.csv.xyz.tmp",
        ".other.csv.abc.sqlite",
        "run.csv.lock",
    ):
        (folder / name).write_text("left over", encoding="utf-8")
    results.compact()
    names = sorted(p.name for p in folder.iterdir())
    assert names == [".other.csv.abc.sqlite", "run.csv", "run.csv.lock"]


def test_a_compaction_stopped_by_a_bad_line_leaves_file_and_folder_as_they_were(
    results: ResultsFile,
) -> None:
    write_lines(results.path, record(3, "+3"), record(2, "+2"))
    with results.path.open("a", encoding="utf-8", newline="") as handle:
        handle.write("x,'+4,sent\r\n" + csv_line(record(5, "+5").to_csv_row()))
    before = results.path.read_bytes()
    with pytest.raises(InputFileError, match="line 4"):
        results.compact()
    assert results.path.read_bytes() == before
    assert sorted(p.name for p in results.path.parent.iterdir()) == ["run.csv"]


def test_message_ids_among_names_only_recorded_candidates(results: ResultsFile) -> None:
    write_lines(results.path, record(2, "+2", message_id="71"), record(3, "+3"))
    assert results.message_ids_among({"71", "72", ""}) == {"71"}
    assert results.message_ids_among(set()) == set()
