"""A month in Wuhe County (November 2026), step by step, on the simulated clock.

Every step acts through a department's adapter, then lets the county settle and
the SLA scheduler fire what is due at the new simulated time. The cases:

* A — pension arrears from 2023 registered at the tax window → hrss (before the change)
* B — a resident's medical benefit registered at the medins window → medins
* C — an employer's arrears after the change plus benefits → joint: hrss leads, tax and medins
* D — routed to hrss, transferred to medins (maternity), closed there
* E — a contribution-base dispute nobody signs for: task force, then the leading-group office
* F — a collective petition of six workers: coordinated by the petition bureau, one reply
* G — arrears not cleared after dunning → joint confirmation → court enforcement
* a payment-detail batch split to hrss and medins and reconciled, and invalid messages
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.court import CourtAdapter
from adapters.insurance import InsuranceAdapter
from adapters.petition import PetitionAdapter
from adapters.tax.adapter import TaxAdapter
from contracts.codes import (
    Department,
    EnforcementResult,
    FeedbackMethod,
    MeetingDecision,
    Outcome,
    Resolution,
    Ruling,
    Satisfaction,
    Tier,
)
from contracts.identifiers import id_number_check_char, uscc_check_char
from contracts.messages.case import (
    CaseClosed,
    CaseFeedbackGiven,
    CaseMeetingConcluded,
    CaseRegistered,
    CaseReplied,
    PetitionRegistered,
)
from hub.bus.factory import open_broker
from hub.bus.types import Outgoing
from hub.demo.county import County, department_url
from hub.domain.durations import COUNTY_TZ

Say = Callable[[str], None]


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A moment of November 2026 (December for day > 30), county time."""
    base = date(2026, 11, 1) + timedelta(days=day - 1)
    return datetime.combine(base, time(hour, minute), tzinfo=COUNTY_TZ)


def person(n: int) -> str:
    """A synthetic resident ID number of Wuhe with a valid check digit."""
    first17 = f"340322{date(1980, 1, 1) + timedelta(days=97 * n):%Y%m%d}{n % 1000:03d}"
    return first17 + id_number_check_char(first17)


def employer(n: int) -> str:
    """A synthetic credit code with a valid check character."""
    first17 = f"91340322MA2T{n:04d}A"
    return first17 + uscc_check_char(first17)


def dispute(
    *,
    n: int,
    matters: list[str],
    types: list[str],
    period: tuple[str, str] | None,
    category: str = "enrollment_payment_benefit",
    summary: str,
    opinion: str,
    kind: str = "employee",
    at_: datetime,
    clerk: str = "W-0001",
    **extra: Any,
) -> dict[str, Any]:
    """The payload of a registration (a dict the adapters validate with the contracts)."""
    party = {
        "kind": kind,
        "name": f"当事人{n}",
        "id_number": person(n) if kind != "employer" else None,
        "uscc": employer(n) if kind == "employer" else None,
        "phone": f"1380000{n:04d}",
    }
    return {
        "channel": extra.pop("channel", "window"),
        "received_at": at_.isoformat(),
        "intake_clerk": clerk,
        "party": party,
        "employer": {"name": f"五河县某企业{n}有限公司", "uscc": employer(n)},
        "jurisdiction": "340322101",
        "category": category,
        "matters": matters,
        "insurance_types": types,
        "fee_period": {"start": period[0], "end": period[1]} if period else None,
        "amount_in_dispute": extra.pop("amount", None),
        "summary": summary,
        "initial_opinion": opinion,
        "urgent": extra.pop("urgent", False),
        **extra,
    }


