"""Every wrong campaign file gives one ConfigError naming the file, the line and what to do."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulksend.campaign import KEYS, load_campaign
from bulksend.errors import ConfigError, ExitStatus

BASE = """\
name: spring-sale
channel: whatsapp
template_id: 539
source: customers.csv
phone_column: Phone
"""
SMS = BASE.replace("whatsapp", "sms").replace("template_id: 539\n", "") + "text: Hi\n"
VBM = BASE.replace("whatsapp", "vbm")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "customers.csv").write_text("Phone,first_name\n+14155552671,Dana\n")
    (tmp_path / "book.xlsx").write_bytes(b"not opened by the loader")
    return tmp_path


def error_for(folder: Path, text: str) -> ConfigError:
    path = folder / "campaign.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_campaign(path)
    assert caught.value.exit_status is ExitStatus.CONFIG_ERROR
    return caught.value


def where(folder: Path, line: int) -> str:
    return f"{folder / 'campaign.yaml'}, line {line}: "


# --- exact messages for the main rules -------------------------------------------------------


def test_unknown_key_names_the_line_and_suggests_the_right_one(folder: Path) -> None:
    error = error_for(folder, BASE + "phone_colum: Phone\n")
    assert (
        str(error) == where(folder, 6) + "unknown key `phone_colum`\n  Did you mean `phone_column`?"
    )
    assert error.line == 6


def test_unknown_key_without_a_close_match_lists_the_known_keys(folder: Path) -> None:
    error = error_for(folder, BASE + "zzz: 1\n")
    assert "unknown key `zzz`" in str(error)
    assert "Known keys: name, channel, template_id" in str(error)


def test_broken_yaml_is_reworded_with_line_and_column(folder: Path) -> None:
    error = error_for(folder, BASE + "variables: [first_name\nrate: 5/s\n")
    assert str(error).startswith(where(folder, 7) + "this is not valid YAML, column 5: ")
    assert "Check the indentation and quoting" in str(error)


def test_broken_yaml_does_not_quote_the_offending_line(folder: Path) -> None:
    """yaml's own message shows the line, which may hold a secret pasted by mistake."""
    error = error_for(folder, BASE + "api_key: s3cr3t: oops\n")
    assert "s3cr3t" not in str(error)
    assert error.line == 6


def test_a_key_given_twice_is_an_error(folder: Path) -> None:
    error = error_for(folder, BASE + "channel: sms\n")
    assert str(error) == (
        where(folder, 6) + "`channel` appears twice (first on line 2)\n  Keep one of them."
    )


def test_unknown_channel(folder: Path) -> None:
    error = error_for(folder, BASE.replace("whatsapp", "whatsap"))
    assert str(error) == (
        where(folder, 2) + "unknown channel `whatsap`\n  Did you mean `whatsapp`? "
        "Write `channel: whatsapp`, `channel: sms` or `channel: vbm`."
    )


@pytest.mark.parametrize("channel", ["whatsapp", "vbm"])
def test_template_channels_need_a_template_id(folder: Path, channel: str) -> None:
    error = error_for(folder, BASE.replace("template_id: 539\n", "").replace("whatsapp", channel))
    assert str(error) == (
        f"{folder / 'campaign.yaml'}: `template_id` is missing\n"
        f"  {channel} sends a template: write its number, e.g. template_id: 539"
    )


def test_text_on_a_template_channel(folder: Path) -> None:
    error = error_for(folder, BASE + "text: Hello\n")
    assert str(error) == (
        where(folder, 6) + "`text` is for SMS only: whatsapp sends a template\n"
        "  Remove `text:` and map the template's placeholders in `variables:`."
    )


@pytest.mark.parametrize(
    "line", ["template_id: 5", "variables: [first_name]", "header_url: https://x.test/a.png"]
)
def test_template_keys_on_sms(folder: Path, line: str) -> None:
    key = line.split(":")[0]
    error = error_for(folder, SMS + line + "\n")
    assert str(error) == (
        where(folder, 6) + f"`{key}` does not apply to SMS: an SMS is free text\n"
        "  Remove it and write the message in `text:`."
    )


def test_sms_needs_text(folder: Path) -> None:
    error = error_for(folder, SMS.replace("text: Hi\n", ""))
    assert "`text` is missing" in str(error)


def test_buttons_section_on_vbm(folder: Path) -> None:
    error = error_for(folder, VBM + "variables:\n  body: [first_name]\n  buttons: [x]\n")
    assert str(error) == (
        where(folder, 8) + "VBM templates have no `buttons` section\n"
        "  Use header:, body: and footer: only."
    )


