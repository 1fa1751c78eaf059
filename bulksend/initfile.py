"""`bulksend init`: a commented starting campaign file from a spreadsheet's header.

``write_campaign_file`` reads the header (and peeks at the first rows to guess the phone column),
asks the API for the template when it can, and writes a file that ``load_campaign`` accepts. The
text itself comes from ``campaign_text``, a pure function of what was found.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import yaml

from bulksend.campaign import load_campaign
from bulksend.campaign_fields import (
    DEFAULT_API_KEY_ENV,
    DEFAULT_API_URL,
    normalize_api_url,
    normalize_region,
)
from bulksend.campaign_model import SANDBOX_URL_WORD
from bulksend.campaign_paths import EXCEL_SUFFIXES
from bulksend.channels import Channel
from bulksend.errors import ApiError, ConfigError
from bulksend.phonelist import PHONE_LIKE, guess_phone_column
from bulksend.render_values import jinja_name
from bulksend.templates import Template

TemplateReader = Callable[[str, Channel, int], Template]

URL_WORDS = ("url", "image", "photo", "picture", "media", "link")
PLAIN_YAML = re.compile(r"[A-Za-z0-9_./~][A-Za-z0-9_ ./()~-]*")
YAML_PRINTABLE = re.compile(
    "[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
PEEK_ROWS = 200
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class InitResult:
    """What ``bulksend init`` wrote and what it could not find out."""

    path: Path
    phone_column: str | None  # None when no column looked like phones
    template: Template | None  # None when the template could not be read
    note: str | None = None  # why the template was not read, for the user


@dataclass(frozen=True)
class SheetFacts:
    """What init learns from the spreadsheet."""

    columns: tuple[str, ...]
    sheet_name: str | None
    phone_column: str | None
    phones_seen: int  # non-empty phone cells among the first rows
    phones_without_plus: int


def write_campaign_file(
    spreadsheet: Path,
    *,
    output: Path,
    channel: Channel = Channel.WHATSAPP,
    template_id: int | None = None,
    api_url: str = DEFAULT_API_URL,
    sheet: str | None = None,
    default_region: str | None = None,
    force: bool = False,
    read_template: TemplateReader | None = None,
    environ: Mapping[str, str] | None = None,
) -> InitResult:
    """Write a starting campaign file for ``spreadsheet`` to ``output``.

    Raises ``ConfigError`` when ``output`` exists (unless ``force``), is not a .yaml file, or a
    template channel has no ``template_id``; ``InputFileError`` when the sheet cannot be read.
    The template is read through ``read_template`` (default: the API at ``api_url``); when that
    fails the file lists the columns to pick from and ``InitResult.note`` says why.
    """
    spreadsheet, output = Path(spreadsheet), Path(output)
    _check_output(output, force=force)
    api_url = _option("--api-url", "api_url", normalize_api_url, api_url)
    if default_region is not None:
        default_region = _option(
            "--default-region", "default_region", normalize_region, default_region
        )
    facts = read_sheet_facts(spreadsheet, sheet=sheet)
    _check_template_id(channel, template_id)
    template, note = None, None
    if channel.uses_template and template_id is not None:
        reader = read_template or _api_reader(environ)
        template, note = _try_template(reader, api_url, channel, template_id)
    text = campaign_text(
        name=campaign_name(output),
        channel=channel,
        template_id=template_id,
        source_ref=_relative(spreadsheet, output.parent),
        facts=facts,
        api_url=api_url,
        template=template,
        default_region=default_region,
        note=note,
    )
    _write_checked(output, text)
    return InitResult(output, facts.phone_column, template, note)


def _option(option: str, key: str, normalize: Callable[[str], str], value: str) -> str:
    """``normalize(value)``; its ``ConfigError`` names the command-line option, not the key."""
    try:
        return normalize(value)
    except ConfigError as error:
        problem = error.message.removeprefix(f"`{key}` ")
        raise ConfigError(f"{option}: {problem}", hint=error.hint) from None


def _check_template_id(channel: Channel, template_id: int | None) -> None:
    if channel.uses_template and template_id is None:
        raise ConfigError(
            f"{channel.value} campaigns send a template: give its number with --template-id N",
            hint="Your templates are listed in Octopods; or use --channel sms for free text.",
        )
    if not channel.uses_template and template_id is not None:
        raise ConfigError(
            "--template-id does not apply to SMS: an SMS is free text",
            hint="Leave --template-id out, or choose --channel whatsapp or vbm.",
        )


def _check_output(output: Path, *, force: bool) -> None:
    if output.suffix.lower() not in YAML_SUFFIXES:
        raise ConfigError(
            f"{output} does not end in .yaml",
            hint="Campaign files are YAML: choose a name such as spring-sale.yaml with -o.",
        )
    if output.exists() and not force:
        raise ConfigError(
            f"{output} already exists",
            hint="Use --force to replace it, or -o to write another file.",
        )


def read_sheet_facts(spreadsheet: Path, *, sheet: str | None = None) -> SheetFacts:
    """The header, and a phone column guessed from the names or else from the first rows."""
    from bulksend.sheets import MissingFileError, open_sheet  # imported where used

    _check_sheet_option(spreadsheet, sheet)
    try:
        opened = open_sheet(spreadsheet, sheet=sheet)
    except MissingFileError as error:
        # init's SPREADSHEET comes from the command line, not from a campaign file.
        raise error.with_hint(
            f"Check the path: a relative one is taken from the current folder, {Path.cwd()}."
        ) from error
    with opened:
        columns = tuple(opened.columns)
        rows = [row.values for row in islice(opened.rows(), PEEK_ROWS)]
        sheet_name = opened.sheet_name
    phone_column = guess_phone_column(columns) or _phone_column_from_values(columns, rows)
    phones = [row.get(phone_column, "") for row in rows] if phone_column else []
    phones = [phone for phone in phones if phone]
    without_plus = sum(1 for phone in phones if not phone.startswith(("+", "00")))
    return SheetFacts(columns, sheet_name, phone_column, len(phones), without_plus)


def _check_sheet_option(spreadsheet: Path, sheet: str | None) -> None:
    """--sheet on a CSV would be silently ignored here, and refused later by validate."""
    if sheet is not None and spreadsheet.suffix.lower() not in EXCEL_SUFFIXES:
        raise ConfigError(
            f"--sheet applies only to Excel files (.xlsx, .xlsm); {spreadsheet.name} is not one",
            hint="Leave --sheet out: a CSV or text file has a single sheet.",
        )


def _phone_column_from_values(
    columns: Sequence[str], rows: Sequence[Mapping[str, str]]
) -> str | None:
    def share(column: str) -> float:
        values = [row.get(column, "") for row in rows if row.get(column)]
        looks = sum(1 for value in values if PHONE_LIKE.fullmatch(value))
        return looks / len(values) if values else 0.0

    best = max(columns, key=share, default=None)
    return best if best is not None and share(best) >= 0.8 else None


def campaign_name(output: Path) -> str:
    """A campaign name from the file name, reduced to letters, digits, - and _."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", output.stem).strip("-")[:100]
    return name or "campaign"


