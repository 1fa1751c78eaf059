"""The campaign file: YAML in, a frozen ``Campaign`` out, or one ``ConfigError`` with file, line.

The dataclasses here are the contract other modules build on; ``load_campaign`` fills them.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import phonenumbers
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from bulksend.channels import Channel
from bulksend.errors import ConfigError
from bulksend.yamlpos import Fields, Where, YamlDocument, describe, did_you_mean, load_yaml

SANDBOX_URL_WORD = "sandbox"
DEFAULT_API_URL = "https://app.octopods.io/api/v1"


class PhoneCheck(StrEnum):
    VALID = "valid"
    POSSIBLE = "possible"


class ValueKind(StrEnum):
    COLUMN = "column"
    CONSTANT = "value"
    TEMPLATE = "template"


@dataclass(frozen=True)
class ValueSpec:
    """Where one placeholder's value comes from: a column, a constant or a jinja2 template."""

    kind: ValueKind
    source: str  # the column name, the constant text or the template text
    default: str | None = None  # used when the column or template gives ""
    line: int | None = None  # line in the campaign file, for messages


@dataclass(frozen=True)
class Rate:
    """At most ``count`` requests in any window of ``period_s`` seconds."""

    count: int
    period_s: float

    @property
    def per_second(self) -> float:
        return self.count / self.period_s


@dataclass(frozen=True)
class Campaign:
    path: Path  # the campaign file; relative paths in it are relative to its folder
    name: str
    channel: Channel
    template_id: int | None
    source: Path
    sheet: str | None
    phone_column: str
    default_region: str | None
    # Body-only templates: a tuple of ValueSpec, sent as a flat array.
    # Sectioned: a mapping section -> tuple of ValueSpec, every section of the channel present.
    variables: tuple[ValueSpec, ...] | Mapping[str, tuple[ValueSpec, ...]] | None
    text: str | None  # SMS only, jinja2
    header_url: str | None  # jinja2
    contact_name: str | None  # jinja2
    open_conversation: bool
    api_url: str  # a URL ending in /api/v1, or the word "sandbox"
    api_key_env: str
    rate: Rate
    burst: int
    concurrency: int | None  # None means auto
    results_path: Path
    key: tuple[str, ...] | None
    dedupe: bool
    suppression: Path | None
    phone_check: PhoneCheck
    encoding: str | None
    max_attempts: int
    timeout_s: float
    # The line of each key's value in the file, so that a later check (a column the sheet
    # lacks, a sheet name the workbook lacks) can name it; keys left out are absent.
    lines: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def line_of(self, key: str) -> int | None:
        """The line of ``key``'s value in the campaign file, or None when it is not there."""
        return self.lines.get(key)

    @property
    def uses_sandbox(self) -> bool:
        return self.api_url == SANDBOX_URL_WORD

    @property
    def rejects_path(self) -> Path:
        return _rejects_of(self.results_path)


# ---------------------------------------------------------------------------------------------
# Loading: everything below turns the YAML file into a Campaign or one ConfigError.

