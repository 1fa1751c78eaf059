"""What fills each message: ``variables:`` into ``ValueSpec``s, and the jinja2 texts (``text``,
``header_url``, ``contact_name``, ``{template: ...}``) checked to compile, errors at their line."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from bulksend.campaign_model import ValueKind, ValueSpec
from bulksend.channels import Channel
from bulksend.errors import ConfigError
from bulksend.yamlpos import Fields, Where, YamlDocument, describe

SPEC_KINDS = tuple(
    kind.value for kind in (ValueKind.COLUMN, ValueKind.CONSTANT, ValueKind.TEMPLATE)
)
SPEC_HINTS = {
    ValueKind.CONSTANT: "A constant needs text, e.g. {value: Spring Sale}; to fill the placeholder "
    "from a column that may be empty, write {column: NAME, default: TEXT}.",
    ValueKind.COLUMN: 'Write the column\'s name, e.g. {column: Order Id, default: "-"}.',
}
TEMPLATE_HINT = (
    'Templates use jinja2: {{ first_name }}, {{ first_name | title }}, {{ row["Order Id"] }}.'
)


def read_variables(
    fields: Fields, channel: Channel
) -> tuple[ValueSpec, ...] | Mapping[str, tuple[ValueSpec, ...]] | None:
    if not fields.has("variables"):
        return None
    value = fields.data["variables"]
    where = fields.at("variables")
    if isinstance(value, list):
        return _spec_list(fields.doc, where)
    if not isinstance(value, dict):
        raise fields.error(
            "variables",
            f"`variables` must be a list or a mapping of sections, not {describe(value)}",
            hint="A list for body-only templates; header:, body:, footer:, buttons: otherwise.",
        )
    sections = fields.doc.fields(where, what="`variables`")
    if channel is Channel.VBM and "buttons" in value:
        raise sections.key_error(
            "buttons",
            "VBM templates have no `buttons` section",
            hint="Use header:, body: and footer: only.",
        )
    sections.check_keys(channel.sections, what=f"section for {channel.value}")
    result: dict[str, tuple[ValueSpec, ...]] = {}
    for section in channel.sections:
        items = value.get(section)
        if items is not None and not isinstance(items, list):
            raise sections.error(
                section,
                f"`variables.{section}` must be a list",
                hint=f"Write one entry per placeholder: {section}: [first_name, Order Id], "
                f"or {section}: [] for none.",
            )
        result[section] = _spec_list(fields.doc, (*where, section)) if items else ()
    return MappingProxyType(result)


def _spec_list(doc: YamlDocument, where: Where) -> tuple[ValueSpec, ...]:
    items: list[Any] = doc.value_at(where)
    return tuple(_spec(doc, (*where, index)) for index in range(len(items)))


def _spec(doc: YamlDocument, where: Where) -> ValueSpec:
    value = doc.value_at(where)
    line = doc.line(where)
    hint = "Write a column name, {value: text}, {template: ...} or {column: name, default: text}."
    if value is None or isinstance(value, list):
        quote = doc.null_hint(where, '- "{text}"')
        raise doc.error(
            f"a variable must be a column name or a mapping, not {describe(value)}",
            where,
            hint=f"{quote} {hint}" if quote else hint,
        )
    if not isinstance(value, dict):
        text = doc.scalar_text(where, "variable", hint=hint)
        return ValueSpec(ValueKind.COLUMN, text, None, line)
    item = doc.fields(where, what="a variable")
    item.check_keys((*SPEC_KINDS, "default"), what="variable key")
    kinds = [kind for kind in SPEC_KINDS if kind in value]
    if len(kinds) != 1:
        raise doc.error(
            "a variable needs exactly one of column:, value: or template:", where, hint=hint
        )
    kind = ValueKind(kinds[0])
    source = item.text(kind.value, required=True, hint=SPEC_HINTS.get(kind, hint))
    assert source is not None
    if kind is ValueKind.TEMPLATE:
        _compile(doc, item.at(kind.value), source, "`template`")
    default = None
    if "default" in value:
        if kind is ValueKind.CONSTANT:
            raise item.key_error("default", "`default` applies to column: and template: only")
        default = (
            "" if value["default"] is None else item.scalar_text(item.at("default"), "default")
        )
    return ValueSpec(kind, source, default, line)


def read_text(fields: Fields, channel: Channel) -> str | None:
    if channel is not Channel.SMS:
        return None
    fields.require("text", hint='SMS campaigns need the message: text: "Hi {{ first_name }}, ..."')
    return read_template_text(fields, "text")


def read_template_text(fields: Fields, key: str) -> str | None:
    text = fields.text(key)
    if text is not None:
        _compile(fields.doc, fields.at(key), text, f"`{key}`")
    return text


def new_template_environment() -> SandboxedEnvironment:
    """The jinja2 settings every campaign template runs under: sandboxed, undefined is an error."""
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def _compile(doc: YamlDocument, where: Where, text: str, label: str) -> None:
    try:
        new_template_environment().from_string(text)
    except TemplateSyntaxError as error:
        spot = doc.spot(where)
        line = doc.line(where)
        if line is not None and error.lineno:
            line += error.lineno - (0 if spot and spot.block else 1)
        shown = " ".join(text.split())
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise ConfigError(
            f"{label} is not a valid template ({error.message}): {shown}",
            path=doc.path,
            line=line,
            hint=TEMPLATE_HINT,
        ) from None
