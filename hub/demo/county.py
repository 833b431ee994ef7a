"""The simulated county: one hub and a live adapter for every department that acts.

Tax, hrss, medins, court and petition run their real adapters
(:func:`adapters.bootstrap.build_adapter`) with a Python-callback sink standing in
for the department system; the task force and the leading-group office run the
same adapter runtime with a plain department adapter. All read one simulated clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from adapters.bootstrap import build_adapter
from adapters.dedup import DeliveryLog, StateDB
from adapters.department import DepartmentAdapter, Options
from adapters.runtime import AdapterRuntime
from adapters.sender import Sender
from adapters.settings import AdapterSettings
from adapters.sinks import CallbackSink, InboundMessage
from contracts.codes import Department
from hub.bus.factory import memory_broker, open_broker, reset_memory_broker
from hub.bus.types import Broker
from hub.config import load_settings
from hub.demo.clock import SimClock
from hub.runtime import HubRuntime

log = logging.getLogger("sihub.demo")

#: Departments with one of the five adapters of record.
ADAPTER_CODES = ("tax", "hrss", "medins", "court", "petition")
#: Bodies that act in the scenario through a plain adapter.
BODY_CODES = ("taskforce", "lgo")


class TaskForceAdapter(DepartmentAdapter):
    """The dispute task force (工作专班): convenes on difficult cases."""

    code: ClassVar[Department] = Department.TASKFORCE


class OfficeAdapter(DepartmentAdapter):
    """The leading-group office (领导小组办公室): convenes on major cases and the joint meeting."""

    code: ClassVar[Department] = Department.LGO


def department_url(broker_url: str, code: str) -> str:
    """The broker URL of department ``code`` (its own user; ``<code>-dev`` password on AMQP)."""
    if broker_url.startswith("memory"):
        return f"memory://{code}@"
    parts = urlsplit(broker_url)
    netloc = f"{quote(code)}:{quote(code + '-dev')}@{parts.hostname}:{parts.port or 5672}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass
class County:
    """The hub, the adapters, and what each department system has received."""

    runtime: HubRuntime
    clock: SimClock
    broker_url: str
    adapters: dict[str, DepartmentAdapter]
    inboxes: dict[str, list[InboundMessage]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    _broker: Broker | None = None

    def __getitem__(self, code: str) -> DepartmentAdapter:
        return self.adapters[code]

    def broker(self) -> Broker:
        """A connection of the hub's user, for watching queues."""
        if self._broker is None:
            self._broker = open_broker(self.runtime.settings.broker_url or "")
        return self._broker

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until every message has been handled by the hub and every adapter."""
        queues = ["sihub.hub.in", *(f"sihub.dept.{c}" for c in (*ADAPTER_CODES, *BODY_CODES))]
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 3:
            if time.monotonic() > deadline:
                raise TimeoutError("the county did not settle")
            self.runtime.wake_relay()
            busy = self.runtime.store.outbox_backlog()[0] > 0 or any(
                self._busy(queue) for queue in queues
            )
            quiet = 0 if busy else quiet + 1
            time.sleep(0.05)

    def _busy(self, queue: str) -> bool:
        if self.broker_url.startswith("memory"):
            try:
                memory_broker().join(queue, timeout_seconds=0.0)
            except TimeoutError:
                return True
            return False
        return self.broker().queue_depth(queue) > 0

    def tick(self) -> int:
        """Fire whatever deadlines are due at the simulated now."""
        fired = self.runtime.scheduler.tick()
        self.settle()
        return fired

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:  # closing is best effort at the end of the demo
                log.debug("closing failed", exc_info=True)
        if self._broker is not None:
            self._broker.close()
        self.runtime.stop()


def open_county(
    workdir: Path,
    clock: SimClock,
    broker_url: str,
    database_url: str | None,
    on_delivery: Callable[[str, InboundMessage], None],
) -> County:
    """Start the hub and the adapters of every acting department."""
    hub_url = broker_url
    if broker_url.startswith("memory"):
        reset_memory_broker()
    else:
        hub_url = _prepare_rabbitmq(broker_url)
    settings = load_settings(
        None,
        broker_url=hub_url,
        database_url=database_url or f"sqlite:///{workdir / 'ledger.db'}",
        scheduler_interval_seconds=3600.0,
        retry_delay_seconds=0.2,
    )
    runtime = HubRuntime(settings, clock=clock)
    runtime.start()
    county = County(runtime, clock, broker_url, {})
    for code in ADAPTER_CODES:
        county.inboxes[code] = []
        adapter_settings = AdapterSettings(
            broker_url=department_url(broker_url, code),
            adapter_state=workdir / f"adapter-{code}.db",
            adapter_auto_receipt=True,
            adapter_auto_confirm=code in ("hrss", "medins"),
        )
        process = build_adapter(
            code,
            adapter_settings,
            sink=_sink(county, code, on_delivery),
            clock=clock,
            stop=county.stop,
        )
        county.adapters[code] = process.adapter
        county.threads.append(process.runtime.start())
        county.closers.append(process.close)
    for code, kind in (("taskforce", TaskForceAdapter), ("lgo", OfficeAdapter)):
        county.inboxes[code] = []
        broker = open_broker(department_url(broker_url, code))
        state = StateDB(workdir / f"adapter-{code}.db")
        adapter = kind(Sender(Department(code), broker), state, Options(), clock)
        runtime_ = AdapterRuntime(
            adapter, broker, _sink(county, code, on_delivery), DeliveryLog(state), stop=county.stop
        )
        county.adapters[code] = adapter
        county.threads.append(runtime_.start())
        county.closers += [broker.close, state.close]
    return county


def _sink(
    county: County, code: str, on_delivery: Callable[[str, InboundMessage], None]
) -> CallbackSink:
    def deliver(message: InboundMessage) -> None:
        county.inboxes[code].append(message)
        on_delivery(code, message)

    return CallbackSink(deliver)


def _prepare_rabbitmq(broker_url: str) -> str:
    """Load the sihub definitions into the URL's vhost (administrator URL) and empty its queues."""
    from hub.bus.management import ManagementClient
    from hub.bus.topology import default_topology, to_definitions

    parts = urlsplit(broker_url)
    vhost = unquote(parts.path.lstrip("/")) or "sihub"
    management = ManagementClient.for_broker(broker_url)
    try:
        if not management.vhost_exists(vhost):
            management.create_vhost(vhost)
        management.import_definitions(to_definitions(default_topology(vhost=vhost)))
        for queue in management.queues(vhost):
            if str(queue.get("name", "")).startswith("sihub."):
                management.purge_queue(vhost, str(queue["name"]))
    finally:
        management.close()
    netloc = f"hub:hub-dev@{parts.hostname}:{parts.port or 5672}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/sihub", "", ""))
