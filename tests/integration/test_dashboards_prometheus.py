"""Every Grafana panel query, and the alerts, against a real Prometheus with real targets.

A Prometheus of our own (free loopback port, temp dir) runs deploy/prometheus/prometheus.yml
with its targets pointed at (a) a live sihub ``/metrics`` in the county scenario and
(b) the test RabbitMQ's rabbitmq_prometheus (``/metrics`` and ``/metrics/per-object``),
and loads monitoring/prometheus/{alerts,recording}.yml. A scratch vhost holds the sihub
queues: a department queue with messages and no consumer, a consumed hub queue.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pika
import pytest

from tests.support.dashboards import (
    check_queries,
    panel_queries,
    prometheus_config,
    variable_queries,
    wait_for_recordings,
)
from tests.support.fake_hub_metrics import serving_scenario
from tests.support.prometheus import RunningPrometheus, running_prometheus
from tests.support.tools import REPO

pytestmark = pytest.mark.integration

#: rabbitmq_prometheus of the test broker.
RABBITMQ_PROMETHEUS = os.environ.get("SIHUB_TEST_RABBITMQ_PROMETHEUS", "127.0.0.1:15692")
DASHBOARDS = sorted((REPO / "monitoring" / "grafana" / "dashboards").glob("*.json"))
#: The department the scenario gives something in every panel.
SCENARIO_DEPARTMENT = "hrss"
WAIT = timedelta(seconds=45)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def hub_metrics_target() -> Iterator[str]:
    """``host:port`` of a live sihub ``/metrics`` in the county scenario.

    Today the real HubMetrics and ledger collector over a scenario ledger
    (tests/support/fake_hub_metrics.py). To check the dashboards against the real
    hub, start ``sihub demo --serve`` here and yield its address instead.
    """
    with serving_scenario() as address:
        yield address


@pytest.fixture(scope="module")
def rabbitmq_prometheus(rabbit_management: Any) -> str:
    """The test broker's rabbitmq_prometheus endpoint, once it answers."""
    deadline = time.monotonic() + 30
    enabled = False
    while True:
        try:
            if httpx.get(f"http://{RABBITMQ_PROMETHEUS}/metrics", timeout=5).status_code == 200:
                return RABBITMQ_PROMETHEUS
        except httpx.TransportError:
            pass
        if not enabled and (command := shutil.which("rabbitmq-plugins")):
            # Online and idempotent; the broker is shared, so never restart it.
            subprocess.run([command, "enable", "rabbitmq_prometheus"], capture_output=True,
                           timeout=60, check=False)  # fmt: skip
            enabled = True
        if time.monotonic() > deadline:
            _unavailable(f"rabbitmq_prometheus not answering at {RABBITMQ_PROMETHEUS}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def sihub_queues(scratch_vhost: str, rabbit_url: Callable[..., str]) -> Iterator[str]:
    """The sihub queues in a scratch vhost: hrss has 3 messages waiting and no consumer."""
    connection = pika.BlockingConnection(
        pika.URLParameters(rabbit_url(scratch_vhost) + "?heartbeat=0")
    )
    channel = connection.channel()
    for queue in ("sihub.hub.in", "sihub.dept.hrss", "sihub.dept.tax", "sihub.quarantine"):
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    channel.confirm_delivery()
    for body in (b"1", b"2", b"3"):
        channel.basic_publish("", "sihub.dept.hrss", body, pika.BasicProperties(delivery_mode=2))
    channel.basic_publish("", "sihub.quarantine", b"refused", pika.BasicProperties(delivery_mode=2))
    channel.basic_consume("sihub.hub.in", lambda *_: None)
    yield scratch_vhost
    connection.close()


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory,
    hub_metrics_target: str,
    rabbitmq_prometheus: str,
    sihub_queues: str,
) -> Iterator[RunningPrometheus]:
    """A real Prometheus that has scraped everything twice and evaluated the rules."""
    if shutil.which("prometheus") is None:
        _unavailable("prometheus is not installed (apt-get install prometheus)")
    workdir = tmp_path_factory.mktemp("prometheus")
    with running_prometheus(workdir, prometheus_config(hub_metrics_target, rabbitmq_prometheus)) as prom:  # fmt: skip
        for job in ("sihub", "rabbitmq", "rabbitmq-queues"):
            prom.wait_for_scrapes(job, 2, WAIT)
        # Queue statistics reach rabbitmq_prometheus every few seconds.
        prom.wait_until(
            f'vhost_queue:rabbitmq_queue_messages_ready:sum{{vhost="{sihub_queues}", queue="sihub.dept.hrss"}} >= 3',
            WAIT,
        )  # fmt: skip
        prom.wait_until("outcome:sihub_messages:rate5m > 0", WAIT)
        # The SLA overview lists firing alerts: let the rules fire once.
        prom.wait_until('ALERTS{alertname="SihubSlaBreached", alertstate="firing"}', WAIT)
        wait_for_recordings(prom, WAIT)
        yield prom


