"""Prediction facts: the columns one logged prediction is kept as, in the
prediction store beside the graph (``provex.store``; DESIGN, "Facts beside
the graph").

A prediction is written once and read by id, by subject, or by model version
and time. The adapter hands them over in columnar batches (:class:`Facts`),
not as one graph node each: the store keeps every prediction, the graph keeps
what relates them (hourly groups, chaining, and below a rate a node each).

Values are plain: text, numbers, lists of text. ``inputs``, ``output``,
``original_output`` and ``extra`` are JSON text, so any logged value keeps
its type exactly (5 stays 5, 5.0 stays 5.0) whatever the other rows hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The columns of a fact, in order. ``uid`` is the graph's uid of the
#: prediction (``prediction:<id>``); ``upstream`` holds uids too.
#: ``model_version_uid`` is set when the log names a registry version;
#: otherwise the prediction is resolved later, by ``model_ref``.
FIELDS: tuple[str, ...] = (
    "uid", "prediction_id", "timestamp", "hour",
    "model_ref", "model_name", "model_version", "model_alias", "model_run_id", "model_id", "model_version_uid",
    "subject_id", "household_id", "input_hash", "feature_pipeline",
    "inputs", "output", "score", "upstream", "override_rule", "original_output", "extra",
    "source", "line",
)
#: Columns whose values are JSON text.
JSON_FIELDS = ("inputs", "output", "original_output", "extra")
#: What makes two facts with one id "the same record": everything the log
#: said about the prediction, not where or when provex read it.
CONTENT_FIELDS = tuple(f for f in FIELDS if f not in ("uid", "source", "line"))
#: The partition of a fact that names no registry version: its logged reference.
REF_PARTITION = "ref:"


@dataclass(frozen=True)
class Facts:
    """A batch of prediction facts from one source file, as columns of equal
    length keyed by :data:`FIELDS`. The store adds each one's digest (a hash
    of its CONTENT_FIELDS): two facts with one uid and another digest conflict."""

    columns: Mapping[str, Sequence[Any]]
    source: str = ""

    def __len__(self) -> int:
        return len(self.columns["uid"])

    def rows(self) -> list[dict[str, Any]]:
        names = list(self.columns)
        return [dict(zip(names, values)) for values in zip(*(self.columns[n] for n in names))]


def partition_of(row: Mapping[str, Any]) -> str:
    """The store partition (and group key) of a fact: its model version uid,
    or ``ref:<reference as logged>`` while it names no registry version."""
    return row.get("model_version_uid") or REF_PARTITION + (row.get("model_ref") or "")