@dataclass
class Scenario:
    """The script, and what it expects to find at the end."""

    county: County
    say: Say
    workdir: Path
    cases: dict[str, str] = field(default_factory=dict)  # letter → case id
    batch_parts: list[str] = field(default_factory=list)
    invalid_sent: dict[str, str] = field(default_factory=dict)  # label → expected reason

    @property
    def tax(self) -> TaxAdapter:
        adapter = self.county["tax"]
        assert isinstance(adapter, TaxAdapter)
        return adapter

    def insurance(self, code: str) -> InsuranceAdapter:
        adapter = self.county[code]
        assert isinstance(adapter, InsuranceAdapter)
        return adapter

    @property
    def court(self) -> CourtAdapter:
        adapter = self.county["court"]
        assert isinstance(adapter, CourtAdapter)
        return adapter

    @property
    def petition(self) -> PetitionAdapter:
        adapter = self.county["petition"]
        assert isinstance(adapter, PetitionAdapter)
        return adapter

    def now(self, moment: datetime) -> None:
        """Let what was sent arrive, then move the clock to ``moment`` and fire what is due."""
        self.county.settle()
        self.county.clock.set(moment)
        self.say(f"[bold]── {moment:%a %Y-%m-%d %H:%M}[/bold]")
        self.county.tick()

    def register(self, letter: str, code: str, payload: dict[str, Any]) -> str:
        adapter = self.county[code]
        envelope = adapter.send(
            "case.registered",
            CaseRegistered.model_validate_json(json.dumps(payload)),
            case_id=adapter.next_case_id(),
        )
        assert envelope.case_id is not None
        self.cases[letter] = envelope.case_id
        self.say(f"{code} registers case {letter} = {envelope.case_id}: {payload['summary']}")
        return envelope.case_id

    def case(self, letter: str) -> Any:
        with self.county.runtime.store.transaction() as tx:
            return tx.load_case(self.cases[letter])

    def feedback_and_close(self, letter: str, code: str, moment: datetime) -> None:
        case_id = self.cases[letter]
        adapter = self.county[code]
        adapter.send(
            "case.feedback_given",
            CaseFeedbackGiven(
                method=FeedbackMethod.PHONE,
                given_at=moment,
                satisfaction=Satisfaction.SATISFIED,
                note="已电话告知处理结果。",
            ),
            case_id=case_id,
        )
        self.county.settle()
        adapter.send(
            "case.closed",
            CaseClosed(resolution=Resolution.RESOLVED, closed_at=moment),
            case_id=case_id,
        )
        self.say(f"{code} tells the party the result of {letter} and closes it")

    def run(self) -> None:
        """The month, day by day."""
        self.day_one()
        self.day_one_afternoon()
        self.now(at(3, 10))
        self.insurance("medins").sign_for(self.cases["D"], "M-0311")
        self.say("medins signs for D (transferred to it)")
        self.now(at(4, 0, 5))  # E was due 24:00 on Tuesday: breach → task force
        self.report(self.case("E"), "E")
        self.now(at(5, 14))
        self.handle_all()
        self.now(at(6, 10))
        for letter, code in (("A", "tax"), ("B", "medins"), ("C", "hrss"), ("D", "tax")):
            self.feedback_and_close(letter, code, at(6, 10))
        self.feedback_and_close("F", "petition", at(6, 10))
        self.county.settle()
        self.now(at(12, 0, 5))  # the task force never met on E: → leading-group office
        self.report(self.case("E"), "E")
        self.now(at(13, 15))
        self.office_meets_on_e()
        self.now(at(17, 9, 30))  # G: ten working days after the demand, and the payment date passed
        self.say(
            f"the enforcement window of G opens; hrss and medins confirmed: stage {self.case('G').stage.value}"
        )
        self.now(at(18, 10))
        self.enforce_g()
        self.now(at(32, 9))  # 2 December: nothing is due that should not be

    def day_one(self) -> None:
        self.now(at(2, 9))
        when = at(2, 9)
        self.register(
            "A",
            "tax",
            dispute(
                n=1,
                matters=["arrears", "benefit"],
                types=["110"],
                period=("2023-01", "2023-06"),
                summary="单位2023年上半年欠缴养老保险费，职工退休待遇无法核定。",
                opinion="流程调整前历史欠费，建议人社局处理。",
                at_=when,
                amount="8640.00",
            ),
        )
        self.register(
            "B",
            "medins",
            dispute(
                n=2,
                matters=["benefit"],
                types=["390"],
                period=("2025-01", "2025-12"),
                summary="城乡居民医保报销待遇争议。",
                opinion="属医保局职责。",
                kind="resident",
                at_=when,
            ),
        )
        self.register(
            "C",
            "hrss",
            dispute(
                n=3,
                matters=["arrears", "benefit"],
                types=["110", "310"],
                period=("2025-03", "2025-08"),
                category="employer_noncompliance",
                summary="单位2025年欠缴养老、医疗保险费，影响职工待遇。",
                opinion="多部门联合办理。",
                at_=when,
            ),
        )
        self.register(
            "D",
            "tax",
            dispute(
                n=4,
                matters=["benefit"],
                types=["110"],
                period=None,
                summary="职工生育津贴待遇争议，窗口误登记为养老保险。",
                opinion="请人社局核实。",
                at_=when,
            ),
        )
        self.register(
            "E",
            "medins",
            dispute(
                n=5,
                matters=["contribution_base"],
                types=["310"],
                period=("2026-01", "2026-06"),
                category="base_and_amount",
                summary="单位对2026年医保缴费基数核定有异议。",
                opinion="流程调整后基数争议，属税务局。",
                at_=when,
            ),
        )
        petition = dispute(
            n=6,
            matters=["arrears", "benefit"],
            types=["110", "310"],
            period=("2026-01", "2026-06"),
            category="petition_opinion",
            summary="六名职工集体来访，反映单位长期欠缴社保费影响医保报销。",
            opinion="集体访，建议联合办理。",
            at_=when,
            channel="visit",
            urgent=True,
            petition_no="五信〔2026〕031号",
            people_count=6,
        )
        receipt = self.petition.register_petition(
            PetitionRegistered.model_validate_json(json.dumps(petition))
        )
        self.cases["F"] = receipt.case_id
        self.say(
            f"petition registers case F = {receipt.case_id}: a collective petition of {receipt.people_count} "
            f"(collective: {receipt.collective})"
        )
        notice = self.tax.serve_arrears_notice(
            {
                "notice_no": "五税社催〔2026〕15号",
                "employer": {"name": "五河县某纺织有限公司", "uscc": employer(7)},
                "insurance_types": ["110", "210", "310"],
                "period_start": "2026-01",
                "period_end": "2026-06",
                "principal": "186400.00",
                "late_fee_from": "2026-02-16",
                "served_on": "2026-11-02",
                "pay_by": "2026-11-16",
                "workers_affected": 37,
            }
        )
        assert notice.case_id is not None
        self.cases["G"] = notice.case_id
        self.say(
            f"tax serves a demand for payment (催告书) on an employer: arrears case G = {notice.case_id}"
        )
        self.push_payment_details()
        self.send_invalid()
        self.county.settle()

    def push_payment_details(self) -> None:
        path = self.workdir / "缴费明细.csv"
        names = {
            "110": "企业职工基本养老保险费",
            "210": "失业保险费",
            "310": "职工基本医疗保险费",
            "510": "生育保险费",
        }
        header = [
            "记录号",
            "缴费人识别号",
            "缴费人名称",
            "证件号码",
            "险种",
            "费款所属期起",
            "费款所属期止",
            "缴费基数",
            "应缴金额",
            "实缴金额",
            "滞纳金",
            "票证号码",
            "缴款日期",
            "入库日期",
        ]
        rows = []
        for i in range(240):
            itype = ("110", "310", "210", "510")[i % 4]
            base = Decimal(4000 + 10 * i)
            due = (base * Decimal("0.16" if itype == "110" else "0.08")).quantize(Decimal("0.01"))
            rows.append(
                [
                    f"r-{i:06d}",
                    employer(100 + i % 12),
                    f"五河县某企业{i % 12}",
                    person(100 + i),
                    names[itype],
                    "2026-10",
                    "2026-10",
                    f"{base}",
                    f"{due}",
                    f"{due}",
                    "0.00",
                    f"3340322260{i:08d}",
                    "2026-11-20",
                    "2026-11-21",
                ]
            )
        rows[17][8] = "一百元"  # two bad rows: the report names them, the good rows go
        rows[33][3] = rows[33][3][:-1] + ("0" if rows[33][3][-1] != "0" else "1")
        with path.open("w", encoding="gbk", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        result = self.tax.push(path, collected_on=date(2026, 11, 2))
        self.batch_parts = [part_id for part_id, _, _ in result.parts]
        bad = ", ".join(f"row {p.row}: {p.reason}" for p in result.report.problems[:2])
        self.say(
            f"tax pushes payment details {result.batch_id} (GBK CSV): {result.report.accepted} rows sent, "
            f"{len(result.report.problems)} refused ({bad})"
        )

    def send_invalid(self) -> None:
        """A few messages the hub must refuse, each with its reason code, into quarantine."""
        good = json.loads(
            CaseRegistered.model_validate_json(
                json.dumps(
                    dispute(
                        n=9,
                        matters=["benefit"],
                        types=["110"],
                        period=None,
                        summary="测试",
                        opinion="测试",
                        at_=at(2, 9),
                    )
                )
            ).model_dump_json()
        )
        base = {
            "message_id": "0193f6d2-8c1e-7b4a-9f00-5c1d2e3f4b01",
            "type": "case.registered",
            "schema_version": 1,
            "source": "tax",
            "target": None,
            "case_id": "tax-2026-900001",
            "correlation_id": None,
            "causation_id": None,
            "occurred_at": at(2, 9).isoformat(),
            "payload": good,
        }
        bad_id = json.loads(json.dumps(base))
        bad_id["payload"]["party"]["id_number"] = good["party"]["id_number"][:-1] + (
            "0" if good["party"]["id_number"][-1] != "0" else "1"
        )
        float_money = json.loads(json.dumps(base))
        float_money["payload"]["amount_in_dispute"] = 100.5
        float_money["message_id"] = "0193f6d2-8c1e-7b4a-9f00-5c1d2e3f4b02"
        spoofed = json.loads(json.dumps(base))
        spoofed["message_id"] = "0193f6d2-8c1e-7b4a-9f00-5c1d2e3f4b03"

        for label, sender, body, reason in (
            ("a wrong ID check digit", "tax", bad_id, "invalid_id_number"),
            ("money as a JSON number", "tax", float_money, "schema_violation"),
            ("hrss claiming to be tax", "hrss", spoofed, "source_mismatch"),
        ):
            broker = open_broker(department_url(self.county.broker_url, sender))
            try:
                broker.publisher().publish(
                    [
                        Outgoing(
                            "sihub.in",
                            f"{sender}.case.registered",
                            json.dumps(body, ensure_ascii=False).encode(),
                            user_id=sender,
                        )
                    ]
                )
            finally:
                broker.close()
            self.invalid_sent[label] = reason
            self.say(f"{sender} sends a message with {label}: the hub must refuse it ({reason})")

    def day_one_afternoon(self) -> None:
        self.now(at(2, 15))
        hrss, medins, tax = self.insurance("hrss"), self.insurance("medins"), self.tax
        hrss.sign_for(self.cases["A"], "H-0042")
        medins.sign_for(self.cases["B"], "M-0107")
        for adapter in (hrss, tax, medins):
            adapter.sign_for(self.cases["C"], f"{adapter.code.value}-joint")
            adapter.sign_for(self.cases["F"], f"{adapter.code.value}-petition")
        hrss.sign_for(self.cases["D"], "H-0050")
        self.county.settle()
        hrss.transfer(self.cases["D"], Department.MEDINS, "争议为生育津贴，属医保局职责。")
        self.say(
            "hrss, medins and tax sign for A, B, C and F; hrss signs D and transfers it to medins; "
            "nobody at tax signs for E"
        )
        self.county.settle()

    def report(self, case: Any, letter: str) -> None:
        self.say(
            f"case {letter} is now {case.tier.value} ({case.stage.value}), owner {case.owner.value}, "
            f"{case.breaches} deadline(s) missed"
        )

    def handle_all(self) -> None:
        hrss, medins, tax = self.insurance("hrss"), self.insurance("medins"), self.tax
        hrss.report(
            self.cases["A"],
            Outcome.UPHELD,
            "经核实单位欠缴2023年1-6月养老保险费，已责令补缴并核定待遇。",
        )
        medins.report(
            self.cases["B"], Outcome.EXPLAINED, "已按城乡居民医保政策解释报销比例并补报差额。"
        )
        medins.report(self.cases["D"], Outcome.UPHELD, "已核定生育津贴并发放。")
        tax.report(self.cases["C"], Outcome.UPHELD, "已对单位欠费下达责令限期缴纳通知。")
        medins.report(self.cases["C"], Outcome.UPHELD, "医保待遇已按补缴后恢复。")
        hrss.report(self.cases["F"], Outcome.UPHELD, "养老保险待遇将在补缴后核定。")
        medins.report(self.cases["F"], Outcome.UPHELD, "医保报销在补缴后恢复。")
        self.county.settle()
        hrss.report(self.cases["C"], Outcome.UPHELD, "养老待遇已核定。")
        self.county.settle()
        for letter, lead in (("C", hrss), ("F", tax)):
            lead.send(
                "case.replied",
                CaseReplied(
                    reply="经税务、人社、医保联合办理，单位已补缴欠费，职工待遇恢复。",
                    replied_at=at(5, 14),
                    outcome=Outcome.UPHELD,
                ),
                case_id=self.cases[letter],
            )
        self.say(
            "A, B and D are handled; for C and F every department reports its part and the lead "
            "gives the one unified reply (统一答复)"
        )
        self.county.settle()

    def office_meets_on_e(self) -> None:
        lgo = self.county["lgo"]
        lgo.send(
            "case.meeting_concluded",
            CaseMeetingConcluded(
                tier=Tier.MAJOR,
                meeting_no="领导小组办公室会议〔2026〕7号",
                held_at=at(13, 15),
                attendees=(Department.LGO, Department.TAX, Department.MEDINS),
                decision=MeetingDecision.ASSIGN,
                lead=Department.TAX,
                participants=(),
                minutes="由税务局牵头，五个工作日内重新核定缴费基数。",
            ),
            case_id=self.cases["E"],
        )
        self.county.settle()
        self.say("the leading-group office meets on E and assigns it to tax")
        self.now(at(16, 9))
        self.tax.sign_for(self.cases["E"], "T-0901")
        self.county.settle()
        self.tax.report(self.cases["E"], Outcome.ADJUSTED, "已按实际工资重新核定2026年缴费基数。")
        self.county.settle()
        self.now(at(17, 9))
        self.feedback_and_close("E", "medins", at(17, 9))
        self.county.settle()

    def enforce_g(self) -> None:
        case_id = self.cases["G"]
        self.tax.apply_for_enforcement(case_id, "五税社强〔2026〕3号")
        self.say("tax applies to the court for enforcement of G (late fee computed to the day)")
        self.now(at(19, 10))
        self.court.accept(case_id, "(2026)皖0322执1234号")
        self.now(at(23, 10))
        self.court.rule(case_id, Ruling.ENFORCE)
        self.now(at(30, 10))
        self.court.conclude(case_id, EnforcementResult.EXECUTED_IN_FULL, Decimal("212962.00"))
        self.county.settle()
        self.say("the court accepts, rules to enforce, and recovers the arrears of G")
        self.now(at(31, 9))
        self.tax.send(
            "case.closed",
            CaseClosed(resolution=Resolution.ENFORCED, closed_at=at(31, 9)),
            case_id=case_id,
        )
        self.county.settle()
