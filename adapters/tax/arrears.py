"""The tax bureau's arrears file: when it may apply to the court, and what the application says.

The hub opens the window for applying (行政强制法 art. 54: ten working days after
the demand was served, and the payment date lapsed) by asking hrss/medins to
confirm the arrears data, with a copy of the request addressed to tax; each
confirmation reaches tax as a copy too. The adapter keeps those, so it can refuse
an application locally, with a clear message, before the window is open, after it
closed (three months after the payment date, art. 53), or before every
confirmation is in; and it computes the late fee (社会保险法 art. 86) as the hub will
check it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from adapters.errors import NotAllowedYet
from contracts.codes import Department, InsuranceType
from contracts.messages.arrears import (
    ArrearsConfirmationRequested,
    ArrearsNotice,
    EnforcementApplied,
)
from hub.domain.latefee import late_fee
from hub.domain.payments import recipient_of


def confirmers(insurance_types: tuple[InsuranceType, ...]) -> tuple[Department, ...]:
    """The departments that confirm arrears of these insurance types (hrss and/or medins)."""
    return tuple(sorted({recipient_of(kind) for kind in insurance_types}))


@dataclass(frozen=True)
class ArrearsFile:
    """What tax knows about one arrears case."""

    case_id: str
    notice: ArrearsNotice | None = None
    requested: ArrearsConfirmationRequested | None = None
    confirmations: Mapping[Department, bool] = field(default_factory=dict)


def refusal(file: ArrearsFile, today: date) -> str | None:
    """Why tax may not apply for enforcement of ``file`` today, or ``None`` if it may."""
    requested = file.requested
    if requested is None:
        hint = ""
        if file.notice is not None:
            hint = (
                f" (the demand was served {file.notice.served_on.isoformat()}; the window opens ten "
                f"working days later, once the payment date {file.notice.pay_by.isoformat()} has lapsed)"
            )
        return f"case {file.case_id}: the enforcement window is not open yet{hint}"
    if today < requested.window_opens_on:
        return f"case {file.case_id}: the enforcement window opens {requested.window_opens_on.isoformat()}"
    if today > requested.latest_application_by:
        return (
            f"case {file.case_id}: the application period ended "
            f"{requested.latest_application_by.isoformat()}"
        )
    needed = confirmers(requested.insurance_types)
    missing = [d.value for d in needed if d not in file.confirmations]
    if missing:
        return f"case {file.case_id}: waiting for the arrears confirmation of {', '.join(missing)}"
    disputed = [d.value for d in needed if file.confirmations.get(d) is False]
    if disputed:
        return f"case {file.case_id}: {', '.join(disputed)} disputes the arrears data; settle it first"
    return None


def application(
    file: ArrearsFile,
    application_no: str,
    *,
    today: date,
    late_fee_until: date | None = None,
    court_case_ref: str | None = None,
) -> EnforcementApplied:
    """The ``enforcement.applied`` payload, with the late fee counted to ``late_fee_until``.

    Raises:
        NotAllowedYet: see :func:`refusal`; or the demand was not served through this adapter.
    """
    reason = refusal(file, today)
    if reason is not None:
        raise NotAllowedYet(reason)
    assert file.requested is not None
    notice = file.notice
    if notice is None:
        raise NotAllowedYet(
            f"case {file.case_id}: the demand was not served through this adapter, so its "
            "late-fee start day is unknown here"
        )
    until = late_fee_until or today
    return EnforcementApplied(
        application_no=application_no,
        principal=notice.principal,
        late_fee=late_fee(notice.principal, notice.late_fee_from, until),
        late_fee_until=until,
        notice_served_on=notice.served_on,
        confirmations=confirmers(file.requested.insurance_types),
        court_case_ref=court_case_ref,
    )
