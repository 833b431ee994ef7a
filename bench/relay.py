"""``python -m bench relay``: the hub against a bare pika relay over the same two hops.

Same run, same broker, quorum queues, confirms on every publish. Both carry the
same registrations from hrss's window (an hrss matter, so the hub routes each to
exactly one queue, ``sihub.dept.hrss``):

* **bare relay** — department → ``sihub.in`` → a pika consumer that republishes each
  body to ``sihub.out`` (pipelined confirms, batch acks) → ``sihub.dept.hrss``: no
  validation, no store (``bench/_bare_relay.py``);
* **hub** — the same hops through the real hub (``python -m hub serve``): validate,
  authenticate, dedup, route, SQLite (or PostgreSQL) commit with audit and outbox, relay.

Each runs as its own process, as it is deployed; the department publishing the
registrations and the one receiving them are threads of this process, the same for
both. Printed: throughput of each (max rate, N messages) with the CPU each process
spent per message, then p50/p99 latency of each at 1 000 msgs/s offered, the ratio
last. Bar: hub ≥ 0.6 × bare relay throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench._processes import Child, spawn
from bench._support import (
    ADMIN_URL,
    add_ledger_options,
    check_ledger_options,
    finish,
    free_port,
    ledger,
    percentile,
    receive,
    scratch_county,
    url_for,
)
from contracts import build
from contracts.codes import Channel, Department, InsuranceType, Matter
from contracts.messages.case import CaseRegistered
from hub.bus.factory import open_broker
from hub.bus.management import ManagementClient
from hub.bus.types import Delivery, Outgoing
from hub.ids import uuid7

BAR = 0.6


def registration_payload() -> CaseRegistered:
    """A pension-benefit dispute registered at hrss's window (routes to hrss alone)."""
    return CaseRegistered.model_validate_json(
        json.dumps(
            {
                "channel": Channel.WINDOW.value,
                "received_at": "2026-11-23T09:12:00+08:00",
                "intake_clerk": "H-0001",
                "party": {
                    "kind": "employee",
                    "name": "李某某",
                    "id_number": "340322198503151230",
                    "uscc": None,
                    "phone": "13800000001",
                },
                "employer": {"name": "五河县某建材有限公司", "uscc": "91340322MA2T0A1B2M"},
                "jurisdiction": "340322101",
                "category": "enrollment_payment_benefit",
                "matters": [Matter.BENEFIT.value],
                "insurance_types": [InsuranceType.ENTERPRISE_PENSION.value],
                "fee_period": {"start": "2025-01", "end": "2025-06"},
                "amount_in_dispute": "8640.00",
                "summary": "职工退休待遇核定争议。" * 8,
                "initial_opinion": "属人社局职责，由人社局核实处理。",
                "urgent": False,
            }
        )
    )


def messages(count: int, offset: int) -> list[tuple[str, bytes]]:
    """``count`` registrations (message id, body) with distinct case ids."""
    payload = registration_payload()
    out = []
    for i in range(count):
        envelope = build(
            "case.registered",
            payload,
            source=Department.HRSS,
            message_id=uuid7(),
            occurred_at=datetime.now(UTC),
            case_id=f"hrss-2026-{offset + i:07d}",
        )
        out.append((str(envelope.message_id), envelope.to_json()))
    return out


