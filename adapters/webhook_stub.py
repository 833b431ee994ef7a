"""A stand-in department system: a small threaded HTTP server that receives webhook deliveries.

It is the reference receiver of ``docs/adapters.md`` (it verifies
``X-Sihub-Signature`` the way a department system should) and what the tests and
demos use in place of a real system. Its answer can be changed at any time
(``status = 503`` while "down"), scripted for the next requests (``script``), and per
message (``answers[message_id]``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from adapters.sinks import (
    MESSAGE_ID_HEADER,
    SIGNATURE_HEADER,
    TYPE_HEADER,
    verify_webhook_signature,
)


@dataclass(frozen=True)
class Received:
    """One request the stub answered."""

    body: bytes
    message_id: str
    type: str
    signed: bool
    status: int


@dataclass
class DepartmentStub:
    """Receives ``POST``s on ``http://127.0.0.1:<port>/``; start with :meth:`start`."""

    secret: str
    status: int = 200
    #: Statuses for the next requests, in order; then ``status`` again.
    script: list[int] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    #: Requests that have arrived, answered or not (``received`` holds the answered ones).
    arrived: int = 0
    delay_seconds: float = 0.0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self._lock)

    @property
    def url(self) -> str:
        """Where the stub listens."""
        assert self._server is not None, "start the stub first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/sihub"

    def start(self) -> DepartmentStub:
        """Listen on a free port in a daemon thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self._answer))
        self._server.daemon_threads = True
        server = self._server
        threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), name="department-stub", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def delivered(self) -> list[Received]:
        """The requests answered 2xx (what the department system has), in order."""
        with self._lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def wait_for(self, predicate: Callable[[DepartmentStub], bool], timeout_seconds: float = 30.0) -> bool:
        """Wait until ``predicate(self)`` holds (checked after each request)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout_seconds)

    def _answer(self, body: bytes, headers: Any) -> int:
        with self._changed:
            self.arrived += 1
            self._changed.notify_all()
        if self.delay_seconds:
            threading.Event().wait(self.delay_seconds)
        message_id = headers.get(MESSAGE_ID_HEADER, "")
        signed = verify_webhook_signature(self.secret, body, headers.get(SIGNATURE_HEADER))
        with self._changed:
            if not signed:
                status = 401
            elif message_id in self.answers:
                status = self.answers[message_id]
            else:
                status = self.script.pop(0) if self.script else self.status
            self.received.append(Received(body, message_id, headers.get(TYPE_HEADER, ""), signed, status))
            self._changed.notify_all()
        return status


def _handler(answer: Callable[[bytes, Any], int]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            status = answer(self.rfile.read(length), self.headers)
            payload = b"{}" if status < 300 else b'{"error": "refused by the stub"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read ``received`` instead."""

    return Handler
