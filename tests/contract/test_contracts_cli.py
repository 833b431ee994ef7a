"""``sihub contracts``: integrators and CI export, check, list and validate from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from contracts import default_registry
from contracts.export import export
from hub.contracts_cli import contracts
from tests.contract.support import example, invalid_examples, valid_examples


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_contracts_list_shows_every_type_version_and_description(runner: CliRunner) -> None:
    result = runner.invoke(contracts, ["list"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(list(default_registry()))
    for cv in default_registry():
        assert any(
            line.startswith(cv.name + " ") and f"v{cv.version}" in line and cv.description in line
            for line in lines
        ), cv.name


def test_contracts_export_writes_the_files_it_names(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(contracts, ["export", str(tmp_path / "out")])

    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "out").iterdir())
    assert result.output.splitlines()[:-1] == [str(path) for path in files]
    assert result.output.splitlines()[-1] == f"wrote {len(files)} files to {tmp_path / 'out'}"
    assert {"asyncapi.json", "index.json", "case.registered.v1.schema.json"} <= {
        p.name for p in files
    }


def test_contracts_check_passes_against_the_current_export(
    runner: CliRunner, tmp_path: Path
) -> None:
    export(default_registry(), tmp_path)

    result = runner.invoke(contracts, ["check", "--against", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert result.output == f"no breaking changes against {tmp_path}\n"


def test_contracts_check_prints_each_breaking_change_and_fails(
    runner: CliRunner, tmp_path: Path
) -> None:
    export(default_registry(), tmp_path)
    path = tmp_path / "case.closed.v1.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["$defs"]["Resolution"]["enum"].append("forgotten")
    del schema["$defs"]["CaseClosed"]["properties"]["closed_at"]  # and a field is new since
    schema["$defs"]["CaseClosed"]["required"].remove("closed_at")
    path.write_text(json.dumps(schema), encoding="utf-8")

    result = runner.invoke(contracts, ["check", "--against", str(tmp_path)])

    assert result.exit_code == 1
    assert (
        "case.closed v1 payload.closed_at: new required field (new_required_field)" in result.output
    )
    assert 'case.closed v1 payload.resolution: no longer accepts "forgotten"' in result.output
    assert f"2 breaking change(s) against {tmp_path}" in result.output


def test_contracts_check_explains_a_directory_that_is_no_export(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(contracts, ["check", "--against", str(tmp_path)])

    assert result.exit_code == 1
    assert "cannot read the export" in result.output


def test_contracts_validate_says_ok_for_each_valid_example(runner: CliRunner) -> None:
    files = [str(path) for path in valid_examples()]
    if not files:
        pytest.skip("the shared examples are missing")

    result = runner.invoke(contracts, ["validate", *files])

    assert result.exit_code == 0, result.output
    assert result.output.count("OK ") == len(files)


def test_contracts_validate_gives_the_reason_and_detail_and_fails(
    runner: CliRunner, tmp_path: Path
) -> None:
    paths = invalid_examples()
    if not paths:
        pytest.skip("the shared examples are missing")
    good = valid_examples()[0]
    bad = []
    for path in paths:
        case = json.loads(path.read_text(encoding="utf-8"))
        target = tmp_path / path.name
        target.write_text(json.dumps(case["message"], ensure_ascii=False), encoding="utf-8")
        bad.append((target, case["reject_reason"]))

    result = runner.invoke(contracts, ["validate", str(good), *(str(p) for p, _ in bad)])

    assert result.exit_code == 1
    assert f"OK       {good}: " in result.output
    for target, reason in bad:
        assert f"REJECTED {target}: {reason}: " in result.output


def test_contracts_validate_uses_the_configured_county(runner: CliRunner, tmp_path: Path) -> None:
    message = example("case.registered.json")
    message["payload"]["jurisdiction"] = "340321101"
    path = tmp_path / "other-county.json"
    path.write_text(json.dumps(message, ensure_ascii=False), encoding="utf-8")

    default = runner.invoke(contracts, ["validate", str(path)])
    configured = runner.invoke(contracts, ["validate", "--county-code", "340321", str(path)])

    assert default.exit_code == 1 and "schema_violation: payload.jurisdiction" in default.output
    assert configured.exit_code == 0, configured.output
