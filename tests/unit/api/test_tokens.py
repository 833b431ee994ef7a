"""API tokens: the SIHUB_TOKENS file, constant-time lookup, reloads, and refusals."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from contracts.codes import Department
from hub.api.app import create_app
from hub.api.auth import TokenFileError, TokenSource, TokenTable, reload_on_sighup
from hub.runtime import HubRuntime

from .helpers import auth


class Ticker:
    """A monotonic clock in seconds, moved by hand."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


def _write(path: Path, mapping: dict[str, str], mtime_ns: int) -> None:
    path.write_text(json.dumps(mapping), encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_a_token_table_gives_each_token_its_department_and_nothing_else() -> None:
    table = TokenTable.from_mapping({"tax-secret-token-0001": "tax", "hrss-secret-token-001": "hrss"})

    assert table.department_of("tax-secret-token-0001") is Department.TAX
    assert table.department_of("hrss-secret-token-001") is Department.HRSS
    assert table.department_of("tax-secret-token-0002") is None
    assert table.department_of("") is None


@pytest.mark.parametrize(("mapping", "problem"), [
    ({"a-long-enough-token-1": "mayor"}, "'mayor' is not a department code"),
    ({"a-long-enough-token-1": "hub"}, "'hub' is the hub itself"),
    ({"a-long-enough-token-1": 7}, "7 is not a department code"),
    ({"short": "tax"}, "at least 16 characters"),
])  # fmt: skip
def test_a_token_table_refuses_entries_that_name_no_calling_department(mapping: dict[str, object], problem: str) -> None:
    with pytest.raises(TokenFileError, match=problem) as refused:
        TokenTable.from_mapping(mapping)

    assert not any(token in str(refused.value) for token in mapping)  # errors never show a token


def test_a_tokens_file_that_is_not_a_json_object_is_refused(tmp_path: Path) -> None:
    listed = tmp_path / "list.json"
    listed.write_text('["tax"]')
    broken = tmp_path / "broken.json"
    broken.write_text("{")

    for path in (listed, broken, tmp_path / "missing.json"):
        with pytest.raises(TokenFileError):
            TokenTable.load(path)


def test_the_token_source_rereads_the_file_once_it_changes(tmp_path: Path) -> None:
    path, ticker = tmp_path / "tokens.json", Ticker()
    _write(path, {"first-token-0000001": "tax"}, 1_000_000_000)
    source = TokenSource(path, clock=ticker)
    _write(path, {"second-token-000001": "tax"}, 2_000_000_000)

    still_old = source.department_of("first-token-0000001")  # within the check interval
    ticker.seconds = 5
    assert (still_old, source.department_of("first-token-0000001")) == (Department.TAX, None)
    assert source.department_of("second-token-000001") is Department.TAX


def test_the_token_source_keeps_the_old_tokens_when_the_new_file_is_broken(tmp_path: Path) -> None:
    path, ticker = tmp_path / "tokens.json", Ticker()
    _write(path, {"first-token-0000001": "tax"}, 1_000_000_000)
    source = TokenSource(path, clock=ticker)
    _write(path, {"first-token-0000001": "mayor"}, 2_000_000_000)
    ticker.seconds = 5

    assert source.department_of("first-token-0000001") is Department.TAX
    source.reload()
    assert source.department_of("first-token-0000001") is Department.TAX


def test_without_a_tokens_file_every_v1_call_is_unauthorized_but_probes_answer(
    make_runtime: Callable[..., HubRuntime],
) -> None:
    runtime = make_runtime(tokens=None)
    with TestClient(create_app(runtime)) as client:
        listed = client.get("/v1/cases", headers=auth("tax"))
        health = client.get("/healthz")
        metrics = client.get("/metrics")

    assert listed.status_code == 401 and listed.headers["www-authenticate"].startswith("Bearer")
    assert (health.status_code, metrics.status_code) == (200, 200)


@pytest.mark.parametrize("header", [None, "Bearer not-a-known-token-000", "Basic dGF4OnRheA=="])
def test_a_missing_unknown_or_non_bearer_token_is_401_with_a_challenge(client: TestClient, header: str | None) -> None:
    answer = client.get("/v1/contracts", headers={"Authorization": header} if header else {})

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["type"].endswith("/unauthorized")


def test_the_app_refuses_to_start_with_a_tokens_file_naming_no_department(
    make_runtime: Callable[..., HubRuntime], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"a-long-enough-token-1": "Tax Bureau"}))
    runtime = make_runtime(tokens=bad)

    with pytest.raises(TokenFileError, match="not a department code"):
        create_app(runtime)


def test_sighup_rereads_the_tokens_file(tmp_path: Path) -> None:
    import signal

    path, ticker = tmp_path / "tokens.json", Ticker()
    _write(path, {"first-token-0000001": "tax"}, 1_000_000_000)
    source = TokenSource(path, clock=ticker)
    previous = signal.getsignal(signal.SIGHUP)
    try:
        assert reload_on_sighup(source)
        # Same mtime on purpose: SIGHUP reloads even when the clock check would not.
        _write(path, {"rotated-token-00001": "hrss"}, 1_000_000_000)
        os.kill(os.getpid(), signal.SIGHUP)
        assert source.department_of("rotated-token-00001") is Department.HRSS
    finally:
        signal.signal(signal.SIGHUP, previous)
