"""Pure parts of status: which statuses are final, how an answer becomes results columns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulksend.answers import AnswerKind, ApiAnswer, normalize_message, refusal_text
from bulksend.channels import Channel
from bulksend.results import Outcome, ResultRecord
from bulksend.status import delivery_fields, is_final, is_settled, merge_delivery
from bulksend.status_fields import StatusAnswer, apply_answer, needs_times

CHECKED = "2026-05-02T10:00:00Z"


@pytest.mark.parametrize(
    ("channel", "status", "final"),
    [
        (Channel.WHATSAPP, "delivered", False),  # may still become read
        (Channel.WHATSAPP, "READ", True),
        (Channel.WHATSAPP, "deleted", True),
        (Channel.WHATSAPP, "unknown", False),
        (Channel.SMS, "delivered", True),
        (Channel.SMS, "undelivered", True),
        (Channel.SMS, "queued", False),
        (Channel.SMS, "", False),
    ],
)
def test_final_statuses_depend_on_the_channel(channel: Channel, status: str, final: bool) -> None:
    assert is_final(channel, status) is final


def test_a_whatsapp_delivered_settles_a_watch() -> None:
    assert is_settled(Channel.WHATSAPP, "delivered")
    assert not is_settled(Channel.WHATSAPP, "sent")


def test_uppercase_legacy_answer_is_stored_lowercase_with_its_message() -> None:
    """The guide's shape [14823959]: UPPERCASE status, status_message, last_updated."""
    item = normalize_message(
        {
            "message_id": 7,
            "status": "DELIVERED",
            "status_message": "Delivered to handset",
            "last_updated": "2026-05-02T09:00:09Z",
        }
    )
    fields = delivery_fields(item, checked_at=CHECKED)
    assert fields["delivery_status"] == "delivered"
    assert fields["delivery_detail"] == "Delivered to handset"
    assert fields["last_updated"] == "2026-05-02T09:00:09Z"
    assert fields["status_checked_at"] == CHECKED


@pytest.mark.parametrize(
    ("reason", "detail"),
    [
        ("Recipient is not a WhatsApp user.", "Recipient is not a WhatsApp user."),
        (None, ""),
        ("", ""),
        ({"code": 470, "title": "Re-engagement message"}, "Re-engagement message (470)"),
    ],
)
def test_failure_reason_in_every_documented_shape(reason: object, detail: str) -> None:
    item = normalize_message({"message_id": 7, "status": "failed", "failure_reason": reason})
    assert delivery_fields(item, checked_at=CHECKED)["delivery_detail"] == detail


def _sent(message_id: str, **fields: str) -> ResultRecord:
    return ResultRecord(
        row=2,
        phone="+447700900001",
        outcome=Outcome.SENT,
        identity="a",
        message_id=message_id,
        **fields,
    )


def test_a_list_answer_never_erases_timestamps_a_single_lookup_gave() -> None:
    record = _sent("7", delivery_status="delivered", delivered_at="2026-05-02T09:00:04Z")
    merged = merge_delivery(record, {"delivery_status": "read", "delivered_at": "", "read_at": ""})
    assert merged.delivery_status == "read"
    assert merged.delivered_at == "2026-05-02T09:00:04Z"


@given(
    statuses=st.lists(st.sampled_from(["sent", "read", "failed", ""]), min_size=1, max_size=20),
    answered=st.sets(st.integers(min_value=0, max_value=19)),
)
def test_an_answer_touches_only_the_row_of_its_message(
    statuses: list[str], answered: set[int]
) -> None:
    records = [_sent(str(i), delivery_status=s) for i, s in enumerate(statuses)]
    for index in answered:
        answer = StatusAnswer(str(index), "a", {"delivery_status": "delivered"})
        records = [apply_answer(record, answer) for record in records]
    for index, (old, new) in enumerate(zip(statuses, records, strict=True)):
        assert new.delivery_status == ("delivered" if index in answered else old)
        assert (new.row, new.outcome, new.message_id) == (2, Outcome.SENT, str(index))


def test_an_answer_for_another_recipient_with_the_same_message_id_is_ignored() -> None:
    """A message id the results file holds for another identity (a restarted campaign on a
    sandbox that reuses ids) is not this row's message."""
    answer = StatusAnswer("7", "someone else", {"delivery_status": "read"})
    assert apply_answer(_sent("7"), answer).delivery_status == ""
    assert (
        apply_answer(_sent("7"), StatusAnswer("7", "", {"delivery_status": "read"})).delivery_status
        == "read"
    )


@pytest.mark.parametrize(("known", "kept"), [("", "unknown"), ("sent", "sent")])
def test_a_refusal_never_replaces_a_status_already_known(known: str, kept: str) -> None:
    refusal = StatusAnswer("7", "a", {"delivery_status": "unknown"}, refusal=True)
    assert apply_answer(_sent("7", delivery_status=known), refusal).delivery_status == kept


@pytest.mark.parametrize(
    ("old", "new", "wanted"),
    [
        ("sent", {"delivery_status": "read"}, True),  # the list gives no read_at
        ("", {"delivery_status": "delivered"}, True),
        ("delivered", {"delivery_status": "delivered"}, False),  # asked when it got there
        ("sent", {"delivery_status": "failed"}, False),  # no time to fill, the reason is listed
        ("sent", {"delivery_status": "sent"}, False),
        ("sent", {"delivery_status": "read", "read_at": "2026-05-02T09:12:40Z"}, False),
        ("DELIVERED", {"delivery_status": "deleted"}, True),
    ],
)
def test_a_list_answer_is_looked_up_once_for_the_time_it_lacks(
    old: str, new: dict[str, str], wanted: bool
) -> None:
    assert needs_times(old, new) is wanted


def test_a_revoked_key_met_by_status_says_to_run_status_again() -> None:
    answer = ApiAnswer(AnswerKind.CAMPAIGN_ERROR, 400, error_code=5)
    _, hint = refusal_text(Channel.SMS, answer, key_env="SMS_KEY", command="status")
    assert hint.endswith("then run status again (the delivery answers already received are kept).")
    assert "send" not in hint
    _, hint = refusal_text(Channel.SMS, answer, key_env="SMS_KEY")
    assert "run send again (rows not yet sent will be sent)" in hint


def test_a_new_status_replaces_the_old_detail() -> None:
    """The detail belongs to the status it came with: "delivered" keeps no failure text."""
    record = _sent("7", delivery_status="unknown", delivery_detail="not known yet")
    merged = merge_delivery(record, {"delivery_status": "delivered", "delivery_detail": ""})
    assert (merged.delivery_status, merged.delivery_detail) == ("delivered", "")


def test_the_same_status_without_detail_keeps_the_old_detail() -> None:
    record = _sent("7", delivery_status="delivered", delivery_detail="Delivered to handset")
    merged = merge_delivery(record, {"delivery_status": "delivered", "delivery_detail": ""})
    assert merged.delivery_detail == "Delivered to handset"
