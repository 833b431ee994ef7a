"""The ``sihub`` command line: every subcommand of record is there and answers --help."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hub.cli import COMMANDS, main

#: DESIGN §7 plus the adapters' commands.
OF_RECORD = {
    "serve",
    "demo",
    "topology",
    "dlq",
    "report",
    "contracts",
    "audit",
    "calendar",
    "explain-route",
    "adapter",
    "tax",
}


def test_every_command_of_record_is_registered() -> None:
    assert set(COMMANDS) == OF_RECORD


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_answers_help(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
