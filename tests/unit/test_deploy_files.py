"""deploy/: compose files against the Compose Specification, paths, commands, settings, units.

Docker cannot run here, so the compose files are checked against the official
JSON Schema (vendored in tests/support/compose_spec.json) and against the repo:
every mounted path exists, every sihub command is a real subcommand, every
setting is one of DESIGN §9.
"""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from contracts.codes import Department
from hub.bus.nodes import node_urls
from hub.cli import COMMANDS
from hub.config import Settings
from tests.support.tools import REPO, require_tool, run_tool

DEPLOY = REPO / "deploy"
COMPOSE_FILES = (DEPLOY / "compose.yaml", DEPLOY / "compose.cluster.yaml")
SCHEMA = json.loads((REPO / "tests" / "support" / "compose_spec.json").read_text())

#: DESIGN §7 (plus `adapter run <code>`).
DESIGN_COMMANDS = {"serve", "demo", "topology", "dlq", "report", "contracts", "audit"}
#: DESIGN §9.
DESIGN_SETTINGS = {
    "SIHUB_BROKER_URL", "SIHUB_DATABASE_URL", "SIHUB_SLA_POLICY", "SIHUB_TOKENS",
    "SIHUB_HTTP_HOST", "SIHUB_HTTP_PORT", "SIHUB_PROCESS_CHANGE_DATE", "SIHUB_COUNTY_CODE",
}  # fmt: skip
#: The departments with an adapter of their own (DESIGN §2).
ADAPTER_DEPARTMENTS = {"tax", "hrss", "medins", "court", "petition"}


def compose(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def sihub_services(path: Path) -> dict[str, dict[str, Any]]:
    """Services that run the sihub image."""
    return {
        name: service
        for name, service in compose(path)["services"].items()
        if str(service.get("image", "")).startswith("sihub:")
    }


def bind_sources(service: dict[str, Any]) -> list[str]:
    sources = []
    for volume in service.get("volumes", []):
        source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
        if source.startswith((".", "/")):
            sources.append(source)
    return sources


def test_design_settings_match_design_and_the_settings_class() -> None:
    design = REPO.parent / "shared" / "DESIGN.md"
    if design.exists():
        section = design.read_text(encoding="utf-8").split("## 9.", 1)[1]
        assert set(re.findall(r"`(SIHUB_[A-Z_]+)`", section)) == DESIGN_SETTINGS
    fields = {f"SIHUB_{name.upper()}" for name in Settings.model_fields}
    assert fields >= DESIGN_SETTINGS


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_file_matches_the_compose_specification(path: Path) -> None:
    validator = jsonschema.Draft201909Validator(SCHEMA)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose(path))]
    assert errors == []


def test_compose_schema_check_catches_a_misspelt_key() -> None:
    broken = compose(DEPLOY / "compose.yaml")
    broken["services"]["hub"]["enviroment"] = {"SIHUB_HTTP_PORT": "8080"}
    assert not jsonschema.Draft201909Validator(SCHEMA).is_valid(broken)


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_path_a_compose_file_mounts_or_builds_exists(path: Path) -> None:
    services = compose(path)["services"]
    checked = 0
    for name, service in services.items():
        for source in bind_sources(service):
            assert (DEPLOY / source).resolve().exists(), f"{name}: {source}"
            checked += 1
        build = service.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            assert (context / build["dockerfile"]).is_file(), name
    assert checked >= 3


def test_rabbitmq_loads_the_definitions_and_plugins_of_deploy_rabbitmq() -> None:
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose(COMPOSE_FILES[0])["services"]["rabbitmq"]["volumes"]}  # fmt: skip
    assert mounts["/etc/rabbitmq/definitions.json"] == "./rabbitmq/definitions.json"
    assert mounts["/etc/rabbitmq/enabled_plugins"] == "./rabbitmq/enabled_plugins"
    conf = (DEPLOY / mounts["/etc/rabbitmq/rabbitmq.conf"]).read_text()
    assert "load_definitions = /etc/rabbitmq/definitions.json" in conf
    assert "rabbitmq_prometheus" in (DEPLOY / "rabbitmq" / "enabled_plugins").read_text()


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_sihub_services_run_real_subcommands(path: Path) -> None:
    for name, service in sihub_services(path).items():
        command = service["command"]
        if command[:2] == ["adapter", "run"]:
            assert command[2] in ADAPTER_DEPARTMENTS, name
            assert "adapter" in COMMANDS
        else:
            assert command[0] in DESIGN_COMMANDS and command[0] in COMMANDS, name


