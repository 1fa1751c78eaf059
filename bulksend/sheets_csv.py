"""CSV/TSV/TXT records: encoding detected before streaming, delimiter sniffed, stdlib csv parser.

Encodings, in the order tried: a byte-order mark (UTF-8, UTF-16 LE/BE as in Excel's "Unicode
Text", UTF-32), UTF-16 without a mark (NUL bytes in every other position), then UTF-8 if the whole
file decodes as UTF-8, else Windows-1252. The whole-file check is one incremental pass in 1 MiB
chunks, cheap next to parsing, and it means a bad byte is reported before the first row streams
instead of after half a campaign was validated.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from bulksend.errors import InputFileError
from bulksend.sheets import SAVE_AS_ADVICE, Record, column_label

DELIMITERS = (",", ";", "\t", "|")
SNIFF_CHARS = 64 * 1024
SNIFF_RECORDS = 50
SCAN_CHUNK_BYTES = 1024 * 1024
PROGRESS_EVERY_ROWS = 1024
# The same reader serves sources, suppression lists and init, and only a source has an
# ``encoding:`` key: the advice says so rather than send a list's owner looking for it.
ENCODING_ADVICE = (
    "Save it as 'CSV UTF-8' from your spreadsheet program. For a campaign's source, "
    "encoding: in the campaign file can also name it (e.g. utf-8, cp1252, utf-16)."
)

# UTF-32 marks first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"


class CsvSource:
    """Records of one delimited text file; ``records()`` re-reads it from the start each call."""

    def __init__(self, path: Path, *, encoding: str | None = None) -> None:
        self.path = path
        self.sheet_name: str | None = None
        self.progress_unit = "B"
        self.progress_done = 0
        self._open_files: set[IO[bytes]] = set()
        try:
            self.progress_total: int | None = path.stat().st_size
            head = _read_head(path)
            self.encoding = _choose_encoding(path, head, encoding)
            self.delimiter = sniff_delimiter(_read_sample(path, self.encoding), path.suffix)
        except OSError as error:
            raise _os_error(path, error) from error
        except UnicodeError as error:
            # Not a UnicodeDecodeError: a forced utf-16/utf-32 on a file without its mark.
            raise InputFileError(
                f"cannot be read as {self.encoding} text ({error})",
                path=path,
                hint=ENCODING_ADVICE,
            ) from error
        if not _decodes(path, self.encoding):
            raise _undecodable(path, self.encoding, self.delimiter, forced=encoding is not None)

    def records(self) -> Iterator[Record]:
        row_number = 0
        try:
            with self._open_binary() as binary:
                text = io.TextIOWrapper(binary, encoding=self.encoding, newline="")
                reader = csv.reader(text, delimiter=self.delimiter)
                quotes = QuoteWatch(self.path, self.delimiter)
                for row_number, cells in enumerate(reader, start=1):
                    if row_number % PROGRESS_EVERY_ROWS == 0:
                        self.progress_done = binary.tell()
                    # One record per physical line is the rule: only a record that spanned
                    # lines can hide an unclosed quote, so only those pay for the check.
                    if reader.line_num - row_number != quotes.extra_lines:
                        quotes.check(row_number, cells, reader.line_num)
                    elif quotes.width is None:
                        quotes.see_header(cells)
                    yield row_number, _trimmed(cells, first=row_number == 1)
                quotes.check_end(row_number, self._last_line)
                self.progress_done = self.progress_total or 0
        except csv.Error as error:
            raise _parse_error(self.path, row_number + 1, error) from error
        except UnicodeDecodeError as error:
            raise InputFileError(
                f"bytes that are not {self.encoding} text near this row ({error.reason})",
                path=self.path,
                row=row_number + 1,
                hint=ENCODING_ADVICE,
            ) from error
        except OSError as error:
            raise _os_error(self.path, error) from error

    def _last_line(self) -> str:
        """The file's last physical line; read again only when the last record is in doubt."""
        last = ""
        with (
            self._open_binary() as binary,
            io.TextIOWrapper(binary, encoding=self.encoding, newline="") as text,
        ):
            for line in text:
                last = line
        return last

    def close(self) -> None:
        for binary in list(self._open_files):
            binary.close()
        self._open_files.clear()

    def _open_binary(self) -> _TrackedFile:
        return _TrackedFile(self.path, self._open_files)

    def __repr__(self) -> str:
        return (
            f"CsvSource({str(self.path)!r}, encoding={self.encoding!r}, "
            f"delimiter={self.delimiter!r})"
        )


