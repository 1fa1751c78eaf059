"""The HTML report: well-formed, self-contained, escaped, and it shows the funnel."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from bulksend.report import summarize
from bulksend.report_html import render_html
from bulksend.results import Outcome, ResultRecord

GENERATED = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
VOID_ELEMENTS = frozenset({"meta", "br", "hr", "img", "link", "input"})
SVG = "{http://www.w3.org/2000/svg}"


def _records() -> list[ResultRecord]:
    statuses = ["read", "read", "delivered", "failed", "sent", "delivered"]
    records = [
        ResultRecord(
            row=index + 2,
            phone=f"+4477009000{index:02d}",
            outcome=Outcome.SENT,
            identity=f"+4477009000{index:02d}",
            message_id=str(100 + index),
            updated_at=f"2026-05-02T09:00:{index * 7:02d}Z",
            delivery_status=status,
            delivery_detail="<script>alert(1)</script>" if status == "failed" else "",
        )
        for index, status in enumerate(statuses)
    ]
    records.append(
        ResultRecord(
            row=20,
            phone='+44"><img src=x>',
            outcome=Outcome.REJECTED,
            identity="x",
            error_code=5,
            error="Phone & <name> invalid",
            updated_at="2026-05-02T09:00:30Z",
        )
    )
    return records


def _page() -> str:
    report = summarize(_records(), campaign_name="Spring <sale>", channel="whatsapp")
    return render_html(report, generated_at=GENERATED)


class _TagBalance(HTMLParser):
    """Checks every opened element is closed in order, as html.parser sees the page."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def test_page_is_well_formed() -> None:
    page = _page()
    checker = _TagBalance()
    checker.feed(page)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    root = ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))
    assert root.tag == "html"


def test_page_is_self_contained() -> None:
    """No external script, stylesheet, font or image: it must open offline and print."""
    page = _page()
    root = ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))
    for element in root.iter():
        for name in ("src", "href"):
            value = element.get(name)
            assert value is None or not re.match(r"(https?:)?//", value), element.tag
    assert root.find(".//script") is None
    assert root.find(".//link") is None
    assert "@import" not in page and "url(" not in page
    assert "@media print" in page


def test_page_shows_the_funnel() -> None:
    root = ET.fromstring(_page().removeprefix("<!DOCTYPE html>\n"))
    chart = next(e for e in root.iter(f"{SVG}svg") if e.get("id") == "funnel-chart")
    bars = [rect for rect in chart.iter(f"{SVG}rect") if rect.get("class") == "bar"]
    titles = [bar.find(f"{SVG}title").text for bar in bars]
    assert titles == ["Sent: 6", "Delivered: 4", "Read: 2", "Failed: 1"]
    widths = [float(bar.get("width")) for bar in bars]
    assert widths[0] > widths[1] > widths[2] > 0 and widths[3] > 0
    assert widths[1] / widths[0] == pytest.approx(4 / 6, abs=0.001)


def test_everything_from_users_and_the_api_is_escaped() -> None:
    page = _page()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x>" not in page
    assert "Phone &amp; &lt;name&gt; invalid" in page
    assert "Spring &lt;sale&gt;" in page


def test_page_has_outcomes_over_time_and_the_tables() -> None:
    root = ET.fromstring(_page().removeprefix("<!DOCTYPE html>\n"))
    timeline = next(e for e in root.iter(f"{SVG}svg") if e.get("id") == "timeline-chart")
    assert len(list(timeline.iter(f"{SVG}rect"))) >= 2
    tables = {table.get("id"): table for table in root.iter("table")}
    outcome_cells = [
        [cell.text for cell in row.iter("td")] for row in tables["outcome-table"].iter("tr")
    ]
    assert ["6", "85.7%"] == next(cells[1:3] for cells in outcome_cells if cells and cells[1])
    reasons = "".join(tables["reason-table"].itertext())
    assert "Phone & <name> invalid" in reasons and "row 20" in reasons


