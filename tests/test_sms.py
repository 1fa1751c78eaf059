"""SMS encoding and segment counts."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bulksend.sms import GSM7_BASIC, GSM7_EXTENSION, SmsEncoding, sms_info

GSM_TEXT = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=2000)


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", SmsEncoding.GSM7, 0),
        ("Hi Dana, your order A-778 has shipped.", SmsEncoding.GSM7, 1),
        ("a" * 160, SmsEncoding.GSM7, 1),
        ("a" * 161, SmsEncoding.GSM7, 2),
        ("a" * 306, SmsEncoding.GSM7, 2),
        ("a" * 307, SmsEncoding.GSM7, 3),
        ("€" * 80, SmsEncoding.GSM7, 1),  # extension characters cost two septets
        ("€" * 81, SmsEncoding.GSM7, 2),
        ("Café à Zürich", SmsEncoding.GSM7, 1),  # é, à, ü are in the GSM-7 basic set
        ("ç" * 70, SmsEncoding.UCS2, 1),  # lowercase ç is not (only Ç is)
        ("ç" * 71, SmsEncoding.UCS2, 2),
        ("ç" * 134, SmsEncoding.UCS2, 2),
        ("ç" * 135, SmsEncoding.UCS2, 3),
        ("😀" * 35, SmsEncoding.UCS2, 1),  # an emoji is two UTF-16 units
        ("😀" * 36, SmsEncoding.UCS2, 2),
        ("a" * 159 + "😀", SmsEncoding.UCS2, 3),  # one emoji switches the whole text
    ],
)
def test_known_examples(text: str, encoding: SmsEncoding, segments: int) -> None:
    info = sms_info(text)
    assert (info.encoding, info.segments) == (encoding, segments)
    assert info.characters == len(text)


def test_extension_characters_count_two_septets() -> None:
    assert sms_info("{[]}").units == 8
    assert sms_info("abcd").units == 4


def test_over_1600_characters_is_too_long() -> None:
    assert not sms_info("a" * 1600).too_long
    assert sms_info("a" * 1601).too_long
    assert sms_info("ç" * 1601).too_long


@given(GSM_TEXT, st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION)))
def test_gsm_segments_never_shrink_when_text_grows(text: str, extra: str) -> None:
    assert sms_info(text + extra).segments >= sms_info(text).segments


@given(st.text(max_size=1200), st.characters())
@example("", "\ud800")  # a lone surrogate once crashed the UTF-16 count
def test_segments_never_shrink_when_text_grows(text: str, extra: str) -> None:
    """Holds across the GSM-7 to UCS-2 switch too."""
    assert sms_info(text + extra).segments >= sms_info(text).segments


@given(st.text(min_size=1, max_size=1200))
def test_segments_cover_the_units(text: str) -> None:
    info = sms_info(text)
    single, part = (160, 153) if info.encoding is SmsEncoding.GSM7 else (70, 67)
    if info.segments == 1:
        assert info.units <= single
    else:
        assert (info.segments - 1) * part < info.units <= info.segments * part