class QuoteWatch:
    """Finds a quote (") opened and never closed, which folds the lines after it into one cell.

    The csv module (non-strict, as Excel writes files it can read) reports nothing: the rows
    after the quote become one cell, until the next quote or the end of the file, and the row
    then looks like one with a missing phone. Legitimate multi-line cells (addresses, notes)
    exist, so only strong evidence counts: a cell holding a line break that (a) holds a whole
    row of the sheet (as many delimiters as the header) in a record of the wrong width, or (b)
    runs to the end of the file without its closing quote. A quote closed by chance rows later
    in a record of the right width goes unseen: no evidence tells it from a long note.
    """

    def __init__(self, path: Path, delimiter: str) -> None:
        self.path = path
        self.delimiter = delimiter
        self.width: int | None = None  # cells in the header, the first non-blank record
        self.extra_lines = 0  # physical lines read beyond one per record, so far
        # (row, position, first line, last line) of a last cell with line breaks, which only
        # the end of the file can judge.
        self.doubt: tuple[int, int, int, int] | None = None

    def see_header(self, cells: list[str]) -> None:
        if any(cell.strip() for cell in cells):
            self.width = len(cells)

    def check(self, row_number: int, cells: list[str], line_num: int) -> None:
        """A record that ended on physical line ``line_num`` after spanning several: raise if a
        quote in it was plainly never closed; remember it if only the end of the file can tell."""
        first_line = row_number + self.extra_lines
        self.extra_lines = line_num - row_number
        self.doubt = None
        if self.width is None:
            self.see_header(cells)
            return
        for position, cell in enumerate(cells):
            if "\n" not in cell and "\r" not in cell:
                continue
            if len(cells) != self.width and self._holds_a_row(cell):
                raise self._error(row_number, position, first_line, line_num)
            if position == len(cells) - 1:
                self.doubt = (row_number, position, first_line, line_num)

    def check_end(self, last_row: int, last_line: Callable[[], str]) -> None:
        """At the end of the file: a last cell with line breaks, when the file does not end in
        its closing quote, was still open when the file ended."""
        if self.doubt is None or self.doubt[0] != last_row:
            return
        if not last_line().rstrip("\r\n").endswith('"'):
            raise self._error(*self.doubt)

    def _holds_a_row(self, cell: str) -> bool:
        """Whether a line inside ``cell`` has as many delimiters as a whole row of the sheet."""
        assert self.width is not None
        wanted = self.width - 1
        lines = cell.splitlines()
        return wanted > 0 and any(line.count(self.delimiter) >= wanted for line in lines)

    def _error(
        self, row_number: int, position: int, first_line: int, last_line: int
    ) -> InputFileError:
        line = f" (line {first_line} in a text editor)" if first_line != row_number else ""
        return InputFileError(
            f'a quote (") opened in {column_label(position)} of this row{line} is not closed '
            f"where the row ends, so lines {first_line} to {last_line} of the file were read "
            "as one cell",
            path=self.path,
            row=row_number,
            hint="Close the quote or remove the stray one (a quote inside a cell is written "
            'twice: ""), then check the rows after it.',
        )


class _TrackedFile:
    """Opens the file in binary mode and keeps it in ``registry`` until closed, so that
    ``CsvSource.close()`` can close a stream whose generator was abandoned mid-file."""

    def __init__(self, path: Path, registry: set[IO[bytes]]) -> None:
        self._path = path
        self._registry = registry

    def __enter__(self) -> IO[bytes]:
        self._file = open(self._path, "rb")  # noqa: SIM115 - closed in __exit__ or by close()
        self._registry.add(self._file)
        return self._file

    def __exit__(self, *exc_info: object) -> None:
        self._registry.discard(self._file)
        self._file.close()


def _trimmed(cells: list[str], *, first: bool) -> list[str]:
    stripped = [cell.strip() for cell in cells]
    if first and stripped:
        # A BOM left by a forced "utf-8" on a UTF-8-with-BOM file must not stick to a name.
        stripped[0] = stripped[0].lstrip("\ufeff").strip()
    return stripped


def _read_head(path: Path) -> bytes:
    with open(path, "rb") as binary:
        return binary.read(4096)


