"""Checks on a send request's JSON, in the order the sandbox applies them; each raises Refusal.

Phones must have the strict E.164 shape and be a possible number for their country according to
``phonenumbers``. ``is_possible_number`` rather than ``is_valid_number``: the API's own examples
(+447700900123, +15551234567) are fictional ranges that "valid" would refuse.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

from bulksend.channels import Channel
from bulksend.sandbox.catalog import parse_flag
from bulksend.sandbox.codes import CODES, Refusal
from bulksend.templates import Template

PHONE_SHAPE = re.compile(r"^\+[1-9]\d{6,14}$")
SMS_MAX_CHARS = 1600
OPTIONAL_TEXT_FIELDS = ("intercom_teammate_id", "destination_user_name")

PRIVATE_NAME_SUFFIXES = (".localhost", ".local", ".internal", ".invalid", ".lan", ".home.arpa")


def is_e164(phone: str) -> bool:
    if not PHONE_SHAPE.match(phone):
        return False
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number)


def _missing(channel: Channel, name: str, why: str = "") -> Refusal:
    return Refusal(CODES[channel].missing, f"You must supply {name} in your request payload.{why}")


def parse_json_object(channel: Channel, content_type: str | None, body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or the family's code for an unreadable request."""
    code = CODES[channel].malformed
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise Refusal(code, "Content-Type must be application/json.")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refusal(code, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Refusal(code, "The request body must be a JSON object.")
    return data


def check_phone(channel: Channel, data: Mapping[str, Any]) -> str:
    phone = data.get("destination_phone")
    if phone is None or (isinstance(phone, str) and not phone.strip()):
        raise _missing(channel, "destination_phone")
    if not isinstance(phone, str):
        raise Refusal(CODES[channel].type_mismatch, "destination_phone must be a string.")
    if not is_e164(phone):
        raise Refusal(
            CODES[channel].phone,
            "destination_phone must be a valid phone number in E.164 format, e.g. +447700900123.",
        )
    return phone


def check_template_send(channel: Channel, template: Template, data: Mapping[str, Any]) -> str:
    """Checks a WhatsApp or VBM send against its template; returns the phone."""
    phone = check_phone(channel, data)
    check_variables(channel, template, data.get("message_variables"))
    check_header_url(channel, template, data)
    check_optional_fields(channel, data)
    return phone


def check_sms_send(data: Mapping[str, Any]) -> str:
    """Checks an SMS send in the documented code order (1 phone, 2 body, 3 E.164, 4 length)."""
    codes = CODES[Channel.SMS]
    if data.get("destination_phone") in (None, ""):
        raise _missing(Channel.SMS, "destination_phone")
    body = data.get("body")
    if not isinstance(body, str) or not body.strip():
        raise Refusal(codes.empty_body, "body must be a non-empty string.")
    phone = check_phone(Channel.SMS, data)
    if len(body) > SMS_MAX_CHARS:
        raise Refusal(
            codes.provider,
            f"The SMS provider refused the message: the body has {len(body)} characters, "
            f"more than the {SMS_MAX_CHARS:,} allowed.",
        )
    check_optional_fields(Channel.SMS, data)
    return phone


def check_variables(channel: Channel, template: Template, variables: Any) -> None:
    codes = CODES[channel]
    if variables is None:
        if template.total_placeholders:
            raise _missing(channel, "message_variables", " This template has placeholders.")
        return
    if isinstance(variables, list):
        if not template.is_body_only:
            raise Refusal(
                codes.flat_for_sections,
                "This template has header, footer or button placeholders: send "
                f"message_variables as an object with {', '.join(channel.sections)} arrays.",
            )
        _check_section(channel, template, "body", variables, name="message_variables")
        return
    if not isinstance(variables, dict):
        raise Refusal(codes.type_mismatch, "message_variables must be an array or an object.")
    unknown = sorted(set(variables) - set(channel.sections))
    if unknown:
        raise Refusal(
            codes.type_mismatch,
            f"message_variables has unknown sections {unknown}; "
            f"the sections are {', '.join(channel.sections)}.",
        )
    for section in channel.sections:
        if section not in variables:
            raise _missing(
                channel, f"message_variables.{section}", " Use [] for a section without values."
            )
        _check_section(channel, template, section, variables[section])


def _check_section(
    channel: Channel, template: Template, section: str, values: Any, *, name: str = ""
) -> None:
    codes = CODES[channel]
    name = name or f"message_variables.{section}"
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise Refusal(codes.type_mismatch, f"{name} must be an array of strings.")
    wanted = template.placeholder_count(section)
    if len(values) != wanted:
        raise Refusal(
            codes.variables_size,
            f"{name} has {len(values)} values but the template's {section} has "
            f"{wanted} placeholders.",
        )


def check_header_url(channel: Channel, template: Template, data: Mapping[str, Any]) -> None:
    name = channel.header_url_field
    if name is None or not template.needs_media_header:
        return
    url = data.get(name)
    if url is None or (isinstance(url, str) and not url.strip()):
        raise _missing(channel, name, f" This template has a {template.header_format} header.")
    if not isinstance(url, str):
        raise Refusal(CODES[channel].type_mismatch, f"{name} must be a string.")
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise Refusal(CODES[channel].header, f"{name} must be a public http(s) URL.")
    if not is_public_host(parts.hostname):
        # The API fetches the media itself, so an address only the sender can reach fails.
        raise Refusal(CODES[channel].header, f"{name} must be a public http(s) URL.")


def is_public_host(host: str) -> bool:
    """False for loopback, private and link-local addresses and for names no one else resolves."""
    host = host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host != "localhost" and not host.endswith(PRIVATE_NAME_SUFFIXES)
    return address.is_global


def check_optional_fields(channel: Channel, data: Mapping[str, Any]) -> None:
    code = CODES[channel].type_mismatch
    flag = data.get("open_intercom_conversation")
    if flag is not None and parse_flag(flag) is None:
        raise Refusal(code, "open_intercom_conversation must be true or false.")
    for name in OPTIONAL_TEXT_FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise Refusal(code, f"{name} must be a string.")
