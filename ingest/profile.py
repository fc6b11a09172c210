"""Content profiles of data files: what is inside one data version.

A tabular file (CSV/TSV, Parquet, JSON lines) gets its row count and, per
column, the type, null count, distinct count, numeric min/max/mean/std and
quantiles plus a small histogram, or a text column's top values. Anything
else gets its size and type only. Built with pandas (pyarrow for Parquet).

A file bigger than ``sample_rows`` rows is profiled from its first
``sample_rows`` rows and the profile says so (``sampled``; the row count is
then counted, not read, and distinct counts are approximate). A file over
``max_bytes`` is not read at all.

:func:`profile_bytes` / :func:`profile_file` return a :class:`Profile`: the
JSON document (``doc``) plus the flat node properties (:func:`Profile.props`)
the graph stores: ``profile`` (the JSON), ``profile_status``, ``profile_rows``
and one list per statistic aligned with ``profile_columns`` (NaN where a
statistic does not apply), so read-only Cypher can compare versions.
Nothing here knows about DVC, MLflow or the graph.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

VERSION = 1
SAMPLE_ROWS = 100_000
MAX_BYTES = 512 * 1024 * 1024
TOP_VALUES = 5
HIST_BINS = 12
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": None, ".parquet": "parquet", ".pq": "parquet",
           ".jsonl": "jsonl", ".ndjson": "jsonl"}
#: Node properties that hold one value per profiled column (aligned with ``profile_columns``).
VECTORS = ("profile_types", "profile_nulls", "profile_null_rate", "profile_distinct", "profile_min",
           "profile_max", "profile_mean", "profile_std", "profile_median", "profile_top")


class Unprofilable(Exception):
    """The bytes claim to be a table but cannot be read as one (the message says why)."""


@dataclass
class Profile:
    """One data version's profile: ``status`` is ``profiled`` (a table),
    ``size-only`` (not tabular), ``mlflow`` (from MLflow's dataset record) or
    ``skipped`` (``reason`` says why)."""

    status: str
    doc: dict[str, Any] = field(default_factory=dict)
    reason: str = ""

    def props(self) -> dict[str, Any]:
        props: dict[str, Any] = {"profile_status": self.status, "profile": json.dumps(self.doc, sort_keys=True)}
        if self.reason:
            props["profile_reason"] = self.reason
        if self.doc.get("rows") is not None:
            props["profile_rows"] = int(self.doc["rows"])
        if self.doc.get("format"):
            props["profile_format"] = self.doc["format"]
        cols = self.doc.get("columns") or []
        if cols:
            props["profile_sampled"] = bool(self.doc.get("sampled"))
            props["profile_columns"] = [str(c["name"]) for c in cols]
            props.update(vectors(cols))
        return props


def vectors(cols: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The per-column lists: floats (NaN when missing), types and top values as text."""
    def num(key: str) -> list[float]:
        return [float(c[key]) if isinstance(c.get(key), (int, float)) else math.nan for c in cols]

    top = ["; ".join(f"{v} ({n})" for v, n in c.get("top") or []) for c in cols]
    return {"profile_types": [str(c.get("type") or "") for c in cols], "profile_nulls": num("nulls"),
            "profile_null_rate": num("null_rate"), "profile_distinct": num("distinct"), "profile_min": num("min"),
            "profile_max": num("max"), "profile_mean": num("mean"), "profile_std": num("std"),
            "profile_median": num("median"), "profile_top": top}


def file_format(path: str) -> str | None:
    """``csv``, ``tsv``, ``parquet`` or ``jsonl`` from the file name; None when not tabular."""
    name = PurePosixPath(path).name.lower()
    for suffix in (".gz",):
        name = name.removesuffix(suffix)
    return FORMATS.get(PurePosixPath(name).suffix)


def size_only(path: str, size: int | None, kind: str = "file", **extra: Any) -> Profile:
    suffix = PurePosixPath(path).suffix.lower().lstrip(".")
    return Profile("size-only", {"v": VERSION, "kind": kind, "type": suffix or "unknown", "bytes": size, **extra})


def skipped(path: str, size: int | None, reason: str) -> Profile:
    return Profile("skipped", {"v": VERSION, "kind": "file", "type": PurePosixPath(path).suffix.lstrip("."),
                               "bytes": size}, reason)


def profile_file(path: str, local: Path, sample_rows: int = SAMPLE_ROWS, max_bytes: int = MAX_BYTES) -> Profile:
    """The profile of the file at ``local`` (``path`` names its format)."""
    size = local.stat().st_size
    fmt = file_format(path)
    if fmt is None:
        return size_only(path, size)
    if size > max_bytes:
        return skipped(path, size, f"{size} bytes is over the profile size cap ({max_bytes}); set profile_max_bytes")
    with local.open("rb") as fh:
        return _tabular(path, fmt, fh, size, sample_rows)


def profile_bytes(path: str, raw: bytes, sample_rows: int = SAMPLE_ROWS, max_bytes: int = MAX_BYTES) -> Profile:
    """The profile of ``raw`` (the content of ``path``)."""
    fmt = file_format(path)
    if fmt is None:
        return size_only(path, len(raw))
    if len(raw) > max_bytes:
        return skipped(path, len(raw), f"{len(raw)} bytes is over the profile size cap ({max_bytes})")
    return _tabular(path, fmt, io.BytesIO(raw), len(raw), sample_rows)


def profile_tables(path: str, members: list[tuple[str, Path]], sample_rows: int = SAMPLE_ROWS,
                   max_bytes: int = MAX_BYTES) -> Profile:
    """A folder of same-format tables (e.g. partitions) profiled as one table."""
    import pandas as pd

    size = sum(p.stat().st_size for _, p in members)
    fmt = file_format(members[0][0]) if members else None
    if fmt is None or any(file_format(m) != fmt for m, _ in members):
        return size_only(path, size, kind="directory", files=len(members))
    if size > max_bytes:
        return skipped(path, size, f"{size} bytes is over the profile size cap ({max_bytes})")
    frames, rows, sampled = [], 0, False
    for member, local in sorted(members):
        with local.open("rb") as fh:
            frame, total = _read(member, fmt, fh, sample_rows - sum(len(f) for f in frames))
        frames.append(frame)
        rows += total
        sampled = sampled or total > len(frame)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return Profile("profiled", _document(fmt, table, rows, sampled, size, kind="directory", files=len(members)))


def _tabular(path: str, fmt: str, fh: BinaryIO, size: int, sample_rows: int) -> Profile:
    if path.lower().endswith(".gz"):
        import gzip

        fh = gzip.GzipFile(fileobj=fh)  # type: ignore[assignment]
    frame, rows = _read(path, fmt, fh, sample_rows)
    return Profile("profiled", _document(fmt, frame, rows, rows > len(frame), size))


def _read(path: str, fmt: str, fh: BinaryIO, limit: int) -> tuple[Any, int]:
    """(at most ``limit`` rows as a DataFrame, the total row count)."""
    import pandas as pd

    try:
        head = fh.read(8192)
        fh.seek(0)
    except (OSError, EOFError) as exc:  # e.g. a .gz that is not gzip
        raise Unprofilable(f"{path}: cannot read it ({exc})") from None
    if fmt != "parquet" and b"\x00" in head:
        raise Unprofilable(f"{path}: binary content (NUL bytes) in a {fmt} file")
    limit = max(limit, 1)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(fh)
            batch = next(pf.iter_batches(batch_size=limit), None)
            return (batch.to_pandas() if batch is not None else pd.DataFrame()), pf.metadata.num_rows
        if fmt == "jsonl":
            frame = pd.read_json(fh, lines=True, nrows=limit + 1)
        else:
            frame = pd.read_csv(fh, sep="\t" if fmt == "tsv" else ",", nrows=limit + 1, low_memory=False)
    except UnicodeDecodeError as exc:
        raise Unprofilable(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except Exception as exc:  # pandas/pyarrow parse errors name the line where they know it
        raise Unprofilable(f"{path}: cannot read as {fmt}: {' '.join(str(exc).split())[:300]}") from None
    if len(frame) <= limit:
        return frame, len(frame)
    fh.seek(0)
    lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    return frame.iloc[:limit], lines - (0 if fmt == "jsonl" else 1)


def _document(fmt: str, frame: Any, rows: int, sampled: bool, size: int, **extra: Any) -> dict[str, Any]:
    doc = {"v": VERSION, "kind": "table", "format": fmt, "bytes": size, "rows": rows, "sampled": sampled,
           "sample_rows": len(frame), **extra}
    doc["columns"] = [_column(str(name), frame[name], sampled) for name in frame.columns]
    return doc


def _column(name: str, series: Any, sampled: bool) -> dict[str, Any]:
    import pandas as pd

    n = len(series)
    if series.dtype == object:  # nested JSON values (dicts, lists) as text, so they can be counted
        series = series.map(lambda v: v if v is None or isinstance(v, (str, int, float, bool))
                            else json.dumps(v, sort_keys=True, default=str))
    nulls = int(series.isna().sum())
    col: dict[str, Any] = {"name": name, "type": _type(series), "nulls": nulls,
                           "null_rate": round(nulls / n, 6) if n else 0.0,
                           "distinct": int(series.nunique(dropna=True)), "distinct_approx": sampled}
    values = series.dropna()
    if col["type"] in ("int", "float") and len(values):
        values = values.astype(float)
        values = values[values.map(math.isfinite)]
    if col["type"] in ("int", "float") and len(values):
        qs = values.quantile(list(QUANTILES))
        col.update(min=_f(values.min()), max=_f(values.max()), mean=_f(values.mean()),
                   std=_f(values.std(ddof=0)), median=_f(qs[0.5]),
                   quantiles={f"p{int(q * 100):02d}": _f(qs[q]) for q in QUANTILES})
        counts, edges = _histogram(values)
        col.update(hist=counts, hist_range=edges)
    elif col["type"] in ("text", "bool") and len(values):
        top = values.astype(str).value_counts().head(TOP_VALUES)
        col["top"] = [[str(v)[:80], int(c)] for v, c in top.items()]
    elif col["type"] == "datetime" and len(values):
        col.update(min=str(pd.Timestamp(values.min())), max=str(pd.Timestamp(values.max())))
    return col


def _type(series: Any) -> str:
    from pandas.api import types as t

    if t.is_bool_dtype(series):
        return "bool"
    if t.is_integer_dtype(series):
        return "int"
    if t.is_float_dtype(series):
        return "float"
    if t.is_datetime64_any_dtype(series):
        return "datetime"
    return "text"


def _histogram(values: Any) -> tuple[list[int], list[float]]:
    import numpy as np

    lo, hi = float(values.min()), float(values.max())
    counts, _ = np.histogram(values.to_numpy(), bins=HIST_BINS, range=(lo, hi if hi > lo else lo + 1))
    return [int(c) for c in counts], [_f(lo), _f(hi)]


def _f(value: Any) -> float:
    """A float rounded to 6 significant digits (profiles are summaries)."""
    v = float(value)
    return float(f"{v:.6g}") if math.isfinite(v) else v


#: MLflow schema types (ColSpec) as profile types.
MLFLOW_TYPES = {"double": "float", "float": "float", "long": "int", "integer": "int", "string": "text",
                "boolean": "bool", "datetime": "datetime", "binary": "binary"}


def from_mlflow(profile_text: str | None, schema_text: str | None) -> Profile | None:
    """The ``profile`` (``num_rows``, ``num_elements``) and ``schema`` (``mlflow_colspec``)
    MLflow stores with a dataset, in the shape of a provex profile (types only: MLflow
    keeps no column statistics). None when MLflow stored neither."""
    raw, schema = _json_or_none(profile_text), _json_or_none(schema_text)
    specs = schema.get("mlflow_colspec") if isinstance(schema, dict) else None
    cols = [{"name": str(c["name"]), "type": MLFLOW_TYPES.get(str(c.get("type")), str(c.get("type"))),
             "required": c.get("required")} for c in specs or [] if isinstance(c, dict) and c.get("name")]
    if not isinstance(raw, dict) and not cols:
        return None
    raw = raw if isinstance(raw, dict) else {}
    rows = raw.get("num_rows")
    doc = {"v": VERSION, "kind": "table", "source": "mlflow", "rows": rows if isinstance(rows, int) else None,
           "elements": raw.get("num_elements"), "columns": cols, "mlflow_profile": raw}
    if isinstance(schema, dict) and not specs:
        doc["mlflow_schema"] = schema  # a tensor spec or another schema kind, kept as MLflow wrote it
    return Profile("mlflow", doc)


def _json_or_none(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except (TypeError, ValueError):
        return None
