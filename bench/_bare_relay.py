"""The baseline of ``python -m bench relay``, as its own process: a bare pika relay.

``python -m bench._bare_relay AMQP_URL`` consumes ``sihub.hub.in`` and republishes every
body unchanged to ``sihub.out`` as ``hrss.case.registered`` (so it lands in
``sihub.dept.hrss``), with pipelined publisher confirms, acking each batch only after
its confirms: the two hops of the hub with nothing in between — no validation, no store.
SIGTERM stops it after the batch in hand.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from hub.bus.factory import open_broker
from hub.bus.types import Outgoing

QUEUE = "sihub.hub.in"
ROUTING_KEY = "hrss.case.registered"


def relay(url: str, stop: threading.Event) -> None:
    """Relay until ``stop`` is set."""
    broker = open_broker(url)
    consumer = broker.consumer(QUEUE, prefetch=1000)
    publisher = broker.publisher()
    try:
        while not stop.is_set():
            batch = consumer.fetch(500, 0.1)
            if not batch:
                continue
            publisher.publish(
                [Outgoing("sihub.out", ROUTING_KEY, d.body, message_id=d.message_id) for d in batch]
            )
            consumer.ack([d.delivery_tag for d in batch])
    finally:
        publisher.close()
        consumer.close()
        broker.close()


def main(argv: list[str]) -> int:
    """Run the relay over ``argv[0]`` until SIGTERM or SIGINT."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    relay(argv[0], stop)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
