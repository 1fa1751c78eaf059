"""The files a campaign names: the spreadsheets it reads (with their sheet and encoding settings)
and the results file it writes, which must never be one of the files it reads."""

from __future__ import annotations

import codecs
from pathlib import Path

from bulksend.campaign_model import rejects_path_of
from bulksend.errors import ConfigError
from bulksend.yamlpos import Fields

SHEET_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")


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


def read_source(fields: Fields) -> Path:
    path = _sheet_path(fields, "source", required=True)
    assert path is not None
    return path


def read_suppression(fields: Fields) -> Path | None:
    return _sheet_path(fields, "suppression", required=False)


def read_sheet(fields: Fields, source: Path) -> str | None:
    value = fields.text("sheet")
    if value is not None and source.suffix.lower() not in EXCEL_SUFFIXES:
        raise fields.error(
            "sheet",
            f"`sheet` applies only to Excel files, and {source.name} is not one",
            hint="Remove the `sheet:` line.",
        )
    return value


def read_encoding(fields: Fields, source: Path) -> str | None:
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


def read_results_path(fields: Fields, name: str) -> Path:
    path = fields.path("results") or fields.doc.path.absolute().parent / "results" / f"{name}.csv"
    if path.suffix.lower() != ".csv":
        raise fields.error(
            "results", "`results` must be a .csv file", hint=f"For example: results/{name}.csv"
        )
    return path


def refuse_results_over_inputs(
    fields: Fields, results_path: Path, *, source: Path, suppression: Path | None
) -> None:
    """The results and rejects files must not be the source or the suppression list: validate
    and send write them, and would destroy the very file they read."""
    outputs = {"results": results_path, "rejects": rejects_path_of(results_path)}
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


def _same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file: after symlinks and case-folding file systems too."""
    if first.resolve() == second.resolve():
        return True
    try:
        return first.exists() and first.samefile(second)
    except OSError:
        return False
