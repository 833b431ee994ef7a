"""Command line of the adapters: ``sihub adapter run <code>`` and ``sihub tax push|status``.

Exit statuses of ``sihub tax push``: 0 every row sent (and, with ``--wait``,
reconciled); 1 nothing sent (unreadable file, no valid row, broker refused or
unreachable); 3 the valid rows were sent but some rows were refused (listed);
4 with ``--wait``: a receipt did not come back in time or does not reconcile.
``sihub tax status BATCH`` exits 0 when every part is reconciled, else 4.
"""

from __future__ import annotations

import csv
import logging
import signal
import sys
from datetime import date, datetime
from pathlib import Path
from types import FrameType

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from adapters.bootstrap import ADAPTERS, AdapterProcess, build_adapter
from adapters.dedup import StateDB
from adapters.errors import AdapterError
from adapters.settings import AdapterSettings, load_adapter_settings
from adapters.tax import ledger
from adapters.tax.adapter import PushResult, TaxAdapter
from adapters.tax.rows import RowProblem
from hub import gctune
from hub.bus.types import AccessRefused

CONFIG = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file with the SIHUB_* settings (the environment wins over it).",
)
#: Refused rows shown on the terminal; ``--problems FILE`` gets them all.
SHOWN_PROBLEMS = 20


def _console() -> Console:
    # Tables stay readable when the output goes to a file or a CI log (rich assumes 80 columns).
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def _settings(config: Path | None) -> AdapterSettings:
    try:
        return load_adapter_settings(config)
    except ValueError as error:
        raise click.ClickException(str(error)) from error


def _build(code: str, settings: AdapterSettings) -> AdapterProcess:
    try:
        return build_adapter(code, settings)
    except ValueError as error:
        raise click.ClickException(str(error)) from error


@click.group("adapter")
def adapter() -> None:
    """Run a department adapter (tax, hrss, medins, court, petition)."""


@adapter.command("run")
@click.argument("code", type=click.Choice(sorted(ADAPTERS)))
@CONFIG
def run_command(code: str, config: Path | None) -> None:
    """Bridge department CODE's system to the hub until SIGTERM or Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(config)
    process = _build(code, settings)

    def stop(signum: int, _frame: FrameType | None) -> None:
        click.echo(f"{signal.Signals(signum).name}: finishing the delivery in hand, then stopping", err=True)
        process.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    gctune.settle()
    listening = f", HTTP on {settings.adapter_http_host}:{settings.adapter_http_port}" if process.http else ""
    click.echo(f"{code} adapter: consuming {process.runtime.queue}, sink {settings.sink_spec().kind}{listening}")
    try:
        process.run()
    except AccessRefused as refused:
        raise click.ClickException(f"RabbitMQ refuses the {code} adapter: {refused}") from refused


@click.group("tax")
def tax() -> None:
    """The tax bureau's payment-detail batches."""


@tax.command("push")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch-id", help="Batch id (default tax-<yyyymmddHHMMSS>); parts are <id>-p001, …")
@click.option("--collected-on", type=click.DateTime(["%Y-%m-%d"]), help="Collection day (default today).")
@click.option("--wait", is_flag=True, help="Wait for the hub's receipts and show the reconciliation.")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds --wait waits.")
@click.option("--problems", type=click.Path(dir_okay=False, path_type=Path), help="Write every refused row here (CSV).")
@CONFIG
def push_command(
    file: Path, batch_id: str | None, collected_on: datetime | None, wait: bool, timeout: float,
    problems: Path | None, config: Path | None,
) -> None:
    """Send the payment-detail export FILE (CSV in UTF-8 or GBK, JSON Lines, XLSX) to the hub."""
    console = _console()
    settings = _settings(config).model_copy(update={"adapter_http_port": None, "adapter_outbox_dir": None})
    process = _build("tax", settings)
    bureau = process.adapter
    assert isinstance(bureau, TaxAdapter)
    gctune.settle()
    try:
        result = _push(console, bureau, file, batch_id, collected_on.date() if collected_on else None)
    except AdapterError as error:
        process.close()
        raise click.ClickException(str(error)) from error
    _show_problems(console, result.report.problems, problems)
    status = 3 if result.report.problems else 0
    if wait:
        thread = process.runtime.start()
        console.print(f"waiting up to {timeout:.0f}s for the hub's receipts …")
        parts = bureau.wait_for_receipts(result.batch_id, timeout)
        process.stop.set()
        thread.join(10)
        show_status(console, result.batch_id, parts)
        if not all(p.reconciled for p in parts):
            status = 4
    process.close()
    sys.exit(status)