def _relative(path: Path, folder: Path) -> str:
    """``path`` as the campaign file should name it: relative, unless they share only the root."""
    path, folder = path.absolute(), folder.absolute()
    if os.path.commonpath([path, folder]) == path.anchor:
        return path.as_posix()
    return Path(os.path.relpath(path, folder)).as_posix()


def _try_template(
    reader: TemplateReader, api_url: str, channel: Channel, template_id: int
) -> tuple[Template | None, str | None]:
    try:
        return reader(api_url, channel, template_id), None
    except (ApiError, ConfigError) as error:
        return None, f"the template could not be read: {error}"


def _api_reader(environ: Mapping[str, str] | None) -> TemplateReader:
    def read(api_url: str, channel: Channel, template_id: int) -> Template:
        from bulksend.endpoint import connect_to

        # A throwaway folder: a sandbox started here keeps its ledger there, not beside the file.
        with tempfile.TemporaryDirectory(prefix="bulksend-init-") as state_dir:
            with connect_to(
                api_url,
                channel,
                api_key_env=DEFAULT_API_KEY_ENV,
                state_dir=Path(state_dir),
                environ=environ,
            ) as client:
                return client.get_template(template_id)

    return read


def _write_checked(output: Path, text: str) -> None:
    """Write ``text`` to ``output`` only if it loads as a campaign (paths resolve the same)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=output.parent, prefix=f".{output.stem}-", suffix=output.suffix
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            load_campaign(Path(temporary))
        except ConfigError as error:
            # The scratch file is gone when the user reads this: name the file they asked for.
            raise ConfigError(
                "bulksend init could not write a valid campaign file with these options",
                hint=str(error).replace(temporary, str(output)),
            ) from error
        os.replace(temporary, output)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


# ---------------------------------------------------------------------------------------------
# The text. Pure: everything it needs comes in as arguments.


def yaml_text(text: str) -> str:
    """``text`` as a YAML scalar that reads back as exactly this string."""
    if PLAIN_YAML.fullmatch(text) and text == text.strip():
        try:
            if yaml.safe_load(f"k: {text}") == {"k": text}:
                return text
        except yaml.YAMLError:
            pass
    # A JSON string is a YAML double-quoted scalar, once characters YAML does not allow raw in a
    # stream (controls, NEL, line separators, BOM-likes) are escaped too.
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(c if YAML_PRINTABLE.fullmatch(c) else f"\\u{ord(c):04x}" for c in quoted)


def jinja_reference(column: str) -> str:
    """``column`` as a whole template placeholder: ``{{ name }}`` or ``{{ row['A b'] }}``."""
    return "{{ " + jinja_name(column) + " }}"


def campaign_text(
    *,
    name: str,
    channel: Channel,
    template_id: int | None,
    source_ref: str,
    facts: SheetFacts,
    api_url: str,
    template: Template | None,
    default_region: str | None = None,
    note: str | None = None,
) -> str:
    """The commented campaign file, ready to edit."""
    lines = [
        f"# Campaign file written by `bulksend init` from {Path(source_ref).name}.",
        "# Edit it, then check every row without sending: bulksend validate <this file>",
        "# Every key is described in docs/campaign-file.md.",
        "",
        f"name: {name}",
        f"channel: {channel.value}",
    ]
    if channel.uses_template:
        lines.append(f"template_id: {template_id}" + _template_comment(template))
    lines += ["", f"source: {yaml_text(source_ref)}"]
    if facts.sheet_name:
        lines.append(f"sheet: {yaml_text(facts.sheet_name)}")
    lines += _phone_lines(facts, default_region)
    lines += [""] + _message_lines(channel, facts, template, note)
    lines += [""] + _settings_lines(channel, api_url, name)
    lines += [""] + _column_list(facts, Path(source_ref).name)
    return "\n".join(lines) + "\n"


def _template_comment(template: Template | None) -> str:
    if template is None:
        return ""
    body = " ".join(template.body_text.split())
    body = body if len(body) <= 60 else body[:57] + "..."
    return f"  # {template.name}: {json.dumps(body, ensure_ascii=False)}"


def _phone_lines(facts: SheetFacts, default_region: str | None) -> list[str]:
    if facts.phone_column:
        lines = [f"phone_column: {yaml_text(facts.phone_column)}  # guessed: check it"]
    else:
        lines = [
            f"phone_column: {yaml_text(facts.columns[0])}  # CHECK: no column looked like phones"
        ]
    if default_region:
        lines.append(f"default_region: {default_region}  # country of numbers written without +")
    elif facts.phones_without_plus:
        lines.append(
            "# default_region: US  # "
            f"{facts.phones_without_plus} of the first {facts.phones_seen} phones have no +: "
            "set their country"
        )
    else:
        lines.append("# default_region: US  # the country of numbers written without +")
    return lines


def _other_columns(facts: SheetFacts) -> list[str]:
    return [column for column in facts.columns if column != facts.phone_column]


def _message_lines(
    channel: Channel, facts: SheetFacts, template: Template | None, note: str | None
) -> list[str]:
    if channel is Channel.SMS:
        return _sms_lines(facts)
    if template is None:
        return _unknown_template_lines(facts, note)
    columns = _other_columns(facts) or [facts.columns[0]]
    picks = iter(columns * (template.total_placeholders // len(columns) + 1))
    lines: list[str] = []
    if template.total_placeholders == 0:
        lines.append("# The template has no placeholders: no variables are needed.")
    elif template.is_body_only:
        count = template.placeholder_count("body")
        lines.append(f"# The template has {count} placeholder(s), all in the body: one entry each,")
        lines.append("# in order. Change the columns to the ones that belong there.")
        lines.append("variables:")
        lines += [f"  - {yaml_text(next(picks))}  # {{{{{n}}}}}" for n in range(1, count + 1)]
    else:
        lines.append("# The template has placeholders outside the body: one list per section.")
        lines.append("variables:")
        for section in channel.sections:
            count = template.placeholder_count(section)
            if not count:
                lines.append(f"  {section}: []")
                continue
            lines.append(f"  {section}:")
            lines += [
                f"    - {yaml_text(next(picks))}  # {section} {{{{{n}}}}}"
                for n in range(1, count + 1)
            ]
    if template.needs_media_header:
        lines += _header_url_lines(facts, template)
    return lines


def _header_url_lines(facts: SheetFacts, template: Template) -> list[str]:
    kind = (template.header_format or "media").lower()
    url_columns = [c for c in facts.columns if any(word in c.lower() for word in URL_WORDS)]
    value = jinja_reference(url_columns[0]) if url_columns else f"https://example.com/{kind}.jpg"
    return [
        f"# The header is a{'n' if kind[0] in 'aeiou' else ''} {kind}: a public URL, "
        "or a template over the row.",
        f"header_url: {yaml_text(value)}",
    ]


def _unknown_template_lines(facts: SheetFacts, note: str | None) -> list[str]:
    lines = [f"# Note: {' '.join(note.split())}" if note else "# The template was not read."]
    example = [yaml_text(column) for column in _other_columns(facts)[:2]] or ["first_name"]
    return lines + [
        "# List one entry per placeholder, in order ({{1}}, {{2}}, ...), for example:",
        "# variables:",
        *(f"#   - {column}" for column in example),
        '#   - {value: "Spring Sale"}',
        '# Other entries: {column: NAME, default: TEXT} or {template: "{{ NAME | title }}"}.',
    ]


def _sms_lines(facts: SheetFacts) -> list[str]:
    names = [c for c in _other_columns(facts) if "name" in c.lower()]
    names.sort(key=lambda column: "first" not in column.lower())
    greeting = f"Hi {jinja_reference(names[0])}," if names else "Hello,"
    text = f"{greeting} write your message here. Reply STOP to opt out."
    return [
        "# The SMS text: a jinja2 template over the row. Columns are reachable by name, or as",
        "# {{ row['Column Name'] }} when the name has spaces. Over 160 characters (70 with",
        "# emoji or accents) the message is split and billed in several parts.",
        f"text: {yaml_text(text)}",
    ]


def _settings_lines(channel: Channel, api_url: str, name: str) -> list[str]:
    lines = []
    if channel.accepts_contact_name:
        lines.append(
            "# contact_name: '{{ first_name }}'  # the contact's name if a conversation opens"
        )
    api = SANDBOX_URL_WORD if api_url.strip().lower() == SANDBOX_URL_WORD else api_url.strip()
    return lines + [
        "open_conversation: false",
        "",
        f"api_url: {yaml_text(api)}" + ("  # the built-in simulator" if api == "sandbox" else ""),
        "api_key_env: OCTOPODS_API_KEY  # the variable holding the channel's key (never the key)",
        "rate: 10/s                     # also 600/min or 36000/h",
        "concurrency: auto",
        "",
        f"# results: results/{name}.csv  # the default: beside this file",
        "dedupe: true                   # one message per phone",
        "# key: [Customer Id]           # or identify recipients by other columns",
        "# suppression: optouts.csv     # phones never to message",
        "phone_check: valid",
    ]


def _column_list(facts: SheetFacts, source_name: str) -> list[str]:
    lines = [f"# Columns in {source_name}:"]
    current = "#  "
    for position, column in enumerate(facts.columns):
        item = " " + yaml_text(column) + ("," if position < len(facts.columns) - 1 else "")
        if len(current) + len(item) > 98:
            lines.append(current)
            current = "#  "
        current += item
    return lines + [current]
