"""Codes of record: every closed vocabulary that crosses the wire (DESIGN §3–§5).

Each is a ``StrEnum`` whose values are the wire strings. Adding a member is a
compatible change; removing or renaming one breaks integrators (see
``docs/contracts.md``).
"""

from __future__ import annotations

from enum import StrEnum


class Department(StrEnum):
    """Department codes: routing keys, RabbitMQ users, metric labels (DESIGN §3)."""

    TAX = "tax"
    HRSS = "hrss"
    MEDINS = "medins"
    COURT = "court"
    PETITION = "petition"
    POLICE = "police"
    JUSTICE = "justice"
    FINANCE = "finance"
    UNION = "union"
    TOWNSHIP = "township"
    TASKFORCE = "taskforce"
    LGO = "lgo"
    #: The hub itself: the source of what the hub emits.
    HUB = "hub"


#: Departments that run an adapter and own a queue ``sihub.dept.<code>``.
QUEUE_DEPARTMENTS: tuple[Department, ...] = tuple(d for d in Department if d is not Department.HUB)


class Category(StrEnum):
    """The seven categories of the notice §3 (处理范围)."""

    PETITION_OPINION = "petition_opinion"
    ENROLLMENT_PAYMENT_BENEFIT = "enrollment_payment_benefit"
    BASE_AND_AMOUNT = "base_and_amount"
    SPECIAL_REFUND_LATE_FEE = "special_refund_late_fee"
    PAYMENT_DATA = "payment_data"
    EMPLOYER_NONCOMPLIANCE = "employer_noncompliance"
    OTHER = "other"


class Matter(StrEnum):
    """What a dispute is about; the duties of attachment §2 are written in these terms."""

    REGISTRATION = "registration"  # 参保登记
    ENROLLMENT = "enrollment"  # 参保
    CONTRIBUTION_YEARS = "contribution_years"  # 参保缴费年限认定
    ARREARS = "arrears"  # 欠费
    BACK_PAYMENT = "back_payment"  # 政策性补缴
    BENEFIT = "benefit"  # 待遇享受
    DECLARATION = "declaration"  # 申报
    COLLECTION = "collection"  # 费款征收
    ACCOUNTING = "accounting"  # 会统核算
    PAYMENT_INSPECTION = "payment_inspection"  # 缴费检查
    CONTRIBUTION_BASE = "contribution_base"  # 缴费基数
    AMOUNT_DUE = "amount_due"  # 应缴费额
    SPECIAL_PAYMENT = "special_payment"  # 特殊缴费
    REFUND = "refund"  # 退费
    LATE_FEE = "late_fee"  # 滞纳金
    PAYMENT_DATA = "payment_data"  # 应申报/未申报/未缴纳/已缴纳数据
    PAYMENT_CERTIFICATE = "payment_certificate"  # 缴费证明
    SERVICE = "service"  # 对征缴服务不满意
    OTHER = "other"


class InsuranceType(StrEnum):
    """National insurance-type codes (险种)."""

    ENTERPRISE_PENSION = "110"
    INSTITUTION_PENSION = "120"
    RESIDENT_PENSION = "170"
    UNEMPLOYMENT = "210"
    EMPLOYEE_MEDICAL = "310"
    RESIDENT_MEDICAL = "390"
    WORK_INJURY = "410"
    MATERNITY = "510"


class Tier(StrEnum):
    """Tiers of handling (分类分级), in escalation order."""

    ROUTINE = "routine"  # 日常争议
    DIFFICULT = "difficult"  # 疑难争议 → task force
    MAJOR = "major"  # 重大疑难争议 → leading-group office
    JOINT_MEETING = "joint_meeting"  # 重大问题 → leading group's joint meeting


#: Escalation order; the next tier of the last one is itself.
TIER_ORDER: tuple[Tier, ...] = (Tier.ROUTINE, Tier.DIFFICULT, Tier.MAJOR, Tier.JOINT_MEETING)


def next_tier(tier: Tier) -> Tier | None:
    """The tier a case escalates to from ``tier``; ``None`` at the top."""
    index = TIER_ORDER.index(tier)
    return TIER_ORDER[index + 1] if index + 1 < len(TIER_ORDER) else None


