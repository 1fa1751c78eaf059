"""README and docs/ describe the tool that exists: commands, options, links, campaign keys."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from bulksend.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"```(?:sh|bash|console|shell)?\n(.*?)```", re.DOTALL)
INLINE = re.compile(r"`(bulksend [^`]+)`")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def command_lines(text: str) -> list[str]:
    """`bulksend ...` invocations from shell blocks and inline code, prompts and comments cut."""
    lines = []
    for block in FENCE.findall(text):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ").split(" #", 1)[0].strip()
            if line.startswith("bulksend "):
                lines.append(line)
    lines += [match for match in INLINE.findall(text) if "..." not in match]
    return lines


def options_of(command: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for parameter in command.params:
        names.update(getattr(parameter, "opts", []))
        names.update(getattr(parameter, "secondary_opts", []))
    return names


def check_invocation(line: str) -> list[str]:
    """Problems with one documented invocation: an unknown command or option."""
    words = shlex.split(line.replace("<", "").replace(">", ""))[1:]
    group_options = options_of(cli)
    while words and words[0] in group_options:
        words.pop(0)
    if not words or words[0].startswith("-"):
        return []
    command = cli.commands.get(words[0]) if isinstance(cli, click.Group) else None
    if command is None:
        return [f"unknown command {words[0]!r}"]
    known = options_of(command)
    used = {word.split("=", 1)[0] for word in words[1:] if word.startswith("-")}
    return [f"{words[0]} has no option {option}" for option in sorted(used - known)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_documented_command_and_option_exists(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    problems = [f"{line}: {p}" for line in command_lines(text) for p in check_invocation(line)]
    assert problems == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_points_at_a_file(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    targets = [t for t in LINK.findall(text) if "://" not in t and not t.startswith("mailto:")]
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert missing == []


def test_the_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = FENCE.search(text)
    assert first_block is not None
    assert [line.split()[:2] for line in first_block.group(1).splitlines()] == [
        ["make", "demo"],
        ["make", "test"],
    ]


def test_the_checker_catches_unknown_commands_and_options() -> None:
    assert check_invocation("bulksend sned x.yaml") == ["unknown command 'sned'"]
    assert check_invocation("bulksend send x.yaml --yse") == ["send has no option --yse"]
    assert check_invocation("bulksend send x.yaml --yes --limit 5") == []


YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_campaign_examples_use_only_known_keys(page: Path) -> None:
    import yaml

    from bulksend.campaign import KEYS

    unknown = []
    for block in YAML_BLOCK.findall(page.read_text(encoding="utf-8")):
        data = yaml.safe_load(block)
        if isinstance(data, dict) and "channel" in data:
            unknown += [key for key in data if key not in KEYS]
    assert unknown == []