KEYS = tuple(
    "name channel template_id source sheet phone_column default_region variables text header_url"
    " contact_name open_conversation api_url api_key_env rate burst concurrency results key dedupe"
    " suppression phone_check encoding max_attempts timeout".split()
)
# Optional keys that name a column or a sheet, where a null is more likely a name than "none".
NAME_KEYS = ("sheet", "key")
SHEET_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
DEFAULT_API_KEY_ENV = "OCTOPODS_API_KEY"
DEFAULT_RATE = Rate(10, 1.0)
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_TIMEOUT_S = 30.0
MAX_CONCURRENCY = 64
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,100}")
ENV_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RATE_PATTERN = re.compile(r"(\d+)\s*/\s*([a-z]+)", re.IGNORECASE)
RATE_UNITS = {
    **dict.fromkeys(("s", "sec", "second"), 1.0),
    **dict.fromkeys(("min", "minute"), 60.0),
    **dict.fromkeys(("h", "hr", "hour"), 3600.0),
}
SPEC_KINDS = tuple(
    kind.value for kind in (ValueKind.COLUMN, ValueKind.CONSTANT, ValueKind.TEMPLATE)
)
# Key names that could only hold the API key itself.
SECRET_KEY_WORDS = ("apikey", "token", "secret", "password", "auth")
ROW_NAME = "row"  # in templates, ``row["Column Name"]`` reaches any column
PHONE_CHECK_HINT = (
    "Write `phone_check: valid` (the default: numbers in ranges that are in use) or "
    "`phone_check: possible` (any number of a possible length, e.g. a brand-new range)."
)
SPEC_HINTS = {
    ValueKind.CONSTANT: "A constant needs text, e.g. {value: Spring Sale}; to fill the placeholder "
    "from a column that may be empty, write {column: NAME, default: TEXT}.",
    ValueKind.COLUMN: 'Write the column\'s name, e.g. {column: Order Id, default: "-"}.',
}
TEMPLATE_HINT = (
    'Templates use jinja2: {{ first_name }}, {{ first_name | title }}, {{ row["Order Id"] }}.'
)


def load_campaign(path: Path) -> Campaign:
    """Read the campaign file at ``path``; raise one ``ConfigError`` naming the file and line."""
    path = Path(path)
    doc = load_yaml(path)
    if doc.data is None:
        raise ConfigError(
            "the campaign file is empty", path=path, hint="Write one with `bulksend init`."
        )
    fields = doc.fields()
    _refuse_secret_keys(fields)
    fields.check_keys(KEYS)
    _refuse_written_nulls(fields, NAME_KEYS)
    name = _name(fields)
    channel = _channel(fields)
    _refuse_keys_for_channel(fields, channel)
    source = _source(fields)
    results_path = _results_path(fields, name)
    suppression = _suppression(fields)
    _refuse_results_over_inputs(fields, results_path, source=source, suppression=suppression)
    return Campaign(
        path=path,
        name=name,
        channel=channel,
        template_id=_template_id(fields, channel),
        source=source,
        sheet=_excel_only(fields, "sheet", source, EXCEL_SUFFIXES),
        phone_column=fields.required_text("phone_column", "the column that holds the phones"),
        default_region=_default_region(fields),
        variables=_variables(fields, channel),
        text=_text(fields, channel),
        header_url=_template_text(fields, "header_url"),
        contact_name=_template_text(fields, "contact_name"),
        open_conversation=fields.boolean("open_conversation", default=False),
        api_url=_api_url(fields),
        api_key_env=_api_key_env(fields),
        rate=_rate(fields),
        burst=fields.whole("burst", default=1, maximum=10_000),
        concurrency=_concurrency(fields),
        results_path=results_path,
        key=fields.text_list("key", "one column name or a list of them"),
        dedupe=fields.boolean("dedupe", default=True),
        suppression=suppression,
        phone_check=fields.choice(
            "phone_check", PhoneCheck, PhoneCheck.VALID, hint=PHONE_CHECK_HINT
        ),
        encoding=_encoding(fields, source),
        max_attempts=fields.whole("max_attempts", default=DEFAULT_MAX_ATTEMPTS, maximum=100),
        timeout_s=fields.seconds("timeout", default=DEFAULT_TIMEOUT_S, maximum=600),
        lines=_lines(doc),
    )


def _lines(doc: YamlDocument) -> Mapping[str, int]:
    lines = {key: doc.line((key,)) for key in doc.data}
    return MappingProxyType({key: line for key, line in lines.items() if line is not None})


def _refuse_secret_keys(fields: Fields) -> None:
    for key in fields.data:
        if key in KEYS:
            continue
        squashed = re.sub(r"[^a-z]", "", key.lower())
        if any(word in squashed for word in SECRET_KEY_WORDS):
            # Never echo the value: it is probably the key itself.
            raise fields.key_error(
                key,
                f"`{key}`: the API key never goes in the campaign file",
                hint=(
                    "Remove that line (and rotate the key if the file was shared), then put the "
                    f"key in an environment variable: `export {DEFAULT_API_KEY_ENV}=...`, or "
                    "name another variable with `api_key_env:`."
                ),
            )


