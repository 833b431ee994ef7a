"""``python -m bench sla``: the SLA scheduler — on time under load, and catching up after an outage.

Each phase runs ``python -m hub serve`` (one or more) in a fresh vhost with a policy
file in seconds: hrss's cases must be signed within ``--sign-seconds``, with a
warning ``--warn-seconds`` before. What the scheduler fires arrives in
``sihub.dept.hrss``, read by a thread of this process.

* **on time** — registrations arrive at ``--rate`` per second for ``--seconds``
  while earlier cases' warnings and breaches come due at the same rate. The
  lateness of a firing is when it reached hrss's queue minus when it was due (the
  warning time, or the deadline). Every case must get exactly one warning and one
  breach.
* **catching up** — ``--backlog`` cases are registered, the hub is stopped, their
  deadlines pass, and a new hub starts: how fast it fires the overdue deadlines
  (each a breach to hrss and an escalation to hrss and the task force), against a
  bare pika publisher sending the same messages on the same hop
  (``bench/_bare_scheduler.py``), first to last arrival of the ``sla.breached``.

Bar: p99 lateness ≤ 2 s (the scheduler looks every second) and every deadline fired
exactly once. The catching-up ratio is printed for information; it has no bar.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bench._processes import Child, spawn
from bench._support import (
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
from bench.relay import cpu_seconds, messages, produce, wait_for_consumer
from hub.bus.types import Delivery

#: p99 lateness of warnings and breaches, seconds.
BAR_SECONDS = 2.0
WATCHED = frozenset({"sla.warning", "sla.breached", "case.routed"})


@dataclass(frozen=True)
class Arrival:
    """One message the hub sent to hrss, as it arrived."""

    type: str
    case_id: str
    due: datetime | None  # sla.*: the deadline; case.routed: the sign-by time
    wall: datetime  # when it arrived (wall clock, to compare with ``due``)
    at: float  # when it arrived (perf_counter, for rates)


@dataclass
class Tally:
    """What the scheduler fired for a set of cases, checked for exactly-once."""

    warning_lateness: list[float]
    breach_lateness: list[float]
    duplicates: int
    missing: int

    @property
    def lateness(self) -> list[float]:
        """Warnings and breaches together, seconds."""
        return self.warning_lateness + self.breach_lateness


def tally(
    arrivals: Iterable[Arrival], cases: Sequence[str], warn_before: timedelta, *, warnings: bool = True
) -> Tally:  # fmt: skip
    """Lateness of each firing for ``cases``; duplicates and missing firings counted.

    A warning is due ``warn_before`` ahead of its deadline; with ``warnings`` False
    (deadlines already overdue when the hub starts) no warning is expected.
    """
    wanted = set(cases)
    seen: Counter[tuple[str, str]] = Counter()
    warning_lateness: list[float] = []
    breach_lateness: list[float] = []
    for arrival in arrivals:
        if arrival.case_id not in wanted or arrival.due is None:
            continue
        if arrival.type == "sla.warning":
            warning_lateness.append((arrival.wall - (arrival.due - warn_before)).total_seconds())
        elif arrival.type == "sla.breached":
            breach_lateness.append((arrival.wall - arrival.due).total_seconds())
        else:
            continue
        seen[arrival.type, arrival.case_id] += 1
    kinds = ("sla.warning", "sla.breached") if warnings else ("sla.breached",)
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    duplicates += sum(n for (kind, _), n in seen.items() if kind not in kinds)
    missing = sum(1 for case in wanted for kind in kinds if seen[kind, case] == 0)
    return Tally(warning_lateness, breach_lateness, duplicates, missing)


@dataclass
class Sink:
    """Reads ``sihub.dept.hrss``: case.routed, sla.warning and sla.breached, with arrival times."""

    url: str
    stop: threading.Event = field(default_factory=threading.Event)
    arrivals: list[Arrival] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def count(self, type_: str) -> int:
        """How many of ``type_`` have arrived."""
        return self.counts[type_]

    def run(self) -> None:
        receive(self.url, "sihub.dept.hrss", self.stop, self._arrived, wait_seconds=0.05)

    def _arrived(self, batch: list[Delivery], at: float) -> None:
        wall = datetime.now().astimezone()
        for delivery in batch:
            type_ = str(delivery.headers.get("x-sihub-type", ""))
            if type_ not in WATCHED:
                continue
            envelope = json.loads(delivery.body)
            payload = envelope["payload"]
            due = payload.get("sign_by") if type_ == "case.routed" else payload["due_at"]
            self.arrivals.append(
                Arrival(type_, envelope["case_id"], datetime.fromisoformat(due) if due else None, wall, at)
            )
            self.counts[type_] += 1


def policy(directory: Path, sign_seconds: int, warn_seconds: int) -> Path:
    """A policy file: hrss signs within ``sign_seconds``, warned ``warn_seconds`` before."""
    path = directory / "sla-policy.toml"
    path.write_text(
        f'[deadlines]\n"routine.sign" = "{sign_seconds}s"\n\n[warnings]\nbefore = "{warn_seconds}s"\n',
        encoding="utf-8",
    )
    return path


def hubs(vhost: str, db: str, policy_path: Path, directory: Path, replicas: int, label: str) -> list[Child]:
    """``replicas`` hub processes on ``db``, consuming once they are up."""
    children = [
        spawn(
            "hub",
            ["-m", "hub", "--log-level", "WARNING", "serve", "--broker-url", url_for(vhost, "hub", "hub-dev"),
             "--database-url", db, "--port", str(free_port())],
            {"SIHUB_SLA_POLICY": str(policy_path)},
            directory / f"hub-{label}-{n}.log",
        )
        for n in range(replicas)
    ]  # fmt: skip
    for child in children:
        wait_for_consumer(vhost, "sihub.hub.in", child, consumers=replicas)
    return children


def wait_until(condition: Callable[[], bool], timeout_seconds: float) -> bool:
    """Poll ``condition()`` every 20 ms; whether it held within ``timeout_seconds``."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def on_time(args: argparse.Namespace, report: Callable[[str], None]) -> Tally:
    """Registrations at ``rate`` while their warnings and breaches come due."""
    count = int(args.rate * args.seconds)
    batch = messages(count, 0)
    cases = [json.loads(body)["case_id"] for _, body in batch]
    with (
        scratch_county("sla-on-time") as vhost,
        tempfile.TemporaryDirectory() as tmp,
        ledger(args.database, Path(tmp)) as db,
    ):
        path = policy(Path(tmp), args.sign_seconds, args.warn_seconds)
        children = hubs(vhost, db, path, Path(tmp), args.replicas, "on-time")
        sink = Sink(url_for(vhost, "hrss", "hrss-dev"))
        receiver = threading.Thread(target=sink.run)
        receiver.start()
        try:
            produce(url_for(vhost, "hrss", "hrss-dev"), batch, args.rate, {})
            wait_until(lambda: sink.count("sla.breached") >= count, args.sign_seconds + 60)
            time.sleep(1.5)  # a duplicate would come within a tick
        finally:
            sink.stop.set()
            receiver.join(30)
            for child in children:
                child.stop()
    result = tally(sink.arrivals, cases, timedelta(seconds=args.warn_seconds))
    late = result.lateness
    report(
        f"on time: {count} cases at {args.rate:.0f}/s: {len(result.warning_lateness)} warnings, "
        f"{len(result.breach_lateness)} breaches; lateness p50 {percentile(late, 50):.2f} s, "
        f"p99 {percentile(late, 99):.2f} s, max {max(late, default=0.0):.2f} s; "
        f"{result.duplicates} duplicate(s), {result.missing} missing"
    )
    return result


