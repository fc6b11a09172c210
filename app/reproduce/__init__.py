"""Reproducing for real: rebuild a model or data version from its recipe and
compare it hash by hash (:mod:`.recipe`, :mod:`.verify`), replay a logged
prediction through its exact model version (:mod:`.replay`), and attribute
the difference between two predictions by substitution (:mod:`.attribution`).
Every verification and replay is recorded in the graph (:mod:`.record`).
"""