def _refuse_written_nulls(fields: Fields, keys: tuple[str, ...]) -> None:
    """``key: null`` would quietly mean "no key" (and ``sheet: ~`` the first sheet) while the
    user most likely named a column or sheet called null: ask rather than guess."""
    for key in keys:
        quote = fields.doc.null_hint(fields.at(key), f'{key}: "{{text}}"')
        if quote is not None:
            raise fields.error(
                key,
                f"`{key}` is {fields.doc.written_null(fields.at(key))}, which YAML reads as "
                "no value",
                hint=f"Remove the `{key}:` line if you meant none. {quote}",
            )


def _name(fields: Fields) -> str:
    name = fields.required_text("name", "a short campaign name such as spring-sale")
    if not NAME_PATTERN.fullmatch(name):
        raise fields.error(
            "name",
            f"`name` may hold only letters, digits, - and _ (got {name[:60]!r})",
            hint="For example: name: spring-sale-2024",
        )
    return name


def _channel(fields: Fields) -> Channel:
    hint = "Write `channel: whatsapp`, `channel: sms` or `channel: vbm`."
    text = fields.text("channel", required=True, hint=hint)
    assert text is not None
    try:
        return Channel(text.lower())
    except ValueError:
        guess = did_you_mean(text, [channel.value for channel in Channel])
        if guess:
            hint = f"Did you mean `{guess}`? " + hint
        raise fields.error("channel", f"unknown channel `{text}`", hint=hint) from None


def _refuse_keys_for_channel(fields: Fields, channel: Channel) -> None:
    if channel is Channel.SMS:
        for key in ("template_id", "variables", "header_url"):
            if key in fields.data:
                raise fields.key_error(
                    key,
                    f"`{key}` does not apply to SMS: an SMS is free text",
                    hint="Remove it and write the message in `text:`.",
                )
        return
    if "text" in fields.data:
        raise fields.key_error(
            "text",
            f"`text` is for SMS only: {channel.value} sends a template",
            hint="Remove `text:` and map the template's placeholders in `variables:`.",
        )
    if not channel.accepts_contact_name and "contact_name" in fields.data:
        raise fields.key_error(
            "contact_name",
            "`contact_name` does not apply to vbm: the API has no contact name for Viber",
            hint="Remove the `contact_name:` line.",
        )


def _template_id(fields: Fields, channel: Channel) -> int | None:
    if not channel.uses_template:
        return None
    fields.require(
        "template_id",
        hint=f"{channel.value} sends a template: write its number, e.g. template_id: 539",
    )
    return fields.integer("template_id", default=None, minimum=1, maximum=2**63 - 1)


def _sheet_path(fields: Fields, key: str, *, required: bool) -> Path | None:
    path = fields.path(key, required=required, hint=f"Write `{key}:` with the spreadsheet's path.")
    if path is None:
        return None
    suffix = path.suffix.lower()
    if suffix not in SHEET_SUFFIXES:
        kind = f"a {suffix} file" if suffix else "a file without an extension"
        raise fields.error(
            key,
            f"`{key}` is {kind}; bulksend reads " + ", ".join(SHEET_SUFFIXES),
            hint="Open it in Excel or LibreOffice and save it as .xlsx or .csv.",
        )
    if path.is_dir():
        raise fields.error(
            key,
            f"`{key}` is a folder, not a file: {path}",
            hint="Name the spreadsheet file itself, e.g. customers.csv inside that folder.",
        )
    if not path.is_file():
        raise fields.error(
            key,
            f"`{key}` file not found: {path}",
            hint=f"Paths are relative to the campaign file's folder ({path.parent}).",
        )
    return path


def _source(fields: Fields) -> Path:
    path = _sheet_path(fields, "source", required=True)
    assert path is not None
    return path