def load_dashboard(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def chosen_values(prom: RunningPrometheus, dashboard: dict[str, Any], vhost: str) -> dict[str, str]:
    """Each variable's value as Grafana would offer it: from label_values() on real data."""
    preferred = {"department": SCENARIO_DEPARTMENT, "vhost": vhost}
    chosen = {}
    for name, (match, label) in variable_queries(dashboard).items():
        offered = prom.label_values(label, match)
        assert preferred[name] in offered, f"${name}: {preferred[name]} not in {offered}"
        chosen[name] = preferred[name]
    return chosen


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_query_runs_and_returns_series(
    prometheus: RunningPrometheus, sihub_queues: str, path: Path
) -> None:
    dashboard = load_dashboard(path)
    queries = panel_queries(dashboard, chosen_values(prometheus, dashboard, sihub_queues))
    assert queries
    assert check_queries(prometheus.url, queries, lambda title, expr: True) == []


def test_department_view_queries_run_for_every_department_offered(
    prometheus: RunningPrometheus,
) -> None:
    (path,) = [p for p in DASHBOARDS if p.stem == "department"]
    dashboard = load_dashboard(path)
    offered = prometheus.label_values("department", "sihub_cases_open")
    assert {"tax", "hrss", "medins", "lgo", "taskforce"} <= set(offered)
    for department in offered:
        queries = panel_queries(dashboard, {"department": department})
        assert check_queries(prometheus.url, queries, lambda title, expr: False) == []


def alerts(prom: RunningPrometheus, name: str) -> list[dict[str, str]]:
    return [sample["metric"] for sample in prom.query(f'ALERTS{{alertname="{name}"}}')]


def test_alerts_fire_on_the_real_metric_names_and_labels(
    prometheus: RunningPrometheus, sihub_queues: str
) -> None:
    (breach,) = alerts(prometheus, "SihubSlaBreached")
    assert (breach["department"], breach["tier"], breach["stage"]) == ("hrss", "routine", "handle")
    assert breach["severity"] == "warning"
    overdue = {(a["department"], a["stage"]) for a in alerts(prometheus, "SihubDeadlinesOverdue")}
    assert overdue == {("hrss", "handle"), ("lgo", "handle")}
    (receipt,) = alerts(prometheus, "SihubPaymentReceiptOverdue")
    assert receipt["target"] == "hrss"
    prometheus.wait_until(
        f'ALERTS{{alertname="SihubDepartmentQueueNoConsumer", vhost="{sihub_queues}"}}', WAIT
    )
    waiting = [a for a in alerts(prometheus, "SihubDepartmentQueueNoConsumer") if a["vhost"] == sihub_queues]  # fmt: skip
    # hrss has messages and no consumer; tax has neither and never had an adapter.
    assert [(a["queue"], a["department"]) for a in waiting] == [("sihub.dept.hrss", "hrss")]
    hub_queue = [a for a in alerts(prometheus, "SihubHubQueueNoConsumer") if a["vhost"] == sihub_queues]  # fmt: skip
    assert hub_queue == []
    for quiet in ("SihubNotReady", "SihubDown", "SihubRabbitmqDown", "SihubOutboxNotDraining"):
        assert alerts(prometheus, quiet) == [], quiet
