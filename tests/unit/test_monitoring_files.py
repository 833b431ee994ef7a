"""monitoring/: Prometheus rules (promtool), alert conventions, Grafana dashboards and provisioning."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hub.metrics import HubMetrics, LedgerSnapshot, register_ledger_collector
from tests.support.dashboards import (
    UnresolvedVariableError,
    iter_panels,
    panel_queries,
    variable_queries,
)
from tests.support.tools import REPO, require_tool, run_tool

RULES = REPO / "monitoring" / "prometheus"
RULE_FILES = (RULES / "alerts.yml", RULES / "recording.yml")
RULE_TESTS = sorted((RULES / "tests").glob("*.yml"))
DASHBOARDS = sorted((REPO / "monitoring" / "grafana" / "dashboards").glob("*.json"))
PROVISIONING = REPO / "monitoring" / "grafana" / "provisioning"
RUNBOOK = REPO / "docs" / "runbook.md"
METRICS_DOC = REPO / "docs" / "metrics.md"

CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"[A-Za-z]{3,}")
METRIC_NAME = re.compile(r"\b((?:sihub|rabbitmq)_[a-z0-9_]+)")
RECORDED_NAME = re.compile(r"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules(path: Path) -> Iterator[dict[str, Any]]:
    for group in load_yaml(path)["groups"]:
        yield from group["rules"]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for rule in rules(RULES / "alerts.yml") if "alert" in rule]


def dashboards() -> list[dict[str, Any]]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in DASHBOARDS]


def dashboard_exprs() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for dashboard in dashboards():
        for panel in iter_panels(dashboard["panels"]):
            found.extend((panel["title"], t["expr"]) for t in panel.get("targets", []))
    return found


def hub_metric_names() -> set[str]:
    """Every metric name the real HubMetrics and ledger collector expose, as PromQL sees them.

    Counters as ``x_total``, gauges by name, histograms by name and as ``_bucket``,
    ``_sum`` and ``_count``; the ``_created`` series are left out.
    """

    class Empty:
        def ledger_snapshot(self, now: datetime) -> LedgerSnapshot:
            return LedgerSnapshot()

    registry = CollectorRegistry()
    HubMetrics(registry)
    register_ledger_collector(registry, Empty(), lambda: datetime.now(UTC))
    names: set[str] = set()
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in ("", "_bucket", "_sum", "_count"))
        elif family.type == "counter":
            names.add(family.name + "_total")
        elif not family.name.endswith("_created"):
            names.add(family.name)
    return names


def raw_metric_names(texts: list[str]) -> set[str]:
    """Metric names in PromQL texts, not counting the parts of recording-rule names."""
    return {name for text in texts for name in METRIC_NAME.findall(RECORDED_NAME.sub("", text))}


# ------------------------------------------------------------------ promtool


def test_rule_files_pass_promtool_check_rules() -> None:
    promtool = require_tool("promtool", "prometheus")
    checked = run_tool([promtool, "check", "rules", *map(str, RULE_FILES)])
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=lambda path: path.name)
def test_rule_unit_tests_pass_promtool_test_rules(test_file: Path) -> None:
    promtool = require_tool("promtool", "prometheus")
    tested = run_tool([promtool, "test", "rules", test_file.name], cwd=test_file.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    # promtool has no "parse this expression" command: check them as recording rules.
    promtool = require_tool("promtool", "prometheus")
    exprs: list[str] = []
    for dashboard in dashboards():
        values = dict.fromkeys(variable_queries(dashboard), "x")
        exprs.extend(expr for _, expr in panel_queries(dashboard, values))
    rules_file = tmp_path / "dashboard_queries.yml"
    records = [{"record": f"dashboard:query_{i}:check", "expr": e} for i, e in enumerate(exprs)]
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": records}]}))
    checked = run_tool([promtool, "check", "rules", str(rules_file)])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert len(exprs) >= 40


# ------------------------------------------------------------------ alert conventions


def test_every_alert_has_a_severity_bilingual_annotations_and_a_runbook_anchor() -> None:
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', RUNBOOK.read_text(encoding="utf-8")))
    for rule in alert_rules():
        name = rule["alert"]
        severity = rule["labels"]["severity"]
        assert severity in ("critical", "warning") or {"critical", "warning"} <= set(
            re.findall(r"critical|warning", severity)
        ), name
        for key in ("summary", "description"):
            text = rule["annotations"][key]
            assert CJK.search(text) and ENGLISH.search(text), f"{name}.{key} is not bilingual"
        url = rule["annotations"]["runbook_url"]
        assert url.startswith("docs/runbook.md#"), name
        assert url.split("#", 1)[1] in anchors, f"{name}: no anchor {url} in docs/runbook.md"


def test_every_alert_is_unit_tested_both_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested staying quiet"


def test_required_alerts_exist() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    assert {
        "SihubSlaBreached", "SihubDeadlinesOverdue", "SihubDeadlinesDueNextWorkday",
        "SihubCaseUnsigned", "SihubQuarantineGrowing", "SihubOutboxNotDraining",
        "SihubDepartmentQueueNoConsumer", "SihubNotReady", "SihubDown",
        "SihubPaymentReceiptOverdue", "SihubRabbitmqDown", "SihubCalendarFallback",
    } <= names  # fmt: skip


def test_every_recording_rule_feeds_a_dashboard_and_the_arithmetic_ones_are_tested() -> None:
    recorded = {rule["record"] for rule in rules(RULES / "recording.yml")}
    used = {name for _, expr in dashboard_exprs() for name in RECORDED_NAME.findall(expr)}
    tested = {
        name
        for path in RULE_TESTS
        for case in load_yaml(path)["tests"]
        for check in case.get("promql_expr_test", [])
        for name in RECORDED_NAME.findall(check["expr"])
    }
    assert used - recorded == set(), "dashboards use recording rules that do not exist"
    assert recorded - used == set(), "recording rules no dashboard uses"
    assert {r for r in recorded if "compliance" in r or "at_risk" in r or "rate5m" in r} - {
        r for r in recorded if "latency" in r or "rejections" in r
    } <= tested


def test_rules_and_dashboards_name_only_metrics_the_hub_exposes() -> None:
    exposed = hub_metric_names()
    texts = [rule["expr"] for path in RULE_FILES for rule in rules(path)]
    texts += [expr for _, expr in dashboard_exprs()]
    sihub_names = {n for n in raw_metric_names(texts) if n.startswith("sihub_")}
    assert sihub_names, "no sihub metric found in rules and dashboards"
    assert sihub_names - exposed == set()


def test_every_metric_is_documented() -> None:
    documented = set(re.findall(r"`((?:sihub|rabbitmq)_[a-z0-9_]+)", METRICS_DOC.read_text()))
    exposed = {n for n in hub_metric_names() if not n.endswith(("_bucket", "_sum", "_count"))}
    assert exposed - documented == set(), "metrics missing from docs/metrics.md"
    texts = [rule["expr"] for path in RULE_FILES for rule in rules(path)]
    texts += [expr for _, expr in dashboard_exprs()]
    used_rabbit = {n for n in raw_metric_names(texts) if n.startswith("rabbitmq_")}
    assert used_rabbit - documented == set(), "RabbitMQ metrics missing from docs/metrics.md"


# ------------------------------------------------------------------ Grafana


def provisioned_datasource_uids() -> set[str]:
    uids: set[str] = set()
    for path in (PROVISIONING / "datasources").glob("*.yml"):
        config = load_yaml(path)
        assert config["apiVersion"] == 1, path
        uids.update(ds["uid"] for ds in config["datasources"])
    return uids


def test_provisioning_declares_the_prometheus_datasource_and_the_dashboard_folder() -> None:
    assert "prometheus" in provisioned_datasource_uids()
    providers = load_yaml(PROVISIONING / "dashboards" / "sihub.yml")
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    compose = load_yaml(REPO / "deploy" / "compose.yaml")
    mounts = compose["services"]["grafana"]["volumes"]
    mounted = {m.split(":")[1]: m.split(":")[0] for m in mounts if m.startswith(".")}
    # The provider reads exactly the folder compose mounts the dashboards into.
    assert mounted[provider["options"]["path"]] == "../monitoring/grafana/dashboards"


def test_dashboards_are_valid_grafana_json() -> None:
    uids = provisioned_datasource_uids()
    seen_uids: set[str] = set()
    assert len(DASHBOARDS) == 3
    for dashboard in dashboards():
        title = dashboard["title"]
        assert dashboard["uid"] not in seen_uids, title
        seen_uids.add(dashboard["uid"])
        assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
        assert CJK.search(title) and re.search(r"\([A-Za-z][^)]*\)$", title), title
        assert isinstance(dashboard["templating"]["list"], list)
        ids = [panel["id"] for panel in iter_panels(dashboard["panels"])]
        assert len(ids) == len(set(ids)), f"{title}: duplicate panel ids"
        for panel in iter_panels(dashboard["panels"]):
            assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
            if panel["type"] == "row":
                continue
            assert CJK.search(panel["title"]) and ENGLISH.search(panel["title"]), panel["title"]
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
            assert panel["targets"], panel["title"]
            ref_ids = [target["refId"] for target in panel["targets"]]
            assert len(ref_ids) == len(set(ref_ids)), panel["title"]
            for target in panel["targets"]:
                assert target["expr"].strip(), panel["title"]
                assert target["datasource"]["uid"] in uids, panel["title"]
        for variable in dashboard["templating"]["list"]:
            assert variable["datasource"]["uid"] in uids, variable["name"]


def test_department_dashboard_lists_every_department_even_when_none_has_open_cases() -> None:
    # Taking the list from sihub_cases_open left it empty whenever nothing was open
    # (seen at the end of `sihub demo`); sihub_department_info always has every department.
    from prometheus_client import CollectorRegistry, generate_latest

    from contracts.codes import QUEUE_DEPARTMENTS
    from hub.metrics import HubMetrics

    (department,) = [d for d in dashboards() if d["uid"] == "sihub-department"]
    assert variable_queries(department) == {"department": ("sihub_department_info", "department")}
    registry = CollectorRegistry()
    HubMetrics(registry)
    scrape = generate_latest(registry).decode()
    for code in QUEUE_DEPARTMENTS:
        assert f'sihub_department_info{{department="{code.value}"}} 1.0' in scrape
    exprs = [expr for _, expr in panel_queries(department, {"department": "hrss"})]
    assert sum('department="hrss"' in expr or "dept.hrss" in expr for expr in exprs) >= 10


def test_sla_overview_shows_what_the_leading_group_office_asked_for() -> None:
    (overview,) = [d for d in dashboards() if d["uid"] == "sihub-sla-overview"]
    exprs = " ".join(expr for _, expr in panel_queries(overview, {}))
    for needed in ("sihub_sla_breaches_total", "department_tier:sihub_deadlines_at_risk:sum",
                   "department:sihub_sla_compliance:ratio30d", "tier:sihub_cases_open:sum"):  # fmt: skip
        assert needed in exprs


def test_message_flow_dashboard_covers_latency_rejections_outbox_quarantine_and_queues() -> None:
    (flow,) = [d for d in dashboards() if d["uid"] == "sihub-message-flow"]
    exprs = " ".join(expr for _, expr in panel_queries(flow, {"vhost": "sihub"}))
    for needed in ("county:sihub_message_latency_seconds:p50_rate5m",
                   "county:sihub_message_latency_seconds:p99_rate5m",
                   "reason:sihub_message_rejections:rate5m", "sihub_outbox_pending",
                   "sihub_quarantine_messages", "rabbitmq_queue_messages_ready"):  # fmt: skip
        assert needed in exprs


def test_panel_queries_substitute_every_variable_form_and_refuse_unknown_ones() -> None:
    dashboard = {
        "panels": [
            {"title": "row $department", "type": "row", "panels": [
                {"title": "q", "targets": [
                    {"expr": 'rate(x{d="$department"}[$__rate_interval])'},
                    {"expr": 'y{d="${department}", v="[[vhost]]"}'},
                ]},
            ]},
        ]
    }  # fmt: skip
    queries = panel_queries(dashboard, {"department": "tax", "vhost": "sihub"})
    assert queries == [("q", 'rate(x{d="tax"}[1m])'), ("q", 'y{d="tax", v="sihub"}')]
    with pytest.raises(UnresolvedVariableError, match=r"\$vhost"):
        panel_queries(dashboard, {"department": "tax"})
