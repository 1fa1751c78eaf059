"""Compiling one campaign's jinja2 texts and variable specs into ``CompiledValue``s; a text that
cannot compile, or a constant that is empty, is a ``ConfigError`` at its campaign-file line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from bulksend.campaign_model import Campaign, ValueKind, ValueSpec
from bulksend.campaign_variables import new_template_environment
from bulksend.errors import ConfigError
from bulksend.render_values import ROW_MAPPING_NAME, CompiledValue

_MAPPING_METHODS = frozenset({"get", "keys", "values", "items"})


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
    environment: SandboxedEnvironment = field(default_factory=new_template_environment)

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