def _read_sample(path: Path, encoding: str) -> str:
    with open(path, encoding=encoding, errors="replace", newline="") as text:
        sample = text.read(SNIFF_CHARS)
    if len(sample) == SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]  # no half record at the end
    return sample


def _choose_encoding(path: Path, head: bytes, forced: str | None) -> str:
    if forced is not None:
        try:
            return codecs.lookup(forced).name
        except LookupError as error:
            raise InputFileError(
                f"unknown encoding {forced!r}", path=path, hint=ENCODING_ADVICE
            ) from error
    _reject_binary(path, head)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    utf16 = _utf16_without_bom(head)
    if utf16:
        return utf16
    return "utf-8" if _decodes(path, "utf-8") else "cp1252"


def _reject_binary(path: Path, head: bytes) -> None:
    if head.startswith(_ZIP_MAGIC):
        kind = "an Excel .xlsx workbook (or another zip file) with a text-file name"
    elif head.startswith(_OLE_MAGIC):
        kind = "an old Excel .xls workbook with a text-file name"
    else:
        return
    raise InputFileError(f"is {kind}", path=path, hint=SAVE_AS_ADVICE)


def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le'/'-be' when NULs fill most odd/even bytes: ASCII text written as UTF-16."""
    pairs = len(head) // 2
    if pairs < 2 or b"\x00" not in head:
        return None
    if head[1::2].count(0) > 0.4 * pairs and head[0::2].count(0) == 0:
        return "utf-16-le"
    if head[0::2].count(0) > 0.4 * pairs and head[1::2].count(0) == 0:
        return "utf-16-be"
    return None


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes under ``encoding``, read in chunks (flat memory)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    with open(path, "rb") as binary:
        try:
            while chunk := binary.read(SCAN_CHUNK_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeError:
            return False
    return True


def _undecodable(path: Path, encoding: str, delimiter: str, *, forced: bool) -> InputFileError:
    row = _first_bad_row(path, encoding, delimiter)
    if forced:
        message = f"holds bytes that are not {encoding} text"
    else:
        message = "is neither UTF-8 nor Windows-1252 text (its encoding could not be detected)"
    return InputFileError(message, path=path, row=row, hint=ENCODING_ADVICE)


def _first_bad_row(path: Path, encoding: str, delimiter: str) -> int | None:
    """The row holding the first undecodable byte: decoding them to lone surrogates finds it."""
    with open(path, encoding=encoding, errors="surrogateescape", newline="") as text:
        try:
            for row_number, cells in enumerate(csv.reader(text, delimiter=delimiter), start=1):
                if any(_has_escaped_byte(cell) for cell in cells):
                    return row_number
        except csv.Error:
            return None
    return None


def _has_escaped_byte(cell: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in cell)


def sniff_delimiter(sample: str, suffix: str) -> str:
    """The delimiter that splits the first records into the same number (>1) of cells.

    More consistent records win, then more columns; ties go to tab for .tsv, else comma.
    Single-column files (a phone list) get the suffix's default.
    """
    preferred = "\t" if suffix.lower() == ".tsv" else ","
    order = (preferred, *(d for d in DELIMITERS if d != preferred))
    best, best_score = preferred, (0, 0)
    for delimiter in order:
        score = _delimiter_score(sample, delimiter)
        if score[1] > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def _delimiter_score(sample: str, delimiter: str) -> tuple[int, int]:
    """(records as wide as the first non-blank one, that width) over the sample's first records."""
    widths: list[int] = []
    try:
        for cells in csv.reader(io.StringIO(sample), delimiter=delimiter):
            if any(cell.strip() for cell in cells):
                widths.append(len(cells))
            if len(widths) >= SNIFF_RECORDS:
                break
    except csv.Error:
        return 0, 0
    if not widths:
        return 0, 0
    return sum(1 for width in widths if width == widths[0]), widths[0]


def _parse_error(path: Path, row: int, error: csv.Error) -> InputFileError:
    if "field larger than field limit" in str(error):
        return InputFileError(
            'a cell is longer than 131,072 characters: probably a quote (") opened in this '
            "row is never closed",
            path=path,
            row=row,
            hint="Check the quotes in this row; a quote inside a cell must be written twice.",
        )
    return InputFileError(f"cannot be read as CSV ({error})", path=path, row=row)


def _os_error(path: Path, error: OSError) -> InputFileError:
    return InputFileError(
        f"cannot be read ({error.strerror or error})",
        path=path,
        hint="Check that the file exists and that you may read it.",
    )
