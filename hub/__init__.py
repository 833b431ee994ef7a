"""The sihub hub: case ledger, routing, SLA engine, persistence, bus, API, CLI."""
