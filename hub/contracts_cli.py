"""``sihub contracts``: export the JSON Schemas and AsyncAPI, check compatibility, try messages.

CI runs ``sihub contracts check --against contracts/snapshot``: it fails on any
change that would refuse a message the committed export accepted. After an
intended compatible change, refresh the snapshot with
``sihub contracts export contracts/snapshot`` and commit it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from contracts import Rejected, ValidationSettings, default_registry, parse
from contracts.compat import breaking_changes
from contracts.export import export as export_contracts
from contracts.values import DEFAULT_COUNTY_CODE

__all__ = ["contracts"]

F = TypeVar("F", bound=Callable[..., object])
_DIRECTORY = click.Path(file_okay=False, path_type=Path)


def _county_option(command: F) -> F:
    return click.option(
        "--county-code",
        envvar="SIHUB_COUNTY_CODE",
        default=DEFAULT_COUNTY_CODE,
        show_default=True,
        help="GB/T 2260 code the jurisdictions lie under (env SIHUB_COUNTY_CODE).",
    )(command)


def _settings(county_code: str, uscc_exceptions: tuple[str, ...] = ()) -> ValidationSettings:
    return ValidationSettings(county_code=county_code, uscc_exceptions=frozenset(uscc_exceptions))


@click.group(name="contracts")
def contracts() -> None:
    """Export, check and try the message contracts (JSON Schema 2020-12, AsyncAPI 3.0)."""


@contracts.command()
@click.argument("directory", type=_DIRECTORY)
@_county_option
def export(directory: Path, county_code: str) -> None:
    """Write every schema, asyncapi.json and index.json into DIRECTORY."""
    written = export_contracts(default_registry(), directory, _settings(county_code))
    for path in written:
        click.echo(str(path))
    click.echo(f"wrote {len(written)} files to {directory}")


@contracts.command()
@click.option(
    "--against",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="An earlier export, e.g. contracts/snapshot.",
)
@_county_option
def check(against: Path, county_code: str) -> None:
    """List the breaking changes of the current contracts against an earlier export."""
    try:
        changes = breaking_changes(against, default_registry(), _settings(county_code))
    except (OSError, ValueError, KeyError) as error:
        raise click.ClickException(f"cannot read the export in {against}: {error}") from error
    for change in changes:
        click.echo(str(change))
    if changes:
        click.echo(f"{len(changes)} breaking change(s) against {against}", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"no breaking changes against {against}")


@contracts.command(name="list")
def list_types() -> None:
    """Every message type and version, with its one-line description."""
    for cv in default_registry():
        click.echo(f"{cv.name:<32} v{cv.version}  {cv.description}")


@contracts.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@_county_option
@click.option(
    "--uscc-exception",
    "uscc_exceptions",
    multiple=True,
    help="A credit code the county accepts despite its check character (repeatable).",
)
def validate(files: tuple[Path, ...], county_code: str, uscc_exceptions: tuple[str, ...]) -> None:
    """Parse each FILE as the hub would: OK, or the reason code and detail."""
    settings = _settings(county_code, uscc_exceptions)
    refused = 0
    for path in files:
        try:
            envelope = parse(path.read_bytes(), settings=settings)
        except Rejected as rejected:
            refused += 1
            click.echo(f"REJECTED {path}: {rejected.reason.value}: {rejected.detail}")
        else:
            click.echo(f"OK       {path}: {envelope.type} v{envelope.schema_version}")
    if refused:
        raise click.exceptions.Exit(1)
