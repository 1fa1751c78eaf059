"""`bulksend init`: the written file loads, names the real columns and fits the template."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bulksend.campaign import load_campaign, referenced_columns, template_columns
from bulksend.channels import Channel
from bulksend.cli import main
from bulksend.errors import CampaignRefusedError, ConfigError
from bulksend.initfile import (
    SheetFacts,
    TemplateReader,
    campaign_name,
    campaign_text,
    guess_phone_column,
    jinja_reference,
    write_campaign_file,
    yaml_text,
)
from bulksend.sandbox import DEMO_KEYS, Sandbox, SandboxConfig
from bulksend.templates import Template

REPO = Path(__file__).resolve().parent.parent
SAMPLES = [REPO / "sample_data" / "customers.csv", REPO / "sample_data" / "customers.xlsx"]
SAMPLE_COLUMNS = ["first_name", "last_name", "Phone", "email", "Order Id", "city", "signed_up"]


def body_only(count: int) -> Template:
    return Template(539, "spring_sale", placeholders={"body": count}, body_text="Hi {{1}}")


SECTIONED = Template(
    540,
    "order_shipped",
    header_format="IMAGE",
    placeholders={"header": 0, "body": 2, "footer": 0, "buttons": 1},
    body_text="Hi {{1}}, your order {{2}} is on its way.",
)


def reader_of(template: Template) -> TemplateReader:
    def read(api_url: str, channel: Channel, template_id: int) -> Template:
        assert template_id == template.template_id
        return template

    return read


def refusing_reader(api_url: str, channel: Channel, template_id: int) -> Template:
    raise CampaignRefusedError("The template does not exist, or is not Accepted, for this key.")


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    target = data / "customers.csv"
    shutil.copy(REPO / "sample_data" / "customers.csv", target)
    return target


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(rate_limit=None)) as running:
        yield running


# --- the library ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", SAMPLES, ids=["csv", "xlsx"])
@pytest.mark.parametrize(
    ("channel", "template"),
    [(Channel.WHATSAPP, body_only(2)), (Channel.VBM, body_only(2)), (Channel.SMS, None)],
)
def test_init_on_each_sample_sheet_writes_a_file_that_loads(
    tmp_path: Path, source: Path, channel: Channel, template: Template | None
) -> None:
    output = tmp_path / "out" / "spring-sale.yaml"
    result = write_campaign_file(
        source,
        output=output,
        channel=channel,
        template_id=template.template_id if template else None,
        api_url="sandbox",
        read_template=reader_of(template) if template else None,
    )
    campaign = load_campaign(output)
    assert result.path == output and result.phone_column == "Phone"
    assert campaign.name == "spring-sale"
    assert campaign.channel is channel
    assert campaign.source == source
    assert campaign.phone_column == "Phone"
    assert campaign.uses_sandbox
    assert campaign.sheet == ("Customers" if source.suffix == ".xlsx" else None)
    assert referenced_columns(campaign) <= set(SAMPLE_COLUMNS)
    if template:
        assert campaign.variables is not None and len(campaign.variables) == 2
    else:
        assert "first_name" in template_columns(campaign.text or "")


def test_source_path_is_relative_to_the_written_file(tmp_path: Path, sheet: Path) -> None:
    output = tmp_path / "campaigns" / "c.yaml"
    write_campaign_file(sheet, output=output, channel=Channel.SMS)
    document = yaml.safe_load(output.read_text(encoding="utf-8"))
    assert document["source"] == "../data/customers.csv"
    assert load_campaign(output).source == sheet


def test_the_file_lists_every_column_and_counts_local_numbers(tmp_path: Path, sheet: Path) -> None:
    output = tmp_path / "c.yaml"
    write_campaign_file(sheet, output=output, channel=Channel.SMS)
    text = output.read_text(encoding="utf-8")
    assert "#   first_name, last_name, Phone, email, Order Id, city, signed_up" in text
    assert "# default_region: US  # 31 of the first 47 phones have no +" in text


def test_default_region_is_written_when_given(tmp_path: Path, sheet: Path) -> None:
    output = tmp_path / "c.yaml"
    write_campaign_file(sheet, output=output, channel=Channel.SMS, default_region="US")
    assert load_campaign(output).default_region == "US"


def test_body_only_template_gets_one_variable_per_placeholder(tmp_path: Path, sheet: Path) -> None:
    output = tmp_path / "c.yaml"
    result = write_campaign_file(
        sheet, output=output, template_id=539, read_template=reader_of(body_only(3))
    )
    variables = load_campaign(output).variables
    assert result.template == body_only(3) and result.note is None
    assert [spec.source for spec in variables] == ["first_name", "last_name", "email"]


def test_sectioned_template_gets_sections_and_a_header_url(tmp_path: Path, sheet: Path) -> None:
    output = tmp_path / "c.yaml"
    write_campaign_file(sheet, output=output, template_id=540, read_template=reader_of(SECTIONED))
    campaign = load_campaign(output)
    counts = {section: len(specs) for section, specs in campaign.variables.items()}
    assert counts == {"header": 0, "body": 2, "footer": 0, "buttons": 1}
    assert campaign.header_url == "https://example.com/image.jpg"


def test_header_url_uses_a_url_column_when_there_is_one(tmp_path: Path) -> None:
    source = tmp_path / "s.csv"
    source.write_text("Mobile,Image URL\n+14155552671,https://x.test/a.png\n", encoding="utf-8")
    write_campaign_file(
        source, output=tmp_path / "c.yaml", template_id=540, read_template=reader_of(SECTIONED)
    )
    campaign = load_campaign(tmp_path / "c.yaml")
    assert campaign.phone_column == "Mobile"
    assert campaign.header_url == "{{ row['Image URL'] }}"
    assert template_columns(campaign.header_url) == {"Image URL"}


def test_template_without_placeholders_needs_no_variables(tmp_path: Path, sheet: Path) -> None:
    output = tmp_path / "c.yaml"
    write_campaign_file(
        sheet,
        output=output,
        template_id=543,
        read_template=reader_of(
            Template(543, "store_opening", placeholders={"body": 0}, body_text="Now open!")
        ),
    )
    assert load_campaign(output).variables is None
    assert "no placeholders" in output.read_text(encoding="utf-8")


def test_unreadable_template_leaves_a_commented_list_and_says_why(
    tmp_path: Path, sheet: Path
) -> None:
    output = tmp_path / "c.yaml"
    result = write_campaign_file(
        sheet, output=output, template_id=539, read_template=refusing_reader
    )
    text = output.read_text(encoding="utf-8")
    assert result.template is None
    assert result.note == (
        "the template could not be read: "
        "The template does not exist, or is not Accepted, for this key."
    )
    assert "# Note: the template could not be read:" in text
    assert "# variables:\n#   - first_name\n#   - last_name\n" in text
    assert load_campaign(output).variables is None


def test_missing_api_key_variable_is_a_note_not_a_failure(tmp_path: Path, sheet: Path) -> None:
    output = tmp_path / "c.yaml"
    result = write_campaign_file(
        sheet,
        output=output,
        template_id=539,
        api_url="https://app.octopods.io/api/v1",
        environ={},
    )
    assert result.template is None
    assert "OCTOPODS_API_KEY is not set" in (result.note or "")
    assert load_campaign(output).api_url == "https://app.octopods.io/api/v1"


def test_existing_file_is_not_overwritten_without_force(tmp_path: Path, sheet: Path) -> None:
    output = tmp_path / "c.yaml"
    output.write_text("keep me\n")
    with pytest.raises(ConfigError) as caught:
        write_campaign_file(sheet, output=output, channel=Channel.SMS)
    assert str(caught.value) == (
        f"{output} already exists\n  Use --force to replace it, or -o to write another file."
    )
    assert output.read_text() == "keep me\n"
    write_campaign_file(sheet, output=output, channel=Channel.SMS, force=True)
    assert load_campaign(output).channel is Channel.SMS


def test_output_must_be_yaml(tmp_path: Path, sheet: Path) -> None:
    """Guards against `-o customers.csv --force` wiping the spreadsheet."""
    with pytest.raises(ConfigError, match="does not end in .yaml"):
        write_campaign_file(sheet, output=sheet, channel=Channel.SMS, force=True)
    assert sheet.read_text(encoding="utf-8").startswith("first_name,")


def test_template_channel_needs_a_template_id(tmp_path: Path, sheet: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        write_campaign_file(sheet, output=tmp_path / "c.yaml", channel=Channel.VBM)
    assert str(caught.value).startswith(
        "vbm campaigns send a template: give its number with --template-id N"
    )
    assert not (tmp_path / "c.yaml").exists()


def test_bad_api_url_leaves_no_file(tmp_path: Path, sheet: Path) -> None:
    output = tmp_path / "c.yaml"
    with pytest.raises(ConfigError) as caught:
        write_campaign_file(
            sheet, output=output, channel=Channel.SMS, api_url="http://example.com/api/v1"
        )
    assert "plain http://" in str(caught.value)
    assert list(tmp_path.glob("*.yaml")) == []


def test_no_phone_like_column_falls_back_to_the_first_and_says_so(tmp_path: Path) -> None:
    source = tmp_path / "s.csv"
    source.write_text("who,what\nDana,hello\n", encoding="utf-8")
    result = write_campaign_file(source, output=tmp_path / "c.yaml", channel=Channel.SMS)
    assert result.phone_column is None
    assert "# CHECK: no column looked like phones" in (tmp_path / "c.yaml").read_text()
    assert load_campaign(tmp_path / "c.yaml").phone_column == "who"


def test_phone_column_is_found_by_its_values_when_the_name_says_nothing(tmp_path: Path) -> None:
    source = tmp_path / "s.csv"
    source.write_text("who,contact\nDana,+1 415 555 2671\nLee,(212) 555-0198\n", encoding="utf-8")
    result = write_campaign_file(source, output=tmp_path / "c.yaml", channel=Channel.SMS)
    assert result.phone_column == "contact"


# --- through real HTTP to the sandbox -----------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "template_id", "counts"),
    [
        (Channel.WHATSAPP, 539, None),
        (Channel.VBM, 456, None),
        (Channel.WHATSAPP, 540, {"header": 0, "body": 2, "footer": 0, "buttons": 1}),
        (Channel.VBM, 458, {"header": 1, "body": 3, "footer": 0}),
    ],
)
def test_init_reads_the_template_from_the_sandbox_and_sends_nothing(
    tmp_path: Path,
    sheet: Path,
    sandbox: Sandbox,
    channel: Channel,
    template_id: int,
    counts: dict[str, int] | None,
) -> None:
    output = tmp_path / "c.yaml"
    result = write_campaign_file(
        sheet,
        output=output,
        channel=channel,
        template_id=template_id,
        api_url=sandbox.base_url,
        environ={"OCTOPODS_API_KEY": DEMO_KEYS[channel]},
    )
    campaign = load_campaign(output)
    assert result.template is not None and result.template.template_id == template_id
    if counts is None:
        assert isinstance(campaign.variables, tuple) and len(campaign.variables) == 2
    else:
        assert {s: len(specs) for s, specs in campaign.variables.items()} == counts
    assert (campaign.header_url is not None) == (template_id == 540)
    assert sandbox.ledger() == []
    assert [(r.method, r.status) for r in sandbox.requests()] == [("GET", 200)]
    assert sandbox.requests()[0].path.endswith(f"/templates/{template_id}")


def test_sandbox_word_starts_a_simulator_for_the_template(tmp_path: Path, sheet: Path) -> None:
    result = write_campaign_file(
        sheet, output=tmp_path / "c.yaml", template_id=539, api_url="sandbox", environ={}
    )
    assert result.template is not None and result.template.name == "spring_sale"
    assert not (tmp_path / "results").exists()  # the simulator's ledger went to a temp folder


# --- the command -------------------------------------------------------------------------------


def test_cli_writes_the_file_and_says_what_to_do_next(tmp_path: Path, sheet: Path) -> None:
    output = tmp_path / "spring.yaml"
    result = CliRunner().invoke(
        main,
        ["init", str(sheet), "--channel", "sms", "-o", str(output)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"wrote {output}\n"
        "  phone column: Phone (guessed: check it)\n"
        f"next: bulksend validate {output}\n"
    )
    assert load_campaign(output).name == "spring"


@pytest.mark.parametrize("source", SAMPLES, ids=["csv", "xlsx"])
@pytest.mark.parametrize(
    ("channel", "template_id"), [("whatsapp", "539"), ("vbm", "456"), ("sms", None)]
)
def test_cli_init_on_each_demo_sheet_writes_a_file_that_validates(
    tmp_path: Path, sandbox: Sandbox, source: Path, channel: str, template_id: str | None
) -> None:
    """The issue's promise, through the real commands: init, then validate exits 0."""
    output = tmp_path / f"{channel}.yaml"
    args = ["init", str(source), "--channel", channel, "--api-url", "sandbox"]
    args += ["--template-id", template_id] if template_id else []
    env = {"BULKSEND_SANDBOX_URL": sandbox.base_url, "OCTOPODS_API_KEY": ""}
    runner = CliRunner()
    written = runner.invoke(
        main, [*args, "--default-region", "US", "-o", str(output)], env=env, catch_exceptions=False
    )
    assert written.exit_code == 0, written.output
    checked = runner.invoke(main, ["validate", str(output)], env=env, catch_exceptions=False)
    assert checked.exit_code == 0, checked.output
    assert "rows read           48" in checked.output
    assert "ready: " in checked.output
    if template_id:
        assert "template: checked, the variables fit its placeholders" in checked.output
    assert sandbox.ledger() == []


