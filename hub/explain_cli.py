"""``sihub explain-route FILE``: why a registered case went to the department it went to.

Reads one ``case.registered`` or ``petition.registered`` message body from FILE,
validates it with :func:`contracts.parse`, runs the duty rules of
:func:`hub.domain.routing.route` on it and prints the owner, the participants, the
coordinator, the mode and every rule that fired with the clause of the county notice
it implements: the operator's answer to "why did this go to me?".

Exit status: 0 explained; 2 the file is not a registration the hub would accept as
such (the reject reason and detail are printed, as the hub would quarantine it).
Nothing personal is printed: no party name, ID number or phone.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from contracts import AnyEnvelope, Rejected, parse
from contracts.messages.case import CaseRegistered, PetitionRegistered
from hub.domain.model import RoutingDecision
from hub.domain.routing import route, sides

__all__ = ["DEFAULT_PROCESS_CHANGE_DATE", "explain_route", "explanation"]

#: DESIGN §9 ``SIHUB_PROCESS_CHANGE_DATE`` default, until the county sets its own.
DEFAULT_PROCESS_CHANGE_DATE = "2024-01-01"
#: Exit status for a file the command cannot explain (DESIGN reject reasons, or not a registration).
EXIT_UNEXPLAINABLE = 2


def _listed(values: tuple[object, ...]) -> str:
    return ", ".join(str(v) for v in values) if values else "-"


def _period(registration: CaseRegistered, process_change: date) -> str:
    change = process_change.isoformat()
    period = registration.fee_period
    if period is None:
        return f"fee period: none given (counted as after the process change of {change})"
    where = " and ".join(sides(registration, process_change))
    span = period.start if period.start == period.end else f"{period.start}..{period.end}"
    return f"fee period: {span} ({where} the process change of {change})"


def explanation(
    envelope: AnyEnvelope,
    registration: CaseRegistered,
    decision: RoutingDecision,
    process_change: date,
) -> list[str]:
    """The lines ``explain-route`` prints for one routed registration."""
    lines = [
        f"case {envelope.case_id}: {envelope.type} from {envelope.source.value} (first contact)",
        f"category: {registration.category.value}; matters: {_listed(registration.matters)}; "
        f"insurance types: {_listed(registration.insurance_types)}",
        _period(registration, process_change),
    ]
    if isinstance(registration, PetitionRegistered):
        lines.append(f"petition: {registration.people_count} people")
    lines += [
        f"owner:        {decision.owner.value}",
        f"participants: {_listed(tuple(d.value for d in decision.participants))}",
        f"coordinator:  {decision.coordinator.value if decision.coordinator else '-'}",
        f"mode:         {decision.mode.value}",
        "rules that fired:",
    ]
    for number, hit in enumerate(decision.hits, start=1):
        lines += [f"  {number}. {hit.rule}  [{hit.clause}]", f"     {hit.explanation}"]
    return lines


@click.command(name="explain-route")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--process-change-date",
    "process_change",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    envvar="SIHUB_PROCESS_CHANGE_DATE",
    default=DEFAULT_PROCESS_CHANGE_DATE,
    show_default=True,
    help="The county's switch to declaring and paying at the tax bureau "
    "(env SIHUB_PROCESS_CHANGE_DATE).",
)
def explain_route(file: Path, process_change: datetime) -> None:
    """Explain who handles the case registered by the message in FILE, and why."""
    try:
        envelope = parse(file.read_bytes())
    except Rejected as rejected:
        click.echo(f"rejected: {rejected.reason.value}", err=True)
        click.echo(f"detail: {rejected.detail}", err=True)
        raise SystemExit(EXIT_UNEXPLAINABLE) from None
    registration = envelope.payload
    if not isinstance(registration, CaseRegistered):
        click.echo(
            f"not a registration: {envelope.type} (explain-route reads case.registered "
            "or petition.registered)",
            err=True,
        )
        raise SystemExit(EXIT_UNEXPLAINABLE)
    change = process_change.date()
    decision = route(registration, envelope.source, change)
    click.echo("\n".join(explanation(envelope, registration, decision, change)))
