"""``sihub demo`` as a person runs it: one command, in both broker modes, asserting its summary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest

from hub.bus.management import ManagementClient

pytestmark = pytest.mark.integration

CASES = {"A": "hrss", "B": "medins", "C": "hrss", "D": "medins", "E": "tax", "F": "tax", "G": "tax"}


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", "--log-level", "WARNING", "demo", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "COLUMNS": "200"},
    )


def assert_summary(out: str) -> None:
    rows = {m.group(1): m.group(0) for m in re.finditer(r"│ ([A-G])\s+│[^\n]*", out)}
    assert set(rows) == set(CASES), out
    for letter, owner in CASES.items():
        cells = [c.strip() for c in rows[letter].split("│")[1:-1]]
        assert cells[4] == owner and cells[8] == "closed", rows[letter]
    e = [c.strip() for c in rows["E"].split("│")[1:-1]]
    assert (e[6], e[7]) == ("major", "2"), (
        "E climbs to the leading-group office after two missed deadlines"
    )
    assert [c.strip() for c in rows["C"].split("│")[1:-1]][5] == "joint"
    assert [c.strip() for c in rows["F"].split("│")[1:-1]][5] == "petition"
    assert re.search(r"│ hrss\s+│ \d+\s+│ \d+ accepted / 0 rejected\s+│ True", out)
    assert re.search(r"│ medins\s+│ \d+\s+│ \d+ accepted / 0 rejected\s+│ True", out)
    for reason in ("invalid_id_number", "schema_violation", "source_mismatch"):
        assert re.search(rf"│ {reason}\s+│ 1 ", out), reason
    assert "every case the scenario expected to close is closed" in out
    assert re.search(r"tax pushes payment details \S+ \(GBK CSV\): 238 rows sent, 2 refused \(row 19: ", out)


def test_demo_on_the_embedded_broker() -> None:
    done = run_demo()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert_summary(done.stdout)


def test_demo_over_rabbitmq(
    rabbit_management: ManagementClient, rabbit_url: Callable[..., str]
) -> None:
    vhost = f"sihub-test-demo-{uuid.uuid4().hex[:8]}"
    try:
        done = run_demo("--broker", rabbit_url(vhost))
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert_summary(done.stdout)
    finally:
        rabbit_management.delete_vhost(vhost)


def test_report_analyses_the_month_the_demo_left_in_the_ledger(tmp_path: object) -> None:
    import json
    from pathlib import Path

    ledger = Path(str(tmp_path)) / "ledger.db"
    done = run_demo("--database", f"sqlite:///{ledger}", "--quiet")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub",
            "report",
            "--database-url",
            f"sqlite:///{ledger}",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-30",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 0, report.stderr
    figures = json.loads(report.stdout)
    assert (figures["registered"], figures["closed"], figures["open"]) == (7, 7, 0)
    assert figures["by_kind"] == {"dispute": 5, "petition": 1, "arrears": 1}
    assert figures["closed_within_sla"] == 6 and figures["missed_deadlines"] == 2
    assert figures["escalated_cases"] == ["medins-2026-000002"]
    assert figures["collective_petitions"] == 1
    assert figures["by_tier_reached"] == {"routine": 6, "major": 1}
    assert figures["arrears_principal"] == "186400.00"
