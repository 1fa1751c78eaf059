"""One compiled value (a placeholder, the SMS text, a URL) and how it renders for one row: the
text, or the ``RowProblem`` that makes only that row invalid."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from jinja2.sandbox import SecurityError

from bulksend.errors import ConfigError

ROW_MAPPING_NAME = "row"  # {{ row["Order Id"] }} reaches columns whose names are not identifiers
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_JINJA_RESERVED = frozenset(
    f"and or not in is if else true false none True False None {ROW_MAPPING_NAME} loop self".split()
)
# Errors a filter or expression can raise on one row's values (int("abc"), a missing dict key...).
_ROW_RENDER_ERRORS = (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError)
# A template meeting an undefined name on this many rows, and never rendering, cannot work.
UNDEFINED_ROWS_LIMIT = 20


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why a row cannot be sent: ``category`` is stable for summaries, ``message`` names the row."""

    category: str
    message: str


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
        example = f'{{{{ {jinja_name(column)} | default("{self.fallback_example}", true) }}}}'
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


def jinja_name(column: str) -> str:
    """How a template names ``column``: bare when it is a plain name jinja2 does not reserve,
    else through ``row`` (single-quoted when it can, so it sits in a double-quoted YAML text)."""
    if _IDENTIFIER.fullmatch(column) and column not in _JINJA_RESERVED:
        return column
    if "'" not in column and "\\" not in column:
        return f"{ROW_MAPPING_NAME}['{column}']"
    return f"{ROW_MAPPING_NAME}[{json.dumps(column, ensure_ascii=False)}]"