def test_contact_name_on_vbm(folder: Path) -> None:
    error = error_for(folder, VBM + "contact_name: '{{ first_name }}'\n")
    assert str(error).startswith(where(folder, 6) + "`contact_name` does not apply to vbm")


def test_missing_source_names_the_resolved_path(folder: Path) -> None:
    error = error_for(folder, BASE.replace("customers.csv", "../data/nope.csv"))
    missing = folder.parent / "data" / "nope.csv"
    assert str(error) == (
        where(folder, 4) + f"`source` file not found: {missing}\n"
        f"  Paths are relative to the campaign file's folder ({missing.parent})."
    )


@pytest.mark.parametrize("suffix", [".xls", ".ods", ".numbers", ".json", ""])
def test_unsupported_source_suffix(folder: Path, suffix: str) -> None:
    (folder / f"data{suffix}").write_text("x")
    error = error_for(folder, BASE.replace("customers.csv", f"data{suffix}"))
    assert error.line == 4
    assert "bulksend reads .csv, .tsv, .txt, .xlsx, .xlsm" in str(error)
    assert "save it as .xlsx or .csv" in str(error)


@pytest.mark.parametrize("name", ["spring sale", "été", "a/b", "x" * 101])
def test_name_pattern(folder: Path, name: str) -> None:
    error = error_for(folder, BASE.replace("spring-sale", repr(name)))
    assert error.line == 1
    assert "`name` may hold only letters, digits, - and _" in str(error)


@pytest.mark.parametrize("rate", ["10", "10/day", "ten/s", "1.5/s", "0/s", "/s", "[10]"])
def test_rate_syntax(folder: Path, rate: str) -> None:
    error = error_for(folder, BASE + f"rate: {rate}\n")
    assert error.line == 6
    assert "10/s, 300/min or 5000/h" in str(error)


@pytest.mark.parametrize("value", ["0", "65", "-1", "many", "2.5", "true"])
def test_concurrency_is_auto_or_1_to_64(folder: Path, value: str) -> None:
    error = error_for(folder, BASE + f"concurrency: {value}\n")
    assert error.line == 6
    assert "`concurrency` must be" in str(error)


def test_unknown_region(folder: Path) -> None:
    error = error_for(folder, BASE + "default_region: XX\n")
    assert str(error) == (
        where(folder, 6) + "`XX` is not a country code\n"
        "  Use a two-letter ISO 3166 country code such as US, GB, DE or IN."
    )
    assert "GB" in str(error_for(folder, BASE + "default_region: UK\n").hint)


@pytest.mark.parametrize("value", ["{a: 1}", "[]", "[Phone, Phone]", "[Phone, [x]]"])
def test_key_must_be_column_names(folder: Path, value: str) -> None:
    assert error_for(folder, BASE + f"key: {value}\n").line == 6


def test_plain_http_is_refused_outside_loopback(folder: Path) -> None:
    error = error_for(folder, BASE + "api_url: http://app.octopods.io/api/v1\n")
    assert str(error) == (
        where(folder, 6) + "`api_url` uses plain http://, which would send the API key unencrypted"
        "\n  Use https://. Plain http is allowed only for 127.0.0.1, localhost and ::1."
    )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://app.octopods.io/api/v1",
        "app.octopods.io/api/v1",
        "https://app.octopods.io/api",
        "https://user:pw@app.octopods.io/api/v1",
        "https://app.octopods.io/api/v1?key=abc",
        "https://app.octopods.io:port/api/v1",
    ],
)
def test_bad_api_urls(folder: Path, url: str) -> None:
    error = error_for(folder, BASE + f"api_url: {url}\n")
    assert error.line == 6
    assert "`api_url`" in str(error)
    assert "pw" not in str(error) and "abc" not in str(error)


@pytest.mark.parametrize(
    "key", ["api_key", "apiKey", "octopods_api_key", "token", "X-Octopods-Auth"]
)
def test_an_api_key_in_the_file_is_refused_without_echoing_it(folder: Path, key: str) -> None:
    secret = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    error = error_for(folder, BASE + f"{key}: {secret}\n")
    assert str(error).startswith(
        where(folder, 6) + f"`{key}`: the API key never goes in the campaign file"
    )
    assert "export OCTOPODS_API_KEY=" in str(error)
    assert secret not in str(error)


@pytest.mark.parametrize("value", ["9f8e7d6c5b4a39281706f5e4d3c2b1a0", "my key", "1ABC"])
def test_api_key_env_must_name_a_variable(folder: Path, value: str) -> None:
    error = error_for(folder, BASE + f"api_key_env: {value}\n")
    assert str(error).startswith(
        where(folder, 6) + "`api_key_env` must be the name of an environment variable"
    )
    assert value not in str(error)


