"""Every dashboard query against a real Prometheus scraping the real hub after the county scenario.

``sihub demo --serve`` runs the month over RabbitMQ and keeps the hub's API up; a
real Prometheus scrapes it and RabbitMQ's ``rabbitmq_prometheus``; every panel of
every dashboard must run, and return series wherever the scenario produced them.
Gauges of open work (open and unsigned cases, deadlines due or overdue, batches
awaiting receipts) are empty by design at the end of the month: every case closed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from hub.bus.management import ManagementClient
from tests.support.dashboards import (
    check_queries,
    panel_queries,
    prometheus_config,
    variable_queries,
    wait_for_recordings,
)
from tests.support.network import free_port
from tests.support.prometheus import RunningPrometheus, running_prometheus

pytestmark = pytest.mark.integration

DASHBOARDS = sorted(
    (Path(__file__).resolve().parents[2] / "monitoring/grafana/dashboards").glob("*.json")
)
WAIT = timedelta(seconds=60)
#: Metrics of open work: at the end of the scenario every case is closed, so these are empty.
EMPTY_AT_MONTH_END = (
    "sihub_cases_open",
    "sihub_cases_unsigned",
    "sihub_case_unsigned_oldest_seconds",
    "sihub_deadlines_due_next_workday",
    "sihub_deadlines_overdue",
    "sihub_deadlines_at_risk",
    "sihub_payment_batches_awaiting_receipt",
    "sihub_payment_batches_overdue",
    "ALERTS",
)


@pytest.fixture(scope="module")
def watched_month(
    tmp_path_factory: pytest.TempPathFactory,
    rabbit_management: ManagementClient,
    rabbit_url: Callable[..., str],
) -> Iterator[tuple[RunningPrometheus, str]]:
    """(Prometheus, vhost): Prometheus scrapes ``sihub demo --serve`` while its month runs, and after."""
    if shutil.which("prometheus") is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed (apt-get install prometheus)")
        pytest.skip("prometheus is not installed")
    vhost = f"sihub-test-dash-{uuid.uuid4().hex[:8]}"
    port = free_port()
    config = prometheus_config(f"127.0.0.1:{port}", "127.0.0.1:15692")
    with (
        running_prometheus(tmp_path_factory.mktemp("prometheus"), config) as prom,
        tempfile.NamedTemporaryFile(suffix=".log") as log,
    ):
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hub",
                "--log-level",
                "WARNING",
                "demo",
                "--broker",
                rabbit_url(vhost),
                "--serve",
                "--port",
                str(port),
                "--quiet",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
        try:
            deadline = time.monotonic() + 240
            while "the API and /metrics stay up" not in Path(log.name).read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"sihub demo --serve did not finish its month: {Path(log.name).read_text()[-3000:]}"
                    )
                time.sleep(0.5)
            for job in ("sihub", "rabbitmq", "rabbitmq-queues"):
                prom.wait_for_scrapes(job, 2, WAIT)
            prom.wait_until(
                f'vhost_queue:rabbitmq_queue_consumers:sum{{vhost="{vhost}", queue="sihub.dept.tax"}} >= 1',
                WAIT,
            )
            prom.wait_until("sum(sihub_cases_closed_total) >= 7", WAIT)
            wait_for_recordings(prom, WAIT)
            yield prom, vhost
        finally:
            process.terminate()
            process.wait(30)
            rabbit_management.delete_vhost(vhost)


@pytest.fixture(scope="module")
def prometheus(watched_month: tuple[RunningPrometheus, str]) -> RunningPrometheus:
    return watched_month[0]


def expect_series(title: str, expr: str) -> bool:
    return not any(name in expr for name in EMPTY_AT_MONTH_END)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_query_runs_against_the_real_hub(
    watched_month: tuple[RunningPrometheus, str], path: Path
) -> None:
    prometheus, vhost = watched_month
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    chosen = {}
    for name, (match, label) in variable_queries(dashboard).items():
        offered = prometheus.label_values(label, match)
        wanted = vhost if name == "vhost" else "tax"
        assert wanted in offered, f"${name}: {wanted} not offered by label_values ({offered})"
        chosen[name] = wanted
    queries = panel_queries(dashboard, chosen)
    assert queries
    assert check_queries(prometheus.url, queries, expect_series) == []


def test_the_hub_reports_the_scenario_it_ran(prometheus: RunningPrometheus) -> None:
    breaches = prometheus.query("sum(sihub_sla_breaches_total)")
    escalations = prometheus.query(
        'sum by (to_tier) (sihub_escalations_total{trigger="sla_breach"}) > 0'
    )
    rejected = prometheus.query("sum by (reason) (sihub_message_rejections_total) > 0")
    assert float(breaches[0]["value"][1]) == 2
    assert {e["metric"]["to_tier"]: float(e["value"][1]) for e in escalations} == {
        "difficult": 1,
        "major": 1,
    }
    assert {r["metric"]["reason"] for r in rejected} == {
        "invalid_id_number",
        "schema_violation",
        "source_mismatch",
    }


def test_promtool_finds_the_live_scrape_clean(watched_month: tuple[RunningPrometheus, str]) -> None:
    prometheus, _ = watched_month
    (target,) = [
        t["scrapeUrl"]
        for t in prometheus.api("targets")["activeTargets"]
        if t["labels"]["job"] == "sihub"
    ]
    scrape = httpx.get(target, timeout=10).text
    assert "sihub_messages_total" in scrape and "sihub_cases_closed_total" in scrape
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=scrape, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0 and not checked.stdout.strip() and not checked.stderr.strip(), (
        checked.stdout + checked.stderr
    )
