"""``sihub serve``: the hub workers plus the HTTP API, until SIGTERM."""

from __future__ import annotations

import logging
import signal
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click
import uvicorn

from hub import gctune
from hub.config import load_settings

log = logging.getLogger("sihub.serve")


class _Server(uvicorn.Server):
    """uvicorn, minus re-raising SIGTERM after its shutdown: the hub still has work to finish."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            self.handle_exit(signum, frame)

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@click.command()
@click.option(
    "--config",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="TOML file with the settings of DESIGN §9 (environment variables win).",
)
@click.option("--broker-url", help="Overrides SIHUB_BROKER_URL.")
@click.option("--database-url", help="Overrides SIHUB_DATABASE_URL.")
@click.option("--host", help="Overrides SIHUB_HTTP_HOST.")
@click.option("--port", type=int, help="Overrides SIHUB_HTTP_PORT.")
def serve(
    config: Path | None,
    broker_url: str | None,
    database_url: str | None,
    host: str | None,
    port: int | None,
) -> None:
    """Run the gate, the outbox relay, the SLA scheduler and the HTTP API.

    SIGTERM or Ctrl-C stops taking work, finishes the batch in hand (acking what is
    done) and leaves the rest in RabbitMQ for redelivery.
    """
    from hub.api.app import create_app
    from hub.runtime import HubRuntime

    settings = load_settings(
        config, broker_url=broker_url, database_url=database_url, http_host=host, http_port=port
    )
    if not settings.broker_url:
        raise click.UsageError("SIHUB_BROKER_URL (or --broker-url) is required for sihub serve")
    runtime = HubRuntime(settings)
    app = create_app(runtime)
    gctune.settle()  # after start-up: see hub.gctune
    runtime.start()
    try:
        server = uvicorn.Config(
            app, host=settings.http_host, port=settings.http_port, log_level="warning"
        )
        _Server(server).run()
    finally:
        log.info("stopping: finishing the batch in hand")
        runtime.stop()
