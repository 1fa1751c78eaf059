"""Pure classification of API answers and transport errors, and the user-facing refusals."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
import urllib3.exceptions
from hypothesis import given
from hypothesis import strategies as st

from bulksend.answers import (
    ERROR_TEXT_LIMIT,
    AnswerKind,
    ApiAnswer,
    classify_exception,
    classify_response,
    normalize_listing,
    normalize_message,
    one_line,
    refusal_text,
)
from bulksend.channels import Channel

NOW = dt.datetime(2026, 4, 24, 12, 34, 50, tzinfo=dt.UTC)


def classify(channel: Channel, status: int, body: object | str) -> ApiAnswer:
    text = body if isinstance(body, str) else json.dumps(body)
    return classify_response(channel, status, text, {}, now_utc=NOW)


CAMPAIGN_WIDE = (
    [(Channel.WHATSAPP, code) for code in (1, 2, 3, 4, 6, 9)]
    + [(Channel.SMS, 1), (Channel.SMS, 5)]
    + [(Channel.VBM, code) for code in (1, 2, 3, 4, 6)]
)
ROW_LEVEL = [(Channel.WHATSAPP, 5), (Channel.WHATSAPP, 8), (Channel.VBM, 5), (Channel.VBM, 8)] + [
    (Channel.SMS, code) for code in (2, 3, 4)
]


@pytest.mark.parametrize(("channel", "code"), CAMPAIGN_WIDE)
def test_campaign_wide_codes_stop_the_campaign(channel: Channel, code: int) -> None:
    answer = classify(channel, 400, {"request_id": "r", "error_code": code, "error": "x"})
    assert answer.kind is AnswerKind.CAMPAIGN_ERROR
    assert (answer.error_code, answer.request_id) == (code, "r")


@pytest.mark.parametrize(("channel", "code"), ROW_LEVEL)
def test_row_level_codes_reject_only_the_row(channel: Channel, code: int) -> None:
    assert classify(channel, 400, {"error_code": code}).kind is AnswerKind.REJECTED


def test_codes_are_scoped_per_family() -> None:
    """SMS 5 is the deprecated key; WhatsApp 5 is an invalid phone."""
    assert classify(Channel.SMS, 400, {"error_code": 5}).kind is AnswerKind.CAMPAIGN_ERROR
    assert classify(Channel.WHATSAPP, 400, {"error_code": 5}).kind is AnswerKind.REJECTED


@given(channel=st.sampled_from(list(Channel)), code=st.integers(min_value=10, max_value=10**6))
def test_undocumented_codes_reject_the_row(channel: Channel, code: int) -> None:
    assert classify(channel, 400, {"error_code": code}).kind is AnswerKind.REJECTED


@pytest.mark.parametrize("channel", list(Channel))
def test_deprecated_key_text_stops_the_campaign_whatever_the_code(channel: Channel) -> None:
    body = {"error_code": 77, "error": "Deprecated API Key. Please go to your Octopods App"}
    assert classify(channel, 400, body).kind is AnswerKind.CAMPAIGN_ERROR


@pytest.mark.parametrize(("status", "kind"), [(401, "campaign_error"), (403, "campaign_error")])
def test_auth_failures_stop_the_campaign(status: int, kind: str) -> None:
    assert classify(Channel.SMS, status, "Unauthorized").kind == kind


@given(status=st.integers(min_value=500, max_value=599), body=st.text(max_size=50))
def test_every_5xx_is_transient_whatever_the_body(status: int, body: str) -> None:
    answer = classify(Channel.WHATSAPP, status, body)
    assert answer.kind is AnswerKind.TRANSIENT
    assert answer.error


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308, 404, 405, 409, 410, 413, 415, 422])
def test_statuses_octopods_never_sends_stop_the_campaign(status: int) -> None:
    """A wrong api_url (or a proxy) answers for every row alike: stop, record nothing final."""
    assert classify(Channel.VBM, status, "").kind is AnswerKind.CAMPAIGN_ERROR


@given(
    channel=st.sampled_from(list(Channel)),
    status=st.integers(min_value=100, max_value=699).filter(lambda status: status != 400),
    body=st.sampled_from(["", "<html>x</html>", '{"error_code": 5, "error": "Phone"}']),
)
def test_only_a_400_ever_rejects_a_row(channel: Channel, status: int, body: str) -> None:
    """Rejected is final, so only the documented per-recipient answer may produce it."""
    assert classify(channel, status, body).kind is not AnswerKind.REJECTED


def test_a_408_is_retried_and_an_odd_2xx_is_uncertain() -> None:
    """408: the request never arrived whole. 202/204: the API may have acted on it."""
    assert classify(Channel.SMS, 408, "").kind is AnswerKind.TRANSIENT
    assert classify(Channel.SMS, 202, "").kind is AnswerKind.UNCERTAIN
    assert classify(Channel.SMS, 204, "").kind is AnswerKind.UNCERTAIN


def test_a_404_names_the_path_and_api_url() -> None:
    answer = classify_response(
        Channel.SMS, 404, '{"error": "No such endpoint"}', {}, now_utc=NOW, path="/api/v2/sms/x"
    )
    assert answer.error == (
        "the API answered 404 Not Found for /api/v2/sms/x: check api_url (it said: No such "
        "endpoint)"
    )


def test_a_redirect_names_only_the_host_it_points_at() -> None:
    """Not the path, query or user part of Location: those could carry anything."""
    location = "https://user:pw@other.example.com:8443/collect?token=abc"
    answer = classify_response(Channel.WHATSAPP, 307, "", {"Location": location}, now_utc=NOW)
    assert answer.kind is AnswerKind.CAMPAIGN_ERROR
    assert "307 Temporary Redirect" in answer.error
    assert "to other.example.com:8443" in answer.error and "check api_url" in answer.error
    for hidden in ("user", "pw", "collect", "token", "abc"):
        assert hidden not in answer.error
    assert "no Location" in classify(Channel.WHATSAPP, 302, "").error


@pytest.mark.parametrize(
    ("status", "words"),
    [(404, "no other version or path"), (307, "follows no redirect"), (422, "any proxy")],
)
def test_refusals_for_a_wrong_api_url_say_to_check_it(status: int, words: str) -> None:
    answer = classify_response(Channel.SMS, status, "", {}, now_utc=NOW, path="/api/v2/sms")
    message, hint = refusal_text(Channel.SMS, answer, key_env="SMS_KEY")
    assert message.startswith(f"The API answered {status} ")
    assert words in message + hint and "api_url" in hint and "resumable" in hint


NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def test_an_html_error_page_becomes_its_visible_words() -> None:
    answer = classify(Channel.WHATSAPP, 502, NGINX_502)
    assert (answer.kind, answer.error) == (AnswerKind.TRANSIENT, "502 Bad Gateway nginx")


def test_html_with_only_a_title_keeps_the_title_and_entities_are_decoded() -> None:
    page = "<!DOCTYPE html><html><head><title>Down &amp; out</title><style>p{}</style></head>"
    assert one_line(page) == "Down & out"


def test_an_html_content_type_is_stripped_even_without_a_doctype() -> None:
    headers = {"Content-Type": "text/html; charset=utf-8"}
    answer = classify_response(Channel.SMS, 503, "Service <b>busy</b>\n", headers, now_utc=NOW)
    assert answer.error == "Service busy"


def test_a_json_error_keeps_its_angle_brackets_but_loses_its_line_breaks() -> None:
    answer = classify(Channel.SMS, 400, {"error_code": 3, "error": "Phone <+1 555>\n is\tbad"})
    assert answer.error == "Phone <+1 555> is bad"


def test_a_long_error_is_cut_to_the_limit_with_a_mark() -> None:
    answer = classify(Channel.SMS, 500, "x" * 5000)
    assert len(answer.error) == ERROR_TEXT_LIMIT and answer.error.endswith("...")


@given(
    channel=st.sampled_from(list(Channel)),
    status=st.integers(min_value=100, max_value=699),
    body=st.one_of(
        st.text(max_size=400),
        st.builds(lambda t: json.dumps({"error": t}), st.text(max_size=400)),
        st.builds(lambda t: f"<html><body><p>{t}</p></body></html>", st.text(max_size=400)),
    ),
    location=st.text(max_size=60),
)
def test_every_error_text_is_one_short_line(
    channel: Channel, status: int, body: str, location: str
) -> None:
    """Whatever the status and body: no line break or control character, at most the limit."""
    answer = classify_response(channel, status, body, {"Location": location}, now_utc=NOW)
    assert len(answer.error) <= ERROR_TEXT_LIMIT
    assert answer.error.splitlines() in ([], [answer.error])
    assert not any(ord(char) < 32 or 127 <= ord(char) < 160 for char in answer.error)
    assert answer.error == answer.error.strip()


@pytest.mark.parametrize("status", [200, 201])
def test_success_carries_the_ids_as_text(status: int) -> None:
    answer = classify(Channel.SMS, status, {"message_id": 12, "request_id": "r", "extra": 1})
    assert (answer.kind, answer.message_id, answer.request_id, answer.error) == (
        AnswerKind.OK,
        "12",
        "r",
        "",
    )


def test_a_429_is_rate_limited_with_the_time_from_the_body() -> None:
    pytest.importorskip("bulksend.retry", reason="retry.py lands separately")
    body = {
        "message": "You have fired too many requests. Please try after 2026-04-24 12:35:10 UTC."
    }
    answer = classify(Channel.WHATSAPP, 429, body)
    assert answer.kind is AnswerKind.RATE_LIMITED
    assert answer.retry_at == dt.datetime(2026, 4, 24, 12, 35, 10, tzinfo=dt.UTC)


def _wrapped(reason: BaseException, outer: type[requests.RequestException]) -> BaseException:
    pool_error = urllib3.exceptions.MaxRetryError(None, "/api/v1/x", reason)  # type: ignore[arg-type]
    return outer(pool_error)


def test_errors_before_the_request_left_are_transient() -> None:
    refused = urllib3.exceptions.NewConnectionError(None, "refused")  # type: ignore[arg-type]
    refused.__context__ = ConnectionRefusedError(111, "Connection refused")
    assert classify_exception(_wrapped(refused, requests.ConnectionError)).kind == "transient"
    timeout = urllib3.exceptions.ConnectTimeoutError(None, "timed out")
    assert classify_exception(_wrapped(timeout, requests.ConnectTimeout)).kind == "transient"


def test_errors_after_the_request_left_are_uncertain() -> None:
    reset = urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104))
    assert classify_exception(requests.ConnectionError(reset)).kind is AnswerKind.UNCERTAIN
    assert classify_exception(requests.ReadTimeout("read")).kind is AnswerKind.UNCERTAIN
    assert classify_exception(requests.RequestException("?")).kind is AnswerKind.UNCERTAIN


def test_transport_errors_keep_no_text_from_requests() -> None:
    """requests' messages carry the URL and sometimes headers: only a fixed reason is kept."""
    secret = "KEY-abc"
    error = requests.ConnectionError(f"HTTPSConnectionPool url=/x?k={secret} headers={secret}")
    assert secret not in classify_exception(error).error


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (ApiAnswer(AnswerKind.CAMPAIGN_ERROR, 400, error_code=6), "rotated or revoked"),
        (ApiAnswer(AnswerKind.CAMPAIGN_ERROR, 401), "refused the key"),
        (ApiAnswer(AnswerKind.CAMPAIGN_ERROR, 400, error_code=3), "does not exist"),
        (ApiAnswer(AnswerKind.CAMPAIGN_ERROR, 400, error_code=9), "do not match"),
        (ApiAnswer(AnswerKind.CAMPAIGN_ERROR, 400, error_code=1), "required field"),
    ],
)
def test_refusals_say_what_is_wrong_and_name_the_key_variable(answer: ApiAnswer, words: str):
    message, hint = refusal_text(Channel.WHATSAPP, answer, key_env="WA_KEY")
    assert words in message
    assert hint
    if answer.error_code == 6 or answer.http_status == 401:
        assert "WA_KEY" in hint


@pytest.mark.parametrize(
    ("reason", "text"),
    [(None, ""), ("", ""), ("Not a user", "Not a user"), ({"code": 470, "title": "T"}, "T (470)")],
)
def test_failure_reason_in_any_documented_shape(reason: object, text: str) -> None:
    assert normalize_message({"failure_reason": reason})["failure_reason"] == text


@given(status=st.sampled_from(["sent", "delivered", "read", "failed", "deleted", "unknown"]))
def test_status_is_lowercase_whatever_the_spelling(status: str) -> None:
    for spelled in (status, status.upper(), status.title()):
        assert normalize_message({"status": spelled})["status"] == status


def test_listing_of_an_unexpected_shape_is_empty_not_a_crash() -> None:
    assert normalize_listing("nonsense") == {"messages": []}
    assert (
        normalize_listing({"messages": [1, None, {"message_id": 2}]})["messages"][0]["message_id"]
        == "2"
    )