def test_compose_runs_the_hub_and_the_five_adapters() -> None:
    services = sihub_services(COMPOSE_FILES[0])
    commands = [tuple(service["command"]) for service in services.values()]
    assert ("serve",) in commands
    assert {c[2] for c in commands if c[:2] == ("adapter", "run")} == ADAPTER_DEPARTMENTS


def test_sihub_services_use_only_the_settings_of_design() -> None:
    for name, service in sihub_services(COMPOSE_FILES[0]).items():
        names = set(service.get("environment", {}))
        assert names and names <= DESIGN_SETTINGS, name


def test_each_adapter_connects_as_its_own_department_user() -> None:
    for name, service in sihub_services(COMPOSE_FILES[0]).items():
        url = urlsplit(service["environment"]["SIHUB_BROKER_URL"])
        expected = service["command"][2] if service["command"][0] == "adapter" else "hub"
        assert url.username == expected, name
        assert url.password == f"${{SIHUB_{expected.upper()}_BROKER_PASSWORD:-{expected}-dev}}"
        assert url.path == "/sihub"


def test_hub_health_is_its_readyz_and_adapters_wait_for_it() -> None:
    services = compose(COMPOSE_FILES[0])["services"]
    assert any("/readyz" in part for part in services["hub"]["healthcheck"]["test"])
    port = services["hub"]["environment"]["SIHUB_HTTP_PORT"]
    assert f"127.0.0.1:{port}/readyz" in " ".join(services["hub"]["healthcheck"]["test"])
    for name, service in sihub_services(COMPOSE_FILES[0]).items():
        if name != "hub":
            assert service["depends_on"]["hub"]["condition"] == "service_healthy", name


def scrape_targets(config_path: Path) -> dict[str, list[str]]:
    config = yaml.safe_load(config_path.read_text())
    return {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }


def test_prometheus_scrapes_the_hub_and_rabbitmq_services_of_compose() -> None:
    services = compose(COMPOSE_FILES[0])["services"]
    targets = scrape_targets(DEPLOY / "prometheus" / "prometheus.yml")
    port = services["hub"]["environment"]["SIHUB_HTTP_PORT"]
    assert targets["sihub"] == [f"hub:{port}"]
    assert targets["rabbitmq"] == targets["rabbitmq-queues"] == ["rabbitmq:15692"]
    for host in {t.split(":")[0] for ts in targets.values() for t in ts} - {"localhost"}:
        assert host in services, host
    mounted = {v.split(":")[1] for v in services["prometheus"]["volumes"] if v.startswith(".")}
    assert {"/etc/prometheus/rules/alerts.yml", "/etc/prometheus/rules/recording.yml"} <= mounted


def test_cluster_peers_are_the_three_rabbitmq_services_sharing_one_cookie() -> None:
    cluster = compose(COMPOSE_FILES[1])["services"]
    nodes = {name for name, s in cluster.items() if "hostname" in s and "rabbitmq" in s["image"]}
    assert nodes == {"rabbitmq", "rabbitmq-2", "rabbitmq-3"}
    conf = (DEPLOY / "cluster" / "rabbitmq.conf").read_text()
    assert "cluster_formation.peer_discovery_backend = classic_config" in conf
    peers = set(re.findall(r"classic_config\.nodes\.\d+ = rabbit@([\w-]+)", conf))
    assert peers == nodes
    assert {cluster[n]["hostname"] for n in nodes} == nodes
    cookies = {cluster[n]["environment"]["RABBITMQ_CLUSTER_COOKIE"] for n in nodes}
    assert len(cookies) == 1 and cookies.pop().startswith("${RABBITMQ_CLUSTER_COOKIE:?")
    targets = scrape_targets(DEPLOY / "prometheus" / "prometheus.cluster.yml")
    assert set(targets["rabbitmq-queues"]) == {f"{n}:15692" for n in nodes}


