"""Payloads of the case lifecycle (DESIGN §4, §5): registration to closing, petitions."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import ConfigDict, Field, model_validator

from contracts.codes import (
    Category,
    Channel,
    Department,
    EscalationTrigger,
    FeedbackMethod,
    InsuranceType,
    Matter,
    MeetingDecision,
    Outcome,
    Resolution,
    RoutingMode,
    Satisfaction,
    Tier,
)
from contracts.messages.base import (
    Contract,
    Employer,
    FeePeriod,
    Party,
    rule_error,
    schema_not_null,
    schema_when,
)
from contracts.values import Count, Instant, Jurisdiction, Label, Text, Yuan


def _unique(values: tuple[object, ...], what: str) -> None:
    if len(set(values)) != len(values):
        raise rule_error("unique", "values must not repeat", what)


class CaseRegistered(Contract):
    """First contact registers a dispute in the work ledger (首接负责, 登记工作台账)."""

    channel: Channel
    received_at: Instant
    intake_clerk: Label
    party: Party
    employer: Employer | None
    jurisdiction: Jurisdiction
    category: Category
    matters: tuple[Matter, ...] = Field(min_length=1, json_schema_extra={"uniqueItems": True})
    insurance_types: tuple[InsuranceType, ...] = Field(json_schema_extra={"uniqueItems": True})
    fee_period: FeePeriod | None
    amount_in_dispute: Yuan | None
    summary: Text
    initial_opinion: Text
    urgent: bool

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        _unique(self.matters, "matters")
        _unique(self.insurance_types, "insurance_types")
        return self


class PetitionRegistered(CaseRegistered):
    """A dispute that reached the petition bureau (信访事项); five or more people is collective."""

    petition_no: Label
    # Annotated, not `= Field(ge=1)`: a default's constraint would lose to Count's own ge=0.
    people_count: Annotated[Count, Field(ge=1)]


#: From this many people a petition is collective (集体访).
COLLECTIVE_PETITION_MIN_PEOPLE = 5


class CaseRouted(Contract):
    """The hub assigns a case to its owner(s) by duty; sent to owner, participants and intake."""

    owner: Department
    participants: tuple[Department, ...]
    coordinator: Department | None
    intake: Department
    mode: RoutingMode
    tier: Tier
    because: Label  # registered | transferred | joint_handling | escalated | reopened | meeting | objection
    rule: Text
    clause: Text
    explanation: Text
    sign_by: Instant | None
    registration: CaseRegistered | PetitionRegistered


class CaseTransferred(Contract):
    """The owner hands the case to the department whose duty it is (转办), or objects to it."""

    to: Department
    reason: Text
    objection: bool = False  # the owner objects that the case was misdirected to it


class CaseAccepted(Contract):
    """The owner signs for the case (签收)."""

    handler: Label
    note: Text | None = None


class CaseJointHandlingRequested(Contract):
    """The owner or the intake asks for joint handling (联合办理) with a lead department."""

    model_config = ConfigDict(
        json_schema_extra={
            # _lead_not_participant in JSON Schema terms: one if/then per department
            "allOf": [
                schema_when(
                    "lead",
                    lead.value,
                    {"properties": {"participants": {"not": {"contains": {"const": lead.value}}}}},
                )
                for lead in Department
            ]
        }
    )

    lead: Department
    participants: tuple[Department, ...] = Field(
        min_length=1, json_schema_extra={"uniqueItems": True}
    )
    reason: Text

    @model_validator(mode="after")
    def _lead_not_participant(self) -> Self:
        _unique(self.participants, "participants")
        if self.lead in self.participants:
            raise rule_error(
                "joint_lead", "the lead department is not also a participant", "participants"
            )
        return self


class CaseEscalated(Contract):
    """A case moves up a tier: manually, on an SLA breach, or by a meeting's decision."""

    from_tier: Tier
    to_tier: Tier
    trigger: EscalationTrigger
    reason: Text
    convene_by: Instant | None = None


class CaseMeetingConcluded(Contract):
    """The task force, the leading-group office or the joint meeting concludes on a case."""

    model_config = ConfigDict(
        json_schema_extra=schema_when(
            "decision", MeetingDecision.ASSIGN.value, schema_not_null("lead")
        )
    )

    tier: Tier
    meeting_no: Label
    held_at: Instant
    attendees: tuple[Department, ...] = Field(min_length=1)
    decision: MeetingDecision
    lead: Department | None = None
    participants: tuple[Department, ...] = ()
    minutes: Text

    @model_validator(mode="after")
    def _assignment_names_lead(self) -> Self:
        if self.decision is MeetingDecision.ASSIGN and self.lead is None:
            raise rule_error(
                "meeting_lead", "an 'assign' decision names the lead department", "lead"
            )
        return self


class CaseHandled(Contract):
    """The owner (or a participant, for its part) reports the handling result."""

    outcome: Outcome
    result: Text
    handled_at: Instant


class CaseReplied(Contract):
    """The lead's unified reply (统一答复) for a case handled by several departments."""

    reply: Text
    replied_at: Instant
    outcome: Outcome


class CaseFeedbackGiven(Contract):
    """The intake department fed the result back to the party."""

    method: FeedbackMethod
    given_at: Instant
    satisfaction: Satisfaction
    note: Text | None = None


class CaseClosed(Contract):
    """The intake department closes the loop."""

    resolution: Resolution
    closed_at: Instant


class CaseReopened(Contract):
    """The party is not satisfied: the intake department reopens the case."""

    reason: Text
    reopened_at: Instant
    amount_in_dispute: Yuan | None = None
