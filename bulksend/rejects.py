"""The rejects file: every row bulksend will not send, with its reason and original cells.

Written to a temporary file beside the target and renamed over it at the end, so a reader never
sees half a file and a failed validation leaves the previous one in place. UTF-8 with BOM (Excel
then reads accents right) and every cell escaped by ``csvsafe`` against formula injection.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from bulksend.csvsafe import escape_cell
from bulksend.errors import InputFileError
from bulksend.prepare import CheckedRow

REJECTS_HEADER = ("row", "phone", "disposition", "reason")


class RejectsWriter:
    """``with RejectsWriter(path, columns) as rejects: rejects.write(checked_row)``."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = list(columns)
        self.count = 0
        self._file: IO[str] | None = None
        self._temp_path: Path | None = None

    def __enter__(self) -> RejectsWriter:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
            self._temp_path = Path(name)
            self._file = os.fdopen(handle, "w", encoding="utf-8-sig", newline="")
        except OSError as error:
            raise self._error(error) from error
        self._writer = csv.writer(self._file)
        self._writer.writerow([escape_cell(c) for c in (*REJECTS_HEADER, *self.columns)])
        return self

    def write(self, checked: CheckedRow) -> None:
        row = checked.prepared
        cells = [row.row_number, row.phone, row.disposition.value, row.reason]
        cells += [checked.values.get(column, "") for column in self.columns]
        try:
            self._writer.writerow([escape_cell(cell) for cell in cells])
        except OSError as error:
            raise self._error(error) from error
        self.count += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._file is not None and self._temp_path is not None
        try:
            if exc_type is None:
                self._file.flush()
                os.fsync(self._file.fileno())
            self._file.close()
            if exc_type is None:
                os.replace(self._temp_path, self.path)
        except OSError as error:
            raise self._error(error) from error
        finally:
            self._temp_path.unlink(missing_ok=True)

    def _error(self, error: OSError) -> InputFileError:
        return InputFileError(
            f"cannot write the rejects file: {error.strerror or error}",
            path=self.path,
            hint="Check that its folder is writable and that the file is not open elsewhere.",
        )
