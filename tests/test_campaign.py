"""Loading campaign files that are right: values, defaults, paths, variables, column references."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulksend.campaign import (
    DEFAULT_API_URL,
    DEFAULT_RATE,
    KEYS,
    Campaign,
    PhoneCheck,
    Rate,
    ValueKind,
    ValueSpec,
    load_campaign,
    parse_rate,
    referenced_columns,
    template_columns,
)
from bulksend.channels import Channel
from bulksend.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
DEMOS = sorted((REPO / "campaigns").glob("*.yaml"))

WHATSAPP = """\
name: spring-sale
channel: whatsapp
template_id: 539
source: customers.csv
phone_column: Phone
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "customers.csv").write_text("Phone,first_name,Order Id\n+14155552671,Dana,A-1\n")
    (tmp_path / "optouts.csv").write_text("phone\n+14155550132\n")
    return tmp_path


def load(folder: Path, text: str, name: str = "campaign.yaml") -> Campaign:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return load_campaign(path)


def test_minimal_whatsapp_campaign_gets_documented_defaults(folder: Path) -> None:
    campaign = load(folder, WHATSAPP)
    assert campaign.name == "spring-sale"
    assert campaign.channel is Channel.WHATSAPP
    assert campaign.template_id == 539
    assert campaign.source == folder / "customers.csv"
    assert campaign.phone_column == "Phone"
    assert campaign.sheet is None and campaign.default_region is None
    assert campaign.variables is None and campaign.text is None
    assert campaign.api_url == DEFAULT_API_URL and not campaign.uses_sandbox
    assert campaign.api_key_env == "OCTOPODS_API_KEY"
    assert campaign.rate == DEFAULT_RATE == Rate(10, 1.0)
    assert campaign.burst == 1
    assert campaign.concurrency is None
    assert campaign.results_path == folder / "results" / "spring-sale.csv"
    assert campaign.rejects_path == folder / "results" / "spring-sale.rejects.csv"
    assert campaign.key is None
    assert campaign.dedupe is True
    assert campaign.suppression is None
    assert campaign.phone_check is PhoneCheck.VALID
    assert campaign.open_conversation is False
    assert campaign.encoding is None
    assert campaign.max_attempts == 5
    assert campaign.timeout_s == 30.0


def test_every_key_is_read(folder: Path) -> None:
    campaign = load(
        folder,
        WHATSAPP
        + """\
default_region: us
variables:
  - first_name
  - {value: Spring Sale}
  - {template: "{{ first_name | title }} {{ row['Order Id'] }}"}
  - {column: Order Id, default: "-"}
header_url: "https://example.com/{{ first_name }}.png"
contact_name: "{{ first_name }}"
open_conversation: true
api_url: https://app.octopods.io/api/v1/
api_key_env: SHOP_WHATSAPP_KEY
rate: 300/min
burst: 5
concurrency: 8
results: out/sent.csv
key: [Phone, Order Id]
dedupe: false
suppression: optouts.csv
phone_check: possible
encoding: cp1252
max_attempts: 3
timeout: 2.5s
""",
    )
    assert campaign.default_region == "US"
    assert campaign.variables == (
        ValueSpec(ValueKind.COLUMN, "first_name", None, 8),
        ValueSpec(ValueKind.CONSTANT, "Spring Sale", None, 9),
        ValueSpec(ValueKind.TEMPLATE, "{{ first_name | title }} {{ row['Order Id'] }}", None, 10),
        ValueSpec(ValueKind.COLUMN, "Order Id", "-", 11),
    )
    assert campaign.header_url == "https://example.com/{{ first_name }}.png"
    assert campaign.contact_name == "{{ first_name }}"
    assert campaign.open_conversation is True
    assert campaign.api_url == "https://app.octopods.io/api/v1"
    assert campaign.api_key_env == "SHOP_WHATSAPP_KEY"
    assert campaign.rate == Rate(300, 60.0) and campaign.rate.per_second == 5.0
    assert campaign.burst == 5
    assert campaign.concurrency == 8
    assert campaign.results_path == folder / "out" / "sent.csv"
    assert campaign.key == ("Phone", "Order Id")
    assert campaign.dedupe is False
    assert campaign.suppression == folder / "optouts.csv"
    assert campaign.phone_check is PhoneCheck.POSSIBLE
    assert campaign.encoding == "cp1252"
    assert campaign.max_attempts == 3
    assert campaign.timeout_s == 2.5


