"""The demo spreadsheets: reproducible from their script, messy as promised, mostly sendable."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
from pathlib import Path
from types import ModuleType

import openpyxl
import phonenumbers
import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"


@pytest.fixture(scope="module")
def make_samples() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def xlsx_values(path: Path) -> list[tuple[object, ...]]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return list(workbook["Customers"].iter_rows(values_only=True))
    finally:
        workbook.close()


def csv_rows() -> list[dict[str, str]]:
    with (SAMPLES / "customers.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def e164(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_committed_files_match_the_generator(make_samples: ModuleType, tmp_path: Path) -> None:
    make_samples.write_csv(tmp_path / "customers.csv")
    make_samples.write_xlsx(tmp_path / "customers.xlsx")
    make_samples.write_optouts(tmp_path / "optouts.csv")
    for name in ("customers.csv", "optouts.csv"):
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name
    assert xlsx_values(tmp_path / "customers.xlsx") == xlsx_values(SAMPLES / "customers.xlsx")


def test_sheets_have_40_to_60_rows_and_a_column_with_a_space() -> None:
    rows = csv_rows()
    assert 40 <= len(rows) <= 60
    assert "Order Id" in rows[0]
    assert len(xlsx_values(SAMPLES / "customers.xlsx")) == len(rows) + 1


def test_workbook_stores_phones_as_numbers_and_dates_as_dates() -> None:
    header, *rows = xlsx_values(SAMPLES / "customers.xlsx")
    phone, signed_up = header.index("Phone"), header.index("signed_up")
    assert sum(isinstance(row[phone], int) for row in rows) >= 10
    assert any(row[phone] is None for row in rows)
    assert all(isinstance(row[signed_up], dt.datetime) for row in rows)


def test_the_promised_mess_is_there_and_most_rows_are_sendable() -> None:
    rows = csv_rows()
    phones = [e164(row["Phone"]) for row in rows]
    valid = [phone for phone in phones if phone]
    assert any(not row["Phone"] for row in rows), "an empty phone cell"
    assert any(not row["first_name"] for row in rows), "an empty name"
    assert any(not row["Phone"].startswith("+") and e164(row["Phone"]) for row in rows)
    assert len(valid) - len(set(valid)) >= 1, "a duplicate recipient"
    assert len(rows) - len(valid) >= 3, "invalid and missing numbers"
    assert any(
        ch not in "abcdefghijklmnopqrstuvwxyz"
        for row in rows
        for ch in row["last_name"].lower()
        if ch.isalpha()
    )
    assert len(set(valid)) / len(rows) >= 0.8


def test_some_opted_out_phones_are_customers_in_another_spelling() -> None:
    customers = {e164(row["Phone"]): row["Phone"] for row in csv_rows()}
    lines = (SAMPLES / "optouts.csv").read_text(encoding="utf-8").splitlines()[1:]
    matched = [line for line in lines if e164(line) in customers]
    assert len(matched) >= 2
    assert all(customers[e164(line)] != line for line in matched)
