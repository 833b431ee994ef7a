"""The ``sihub`` command line (DESIGN §7).

Subcommands live in their own modules and are imported only when used, so that
``sihub contracts export`` does not start by importing the HTTP server.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import click

#: name → "module:attribute" of each subcommand.
COMMANDS: dict[str, str] = {
    "serve": "hub.serve_cli:serve",
    "demo": "hub.demo.cli:demo",
    "topology": "hub.topology_cli:topology_command",
    "dlq": "hub.dlq_cli:dlq",
    "report": "hub.report_cli:report",
    "contracts": "hub.contracts_cli:contracts",
    "audit": "hub.audit_cli:audit",
    "calendar": "hub.calendar_cli:calendar",
    "explain-route": "hub.explain_cli:explain_route",
    "adapter": "adapters.cli:adapter",
    "tax": "adapters.cli:tax",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-level",
    default=lambda: os.environ.get("SIHUB_LOG_LEVEL", "INFO"),
    show_default="INFO",
    help="Logging level (SIHUB_LOG_LEVEL).",
)
def main(log_level: str) -> None:
    """sihub — the county hub for social-insurance fee disputes (tax, hrss, medins, court, petition)."""
    logging.basicConfig(
        level=log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def run(args: list[str] | None = None) -> Any:
    """Entry point for ``python -m hub``."""
    return main.main(args=args, prog_name="sihub")
