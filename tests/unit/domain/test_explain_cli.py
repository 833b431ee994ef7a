"""``sihub explain-route``: an operator asks why a registered case went to their department."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from contracts import AnyEnvelope
from hub.explain_cli import explain_route

from .builders import ID_NUMBER, accepted, case_id, petition, registered


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def saved(tmp_path: Path, envelope: AnyEnvelope | bytes) -> str:
    path = tmp_path / "message.json"
    path.write_bytes(envelope if isinstance(envelope, bytes) else envelope.to_json())
    return str(path)


def test_explain_route_names_the_owner_the_rule_and_the_clause(
    runner: CliRunner, tmp_path: Path
) -> None:
    """附件二 县人社局: the tax window's 2023 pension arrears case went to hrss — and why."""
    result = runner.invoke(explain_route, [saved(tmp_path, registered("tax"))])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "case tax-2026-000001: case.registered from tax (first contact)"
    assert "fee period: 2023-01..2023-06 (before the process change of 2024-01-01)" in lines
    assert "owner:        hrss" in lines
    assert "participants: -" in lines
    assert "coordinator:  -" in lines
    assert "mode:         single" in lines
    assert "  1. hrss.arrears_before_change  [附件二(县人力资源社会保障局)]" in lines
    assert any("历史欠费" in line for line in lines)


def test_explain_route_uses_the_countys_process_change_date(
    runner: CliRunner, tmp_path: Path
) -> None:
    """The same case, with the county's switch on 1 January 2023, is the tax bureau's."""
    path = saved(tmp_path, registered("tax"))
    result = runner.invoke(explain_route, [path, "--process-change-date", "2023-01-01"])
    assert result.exit_code == 0, result.output
    assert "owner:        tax" in result.output
    assert "after the process change of 2023-01-01" in result.output
    assert "tax.collection_after_change  [附件二(县税务局)]" in result.output

    from_env = runner.invoke(explain_route, [path], env={"SIHUB_PROCESS_CHANGE_DATE": "2023-01-01"})
    assert "owner:        tax" in from_env.output


def test_explain_route_lists_every_rule_of_a_joint_case(runner: CliRunner, tmp_path: Path) -> None:
    """通知四(一): a period across the change has two owners; the intake leads."""
    envelope = registered("hrss", period=("2023-07", "2024-03"))
    result = runner.invoke(explain_route, [saved(tmp_path, envelope)])
    assert result.exit_code == 0, result.output
    assert "owner:        hrss" in result.output
    assert "participants: tax" in result.output
    assert "mode:         joint" in result.output
    assert "before and after the process change" in result.output
    rules = [
        line.split()[1]
        for line in result.output.splitlines()
        if line.startswith("  ") and line.strip()[0].isdigit()
    ]
    assert rules == ["hrss.arrears_before_change", "tax.collection_after_change", "joint.lead"]


def test_explain_route_shows_the_petition_bureau_coordinating(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(explain_route, [saved(tmp_path, petition(people_count=6))])
    assert result.exit_code == 0, result.output
    assert "coordinator:  petition" in result.output
    assert "mode:         petition" in result.output
    assert "petition: 6 people" in result.output
    assert "petition.coordinate  [附件二(县信访局)]" in result.output


def test_explain_route_prints_no_personal_data(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(explain_route, [saved(tmp_path, registered("tax"))])
    assert ID_NUMBER not in result.output and "张三" not in result.output


def test_explain_route_refuses_a_message_the_hub_would_reject_with_its_reason(
    runner: CliRunner, tmp_path: Path
) -> None:
    body = json.loads(registered("tax").to_json())
    body["payload"]["party"]["id_number"] = "110105194912310021"  # wrong check digit
    result = runner.invoke(explain_route, [saved(tmp_path, json.dumps(body).encode())])
    assert result.exit_code == 2
    assert "rejected: invalid_id_number" in result.stderr
    assert "detail: payload.party.id_number: check digit should be X" in result.stderr

    broken = runner.invoke(explain_route, [saved(tmp_path, b'{"type": "case.regis')])
    assert broken.exit_code == 2
    assert "rejected: malformed_json" in broken.stderr


def test_explain_route_refuses_a_message_that_registers_nothing(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(explain_route, [saved(tmp_path, accepted("hrss", case_id("tax")))])
    assert result.exit_code == 2
    assert "not a registration: case.accepted" in result.stderr
