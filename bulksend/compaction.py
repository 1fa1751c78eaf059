"""Each identity's last line, given back in row order, sorted on disk so memory stays flat.

Compacting a results file of a million lines must not hold a million records. ``LatestLines``
puts every line into a scratch SQLite file beside the results (an on-disk table keyed by
identity, a later line replacing an earlier one) and reads them back ordered by row, SQLite
spilling its sort to disk past a small cache.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator


class LatestLines:
    """Each identity's last line, kept in ``database`` (a ``scratch.scratch_database``)."""

    def __init__(self, database: sqlite3.Connection) -> None:
        self._db = database
        self._db.execute(
            "CREATE TABLE latest (identity TEXT PRIMARY KEY, row INTEGER NOT NULL, "
            "seq INTEGER NOT NULL, line TEXT NOT NULL)"
        )
        self.lines = 0

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
