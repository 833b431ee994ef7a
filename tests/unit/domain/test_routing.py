"""Routing by duty: attachment §2 (each member unit's duties), notice §4.1 (首接负责, joint
handling) and §4.3.1 (joint verification), as the hub applies them to a registered case.
"""

from __future__ import annotations

from datetime import date

from contracts.codes import Category, Department, InsuranceType, Matter, RoutingMode, Tier
from contracts.messages.case import CaseRouted
from hub.domain.model import Stage
from hub.domain.routing import DUTY_RULES, route, side_of

from .builders import county_rules, local, only, registered, registration, sent, step

HRSS, MEDINS, TAX = Department.HRSS, Department.MEDINS, Department.TAX
CHANGE = date(2024, 1, 1)


def test_pension_arrears_from_2023_registered_at_tax_window_goes_to_hrss_before_the_change() -> (
    None
):
    """附件二 县人社局: 历史欠费 (优化调整社会保险费申报缴纳流程前) is hrss's, whoever took it in."""
    applied = step(
        None,
        registered(
            "tax", matters=["arrears"], insurance_types=["110"], period=("2023-01", "2023-06")
        ),
        county_rules(),
    )
    case = applied.case
    assert (case.owner, case.participants, case.mode) == (HRSS, (), RoutingMode.SINGLE)
    assert case.intake is TAX and case.stage is Stage.ROUTED and case.tier is Tier.ROUTINE
    assert sent(applied) == [("case.routed", HRSS), ("case.routed", TAX)]
    routed = only(applied.emits, "case.routed")
    assert isinstance(routed, CaseRouted)
    assert routed.rule == "hrss.arrears_before_change"
    assert routed.clause == "附件二(县人力资源社会保障局)"
    # 签收 within one working day: registered Monday 09:30, due at the end of Tuesday.
    assert routed.sign_by == local(2026, 11, 25)


def test_pension_arrears_from_2024_registered_at_hrss_window_go_to_tax_after_the_change() -> None:
    """附件二 县税务局: arrears from after the process change are the tax bureau's."""
    decision = route(
        registration(matters=["arrears"], insurance_types=["110"], period=("2024-01", "2024-06")),
        HRSS,
        CHANGE,
    )
    assert (decision.owner, decision.participants) == (TAX, ())
    assert decision.rule == "tax.collection_after_change"
    assert decision.clause == "附件二(县税务局)"


def test_medical_and_maternity_arrears_before_the_change_go_to_medins() -> None:
    """附件二 县医保局: 基本医疗保险(含生育保险) 历史欠费."""
    decision = route(
        registration(
            matters=["arrears"], insurance_types=["310", "510"], period=("2022-03", "2022-05")
        ),
        TAX,
        CHANGE,
    )
    assert (decision.owner, decision.participants) == (MEDINS, ())
    assert decision.rule == "medins.arrears_before_change"


def test_contribution_years_recognition_is_medins_duty_whatever_the_period() -> None:
    """附件二 县医保局: 参保缴费年限认定, even for months after the process change."""
    decision = route(
        registration(
            matters=["contribution_years"], insurance_types=["390"], period=("2025-01", "2025-12")
        ),
        TAX,
        CHANGE,
    )
    assert decision.owner is MEDINS
    assert decision.rule == "medins.registration_benefit"


def test_unemployment_and_work_injury_benefits_are_hrss_duty_even_after_the_change() -> None:
    """附件二 县人社局: 失业、工伤 待遇享受 stay with hrss after the process change."""
    decision = route(
        registration(
            matters=["benefit"], insurance_types=["210", "410"], period=("2025-01", "2025-02")
        ),
        TAX,
        CHANGE,
    )
    assert (decision.owner, decision.participants) == (HRSS, ())
    assert decision.rule == "hrss.registration_benefit"


def test_declaration_of_medical_fees_after_the_change_is_the_tax_bureaus() -> None:
    """附件二 县税务局: 申报受理、费款征收 after the process change, whatever the insurance type."""
    decision = route(
        registration(
            matters=["declaration"], insurance_types=["310"], period=("2025-03", "2025-03")
        ),
        MEDINS,
        CHANGE,
    )
    assert decision.owner is TAX


def test_collection_matter_naming_no_insurance_type_goes_to_the_tax_bureau() -> None:
    """附件二 县税务局 collects every type: a collection dispute naming none goes to tax."""
    decision = route(
        registration(matters=["payment_certificate"], insurance_types=[], period=None),
        HRSS,
        CHANGE,
    )
    assert decision.owner is TAX
    assert decision.rule == "tax.collection_untyped"


def test_fee_period_spanning_the_change_is_handled_jointly_led_by_the_intake() -> None:
    """通知四(一) 首接负责 + 多部门联合办理: hrss took it in and owns half of it, so hrss leads."""
    decision = route(
        registration(matters=["arrears"], insurance_types=["110"], period=("2023-07", "2024-03")),
        HRSS,
        CHANGE,
    )
    assert (decision.owner, decision.participants) == (HRSS, (TAX,))
    assert decision.mode is RoutingMode.JOINT
    assert decision.rule.split("+") == [
        "hrss.arrears_before_change",
        "tax.collection_after_change",
        "joint.lead",
    ]
    assert "joint handling led by hrss" in decision.explanation