def test_sectioned_variables_fill_every_section_of_the_channel(folder: Path) -> None:
    campaign = load(
        folder, WHATSAPP + "variables:\n  header: [Order Id]\n  body: [first_name, Order Id]\n"
    )
    assert isinstance(campaign.variables, dict) is False  # read-only mapping
    assert dict(campaign.variables) == {
        "header": (ValueSpec(ValueKind.COLUMN, "Order Id", None, 7),),
        "body": (
            ValueSpec(ValueKind.COLUMN, "first_name", None, 8),
            ValueSpec(ValueKind.COLUMN, "Order Id", None, 8),
        ),
        "footer": (),
        "buttons": (),
    }


def test_vbm_sections_have_no_buttons(folder: Path) -> None:
    text = WHATSAPP.replace("whatsapp", "vbm") + "variables:\n  body: [first_name]\n  footer: []\n"
    campaign = load(folder, text)
    assert list(campaign.variables) == ["header", "body", "footer"]


def test_sms_campaign_keeps_its_text(folder: Path) -> None:
    text = "name: s\nchannel: SMS\nsource: customers.csv\nphone_column: Phone\n"
    campaign = load(folder, text + "text: \"Hi {{ first_name }}, order {{ row['Order Id'] }}\"\n")
    assert campaign.channel is Channel.SMS
    assert campaign.template_id is None
    assert campaign.text == "Hi {{ first_name }}, order {{ row['Order Id'] }}"


def test_block_scalar_text_keeps_its_lines(folder: Path) -> None:
    text = "name: s\nchannel: sms\nsource: customers.csv\nphone_column: Phone\n"
    campaign = load(folder, text + "text: |\n  Hi {{ first_name }},\n  see you soon.\n")
    assert campaign.text == "Hi {{ first_name }},\nsee you soon.\n"


def test_sandbox_word_and_loopback_http_are_accepted(folder: Path) -> None:
    assert load(folder, WHATSAPP + "api_url: Sandbox\n").uses_sandbox
    local = load(folder, WHATSAPP + "api_url: http://127.0.0.1:8041/api/v1\n")
    assert local.api_url == "http://127.0.0.1:8041/api/v1"
    assert load(folder, WHATSAPP + "api_url: http://localhost:80\n").api_url == (
        "http://localhost:80/api/v1"
    )
    assert load(folder, WHATSAPP + "api_url: http://[::1]:9/api/v1\n").api_url == (
        "http://[::1]:9/api/v1"
    )


@pytest.mark.parametrize(
    ("written", "seconds"), [("45", 45.0), ("0.5", 0.5), ("30s", 30.0), ("1min", 60.0)]
)
def test_timeout_accepts_seconds_with_or_without_unit(
    folder: Path, written: str, seconds: float
) -> None:
    assert load(folder, WHATSAPP + f"timeout: {written}\n").timeout_s == seconds


@pytest.mark.parametrize(
    ("written", "rate"),
    [
        ("5/s", Rate(5, 1.0)),
        ("5 / sec", Rate(5, 1.0)),
        ("90/min", Rate(90, 60.0)),
        ("90/minutes", Rate(90, 60.0)),
        ("3600/h", Rate(3600, 3600.0)),
        ("100/Hour", Rate(100, 3600.0)),
    ],
)
def test_rate_spellings(folder: Path, written: str, rate: Rate) -> None:
    assert load(folder, WHATSAPP + f"rate: {written}\n").rate == rate


def test_key_may_be_one_column(folder: Path) -> None:
    assert load(folder, WHATSAPP + "key: Order Id\n").key == ("Order Id",)


def test_concurrency_auto_means_none(folder: Path) -> None:
    assert load(folder, WHATSAPP + "concurrency: auto\n").concurrency is None


def test_yaml_booleans_and_numbers_are_read_as_written_where_text_is_expected(
    folder: Path,
) -> None:
    """YAML 1.1 reads NO as false and 007 as 7; a country code and a column name must not."""
    campaign = load(folder, WHATSAPP.replace("Phone", "007") + "default_region: NO\n")
    assert campaign.default_region == "NO"
    assert campaign.phone_column == "007"
    assert load(folder, WHATSAPP + "variables: [{value: 0012}, yes]\n").variables == (
        ValueSpec(ValueKind.CONSTANT, "0012", None, 6),
        ValueSpec(ValueKind.COLUMN, "yes", None, 6),
    )


