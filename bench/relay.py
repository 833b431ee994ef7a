"""``python -m bench relay``: the hub against a bare pika relay over the same two hops.

Same run, same broker, quorum queues, confirms on every publish. Both carry the
same registrations from hrss's window (an hrss matter, so the hub routes each to
exactly one queue, ``sihub.dept.hrss``):

* **bare relay** — department → ``sihub.in`` → a pika consumer that republishes each
  body to ``sihub.out`` (pipelined confirms, batch acks) → ``sihub.dept.hrss``: no
  validation, no store;
* **hub** — the same hops through the real hub: validate, authenticate, dedup,
  route, SQLite (or PostgreSQL) commit with audit and outbox, relay.

Printed: throughput of each (max rate, N messages), then p50/p99 latency of each at
1 000 msgs/s offered, the ratio last. Bar: hub ≥ 0.6 × bare relay throughput.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench._support import finish, percentile, scratch_county, url_for
from contracts import build
from contracts.codes import Channel, Department, InsuranceType, Matter
from contracts.messages.case import CaseRegistered
from hub.bus.factory import open_broker
from hub.bus.types import Delivery, Outgoing
from hub.config import load_settings
from hub.ids import uuid7
from hub.runtime import HubRuntime

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

    def run(self) -> None:
        broker = open_broker(self.url)
        consumer = broker.consumer("sihub.dept.hrss", prefetch=2000)
        try:
            while not self.stop.is_set():
                batch = consumer.fetch(1000, 0.1)
                now = time.perf_counter()
                for delivery in batch:
                    self.received.setdefault(self.key(delivery), now)
                if batch:
                    consumer.ack([d.delivery_tag for d in batch])
        finally:
            consumer.close()
            broker.close()


def bare_relay(url: str, stop: threading.Event) -> None:
    """Consume ``sihub.in``'s queue and republish every body to hrss, acking after confirms."""
    broker = open_broker(url)
    consumer = broker.consumer("sihub.hub.in", prefetch=1000)
    publisher = broker.publisher()
    try:
        while not stop.is_set():
            batch = consumer.fetch(500, 0.1)
            if not batch:
                continue
            publisher.publish(
                [
                    Outgoing("sihub.out", "hrss.case.registered", d.body, message_id=d.message_id)
                    for d in batch
                ]
            )
            consumer.ack([d.delivery_tag for d in batch])
    finally:
        publisher.close()
        consumer.close()
        broker.close()


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
    kind: str, count: int, rate: float | None, database: str, report: Callable[[str], None]
) -> dict[str, float]:
    """One measurement in a fresh vhost: throughput (rate None) or latency at ``rate``."""
    with (
        scratch_county(f"{kind}-{'max' if rate is None else int(rate)}") as vhost,
        tempfile.TemporaryDirectory() as tmp,
    ):
        stop = threading.Event()
        workers: list[threading.Thread] = []
        runtime: HubRuntime | None = None
        if kind == "bare":
            key: Callable[[Delivery], str] = lambda d: d.message_id or ""  # noqa: E731
            workers.append(
                threading.Thread(target=bare_relay, args=(url_for(vhost, "hub", "hub-dev"), stop))
            )
        else:
            key = lambda d: json.loads(d.body)["causation_id"]  # noqa: E731
            db = database if database != "sqlite" else f"sqlite:///{Path(tmp) / 'ledger.db'}"
            runtime = HubRuntime(
                load_settings(None, broker_url=url_for(vhost, "hub", "hub-dev"), database_url=db)
            )
            runtime.start()
        sink = Sink(url_for(vhost, "hrss", "hrss-dev"), key, stop=stop)
        workers.append(threading.Thread(target=sink.run))
        for worker in workers:
            worker.start()
        batch = messages(count, 0)
        sent: dict[str, float] = {}
        started = time.perf_counter()
        produce(url_for(vhost, "hrss", "hrss-dev"), batch, rate, sent)
        deadline = time.perf_counter() + 300
        while len(sink.received) < count and time.perf_counter() < deadline:
            time.sleep(0.02)
        elapsed = max(sink.received.values(), default=started) - started
        stop.set()
        for worker in workers:
            worker.join(30)
        if runtime is not None:
            runtime.stop()
        latencies = [(sink.received[m] - sent[m]) * 1000 for m in sent if m in sink.received]
        result = {
            "messages": float(count),
            "delivered": float(len(sink.received)),
            "seconds": elapsed,
            "rate": len(sink.received) / elapsed if elapsed > 0 else 0.0,
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
        }
        label = "max rate" if rate is None else f"{rate:.0f} msgs/s offered"
        report(
            f"{kind:>4} {label}: {result['delivered']:.0f}/{count} delivered in {elapsed:.2f}s = "
            f"{result['rate']:.0f} msgs/s; latency p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms"
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
    parser.add_argument(
        "--database", default="sqlite", help="'sqlite' (a temp file) or a PostgreSQL URL"
    )
    args = parser.parse_args(argv)
    report = print
    report(
        f"bench relay: {args.messages} registrations, quorum queues, confirms on; ledger on {args.database}"
    )
    bare = run_phase("bare", args.messages, None, args.database, report)
    hub = run_phase("hub", args.messages, None, args.database, report)
    latency_count = int(args.rate * args.latency_seconds)
    bare_latency = run_phase("bare", latency_count, args.rate, args.database, report)
    hub_latency = run_phase("hub", latency_count, args.rate, args.database, report)
    ratio = hub["rate"] / bare["rate"] if bare["rate"] else 0.0
    complete = hub["delivered"] == hub["messages"] and bare["delivered"] == bare["messages"]
    report(f"ratio hub / bare relay = {ratio:.2f} (bar ≥ {BAR})")
    return finish(
        "relay",
        {
            "bare_msgs_per_s": round(bare["rate"]),
            "hub_msgs_per_s": round(hub["rate"]),
            "bare_p50_ms_at_rate": round(bare_latency["p50_ms"], 1),
            "bare_p99_ms_at_rate": round(bare_latency["p99_ms"], 1),
            "hub_p50_ms_at_rate": round(hub_latency["p50_ms"], 1),
            "hub_p99_ms_at_rate": round(hub_latency["p99_ms"], 1),
            "offered_msgs_per_s": args.rate,
            "database": args.database,
            "complete": complete,
        },
        f"hub >= {BAR} x bare relay throughput",
        round(ratio, 3),
        complete and ratio >= BAR,
    )