def test_an_empty_results_file_still_renders() -> None:
    page = render_html(summarize([]), generated_at=GENERATED)
    root = ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))
    assert "No times recorded." in "".join(root.itertext())


def _funnel_titles(page: str) -> list[str]:
    root = ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))
    chart = next(e for e in root.iter(f"{SVG}svg") if e.get("id") == "funnel-chart")
    return [rect.find(f"{SVG}title").text for rect in chart.iter(f"{SVG}rect") if rect.get("class")]


def test_vbm_page_says_delivery_cannot_be_tracked() -> None:
    sent = [r for r in _records() if r.outcome is Outcome.SENT]
    page = render_html(summarize(sent, channel="vbm"), generated_at=GENERATED)
    assert _funnel_titles(page) == ["Sent: 6"]
    assert "VBM has no status endpoint" in page
    assert "never checked" not in page


def test_sms_funnel_has_no_read_bar() -> None:
    page = render_html(summarize(_records(), channel="sms"), generated_at=GENERATED)
    assert _funnel_titles(page) == ["Sent: 6", "Delivered: 4", "Failed: 1"]


def test_reasons_say_not_sent_or_not_delivered() -> None:
    root = ET.fromstring(_page().removeprefix("<!DOCTYPE html>\n"))
    table = next(t for t in root.iter("table") if t.get("id") == "reason-table")
    what = [row.findall("td")[1].text for row in table.iter("tr") if row.findall("td")]
    assert sorted(what) == ["not delivered (failed)", "not sent (rejected)"]


def _card_labels(page: str) -> list[str]:
    root = ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))
    return [div.text or "" for div in root.iter("div") if div.get("class") == "label"]


def test_cards_show_only_what_the_channel_can_know() -> None:
    """No "Delivered 0" or "Read 0" card above the note that delivery cannot be tracked."""
    sent = [r for r in _records() if r.outcome is Outcome.SENT]
    vbm = _card_labels(render_html(summarize(sent, channel="vbm"), generated_at=GENERATED))
    sms = _card_labels(render_html(summarize(sent, channel="sms"), generated_at=GENERATED))
    whatsapp = _card_labels(
        render_html(summarize(sent, channel="whatsapp"), generated_at=GENERATED)
    )
    assert vbm[:2] == ["Recipients", "Sent"] and vbm[2] == "Duration"
    assert {"Delivered", "Read", "Failed delivery"}.isdisjoint(vbm)
    assert "Read" not in sms and {"Delivered", "Failed delivery"} <= set(sms)
    assert {"Delivered", "Read", "Failed delivery"} <= set(whatsapp)


def test_vbm_page_lists_no_delivery_statuses() -> None:
    sent = [r for r in _records() if r.outcome is Outcome.SENT]
    page = render_html(summarize(sent, channel="vbm"), generated_at=GENERATED)
    assert 'id="statuses"' not in page and "not checked yet" not in page


def test_colours_that_carry_meaning_survive_printing() -> None:
    """Swatches are backgrounds, which browsers drop in print unless told to keep them."""
    css = re.search(r"<style>(.*)</style>", _page(), re.S).group(1)
    rule = re.search(r"\.swatch, svg \{([^}]*)\}", css).group(1)
    assert "print-color-adjust: exact" in rule
    assert "-webkit-print-color-adjust: exact" in rule


def test_reason_examples_keep_the_rows_own_text() -> None:
    records = [
        ResultRecord(
            row=row,
            phone=phone,
            outcome=Outcome.INVALID,
            identity=f"{phone} #row {row}",
            error=f"phone {phone!r} is too short for US (+1)",
        )
        for row, phone in [(3, "120"), (4, "99")]
    ]
    page = render_html(summarize(records), generated_at=GENERATED)
    root = ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))
    table = next(t for t in root.iter("table") if t.get("id") == "reason-table")
    [cells] = [
        [td.text for td in row.findall("td")] for row in table.iter("tr") if row.findall("td")
    ]
    assert cells[0] == "2" and cells[3] == "phone … is too short for US (+1)"
    assert cells[4] == "row 3, 120: phone '120' is too short for US (+1)"
