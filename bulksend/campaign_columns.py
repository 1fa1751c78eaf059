"""Which sheet columns a loaded campaign reads, for validate to check against the header."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from jinja2 import meta, nodes

from bulksend.campaign_model import Campaign, ValueKind, ValueSpec
from bulksend.campaign_variables import new_template_environment

ROW_NAME = "row"  # in templates, ``row["Column Name"]`` reaches any column


def template_columns(text: str) -> set[str]:
    """Column names a jinja2 template reads: bare names and constant lookups in ``row``."""
    environment = new_template_environment()
    tree = environment.parse(text)
    names = meta.find_undeclared_variables(tree) - set(environment.globals) - {ROW_NAME}
    for node in tree.find_all((nodes.Getitem, nodes.Getattr, nodes.Call)):
        name = _row_lookup(node)
        if name is not None:
            names.add(name)
    return names


def _is_row(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == ROW_NAME


def _row_lookup(node: nodes.Node) -> str | None:
    """The column a ``row`` lookup names with a constant, if ``node`` is one."""
    if isinstance(node, nodes.Getitem) and _is_row(node.node):
        return str(node.arg.value) if isinstance(node.arg, nodes.Const) else None
    if isinstance(node, nodes.Getattr) and _is_row(node.node) and node.attr not in dir(dict):
        return node.attr
    if (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Getattr)
        and _is_row(node.node.node)
        and node.node.attr == "get"
        and node.args
        and isinstance(node.args[0], nodes.Const)
    ):
        return str(node.args[0].value)
    return None


def _specs(campaign: Campaign) -> Iterator[ValueSpec]:
    variables = campaign.variables
    if isinstance(variables, Mapping):
        for specs in variables.values():
            yield from specs
    elif variables:
        yield from variables


def referenced_columns(campaign: Campaign) -> set[str]:
    """Every column the campaign reads: phone, key, variables and names inside templates."""
    columns = {campaign.phone_column, *(campaign.key or ())}
    for spec in _specs(campaign):
        if spec.kind is ValueKind.COLUMN:
            columns.add(spec.source)
        elif spec.kind is ValueKind.TEMPLATE:
            columns |= template_columns(spec.source)
    for text in (campaign.text, campaign.header_url, campaign.contact_name):
        if text:
            columns |= template_columns(text)
    return columns
