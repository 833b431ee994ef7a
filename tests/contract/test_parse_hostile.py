"""Hostile bodies: ``parse`` refuses each with a reason code, quickly, and lets nothing else out."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from contracts import MAX_BODY_BYTES, Department, Rejected, RejectReason, parse
from tests.contract.support import SchemaJudge, example

MALFORMED = RejectReason.MALFORMED_JSON
SCHEMA = RejectReason.SCHEMA_VIOLATION


def _receipt() -> dict[str, Any]:
    return example("payment.receipt.json")


def _raw(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode()


def _reason(raw: bytes) -> RejectReason:
    with pytest.raises(Rejected) as caught:
        parse(raw)
    return caught.value.reason


def test_parse_refuses_invalid_utf8_as_malformed_json() -> None:
    raw = _raw(_receipt()).replace(b'"tax-20261126-0001"', b'"tax-\xff\xfe"')

    assert _reason(raw) is MALFORMED


@pytest.mark.parametrize("cut", [1, 10, 100, -2])
def test_parse_refuses_truncated_json_as_malformed_json(cut: int) -> None:
    assert _reason(_raw(_receipt())[:cut]) is MALFORMED


@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_parse_refuses_100000_nested_brackets_quickly(opening: bytes) -> None:
    started = time.perf_counter()

    reason = _reason(opening * 100_000)

    assert reason is MALFORMED
    assert time.perf_counter() - started < 1.0


def test_parse_refuses_an_oversized_body_before_reading_it() -> None:
    # 6 MiB of bytes that are not even UTF-8: "oversized", not "malformed_json", shows
    # the size is checked before any parsing.
    raw = b"\xff" * (6 * 1024 * 1024)
    started = time.perf_counter()

    with pytest.raises(Rejected) as caught:
        parse(raw)

    assert caught.value.reason is RejectReason.OVERSIZED
    assert str(MAX_BODY_BYTES) in caught.value.detail
    assert time.perf_counter() - started < 0.5


def test_parse_accepts_a_body_at_exactly_the_limit_of_a_lower_max() -> None:
    raw = _raw(_receipt())

    assert parse(raw, max_bytes=len(raw)).type == "payment.receipt"
    with pytest.raises(Rejected) as caught:
        parse(raw, max_bytes=len(raw) - 1)
    assert caught.value.reason is RejectReason.OVERSIZED


@pytest.mark.parametrize("body", [b"[]", b"[1, 2]", b"null", b"42", b"-1.5e3", b'"text"', b"true"])
def test_parse_refuses_a_top_level_non_object_as_schema_violation(body: bytes) -> None:
    with pytest.raises(Rejected) as caught:
        parse(body)

    assert caught.value.reason is SCHEMA
    assert caught.value.detail.startswith("type: ")


def test_parse_refuses_a_huge_count_with_a_bounded_detail() -> None:
    raw = _raw(_receipt()).replace(b'"received": 2', b'"received": ' + b"9" * 4000)

    with pytest.raises(Rejected) as caught:
        parse(raw)

    assert caught.value.reason is SCHEMA
    assert caught.value.detail.startswith("payload.received: ")
    assert len(caught.value.detail) < 200


def test_parse_refuses_a_huge_schema_version_without_echoing_it() -> None:
    raw = _raw(_receipt()).replace(b'"schema_version": 1', b'"schema_version": ' + b"9" * 4000)

    with pytest.raises(Rejected) as caught:
        parse(raw)

    assert caught.value.reason is RejectReason.UNSUPPORTED_VERSION
    assert len(caught.value.detail) < 200  # the detail travels in an AMQP header


def test_parse_refuses_a_number_beyond_the_parser_as_malformed_json() -> None:
    raw = _raw(_receipt()).replace(b'"received": 2', b'"received": ' + b"9" * 5000)

    assert _reason(raw) is MALFORMED


def test_parse_refuses_a_huge_unknown_type_without_echoing_it() -> None:
    message = {**_receipt(), "type": "x" * 1_000_000}

    with pytest.raises(Rejected) as caught:
        parse(_raw(message))

    assert caught.value.reason is RejectReason.UNKNOWN_TYPE
    assert len(caught.value.detail) < 200


def test_parse_reads_a_duplicate_key_as_its_last_value_as_the_schema_does(
    judge: SchemaJudge,
) -> None:
    # RFC 8259 leaves duplicate names to the parser; like Python's json, Go and
    # Jackson's defaults, the hub keeps the last. The schema judge reads it the same way.
    raw = _raw(_receipt()).replace(b'"source": "hrss",', b'"source": "mayor", "source": "tax",')

    envelope = parse(raw)

    assert envelope.source is Department.TAX
    assert judge.accepts(raw)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
@pytest.mark.parametrize("field", [b'"received": 2', b'"amount_paid_total": "1580.00"'])
def test_parse_refuses_nan_and_infinity_literals(
    literal: bytes, field: bytes, judge: SchemaJudge
) -> None:
    name = field.split(b":")[0]
    raw = _raw(_receipt()).replace(field, name + b": " + literal)

    with pytest.raises(Rejected) as caught:
        parse(raw)

    # The JSON reader tolerates the literal; the field's type then refuses it.
    assert caught.value.reason is SCHEMA
    assert caught.value.detail.startswith("payload." + name.decode().strip('"'))
    assert not judge.accepts(raw)


def test_parse_refuses_a_byte_order_mark() -> None:
    assert _reason(b"\xef\xbb\xbf" + _raw(_receipt())) is MALFORMED


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_parse_refuses_a_utf16_or_utf32_body(codec: str) -> None:
    assert _reason(json.dumps(_receipt()).encode(codec)) is MALFORMED


def test_parse_refuses_a_lone_surrogate_escape(judge: SchemaJudge) -> None:
    raw = _raw(_receipt()).replace(b'"tax-20261126-0001"', b'"tax-\\ud800"')

    assert _reason(raw) is MALFORMED
    assert not judge.accepts(raw)


def test_parse_accepts_an_escaped_surrogate_pair() -> None:
    raw = _raw(_receipt()).replace(b'"tax-20261126-0001"', b'"tax-\\ud83d\\ude00"')

    assert parse(raw).payload.batch_id == "tax-\N{GRINNING FACE}"


def test_parse_refuses_a_raw_control_character_in_a_string() -> None:
    raw = _raw(_receipt()).replace(b'"tax-20261126-0001"', b'"tax-\x01"')

    assert _reason(raw) is MALFORMED


def test_parse_refuses_trailing_garbage_after_the_object() -> None:
    assert _reason(_raw(_receipt()) + b" {}") is MALFORMED


def test_parse_accepts_surrounding_whitespace() -> None:
    assert parse(b"\n\t " + _raw(_receipt()) + b"\r\n").type == "payment.receipt"


def test_a_rejected_body_claims_its_message_id_only_when_plausible() -> None:
    from contracts import Rejected, parse

    for claimed, kept in (("0193f6d2-8c1e-7b4a-9f00-5c1d2e3f4a01", True), ("x" * 100_000, False), ("", False)):
        body = json.dumps({"message_id": claimed, "type": "case.teleported", "schema_version": 1}).encode()
        with pytest.raises(Rejected) as caught:
            parse(body)
        assert (caught.value.message_id == claimed) is kept
