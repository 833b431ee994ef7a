"""The people's court's adapter (县人民法院, ``court``).

Receives the tax bureau's applications for compulsory enforcement of social
insurance arrears (``enforcement.applied``, 行政强制法 art. 53–57) and answers each
one: accepted (立案, within 5 days), ruled (裁定, within 7 days), concluded (what
was recovered). The court's own reference, given on acceptance, is remembered so
later steps need only the case id.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from fastapi import APIRouter
from pydantic import BaseModel

from adapters.department import DepartmentAdapter
from adapters.errors import NotAllowedYet
from adapters.outbound import describe
from adapters.sinks import InboundMessage
from contracts import AnyEnvelope
from contracts.codes import Department, EnforcementResult, Ruling
from contracts.messages.arrears import (
    EnforcementAccepted,
    EnforcementApplied,
    EnforcementConcluded,
    EnforcementRuled,
)

APPLICATIONS = "enforcement"


class AcceptRequest(BaseModel):
    """Accept an application under the court's own reference."""

    court_case_ref: str
    accepted_on: date | None = None
    note: str | None = None


class RuleRequest(BaseModel):
    """Rule whether to enforce."""

    ruling: Ruling
    ruled_on: date | None = None
    reason: str | None = None


class ConcludeRequest(BaseModel):
    """Conclude enforcement with what was recovered (yuan, a decimal string)."""

    result: EnforcementResult
    amount_recovered: Decimal
    concluded_on: date | None = None
    note: str | None = None


class CourtAdapter(DepartmentAdapter):
    """The ``court`` adapter."""

    code: ClassVar[Department] = Department.COURT

    def observe(self, message: InboundMessage) -> None:
        """Remember each application received (number, amounts)."""
        envelope = message.envelope
        if isinstance(envelope.payload, EnforcementApplied) and envelope.case_id is not None:
            self.state.put(APPLICATIONS, envelope.case_id, envelope.payload.model_dump(mode="json"))

    def application(self, case_id: str) -> dict[str, Any]:
        """The application received for ``case_id`` as stored, plus the court's reference."""
        stored = self.state.get(APPLICATIONS, case_id)
        if stored is None:
            raise NotAllowedYet(f"no enforcement application for case {case_id} has reached the court")
        return dict(stored)

    def accept(
        self, case_id: str, court_case_ref: str, accepted_on: date | None = None, note: str | None = None
    ) -> AnyEnvelope:
        """Accept (立案) the application: ``enforcement.accepted``."""
        stored = self.application(case_id)
        payload = EnforcementAccepted(
            court_case_ref=court_case_ref, accepted_on=accepted_on or self.clock().date(), note=note
        )
        sent = self.send("enforcement.accepted", payload, case_id=case_id)
        self.state.put(APPLICATIONS, case_id, {**stored, "court_case_ref": court_case_ref})
        return sent

    def rule(
        self, case_id: str, ruling: Ruling, ruled_on: date | None = None, reason: str | None = None
    ) -> AnyEnvelope:
        """Rule (裁定) whether to enforce: ``enforcement.ruled``."""
        payload = EnforcementRuled(
            court_case_ref=self._reference(case_id),
            ruling=ruling,
            ruled_on=ruled_on or self.clock().date(),
            reason=reason,
        )
        return self.send("enforcement.ruled", payload, case_id=case_id)

    def conclude(
        self,
        case_id: str,
        result: EnforcementResult,
        amount_recovered: Decimal,
        concluded_on: date | None = None,
        note: str | None = None,
    ) -> AnyEnvelope:
        """Conclude enforcement: ``enforcement.concluded`` with the amount recovered."""
        payload = EnforcementConcluded(
            court_case_ref=self._reference(case_id),
            result=result,
            amount_recovered=amount_recovered,
            concluded_on=concluded_on or self.clock().date(),
            note=note,
        )
        return self.send("enforcement.concluded", payload, case_id=case_id)

    def _reference(self, case_id: str) -> str:
        reference = self.application(case_id).get("court_case_ref")
        if not isinstance(reference, str):
            raise NotAllowedYet(f"the court has not accepted case {case_id} yet")
        return reference

    def routers(self) -> list[APIRouter]:
        """``GET /enforcement/{case_id}`` and ``POST .../accept|rule|conclude``."""
        router = APIRouter(prefix="/enforcement", tags=["court"])

        @router.get("/{case_id}")
        def show(case_id: str) -> dict[str, Any]:
            return self.application(case_id)

        @router.post("/{case_id}/accept", status_code=202)
        def accept(case_id: str, body: AcceptRequest) -> dict[str, str]:
            return describe(self.accept(case_id, body.court_case_ref, body.accepted_on, body.note))

        @router.post("/{case_id}/rule", status_code=202)
        def rule(case_id: str, body: RuleRequest) -> dict[str, str]:
            return describe(self.rule(case_id, body.ruling, body.ruled_on, body.reason))

        @router.post("/{case_id}/conclude", status_code=202)
        def conclude(case_id: str, body: ConcludeRequest) -> dict[str, str]:
            return describe(
                self.conclude(case_id, body.result, body.amount_recovered, body.concluded_on, body.note)
            )

        return [router]