@dataclass(frozen=True)
class Rate:
    """Deadlines fired per second, first to last arrival, and CPU per deadline."""

    per_second: float
    cpu_us: float
    tally: Tally | None = None


def breach_rate(sink: Sink, since: int = 0) -> float:
    """``sla.breached`` per second between the first and the last to arrive."""
    times = sorted(a.at for a in sink.arrivals[since:] if a.type == "sla.breached")
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def catching_up(count: int, database: str, replicas: int, report: Callable[[str], None]) -> Rate:
    """``replicas`` hubs starting with ``count`` overdue deadlines: how fast they fire them all."""
    batch = messages(count, 0)
    cases = [json.loads(body)["case_id"] for _, body in batch]
    # Long enough to register everything and stop the first hub before any warning is due.
    sign_seconds = max(15, int(count / 400) + 12)
    with (
        scratch_county("sla-backlog") as vhost,
        tempfile.TemporaryDirectory() as tmp,
        ledger(database, Path(tmp)) as db,
    ):
        path = policy(Path(tmp), sign_seconds, 1)
        sink = Sink(url_for(vhost, "hrss", "hrss-dev"))
        receiver = threading.Thread(target=sink.run)
        receiver.start()
        children: list[Child] = []
        try:
            children = hubs(vhost, db, path, Path(tmp), 1, "before")
            # A hub's CPU from its start until it consumes, idle: taken off the second hub's CPU.
            start_up = cpu_seconds(children[0].pid)
            produce(url_for(vhost, "hrss", "hrss-dev"), batch, None, {})
            if not wait_until(lambda: sink.count("case.routed") >= count, 120):
                raise RuntimeError("the registrations were not all routed")
            for child in children:
                child.stop()
            last_due = max(a.due for a in sink.arrivals if a.type == "case.routed" and a.due)
            while datetime.now().astimezone() < last_due + timedelta(seconds=0.5):
                time.sleep(0.1)
            if sink.count("sla.warning"):
                raise RuntimeError("a warning fired before the first hub stopped: registering took longer than the margin")
            since = len(sink.arrivals)
            children = hubs(vhost, db, path, Path(tmp), replicas, "after")
            wait_until(lambda: sink.count("sla.breached") >= count, 300)
            cpu = sum(cpu_seconds(c.pid) for c in children) - start_up * len(children)
            cpu_us = max(0.0, cpu) / count * 1e6
            time.sleep(1.5)
        finally:
            sink.stop.set()
            receiver.join(30)
            for child in children:
                child.stop()
    result = tally(sink.arrivals[since:], cases, timedelta(seconds=1), warnings=False)
    rate = breach_rate(sink, since)
    report(
        f" hub catching up: {len(result.breach_lateness)}/{count} overdue deadlines fired at "
        f"{rate:.0f}/s (3 messages each); {cpu_us:.0f} µs of CPU per deadline in the hub "
        f"process(es); {result.duplicates} duplicate(s), {result.missing} missing"
    )
    return Rate(rate, cpu_us, result)


