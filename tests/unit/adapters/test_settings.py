"""Adapter settings: environment over a TOML file, sinks parsed, the broker URL's user checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.bootstrap import broker_for, build_adapter
from adapters.settings import AdapterSettings, SinkSpec, load_adapter_settings, parse_sink
from adapters.sinks import InboxSink, WebhookSink
from hub.bus.factory import reset_memory_broker


def test_a_toml_file_sets_values_and_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "adapter.toml"
    config.write_text(
        '[adapter]\nbroker_url = "memory://medins@"\nsink = "inbox:/srv/inbox"\nSIHUB_ADAPTER_HTTP_PORT = 8083\n'
        'auto_receipt = false\n', "utf-8")
    monkeypatch.setenv("SIHUB_ADAPTER_SINK", "none")

    settings = load_adapter_settings(config)

    assert settings.broker_url == "memory://medins@"
    assert (settings.adapter_http_port, settings.adapter_auto_receipt) == (8083, False)
    assert settings.sink_spec() == SinkSpec("none")  # the environment beat the file
    assert settings.state_path("medins") == Path("sihub-adapter-medins.db")


def test_an_unknown_setting_in_the_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "adapter.toml"
    config.write_text('sinc = "none"\n', "utf-8")
    with pytest.raises(ValueError, match="unknown setting 'sinc'"):
        load_adapter_settings(config)


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [("none", SinkSpec("none")), ("webhook:https://h/x", SinkSpec("webhook", "https://h/x")),
     ("inbox:/srv/in", SinkSpec("inbox", "/srv/in"))],
)
def test_sink_settings_parse(spec: str, parsed: SinkSpec) -> None:
    assert parse_sink(spec) == parsed


@pytest.mark.parametrize("spec", ["webhook:ftp://h", "inbox:", "kafka:x", "none:x"])
def test_a_bad_sink_setting_is_refused_with_the_accepted_forms(spec: str) -> None:
    with pytest.raises(ValueError, match="use webhook:https://host/path, inbox:/directory or none"):
        AdapterSettings(adapter_sink=spec)


def test_the_broker_url_must_name_the_departments_own_user() -> None:
    with pytest.raises(ValueError, match="must name the court user"):
        broker_for("court", "amqp://127.0.0.1:5672/sihub")
    with pytest.raises(ValueError, match="connects as 'tax'"):
        broker_for("court", "memory://tax@")


def test_build_adapter_wires_the_configured_sink(tmp_path: Path) -> None:
    reset_memory_broker()
    webhook = build_adapter("hrss", AdapterSettings(
        broker_url="memory://", adapter_sink="webhook:https://hrss.example/sihub", adapter_webhook_secret=SecretStr("s"),
        adapter_state=tmp_path / "a.db"))
    inbox = build_adapter("medins", AdapterSettings(
        broker_url="memory://", adapter_sink=f"inbox:{tmp_path / 'in'}", adapter_state=tmp_path / "b.db"))
    try:
        assert isinstance(webhook.runtime.sink, WebhookSink) and isinstance(inbox.runtime.sink, InboxSink)
        assert webhook.runtime.queue == "sihub.dept.hrss"
    finally:
        webhook.close()
        inbox.close()
    with pytest.raises(ValueError, match="WEBHOOK_SECRET is required"):
        build_adapter("hrss", AdapterSettings(broker_url="memory://", adapter_sink="webhook:https://h/x",
                                              adapter_state=tmp_path / "c.db"))
