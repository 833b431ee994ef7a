"""A synthetic payment-detail export (社会保险费缴费明细导出) for ``bench ingest``, and its baseline.

The rows use the real Chinese headers of ``adapters/tax/columns.toml``, valid
resident ID numbers and credit codes, and a mix of payers and insurance types (by
their 征收品目 names) so that the hub splits every part between hrss and medins.

``python -m bench._payment_export FILE`` reads and validates FILE once with the tax
adapter's own reader and prints one JSON line: the baseline of ``bench ingest``, run
in its own process so that its time and peak memory are its alone.
"""

from __future__ import annotations

import csv
import json
import random
import resource
import sys
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

from adapters.tax.export import read_export
from contracts.codes import InsuranceType
from contracts.identifiers import USCC_CHARSET, id_number_check_char, uscc_check_char
from hub import gctune
from hub.domain.payments import recipient_of

HEADER = (
    "记录号", "缴费人识别号", "缴费人名称", "证件号码", "征收品目", "费款所属期起", "费款所属期止",
    "缴费基数", "应缴金额", "实缴金额", "滞纳金", "票证号码", "入库日期", "缴款日期",
)

#: 征收品目 name and contribution rate of each insurance type an employer pays for.
EMPLOYER_ITEMS = (
    ("企业职工基本养老保险费", "110", Decimal("0.24")),
    ("失业保险费", "210", Decimal("0.01")),
    ("职工基本医疗保险费", "310", Decimal("0.08")),
    ("工伤保险费", "410", Decimal("0.005")),
    ("生育保险费", "510", Decimal("0.008")),
    ("机关事业单位基本养老保险费", "120", Decimal("0.24")),
)
FLEXIBLE_ITEMS = (("企业职工基本养老保险费", "110", Decimal("0.20")), ("职工基本医疗保险费", "310", Decimal("0.07")))
RESIDENT_ITEMS = (("城乡居民基本养老保险费", "170", Decimal("1")), ("城乡居民基本医疗保险费", "390", Decimal("1")))
RESIDENT_FEES = (Decimal("200.00"), Decimal("380.00"), Decimal("500.00"))


def id_number(serial: int) -> str:
    """A valid Wuhe County resident ID number, distinct for each ``serial`` below 10 000 000."""
    born = f"{1960 + serial % 45:04d}{1 + serial % 12:02d}{1 + serial % 28:02d}"
    first17 = f"340322{born}{serial % 1000:03d}"
    return first17 + id_number_check_char(first17)


def credit_code(serial: int) -> str:
    """A valid unified social credit code of a county enterprise."""
    chars, value = [], serial
    for _ in range(9):
        value, digit = divmod(value, len(USCC_CHARSET))
        chars.append(USCC_CHARSET[digit])
    first17 = "91340322" + "".join(reversed(chars))
    return first17 + uscc_check_char(first17)


def _row(number: int, rng: random.Random, people: Sequence[str], employers: Sequence[str]) -> list[str]:
    person = people[number % len(people)]
    draw = rng.random()
    if draw < 0.6:  # most rows come from employers' payroll declarations
        name, _, rate = EMPLOYER_ITEMS[number % len(EMPLOYER_ITEMS)]
        employer = employers[number % len(employers)]
        payer, payer_name, insured = employer, f"五河县第{number % len(employers)}建材有限公司", person
        base = Decimal(3000 + rng.randrange(0, 12000))
        due = (base * rate).quantize(Decimal("0.01"))
    elif draw < 0.85:
        name, _, rate = FLEXIBLE_ITEMS[number % len(FLEXIBLE_ITEMS)]
        payer, payer_name, insured = person, "", ""
        base = Decimal(4000 + rng.randrange(0, 4000))
        due = (base * rate).quantize(Decimal("0.01"))
    else:
        name, _, _ = RESIDENT_ITEMS[number % len(RESIDENT_ITEMS)]
        payer, payer_name, insured = person, "", ""
        base, due = None, RESIDENT_FEES[number % len(RESIDENT_FEES)]
    late = Decimal("0.00") if number % 20 else (due * Decimal("0.0005") * 12).quantize(Decimal("0.01"))
    month = 1 + number % 10
    return [
        f"JL2026{number:09d}", payer, payer_name, insured, name,
        f"2026-{month:02d}", f"2026-{month:02d}", "" if base is None else f"{base:.2f}",
        f"{due:,.2f}", f"{due + late:.2f}" if late else f"{due:.2f}", f"{late:.2f}" if late else "",
        f"334032226{number:09d}", f"2026{month + 1:02d}{1 + number % 27:02d}",
        f"2026-{month + 1:02d}-{1 + number % 27:02d}",
    ]


def rows(count: int, seed: int = 20261127) -> Iterator[list[str]]:
    """``count`` export rows, the same for the same seed."""
    rng = random.Random(seed)
    people = [id_number(i) for i in range(5000)]
    employers = [credit_code(7919 * i + 1) for i in range(400)]
    for number in range(count):
        yield _row(number, rng, people, employers)


def write_export(path: Path, count: int) -> dict[str, int]:
    """Write ``count`` rows to a UTF-8 CSV at ``path``; the rows each recipient should get."""
    expected = {"hrss": 0, "medins": 0}
    names = {name: code for name, code, _ in EMPLOYER_ITEMS + FLEXIBLE_ITEMS + RESIDENT_ITEMS}
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row in rows(count):
            expected[recipient_of(InsuranceType(names[row[4]])).value] += 1
            writer.writerow(row)
    return expected


def baseline(path: Path) -> dict[str, float]:
    """Read and validate ``path`` once with the tax adapter's reader: rows, records, seconds.

    The process's garbage collector is set as ``sihub tax push`` sets it (:func:`hub.gctune.settle`),
    so that the baseline is the reader as the push runs it.
    """
    gctune.settle()
    started = time.perf_counter()
    report = read_export(path)
    seconds = time.perf_counter() - started
    return {
        "rows": report.rows,
        "records": len(report.records),
        "problems": len(report.problems),
        "seconds": seconds,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


if __name__ == "__main__":
    print(json.dumps(baseline(Path(sys.argv[1]))))