def bare(count: int, report: Callable[[str], None]) -> Rate:
    """The messages of ``count`` breaches from a bare pika publisher."""
    with scratch_county("sla-bare") as vhost, tempfile.TemporaryDirectory() as tmp:
        sink = Sink(url_for(vhost, "hrss", "hrss-dev"))
        receiver = threading.Thread(target=sink.run)
        receiver.start()
        try:
            child = spawn(
                "bare scheduler",
                ["-m", "bench._bare_scheduler", url_for(vhost, "hub", "hub-dev"), str(count)],
                {},
                Path(tmp) / "bare.log",
            )
            wait_until(lambda: sink.count("sla.breached") >= count or child.popen.poll() not in (None, 0), 300)
            child.wait(60)
        finally:
            sink.stop.set()
            receiver.join(30)
    rate = breach_rate(sink)
    cpu = (child.cpu_seconds or 0.0) / max(1, count) * 1e6
    report(
        f"bare publisher: {sink.count('sla.breached')}/{count} at {rate:.0f}/s (3 messages each); "
        f"{cpu:.0f} µs of CPU per deadline (whole process, building the messages included)"
    )
    return Rate(rate, cpu)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench sla", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="registrations (and firings of each kind) per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the on-time run")
    parser.add_argument("--sign-seconds", type=int, default=10, help="the sign deadline of the on-time run")
    parser.add_argument("--warn-seconds", type=int, default=4, help="the warning, this long before the deadline")
    parser.add_argument("--backlog", type=int, default=3000, help="overdue deadlines of the catching-up run")
    add_ledger_options(parser, "hub processes sharing the ledger, each deadline still fired once")
    args = parser.parse_args(argv)
    check_ledger_options(parser, args)
    if not 0 < args.warn_seconds < args.sign_seconds:
        parser.error("--warn-seconds must be positive and below --sign-seconds")
    report = print
    report(
        f"bench sla: ledger on {args.database}, {args.replicas} hub process(es); sign within "
        f"{args.sign_seconds} s, warned {args.warn_seconds} s before"
    )
    punctual = on_time(args, report)
    baseline = bare(args.backlog, report)
    hub = catching_up(args.backlog, args.database, args.replicas, report)
    ratio = hub.per_second / baseline.per_second if baseline.per_second else 0.0
    p99 = percentile(punctual.lateness, 99)
    assert hub.tally is not None
    exact = punctual.duplicates + punctual.missing + hub.tally.duplicates + hub.tally.missing == 0
    report(f"p99 lateness {p99:.2f} s (bar ≤ {BAR_SECONDS:.0f} s); catching up: hub / bare publisher = {ratio:.2f}")
    return finish(
        "sla",
        {
            "rate": args.rate,
            "cases": int(args.rate * args.seconds),
            "p50_lateness_seconds": round(percentile(punctual.lateness, 50), 3),
            "p99_lateness_seconds": round(p99, 3),
            "max_lateness_seconds": round(max(punctual.lateness, default=0.0), 3),
            "duplicates": punctual.duplicates + hub.tally.duplicates,
            "missing": punctual.missing + hub.tally.missing,
            "backlog": args.backlog,
            "hub_breaches_per_s": round(hub.per_second),
            "bare_breaches_per_s": round(baseline.per_second),
            "hub_cpu_us_per_deadline": round(hub.cpu_us),
            "database": args.database,
            "replicas": args.replicas,
            "value": round(p99, 3),
        },
        f"p99 lateness <= {BAR_SECONDS:.0f} s and every deadline fired exactly once",
        round(ratio, 3),
        exact and p99 <= BAR_SECONDS,
    )
