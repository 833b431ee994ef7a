"""``python -m bench replicas``: several hubs on one PostgreSQL ledger — once, and no slower.

Every phase runs on the real RabbitMQ with a scratch PostgreSQL ledger:

* **messages** — the registrations of ``python -m bench relay`` at full speed, first
  through one ``sihub serve``, then through ``--replicas`` of them consuming the same
  queue. Each registration must reach hrss exactly once (a duplicate would come from
  two relays publishing one outbox row; the receiver keeps listening a few seconds
  after the last, past a relay's sweep);
* **deadlines** — ``--backlog`` overdue deadlines fired by the replicas together
  (``python -m bench sla``'s catching-up run): each must fire exactly once.

Bar: nothing lost or doubled, and the replicas together at least as fast as one hub
(the ratio). On a 2-core machine that also runs RabbitMQ and PostgreSQL a second
replica has little idle CPU to use; on a larger one the ratio shows the scaling.
"""

from __future__ import annotations

import argparse

from bench._support import finish
from bench.relay import run_phase
from bench.sla import catching_up

BAR = 1.0
#: A relay's sweep runs every 5 s while busy: listen past one for late duplicates.
SETTLE_SECONDS = 6.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench replicas", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--replicas", type=int, default=2, help="hub processes (default 2)")
    parser.add_argument("--messages", type=int, default=20_000, help="registrations per run")
    parser.add_argument("--backlog", type=int, default=3000, help="overdue deadlines to fire")
    args = parser.parse_args(argv)
    if args.replicas < 2:
        parser.error("--replicas: at least 2")
    report = print
    report(
        f"bench replicas: {args.messages} registrations through 1 and {args.replicas} hubs, "
        f"then {args.backlog} overdue deadlines, on one PostgreSQL ledger each run"
    )
    one = run_phase("hub", args.messages, None, "postgresql", report, 1, SETTLE_SECONDS)
    many = run_phase("hub", args.messages, None, "postgresql", report, args.replicas, SETTLE_SECONDS)
    timers = catching_up(args.backlog, "postgresql", args.replicas, report)
    assert timers.tally is not None
    ratio = many["rate"] / one["rate"] if one["rate"] else 0.0
    lost = sum(int(run["messages"] - run["delivered"]) for run in (one, many)) + timers.tally.missing
    doubled = int(one["duplicates"] + many["duplicates"]) + timers.tally.duplicates
    report(
        f"{args.replicas} hubs / 1 hub = {ratio:.2f} (bar ≥ {BAR}); "
        f"{lost} lost, {doubled} duplicated (bar: 0 and 0)"
    )
    return finish(
        "replicas",
        {
            "replicas": args.replicas,
            "one_hub_msgs_per_s": round(one["rate"]),
            "replicas_msgs_per_s": round(many["rate"]),
            "one_hub_cpu_us_per_msg": round(one["cpu_us_per_msg"]),
            "replicas_cpu_us_per_msg": round(many["cpu_us_per_msg"]),
            "deadlines": args.backlog,
            "replicas_deadlines_per_s": round(timers.per_second),
            "lost": lost,
            "duplicates": doubled,
        },
        f"nothing lost or duplicated, and {args.replicas} hubs >= {BAR} x one hub",
        round(ratio, 3),
        lost == 0 and doubled == 0 and ratio >= BAR,
    )
