"""Pure parts of status: which statuses are final, how an answer becomes results columns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulksend.answers import normalize_message
from bulksend.channels import Channel
from bulksend.results import Outcome, ResultRecord
from bulksend.status import (
    apply_updates,
    delivery_fields,
    is_final,
    is_settled,
    merge_delivery,
)

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
def test_updates_touch_only_the_sent_rows_they_name(
    statuses: list[str], answered: set[int]
) -> None:
    records = [_sent(str(i), delivery_status=s) for i, s in enumerate(statuses)]
    records.append(ResultRecord(row=99, phone="x", outcome=Outcome.REJECTED, identity="7"))
    updates = {str(i): {"delivery_status": "delivered"} for i in answered}
    result = list(apply_updates(records, updates))
    assert len(result) == len(records)
    for index, (old, new) in enumerate(zip(records, result, strict=True)):
        expected = "delivered" if index in answered and old.outcome is Outcome.SENT else None
        assert new.delivery_status == (expected or old.delivery_status)
        assert (new.row, new.outcome, new.message_id) == (old.row, old.outcome, old.message_id)


def test_a_new_status_replaces_the_old_detail() -> None:
    """The detail belongs to the status it came with: "delivered" keeps no failure text."""
    record = _sent("7", delivery_status="unknown", delivery_detail="not known yet")
    merged = merge_delivery(record, {"delivery_status": "delivered", "delivery_detail": ""})
    assert (merged.delivery_status, merged.delivery_detail) == ("delivered", "")


def test_the_same_status_without_detail_keeps_the_old_detail() -> None:
    record = _sent("7", delivery_status="delivered", delivery_detail="Delivered to handset")
    merged = merge_delivery(record, {"delivery_status": "delivered", "delivery_detail": ""})
    assert merged.delivery_detail == "Delivered to handset"
