"""The petition bureau's adapter (县信访局, ``petition``).

Registers petitions (``petition.registered``: a case whose channel is the petition
bureau; five or more people make it collective, 集体访, flagged in the log and the
registration receipt), coordinates the cases it registered (it receives the
``case.routed`` copies: who owns the case, by when they must sign), and tracks the
petition time limits (信访工作条例: decide on acceptance within 15 days, ...) from
the ``sla.warning`` / ``sla.breached`` messages the hub sends to everyone involved.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Body, HTTPException
from pydantic import BaseModel

from adapters.department import DepartmentAdapter
from adapters.sinks import InboundMessage
from contracts.codes import Department
from contracts.messages.case import COLLECTIVE_PETITION_MIN_PEOPLE, CaseRouted, PetitionRegistered
from contracts.messages.sla import SlaBreached, SlaWarning

log = logging.getLogger("sihub.adapter.petition")

TRACKED = "petition"


class PetitionReceipt(BaseModel):
    """What registering a petition answers: the case id, the message id, whether it is collective."""

    case_id: str
    message_id: str
    people_count: int
    collective: bool


def is_collective(people_count: int) -> bool:
    """Five or more people make a petition collective (集体访)."""
    return people_count >= COLLECTIVE_PETITION_MIN_PEOPLE


class PetitionAdapter(DepartmentAdapter):
    """The ``petition`` adapter."""

    code: ClassVar[Department] = Department.PETITION

    def register_petition(
        self, payload: PetitionRegistered | Mapping[str, Any], case_id: str | None = None
    ) -> PetitionReceipt:
        """Register a petition under ``case_id`` (default: the next ``petition-<year>-<n>``)."""
        case_id = case_id or self.next_case_id()
        envelope = self.send("petition.registered", payload, case_id=case_id)
        registered = envelope.payload
        assert isinstance(registered, PetitionRegistered)
        collective = is_collective(registered.people_count)
        if collective:
            log.warning("collective petition %s: %d people", case_id, registered.people_count)
        self._track(case_id, {"people_count": registered.people_count, "collective": collective})
        return PetitionReceipt(
            case_id=case_id,
            message_id=str(envelope.message_id),
            people_count=registered.people_count,
            collective=collective,
        )

    def observe(self, message: InboundMessage) -> None:
        """Follow routing copies and SLA warnings and breaches of the cases it coordinates."""
        envelope = message.envelope
        payload = envelope.payload
        case_id = envelope.case_id
        if case_id is None:
            return
        if isinstance(payload, CaseRouted):
            self._track(case_id, {
                "owner": payload.owner.value,
                "mode": payload.mode.value,
                "tier": payload.tier.value,
                "because": payload.because,
                "sign_by": payload.sign_by.isoformat() if payload.sign_by else None,
            })
        elif isinstance(payload, SlaWarning | SlaBreached):
            kind = "breached" if isinstance(payload, SlaBreached) else "warning"
            limit = {
                "stage": payload.stage,
                "department": payload.department.value,
                "due_at": payload.due_at.isoformat(),
                "status": kind,
            }
            log.warning("case %s: %s %s for %s, due %s", case_id, payload.stage, kind,
                        payload.department.value, limit["due_at"])
            self.state.update(TRACKED, case_id, lambda old: {
                **(old or {}),
                "limits": {**(old or {}).get("limits", {}), payload.stage: limit},
            })

    def tracked(self, case_id: str) -> dict[str, Any] | None:
        """What the bureau knows of a case it coordinates: owner, sign-by time, time limits."""
        stored = self.state.get(TRACKED, case_id)
        return None if stored is None else dict(stored)

    def _track(self, case_id: str, update: Mapping[str, Any]) -> None:
        self.state.update(TRACKED, case_id, lambda old: {**(old or {}), **update})

    def routers(self) -> list[APIRouter]:
        """``POST /petitions`` and ``GET /petitions/{case_id}``."""
        router = APIRouter(prefix="/petitions", tags=["petition"])

        @router.post("", status_code=202)
        def register(
            payload: Annotated[dict[str, Any], Body()], case_id: str | None = None
        ) -> PetitionReceipt:
            return self.register_petition(payload, case_id)

        @router.get("/{case_id}")
        def show(case_id: str) -> dict[str, Any]:
            found = self.tracked(case_id)
            if found is None:
                raise HTTPException(404, f"case {case_id} is not followed by the petition bureau")
            return found

        return [router]