def test_joint_lead_falls_to_tax_then_hrss_then_medins_when_the_intake_owns_nothing() -> None:
    """通知四(一): a township window took in a pension and medical benefit dispute: hrss leads."""
    decision = route(
        registration(matters=["benefit"], insurance_types=["310", "110"]),
        Department.TOWNSHIP,
        CHANGE,
    )
    assert (decision.owner, decision.participants) == (HRSS, (MEDINS,))
    assert decision.mode is RoutingMode.JOINT


def test_process_change_date_is_the_countys_setting() -> None:
    """附件二: the before/after line is the county's own date (SIHUB_PROCESS_CHANGE_DATE)."""
    dispute = registration(
        matters=["arrears"], insurance_types=["110"], period=("2024-03", "2024-05")
    )
    assert route(dispute, TAX, date(2024, 1, 1)).owner is TAX
    assert route(dispute, TAX, date(2025, 1, 1)).owner is HRSS


def test_fee_month_is_before_the_change_only_when_it_ends_before_the_change() -> None:
    """A month the change falls inside is already collected the new way: it counts as after."""
    assert side_of("2023-12", date(2024, 1, 1)) == "before"
    assert side_of("2024-01", date(2024, 1, 1)) == "after"
    assert side_of("2023-12", date(2023, 12, 15)) == "after"
    assert side_of("2023-11", date(2023, 12, 15)) == "before"


def test_data_dispute_is_verified_jointly_by_tax_hrss_and_medins() -> None:
    """通知四(三)1: 应申报/未申报/未缴纳/已缴纳数据 disputes are confirmed jointly by the three."""
    applied = step(
        None,
        registered(
            "township",
            matters=["payment_data"],
            insurance_types=["110"],
            category=Category.PAYMENT_DATA,
        ),
        county_rules(),
    )
    case = applied.case
    assert (case.owner, case.participants) == (TAX, (HRSS, MEDINS))
    assert case.mode is RoutingMode.JOINT_VERIFICATION
    assert case.routing is not None and case.routing.rule == "joint.verification"
    assert case.routing.clause == "通知四(三)1"
    assert sorted(sent(applied)) == sorted(
        ("case.routed", d) for d in (TAX, HRSS, MEDINS, Department.TOWNSHIP)
    )
    # Only the lead's signature is on the clock.
    assert [(d.key, d.department) for d in case.deadlines] == [("routine.sign", TAX)]


def test_refund_and_late_fee_matters_are_verified_jointly_in_any_category() -> None:
    """通知四(三)1 also covers 退费 and 滞纳金加收, even filed under another category."""
    for matter in (Matter.REFUND, Matter.LATE_FEE):
        decision = route(registration(matters=[matter], category=Category.OTHER), MEDINS, CHANGE)
        assert decision.mode is RoutingMode.JOINT_VERIFICATION
        # medins took it in and is one of the three: first contact leads.
        assert (decision.owner, decision.participants) == (MEDINS, (TAX, HRSS))


def test_matter_no_duty_names_stays_with_the_intake_or_goes_to_tax() -> None:
    """通知四(三)5-6: 对征缴服务不满意 and other matters are handled within one's own remit."""
    service = registration(matters=["service"], insurance_types=["110"])
    at_hrss = route(service, HRSS, CHANGE)
    assert (at_hrss.owner, at_hrss.rule) == (HRSS, "other.by_own_duty")
    assert route(service, Department.UNION, CHANGE).owner is TAX


def test_every_duty_rule_names_a_clause_of_attachment_two() -> None:
    """The duty table is data: each rule cites the member unit whose duty it encodes."""
    assert len({rule.id for rule in DUTY_RULES}) == len(DUTY_RULES)
    owners = {
        HRSS: "附件二(县人力资源社会保障局)",
        MEDINS: "附件二(县医保局)",
        TAX: "附件二(县税务局)",
    }
    for rule in DUTY_RULES:
        assert rule.clause == owners[rule.owner], rule.id


def test_every_insurance_type_has_an_owner_for_its_arrears_before_the_change() -> None:
    """No 险种 falls through the duty table: each has an insurance bureau for 历史欠费."""
    for itype in InsuranceType:
        decision = route(
            registration(
                matters=["arrears"], insurance_types=[itype], period=("2022-01", "2022-01")
            ),
            Department.TOWNSHIP,
            CHANGE,
        )
        assert decision.owner in (HRSS, MEDINS), itype
        assert "other.by_own_duty" not in decision.rule


def test_every_category_of_the_notice_scope_is_registered_and_routed() -> None:
    """通知三 处理范围 (一)–(七): each category is accepted; (四) 特殊缴费、退费、滞纳金 and
    (五) 缴费数据 disputes are verified jointly, the others go by duty."""
    expected = {
        Category.PETITION_OPINION: RoutingMode.SINGLE,
        Category.ENROLLMENT_PAYMENT_BENEFIT: RoutingMode.SINGLE,
        Category.BASE_AND_AMOUNT: RoutingMode.SINGLE,
        Category.SPECIAL_REFUND_LATE_FEE: RoutingMode.JOINT_VERIFICATION,
        Category.PAYMENT_DATA: RoutingMode.JOINT_VERIFICATION,
        Category.EMPLOYER_NONCOMPLIANCE: RoutingMode.SINGLE,
        Category.OTHER: RoutingMode.SINGLE,
    }
    assert set(expected) == set(Category)
    for category, mode in expected.items():
        decision = route(registration(category=category), TAX, CHANGE)
        assert decision.mode is mode, category
        assert decision.owner is (TAX if mode is RoutingMode.JOINT_VERIFICATION else HRSS)
