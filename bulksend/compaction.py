"""Each identity's last line, given back in row order, sorted on disk so memory stays flat.

Compacting a results file of a million lines must not hold a million records. ``LatestLines``
puts every line into a temporary SQLite file beside the results (the standard library's
``sqlite3``: an on-disk table keyed by identity, a later line replacing an earlier one) and
reads them back ordered by row, SQLite spilling its sort to disk past a small cache.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

CACHE_KIB = 8192  # SQLite's page cache; the sort spills to temporary files beyond it


class LatestLines:
    """Use as a context manager: the temporary file is removed on exit, whatever happens."""

    def __init__(self, folder: Path, *, prefix: str = ".bulksend-compact.") -> None:
        descriptor, name = tempfile.mkstemp(prefix=prefix, suffix=".sqlite", dir=folder)
        os.close(descriptor)
        self._path = Path(name)
        self._db = sqlite3.connect(name, isolation_level=None)
        # A scratch file: it is thrown away after a crash, so it needs no journal and no fsync.
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "temp_store = FILE"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self._db.execute(
            "CREATE TABLE latest (identity TEXT PRIMARY KEY, row INTEGER NOT NULL, "
            "seq INTEGER NOT NULL, line TEXT NOT NULL)"
        )
        self.lines = 0

    def __enter__(self) -> LatestLines:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._db.close()
        self._path.unlink(missing_ok=True)

    def add(self, entries: Iterable[tuple[str, int, str]]) -> None:
        """(identity, row, line) in file order; a later line of an identity replaces its earlier."""

        def numbered() -> Iterator[tuple[str, int, int, str]]:
            for identity, row, line in entries:
                self.lines += 1
                yield identity, row, self.lines, line

        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT INTO latest VALUES (?, ?, ?, ?) ON CONFLICT (identity) DO UPDATE SET "
            "row = excluded.row, seq = excluded.seq, line = excluded.line",
            numbered(),
        )
        self._db.execute("COMMIT")

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM latest").fetchone()[0])

    def in_row_order(self) -> Iterator[str]:
        """Every identity's last line, by row (and file order within a row)."""
        for (line,) in self._db.execute("SELECT line FROM latest ORDER BY row, seq"):
            yield line
