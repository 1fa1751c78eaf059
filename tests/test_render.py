"""Request bodies per channel, variables, defaults, jinja2 and the template check."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulksend.campaign import Campaign, PhoneCheck, Rate, ValueKind, ValueSpec
from bulksend.channels import Channel
from bulksend.errors import ConfigError
from bulksend.render import UNDEFINED_ROWS_LIMIT, compile_body
from bulksend.templates import Template
from bulksend.validate import check_template

PHONE = "+447700900123"


def make_campaign(tmp: Path | None = None, **overrides: Any) -> Campaign:
    """A campaign as load_campaign would build it; tests override what they exercise."""
    folder = tmp or Path("/nonexistent")
    fields: dict[str, Any] = dict(
        path=folder / "campaign.yaml",
        name="spring",
        channel=Channel.WHATSAPP,
        template_id=539,
        source=folder / "customers.csv",
        sheet=None,
        phone_column="Phone",
        default_region=None,
        variables=(col("first_name"), col("Order Id")),
        text=None,
        header_url=None,
        contact_name=None,
        open_conversation=False,
        api_url="sandbox",
        api_key_env="OCTOPODS_API_KEY",
        rate=Rate(10, 1.0),
        burst=10,
        concurrency=None,
        results_path=folder / "results" / "spring.csv",
        key=None,
        dedupe=True,
        suppression=None,
        phone_check=PhoneCheck.VALID,
        encoding=None,
        max_attempts=5,
        timeout_s=30.0,
    )
    fields.update(overrides)
    return Campaign(**fields)


def col(name: str, default: str | None = None) -> ValueSpec:
    return ValueSpec(ValueKind.COLUMN, name, default)


def const(text: str) -> ValueSpec:
    return ValueSpec(ValueKind.CONSTANT, text)


def tpl(text: str, default: str | None = None) -> ValueSpec:
    return ValueSpec(ValueKind.TEMPLATE, text, default)


def template(
    template_id: int = 539,
    *,
    status: str = "Accepted",
    header_format: str | None = None,
    **counts: int,
) -> Template:
    placeholders = {"header": 0, "body": 0, "footer": 0, "buttons": 0, **counts}
    return Template(
        template_id, "t", status=status, header_format=header_format, placeholders=placeholders
    )


ROW = {"Phone": "07700 900123", "first_name": "dana", "Order Id": "A-778", "img": "https://x/y.png"}


def render(campaign: Campaign, values: Mapping[str, str] = ROW, tmpl: Template | None = None):
    return compile_body(campaign, template=tmpl).render(PHONE, values)


def test_whatsapp_body_only_is_a_flat_array() -> None:
    result = render(make_campaign())
    assert result.body == {
        "destination_phone": PHONE,
        "message_variables": ["dana", "A-778"],
        "open_intercom_conversation": False,
    }
    assert result.problems == ()


def test_whatsapp_sections_include_every_section() -> None:
    campaign = make_campaign(
        variables={
            "header": (const("Spring sale"),),
            "body": (col("first_name"),),
            "buttons": (col("Order Id"),),
        }
    )
    body = render(campaign).body
    assert body is not None
    assert body["message_variables"] == {
        "header": ["Spring sale"],
        "body": ["dana"],
        "footer": [],
        "buttons": ["A-778"],
    }


def test_vbm_sections_have_no_buttons() -> None:
    campaign = make_campaign(
        channel=Channel.VBM,
        template_id=456,
        variables={"header": (), "body": (col("first_name"),), "footer": (const("bye"),)},
    )
    body = render(campaign).body
    assert body is not None
    assert body["message_variables"] == {"header": [], "body": ["dana"], "footer": ["bye"]}


def test_vbm_buttons_section_is_a_config_error() -> None:
    campaign = make_campaign(channel=Channel.VBM, variables={"buttons": (col("first_name"),)})
    with pytest.raises(ConfigError, match="buttons"):
        compile_body(campaign)


def test_no_variables_leaves_message_variables_out() -> None:
    for variables in (None, (), {"header": (), "body": ()}):
        body = render(make_campaign(variables=variables)).body
        assert body is not None
        assert "message_variables" not in body


@pytest.mark.parametrize(
    ("channel", "field"),
    [(Channel.WHATSAPP, "header_attachment_url"), (Channel.VBM, "header_image_url")],
)
def test_header_url_goes_to_the_channel_field(channel: Channel, field: str) -> None:
    body = render(make_campaign(channel=channel, header_url="{{ img }}")).body
    assert body is not None
    assert body[field] == "https://x/y.png"


def test_empty_header_url_makes_the_row_invalid() -> None:
    """header_url takes no default:, so the advice is a fallback inside the template."""
    result = render(make_campaign(header_url="{{ img }}"), {**ROW, "img": ""})
    assert result.body is None
    assert [p.message for p in result.problems] == [
        "header_url is empty in this row; fill this row's 'img' cell, or write a fallback into "
        'the template, e.g. {{ img | default("https://example.com/default.jpg", true) }}'
    ]


def test_empty_header_url_advice_names_a_spaced_column_through_row() -> None:
    """Single quotes inside, so the example can be pasted into a double-quoted YAML value."""
    campaign = make_campaign(header_url='{{ row["Image URL"] }}')
    result = render(campaign, {**ROW, "Image URL": ""})
    assert result.problems[0].message.endswith(
        "e.g. {{ row['Image URL'] | default(\"https://example.com/default.jpg\", true) }}"
    )


@pytest.mark.parametrize("url", ["x", "www.example.com/a.png", "ftp://x.example/a.png", "https://"])
def test_a_header_url_that_is_not_a_web_address_makes_the_row_invalid(url: str) -> None:
    result = render(make_campaign(header_url="{{ img }}"), {**ROW, "img": url})
    assert result.body is None
    [problem] = result.problems
    assert problem.category == "header_url is not a web address"
    assert problem.message == (
        f"header_url is {url!r} in this row, which is not a web address: the API needs a public "
        "link starting with https:// (or http://); fix this row's value or the template"
    )


def test_a_header_url_is_not_checked_when_the_template_sends_none() -> None:
    """No media header: the URL is left out of the body, so its value cannot hurt."""
    result = render(make_campaign(header_url="{{ img }}"), {**ROW, "img": "x"}, template(body=2))
    assert result.problems == () and result.body is not None


def test_header_url_is_left_out_when_the_template_has_no_media_header() -> None:
    body = render(make_campaign(header_url="{{ img }}"), tmpl=template(body=2)).body
    assert body is not None
    assert "header_attachment_url" not in body


def test_contact_name_goes_to_destination_user_name() -> None:
    body = render(make_campaign(contact_name="{{ first_name | title }}")).body
    assert body is not None
    assert body["destination_user_name"] == "Dana"


def test_empty_contact_name_is_left_out() -> None:
    body = render(make_campaign(contact_name="{{ first_name }}"), {**ROW, "first_name": "x"}).body
    assert body is not None and body["destination_user_name"] == "x"
    body = render(make_campaign(contact_name="{{ img }}", variables=None), {**ROW, "img": ""}).body
    assert body is not None and "destination_user_name" not in body


def test_vbm_never_sends_destination_user_name() -> None:
    body = render(make_campaign(channel=Channel.VBM, contact_name="{{ first_name }}")).body
    assert body is not None
    assert "destination_user_name" not in body


def test_open_conversation_is_always_sent() -> None:
    assert render(make_campaign(open_conversation=True)).body["open_intercom_conversation"] is True
    sms = make_campaign(channel=Channel.SMS, text="hi", variables=None, template_id=None)
    assert render(sms).body["open_intercom_conversation"] is False


def test_empty_column_value_makes_the_row_invalid_with_a_clear_reason() -> None:
    result = render(make_campaign(), {**ROW, "Order Id": ""})
    assert result.body is None
    assert [p.message for p in result.problems] == [
        "body variable 2 (column 'Order Id') is empty in this row; fill it or give a default"
    ]
    assert result.problems[0].category == "empty body variable 2 (column 'Order Id')"


def test_default_fills_an_empty_value() -> None:
    campaign = make_campaign(variables=(col("first_name", "friend"), tpl("{{ img }}", "-")))
    body = render(campaign, {**ROW, "first_name": "", "img": ""}).body
    assert body is not None
    assert body["message_variables"] == ["friend", "-"]


def test_template_values_see_columns_by_name_and_through_row() -> None:
    campaign = make_campaign(variables=(tpl('{{ first_name | title }} #{{ row["Order Id"] }}'),))
    assert render(campaign).body["message_variables"] == ["Dana #A-778"]


def test_template_output_is_trimmed_and_blank_counts_as_empty() -> None:
    campaign = make_campaign(variables=(tpl("  {{ first_name }}  {{ img }} "),))
    assert render(campaign, {**ROW, "img": ""}).body["message_variables"] == ["dana"]
    result = render(campaign, {**ROW, "first_name": "", "img": ""})
    assert result.body is None
    assert "is empty in this row" in result.problems[0].message


def test_a_filter_failing_on_one_row_makes_only_that_row_invalid() -> None:
    campaign = make_campaign(variables=(tpl("{{ (first_name | int) // 0 }}"),))
    result = render(campaign)
    assert result.body is None
    assert (
        result.problems[0].category == "template error in body variable 1 (template "
        "'{{ (first_name | int) // 0 }}')"
    )
    assert "failed on this row" in result.problems[0].message


def test_a_broken_template_is_a_config_error_with_its_text() -> None:
    campaign = make_campaign(variables=(ValueSpec(ValueKind.TEMPLATE, "{{ first_name ", line=7),))
    with pytest.raises(ConfigError) as caught:
        compile_body(campaign)
    assert "campaign.yaml, line 7" in str(caught.value)
    assert "{{ first_name " in str(caught.value)


def test_unsafe_template_is_refused_as_a_config_error() -> None:
    campaign = make_campaign(variables=(tpl("{{ first_name.__class__.__mro__ }}"),))
    with pytest.raises(ConfigError, match="sandbox"):
        render(campaign)


def test_values_are_not_html_escaped() -> None:
    campaign = make_campaign(variables=(tpl("{{ first_name }}"),))
    assert render(campaign, {**ROW, "first_name": "Tom & <Jerry>"}).body["message_variables"] == [
        "Tom & <Jerry>"
    ]


def test_columns_lists_everything_the_body_reads() -> None:
    campaign = make_campaign(
        variables=(col("first_name"), tpl('{{ row["Order Id"] }}{{ row.get("Zip Code") }}')),
        header_url="{{ img }}{{ row.city }}",
        contact_name="{{ last_name }}",
    )
    columns = compile_body(campaign).columns
    assert set(columns) == {"first_name", "Order Id", "Zip Code", "img", "city", "last_name"}
    assert columns["img"] == "header_url"


def test_sms_body_is_the_rendered_text() -> None:
    campaign = make_campaign(
        channel=Channel.SMS,
        template_id=None,
        variables=None,
        text="  Hi {{ first_name }}, order {{ row['Order Id'] }} shipped. ",
        contact_name="{{ first_name }}",
    )
    result = render(campaign)
    assert result.body == {
        "destination_phone": PHONE,
        "body": "Hi dana, order A-778 shipped.",
        "destination_user_name": "dana",
        "open_intercom_conversation": False,
    }
    assert result.sms is not None and result.sms.segments == 1


def test_sms_blank_text_makes_the_row_invalid() -> None:
    campaign = make_campaign(
        channel=Channel.SMS, template_id=None, variables=None, text="{{ first_name }}"
    )
    result = render(campaign, {**ROW, "first_name": ""})
    assert result.body is None
    assert result.problems[0].message == (
        "the SMS text is empty in this row; fill this row's 'first_name' cell, or write a "
        'fallback into the template, e.g. {{ first_name | default("there", true) }}'
    )


def test_sms_over_1600_characters_makes_the_row_invalid() -> None:
    campaign = make_campaign(
        channel=Channel.SMS, template_id=None, variables=None, text="{{ first_name }}"
    )
    result = render(campaign, {**ROW, "first_name": "x" * 1601})
    assert result.body is None
    assert result.problems[0].category == "SMS text over 1,600 characters"
    assert "1,601 characters" in result.problems[0].message
    assert result.sms is not None and result.sms.segments == 11


def test_sms_without_text_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="needs text"):
        compile_body(make_campaign(channel=Channel.SMS, template_id=None, variables=None))


@given(st.lists(st.text(min_size=1).filter(lambda t: t.strip() == t and t), min_size=1, max_size=5))
def test_column_values_arrive_unchanged(values: list[str]) -> None:
    """Whatever a cell holds reaches the body exactly, in placeholder order."""
    columns = [f"c{i}" for i in range(len(values))]
    campaign = make_campaign(variables=tuple(col(c) for c in columns))
    body = render(campaign, dict(zip(columns, values, strict=True))).body
    assert body is not None
    assert body["message_variables"] == values


def test_check_template_accepts_a_fitting_mapping() -> None:
    assert check_template(make_campaign(), template(body=2)) == []
    sectioned = make_campaign(
        variables={"header": (col("first_name"),), "body": (col("Order Id"),)},
        header_url=None,
    )
    assert check_template(sectioned, template(header=1, body=1)) == []


def test_check_template_reports_a_count_mismatch() -> None:
    problems = check_template(make_campaign(), template(body=3))
    assert problems == [
        "template 539's body has 3 placeholder(s) but variables lists 2; "
        "map exactly one value per placeholder"
    ]


def test_check_template_refuses_a_flat_list_for_a_sectioned_template() -> None:
    problems = check_template(make_campaign(), template(body=2, buttons=1))
    assert len(problems) == 1
    assert "placeholders outside the body (1 in buttons)" in problems[0]
    assert "header: [...], body: [...], footer: [...], buttons: [...]" in problems[0]


def test_check_template_compares_every_section() -> None:
    campaign = make_campaign(variables={"body": (col("first_name"),), "footer": (col("img"),)})
    problems = check_template(campaign, template(header=1, body=1))
    assert [p.split("'s ")[1].split(" ")[0] for p in problems] == ["header", "footer"]


def test_check_template_wants_header_url_for_a_media_header() -> None:
    problems = check_template(make_campaign(), template(body=2, header_format="IMAGE"))
    assert len(problems) == 1 and "IMAGE header" in problems[0] and "header_url" in problems[0]
    assert (
        check_template(
            make_campaign(header_url="{{ img }}"), template(body=2, header_format="IMAGE")
        )
        == []
    )


def test_check_template_wants_an_accepted_template() -> None:
    problems = check_template(make_campaign(), template(body=2, status="Pending"))
    assert problems == [
        "template 539 is 'Pending', not Accepted: only Accepted templates can be sent; "
        "wait for approval or pick another template_id"
    ]


def test_check_template_with_no_variables_counts_placeholders() -> None:
    problems = check_template(make_campaign(variables=None), template(body=1))
    assert problems and "body has 1 placeholder(s) but variables gives 0" in problems[0]
    assert check_template(make_campaign(variables=None), template()) == []


def test_an_undefined_name_on_every_row_is_one_config_error() -> None:
    renderer = compile_body(make_campaign(variables=(tpl("{{ first_name.nickname }}"),)))
    for _ in range(UNDEFINED_ROWS_LIMIT - 1):
        assert renderer.render(PHONE, ROW).problems
    with pytest.raises(ConfigError, match="fails on each of the first 20 rows"):
        renderer.render(PHONE, ROW)


def test_an_undefined_name_on_some_rows_stays_a_row_problem() -> None:
    """row[first_name] works when the cell names a column, so it is the row that is wrong."""
    renderer = compile_body(make_campaign(variables=(tpl("{{ row[first_name] }}"),)))
    good = renderer.render(PHONE, {**ROW, "first_name": "Order Id"})
    assert good.body is not None and good.body["message_variables"] == ["A-778"]
    for _ in range(UNDEFINED_ROWS_LIMIT * 2):
        [problem] = renderer.render(PHONE, ROW).problems
        assert problem.category.startswith("template error in body variable 1")
