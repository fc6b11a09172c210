"""Deterministic generator of the provex credit-scoring sample (see ../README.md)."""
