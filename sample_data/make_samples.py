"""Write the demo spreadsheets: customers.csv, customers.xlsx and optouts.csv.

Run from anywhere: ``.venv/bin/python sample_data/make_samples.py``. The content is fixed (no
randomness), so the committed files only change in substance when this script does.

The mess is deliberate, the kind real exports have: US numbers in local format (the campaigns set
``default_region: US``), international numbers with + and spaces, phones stored as numbers in the
workbook, one recipient listed twice in two spellings, an invalid number, a possible-but-not-valid
number, an empty phone cell, an empty first name, accented names and a column whose name has a
space ("Order Id").
"""

from __future__ import annotations

import csv
import datetime as dt
import unicodedata
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
COLUMNS = ("first_name", "last_name", "Phone", "email", "Order Id", "city", "signed_up")

# (first, last, phone, city); the phone is written as text in the CSV and, when it is all digits,
# as a number in the workbook.
PEOPLE = (
    ("Dana", "Whitaker", "(415) 555-2671", "San Francisco"),
    ("José", "Núñez", "415-555-0132", "Oakland"),
    ("Zoë", "Adams", "2125550198", "New York"),
    ("Björn", "Lindqvist", "+46 70 123 45 67", "Stockholm"),
    ("François", "Lefèvre", "+33 6 12 34 56 78", "Lyon"),
    ("Łukasz", "Wróbel", "+48 512 345 678", "Kraków"),
    ("Priya", "Raman", "+91 98765 43210", "Chennai"),
    ("Amélie", "Dubois", "6175550123", "Boston"),
    ("Marcus", "Green", "(646) 555-3890", "Brooklyn"),
    ("Sofía", "García", "+34 612 34 56 78", "Madrid"),
    ("Chen", "Wei", "3125550147", "Chicago"),
    ("Hannah", "Müller", "+49 1512 3456789", "Berlin"),
    ("Olivia", "Brown", "+1 202 555 0143", "Washington"),
    ("Liam", "O'Connor", "+1 (206) 555-0100", "Seattle"),
    ("Giulia", "Rossi", "+39 312 345 6789", "Milano"),
    ("Noah", "Smith", "5125550175", "Austin"),
    ("Emma", "Johnson", "305-555-0110", "Miami"),
    ("Mateo", "Hernández", "(713) 555-0165", "Houston"),
    ("Ava", "Williams", "4045550182", "Atlanta"),
    ("Ethan", "Davis", "503 555 0133", "Portland"),
    ("Mia", "Martínez", "+1 480 555 0191", "Phoenix"),
    ("Lucas", "Wilson", "6195550104", "San Diego"),
    ("Isabella", "Moore", "(215) 555-0128", "Philadelphia"),
    ("Mason", "Taylor", "7205550156", "Denver"),
    ("Charlotte", "Anderson", "612-555-0139", "Minneapolis"),
    ("Elijah", "Thomas", "8015550161", "Salt Lake City"),
    ("Amelia", "Jackson", "(702) 555-0177", "Las Vegas"),
    ("James", "White", "9195550188", "Raleigh"),
    ("Harper", "Harris", "+1 615 555 0122", "Nashville"),
    ("Benjamin", "Martin", "2145550194", "Dallas"),
    ("Evelyn", "Thompson", "813-555-0107", "Tampa"),
    ("Henry", "Clark", "4125550118", "Pittsburgh"),
    ("Ingrid", "Sørensen", "+45 20 12 34 56", "København"),
    ("Sebastián", "López", "3105550149", "Los Angeles"),
    ("Ji-woo", "Park", "(408) 555-0171", "San Jose"),
    ("Aoife", "Murphy", "+353 85 123 4567", "Dublin"),
    ("Kwame", "Mensah", "5035550196", "Portland"),
    ("Noémie", "Girard", "+33 7 81 23 45 67", "Paris"),
    ("Oscar", "Lewis", "7025550113", "Henderson"),
    ("Ruth", "Walker", "503-555-0186", "Salem"),
    ("Samuel", "Young", "(919) 555-0124", "Durham"),
    ("Tomás", "Ferreira", "+351 912 345 678", "Lisboa"),
    # The mess.
    ("dana", "whitaker", "+1 415 555 2671", "San Francisco"),  # Dana again, other spelling
    ("Greta", "Novak", "12345", "Reno"),  # too short to be a phone anywhere
    ("Victor", "Hale", "555-1234", "Fresno"),  # possible, but no such US number
    ("Yusuf", "Demir", "", "Sacramento"),  # empty phone cell
    ("", "Kim", "5105550142", "Berkeley"),  # empty first name
    ("Ruby", "Stone", "9165550115", "Davis"),
)
OPTOUTS = ("+1 646 555 3890", "+1 (305) 555-0110", "+44 20 7946 0958")


def rows() -> list[dict[str, object]]:
    """The customer rows, with order ids and sign-up dates filled in deterministically."""
    result = []
    for index, (first, last, phone, city) in enumerate(PEOPLE):
        email = ascii_word(f"{first or 'customer'}.{last}")
        result.append(
            {
                "first_name": first,
                "last_name": last,
                "Phone": phone,
                "email": f"{email}@example.com",
                "Order Id": f"A-{7700 + index * 7}",
                "city": city,
                "signed_up": dt.date(2023, 1, 1) + dt.timedelta(days=index * 11),
            }
        )
    return result


def ascii_word(text: str) -> str:
    text = text.replace("Ł", "L").replace("ł", "l")  # NFKD does not split the Polish L
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum() or c in ".-")


def write_csv(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows():
            writer.writerow({**row, "signed_up": row["signed_up"].isoformat()})


def excel_phone(text: str) -> object:
    """Digits-only phones go in as numbers, the way a pasted column often ends up."""
    return int(text) if text.isdigit() and len(text) >= 10 else text


def write_xlsx(path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Customers"
    sheet.append(COLUMNS)
    for row in rows():
        values = {**row, "Phone": excel_phone(str(row["Phone"])) or None}
        sheet.append([values[column] or None for column in COLUMNS])
    for cell in sheet["G"][1:]:
        cell.number_format = "yyyy-mm-dd"
    notes = workbook.create_sheet("Notes")
    notes.append(["Exported from the shop's CRM; phones as typed by customers."])
    workbook.save(path)


def write_optouts(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("phone\n")
        for phone in OPTOUTS:
            handle.write(phone + "\n")


def main() -> None:
    write_csv(HERE / "customers.csv")
    write_xlsx(HERE / "customers.xlsx")
    write_optouts(HERE / "optouts.csv")


if __name__ == "__main__":
    main()