class Channel(StrEnum):
    """Where a dispute first reached a department (统筹线上线下服务资源)."""

    WINDOW = "window"
    PHONE = "phone"
    HOTLINE = "hotline"
    ONLINE = "online"
    LETTER = "letter"
    VISIT = "visit"
    GRID = "grid"  # 社会综合治理网格 visits
    MEDIA = "media"  # 舆情
    OTHER = "other"


class PartyKind(StrEnum):
    """Who raised the dispute. ``employer`` carries a credit code, the others an ID number."""

    EMPLOYEE = "employee"
    FLEXIBLE_WORKER = "flexible_worker"
    RESIDENT = "resident"
    RETIREE = "retiree"
    EMPLOYER = "employer"


class PayerKind(StrEnum):
    """Who paid a contribution in a payment-detail record."""

    EMPLOYER = "employer"
    FLEXIBLE_WORKER = "flexible_worker"
    RESIDENT = "resident"


class Outcome(StrEnum):
    """Outcome of handling a case (``case.handled``)."""

    UPHELD = "upheld"
    PARTIALLY_UPHELD = "partially_upheld"
    NOT_UPHELD = "not_upheld"
    EXPLAINED = "explained"  # 政策解释
    ADJUSTED = "adjusted"  # data corrected after joint verification
    WITHDRAWN = "withdrawn"


class FeedbackMethod(StrEnum):
    """How the result was fed back to the party."""

    PHONE = "phone"
    IN_PERSON = "in_person"
    SMS = "sms"
    LETTER = "letter"
    ONLINE = "online"


class Satisfaction(StrEnum):
    """The party's view of the result."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    NOT_SATISFIED = "not_satisfied"


class Resolution(StrEnum):
    """How a case closed."""

    RESOLVED = "resolved"
    PAID = "paid"  # arrears paid after dunning or enforcement
    ENFORCED = "enforced"
    WITHDRAWN = "withdrawn"
    NOT_UPHELD = "not_upheld"
    MERGED = "merged"


class EscalationTrigger(StrEnum):
    """Why a case moved up a tier."""

    MANUAL = "manual"
    SLA_BREACH = "sla_breach"
    MEETING = "meeting"


class MeetingDecision(StrEnum):
    """What a task-force, leading-group-office or joint meeting decided."""

    ASSIGN = "assign"  # departments named handle it under the meeting's deadline
    ESCALATE = "escalate"  # refer it up one tier
    RESOLVED = "resolved"  # the meeting settled it; result reported to intake
    #: The leading-group office extends a major case's handling limit, once (信访工作条例).
    EXTEND = "extend"


class RoutingMode(StrEnum):
    """How a case is handled after routing."""

    SINGLE = "single"
    JOINT = "joint"  # several owners, one lead (联合办理)
    JOINT_VERIFICATION = "joint_verification"  # data/refund/late fee: tax + hrss + medins (§4.3.1)
    PETITION = "petition"  # petition bureau coordinates, owner handles
    ENFORCEMENT = "enforcement"  # arrears to court


class Ruling(StrEnum):
    """The court's ruling on an enforcement application (行政强制法 art. 57)."""

    ENFORCE = "enforce"
    REFUSE = "refuse"


class EnforcementResult(StrEnum):
    """How court enforcement ended."""

    EXECUTED_IN_FULL = "executed_in_full"
    PARTIALLY_EXECUTED = "partially_executed"
    TERMINATED = "terminated"
    BANKRUPTCY = "bankruptcy"


class ReceiptStatus(StrEnum):
    """Business receipt for a transfer or a delivery (received / accepted / rejected)."""

    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class RejectReason(StrEnum):
    """Reason codes of record (``examples/README.md``): header ``x-sihub-reject-reason``."""

    MALFORMED_JSON = "malformed_json"
    SCHEMA_VIOLATION = "schema_violation"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_VERSION = "unsupported_version"
    INVALID_ID_NUMBER = "invalid_id_number"
    INVALID_USCC = "invalid_uscc"
    MISSING_USER_ID = "missing_user_id"
    SOURCE_MISMATCH = "source_mismatch"
    BAD_SIGNATURE = "bad_signature"
    NOT_PERMITTED = "not_permitted"
    PRECONDITION_FAILED = "precondition_failed"
    OVERSIZED = "oversized"
