"""The results file lock: a second run, in another process, is refused with a clear message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bulksend.errors import ExitStatus, ResultsLockedError
from bulksend.results import ResultsFile

TRY_LOCK = """
import sys
from pathlib import Path
from bulksend.errors import ResultsLockedError
from bulksend.results import ResultsFile
try:
    with ResultsFile(Path(sys.argv[1])).lock():
        print("locked")
except ResultsLockedError as error:
    print("refused:", error)
"""

HOLD_LOCK = """
import sys, time
from pathlib import Path
from bulksend.results import ResultsFile
with ResultsFile(Path(sys.argv[1])).lock():
    print("holding", flush=True)
    time.sleep(60)
"""


def try_lock_in_child(path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", TRY_LOCK, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def results(tmp_path: Path) -> ResultsFile:
    return ResultsFile(tmp_path / "results" / "run.csv")


def test_another_process_is_refused_while_held_and_let_in_after(results: ResultsFile) -> None:
    with results.lock():
        answer = try_lock_in_child(results.path)
    assert answer.startswith(f"refused: another bulksend run (process {os.getpid()}) is using")
    assert str(results.path) in answer
    assert "Wait for it to finish or stop it" in answer
    assert try_lock_in_child(results.path) == "locked"


def test_second_lock_in_the_same_process_is_refused(results: ResultsFile) -> None:
    with results.lock(), pytest.raises(ResultsLockedError) as caught:
        with ResultsFile(results.path).lock():
            pass
    assert caught.value.exit_status is ExitStatus.CONFIG_ERROR


def test_lock_file_is_kept_beside_the_results(results: ResultsFile) -> None:
    with results.lock():
        pass
    assert results.lock_path == results.path.with_name("run.csv.lock")
    assert results.lock_path.exists()
    with results.lock():  # and it can be taken again
        pass


def test_a_killed_holder_releases_the_lock(results: ResultsFile) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(results.path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "holding"
        with pytest.raises(ResultsLockedError, match=f"process {child.pid}"):
            with results.lock():
                pass
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    with results.lock():
        pass
