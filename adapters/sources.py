"""Outbound sources besides the Python API: the outbox directory the adapter watches.

The department system drops one JSON file per message into the outbox directory
(an outbound request or a full envelope, as ``POST /outbound`` takes), writing it
under a name that does not end in ``.json`` or starts with ``.`` and renaming it
when complete. Every ``poll_seconds`` the watcher takes the ``*.json`` files in
name order and:

* gives a file without ``message_id`` one (a UUIDv7, written back atomically), so
  that a file published again after a crash keeps its id and the hub drops the copy;
* publishes a valid file, once the broker confirmed it, and moves it to ``sent/``;
* moves an invalid one to ``rejected/`` with ``<name>.reason.txt`` beside it
  (``<reason code>: <field detail>``);
* leaves a file in place while the broker is unreachable, and tries again later.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from adapters.department import DepartmentAdapter
from adapters.errors import OutboundInvalid, SendFailed, SendRefused
from contracts.codes import RejectReason
from hub.ids import uuid7

log = logging.getLogger("sihub.adapter.outbox")

SENT = "sent"
REJECTED = "rejected"


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    with temp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


class OutboxWatcher:
    """Publishes the files of an outbox directory; see the module docstring."""

    def __init__(
        self,
        adapter: DepartmentAdapter,
        directory: Path,
        *,
        poll_seconds: float = 1.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.adapter = adapter
        self.directory = directory
        self.poll_seconds = poll_seconds
        self.stop = stop or threading.Event()
        for sub in (SENT, REJECTED):
            (directory / sub).mkdir(parents=True, exist_ok=True)

    def run(self) -> None:
        """Poll until ``stop`` is set."""
        while not self.stop.is_set():
            self.scan_once()
            self.stop.wait(self.poll_seconds)

    def scan_once(self) -> tuple[int, int]:
        """Handle the files there now; ``(sent, rejected)``. A broker outage ends the scan early."""
        sent = rejected = 0
        for path in sorted(self.directory.glob("*.json")):
            if path.name.startswith(".") or not path.is_file():
                continue
            try:
                outcome = self._handle(path)
            except SendFailed as error:
                log.warning("outbox: broker unavailable, %s stays for the next poll (%s)", path.name, error)
                break
            sent += outcome == SENT
            rejected += outcome == REJECTED
        return sent, rejected

    def _handle(self, path: Path) -> str:
        try:
            data: Any = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as error:
            return self._reject(path, RejectReason.MALFORMED_JSON, f"not valid JSON: {error}")
        if not isinstance(data, dict):
            return self._reject(path, RejectReason.SCHEMA_VIOLATION, "(message): a JSON object is required")
        if not data.get("message_id"):
            data["message_id"] = str(uuid7())
            _write_atomically(path, json.dumps(data, ensure_ascii=False, indent=2).encode())
        try:
            envelope = self.adapter.submit(data)
        except OutboundInvalid as invalid:
            return self._reject(path, invalid.reason, invalid.detail)
        except SendRefused as refused:
            return self._reject(path, RejectReason.NOT_PERMITTED, str(refused))
        os.replace(path, self.directory / SENT / path.name)
        log.info("outbox: %s sent as %s %s", path.name, envelope.type, envelope.message_id)
        return SENT

    def _reject(self, path: Path, reason: RejectReason, detail: str) -> str:
        target = self.directory / REJECTED / path.name
        _write_atomically(target.with_name(f"{path.name}.reason.txt"), f"{reason.value}: {detail}\n".encode())
        os.replace(path, target)
        log.warning("outbox: %s rejected: %s: %s", path.name, reason.value, detail)
        return REJECTED
