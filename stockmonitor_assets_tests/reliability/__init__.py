"""Reliability suite: faults, crashes, bad input and idempotency (`pytest -m reliability`)."""
