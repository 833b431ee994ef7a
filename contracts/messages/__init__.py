"""Payload contracts of every message type, grouped by flow."""
