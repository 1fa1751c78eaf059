"""One lookup of a status run: what the worker threads (``workers.WorkerPool``) are given.

Rounds reuse one pool: ``wait_idle`` says when a round's lookups are all done.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Lookup:
    """One row to ask about. ``fill_times``: its list answer is recorded already; this lookup
    only adds the times the list does not give."""

    ordinal: int  # the row's place among the file's records
    message_id: str
    identity: str
    file_status: str  # what the results file said when the run started
    fill_times: bool = False