def _suppression(fields: Fields) -> Path | None:
    return _sheet_path(fields, "suppression", required=False)


def _excel_only(fields: Fields, key: str, source: Path, suffixes: tuple[str, ...]) -> str | None:
    value = fields.text(key)
    if value is not None and source.suffix.lower() not in suffixes:
        raise fields.error(
            key,
            f"`{key}` applies only to Excel files, and {source.name} is not one",
            hint=f"Remove the `{key}:` line.",
        )
    return value


def _encoding(fields: Fields, source: Path) -> str | None:
    value = fields.text("encoding")
    if value is None:
        return None
    if source.suffix.lower() in EXCEL_SUFFIXES:
        raise fields.error(
            "encoding",
            f"`encoding` applies only to CSV and text files, and {source.name} is an Excel file",
            hint="Remove the `encoding:` line.",
        )
    try:
        codecs.lookup(value)
    except LookupError:
        raise fields.error(
            "encoding",
            f"unknown encoding `{value}`",
            hint="Use one such as utf-8, utf-16 or cp1252, or remove the line to detect it.",
        ) from None
    return value


def _default_region(fields: Fields) -> str | None:
    value = fields.text("default_region")
    if value is None:
        return None
    try:
        return normalize_region(value)
    except ConfigError as error:
        raise fields.error("default_region", error.message, hint=error.hint) from None


def normalize_region(value: str) -> str:
    """The ISO 3166 code ``value`` names (any case); ``ConfigError`` (no file) otherwise."""
    region = value.strip().upper()
    if region in phonenumbers.SUPPORTED_REGIONS:
        return region
    hint = "Use a two-letter ISO 3166 country code such as US, GB, DE or IN."
    if region == "UK":
        hint = "The code for the United Kingdom is GB."
    raise ConfigError(f"`{value}` is not a country code", hint=hint)


