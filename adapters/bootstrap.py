"""Wiring an adapter process in one place: broker, state, sender, sink, runtime, HTTP, outbox.

``sihub adapter run <code>`` calls :func:`build_adapter` with the settings; tests
and embedding programs call it with their own sink (a Python callback) or clock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from adapters.court import CourtAdapter
from adapters.dedup import DeliveryLog, StateDB
from adapters.department import DepartmentAdapter, Options, county_now
from adapters.hrss import HrssAdapter
from adapters.http import HttpServer, create_app
from adapters.medins import MedinsAdapter
from adapters.petition import PetitionAdapter
from adapters.runtime import AdapterRuntime
from adapters.sender import Sender
from adapters.settings import AdapterSettings
from adapters.sinks import InboxSink, NullSink, Sink, WebhookSink
from adapters.sources import OutboxWatcher
from adapters.tax.adapter import TaxAdapter
from contracts.codes import Department
from hub.bus.factory import open_broker
from hub.bus.nodes import first_node
from hub.bus.types import Broker
from hub.signing import KeyRing, Signer

log = logging.getLogger("sihub.adapter")

#: The five adapters by department code.
ADAPTERS: Mapping[str, type[DepartmentAdapter]] = {
    "tax": TaxAdapter,
    "hrss": HrssAdapter,
    "medins": MedinsAdapter,
    "court": CourtAdapter,
    "petition": PetitionAdapter,
}


def broker_for(code: str, url: str) -> Broker:
    """The broker connection of department ``code``: the URL must name that user.

    Raises:
        ValueError: the URL names another user, or (AMQP) none at all.
    """
    parts = urlsplit(first_node(url))
    user = unquote(parts.username or "")
    if parts.scheme == "memory":
        user = user or code
    elif not user:
        raise ValueError(f"SIHUB_BROKER_URL must name the {code} user, e.g. amqp://{code}:…@host:5672/sihub")
    if user != code:
        raise ValueError(
            f"SIHUB_BROKER_URL connects as {user!r}, but the {code} adapter must connect as {code!r} "
            "(RabbitMQ refuses a user_id other than the connection's user)"
        )
    return open_broker(url, user=user if parts.scheme == "memory" else None,
                       connection_name=f"sihub-adapter-{code}")


def sink_from(settings: AdapterSettings) -> Sink:
    """The sink the settings name."""
    spec = settings.sink_spec()
    if spec.kind == "webhook":
        secret = settings.adapter_webhook_secret
        if secret is None:
            raise ValueError("SIHUB_ADAPTER_WEBHOOK_SECRET is required with a webhook sink")
        return WebhookSink(
            spec.target, secret.get_secret_value(), timeout_seconds=settings.adapter_webhook_timeout_seconds
        )
    if spec.kind == "inbox":
        return InboxSink(Path(spec.target))
    return NullSink()


@dataclass
class AdapterProcess:
    """Everything one adapter runs; :meth:`run` blocks until ``stop`` is set."""

    adapter: DepartmentAdapter
    runtime: AdapterRuntime
    state: StateDB
    stop: threading.Event
    http: HttpServer | None = None
    outbox: OutboxWatcher | None = None
    threads: list[threading.Thread] = field(default_factory=list)

    def start_sources(self) -> None:
        """Start the HTTP endpoint and the outbox watcher (if configured) in threads."""
        if self.http is not None:
            self.http.start()
        if self.outbox is not None:
            thread = threading.Thread(target=self.outbox.run, name="sihub-adapter-outbox", daemon=True)
            thread.start()
            self.threads.append(thread)

    def run(self) -> None:
        """Run the inbound side in this thread until ``stop``; then close everything."""
        self.start_sources()
        try:
            self.runtime.run()
        finally:
            self.close()

    def close(self) -> None:
        """Stop the sources, close the sink, the sender, the broker and the state file."""
        self.stop.set()
        if self.http is not None:
            self.http.stop()
        for thread in self.threads:
            thread.join(10)
        self.runtime.sink.close()
        self.adapter.sender.close()
        self.runtime.broker.close()
        self.state.close()


def build_adapter(
    code: str,
    settings: AdapterSettings,
    *,
    sink: Sink | None = None,
    clock: Callable[[], datetime] = county_now,
    stop: threading.Event | None = None,
) -> AdapterProcess:
    """Build the adapter of department ``code`` from ``settings`` (``sink`` overrides the setting)."""
    if code not in ADAPTERS:
        raise ValueError(f"no adapter for {code!r}; choose one of {', '.join(ADAPTERS)}")
    stop = stop or threading.Event()
    department = Department(code)
    sink = sink or sink_from(settings)  # first: a bad setting fails before anything is opened
    if settings.adapter_hub_signatures == "required" and settings.adapter_hub_keys is None:
        raise ValueError("SIHUB_ADAPTER_HUB_SIGNATURES=required needs SIHUB_ADAPTER_HUB_KEYS (the hub's public keys)")
    hub_keys = KeyRing.load(settings.adapter_hub_keys) if settings.adapter_hub_keys else None
    broker = broker_for(code, settings.broker_url)
    signer = None
    if settings.adapter_signing_key is not None:
        signer = Signer.load(settings.adapter_signing_key, settings.adapter_signing_key_id or code)
    state = StateDB(settings.state_path(code))
    options = Options(
        auto_receipt=settings.adapter_auto_receipt,
        auto_sign=settings.adapter_auto_sign,
        auto_sign_handler=settings.adapter_auto_sign_handler,
        auto_confirm=settings.adapter_auto_confirm,
        max_body_bytes=settings.adapter_max_body_bytes,
        batch_limit_bytes=settings.adapter_batch_limit_bytes,
    )
    adapter = ADAPTERS[code](Sender(department, broker, signer), state, options, clock)
    runtime = AdapterRuntime(
        adapter, broker, sink, DeliveryLog(state),
        stop=stop, prefetch=settings.adapter_prefetch,
        hub_keys=hub_keys,
        hub_signatures=settings.adapter_hub_signatures,
    )
    process = AdapterProcess(adapter, runtime, state, stop)
    if settings.adapter_http_port is not None:
        process.http = HttpServer(create_app(adapter), settings.adapter_http_host, settings.adapter_http_port)
    if settings.adapter_outbox_dir is not None:
        process.outbox = OutboxWatcher(
            adapter, settings.adapter_outbox_dir, poll_seconds=settings.adapter_outbox_poll_seconds, stop=stop
        )
    return process