def test_cli_default_output_is_the_sheet_name_in_the_working_directory(
    tmp_path: Path, sheet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["init", str(sheet), "--channel", "SMS"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert load_campaign(tmp_path / "customers.yaml").source == sheet


def test_cli_refuses_to_overwrite_with_exit_status_2(tmp_path: Path, sheet: Path) -> None:
    output = tmp_path / "c.yaml"
    output.write_text("keep\n")
    result = CliRunner().invoke(main, ["init", str(sheet), "--channel", "sms", "-o", str(output)])
    assert result.exit_code == 2
    assert "already exists" in result.output and "--force" in result.output
    assert "Traceback" not in result.output
    forced = CliRunner().invoke(
        main, ["init", str(sheet), "--channel", "sms", "-o", str(output), "--force"]
    )
    assert forced.exit_code == 0, forced.output


def test_cli_with_the_sandbox_names_the_template(tmp_path: Path, sheet: Path) -> None:
    output = tmp_path / "w.yaml"
    result = CliRunner(env={"OCTOPODS_API_KEY": None, "BULKSEND_SANDBOX_URL": None}).invoke(
        main,
        ["init", str(sheet), "--template-id", "539", "--api-url", "sandbox", "-o", str(output)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "  template 539: spring_sale\n" in result.output
    assert len(load_campaign(output).variables) == 2


def test_cli_missing_spreadsheet_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["init", str(tmp_path / "nope.csv"), "--channel", "sms", "-o", str(tmp_path / "c.yaml")],
    )
    assert result.exit_code == 2
    assert "nope.csv" in result.output and "Traceback" not in result.output


def test_cli_missing_spreadsheet_says_paths_are_taken_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """init's argument is a command-line path: relative to where it runs, not a campaign file."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init", "data/nope.csv", "--channel", "sms"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: data/nope.csv: the file does not exist\n"
        f"  Check the path: a relative one is taken from the current folder, {tmp_path}.\n"
    )


def test_cli_sheet_on_a_csv_is_refused(tmp_path: Path, sheet: Path) -> None:
    """validate refuses sheet: on a CSV, so init must not quietly ignore --sheet there."""
    output = tmp_path / "c.yaml"
    args = ["init", str(sheet), "--channel", "sms", "--sheet", "Customers", "-o", str(output)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: --sheet applies only to Excel files (.xlsx, .xlsm); {sheet.name} is not one\n"
        "  Leave --sheet out: a CSV or text file has a single sheet.\n"
    )
    assert not output.exists()


# --- pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["Name", "Phone"], "Phone"),
        (["name", "Mobile Number"], "Mobile Number"),
        (["Order Number", "Cell"], "Cell"),
        (["Order Number", "MSISDN"], "MSISDN"),
        (["WhatsApp", "Phone 2"], "Phone 2"),
        (["Order Number", "Name"], None),
        (["Tel."], "Tel."),
        (["Contact number"], "Contact number"),
        (["email"], None),
    ],
)
def test_guess_phone_column(columns: list[str], expected: str | None) -> None:
    assert guess_phone_column(columns) == expected


@pytest.mark.parametrize(
    ("file_name", "name"),
    [("spring.yaml", "spring"), ("Spring Sale 2024.yaml", "Spring-Sale-2024"), ("été.yml", "t")],
)
def test_campaign_name_from_file_name(file_name: str, name: str) -> None:
    assert campaign_name(Path(file_name)) == name


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40))
def test_yaml_text_reads_back_as_the_same_string(text: str) -> None:
    assert yaml.safe_load(f"k: {yaml_text(text)}") == {"k": text}


@settings(max_examples=200, deadline=None)
@given(column=st.text(min_size=1, max_size=30).filter(lambda c: c.strip() == c and c.isprintable()))
def test_jinja_reference_reads_exactly_that_column(column: str) -> None:
    assert template_columns(jinja_reference(column)) == {column}


COLUMN_NAMES = st.lists(
    st.text(min_size=1, max_size=20).filter(lambda c: c.strip() == c and c.isprintable()),
    min_size=2,
    max_size=6,
    unique=True,
)


@settings(max_examples=60, deadline=None)
@given(columns=COLUMN_NAMES, channel=st.sampled_from(list(Channel)))
def test_any_header_gives_a_file_that_loads_with_those_exact_columns(
    columns: list[str], channel: Channel, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("headers")
    (folder / "s.csv").write_text("x\n", encoding="utf-8")
    facts = SheetFacts(tuple(columns), None, columns[0], 0, 0)
    text = campaign_text(
        name="c",
        channel=channel,
        template_id=539 if channel.uses_template else None,
        source_ref="s.csv",
        facts=facts,
        api_url="sandbox",
        template=SECTIONED if channel is Channel.WHATSAPP else body_only(3),
    )
    (folder / "c.yaml").write_text(text, encoding="utf-8")
    campaign = load_campaign(folder / "c.yaml")
    assert campaign.phone_column == columns[0]
    assert referenced_columns(campaign) <= set(columns)
