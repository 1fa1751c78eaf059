"""Phones: E.164 normalisation rules, a specific reason for every invalid number, masking."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulksend.errors import ConfigError
from bulksend.phones import (
    NO_REGION_REASON,
    PhoneResult,
    is_valid_region,
    mask_phone,
    normalize_phone,
)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+12015550123", None, "+12015550123"),
        ("+1 (201) 555-0123", None, "+12015550123"),
        ("  +1.201.555.0123  ", "GB", "+12015550123"),
        ("+44\u00a07911\u00a0123456", None, "+447911123456"),  # no-break spaces from Excel
        ("+44 (0) 7911 123456", None, "+447911123456"),
        ("0044 7911 123456", None, "+447911123456"),
        ("00 1 201 555 0123", "DE", "+12015550123"),
        ("011 44 7911 123456", "US", "+447911123456"),
        ("011 44 7911 123456", "CA", "+447911123456"),
        ("(201) 555-0123", "US", "+12015550123"),
        ("201–555–0123", "us", "+12015550123"),  # en dashes, lower-case region
        ("12015550123", "US", "+12015550123"),
        ("07911 123456", "GB", "+447911123456"),
        ("447911123456", "GB", "+447911123456"),
        ("0612345678", "FR", "+33612345678"),
        ("'+12015550123", None, "+12015550123"),  # bulksend's own CSVs escape a leading +
    ],
)
def test_numbers_normalise_to_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalize_phone(raw, default_region=region) == PhoneResult(expected, None)


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("", "US", "phone is empty"),
        ("   ", None, "phone is empty"),
        ("2015550123", None, NO_REGION_REASON),
        ("(201) 555-0123", None, NO_REGION_REASON),
        ("John Smith", "US", "not a phone number: 'John Smith' contains letters"),
        ("+1 201 555 0123 ext 5", "US", "contains letters"),
        ("15551234567.0", "US", "looks like a number saved with a decimal part"),
        ("1.5551234567E+10", "US", "scientific notation and its last digits are lost"),
        ("1,55512E+10", "DE", "scientific notation"),
        ("+1 201 555+0123", None, "has a + that is not at the start"),
        ("201#555", "US", "holds characters other than digits and +"),
        ("+", "US", "has no digits"),
        ("0", "US", "too few digits to be a phone number"),
        ("+999 1234 5678", None, "unknown country code in '+999 1234 5678'"),
        ("+1 201 555", None, "'+1 201 555' is too short for US (+1)"),
        ("+1 201 555 0123 4567", None, "is too long for US (+1)"),
        ("555 0123", "US", "a local number without its area code for US (+1)"),
        ("+44 7700 900123", None, "not a valid number for GB (+44)"),
    ],
)
def test_each_invalid_number_has_its_own_reason(raw: str, region: str | None, reason: str) -> None:
    result = normalize_phone(raw, default_region=region)
    assert result.e164 is None
    assert result.reason is not None and reason in result.reason


def test_possible_but_not_valid_numbers_need_phone_check_possible() -> None:
    strict = normalize_phone("+1 555 123 4567", default_region=None)
    assert strict.e164 is None
    assert "phone_check: possible" in (strict.reason or "")
    lenient = normalize_phone("+1 555 123 4567", default_region=None, check="possible")
    assert lenient == PhoneResult("+15551234567", None)


def test_possible_check_still_rejects_impossible_lengths() -> None:
    result = normalize_phone("+1 555 12", default_region=None, check="possible")
    assert result.e164 is None and "too short" in (result.reason or "")


def test_unknown_region_and_check_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="GB \\(not UK\\)"):
        normalize_phone("07911 123456", default_region="UK")
    with pytest.raises(ConfigError, match="phone_check must be one of valid, possible"):
        normalize_phone("+12015550123", default_region=None, check="strict")


@pytest.mark.parametrize(
    ("code", "known"), [("US", True), ("gb", True), ("UK", False), ("", False)]
)
def test_is_valid_region(code: str, known: bool) -> None:
    assert is_valid_region(code) is known


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+15551234567", "+1555***4567"),
        ("+447911123456", "+4479****3456"),
        ("+4930123456", "+493****456"),
        ("+1234567", "+12***67"),
        ("1234", "****"),
        ("", ""),
    ],
)
def test_mask_phone_hides_the_middle(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_mask_phone_hides_at_least_three_digits_and_keeps_the_length(phone: str) -> None:
    masked = mask_phone(phone)
    assert len(masked) == len(phone) and masked.count("*") >= 3
    assert all(m in (p, "*") for p, m in zip(phone, masked, strict=True))


@given(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
def test_example_number_of_every_region_normalises_from_its_national_form(region: str) -> None:
    """phonenumbers' own example number, written nationally, comes back as its E.164 form."""
    example = phonenumbers.example_number(region)
    if example is None:
        return
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    assert normalize_phone(national, default_region=region) == PhoneResult(e164, None)
