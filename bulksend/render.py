"""Per-row request bodies: compile a campaign's mapping once, render it for every row.

jinja2 runs in a sandbox with StrictUndefined, without autoescaping (bodies are JSON, not HTML).
A template that cannot compile is a ``ConfigError``; a value that comes out empty, or a template
that fails on one row's values, is a ``RowProblem`` that makes only that row invalid.
``render_compile`` turns each text or spec into a ``CompiledValue``; ``render_values`` renders one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from bulksend.campaign_model import Campaign
from bulksend.channels import Channel
from bulksend.errors import ConfigError
from bulksend.render_compile import TemplateCompiler
from bulksend.render_values import UNDEFINED_ROWS_LIMIT, CompiledValue, RowProblem
from bulksend.sms import SmsInfo, sms_info
from bulksend.templates import Template

__all__ = [
    "UNDEFINED_ROWS_LIMIT",
    "BodyRenderer",
    "RenderedRow",
    "RowProblem",
    "compile_body",
]

FALLBACK_URL_EXAMPLE = "https://example.com/default.jpg"


@dataclass(frozen=True, slots=True)
class RenderedRow:
    body: dict[str, Any] | None  # None when a problem stops the row
    problems: tuple[RowProblem, ...] = ()
    sms: SmsInfo | None = None


def is_web_url(text: str) -> bool:
    """Whether ``text`` is an absolute http(s) URL with a host, as the API wants header media."""
    parts = urlsplit(text)
    try:
        host = parts.hostname
    except ValueError:  # a bracketed host that is not an IPv6 address
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


def not_a_web_url(url: str) -> RowProblem:
    shown = url if len(url) <= 60 else url[:57] + "..."
    return RowProblem(
        "header_url is not a web address",
        f"header_url is {shown!r} in this row, which is not a web address: the API needs a "
        "public link starting with https:// (or http://); fix this row's value or the template",
    )


Variables = tuple[CompiledValue, ...] | dict[str, tuple[CompiledValue, ...]] | None


@dataclass(frozen=True)
class BodyRenderer:
    """A campaign's request body, compiled once; ``render`` fills it for one row."""

    channel: Channel
    variables: Variables
    text: CompiledValue | None
    header_url: CompiledValue | None
    header_url_required: bool | None  # None: the template is unknown
    contact_name: CompiledValue | None
    open_conversation: bool

    @property
    def columns(self) -> dict[str, str]:
        """Every column the body reads -> the label of the first thing that reads it."""
        return {column: label for column, (label, _line) in self.column_users.items()}

    @property
    def column_users(self) -> dict[str, tuple[str, int | None]]:
        """Every column the body reads -> label and campaign-file line of its first reader."""
        found: dict[str, tuple[str, int | None]] = {}
        for compiled in self._all_values():
            for column in sorted(compiled.columns):
                found.setdefault(column, (compiled.label, compiled.line))
        return found

    def _all_values(self) -> list[CompiledValue]:
        extras = [self.text, self.header_url, self.contact_name]
        return [*_flatten(self.variables), *(value for value in extras if value is not None)]

    def render(self, phone: str, values: Mapping[str, str]) -> RenderedRow:
        """The exact JSON body for ``phone`` (E.164) and one row's ``values`` by column name."""
        problems: list[RowProblem] = []
        body: dict[str, Any] = {"destination_phone": phone}
        if self.channel is Channel.SMS:
            info = self._render_sms(values, body, problems)
        else:
            info = None
            self._render_variables(values, body, problems)
            self._render_header_url(values, body, problems)
        if self.contact_name is not None and self.channel.accepts_contact_name:
            name = self._fill(self.contact_name, values, problems, allow_empty=True)
            if name:
                body["destination_user_name"] = name
        body["open_intercom_conversation"] = self.open_conversation
        if problems:
            return RenderedRow(None, tuple(problems), info)
        return RenderedRow(body, (), info)

    def _fill(
        self,
        compiled: CompiledValue,
        values: Mapping[str, str],
        problems: list[RowProblem],
        *,
        allow_empty: bool = False,
    ) -> str:
        text, problem = compiled.render(values)
        if problem is not None:
            problems.append(problem)
        elif text == "" and not allow_empty:
            problems.append(
                RowProblem(
                    f"empty {compiled.label}",
                    f"{compiled.label} is empty in this row; {compiled.empty_advice()}",
                )
            )
        return text

    def _render_variables(
        self, values: Mapping[str, str], body: dict[str, Any], problems: list[RowProblem]
    ) -> None:
        if isinstance(self.variables, tuple):
            if self.variables:
                body["message_variables"] = [
                    self._fill(v, values, problems) for v in self.variables
                ]
        elif self.variables:
            body["message_variables"] = {
                section: [self._fill(v, values, problems) for v in specs]
                for section, specs in self.variables.items()
            }

    def _render_header_url(
        self, values: Mapping[str, str], body: dict[str, Any], problems: list[RowProblem]
    ) -> None:
        if self.header_url is None or self.header_url_required is False:
            return
        url = self._fill(self.header_url, values, problems)
        if url and not is_web_url(url):
            problems.append(not_a_web_url(url))
        elif url:
            body[str(self.channel.header_url_field)] = url

    def _render_sms(
        self, values: Mapping[str, str], body: dict[str, Any], problems: list[RowProblem]
    ) -> SmsInfo | None:
        assert self.text is not None  # compile_body refuses an SMS campaign without text
        text = self._fill(self.text, values, problems)
        body["body"] = text
        if not text:
            return None
        info = sms_info(text)
        if info.too_long:
            problems.append(
                RowProblem(
                    "SMS text over 1,600 characters",
                    f"the SMS text has {info.characters:,} characters in this row; the limit is "
                    "1,600: shorten the text or this row's values",
                )
            )
        return info


