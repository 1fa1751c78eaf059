"""Per-row request bodies: compile a campaign's mapping once, render it for every row.

jinja2 runs in a sandbox with StrictUndefined, without autoescaping (bodies are JSON, not HTML).
A template that cannot compile is a ``ConfigError``; a value that comes out empty, or a template
that fails on one row's values, is a ``RowProblem`` that makes only that row invalid.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from bulksend.campaign import Campaign, ValueKind, ValueSpec
from bulksend.channels import Channel
from bulksend.errors import ConfigError
from bulksend.sms import SmsInfo, sms_info
from bulksend.templates import Template

ROW_MAPPING_NAME = "row"  # {{ row["Order Id"] }} reaches columns whose names are not identifiers
_MAPPING_METHODS = frozenset({"get", "keys", "values", "items"})
# Errors a filter or expression can raise on one row's values (int("abc"), a missing dict key...).
_ROW_RENDER_ERRORS = (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError)
# A template meeting an undefined name on this many rows, and never rendering, cannot work.
UNDEFINED_ROWS_LIMIT = 20
FALLBACK_URL_EXAMPLE = "https://example.com/default.jpg"


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why a row cannot be sent: ``category`` is stable for summaries, ``message`` names the row."""

    category: str
    message: str


@dataclass(frozen=True, slots=True)
class RenderedRow:
    body: dict[str, Any] | None  # None when a problem stops the row
    problems: tuple[RowProblem, ...] = ()
    sms: SmsInfo | None = None


@dataclass
class RenderCounts:
    """How often one value rendered and how often it hit an undefined name."""

    rendered: int = 0
    undefined: int = 0


@dataclass(frozen=True)
class CompiledValue:
    """One rendered value (a placeholder, the SMS text, a URL) and where it comes from."""

    label: str  # e.g. "body variable 2 (column 'Order Id')", used in messages
    produce: Callable[[Mapping[str, str]], str]
    default: str | None
    columns: frozenset[str]
    path: Path | None = None  # the campaign file and line, for config errors
    line: int | None = None
    counts: RenderCounts = field(default_factory=RenderCounts, compare=False)
    # For values that take no ``default:`` (header_url, the SMS text): an example fallback value
    # for the advice on an empty row, shown inside jinja2's default() filter.
    fallback_example: str | None = None

    def empty_advice(self) -> str:
        """What to do about a row where this value came out empty."""
        if self.fallback_example is None:
            return "fill it or give a default"
        cells = ", ".join(repr(column) for column in sorted(self.columns))
        fill = f"fill this row's {cells} cell{'s' if len(self.columns) > 1 else ''}"
        if not self.columns:
            fill = "check the template"
        column = min(self.columns, default="first_name")
        example = f'{{{{ {_reference(column)} | default("{self.fallback_example}", true) }}}}'
        return f"{fill}, or write a fallback into the template, e.g. {example}"

    def render(self, values: Mapping[str, str]) -> tuple[str, RowProblem | None]:
        """The value for this row, or "" and the problem that stops the row.

        Raises ``ConfigError`` when the template cannot work for any row: the sandbox refuses
        it, or it meets an undefined name on each of the first ``UNDEFINED_ROWS_LIMIT`` rows
        (e.g. ``{{ first_name.nickname }}``); rows already yielded were all invalid, so
        nothing was sent on their account.
        """
        try:
            text = self.produce(values)
        except SecurityError as error:
            raise self._config_error(f"is refused by the jinja2 sandbox: {error}") from error
        except _ROW_RENDER_ERRORS as error:
            if isinstance(error, jinja2.UndefinedError):
                self._count_undefined(error)
            return "", RowProblem(
                f"template error in {self.label}",
                f"{self.label} failed on this row: {error}; "
                "check the template and this row's values",
            )
        self.counts.rendered += 1
        if text == "" and self.default is not None:
            return self.default, None
        return text, None

    def _count_undefined(self, error: jinja2.UndefinedError) -> None:
        self.counts.undefined += 1
        if self.counts.rendered == 0 and self.counts.undefined >= UNDEFINED_ROWS_LIMIT:
            raise self._config_error(
                f"fails on each of the first {self.counts.undefined} rows: {error}"
            ) from error

    def _config_error(self, problem: str) -> ConfigError:
        return ConfigError(
            f"{self.label} {problem}",
            path=self.path,
            line=self.line,
            hint='Names are column names, e.g. {{ first_name }} or {{ row["Order Id"] }}.',
        )


