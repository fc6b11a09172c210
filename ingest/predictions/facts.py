"""Checked prediction records as facts for the store, gathered into columnar
batches (:class:`provex.vocab.facts.Facts`): one list per column, no object
per prediction kept once it is in the batch."""

from __future__ import annotations

from typing import Any

import orjson

from provex.ingest.predictions.mapping import PredictionRecord
from provex.vocab import model
from provex.vocab.facts import FIELDS, Facts

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """JSON text of a value as logged (orjson: floats round-trip exactly)."""
    return orjson.dumps(value, option=_OPTIONS).decode()


def fact(rec: PredictionRecord, source: str, line: int) -> list[Any]:
    """The fact's values in :data:`FIELDS` order."""
    ident, props, over = rec.model, rec.props, rec.override
    extra = {k[6:]: v for k, v in props.items() if k.startswith("extra.")}
    values = [
        model.prediction(rec.prediction_id).uid, rec.prediction_id, rec.timestamp, rec.hour,
        ident.ref, ident.name, ident.version, ident.alias, ident.run_id, ident.model_id,
        model.model_version(ident.name, ident.version).uid if ident.resolved else None,
        props.get("subject_id"), props.get("household_id"), props.get("input_hash"), props.get("feature_pipeline"),
        dumps(rec.inputs) if rec.inputs else None, dumps(rec.output), rec.score,
        [model.prediction(u).uid for u in rec.upstream] or None,
        over["rule"] if over else None, dumps(over["original"]) if over else None,
        dumps(extra) if extra else None,
        source, line,
    ]
    return values


class Batch:
    """Facts gathered row by row, handed over as columns (one transpose in C)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.rows: list[list[Any]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, values: list[Any]) -> None:
        self.rows.append(values)

    def take(self) -> Facts:
        columns = [list(c) for c in zip(*self.rows)] if self.rows else [[] for _ in FIELDS]
        self.rows = []
        return Facts(dict(zip(FIELDS, columns)), self.source)
