"""``python -m bench ingest``: a payment-detail export end to end, against reading it once alone.

N rows (default 1 000 000) of a CSV export with the real Chinese headers, mixed
payers and insurance types, go the whole way the county runs them, every piece in
its own process over the real RabbitMQ (a scratch vhost with the sihub definitions):

* ``python -m hub tax push FILE --wait`` — the tax adapter reads and validates every
  row, splits the batch into parts under the body limit, publishes them with
  confirms, then waits for the hub's consolidated receipt of each part;
* ``python -m hub serve`` — the hub validates each part, records the batch, sends
  hrss and medins the records of their insurance types, reconciles their receipts
  and answers tax;
* ``python -m hub adapter run hrss`` / ``medins`` — auto-receipt: each validates its
  part and answers ``payment.receipt``.

Timed from the start of the tax process to the log line of the last part's receipt
at tax; then checked: the receipts' totals equal the rows sent and every part is
reconciled. The baseline, measured first and alone in its own process, is the tax
adapter's export reader turning the same file into ``PaymentRecord``s once. Bars:
end to end ≤ 60 s, and end-to-end rate ≥ 0.25 × baseline rate (each row is validated
three times on its way). Peak RSS of every process is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.dedup import StateDB
from adapters.tax import ledger
from bench._payment_export import write_export
from bench._processes import Child, spawn
from bench._support import ADMIN_URL, finish, free_port, scratch_county, url_for
from hub.bus.management import ManagementClient

RATIO_BAR = 0.25
SECONDS_BAR = 60.0
BATCH_ID = "tax-bench-ingest"
#: Queues that must have their consumer before the push starts (start-up is not timed).
CONSUMED = ("sihub.hub.in", "sihub.dept.hrss", "sihub.dept.medins")


def wait_until_consumed(vhost: str, hub_port: int, timeout_seconds: float) -> None:
    """Block until the hub answers ``/readyz`` and every queue of :data:`CONSUMED` has a consumer.

    Raises:
        TimeoutError: not within ``timeout_seconds``.
    """
    management = ManagementClient.for_broker(ADMIN_URL)
    deadline = time.monotonic() + timeout_seconds
    try:
        while time.monotonic() < deadline:
            consumers = {q["name"]: q.get("consumers", 0) for q in management.queues(vhost)}
            if all(consumers.get(name, 0) > 0 for name in CONSUMED) and _ready(hub_port):
                return
            time.sleep(0.2)
    finally:
        management.close()
    raise TimeoutError(f"the hub and adapters did not come up within {timeout_seconds:.0f}s")


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def check_receipts(state_path: Path, rows: int) -> dict[str, Any]:
    """What tax recorded: parts, receipts, totals, and whether they account for all ``rows``."""
    state = StateDB(state_path)
    try:
        parts = ledger.parts(state, BATCH_ID)
    finally:
        state.close()
    receipts = [p.receipt for p in parts if p.receipt is not None]
    sent = sum(p.records for p in parts)
    received = sum(r.received for r in receipts)
    accepted = sum(r.accepted for r in receipts)
    sent_total = sum((p.amount_paid_total for p in parts), Decimal("0.00"))
    accepted_total = sum((r.amount_paid_total for r in receipts), Decimal("0.00"))
    departments = sorted({d.value for r in receipts for d in r.departments})
    return {
        "parts": len(parts),
        "receipts": len(receipts),
        "records_sent": sent,
        "received": received,
        "accepted": accepted,
        "amount_sent": f"{sent_total:.2f}",
        "amount_accepted": f"{accepted_total:.2f}",
        "departments": departments,
        "reconciled": bool(parts) and all(p.reconciled for p in parts),
        "complete": bool(parts) and len(receipts) == len(parts) and sent == received == accepted == rows
        and sent_total == accepted_total and departments == ["hrss", "medins"],
    }


def run_baseline(path: Path, tmp: Path, timeout_seconds: float) -> tuple[dict[str, Any], Child]:
    """Read and validate the export once, alone, in its own process."""
    child = spawn("baseline", ["-m", "bench._payment_export", str(path)], {}, tmp / "baseline.log", watch=True)
    if not child.wait(timeout_seconds):
        child.stop()
        raise TimeoutError("the baseline did not finish in time")
    figures: dict[str, Any] = json.loads(child.lines[-1][1])
    return figures, child


def run_county(
    path: Path, tmp: Path, database: str, rows: int, timeout_seconds: float, report: Callable[[str], None]
) -> tuple[dict[str, Any], list[Child]]:
    """The hub and the three adapters, each its own process, on a scratch vhost; tax timed."""
    with scratch_county("ingest") as vhost:
        port = free_port()
        db = f"sqlite:///{tmp / 'ledger.db'}" if database == "sqlite" else database
        hub = spawn("hub", ["-m", "hub", "--log-level", "WARNING", "serve", "--broker-url",
                            url_for(vhost, "hub", "hub-dev"), "--database-url", db, "--port", str(port)],
                    {}, tmp / "hub.log")
        children = [hub] + [
            spawn(code, ["-m", "hub", "adapter", "run", code],
                  {"SIHUB_BROKER_URL": url_for(vhost, code, f"{code}-dev"),
                   "SIHUB_ADAPTER_STATE": str(tmp / f"{code}.db"), "SIHUB_ADAPTER_AUTO_RECEIPT": "true"},
                  tmp / f"{code}.log")
            for code in ("hrss", "medins")
        ]
        try:
            wait_until_consumed(vhost, port, 60)
            report("hub, hrss and medins are consuming; starting the tax push")
            tax = spawn("tax", ["-m", "hub", "tax", "push", str(path), "--wait", "--batch-id", BATCH_ID,
                                "--timeout", str(timeout_seconds)],
                        {"SIHUB_BROKER_URL": url_for(vhost, "tax", "tax-dev"),
                         "SIHUB_ADAPTER_STATE": str(tmp / "tax.db")},
                        tmp / "tax.log", watch=True)
            children.append(tax)
            finished = tax.wait(timeout_seconds + 60)
        finally:
            for child in children:
                child.stop()
    if not finished:
        report(f"tax push did not finish within {timeout_seconds + 60:.0f}s (see {tmp / 'tax.log'})")
    receipts = [at for at, line in tax.lines if "receipt of " + BATCH_ID in line]
    assert tax.ended is not None
    end = receipts[-1] if receipts else tax.ended
    pushed = tax.first_line("waiting up to")
    figures = {
        "seconds": end - tax.started,
        "push_seconds": None if pushed is None else pushed - tax.started,
        "tax_exit_seconds": tax.ended - tax.started,
        "tax_exit_code": tax.exit_code,
        **check_receipts(tmp / "tax.db", rows),
    }
    return figures, children


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the export")
    parser.add_argument("--database", default="sqlite", help="'sqlite' (a temp file) or a PostgreSQL URL")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the receipts")
    args = parser.parse_args(argv)
    report = print
    with tempfile.TemporaryDirectory(prefix="sihub-bench-ingest-") as name:
        tmp = Path(name)
        path = tmp / "缴费明细.csv"
        started = time.perf_counter()
        expected = write_export(path, args.rows)
        report(f"bench ingest: {args.rows} rows ({path.stat().st_size / 2**20:.1f} MiB CSV, "
               f"{expected['hrss']} for hrss, {expected['medins']} for medins) written in "
               f"{time.perf_counter() - started:.1f}s; ledger on {args.database}")
        base, base_child = run_baseline(path, tmp, args.timeout)
        base_rate = base["records"] / base["seconds"]
        # The box is shared: a baseline whose wall time far exceeds its CPU time was slowed by others.
        report(f"baseline (read + validate once, alone): {base['records']}/{base['rows']} rows in "
               f"{base['seconds']:.2f}s = {base_rate:.0f} rows/s (process CPU {base_child.cpu_seconds or 0:.1f}s, "
               f"load average {os.getloadavg()[0]:.1f}), peak RSS {base['peak_rss_kib'] / 1024:.0f} MiB")
        run, children = run_county(path, tmp, args.database, args.rows, args.timeout, report)
    rate = args.rows / run["seconds"] if run["complete"] else 0.0
    ratio = rate / base_rate if base_rate else 0.0
    push = run["push_seconds"]
    report(f"end to end: {run['seconds']:.2f}s = {rate:.0f} rows/s, load average {os.getloadavg()[0]:.1f} "
           f"(push read+split+publish "
           f"{push if push is None else round(push, 2)}s; tax exited at {run['tax_exit_seconds']:.2f}s, "
           f"code {run['tax_exit_code']})")
    report(f"receipts: {run['receipts']}/{run['parts']} parts, {run['received']} received, {run['accepted']} "
           f"accepted of {run['records_sent']} sent; amount {run['amount_accepted']} of {run['amount_sent']}; "
           f"departments {','.join(run['departments'])}; reconciled {run['reconciled']}")
    for child in [base_child, *children]:
        report(f"  {child.name:>8}: peak RSS {(child.peak_rss_kib or 0) / 1024:.0f} MiB, "
               f"CPU {child.cpu_seconds or 0:.1f}s, exit {child.exit_code}")
    report(f"ratio end-to-end / baseline = {ratio:.3f} (bar ≥ {RATIO_BAR}); "
           f"{run['seconds']:.1f}s (bar ≤ {SECONDS_BAR:.0f}s)")
    ok = bool(run["complete"] and run["reconciled"])
    return finish(
        "ingest",
        {
            "rows": args.rows,
            "seconds": round(run["seconds"], 2),
            "rows_per_s": round(rate),
            "baseline_rows_per_s": round(base_rate),
            "baseline_seconds": round(base["seconds"], 2),
            "baseline_cpu_seconds": round(base_child.cpu_seconds or 0, 1),
            "push_seconds": None if push is None else round(push, 2),
            "parts": run["parts"],
            "received": run["received"],
            "accepted": run["accepted"],
            "reconciled": run["reconciled"],
            "complete": run["complete"],
            "database": args.database,
            "peak_rss_mib": {c.name: round((c.peak_rss_kib or 0) / 1024) for c in [base_child, *children]},
            "cpu_seconds": {c.name: round(c.cpu_seconds or 0, 1) for c in [base_child, *children]},
            "bars": {"ratio": f">= {RATIO_BAR}", "seconds": f"<= {SECONDS_BAR:.0f}"},
            "ratio_pass": ratio >= RATIO_BAR,
            "seconds_pass": run["seconds"] <= SECONDS_BAR,
        },
        f"end-to-end rate >= {RATIO_BAR} x read+validate once, and <= {SECONDS_BAR:.0f} s",
        round(ratio, 3),
        ok and ratio >= RATIO_BAR and run["seconds"] <= SECONDS_BAR,
    )