def test_jinja_syntax_error_gives_its_text_and_line(folder: Path) -> None:
    error = error_for(folder, BASE + "contact_name: '{{ first_name | titl }}'\n")
    assert str(error) == (
        where(folder, 6) + "`contact_name` is not a valid template (No filter named 'titl'.): "
        "{{ first_name | titl }}\n  Templates use jinja2: {{ first_name }}, "
        '{{ first_name | title }}, {{ row["Order Id"] }}.'
    )


def test_jinja_error_line_inside_a_block_scalar(folder: Path) -> None:
    text = SMS.replace("text: Hi\n", "text: |\n  Hello,\n  {{ first_name | }}\n")
    error = error_for(folder, text)
    assert error.line == 7
    assert "`text` is not a valid template" in str(error)


def test_jinja_error_in_a_variable_template(folder: Path) -> None:
    error = error_for(folder, BASE + "variables:\n  - first_name\n  - {template: '{% if x %}'}\n")
    assert error.line == 8
    assert "`template` is not a valid template" in str(error)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "open_conversation: yes please",
            "`open_conversation` must be true or false, not `yes please`",
        ),
        ("dedupe: 1", "`dedupe` must be true or false, not `1`"),
        ("burst: [1]", "`burst` must be a whole number, not a list"),
        ("burst: 0", "`burst` must be between 1 and 10000, not 0"),
        ("max_attempts: 2.5", "`max_attempts` must be a whole number, not `2.5`"),
        ("template_id: abc", "`template_id` must be a whole number, not `abc`"),
        ("phone_check: strict", "`phone_check` must be valid or possible, not `strict`"),
        ("timeout: forever", "`timeout` must be a number of seconds up to 600, not 'forever'"),
        ("timeout: 0", "`timeout` must be a number of seconds up to 600, not 0"),
        ("results: out.xlsx", "`results` must be a .csv file"),
        ("encoding: klingon", "unknown encoding `klingon`"),
        ("sheet: Customers", "`sheet` applies only to Excel files, and customers.csv is not one"),
        ("header_url: [a]", "`header_url` must be text, not a list"),
        ("phone_column: ''", "`phone_column` is empty"),
    ],
)
def test_wrong_types_and_values_name_the_line_of_the_value(
    folder: Path, line: str, message: str
) -> None:
    text = BASE.replace("template_id: 539\n", "") if line.startswith("template_id") else BASE
    text = text.replace("phone_column: Phone\n", "") if line.startswith("phone_column") else text
    error = error_for(folder, text + line + "\n")
    assert message in str(error)
    assert error.line == text.count("\n") + 1


def test_wrong_type_on_a_continuation_line_names_the_value_line(folder: Path) -> None:
    error = error_for(folder, BASE + "burst:\n  - 1\n")
    assert error.line == 7


def test_encoding_on_an_excel_source(folder: Path) -> None:
    error = error_for(folder, BASE.replace("customers.csv", "book.xlsx") + "encoding: utf-8\n")
    assert "`encoding` applies only to CSV and text files" in str(error)


def test_missing_suppression_file(folder: Path) -> None:
    error = error_for(folder, BASE + "suppression: optouts.csv\n")
    assert "`suppression` file not found" in str(error) and error.line == 6


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ("[{colum: Phone}]", "unknown variable key `colum`"),
        ("[{column: a, value: b}]", "needs exactly one of column:, value: or template:"),
        ("[{default: x}]", "needs exactly one of column:, value: or template:"),
        ("[{value: a, default: b}]", "`default` applies to column: and template: only"),
        ("[[a]]", "a variable must be a column name or a mapping, not a list"),
        ("[null]", "a variable must be a column name or a mapping, not empty"),
        ("[{column: ''}]", "`column` is empty"),
        ("first_name", "`variables` must be a list or a mapping of sections, not text"),
        ("{body: first_name}", "`variables.body` must be a list"),
        ("{bodyy: [first_name]}", "unknown section for whatsapp `bodyy`"),
    ],
)
def test_bad_variables(folder: Path, variables: str, message: str) -> None:
    error = error_for(folder, BASE + f"variables: {variables}\n")
    assert message in str(error)
    assert error.line == 6


def test_empty_file(folder: Path) -> None:
    error = error_for(folder, "# nothing yet\n")
    assert str(error) == (
        f"{folder / 'campaign.yaml'}: the campaign file is empty\n  Write one with `bulksend init`."
    )


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "42\n"])
def test_top_level_must_be_a_mapping(folder: Path, text: str) -> None:
    assert "must be a mapping of `key: value` lines" in str(error_for(folder, text))