def _push(console: Console, bureau: TaxAdapter, file: Path, batch_id: str | None,
          collected_on: date | None) -> PushResult:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("reading", total=None)

        def started(rows: int | None) -> None:  # parts go out while the file is read: rows, not parts
            progress.update(task, description="reading and sending rows", total=rows)

        result = bureau.push(
            file, batch_id=batch_id, collected_on=collected_on, on_start=started,
            progress=lambda n: progress.advance(task, n),
        )
        progress.update(task, total=result.report.rows, completed=result.report.rows)
    report = result.report
    encoding = f", {report.encoding}" if report.encoding else ""
    console.print(
        f"{file.name} ({report.format}{encoding}): {report.rows} rows, {report.accepted} sent, "
        f"{len(report.problems)} refused"
    )
    for part_id, records, size in result.parts:
        console.print(f"  {part_id}: {records} records, {size / 1024 / 1024:.2f} MiB")
    console.print(f"batch {result.batch_id}: confirmed by the broker")
    return result


def _show_problems(console: Console, problems: list[RowProblem], path: Path | None) -> None:
    if not problems:
        return
    table = Table("row", "column", "reason", title=f"{len(problems)} row(s) refused")
    for problem in problems[:SHOWN_PROBLEMS]:
        table.add_row(str(problem.row), problem.column, problem.reason)
    console.print(table)
    if len(problems) > SHOWN_PROBLEMS and path is None:
        console.print(f"… {len(problems) - SHOWN_PROBLEMS} more; --problems FILE lists them all")
    if path is not None:
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "column", "reason"])
            writer.writerows((p.row, p.column, p.reason) for p in problems)
        console.print(f"every refused row: {path}")


def show_status(console: Console, batch_id: str, parts: list[ledger.PartStatus]) -> None:
    """The reconciliation table of a batch: what was sent, what the hub's receipt says."""
    table = Table("part", "sent", "amount sent", "received", "accepted", "rejected",
                  "amount accepted", "departments", "reconciled", title=f"batch {batch_id}")
    for part in parts:
        receipt = part.receipt
        if receipt is None:
            table.add_row(part.part_id, str(part.records), f"{part.amount_paid_total:.2f}",
                          "-", "-", "-", "-", "-", "awaiting receipt")
            continue
        table.add_row(
            part.part_id, str(part.records), f"{part.amount_paid_total:.2f}", str(receipt.received),
            str(receipt.accepted), str(len(receipt.rejected)), f"{receipt.amount_paid_total:.2f}",
            ",".join(d.value for d in receipt.departments), "yes" if receipt.reconciled else "NO",
        )
    console.print(table)
    rejected = [(p.part_id, r) for p in parts if p.receipt for r in p.receipt.rejected]
    for part_id, record in rejected[:SHOWN_PROBLEMS]:
        console.print(f"  {part_id} {record.record_id}: {record.reason}")


@tax.command("status")
@click.argument("batch")
@CONFIG
def status_command(batch: str, config: Path | None) -> None:
    """Show batch BATCH's parts and the hub's receipts, from the adapter's local state."""
    settings = _settings(config)
    state = StateDB(settings.state_path("tax"))
    try:
        parts = ledger.parts(state, batch)
    finally:
        state.close()
    if not parts:
        raise click.ClickException(f"no batch {batch} in {settings.state_path('tax')}")
    show_status(_console(), batch, parts)
    sys.exit(0 if all(p.reconciled for p in parts) else 4)


__all__ = ["adapter", "show_status", "tax"]