@dataclass
class Sink:
    """Counts deliveries in ``sihub.dept.hrss`` and times them by their originating message."""

    url: str
    key: Callable[[Delivery], str]
    received: dict[str, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    #: Deliveries whose originating message had already arrived once.
    duplicates: int = 0

    def run(self) -> None:
        receive(self.url, "sihub.dept.hrss", self.stop, self._arrived)

    def _arrived(self, batch: list[Delivery], now: float) -> None:
        for delivery in batch:
            key = self.key(delivery)
            if key in self.received:
                self.duplicates += 1
            else:
                self.received[key] = now


def wait_for_consumer(
    vhost: str, queue: str, child: Child, timeout_seconds: float = 60, consumers: int = 1
) -> None:
    """Block until ``queue`` has ``consumers`` consumers (the relays under test are up).

    Raises:
        RuntimeError: the process ended, or did not consume within ``timeout_seconds``.
    """
    management = ManagementClient.for_broker(ADMIN_URL)
    deadline = time.monotonic() + timeout_seconds
    try:
        while time.monotonic() < deadline:
            if child.popen.poll() is not None:
                raise RuntimeError(f"{child.name} exited with {child.popen.returncode} before consuming")
            if any(q["name"] == queue and q.get("consumers", 0) >= consumers for q in management.queues(vhost)):
                return
            time.sleep(0.2)
    finally:
        management.close()
    raise RuntimeError(f"{child.name} did not consume {queue} within {timeout_seconds:.0f}s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU a live process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def produce(
    url: str, batch: list[tuple[str, bytes]], rate: float | None, sent: dict[str, float]
) -> None:
    """Publish as hrss with confirms: as fast as possible, or at ``rate`` messages/s (open loop)."""
    broker = open_broker(url)
    publisher = broker.publisher()
    chunk = 500 if rate is None else max(1, int(rate / 100))
    start = time.perf_counter()
    try:
        for index in range(0, len(batch), chunk):
            part = batch[index : index + chunk]
            if rate is not None:
                due = start + index / rate
                while (delay := due - time.perf_counter()) > 0:
                    time.sleep(delay)
            now = time.perf_counter()
            for message_id, _ in part:
                sent[message_id] = now
            publisher.publish(
                [
                    Outgoing(
                        "sihub.in", "hrss.case.registered", body, message_id=mid, user_id="hrss"
                    )
                    for mid, body in part
                ]
            )
    finally:
        publisher.close()
        broker.close()


def run_phase(
    kind: str, count: int, rate: float | None, database: str, report: Callable[[str], None],
    replicas: int = 1, settle_seconds: float = 0.0,
) -> dict[str, float]:  # fmt: skip
    """One measurement in a fresh vhost: throughput (rate None) or latency at ``rate``.

    ``settle_seconds``: keep receiving this long after the last message arrived, so that
    a duplicate published late (by a relay's sweep, every 5 s while busy) is counted.
    """
    with (
        scratch_county(f"{kind}-{'max' if rate is None else int(rate)}") as vhost,
        tempfile.TemporaryDirectory() as tmp,
        ledger(database, Path(tmp)) if kind == "hub" else nullcontext("") as db,
    ):
        relay_url = url_for(vhost, "hub", "hub-dev")
        if kind == "bare":
            key: Callable[[Delivery], str] = lambda d: d.message_id or ""  # noqa: E731
            children = [spawn("bare relay", ["-m", "bench._bare_relay", relay_url], {}, Path(tmp) / "bare.log")]
        else:
            key = lambda d: json.loads(d.body)["causation_id"]  # noqa: E731
            children = [
                spawn(
                    "hub",
                    ["-m", "hub", "--log-level", "WARNING", "serve", "--broker-url", relay_url,
                     "--database-url", db, "--port", str(free_port())],
                    {},
                    Path(tmp) / f"hub-{n}.log",
                )
                for n in range(replicas)
            ]  # fmt: skip
        stop = threading.Event()
        sink = Sink(url_for(vhost, "hrss", "hrss-dev"), key, stop=stop)
        receiver = threading.Thread(target=sink.run)
        try:
            for child in children:
                wait_for_consumer(vhost, "sihub.hub.in", child, consumers=len(children))
            receiver.start()
            batch = messages(count, 0)
            sent: dict[str, float] = {}
            cpu_before = sum(cpu_seconds(c.pid) for c in children)
            started = time.perf_counter()
            produce(url_for(vhost, "hrss", "hrss-dev"), batch, rate, sent)
            deadline = time.perf_counter() + 300
            while len(sink.received) < count and time.perf_counter() < deadline:
                time.sleep(0.02)
            elapsed = max(sink.received.values(), default=started) - started
            cpu = sum(cpu_seconds(c.pid) for c in children) - cpu_before
            time.sleep(settle_seconds)
        finally:
            stop.set()
            if receiver.is_alive():
                receiver.join(30)
            for child in children:
                child.stop()
        latencies = [(sink.received[m] - sent[m]) * 1000 for m in sent if m in sink.received]
        delivered = len(sink.received)
        result = {
            "messages": float(count),
            "delivered": float(delivered),
            "seconds": elapsed,
            "rate": delivered / elapsed if elapsed > 0 else 0.0,
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
            "cpu_us_per_msg": cpu / delivered * 1e6 if delivered else 0.0,
            "duplicates": float(sink.duplicates),
        }
        label = "max rate" if rate is None else f"{rate:.0f} msgs/s offered"
        report(
            f"{kind:>4} {label}: {result['delivered']:.0f}/{count} delivered in {elapsed:.2f}s = "
            f"{result['rate']:.0f} msgs/s; latency p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms; "
            f"{result['cpu_us_per_msg']:.0f} µs of CPU per message in the {children[0].name} "
            + ("process" if len(children) == 1 else f"processes ({len(children)}, together)")
            + (f"; {sink.duplicates} duplicate(s)" if sink.duplicates or settle_seconds else "")
        )
        return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench relay", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--messages", type=int, default=20_000, help="messages per throughput run")
    parser.add_argument(
        "--latency-seconds", type=float, default=10.0, help="length of each latency run"
    )
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="offered load of the latency runs"
    )
    add_ledger_options(parser, "hub processes sharing the ledger and the inbound queue")
    args = parser.parse_args(argv)
    check_ledger_options(parser, args)
    report = print
    report(
        f"bench relay: {args.messages} registrations, quorum queues, confirms on; ledger on {args.database}, "
        f"{args.replicas} hub process(es)"
    )
    bare = run_phase("bare", args.messages, None, args.database, report)
    hub = run_phase("hub", args.messages, None, args.database, report, args.replicas)
    latency_count = int(args.rate * args.latency_seconds)
    bare_latency = run_phase("bare", latency_count, args.rate, args.database, report)
    hub_latency = run_phase("hub", latency_count, args.rate, args.database, report, args.replicas)
    ratio = hub["rate"] / bare["rate"] if bare["rate"] else 0.0
    complete = hub["delivered"] == hub["messages"] and bare["delivered"] == bare["messages"]
    report(f"ratio hub / bare relay = {ratio:.2f} (bar ≥ {BAR})")
    return finish(
        "relay",
        {
            "bare_msgs_per_s": round(bare["rate"]),
            "hub_msgs_per_s": round(hub["rate"]),
            "bare_cpu_us_per_msg": round(bare["cpu_us_per_msg"]),
            "hub_cpu_us_per_msg": round(hub["cpu_us_per_msg"]),
            "bare_p50_ms_at_rate": round(bare_latency["p50_ms"], 1),
            "bare_p99_ms_at_rate": round(bare_latency["p99_ms"], 1),
            "hub_p50_ms_at_rate": round(hub_latency["p50_ms"], 1),
            "hub_p99_ms_at_rate": round(hub_latency["p99_ms"], 1),
            "offered_msgs_per_s": args.rate,
            "database": args.database,
            "replicas": args.replicas,
            "complete": complete,
        },
        f"hub >= {BAR} x bare relay throughput",
        round(ratio, 3),
        complete and ratio >= BAR,
    )
