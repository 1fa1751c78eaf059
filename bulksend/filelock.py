"""An exclusive, non-blocking lock on a sidecar file, so two runs never share one results file.

``flock`` locks belong to the open file description: the kernel drops them when the holder exits,
however it exits (SIGKILL included), so a stale lock cannot outlive its process. The lock file is
kept afterwards: deleting it could pull it from under a run that has just locked it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bulksend.errors import InputFileError, ResultsLockedError


@contextmanager
def hold_exclusive(lock_path: Path, *, guarded: Path) -> Iterator[None]:
    """Hold ``lock_path`` for the block; ResultsLockedError at once if another holder has it.

    ``guarded`` is the file the lock protects, named in the message.
    """
    descriptor = _open_lock_file(lock_path, guarded=guarded)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _locked_error(descriptor, guarded) from None
        _record_holder(descriptor)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _open_lock_file(lock_path: Path, *, guarded: Path) -> int:
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise InputFileError(
            f"cannot create the lock file {lock_path.name} beside it: {exc.strerror}",
            path=guarded,
            hint="Choose a results path in a folder you can write to.",
        ) from exc


def _record_holder(descriptor: int) -> None:
    """Leave our process id in the lock file, for the message a second run shows."""
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass  # only a courtesy for the message; the lock itself is held


def _locked_error(descriptor: int, guarded: Path) -> ResultsLockedError:
    try:
        holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        holder = ""
    who = f"another bulksend run (process {holder})" if holder.isdigit() else "another bulksend run"
    return ResultsLockedError(
        f"{who} is using {guarded}",
        hint="Wait for it to finish or stop it, then run again.",
    )
