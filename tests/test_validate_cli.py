"""`bulksend validate` through click, with real campaign files and spreadsheets in tmp_path."""

from __future__ import annotations

import csv
import json
import shutil
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bulksend.cli import main

REPO = Path(__file__).resolve().parent.parent
HEADER = ["Phone", "first_name", "Order Id"]
ROWS = [
    ["+12122345678", "dana", "A-1"],
    ["(212) 555-0198", "omar", "A-2"],
    ["212-234-5678", "dana", "A-3"],  # duplicate of row 2
    ["12", "li", "A-4"],  # invalid phone
    ["+447911123456", "zoë", ""],  # empty Order Id
]


def write_files(folder: Path, yaml_text: str, rows: Sequence[Sequence[str]] = ROWS) -> Path:
    with (folder / "customers.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    path = folder / "campaign.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    return path


SMS_YAML = """\
name: spring
channel: sms
source: customers.csv
phone_column: Phone
default_region: US
text: "Hi {{ first_name }}, order {{ row['Order Id'] }} shipped."
"""

WHATSAPP_YAML = """\
name: spring
channel: whatsapp
template_id: {template_id}
source: customers.csv
phone_column: Phone
default_region: US
variables: {variables}
api_url: {api_url}
api_key_env: BULKSEND_TEST_KEY
"""


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    # SMS_YAML aims at the real API, so validate wants its key variable set (never used: SMS
    # has no template to fetch).
    env = {"OCTOPODS_API_KEY": "test-key", **(env or {})}
    return CliRunner().invoke(main, ["validate", *args], env=env, catch_exceptions=False)


def test_prints_the_summary_and_exits_0(tmp_path: Path) -> None:
    result = run(str(write_files(tmp_path, SMS_YAML)))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "rows read            5" in out
    assert "sendable             3" in out  # an empty Order Id inside SMS text is allowed
    assert "invalid              1" in out
    assert "e.g. row 5: phone '12'" in out
    assert "duplicates           1" in out
    assert "SMS segments         3  (rows by encoding: GSM-7 2, UCS-2 1)" in out
    assert "rejects: 2 row(s) written to" in out
    assert "ready: 3 message(s) to send with `bulksend send" in out


def test_preview_masks_phones(tmp_path: Path) -> None:
    result = run(str(write_files(tmp_path, SMS_YAML)), "--preview", "1")
    assert result.exit_code == 0
    assert "preview of the first 1 request body(ies)" in result.output
    assert '"body": "Hi dana, order A-1 shipped."' in result.output
    assert "+12122345678" not in result.output
    assert "2345678" not in result.output


def test_preview_shows_characters_encoding_and_segments_per_sms(tmp_path: Path) -> None:
    result = run(str(write_files(tmp_path, SMS_YAML)), "--preview", "3")
    assert result.exit_code == 0, result.output
    assert "  row 2: 27 characters, GSM-7, 1 segment\n" in result.output
    assert "  row 3: 27 characters, GSM-7, 1 segment\n" in result.output
    assert "  row 6: 23 characters, UCS-2, 1 segment\n" in result.output  # the ë of zoë


def test_preview_counts_the_segments_of_a_long_sms(tmp_path: Path) -> None:
    """161 GSM-7 characters no longer fit one SMS: two parts of up to 153."""
    long_text = SMS_YAML.replace("shipped.", "shipped." + "x" * 134)
    result = run(str(write_files(tmp_path, long_text)), "--preview", "1")
    assert "  row 2: 161 characters, GSM-7, 2 segments\n" in result.output


def test_json_preview_carries_the_sms_sizing(tmp_path: Path) -> None:
    result = run(str(write_files(tmp_path, SMS_YAML)), "--json", "--preview", "3")
    preview = json.loads(result.stdout)["preview"]
    assert [item["sms"] for item in preview] == [
        {"characters": 27, "encoding": "GSM-7", "segments": 1},
        {"characters": 27, "encoding": "GSM-7", "segments": 1},
        {"characters": 23, "encoding": "UCS-2", "segments": 1},
    ]


def test_json_prints_only_the_report(tmp_path: Path) -> None:
    result = run(str(write_files(tmp_path, SMS_YAML)), "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["sendable"] == 3 and report["can_send"] is True
    assert report["rejects_path"] == str(tmp_path / "results" / "spring.rejects.csv")
    assert Path(report["rejects_path"]).is_file()


def test_no_sendable_row_exits_2(tmp_path: Path) -> None:
    result = run(str(write_files(tmp_path, SMS_YAML, rows=[["12", "a", "b"]])))
    assert result.exit_code == 2
    assert "cannot send: no row is sendable" in result.output


def test_an_unknown_column_is_one_clear_error(tmp_path: Path) -> None:
    path = write_files(tmp_path, SMS_YAML.replace("row['Order Id']", "order_id"))
    result = run(str(path))
    assert result.exit_code == 2
    assert "error: " in result.stderr
    assert "column 'order_id' (used by the SMS text) is not in customers.csv" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_an_unclosed_quote_is_named_not_read_as_a_missing_phone(tmp_path: Path) -> None:
    path = write_files(tmp_path, SMS_YAML, rows=[])
    csv_path = tmp_path / "customers.csv"
    csv_path.write_text(
        'Phone,first_name,Order Id\n"+1 212 234 5678,dana,A-1\n+1 212 555 0198,omar,A-2\n',
        encoding="utf-8",
    )
    result = run(str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f'error: {csv_path}, row 2: a quote (") opened in column A (position 1) of this row is '
        "not closed where the row ends"
    )
    assert "missing phone" not in result.output


def test_a_header_only_sheet_exits_2(tmp_path: Path) -> None:
    result = run(str(write_files(tmp_path, SMS_YAML, rows=[])))
    assert result.exit_code == 2
    assert "has a header but no data rows" in result.stderr


def test_a_missing_campaign_file_exits_2(tmp_path: Path) -> None:
    result = run(str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "nope.yaml" in result.stderr


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connections are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_an_unreachable_api_leaves_the_template_unchecked(
    tmp_path: Path, refusing_port: int
) -> None:
    yaml_text = WHATSAPP_YAML.format(
        template_id=539,
        variables="[first_name, Order Id]",
        api_url=f"http://127.0.0.1:{refusing_port}/api/v1",
    )
    result = run(str(write_files(tmp_path, yaml_text)), env={"BULKSEND_TEST_KEY": "k-123"})
    assert result.exit_code == 0, result.output
    assert "template: not checked, the API could not be reached" in result.output
    assert "k-123" not in result.output + result.stderr


def test_help_explains_the_command() -> None:
    result = CliRunner().invoke(main, ["validate", "--help"])
    assert result.exit_code == 0
    assert "--preview" in result.output and "--json" in result.output
    assert "Exit status" in result.output


needs_sandbox = pytest.mark.skipif(
    not (REPO / "bulksend" / "sandbox" / "__init__.py").is_file(), reason="sandbox not built yet"
)


@needs_sandbox
def test_a_fitting_campaign_passes_against_the_sandbox(tmp_path: Path) -> None:
    yaml_text = WHATSAPP_YAML.format(
        template_id=539, variables="[first_name, Order Id]", api_url="sandbox"
    )
    result = run(str(write_files(tmp_path, yaml_text)), env={"BULKSEND_TEST_KEY": ""})
    assert result.exit_code == 0, result.output + result.stderr
    assert "template: checked, the variables fit its placeholders" in result.output


@needs_sandbox
def test_a_count_mismatch_against_the_sandbox_exits_2(tmp_path: Path) -> None:
    yaml_text = WHATSAPP_YAML.format(
        template_id=539, variables="[first_name, Order Id, Phone]", api_url="sandbox"
    )
    result = run(str(write_files(tmp_path, yaml_text)), env={"BULKSEND_TEST_KEY": ""})
    assert result.exit_code == 2
    assert "template 539's body has 2 placeholder(s) but variables lists 3" in result.output


@needs_sandbox
def test_a_media_header_without_header_url_exits_2(tmp_path: Path) -> None:
    yaml_text = WHATSAPP_YAML.format(
        template_id=540,
        variables="{header: [], body: [first_name], footer: [], buttons: [Order Id]}",
        api_url="sandbox",
    )
    result = run(str(write_files(tmp_path, yaml_text)), env={"BULKSEND_TEST_KEY": ""})
    assert result.exit_code == 2, result.output
    assert "header, so every message needs its URL" in result.output


@needs_sandbox
def test_a_missing_template_exits_2(tmp_path: Path) -> None:
    yaml_text = WHATSAPP_YAML.format(template_id=999, variables="[first_name]", api_url="sandbox")
    result = run(str(write_files(tmp_path, yaml_text)), env={"BULKSEND_TEST_KEY": ""})
    assert result.exit_code == 2
    assert "template problems" in result.output


@needs_sandbox
@pytest.mark.parametrize("name", ["whatsapp-demo", "sms-demo", "vbm-demo"])
def test_the_demo_campaigns_validate_clean(tmp_path: Path, name: str) -> None:
    shutil.copytree(REPO / "campaigns", tmp_path / "campaigns")
    shutil.copytree(REPO / "sample_data", tmp_path / "sample_data")
    result = run(str(tmp_path / "campaigns" / f"{name}.yaml"), env={"OCTOPODS_API_KEY": ""})
    assert result.exit_code == 0, result.output + result.stderr
    assert "ready:" in result.output
