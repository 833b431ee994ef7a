"""Run every query of a Grafana dashboard against a real Prometheus.

``panel_queries`` walks a dashboard's panels (rows included) and returns each
target's PromQL with the dashboard variables and Grafana's built-ins substituted;
``check_queries`` runs them and reports every query that errors or, where the
caller expects data, returns no series. Both work on plain JSON data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

#: What Grafana would put for its built-in variables in a test-sized time range.
GRAFANA_BUILTINS: Mapping[str, str] = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
_LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*(?:(?P<match>.+?)\s*,\s*)?(?P<label>\w+)\s*\)\s*$"
)


class UnresolvedVariableError(ValueError):
    """A query uses a variable that neither the dashboard nor Grafana defines."""


REPO_ROOT = Path(__file__).resolve().parents[2]


def iter_panels(panels: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every panel, including those nested in (collapsed) rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """``expr`` with ``$var``, ``${var}``, ``${var:fmt}`` and ``[[var]]`` replaced.

    Raises:
        UnresolvedVariableError: a variable has no value in ``variables`` or the built-ins.
    """
    values = {**GRAFANA_BUILTINS, **variables}

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name not in values:
            raise UnresolvedVariableError(f"${name} in {expr!r} has no value")
        return values[name]

    return _VARIABLE.sub(replace, expr)


def panel_queries(
    dashboard: Mapping[str, Any], variables: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel, variables substituted."""
    queries: list[tuple[str, str]] = []
    for panel in iter_panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                title = substitute(str(panel.get("title", "")), variables)
                queries.append((title, substitute(target["expr"], variables)))
    return queries


def variable_queries(dashboard: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Each ``label_values(match, label)`` query variable as name → (match, label)."""
    found: dict[str, tuple[str, str]] = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, Mapping) else str(query or "")
        parsed = _LABEL_VALUES.match(text)
        if parsed is None:
            raise ValueError(f"variable {variable.get('name')}: unsupported query {text!r}")
        found[variable["name"]] = (parsed["match"] or "{__name__=~'.+'}", parsed["label"])
    return found


def instant_query(client: httpx.Client, expr: str) -> list[Any]:
    """Run ``expr`` as an instant query; the result list.

    Raises:
        ValueError: Prometheus answered with an error (bad PromQL, unknown function...).
    """
    body = client.get("/api/v1/query", params={"query": expr}).json()
    if body.get("status") != "success":
        raise ValueError(f"{body.get('errorType')}: {body.get('error')}")
    result = body["data"]["result"]
    # A scalar or string result is one value, not a list of series.
    return result if isinstance(result, list) else [result]


def check_queries(
    prom_url: str,
    queries: Sequence[tuple[str, str]],
    expect_series: Callable[[str, str], bool],
) -> list[str]:
    """Run every query against ``prom_url``; one line per problem, empty when all is well.

    A problem is a query Prometheus refuses, or one that returns no series while
    ``expect_series(title, expr)`` says the scenario should have produced some.
    """
    problems: list[str] = []
    with httpx.Client(base_url=prom_url, timeout=10.0) as client:
        for title, expr in queries:
            try:
                result = instant_query(client, expr)
            except (ValueError, httpx.HTTPError) as error:
                problems.append(f"{title}: {expr} -> {error}")
                continue
            if not result and expect_series(title, expr):
                problems.append(f"{title}: {expr} -> no series")
    return problems


def prometheus_config(hub: str, rabbitmq: str) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with local targets, fast intervals and the repo's rules."""
    config: dict[str, Any] = yaml.safe_load(
        (REPO_ROOT / "deploy/prometheus/prometheus.yml").read_text()
    )
    targets = {"sihub": hub, "rabbitmq": rabbitmq, "rabbitmq-queues": rabbitmq}
    config["global"] = {
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "evaluation_interval": "1s",
    }
    config.pop("alerting")
    config["rule_files"] = [str(REPO_ROOT / "monitoring/prometheus" / name) for name in ("alerts.yml", "recording.yml")]  # fmt: skip
    jobs = [job for job in config["scrape_configs"] if job["job_name"] in targets]
    for job in jobs:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    config["scrape_configs"] = jobs
    assert {job["job_name"] for job in jobs} == set(targets)
    return config


#: Recorded series over increase() windows that the dashboards read; each needs its rule
#: group to have evaluated on two scrapes, which the scrapes alone do not guarantee.
WINDOWED_RECORDINGS = (
    "county:sihub_sla_compliance:ratio30d",
    "department:sihub_sla_compliance:ratio30d",
    "tier:sihub_sla_compliance:ratio30d",
    "tier:sihub_case_resolution_seconds:p90_30d",
    "department_tier:sihub_sla_breaches:increase1d",
)


def wait_for_recordings(prom: Any, timeout: Any) -> None:
    """Wait until every windowed recording the dashboards read has a series."""
    for name in WINDOWED_RECORDINGS:
        prom.wait_until(name, timeout)
