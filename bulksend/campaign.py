"""The campaign file: YAML in, a frozen ``Campaign`` out, or one ``ConfigError`` with file, line.

``load_campaign`` checks the file as a whole (unknown keys, secrets, keys that do not fit the
channel) and assembles the ``Campaign`` from its parts: ``campaign_model`` (the dataclasses),
``campaign_fields`` (single settings), ``campaign_paths`` (files read and written),
``campaign_variables`` (placeholders and templates) and ``campaign_columns`` (columns read).
The names other modules use are re-exported here, so ``bulksend.campaign`` stays the one import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from bulksend.campaign_columns import referenced_columns, template_columns
from bulksend.campaign_fields import (
    DEFAULT_API_KEY_ENV,
    DEFAULT_API_URL,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RATE,
    DEFAULT_TIMEOUT_S,
    PHONE_CHECK_HINT,
    RATE_PATTERN,
    RATE_UNITS,
    parse_rate,
    read_api_key_env,
    read_api_url,
    read_channel,
    read_concurrency,
    read_default_region,
    read_name,
    read_rate,
    read_template_id,
)
from bulksend.campaign_model import (
    SANDBOX_URL_WORD,
    Campaign,
    PhoneCheck,
    Rate,
    ValueKind,
    ValueSpec,
)
from bulksend.campaign_paths import (
    read_encoding,
    read_results_path,
    read_sheet,
    read_source,
    read_suppression,
    refuse_results_over_inputs,
)
from bulksend.campaign_variables import read_template_text, read_text, read_variables
from bulksend.channels import Channel
from bulksend.errors import ConfigError
from bulksend.yamlpos import Fields, YamlDocument, load_yaml

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_RATE",
    "KEYS",
    "RATE_PATTERN",
    "RATE_UNITS",
    "SANDBOX_URL_WORD",
    "Campaign",
    "PhoneCheck",
    "Rate",
    "ValueKind",
    "ValueSpec",
    "load_campaign",
    "parse_rate",
    "referenced_columns",
    "template_columns",
]

KEYS = tuple(
    "name channel template_id source sheet phone_column default_region variables text header_url"
    " contact_name open_conversation api_url api_key_env rate burst concurrency results key dedupe"
    " suppression phone_check encoding max_attempts timeout".split()
)
# Optional keys that name a column or a sheet, where a null is more likely a name than "none".
NAME_KEYS = ("sheet", "key")
# Key names that could only hold the API key itself.
SECRET_KEY_WORDS = ("apikey", "token", "secret", "password", "auth")


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
    name = read_name(fields)
    channel = read_channel(fields)
    _refuse_keys_for_channel(fields, channel)
    source = read_source(fields)
    results_path = read_results_path(fields, name)
    suppression = read_suppression(fields)
    refuse_results_over_inputs(fields, results_path, source=source, suppression=suppression)
    return Campaign(
        path=path,
        name=name,
        channel=channel,
        template_id=read_template_id(fields, channel),
        source=source,
        sheet=read_sheet(fields, source),
        phone_column=fields.required_text("phone_column", "the column that holds the phones"),
        default_region=read_default_region(fields),
        variables=read_variables(fields, channel),
        text=read_text(fields, channel),
        header_url=read_template_text(fields, "header_url"),
        contact_name=read_template_text(fields, "contact_name"),
        open_conversation=fields.boolean("open_conversation", default=False),
        api_url=read_api_url(fields),
        api_key_env=read_api_key_env(fields),
        rate=read_rate(fields),
        burst=fields.whole("burst", default=1, maximum=10_000),
        concurrency=read_concurrency(fields),
        results_path=results_path,
        key=fields.text_list("key", "one column name or a list of them"),
        dedupe=fields.boolean("dedupe", default=True),
        suppression=suppression,
        phone_check=fields.choice(
            "phone_check", PhoneCheck, PhoneCheck.VALID, hint=PHONE_CHECK_HINT
        ),
        encoding=read_encoding(fields, source),
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
