"""Shared pieces of the benchmarks: a scratch vhost, percentiles, the closing JSON line."""

from __future__ import annotations

import argparse
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hub.bus.factory import open_broker
from hub.bus.management import ManagementClient
from hub.bus.topology import default_topology, to_definitions
from hub.bus.types import Delivery

POSTGRES_ADMIN_URL = os.environ.get(
    "SIHUB_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ADMIN_URL = os.environ.get("SIHUB_BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def url_for(vhost: str, user: str, password: str) -> str:
    """An AMQP URL of the local broker for ``vhost`` as ``user``."""
    return f"amqp://{quote(user)}:{quote(password)}@127.0.0.1:5672/{quote(vhost, safe='')}"


@contextmanager
def scratch_county(label: str) -> Iterator[str]:
    """A fresh vhost loaded with the sihub definitions (users, queues, policies); removed after."""
    management = ManagementClient.for_broker(ADMIN_URL)
    vhost = f"sihub-bench-{label}-{uuid.uuid4().hex[:6]}"
    management.create_vhost(vhost)
    management.import_definitions(to_definitions(default_topology(vhost=vhost)))
    try:
        yield vhost
    finally:
        management.delete_vhost(vhost)
        management.close()


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by nearest rank; 0.0 for no samples."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def finish(name: str, figures: dict[str, Any], bar: str, ratio: float | None, passed: bool) -> int:
    """Print the closing JSON line; exit status 0 either way (a benchmark is not a test)."""
    print(
        json.dumps(
            {"bench": name, **figures, "bar": bar, "ratio": ratio, "pass": passed},
            ensure_ascii=False,
        )
    )
    return 0


@contextmanager
def ledger(kind: str, directory: Path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty ledger: a scratch PostgreSQL database, or a SQLite file."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'ledger.db'}"
        return
    with scratch_database(POSTGRES_ADMIN_URL, "sihub_bench") as url:
        yield url


@contextmanager
def scratch_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database ``<prefix>_<random>`` made on ``admin_url``; its URL.

    Dropped afterwards (connections to it are closed by force). The tests' scratch
    databases are made here too.

    Raises:
        sqlalchemy.exc.OperationalError: the server cannot be reached (nothing was made).
    """
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except BaseException:
        admin.dispose()
        raise
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def add_ledger_options(parser: argparse.ArgumentParser, replicas_help: str) -> None:
    """``--database sqlite|postgresql`` and ``--replicas N`` (hub processes on one ledger)."""
    parser.add_argument(
        "--database", choices=["sqlite", "postgresql"], default="sqlite",
        help="ledger: a SQLite file (default, as `sihub serve`) or a scratch PostgreSQL database",
    )  # fmt: skip
    parser.add_argument("--replicas", type=int, default=1, help=f"{replicas_help} (default 1; more needs PostgreSQL)")


def check_ledger_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse several hubs on a SQLite ledger (one hub process per SQLite file)."""
    if args.replicas < 1 or (args.replicas > 1 and args.database != "postgresql"):
        parser.error("--replicas: 1, or more on PostgreSQL (a SQLite ledger is for one hub process)")


def receive(
    url: str, queue: str, stop: threading.Event,
    handle: Callable[[list[Delivery], float], None], *, wait_seconds: float = 0.1,
) -> None:  # fmt: skip
    """Consume ``queue`` until ``stop`` is set: each batch goes to ``handle`` with the
    ``perf_counter`` instant it arrived, then is acked (a benchmark's receiving department)."""
    broker = open_broker(url)
    consumer = broker.consumer(queue, prefetch=2000)
    try:
        while not stop.is_set():
            batch = consumer.fetch(1000, wait_seconds)
            if batch:
                handle(batch, time.perf_counter())
                consumer.ack([d.delivery_tag for d in batch])
    finally:
        consumer.close()
        broker.close()
