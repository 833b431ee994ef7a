"""Sinks: the signed webhook and its retry rules, the atomic inbox, the callback."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import threading
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import tenacity

from adapters.errors import PermanentDelivery, RetryableDelivery
from adapters.sinks import (
    WEBHOOK_RETRY,
    CallbackSink,
    InboundMessage,
    InboxSink,
    WebhookSink,
    inbox_file_name,
    verify_webhook_signature,
    webhook_signature,
)
from adapters.webhook_stub import DepartmentStub
from contracts import build
from contracts.codes import Department
from contracts.messages.payment import PaymentReceipt
from hub.domain.durations import COUNTY_TZ
from hub.ids import uuid7

SECRET = "s3cret-hmac-key"
#: The module's policy without its waits: same attempts, same retry rule.
FAST_RETRY = WEBHOOK_RETRY.copy(wait=tenacity.wait_none())


def message(batch: str = "tax-1-p001", at: datetime | None = None) -> InboundMessage:
    receipt = PaymentReceipt(batch_id=batch, received=1, accepted=1, rejected=(), amount_paid_total=Decimal("9.50"))
    envelope = build(
        "payment.receipt", receipt, source=Department.HUB, target=Department.TAX, message_id=uuid7(),
        occurred_at=at or datetime(2026, 11, 27, 9, 30, tzinfo=COUNTY_TZ),
    )
    # Bodies are delivered exactly as received: keep a non-canonical spacing to prove it.
    body = json.dumps(json.loads(envelope.to_json()), indent=1, ensure_ascii=False).encode()
    return InboundMessage(body, envelope)


@pytest.fixture
def stub() -> Iterator[DepartmentStub]:
    server = DepartmentStub(SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def sink(stub: DepartmentStub) -> Iterator[WebhookSink]:
    webhook = WebhookSink(stub.url, SECRET, retry=FAST_RETRY, timeout_seconds=2.0)
    yield webhook
    webhook.close()


def test_webhook_posts_the_exact_body_with_a_verifiable_signature_and_ids(stub: DepartmentStub, sink: WebhookSink) -> None:
    sent = message()
    sink.deliver(sent)

    [got] = stub.delivered()
    assert got.body == sent.body
    assert got.signed  # the stub checks X-Sihub-Signature with the shared secret
    assert (got.message_id, got.type) == (sent.message_id, "payment.receipt")


def test_signature_is_hmac_sha256_hex_and_fails_for_another_body_or_secret() -> None:
    body = "{\"名\": 1}".encode()
    header = webhook_signature(SECRET, body)

    assert header == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert verify_webhook_signature(SECRET, body, header)
    assert not verify_webhook_signature(SECRET, b'{"a": 2}', header)
    assert not verify_webhook_signature("other", body, header)
    assert not verify_webhook_signature(SECRET, body, None)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_webhook_retries_5xx_and_429_then_succeeds(stub: DepartmentStub, sink: WebhookSink, status: int) -> None:
    stub.script = [status, status]  # two failures, then the system answers 200

    sink.deliver(message())

    assert [r.status for r in stub.received] == [status, status, 200]


def test_webhook_gives_up_as_retryable_after_its_attempts(stub: DepartmentStub, sink: WebhookSink) -> None:
    stub.status = 503
    with pytest.raises(RetryableDelivery, match="503"):
        sink.deliver(message())
    assert len(stub.received) == 4  # WEBHOOK_RETRY: four attempts


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_webhook_4xx_is_permanent_and_not_retried(stub: DepartmentStub, sink: WebhookSink, status: int) -> None:
    stub.status = status
    with pytest.raises(PermanentDelivery, match=str(status)):
        sink.deliver(message())
    assert len(stub.received) == 1


def test_webhook_with_the_wrong_secret_is_refused_by_the_system(stub: DepartmentStub) -> None:
    wrong = WebhookSink(stub.url, "not-the-secret", retry=FAST_RETRY)
    try:
        with pytest.raises(PermanentDelivery, match="401"):
            wrong.deliver(message())
    finally:
        wrong.close()
    assert [r.signed for r in stub.received] == [False]


def test_webhook_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nobody = WebhookSink(f"http://127.0.0.1:{port}/", SECRET, retry=FAST_RETRY)
    try:
        with pytest.raises(RetryableDelivery, match="ConnectError"):
            nobody.deliver(message())
    finally:
        nobody.close()


def test_webhook_timeout_is_retryable(stub: DepartmentStub) -> None:
    stub.delay_seconds = 1.0
    slow = WebhookSink(stub.url, SECRET, retry=FAST_RETRY.copy(stop=tenacity.stop_after_attempt(1)), timeout_seconds=0.2)
    try:
        with pytest.raises(RetryableDelivery, match="Timeout"):
            slow.deliver(message())
    finally:
        slow.close()


def test_a_webhook_sink_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        WebhookSink("http://127.0.0.1:1/", "")


def test_inbox_writes_one_sortable_file_per_message_with_the_exact_body(tmp_path: Path) -> None:
    inbox = InboxSink(tmp_path / "inbox")
    early = message(at=datetime(2026, 11, 27, 9, 0, tzinfo=COUNTY_TZ))
    late = message(at=datetime(2026, 11, 27, 10, 0, tzinfo=COUNTY_TZ))
    inbox.deliver(late)
    inbox.deliver(early)
    inbox.deliver(early)  # a repeat rewrites the same file

    files = sorted(p.name for p in (tmp_path / "inbox").iterdir())
    assert files == [inbox_file_name(early), inbox_file_name(late)]
    assert files[0].startswith("20261127T010000") and files[0].endswith(f"-{early.message_id}.json")
    assert (tmp_path / "inbox" / files[0]).read_bytes() == early.body


def test_a_failed_inbox_write_leaves_no_partial_file_and_is_retryable(tmp_path: Path) -> None:
    def failing_fsync(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    inbox = InboxSink(tmp_path / "inbox", fsync=failing_fsync)
    with pytest.raises(RetryableDelivery, match="No space left"):
        inbox.deliver(message())
    assert list((tmp_path / "inbox").iterdir()) == []  # neither the message file nor a temp file


def test_a_reader_polling_the_inbox_never_sees_a_partial_file(tmp_path: Path) -> None:
    inbox = InboxSink(tmp_path / "inbox", fsync=lambda descriptor: None)
    big = [message(batch=f"b-{n}-" + "x" * 80) for n in range(40)]
    padded = [InboundMessage(m.body + b" " * 200_000, m.envelope) for m in big]
    seen_bad: list[str] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            for path in (tmp_path / "inbox").glob("*.json"):
                try:
                    json.loads(path.read_bytes())
                except ValueError:
                    seen_bad.append(path.name)
                except FileNotFoundError:
                    pass

    thread = threading.Thread(target=reader)
    thread.start()
    for m in padded:
        inbox.deliver(m)
    done.set()
    thread.join()

    assert seen_bad == []
    assert len(list((tmp_path / "inbox").glob("*.json"))) == 40
    assert not [p for p in os.listdir(tmp_path / "inbox") if p.startswith(".")]


def test_callback_errors_are_permanent_unless_the_callback_asks_for_a_retry() -> None:
    def broken(m: InboundMessage) -> None:
        raise KeyError("bug")

    def busy(m: InboundMessage) -> None:
        raise RetryableDelivery("system busy")

    got: list[str] = []
    CallbackSink(lambda m: got.append(m.message_id)).deliver(sent := message())
    assert got == [sent.message_id]
    with pytest.raises(PermanentDelivery, match="KeyError"):
        CallbackSink(broken).deliver(message())
    with pytest.raises(RetryableDelivery, match="busy"):
        CallbackSink(busy).deliver(message())
