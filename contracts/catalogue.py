"""The message catalogue of DESIGN §4: type name → payload contract (version 1)."""

from __future__ import annotations

from types import MappingProxyType

from contracts.messages.arrears import (
    ArrearsConfirmationRequested,
    ArrearsConfirmed,
    ArrearsNotice,
    EnforcementAccepted,
    EnforcementApplied,
    EnforcementConcluded,
    EnforcementRuled,
)
from contracts.messages.base import Contract
from contracts.messages.case import (
    CaseAccepted,
    CaseClosed,
    CaseEscalated,
    CaseFeedbackGiven,
    CaseHandled,
    CaseJointHandlingRequested,
    CaseMeetingConcluded,
    CaseRegistered,
    CaseReopened,
    CaseReplied,
    CaseRouted,
    CaseTransferred,
    PetitionRegistered,
)
from contracts.messages.payment import PaymentDetails, PaymentReceipt
from contracts.messages.sla import SlaBreached, SlaWarning

CATALOGUE: MappingProxyType[str, type[Contract]] = MappingProxyType(
    {
        "case.registered": CaseRegistered,
        "case.routed": CaseRouted,
        "case.transferred": CaseTransferred,
        "case.accepted": CaseAccepted,
        "case.joint_handling_requested": CaseJointHandlingRequested,
        "case.escalated": CaseEscalated,
        "case.meeting_concluded": CaseMeetingConcluded,
        "case.handled": CaseHandled,
        "case.feedback_given": CaseFeedbackGiven,
        "case.replied": CaseReplied,
        "case.closed": CaseClosed,
        "case.reopened": CaseReopened,
        "sla.warning": SlaWarning,
        "sla.breached": SlaBreached,
        "payment.details": PaymentDetails,
        "payment.receipt": PaymentReceipt,
        "arrears.notice": ArrearsNotice,
        "arrears.confirmation_requested": ArrearsConfirmationRequested,
        "arrears.confirmed": ArrearsConfirmed,
        "enforcement.applied": EnforcementApplied,
        "enforcement.accepted": EnforcementAccepted,
        "enforcement.ruled": EnforcementRuled,
        "enforcement.concluded": EnforcementConcluded,
        "petition.registered": PetitionRegistered,
    }
)
