"""The baseline of ``python -m bench sla``, as its own process: a bare pika "scheduler".

``python -m bench._bare_scheduler AMQP_URL COUNT`` publishes, as the hub, what the hub's
scheduler publishes for COUNT breached sign deadlines of routine hrss cases — for each
an ``sla.breached`` to hrss and a ``case.escalated`` to hrss and to the task force —
to ``sihub.out`` with pipelined publisher confirms, then exits. No store, no domain:
the same messages on the same hop with nothing before them.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from contracts import build
from contracts.codes import Department, EscalationTrigger, Tier
from contracts.messages.case import CaseEscalated
from contracts.messages.sla import SlaBreached
from hub.bus.factory import open_broker
from hub.bus.types import Outgoing
from hub.ids import uuid7

#: Deadlines per publish call (three messages each), as the scheduler's batch of 100.
CHUNK = 100


def messages(count: int) -> list[Outgoing]:
    """The ``3 × count`` messages, in the order the scheduler would publish them."""
    now = datetime.now(UTC)
    started = now - timedelta(seconds=15)
    out = []
    for index in range(count):
        case_id = f"hrss-2026-{index:07d}"
        breach = SlaBreached(
            stage="sign",
            tier=Tier.ROUTINE,
            department=Department.HRSS,
            started_at=started,
            due_at=now,
            breached_at=now,
            escalated_to=Tier.DIFFICULT,
        )
        escalated = CaseEscalated(
            from_tier=Tier.ROUTINE,
            to_tier=Tier.DIFFICULT,
            trigger=EscalationTrigger.SLA_BREACH,
            reason=f"hrss missed the routine.sign deadline of {now.isoformat()}",
            convene_by=now + timedelta(days=7),
        )
        for type_, payload, target in (
            ("sla.breached", breach, Department.HRSS),
            ("case.escalated", escalated, Department.HRSS),
            ("case.escalated", escalated, Department.TASKFORCE),
        ):
            message_id = uuid7()
            envelope = build(
                type_, payload, source=Department.HUB, target=target, case_id=case_id,
                message_id=message_id, occurred_at=now, correlation_id=message_id,
            )  # fmt: skip
            out.append(
                Outgoing(
                    "sihub.out",
                    f"{target.value}.{type_}",
                    envelope.to_json(),
                    headers={"x-sihub-type": type_},
                    message_id=str(message_id),
                )
            )
    return out


def main(argv: list[str]) -> int:
    """Publish the messages of ``argv[1]`` breaches over ``argv[0]``, then exit."""
    url, count = argv[0], int(argv[1])
    batch = messages(count)
    broker = open_broker(url)
    publisher = broker.publisher()
    try:
        step = 3 * CHUNK
        for index in range(0, len(batch), step):
            publisher.publish(batch[index : index + step])
    finally:
        publisher.close()
        broker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
