"""Checked prediction records as facts for the store, gathered into columnar
batches (:class:`provex.vocab.facts.Facts`): one list per column, no object
per prediction kept once it is in the batch."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from provex.ingest.predictions.mapping import PredictionRecord
from provex.vocab import model
from provex.vocab.facts import CONTENT_FIELDS, FIELDS, Facts

BATCH = 50_000  # facts per batch handed to the pipeline
_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """JSON text of a value as logged (orjson: floats round-trip exactly)."""
    return orjson.dumps(value, option=_OPTIONS).decode()


def fact(rec: PredictionRecord, source: str, line: int) -> list[Any]:
    """The fact's values in :data:`FIELDS` order (``digest`` last)."""
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
    values.append(digest(values))
    return values


_CONTENT = [FIELDS.index(name) for name in CONTENT_FIELDS]


def digest(values: list[Any]) -> str:
    """A hash of what the log said about the prediction (not where it was read)."""
    content = orjson.dumps([values[i] for i in _CONTENT], option=_OPTIONS)
    return hashlib.blake2b(content, digest_size=8).hexdigest()


class Batch:
    """Facts gathered column by column; ``take`` hands them over and starts afresh."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.columns: list[list[Any]] = [[] for _ in FIELDS]

    def __len__(self) -> int:
        return len(self.columns[0])

    def add(self, values: list[Any]) -> None:
        for column, value in zip(self.columns, values):
            column.append(value)

    def take(self) -> Facts:
        facts = Facts(dict(zip(FIELDS, self.columns)), self.source)
        self.columns = [[] for _ in FIELDS]
        return facts
