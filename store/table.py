"""Facts as Arrow: the schema of the store's data files, and how a batch of
facts becomes a table sorted for its partition files."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from provex.vocab.facts import CONTENT_FIELDS, FIELDS, REF_PARTITION, Facts

_TYPES = {"score": pa.float64(), "line": pa.int64(), "upstream": pa.list_(pa.string())}
#: The data files' columns: the facts, their time as a timestamp (``moment``: text
#: with fractions of a second does not sort as time), and the ingest that wrote them.
AT = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema([(name, _TYPES.get(name, pa.string())) for name in FIELDS]
                   + [("digest", pa.string()), ("moment", AT), ("ingest", pa.string())])
ROW_GROUP = 16_384  # rows per row group: a point read decodes one group
COMPRESSION = "zstd"


def _text(name: str) -> str:
    if name == "upstream":
        return "array_to_string(upstream, chr(30))"
    return f"CAST({name} AS VARCHAR)"


#: The digest of a fact: what the log said about the prediction, not where it was read (DuckDB's md5, stable).
DIGEST = "left(md5(concat_ws(chr(31), " + ", ".join(f"coalesce({_text(n)}, chr(0))" for n in CONTENT_FIELDS) + ")), 16)"


def to_table(facts: Facts, ingest: str, con: Any) -> pa.Table:
    """The batch as a table of :data:`SCHEMA`, with ``part`` (its partition) and ``month`` added."""
    columns = {name: pa.array(facts.columns[name], type=SCHEMA.field(name).type) for name in FIELDS}
    batch = pa.table(columns)
    con.register("provex_batch", batch)
    try:
        columns["digest"] = con.sql(f"SELECT {DIGEST} AS d FROM provex_batch").to_arrow_table()["d"].combine_chunks()
    finally:
        con.unregister("provex_batch")
    columns["moment"] = columns["timestamp"].cast(AT)
    columns["ingest"] = pa.array([ingest] * len(facts), type=pa.string())
    table = pa.table(columns, schema=SCHEMA)
    part = pc.coalesce(table["model_version_uid"],
                       pc.binary_join_element_wise(REF_PARTITION, pc.fill_null(table["model_ref"], ""), ""))
    return table.append_column("part", part).append_column("month", pc.utf8_slice_codeunits(table["hour"], 0, 7))


def split(table: pa.Table) -> list[tuple[str, str, pa.Table]]:
    """``(partition, month, rows sorted by time and uid)`` for each partition and month in ``table``."""
    table = table.sort_by([("part", "ascending"), ("month", "ascending"), ("moment", "ascending"), ("uid", "ascending")])
    if not table.num_rows:
        return []
    # The runs of equal (part, month) in the sorted rows, in their order. (group_by's
    # groups do not come in sorted order: slicing by them put rows in other partitions.)
    key = pc.binary_join_element_wise(pc.fill_null(table["part"], ""), pc.fill_null(table["month"], ""), "\x1f")
    runs = pc.run_end_encode(key.combine_chunks())
    out, start = [], 0
    for end in runs.run_ends.to_pylist():
        rows = table.slice(start, end - start)
        out.append((rows["part"][0].as_py(), rows["month"][0].as_py(), rows.drop_columns(["part", "month"])))
        start = end
    return out
