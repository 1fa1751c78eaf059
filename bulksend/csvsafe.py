"""Cells that a spreadsheet would run as formulas are escaped in every CSV bulksend writes.

Writing prefixes ``'`` to a cell that starts with ``= + - @``, a tab, a carriage return or ``'``
itself (OWASP's CSV-injection advice); reading strips exactly one leading ``'``. Escaping ``'`` too
keeps the pair a bijection, so ``unescape_cell(escape_cell(x)) == x`` for every string.
"""

from __future__ import annotations

RISKY_FIRST_CHARACTERS = frozenset("=+-@\t\r'")


def escape_cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text and text[0] in RISKY_FIRST_CHARACTERS:
        return "'" + text
    return text


def unescape_cell(text: str) -> str:
    return text[1:] if text.startswith("'") else text
