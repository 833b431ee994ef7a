"""Faults on the real RabbitMQ and PostgreSQL: nothing lost, nothing applied twice.

* the broker restarts while departments publish and the hub consumes;
* the hub is killed with SIGKILL in the middle of its batches, then restarted;
* the hub is stopped with SIGTERM and drains what it holds;
* the cluster node the hub is connected to dies mid-stream (a TCP stand-in for it is
  killed): the hub carries on through the next node of its broker URL.

These restart the shared RabbitMQ application (``rabbitmqctl stop_app``), so they
run last and only where the broker is local.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text

from contracts import build
from contracts.codes import Department
from hub.bus.factory import open_broker
from hub.bus.management import ManagementClient
from hub.bus.topology import default_topology, to_definitions
from hub.bus.types import BusError, Outgoing
from hub.ids import uuid7
from tests.integration.hubenv import envelope
from tests.support.databases import scratch_postgres
from tests.support.network import TcpForwarder, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def registrations(count: int, prefix: int) -> list[bytes]:
    """``count`` distinct tax registrations routed to hrss, as wire bytes."""
    payload = envelope("case.registered").payload
    return [
        build(
            "case.registered",
            payload,
            source=Department.TAX,
            message_id=uuid7(),
            occurred_at=datetime.now(UTC),
            case_id=f"tax-2026-{prefix}{i:05d}",
        ).to_json()
        for i in range(count)
    ]


def publish_all(url: str, bodies: list[bytes], chunk: int = 50) -> None:
    """Publish as tax with confirms, retrying a chunk until the broker confirms it (at least once)."""
    for start in range(0, len(bodies), chunk):
        messages = [
            Outgoing("sihub.in", "tax.case.registered", b, user_id="tax")
            for b in bodies[start : start + chunk]
        ]
        deadline = time.monotonic() + 90
        while True:
            try:
                broker = open_broker(url)
                try:
                    broker.publisher().publish(messages, timeout_seconds=10)
                finally:
                    broker.close()
                break
            except BusError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def count_cases(database_url: str, prefix: int) -> tuple[int, int]:
    """(cases registered with ``prefix``, audit entries of those cases)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            cases = connection.execute(
                text("SELECT count(*) FROM cases WHERE case_id LIKE :p"),
                {"p": f"tax-2026-{prefix}%"},
            ).scalar_one()
            audits = connection.execute(
                text("SELECT count(*) FROM audit_log WHERE case_id LIKE :p"),
                {"p": f"tax-2026-{prefix}%"},
            ).scalar_one()
    finally:
        engine.dispose()
    return int(cases), int(audits)


def routed_ids(url: str) -> list[str]:
    """Message ids of every case.routed waiting in hrss's queue (drained)."""
    broker = open_broker(url)
    consumer = broker.consumer("sihub.dept.hrss", prefetch=1000)
    ids: list[str] = []
    try:
        while batch := consumer.fetch(1000, 1.0):
            ids += [json.loads(d.body)["message_id"] for d in batch]
            consumer.ack([d.delivery_tag for d in batch])
    finally:
        consumer.close()
        broker.close()
    return ids


def ledger_ready(database_url: str) -> bool:
    """Whether the hub has created its schema (count_cases can run)."""
    try:
        count_cases(database_url, 0)
    except Exception:  # the table does not exist yet
        return False
    return True


def all_routed(url: str, total: int) -> Callable[[], bool]:
    """A predicate that drains hrss's queue and is true once ``total`` distinct ids arrived."""
    seen: set[str] = set()

    def check() -> bool:
        seen.update(routed_ids(url))
        check.seen = seen  # type: ignore[attr-defined]
        return len(seen) >= total

    return check


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def county(
    rabbit_management: ManagementClient, rabbit_url: Callable[..., str]
) -> Iterator[tuple[str, Callable[[str], str], str]]:
    """(vhost, url-for-user, database url): a scratch vhost with definitions, a scratch database."""
    vhost = f"sihub-test-faults-{uuid.uuid4().hex[:8]}"
    rabbit_management.create_vhost(vhost)
    rabbit_management.import_definitions(to_definitions(default_topology(vhost=vhost)))
    with scratch_postgres("faults") as database_url:
        yield vhost, lambda user: rabbit_url(vhost, user, f"{user}-dev"), database_url
    rabbit_management.delete_vhost(vhost)


@contextmanager
def hub_process(broker_url: str, database_url: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "SIHUB_BROKER_URL": broker_url,
        "SIHUB_DATABASE_URL": database_url,
        "SIHUB_HTTP_PORT": str(free_port()),
        "SIHUB_LOG_LEVEL": "WARNING",
    }
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log
        )
        try:
            yield process
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-5000:])  # the hub's own story
            raise
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(10)