def test_paths_are_relative_to_the_campaign_file_not_the_working_directory(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "campaigns").mkdir()
    text = WHATSAPP.replace("customers.csv", "../customers.csv")
    (folder / "campaigns" / "c.yaml").write_text(text)
    monkeypatch.chdir(folder / "campaigns")
    campaign = load_campaign(Path("c.yaml"))
    assert campaign.source == folder / "customers.csv"
    assert campaign.results_path == folder / "campaigns" / "results" / "spring-sale.csv"


def test_a_byte_order_mark_is_ignored(folder: Path) -> None:
    path = folder / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + WHATSAPP.encode())
    assert load_campaign(path).name == "spring-sale"


def test_referenced_columns_gathers_every_column_the_campaign_reads(folder: Path) -> None:
    campaign = load(
        folder,
        WHATSAPP
        + """\
key: [email]
variables:
  header: [{column: Order Id, default: "-"}]
  body:
    - first_name
    - {value: not a column}
    - {template: "{{ last_name | upper }} {{ row['Ship To'] }} {{ row.city }}"}
  buttons: [{template: "{% for i in range(2) %}{{ i }}{% endfor %}{{ row.get('Track') }}"}]
header_url: "{{ image_url }}"
contact_name: "{% set n = nick %}{{ n }}"
""",
    )
    assert referenced_columns(campaign) == {
        "Phone",
        "email",
        "Order Id",
        "first_name",
        "last_name",
        "Ship To",
        "city",
        "Track",
        "image_url",
        "nick",
    }


def test_template_columns_ignores_jinja_globals_and_local_names() -> None:
    text = "{% for x in range(3) %}{{ loop.index }}{{ x }}{% endfor %}{{ row | length }}{{ a }}"
    assert template_columns(text) == {"a"}


@pytest.mark.parametrize("path", DEMOS, ids=[path.stem for path in DEMOS])
def test_demo_campaigns_load_and_aim_at_the_sandbox(path: Path) -> None:
    campaign = load_campaign(path)
    assert campaign.uses_sandbox
    assert campaign.source.is_file()
    assert campaign.rate.per_second >= 10
    assert "Phone" in referenced_columns(campaign)


def test_there_is_a_demo_per_channel() -> None:
    channels = {load_campaign(path).channel for path in DEMOS}
    assert channels == set(Channel)
    templates = {load_campaign(path).channel: load_campaign(path).template_id for path in DEMOS}
    assert templates[Channel.WHATSAPP] == 539 and templates[Channel.VBM] == 456
    for path in DEMOS:
        campaign = load_campaign(path)
        if campaign.channel.uses_template:
            assert isinstance(campaign.variables, tuple) and len(campaign.variables) == 2


NAME_TEXT = st.from_regex(r"[A-Za-z0-9_-]{1,30}", fullmatch=True).filter(
    lambda name: name.lower() not in {"null", "~"} and not name.startswith("-")
)


@settings(max_examples=60, deadline=None)
@given(name=NAME_TEXT)
def test_any_valid_name_loads_exactly_as_written(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("names")
    (folder / "customers.csv").write_text("Phone\n+14155552671\n")
    text = WHATSAPP.replace("name: spring-sale", f"name: {name}")
    assert load(folder, text).name == name


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 10**6), unit=st.sampled_from(["s", "min", "h"]))
def test_rate_counts_round_trip(
    count: int, unit: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("rates")
    (folder / "customers.csv").write_text("Phone\n+14155552671\n")
    rate = load(folder, WHATSAPP + f"rate: {count}/{unit}\n").rate
    assert rate == Rate(count, {"s": 1.0, "min": 60.0, "h": 3600.0}[unit])


def test_keys_listed_in_the_docs_are_the_keys_the_loader_knows() -> None:
    reference = (REPO / "docs" / "campaign-file.md").read_text(encoding="utf-8")
    for key in KEYS:
        assert f"`{key}`" in reference, f"docs/campaign-file.md does not describe {key}"


def test_a_campaign_file_that_is_a_folder_is_a_config_error(folder: Path) -> None:
    (folder / "dir.yaml").mkdir()
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_campaign(folder / "dir.yaml")


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/s", Rate(10, 1.0)),
        (" 2 / hours ", Rate(2, 3600.0)),
        ("7/mins", Rate(7, 60.0)),
        ("0/s", None),
        ("10/day", None),
        ("10", None),
        ("1.5/s", None),
    ],
)
def test_parse_rate(text: str, rate: Rate | None) -> None:
    """The parser `send --rate` shares with the campaign file."""
    assert parse_rate(text) == rate
