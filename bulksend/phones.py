"""Phone numbers as the API wants them (E.164), or a reason written for the user; and masking.

A number written with ``+`` (or ``00``, or ``011`` in the +1 regions) is international; any other
needs ``default_region``. Spaces, dashes, dots, slashes and parentheses are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, ValidationResult

from bulksend.errors import ConfigError

CHECKS = ("valid", "possible")
NO_REGION_REASON = "no country code: write the number with + or set default_region"

# Separators people type; \s also covers the no-break and thin spaces Excel and Word insert.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015./()\[\]]+")
_DECIMAL_ZERO = re.compile(r"\+?\d{5,}\.0+")  # "15551234567.0": a phone that went through a float
_SCIENTIFIC = re.compile(r"\+?\d(\.\d+)?[eE]\+?\d+")  # "1.5551234567E+10": digits already lost
_NANP_CALLING_CODE = 1


@dataclass(frozen=True, slots=True)
class PhoneResult:
    e164: str | None  # "+15551234567" when usable
    reason: str | None  # why not, written for the user

    @property
    def ok(self) -> bool:
        return self.e164 is not None


def _invalid(reason: str) -> PhoneResult:
    return PhoneResult(None, reason)


def is_valid_region(code: str) -> bool:
    """Whether ``code`` is an ISO 3166 region phonenumbers knows (e.g. "US", "GB"; any case)."""
    return code.strip().upper() in phonenumbers.SUPPORTED_REGIONS


def normalize_phone(raw: str, *, default_region: str | None, check: str = "valid") -> PhoneResult:
    """The E.164 form of ``raw``, or a reason; ``check="possible"`` also accepts numbers of a
    possible length in no known range. Raises ConfigError for an unknown region or check."""
    region = _checked_region(default_region)
    if check not in CHECKS:
        raise ConfigError(f"phone_check must be one of {', '.join(CHECKS)}, not {check!r}")
    # One leading apostrophe is Excel's text marker, and how bulksend's own CSVs escape "+".
    text = raw.strip().removeprefix("'").strip()
    if not text:
        return _invalid("phone is empty")
    compact = _SEPARATORS.sub("", text)
    problem = _shape_problem(text, compact)
    if problem:
        return _invalid(problem)
    compact = _international_prefix(compact, region)
    if not compact.startswith("+") and region is None:
        return _invalid(NO_REGION_REASON)
    try:
        number = phonenumbers.parse(compact, region)
    except NumberParseException as error:
        return _invalid(_parse_reason(error, text))
    return _checked_number(number, text, check=check)


def _checked_region(default_region: str | None) -> str | None:
    if default_region is None or not default_region.strip():
        return None
    if not is_valid_region(default_region):
        raise ConfigError(
            f"default_region {default_region!r} is not a region code phonenumbers knows",
            hint="Use a two-letter ISO 3166 code such as US, GB (not UK), DE or IN.",
        )
    return default_region.strip().upper()


def _shape_problem(text: str, compact: str) -> str | None:
    """A reason when the text cannot be a phone at all, naming the likely cause."""
    spaceless = re.sub(r"\s", "", text)
    if _DECIMAL_ZERO.fullmatch(spaceless):
        return (
            f"{text!r} looks like a number saved with a decimal part: "
            "store the phone column as text"
        )
    if _SCIENTIFIC.fullmatch(spaceless.replace(",", ".")):
        return (
            f"{text!r} is in scientific notation and its last digits are lost: format the "
            "column as text and type the numbers again"
        )
    if any(char.isalpha() for char in compact):
        return f"not a phone number: {text!r} contains letters"
    if "+" in compact[1:]:
        return f"not a phone number: {text!r} has a + that is not at the start"
    digits = compact.removeprefix("+")
    if not digits:
        return f"not a phone number: {text!r} has no digits"
    if not (digits.isascii() and digits.isdigit()):
        return f"not a phone number: {text!r} holds characters other than digits and +"
    return None


def _international_prefix(compact: str, region: str | None) -> str:
    """Turn the 00 (and, in +1 regions, 011) dialling prefix into +."""
    if compact.startswith("00"):
        return "+" + compact[2:]
    is_nanp = region is not None and (
        phonenumbers.country_code_for_region(region) == _NANP_CALLING_CODE
    )
    if is_nanp and compact.startswith("011"):
        return "+" + compact[3:]
    return compact


def _parse_reason(error: NumberParseException, text: str) -> str:
    kind = error.error_type
    if kind == NumberParseException.INVALID_COUNTRY_CODE:
        return f"unknown country code in {text!r}: check the digits after the +"
    if kind in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
        return f"too short to be a phone number: {text!r}"
    if kind == NumberParseException.TOO_LONG:
        return f"too long to be a phone number: {text!r}"
    return f"too few digits to be a phone number: {text!r}"


def _checked_number(number: PhoneNumber, text: str, *, check: str) -> PhoneResult:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if phonenumbers.is_valid_number(number):
        return PhoneResult(e164, None)
    where = _country_words(number)
    possibility = phonenumbers.is_possible_number_with_reason(number)
    if possibility == ValidationResult.IS_POSSIBLE:
        if check == "possible":
            return PhoneResult(e164, None)
        return _invalid(
            f"{e164} has the right length but is not a valid number {where}: check the "
            "digits, or set phone_check: possible to accept numbers of a possible length"
        )
    reasons = {
        ValidationResult.TOO_SHORT: "too short",
        ValidationResult.TOO_LONG: "too long",
        ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "a local number without its area code",
    }
    if possibility == ValidationResult.INVALID_COUNTRY_CODE:
        return _invalid(f"unknown country code +{number.country_code}: check the digits")
    problem = reasons.get(possibility, "of a length no number has")
    return _invalid(f"{text!r} is {problem} {where}")


def _country_words(number: PhoneNumber) -> str:
    region = phonenumbers.region_code_for_country_code(number.country_code)
    if region in (None, "ZZ", "001"):
        return f"for country code +{number.country_code}"
    return f"for {region} (+{number.country_code})"


def mask_phone(phone: str) -> str:
    """'+1555***4567': keeps the + with the first 4 digits and the last 4, stars the rest.

    Shorter numbers keep less (a 7-digit one keeps 2 and 2) so at least 3 digits are hidden.
    """
    text = phone.strip()
    plus = "+" if text.startswith("+") else ""
    digits = text[len(plus) :]
    keep = 4
    while keep > 0 and len(digits) - 2 * keep < 3:
        keep -= 1
    if keep == 0:
        return plus + "*" * len(digits)
    return plus + digits[:keep] + "*" * (len(digits) - 2 * keep) + digits[-keep:]
