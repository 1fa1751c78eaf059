"""Config and input errors through the real CLI: one message naming the file and the line of the
setting (or the sheet's row), what to do, exit status 2, never a traceback.

Only rules that the library tests (test_campaign_errors, test_sheets_*, test_prepare...) do not
already pin down at this level live here.
"""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from bulksend.cli import main

HEADER = "Phone,first_name,Order Id,image_url\n"
ROWS = "+14155552671,Dana,A-1,https://cdn.example.com/a.jpg\n+442079460958,Omar,A-2,\n"

SMS = """\
name: spring
channel: sms
source: customers.csv
phone_column: Phone
text: "Hi {{ first_name }}"
api_url: sandbox
"""

WHATSAPP = """\
name: spring
channel: whatsapp
template_id: 539
source: customers.csv
phone_column: Phone
variables:
  - first_name
  - {column: Order Id}
api_url: sandbox
"""


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def write(folder: Path, text: str) -> Path:
    (folder / "customers.csv").write_text(HEADER + ROWS, encoding="utf-8")
    path = folder / "campaign.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def one_error(result: Result) -> str:
    """The error message, after checking it is the only thing printed and the exit is 2."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.count("error: ") == 1
    assert result.stderr.startswith("error: ")
    return result.stderr.removeprefix("error: ").strip()


def validate_error(folder: Path, text: str, env: dict[str, str] | None = None) -> str:
    return one_error(invoke("validate", str(write(folder, text)), env=env))


def at_line(folder: Path, line: int) -> str:
    return f"{folder / 'campaign.yaml'}, line {line}: "


# --- a column the sheet lacks names the line that asks for it --------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "used_by"),
    [
        (SMS.replace("phone_column: Phone", "phone_column: Phon"), 4, "Phon", "phone_column"),
        (SMS + "key: [Customer Id]\n", 7, "Customer Id", "key"),
        (SMS.replace("first_name }}", "frist_name }}"), 5, "frist_name", "the SMS text"),
        (SMS + 'contact_name: "{{ row.nope }}"\n', 7, "nope", "contact_name"),
        (WHATSAPP.replace("- first_name", "- first_nam"), 7, "first_nam", "body variable 1"),
        (WHATSAPP.replace("{column: Order Id}", "{column: Order ID}"), 8, "Order ID", "body"),
        (WHATSAPP + 'header_url: "{{ url }}"\n', 10, "url", "header_url"),
    ],
    ids=["phone_column", "key", "text", "contact_name", "variable", "variable-case", "header_url"],
)
def test_a_missing_column_names_the_line_that_uses_it(
    tmp_path: Path, text: str, line: int, column: str, used_by: str
) -> None:
    message = validate_error(tmp_path, text)
    assert message.startswith(at_line(tmp_path, line) + f"column {column!r} (used by {used_by}")
    assert "is not in customers.csv" in message
    assert "Its columns are: 'Phone', 'first_name', 'Order Id', 'image_url'" in message


def test_a_missing_column_in_a_block_text_names_the_text_line(tmp_path: Path) -> None:
    text = SMS.replace('text: "Hi {{ first_name }}"', "text: >-\n  Hi\n  {{ frist }}")
    message = validate_error(tmp_path, text)
    assert message.startswith(at_line(tmp_path, 5) + "column 'frist' (used by the SMS text)")


# --- the sheet name ---------------------------------------------------------------------------


def workbook(folder: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "Customers"
    book.active.append(["Phone", "first_name"])
    book.active.append(["+14155552671", "Dana"])
    book.create_sheet("Notes")
    book.save(folder / "customers.xlsx")


def test_a_wrong_sheet_name_names_the_line_and_lists_the_sheets(tmp_path: Path) -> None:
    workbook(tmp_path)
    text = SMS.replace("customers.csv", "customers.xlsx") + "sheet: Custmers\n"
    message = validate_error(tmp_path, text)
    assert message.startswith(at_line(tmp_path, 7) + "customers.xlsx has no sheet named 'Custmers'")
    assert "its sheets are: 'Customers', 'Notes'" in message
    assert "Did you mean 'Customers'?" in message


def test_send_reports_a_wrong_sheet_name_the_same_way(tmp_path: Path) -> None:
    workbook(tmp_path)
    text = SMS.replace("customers.csv", "customers.xlsx") + "sheet: notes\n"
    message = one_error(invoke("send", "--yes", str(write(tmp_path, text))))
    assert message.startswith(at_line(tmp_path, 7) + "customers.xlsx has no sheet named 'notes'")
    assert "Did you mean 'Notes'?" in message
    assert not (tmp_path / "results" / "spring.csv").exists() or "sent" not in (
        tmp_path / "results" / "spring.csv"
    ).read_text(encoding="utf-8-sig")


# --- templates that compile but can never render ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            SMS.replace("first_name }}", "first_name.__class__ }}"),
            5,
            "the SMS text is refused by the jinja2 sandbox",
        ),
        (
            SMS.replace("first_name }}", "first_name.upper.x }}"),
            5,
            "the SMS text fails on each of the first",
        ),
        (
            WHATSAPP + 'contact_name: "{{ first_name.__class__ }}"\n',
            10,
            "contact_name is refused by the jinja2 sandbox",
        ),
    ],
    ids=["sandboxed", "undefined-everywhere", "contact_name"],
)
def test_a_template_that_cannot_render_names_its_line(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    # Twenty rows, so that "fails on each of the first 20 rows" can be reached.
    (tmp_path / "customers.csv").write_text(HEADER + ROWS * 10, encoding="utf-8")
    path = tmp_path / "campaign.yaml"
    path.write_text(text, encoding="utf-8")
    message = one_error(invoke("validate", str(path)))
    assert message.startswith(at_line(tmp_path, line) + problem), message


# --- the API key ------------------------------------------------------------------------------


@pytest.mark.parametrize("channel_text", [SMS, WHATSAPP], ids=["sms", "whatsapp"])
def test_validate_names_a_missing_key_variable(tmp_path: Path, channel_text: str) -> None:
    text = channel_text.replace(
        "api_url: sandbox", "api_url: https://api.example.test/api/v1\napi_key_env: SPRING_KEY"
    )
    message = validate_error(tmp_path, text, env={"SPRING_KEY": ""})
    assert "SPRING_KEY" in message
    assert "export SPRING_KEY=" in message


def test_a_set_key_variable_lets_an_sms_campaign_validate(tmp_path: Path) -> None:
    text = SMS.replace(
        "api_url: sandbox", "api_url: https://api.example.test/api/v1\napi_key_env: SPRING_KEY"
    )
    result = invoke("validate", str(write(tmp_path, text)), env={"SPRING_KEY": "k-1234"})
    assert result.exit_code == 0, result.output
    assert "k-1234" not in result.output


# --- smaller wording gaps ---------------------------------------------------------------------


def test_a_folder_as_source_says_it_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "exports.csv").mkdir()
    message = validate_error(tmp_path, SMS.replace("customers.csv", "exports.csv"))
    assert message.startswith(at_line(tmp_path, 3) + "`source` is a folder, not a file")


@pytest.mark.parametrize(
    ("value", "shown"), [("5.5", "`5.5`"), ("abc", "`abc`"), ("[539]", "a list"), ("yes", "`yes`")]
)
def test_a_template_id_that_is_not_whole_shows_what_was_written(
    tmp_path: Path, value: str, shown: str
) -> None:
    message = validate_error(tmp_path, WHATSAPP.replace("539", value))
    assert message.startswith(
        at_line(tmp_path, 3) + f"`template_id` must be a whole number, not {shown}\n"
    )


# --- init ---------------------------------------------------------------------------------


def init_error(folder: Path, *args: str) -> str:
    (folder / "customers.csv").write_text(HEADER + ROWS, encoding="utf-8")
    message = one_error(invoke("init", str(folder / "customers.csv"), *args))
    assert list(folder.glob("*.yaml")) == [] and list(folder.glob(".*.yaml")) == []
    assert not re.search(r"\.\w+-\w+\.yaml", message), "names init's scratch file"
    return message


def test_init_refuses_a_bad_region_by_its_option(tmp_path: Path) -> None:
    out = str(tmp_path / "c.yaml")
    message = init_error(tmp_path, "--channel", "sms", "--default-region", "UK", "-o", out)
    assert message.startswith("--default-region: `UK` is not a country code")
    assert "The code for the United Kingdom is GB." in message


@pytest.mark.parametrize(
    ("url", "problem"),
    [("http://example.com/api/v1", "plain http://"), ("ftp://x", "must be a web address")],
)
def test_init_refuses_a_bad_api_url_by_its_option(tmp_path: Path, url: str, problem: str) -> None:
    out = str(tmp_path / "c.yaml")
    message = init_error(tmp_path, "--channel", "sms", "--api-url", url, "-o", out)
    assert message.startswith("--api-url: ")
    assert problem in message


def test_init_refuses_a_template_id_for_sms(tmp_path: Path) -> None:
    out = str(tmp_path / "c.yaml")
    message = init_error(tmp_path, "--channel", "sms", "--template-id", "5", "-o", out)
    assert "--template-id" in message and "SMS" in message


def test_init_names_an_unreadable_format_before_asking_for_a_template(tmp_path: Path) -> None:
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    message = one_error(invoke("init", str(tmp_path / "old.xls"), "-o", str(tmp_path / "c.yaml")))
    assert "old.xls" in message and "save it as .xlsx or .csv" in message