def _flatten(variables: Variables) -> list[CompiledValue]:
    if variables is None:
        return []
    if isinstance(variables, tuple):
        return list(variables)
    return [value for specs in variables.values() for value in specs]


def compile_body(campaign: Campaign, *, template: Template | None = None) -> BodyRenderer:
    """Compile the campaign's mapping; raises ``ConfigError`` for what no row could pass."""
    compiler = TemplateCompiler(campaign)
    channel = campaign.channel
    if channel is Channel.SMS and not (campaign.text or "").strip():
        raise ConfigError(
            "an sms campaign needs text:", path=campaign.path, hint='e.g. text: "Hi {{ name }}"'
        )

    def optional(
        label: str, key: str, text: str | None, fallback: str | None = None
    ) -> CompiledValue | None:
        if text is None or text == "":
            return None
        compiled = compiler.compile(label, text, line=campaign.line_of(key))
        return replace(compiled, fallback_example=fallback)

    header_url = campaign.header_url if channel.uses_template else None
    sms_text = campaign.text if channel is Channel.SMS else None
    return BodyRenderer(
        channel=channel,
        variables=_compile_variables(compiler, campaign),
        text=optional("the SMS text", "text", sms_text, "there"),
        header_url=optional("header_url", "header_url", header_url, FALLBACK_URL_EXAMPLE),
        header_url_required=None if template is None else template.needs_media_header,
        contact_name=optional("contact_name", "contact_name", campaign.contact_name),
        open_conversation=bool(campaign.open_conversation),
    )


def _compile_variables(compiler: TemplateCompiler, campaign: Campaign) -> Variables:
    variables = campaign.variables
    if variables is None or not campaign.channel.uses_template:
        return None
    if isinstance(variables, tuple | list):
        return tuple(compiler.value("body", i, spec) for i, spec in enumerate(variables, 1))
    sections = campaign.channel.sections
    unknown = sorted(set(variables) - set(sections))
    if unknown:
        raise ConfigError(
            f"variables has section(s) {', '.join(unknown)} that {campaign.channel.value} "
            f"does not have; its sections are {', '.join(sections)}",
            path=campaign.path,
        )
    compiled: dict[str, tuple[CompiledValue, ...]] = {}
    for section in sections:
        specs = variables.get(section) or ()
        compiled[section] = tuple(compiler.value(section, i, s) for i, s in enumerate(specs, 1))
    if not any(compiled.values()):
        return None
    return compiled
