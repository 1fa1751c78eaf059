"""The command itself: version, help on every subcommand, the error handler."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from bulksend import __version__
from bulksend.cli import main


def test_version_is_printed() -> None:
    result = CliRunner().invoke(main, ["--version"], catch_exceptions=False)
    assert result.exit_code == 0
    assert __version__ in result.output


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_subcommand_has_help(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert len(main.commands[name].help or "") > 20, f"{name} needs a real help text"


def test_python_dash_m_runs_the_cli() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bulksend", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0
    assert __version__ in completed.stdout
