"""Loopback helpers for tests: a free port, and a TCP forwarder that stands in for a broker node."""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TcpForwarder:
    """Forwards each connection on ``127.0.0.1:port`` to ``target`` until :meth:`close`.

    ``delay``: start listening only that many seconds from now (a broker still
    booting); without one the port listens before the constructor returns. Closing
    drops every connection through it and leaves nothing listening on the port: what a
    client sees when the node it is connected to dies.
    """

    def __init__(self, target: tuple[str, int], *, delay: float = 0.0) -> None:
        self.target = target
        self.port = free_port()
        self.accepted = 0
        self._delay = delay
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not delay and not self._listening.wait(5):
            raise RuntimeError(f"the forwarder could not listen on port {self.port}")

    def _serve(self) -> None:
        if self._stop.wait(self._delay):
            return
        with socket.create_server(("127.0.0.1", self.port)) as listener:
            listener.settimeout(0.1)
            self._listening.set()
            while not self._stop.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection(self.target)
                with self._lock:
                    self._sockets += [client, upstream]
                    self.accepted += 1
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        """Stop listening and drop every connection (idempotent)."""
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            for end in self._sockets:
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
            self._sockets.clear()
