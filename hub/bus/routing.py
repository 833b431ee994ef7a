"""AMQP exchange routing as pure functions (what RabbitMQ's topic and fanout exchanges do)."""

from __future__ import annotations

from functools import lru_cache


def _words(key: str) -> tuple[str, ...]:
    # RabbitMQ splits "" into no words at all, and "a..b" into three (one empty).
    return () if key == "" else tuple(key.split("."))


def topic_matches(binding_key: str, routing_key: str) -> bool:
    """Whether a topic binding key matches a routing key.

    ``*`` stands for exactly one word, ``#`` for zero or more words; words are
    separated by dots and compared exactly.
    """
    return _match(_words(binding_key), _words(routing_key))


@lru_cache(maxsize=4096)
def _match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        # Either "#" swallows nothing, or it swallows one word and stays in place.
        return _match(rest, words) or (bool(words) and _match(pattern, words[1:]))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])


def routes(exchange_type: str, binding_key: str, routing_key: str) -> bool:
    """Whether a binding of an exchange of ``exchange_type`` takes a message with ``routing_key``."""
    if exchange_type == "fanout":
        return True
    if exchange_type == "topic":
        return topic_matches(binding_key, routing_key)
    if exchange_type == "direct":
        return binding_key == routing_key
    raise ValueError(f"exchange type {exchange_type!r} is not supported in memory")