def _reference(column: str) -> str:
    """How a template names ``column``: bare when it is a plain name, else through ``row``."""
    if column.isidentifier() and column != ROW_MAPPING_NAME:
        return column
    return f"{ROW_MAPPING_NAME}[{json.dumps(column, ensure_ascii=False)}]"


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


def describe_spec(section: str, index: int, spec: ValueSpec) -> str:
    kind = {ValueKind.COLUMN: "column", ValueKind.CONSTANT: "value", ValueKind.TEMPLATE: "template"}
    return f"{section} variable {index} ({kind[spec.kind]} {spec.source!r})"


def template_columns(ast: nodes.Template) -> frozenset[str]:
    """Column names a template reads: bare names and ``row["X"]``, ``row.X``, ``row.get("X")``."""
    names = set(jinja2.meta.find_undeclared_variables(ast)) - {ROW_MAPPING_NAME}
    for item in ast.find_all(nodes.Getitem):
        if _is_row(item.node) and isinstance(item.arg, nodes.Const):
            names.add(str(item.arg.value))
    for attr in ast.find_all(nodes.Getattr):
        if _is_row(attr.node) and attr.attr not in _MAPPING_METHODS:
            names.add(attr.attr)
    for call in ast.find_all(nodes.Call):
        target = call.node
        if (
            isinstance(target, nodes.Getattr)
            and _is_row(target.node)
            and target.attr == "get"
            and call.args
            and isinstance(call.args[0], nodes.Const)
        ):
            names.add(str(call.args[0].value))
    return frozenset(names)


def _is_row(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == ROW_MAPPING_NAME


@dataclass(frozen=True)
class TemplateCompiler:
    """Compiles jinja2 text for one campaign; the environment is per campaign, never global."""

    campaign: Campaign
    environment: SandboxedEnvironment = field(
        default_factory=lambda: SandboxedEnvironment(
            undefined=jinja2.StrictUndefined, autoescape=False
        )
    )

    def compile(
        self, label: str, text: str, *, default: str | None = None, line: int | None = None
    ) -> CompiledValue:
        try:
            ast = self.environment.parse(text)
            compiled = self.environment.from_string(ast)
        except jinja2.TemplateSyntaxError as error:
            raise ConfigError(
                f"{label}: the jinja2 template {text!r} is broken: {error.message}",
                path=self.campaign.path,
                line=line,
                hint="Fix the template; names are column names, e.g. {{ first_name }} or "
                '{{ row["Order Id"] }}.',
            ) from error

        def produce(values: Mapping[str, str]) -> str:
            return compiled.render({**values, ROW_MAPPING_NAME: values}).strip()

        columns = template_columns(ast)
        return CompiledValue(label, produce, default, columns, self.campaign.path, line)

    def value(self, section: str, index: int, spec: ValueSpec) -> CompiledValue:
        label = describe_spec(section, index, spec)
        if spec.kind is ValueKind.TEMPLATE:
            return self.compile(label, spec.source, default=spec.default, line=spec.line)
        if spec.kind is ValueKind.CONSTANT:
            if spec.source == "" and spec.default is None:
                raise ConfigError(
                    f"{label} is an empty constant, so no row could be sent",
                    path=self.campaign.path,
                    line=spec.line,
                    hint="Give the constant some text or map the variable to a column.",
                )
            constant = spec.source
            return CompiledValue(
                label,
                lambda _values: constant,
                spec.default,
                frozenset(),
                self.campaign.path,
                spec.line,
            )
        column = spec.source
        return CompiledValue(
            label,
            lambda values: values.get(column, ""),
            spec.default,
            frozenset({column}),
            self.campaign.path,
            spec.line,
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
