"""A throwaway SQLite file beside an output, for sorting or matching more lines than memory
should hold (the standard library's ``sqlite3``).

Tuned for scratch: no rollback journal and no fsync, since a crash only leaves a file nobody
reads again; a small page cache, past which SQLite works on disk. The file is removed when the
block ends, whatever happens.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bulksend.errors import BulksendError

CACHE_KIB = 8192


@contextmanager
def scratch_database(
    beside: Path,
    *,
    cannot_write: Callable[[OSError], BulksendError],
    cache_kib: int = CACHE_KIB,
) -> Iterator[sqlite3.Connection]:
    """A connection to a new ``.<beside's name>.<random>.sqlite`` in ``beside``'s folder, in
    autocommit mode (``BEGIN``/``COMMIT`` are the caller's). When the folder cannot take it,
    raises what ``cannot_write`` makes of the OSError (the caller knows what it was writing)."""
    try:
        descriptor, name = tempfile.mkstemp(
            prefix=f".{beside.name}.", suffix=".sqlite", dir=beside.parent
        )
    except OSError as exc:
        raise cannot_write(exc) from exc
    os.close(descriptor)
    path = Path(name)
    try:
        database = sqlite3.connect(name, isolation_level=None)
        try:
            for pragma in ("journal_mode = OFF", "synchronous = OFF", "temp_store = FILE"):
                database.execute(f"PRAGMA {pragma}")
            database.execute(f"PRAGMA cache_size = -{cache_kib}")
            yield database
        finally:
            database.close()
    finally:
        path.unlink(missing_ok=True)
