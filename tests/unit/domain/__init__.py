"""Scenario and property tests of the hub domain, one or more per clause of the county notice."""