def test_in_the_cluster_each_sihub_service_lists_the_three_nodes_as_its_own_user() -> None:
    base = sihub_services(COMPOSE_FILES[0])
    overlay = compose(COMPOSE_FILES[1])["services"]
    assert {name for name in overlay if name in base} == set(base)  # the hub and every adapter
    for name, service in base.items():
        listed = overlay[name]["environment"]["SIHUB_BROKER_URL"]
        nodes = node_urls(listed)  # the same user, password and vhost on every node, or ValueError
        assert [urlsplit(n).hostname for n in nodes] == ["rabbitmq", "rabbitmq-2", "rabbitmq-3"], name
        single = urlsplit(service["environment"]["SIHUB_BROKER_URL"])
        first = urlsplit(nodes[0])
        assert (first.scheme, first.username, first.password, first.path) == (
            single.scheme, single.username, single.password, single.path
        ), name  # fmt: skip


@pytest.mark.parametrize("name", ["prometheus.yml", "prometheus.cluster.yml"])
def test_prometheus_configs_pass_promtool(name: str) -> None:
    promtool = require_tool("promtool", "prometheus")
    checked = run_tool([promtool, "check", "config", str(DEPLOY / "prometheus" / name)])
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_alertmanager_config_is_valid_and_routes_sla_alerts_to_the_office() -> None:
    amtool = require_tool("amtool", "prometheus-alertmanager")
    config = str(DEPLOY / "alertmanager" / "alertmanager.yml")
    checked = run_tool([amtool, "check-config", config])
    assert checked.returncode == 0, checked.stdout + checked.stderr

    def receivers(*labels: str) -> set[str]:
        routed = run_tool([amtool, "config", "routes", "test", f"--config.file={config}", *labels])
        return set(routed.stdout.strip().split(","))

    assert receivers("alertname=SihubSlaBreached", "severity=warning") == {"lgo-office", "ops"}
    assert receivers("alertname=SihubOutboxNotDraining", "severity=critical") == {"ops-urgent"}
    assert receivers("alertname=SihubQuarantineGrowing", "severity=warning") == {"ops"}


def test_dockerfile_builds_the_sihub_image_from_python_slim() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert re.search(r"^RUN pip install \.", dockerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["sihub"]' in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv", "tests"} <= set(ignored)
    # What pip install . needs must stay in the build context.
    assert not {"hub", "contracts", "adapters", "pyproject.toml"} & set(ignored)


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def test_systemd_units_run_the_hub_and_one_adapter_per_department_code() -> None:
    hub = unit(DEPLOY / "systemd" / "sihub.service")
    assert hub["Service"]["ExecStart"].endswith("/sihub serve")
    assert hub["Service"]["EnvironmentFile"] == "/etc/sihub/sihub.env"
    adapter = unit(DEPLOY / "systemd" / "sihub-adapter@.service")
    assert adapter["Service"]["ExecStart"].endswith("/sihub adapter run %i")
    assert adapter["Service"]["EnvironmentFile"] == "/etc/sihub/adapter-%i.env"
    for example in ("sihub.env.example", "sihub-adapter.env.example"):
        lines = (DEPLOY / "systemd" / example).read_text().splitlines()
        names = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
        assert names and names <= DESIGN_SETTINGS, example


def test_systemd_units_pass_systemd_analyze(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze", "systemd", required_in_ci=False)
    hub_unit = tmp_path / "sihub.service"
    hub_unit.write_text((DEPLOY / "systemd" / "sihub.service").read_text())
    adapter_unit = tmp_path / "sihub-adapter@tax.service"
    adapter_unit.write_text((DEPLOY / "systemd" / "sihub-adapter@.service").read_text())
    verified = run_tool([analyze, "verify", "--man=no", str(hub_unit), str(adapter_unit)])
    # The binary is not installed here; anything else is a real mistake in the units.
    problems = [
        line for line in (verified.stdout + verified.stderr).splitlines()
        if line.strip() and "is not executable" not in line
    ]  # fmt: skip
    assert problems == []


def test_tokens_example_maps_tokens_to_department_codes() -> None:
    tokens = json.loads((DEPLOY / "config" / "tokens.example.json").read_text())
    assert tokens and set(tokens.values()) <= {d.value for d in Department}
    assert all("change-me" in token for token in tokens)
