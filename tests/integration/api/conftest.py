"""A real ``sihub serve`` process for the API tests: uvicorn, RabbitMQ and PostgreSQL.

One server serves every test of this package: a scratch vhost with the sihub layout
declared, a scratch PostgreSQL database, a tokens file with one token per calling
department, and a free loopback port. Tests tell their data apart by the case ids
and batch ids the server hands out, never by assuming an empty ledger.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.codes import Department
from hub.bus.amqp import AmqpBroker
from hub.bus.amqp_codec import connection_parameters
from hub.bus.declare import declare_topology
from hub.bus.management import ManagementClient
from hub.bus.topology import default_topology, department_queue
from tests.support.databases import scratch_postgres
from tests.support.network import free_port

#: One token per calling department.
TOKENS: dict[Department, str] = {
    d: f"{d.value}-it-{uuid.uuid4().hex[:12]}" for d in Department if d is not Department.HUB
}
STARTUP_SECONDS = 60.0


@dataclass(frozen=True)
class HubServer:
    """A running ``sihub serve``: where it listens, its vhost, and a log of what it said."""

    base_url: str
    vhost: str
    broker_url: str
    log: Path

    def client(self, department: Department | str | None = None) -> httpx.Client:
        """An HTTP client of the server, with ``department``'s token if given."""
        headers = {"Authorization": f"Bearer {TOKENS[Department(department)]}"} if department else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30.0)

    def broker(self) -> AmqpBroker:
        """An administrator's connection to the server's vhost (to read department queues)."""
        return AmqpBroker(connection_parameters(self.broker_url), connection_name=f"api-test-{uuid.uuid4().hex[:6]}")


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"sihub serve exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"sihub serve was not ready within {STARTUP_SECONDS}s:\n{log.read_text()[-4000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="package")
def hub_server(
    rabbit_management: ManagementClient,
    rabbit_url: Callable[..., str],
    scratch_name: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[HubServer]:
    """``sihub serve`` on RabbitMQ (scratch vhost) and PostgreSQL (scratch database)."""
    directory = tmp_path_factory.mktemp("api-server")
    tokens = directory / "tokens.json"
    tokens.write_text(json.dumps({token: d.value for d, token in TOKENS.items()}), encoding="utf-8")
    vhost = scratch_name("api")
    broker_url = rabbit_url(vhost)
    declare_topology(default_topology(vhost), connection_parameters(broker_url), rabbit_management)
    try:
        with scratch_postgres("api") as database_url:
            port = free_port()
            env = {
                **os.environ, "SIHUB_BROKER_URL": broker_url, "SIHUB_DATABASE_URL": database_url,
                "SIHUB_TOKENS": str(tokens), "SIHUB_HTTP_HOST": "127.0.0.1", "SIHUB_HTTP_PORT": str(port),
                "SIHUB_LOG_LEVEL": "INFO",
            }  # fmt: skip
            log = directory / "serve.log"
            with log.open("wb") as out:
                process = subprocess.Popen([sys.executable, "-m", "hub", "serve"], env=env, stdout=out,
                                           stderr=subprocess.STDOUT)  # fmt: skip
            server = HubServer(f"http://127.0.0.1:{port}", vhost, broker_url, log)
            try:
                _wait_ready(process, server.base_url, log)
                yield server
            finally:
                _stop(process)
    finally:
        rabbit_management.delete_vhost(vhost)


def drain(server: HubServer, department: str, wanted: Callable[[dict[str, Any]], bool], count: int,
          timeout_seconds: float = 30.0) -> list[dict[str, Any]]:  # fmt: skip
    """Bodies from ``sihub.dept.<department>`` that ``wanted`` picks, until ``count`` of them came.

    Everything read is acked: other tests' messages are not this test's business.
    """
    broker = server.broker()
    consumer = broker.consumer(department_queue(department), prefetch=500)
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_seconds
    try:
        while len(found) < count and time.monotonic() < deadline:
            batch = consumer.fetch(500, 0.5)
            if batch:
                consumer.ack([d.delivery_tag for d in batch])
            found += [body for body in (json.loads(d.body) for d in batch) if wanted(body)]
    finally:
        consumer.close()
        broker.close()
    return found