def test_hub_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    county: tuple[str, Callable[[str], str], str],
) -> None:
    _, url, database_url = county
    total = 1500
    bodies = registrations(total, 1)
    with hub_process(url("hub"), database_url) as first:
        wait_until(lambda: ledger_ready(database_url), 30, "the hub to create its schema")
        publisher = threading.Thread(target=publish_all, args=(url("tax"), bodies))
        publisher.start()
        wait_until(lambda: count_cases(database_url, 1)[0] >= 200, 60, "the hub to be mid-stream")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        publisher.join(120)
    assert count_cases(database_url, 1)[0] < total, "the kill came too late to test anything"
    with hub_process(url("hub"), database_url):
        wait_until(
            lambda: count_cases(database_url, 1)[0] == total, 120, "every case after the restart"
        )
        routed = all_routed(url("hrss"), total)
        wait_until(routed, 60, "every case.routed")
    cases, audits = count_cases(database_url, 1)
    assert (cases, audits) == (total, total)  # one effect per message
    assert len(routed.seen) == total  # type: ignore[attr-defined]  # each case.routed went out


def test_sigterm_finishes_the_batch_in_hand_and_leaves_the_rest(
    county: tuple[str, Callable[[str], str], str],
) -> None:
    _, url, database_url = county
    total = 600
    with hub_process(url("hub"), database_url) as hub:
        wait_until(lambda: ledger_ready(database_url), 30, "the hub to create its schema")
        publish_all(url("tax"), registrations(total, 2))
        wait_until(lambda: count_cases(database_url, 2)[0] > 0, 30, "processing to begin")
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(30) == 0
    with hub_process(url("hub"), database_url):
        wait_until(lambda: count_cases(database_url, 2)[0] == total, 90, "the rest after a restart")
    assert count_cases(database_url, 2) == (total, total)


@pytest.mark.skipif(
    shutil.which("rabbitmqctl") is None, reason="needs the local broker's rabbitmqctl"
)
def test_broker_restart_mid_stream_loses_nothing(
    county: tuple[str, Callable[[str], str], str],
) -> None:
    _, url, database_url = county
    total = 900
    with hub_process(url("hub"), database_url):
        wait_until(lambda: ledger_ready(database_url), 30, "the hub to create its schema")
        publisher = threading.Thread(
            target=publish_all, args=(url("tax"), registrations(total, 3), 30)
        )
        publisher.start()
        wait_until(lambda: count_cases(database_url, 3)[0] >= 100, 60, "the stream to start")
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
        time.sleep(2)
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
        subprocess.run(
            ["rabbitmqctl", "await_startup"], check=False, capture_output=True, timeout=120
        )
        publisher.join(180)
        assert not publisher.is_alive()
        wait_until(
            lambda: count_cases(database_url, 3)[0] == total, 120, "every case after the restart"
        )
        routed = all_routed(url("hrss"), total)
        wait_until(routed, 90, "every case.routed")
    assert count_cases(database_url, 3) == (total, total)
    assert len(routed.seen) == total  # type: ignore[attr-defined]


def test_a_node_dying_mid_stream_moves_the_hub_to_the_next_node(
    county: tuple[str, Callable[[str], str], str],
) -> None:
    _, url, database_url = county
    total = 1500
    direct = urlsplit(url("hub"))
    assert direct.hostname is not None
    node = TcpForwarder((direct.hostname, direct.port or 5672))
    through_node = direct._replace(netloc=f"{direct.username}:{direct.password}@127.0.0.1:{node.port}").geturl()
    with hub_process(f"{through_node},{url('hub')}", database_url):
        wait_until(lambda: ledger_ready(database_url), 30, "the hub to create its schema")
        # The gate's consumer and the relay's publisher, at least, on the first node.
        wait_until(lambda: node.accepted >= 2, 30, "the hub to connect through the first node")
        publisher = threading.Thread(target=publish_all, args=(url("tax"), registrations(total, 4), 30))
        publisher.start()
        wait_until(lambda: count_cases(database_url, 4)[0] >= 100, 60, "the stream to start")
        node.close()  # the node dies
        assert count_cases(database_url, 4)[0] < total, "the node died too late to test anything"
        publisher.join(180)
        assert not publisher.is_alive()
        wait_until(lambda: count_cases(database_url, 4)[0] == total, 120, "every case on the next node")
        routed = all_routed(url("hrss"), total)
        wait_until(routed, 90, "every case.routed")
    assert count_cases(database_url, 4) == (total, total)  # one effect per message
    assert len(routed.seen) == total  # type: ignore[attr-defined]  # each case.routed went out
