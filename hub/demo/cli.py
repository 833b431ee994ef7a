"""``sihub demo``: one command, the whole county for a simulated month."""

from __future__ import annotations

import json
import logging
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click
import uvicorn
from rich.console import Console

from adapters.sinks import InboundMessage
from hub.demo.clock import SimClock
from hub.demo.county import open_county
from hub.demo.scenario import Scenario, at
from hub.demo.summary import summarize
from hub.runtime import HubRuntime

#: What each department system is told, printed as it arrives (the loop, seen from every queue).
SHOWN = frozenset(
    {
        "case.routed",
        "case.escalated",
        "sla.breached",
        "sla.warning",
        "payment.receipt",
        "arrears.confirmation_requested",
        "enforcement.applied",
        "case.replied",
    }
)


@click.command()
@click.option(
    "--broker",
    "broker_url",
    default="memory://",
    show_default=True,
    help="memory:// (embedded) or an administrator's amqp://user:pass@host:5672/vhost.",
)
@click.option(
    "--database",
    "database_url",
    help="SQLAlchemy URL of the ledger (default: SQLite in a temp dir).",
)
@click.option(
    "--serve", is_flag=True, help="Keep the HTTP API and /metrics up afterwards (Ctrl-C to stop)."
)
@click.option("--port", default=8080, show_default=True, help="Port of --serve.")
@click.option("--quiet", is_flag=True, help="Only the closing summary.")
def demo(broker_url: str, database_url: str | None, serve: bool, port: int, quiet: bool) -> None:
    """Run Wuhe County for a simulated month with every department's adapter live.

    Disputes registered at different windows and routed by duty, a transfer, a joint
    case with a unified reply, a case that breaches its deadlines and climbs to the task
    force and the leading-group office, a payment-detail batch split to hrss and medins
    and reconciled, arrears taken to the court, a collective petition, and invalid
    messages quarantined with their reasons. Exits 1 if anything expected to close
    did not.
    """
    console = Console(highlight=False, soft_wrap=True, width=132)
    logging.getLogger("sihub").setLevel(logging.ERROR)
    started = time.monotonic()
    clock = SimClock(at(2, 8))
    with tempfile.TemporaryDirectory(prefix="sihub-demo-") as tmp:
        workdir = Path(tmp)

        def delivered(code: str, message: InboundMessage) -> None:
            if quiet or message.type not in SHOWN:
                return
            envelope = message.envelope
            console.print(f"    [dim]{code:>9} ← {message.type} {envelope.case_id or ''}[/dim]")

        console.print(f"[bold]sihub demo[/bold]: Wuhe County, November 2026, broker {broker_url}")
        county = open_county(workdir, clock, broker_url, database_url, delivered)
        scenario = Scenario(county, (lambda line: None) if quiet else console.print, workdir)
        server = _start_api(county.runtime, workdir, port, console) if serve else None
        try:
            scenario.run()
            outcome = summarize(console, scenario)
            console.print(
                f"simulated {clock():%Y-%m-%d} in {time.monotonic() - started:.1f} s of real time"
            )
            if outcome.ok:
                console.print("[green]every case the scenario expected to close is closed[/green]")
            for problem in outcome.problems:
                console.print(f"[red]✗ {problem}[/red]")
            if server is not None:
                console.print("the API and /metrics stay up; Ctrl-C (or SIGTERM) to stop")
                _wait(server)
        finally:
            county.close()
    sys.exit(0 if outcome.ok else 1)


def _start_api(runtime: HubRuntime, workdir: Path, port: int, console: Console) -> _ApiServer:
    """Serve the API over the demo's hub in a thread, with a token per department."""
    from hub.api.app import create_app

    tokens = {
        secrets.token_urlsafe(16): code
        for code in ("tax", "hrss", "medins", "court", "petition", "taskforce", "lgo")
    }
    path = workdir / "tokens.json"
    path.write_text(json.dumps(tokens))
    runtime.settings = runtime.settings.model_copy(update={"tokens": path})
    server = _ApiServer(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="sihub-demo-api", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    console.print(f"API on http://127.0.0.1:{port} (docs /docs, metrics /metrics); tokens:")
    for token, code in tokens.items():
        console.print(f"  {code:>9}: Authorization: Bearer {token}")
    return server


class _ApiServer(uvicorn.Server):
    """uvicorn in a thread: the demo's main thread owns the signals."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _wait(server: _ApiServer) -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    try:
        while not server.should_exit:
            time.sleep(0.2)
    except KeyboardInterrupt:
        server.should_exit = True