def test_python_tags_are_refused(folder: Path) -> None:
    error = error_for(folder, BASE + "sheet: !!python/object/apply:os.system [ls]\n")
    assert "does not read YAML tags" in str(error) and error.line == 6


def test_two_documents_are_refused(folder: Path) -> None:
    assert error_for(folder, BASE + "---\nname: other\n").line == 6


def test_missing_campaign_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_campaign(tmp_path / "nope.yaml")
    assert str(caught.value) == (
        f"{tmp_path / 'nope.yaml'}: file not found\n"
        "  Check the path, or write one with `bulksend init`."
    )


def test_a_file_that_is_not_utf8(folder: Path) -> None:
    path = folder / "latin.yaml"
    path.write_bytes(BASE.encode() + "sheet: Résumé\n".encode("cp1252"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_campaign(path)


# --- properties ------------------------------------------------------------------------------

SECRET_WORDS = ("apikey", "token", "secret", "password", "auth")
UNKNOWN_KEYS = st.text(string.ascii_letters + "_", min_size=1, max_size=20).filter(
    lambda key: key not in KEYS and not any(w in key.lower().replace("_", "") for w in SECRET_WORDS)
)


@settings(max_examples=80, deadline=None)
@given(key=UNKNOWN_KEYS, position=st.integers(0, 5))
def test_any_unknown_key_gives_one_error_naming_it_and_its_line(
    key: str, position: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("unknown")
    (folder / "customers.csv").write_text("Phone\n+14155552671\n")
    lines = BASE.splitlines(keepends=True)
    lines.insert(position, f"{key}: 1\n")
    error = error_for(folder, "".join(lines))
    assert f"unknown key `{key}`" in str(error)
    assert error.line == position + 1


SECRETS = st.text(string.ascii_letters + string.digits, min_size=24, max_size=64).filter(
    lambda text: any(c.isdigit() for c in text)
)


@settings(max_examples=60, deadline=None)
@given(secret=SECRETS, key=st.sampled_from(["api_key", "api_key_env", "apiToken", "password"]))
def test_a_pasted_key_never_appears_in_the_error(
    secret: str, key: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("secret")
    (folder / "customers.csv").write_text("Phone\n+14155552671\n")
    error = error_for(folder, BASE + f"{key}: {secret}\n")
    assert secret not in str(error) and secret not in repr(error)
    assert error.line == 6


# --- results must not overwrite what the campaign reads ----------------------------------------


@pytest.mark.parametrize(
    ("results", "clash"),
    [
        ("customers.csv", "`results` is the `source` file (customers.csv)"),
        ("./out/../customers.csv", "`results` is the `source` file (customers.csv)"),
        ("optouts.csv", "`results` is the `suppression` file (optouts.csv)"),
    ],
)
def test_results_over_the_source_or_the_suppression_list_is_refused(
    folder: Path, results: str, clash: str
) -> None:
    (folder / "optouts.csv").write_text("phone\n+14155550100\n")
    error = error_for(folder, BASE + f"suppression: optouts.csv\nresults: {results}\n")
    hint = (
        "Point `results:` at another .csv file (e.g. results: spring-sale-results.csv): "
        "bulksend overwrites it."
    )
    assert (
        str(error) == f"{where(folder, 7)}{clash}: validate and send would overwrite it\n  {hint}"
    )


def test_a_rejects_file_over_the_source_is_refused(folder: Path) -> None:
    """results: list.csv writes list.rejects.csv beside it: that must not be the source either."""
    (folder / "list.rejects.csv").write_text("Phone\n+14155552671\n")
    text = BASE.replace("customers.csv", "list.rejects.csv") + "results: list.csv\n"
    error = error_for(folder, text)
    assert str(error).startswith(
        where(folder, 6) + "the rejects file beside the results is the `source` file "
        "(list.rejects.csv): validate and send would overwrite it"
    )


def test_the_default_results_path_over_the_source_names_the_source_line(folder: Path) -> None:
    (folder / "results").mkdir()
    (folder / "results" / "spring-sale.csv").write_text("Phone\n+14155552671\n")
    error = error_for(folder, BASE.replace("customers.csv", "results/spring-sale.csv"))
    assert str(error) == (
        where(folder, 4) + "`results` is the `source` file (spring-sale.csv): validate and "
        "send would overwrite it\n  Add a `results:` line naming another .csv file (e.g. results: "
        "spring-sale-results.csv): the default, results/<name>.csv beside the campaign file, "
        "is this file."
    )


def test_a_symlink_to_the_source_is_the_same_file(folder: Path) -> None:
    (folder / "link.csv").symlink_to(folder / "customers.csv")
    error = error_for(folder, BASE + "results: link.csv\n")
    assert "`results` is the `source` file (customers.csv)" in str(error)


# --- every error says what to do ------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "line", "expected"),
    [
        (
            'contact_name: ""',
            6,
            "`contact_name` is empty\n  Write a value after `contact_name:`, or leave "
            "`contact_name` out.",
        ),
        (
            'variables:\n  - {value: ""}',
            7,
            "`value` is empty\n  A constant needs text, e.g. {value: Spring Sale}; to fill the "
            "placeholder from a column that may be empty, write {column: NAME, default: TEXT}.",
        ),
        (
            "concurrency: 99",
            6,
            "`concurrency` must be between 1 and 64, not 99\n  Write `auto` (bulksend sizes it "
            "from the rate) or a whole number from 1 to 64, e.g. concurrency: 4.",
        ),
        (
            "phone_check: strict",
            6,
            "`phone_check` must be valid or possible, not `strict`\n  Write `phone_check: valid` "
            "(the default: numbers in ranges that are in use) or `phone_check: possible` (any "
            "number of a possible length, e.g. a brand-new range).",
        ),
        (
            "burst: 0",
            6,
            "`burst` must be between 1 and 10000, not 0\n  Write a whole number from 1 to 10000.",
        ),
        (
            "variables: {body: 3}",
            6,
            "`variables.body` must be a list\n  Write one entry per placeholder: "
            "body: [first_name, Order Id], or body: [] for none.",
        ),
    ],
)
def test_value_errors_say_what_to_write(folder: Path, extra: str, line: int, expected: str) -> None:
    assert str(error_for(folder, BASE + extra + "\n")) == where(folder, line) + expected


def test_a_wrong_choice_suggests_the_close_one(folder: Path) -> None:
    error = error_for(folder, BASE + "phone_check: posible\n")
    assert error.hint is not None and error.hint.startswith("Did you mean `possible`? Write")


def test_a_campaign_file_that_is_a_list_says_how_to_write_one(folder: Path) -> None:
    error = error_for(folder, "- name: spring\n- channel: sms\n")
    assert str(error) == (
        where(folder, 1) + "the campaign file must be a mapping of `key: value` lines\n"
        "  Write one `key: value` per line, starting at the left margin, e.g. name: spring-sale "
        "(`bulksend init SPREADSHEET` writes a starting file)."
    )


QUOTE = (
    'YAML reads an unquoted {text} as "no value": if you mean the text {text} (a column of that '
    "name, say), put it in quotes: {example}."
)


@pytest.mark.parametrize("null", ["null", "~", "NULL"])
def test_an_unquoted_null_phone_column_says_to_quote_it(folder: Path, null: str) -> None:
    error = error_for(folder, BASE.replace("phone_column: Phone", f"phone_column: {null}"))
    quote = QUOTE.format(text=null, example=f'phone_column: "{null}"')
    assert str(error) == (
        where(folder, 5) + f"`phone_column` is empty\n  {quote} Write `phone_column:` with the "
        "column that holds the phones."
    )


def test_a_blank_phone_column_has_no_quoting_advice(folder: Path) -> None:
    error = error_for(folder, BASE.replace("phone_column: Phone", "phone_column:"))
    assert error.hint == "Write `phone_column:` with the column that holds the phones."


@pytest.mark.parametrize(
    ("extra", "line", "example"),
    [
        ("variables: [first_name, null]", 6, '- "null"'),
        ("variables:\n  - {column: null}", 7, 'column: "null"'),
        ("key: null", 6, 'key: "null"'),
        ("key: ~", 6, 'key: "~"'),
    ],
)
def test_an_unquoted_null_column_name_says_to_quote_it(
    folder: Path, extra: str, line: int, example: str
) -> None:
    error = error_for(folder, BASE + extra + "\n")
    null = example.split('"')[1]
    assert error.line == line
    assert QUOTE.format(text=null, example=example) in str(error)


def test_key_null_is_refused_rather_than_read_as_no_key(folder: Path) -> None:
    error = error_for(folder, BASE + "key: null\n")
    assert str(error).startswith(
        where(folder, 6) + "`key` is null, which YAML reads as no value\n"
        "  Remove the `key:` line if you meant none. YAML reads"
    )


def test_a_quoted_null_is_a_column_name(folder: Path) -> None:
    path = folder / "campaign.yaml"
    path.write_text(BASE.replace("phone_column: Phone", 'phone_column: "null"') + 'key: "~"\n')
    campaign = load_campaign(path)
    assert (campaign.phone_column, campaign.key) == ("null", ("~",))