def _variables(
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


def _text(fields: Fields, channel: Channel) -> str | None:
    if channel is not Channel.SMS:
        return None
    fields.require("text", hint='SMS campaigns need the message: text: "Hi {{ first_name }}, ..."')
    return _template_text(fields, "text")


def _template_text(fields: Fields, key: str) -> str | None:
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


def _api_url(fields: Fields) -> str:
    text = fields.text("api_url")
    if text is None:
        return DEFAULT_API_URL
    try:
        return normalize_api_url(text)
    except ConfigError as error:
        raise fields.error("api_url", error.message, hint=error.hint) from None


def normalize_api_url(text: str) -> str:
    """``sandbox``, or ``text`` as a base URL ending in /api/v1; ``ConfigError`` (no file)."""
    if text.strip().lower() == SANDBOX_URL_WORD:
        return SANDBOX_URL_WORD
    hint = f"For example: api_url: {DEFAULT_API_URL} (or api_url: sandbox for the simulator)."
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        host = None
    if scheme not in ("http", "https") or not host:
        raise ConfigError("`api_url` must be a web address", hint=hint)
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(
            "`api_url` must not carry a user, password or query",
            hint="The API key comes from the variable named by `api_key_env`, never the URL.",
        )
    if scheme == "http" and host.lower() not in LOOPBACK_HOSTS:
        raise ConfigError(
            "`api_url` uses plain http://, which would send the API key unencrypted",
            hint="Use https://. Plain http is allowed only for 127.0.0.1, localhost and ::1.",
        )
    path = parts.path.rstrip("/") or "/api/v1"
    if not path.endswith("/api/v1"):
        raise ConfigError("`api_url` must end in /api/v1", hint=hint)
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def _api_key_env(fields: Fields) -> str:
    text = fields.text("api_key_env")
    if text is None:
        return DEFAULT_API_KEY_ENV
    hint = (
        f"Write the variable's name, e.g. api_key_env: {DEFAULT_API_KEY_ENV}, and set it outside."
    )
    # An API key pasted here must not be echoed back, so the messages never quote the value.
    looks_like_key = len(text) >= 20 and "_" not in text and any(c.isdigit() for c in text)
    if looks_like_key or not ENV_NAME_PATTERN.fullmatch(text):
        raise fields.error(
            "api_key_env",
            "`api_key_env` must be the name of an environment variable, not the API key itself",
            hint=hint + " If the key was pasted here, rotate it.",
        )
    return text


def parse_rate(text: str) -> Rate | None:
    """``10/s``, ``300/min``, ``5000/h`` (sec, minute, hour, hr, plurals too) as a Rate, or None."""
    match = RATE_PATTERN.fullmatch(text.strip())
    if not match or int(match.group(1)) < 1:
        return None
    unit = match.group(2).lower()
    unit = unit if unit in RATE_UNITS else unit.removesuffix("s")  # 5/mins, 100/hours
    return Rate(int(match.group(1)), RATE_UNITS[unit]) if unit in RATE_UNITS else None


def _rate(fields: Fields) -> Rate:
    if not fields.has("rate"):
        return DEFAULT_RATE
    value = fields.data["rate"]
    rate = parse_rate(value) if isinstance(value, str) else None
    if rate is None:
        raise fields.error(
            "rate",
            f"`rate` must look like 10/s, not {value!r}",
            hint="Write a count per second, minute or hour: 10/s, 300/min or 5000/h.",
        )
    return rate


def _concurrency(fields: Fields) -> int | None:
    if str(fields.data.get("concurrency", "auto")).strip().lower() == "auto":
        return None
    hint = (
        f"Write `auto` (bulksend sizes it from the rate) or a whole number from 1 to "
        f"{MAX_CONCURRENCY}, e.g. concurrency: 4."
    )
    value = fields.data["concurrency"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise fields.error(
            "concurrency",
            f"`concurrency` must be auto or a number, not {describe(value)}",
            hint=hint,
        )
    return fields.integer(
        "concurrency", default=None, minimum=1, maximum=MAX_CONCURRENCY, hint=hint
    )


def _results_path(fields: Fields, name: str) -> Path:
    path = fields.path("results") or fields.doc.path.absolute().parent / "results" / f"{name}.csv"
    if path.suffix.lower() != ".csv":
        raise fields.error(
            "results", "`results` must be a .csv file", hint=f"For example: results/{name}.csv"
        )
    return path


def _refuse_results_over_inputs(
    fields: Fields, results_path: Path, *, source: Path, suppression: Path | None
) -> None:
    """The results and rejects files must not be the source or the suppression list: validate
    and send write them, and would destroy the very file they read."""
    outputs = {"results": results_path, "rejects": _rejects_of(results_path)}
    inputs = {"source": source, "suppression": suppression}
    for output, output_path in outputs.items():
        for key, input_path in inputs.items():
            if input_path is not None and _same_file(output_path, input_path):
                raise _results_clash(fields, output, key, input_path)


def _results_clash(fields: Fields, output: str, key: str, input_path: Path) -> ConfigError:
    what = "`results`" if output == "results" else "the rejects file beside the results"
    problem = (
        f"{what} is the `{key}` file ({input_path.name}): validate and send would overwrite it"
    )
    example = f"results: {fields.data.get('name', 'campaign')}-results.csv"
    if fields.has("results"):
        hint = f"Point `results:` at another .csv file (e.g. {example}): bulksend overwrites it."
        return fields.error("results", problem, hint=hint)
    # The default results path (results/<name>.csv) is the clash: name the input's line.
    hint = (
        f"Add a `results:` line naming another .csv file (e.g. {example}): the default, "
        "results/<name>.csv beside the campaign file, is this file."
    )
    return fields.error(key, problem, hint=hint)


def _rejects_of(results_path: Path) -> Path:
    return results_path.with_name(results_path.stem + ".rejects.csv")


def _same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file: after symlinks and case-folding file systems too."""
    if first.resolve() == second.resolve():
        return True
    try:
        return first.exists() and first.samefile(second)
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# Column references, for validate to check against the sheet's header.


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
