"""The status answers journal (``<results>.status``) and its merge into the results file."""

from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulksend.results import Outcome, ResultRecord, ResultsFile
from bulksend.status_fields import StatusAnswer, apply_answer
from bulksend.status_journal import (
    AnswerJournal,
    merge_answers,
    read_answers,
    sidecar_path,
)
from tests.test_status import read_results, write_results

CHECKED = "2026-05-02T10:00:00Z"


def sent(index: int, **fields: str) -> ResultRecord:
    phone = f"+4477009{index:05d}"
    return ResultRecord(
        row=index + 2,
        phone=phone,
        outcome=Outcome.SENT,
        identity=phone,
        message_id=str(5_100_001 + index),
        **fields,
    )


def answer(index: int, status: str, **fields: str) -> StatusAnswer:
    record = sent(index)
    values = {"delivery_status": status, "status_checked_at": CHECKED, **fields}
    return StatusAnswer(record.message_id, record.identity, values)


def journal_of(path: Path, answers: list[StatusAnswer]) -> Path:
    journal = AnswerJournal(path)
    for item in answers:
        journal.record(item)
    journal.close()
    return path


def test_answers_are_read_back_in_order_with_awkward_text(tmp_path: Path) -> None:
    """Commas, quotes and line breaks in a detail stay one line each; a formula stays text."""
    awkward = answer(1, "failed", delivery_detail='Blocked, "spam"\nfilter =1+1')
    refusal = StatusAnswer("9", "", {"delivery_status": "unknown"}, refusal=True)
    path = journal_of(tmp_path / "r.csv.status", [answer(0, "sent"), awkward, refusal])
    back = list(read_answers(path))
    assert [(a.message_id, a.fields["delivery_status"], a.refusal) for a in back] == [
        ("5100001", "sent", False),
        ("5100002", "failed", False),
        ("9", "unknown", True),
    ]
    assert back[1].fields["delivery_detail"] == 'Blocked, "spam" filter =1+1'
    assert back[1].identity == sent(1).identity and back[1].fields["read_at"] == ""


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    path = journal_of(tmp_path / "r.csv.status", [answer(0, "read"), answer(1, "read")])
    whole = path.read_bytes()
    for cut in (3, 5, len(b",end\r\n")):  # within the end mark, and just before it
        path.write_bytes(whole[:-cut])
        assert [a.message_id for a in read_answers(path)] == ["5100001"]
    path.write_bytes(whole[:-2])  # only the line end is missing: the answer is whole
    assert [a.message_id for a in read_answers(path)] == ["5100001", "5100002"]


def test_no_journal_reads_as_no_answers(tmp_path: Path) -> None:
    assert list(read_answers(tmp_path / "none.status")) == []


def test_merge_writes_every_answer_once_and_removes_the_journal(tmp_path: Path) -> None:
    results = ResultsFile(tmp_path / "r.csv")
    rejected = ResultRecord(row=9, phone="+15", outcome=Outcome.REJECTED, identity="+15")
    write_results(results.path, [sent(0), sent(1), sent(2), rejected])
    sidecar = journal_of(
        sidecar_path(results.path),
        [
            answer(0, "delivered", delivered_at="2026-05-02T09:00:04Z"),
            answer(2, "sent"),
            answer(0, "read"),  # a later list answer: no times, never erases them
        ],
    )
    seen: list[ResultRecord] = []
    assert merge_answers(results, sidecar, on_record=seen.append) == 3
    after = read_results(results.path)
    assert seen == after
    assert [r.delivery_status for r in after] == ["read", "", "sent", ""]
    assert after[0].delivered_at == "2026-05-02T09:00:04Z"
    assert after[3] == rejected
    assert not sidecar.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


def test_nothing_to_merge_leaves_the_file_alone(tmp_path: Path) -> None:
    results = ResultsFile(tmp_path / "r.csv")
    write_results(results.path, [sent(0)])
    before = results.path.read_bytes()
    assert merge_answers(results, sidecar_path(results.path)) == 0
    journal_of(sidecar_path(results.path), [])  # a run killed before its first answer
    assert merge_answers(results, sidecar_path(results.path)) == 0
    assert results.path.read_bytes() == before
    assert not sidecar_path(results.path).exists()


def test_scratch_files_a_crash_left_are_removed(tmp_path: Path) -> None:
    results = ResultsFile(tmp_path / "r.csv")
    write_results(results.path, [sent(0)])
    for name in (".r.csv.abc.tmp", ".r.csv.status-x.sqlite", "r.csv.status", "other.tmp"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    results.remove_scratch_files()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.tmp", "r.csv", "r.csv.status"]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=5),
            st.sampled_from(["sent", "delivered", "read", "failed", "unknown"]),
            st.sampled_from(["", "2026-05-02T09:00:04Z"]),
            st.booleans(),
        ),
        max_size=25,
    )
)
def test_merging_equals_applying_each_answer_in_turn_and_is_idempotent(
    tmp_path_factory, steps: list[tuple[int, str, str, bool]]
) -> None:
    """One merge gives what applying the answers one by one gives; merging the same journal a
    second time (a crash between the rewrite and its removal) changes nothing."""
    folder = tmp_path_factory.mktemp("merge")
    results = ResultsFile(folder / "r.csv")
    records = [sent(index) for index in range(5)]
    write_results(results.path, records)
    answers = [
        replace_refusal(answer(index, status, delivered_at=at), refusal)
        for index, status, at, refusal in steps
    ]
    expected = list(records)
    for item in answers:
        expected = [apply_answer(record, item) for record in expected]
    journal_of(sidecar_path(results.path), answers)
    kept = folder / "copy.status"
    shutil.copy(sidecar_path(results.path), kept)
    merge_answers(results, sidecar_path(results.path))
    assert read_results(results.path) == expected
    merge_answers(results, kept)
    assert read_results(results.path) == expected


def replace_refusal(item: StatusAnswer, refusal: bool) -> StatusAnswer:
    return StatusAnswer(item.message_id, item.identity, item.fields, refusal)
