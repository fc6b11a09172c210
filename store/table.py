"""Facts as Arrow: the schema of the store's data files, and how a batch of
facts becomes a table sorted for its partition files."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from provex.vocab.facts import CONTENT_FIELDS, FIELDS, REF_PARTITION, Facts
from provex.vocab.secrets import scrubbed

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


_TEXT = [name for name in FIELDS if SCHEMA.field(name).type == pa.string()]


def _scrubbed(con: Any, table: pa.Table) -> pa.Table:
    """The text columns holding a URI, with its credentials removed
    (:func:`provex.vocab.secrets.scrubbed`); the others are not touched (one
    vectorised look per chunk: the common case costs nothing more)."""
    found = con.execute("SELECT " + ", ".join(f"bool_or(strpos({n}, '://') > 0)" for n in _TEXT)
                        + " FROM provex_chunk").fetchall()[0]
    for name, hit in zip(_TEXT, found):
        if hit:
            values = [v if v is None or "://" not in v else scrubbed(v) for v in table[name].to_pylist()]
            table = table.set_column(table.schema.get_field_index(name), name, pa.array(values, pa.string()))
    return table


def _column(values: list[Any], kind: pa.DataType) -> pa.Array:
    """One column from Python values (all-null columns, common in logs, without a pass over them)."""
    if values.count(None) == len(values):
        return pa.nulls(len(values), kind)
    return pa.array(values, type=kind)


def to_table(facts: Facts, ingest: str) -> pa.Table:
    """The batch as a table of :data:`SCHEMA` (its digest still empty), with
    ``part`` (its partition) and ``month`` added."""
    n = len(facts)
    columns = {name: _column(facts.columns[name], SCHEMA.field(name).type) for name in FIELDS}
    columns["digest"] = pa.nulls(n, pa.string())
    columns["moment"] = columns["timestamp"].cast(AT)
    columns["ingest"] = pa.array([ingest] * n, type=pa.string())
    table = pa.table(columns, schema=SCHEMA)
    part = pc.coalesce(table["model_version_uid"],
                       pc.binary_join_element_wise(REF_PARTITION, pc.fill_null(table["model_ref"], ""), ""))
    return table.append_column("part", part).append_column("month", pc.utf8_slice_codeunits(table["hour"], 0, 7))


def settled(table: pa.Table, con: Any) -> pa.Table:
    """A chunk of facts scrubbed of URI credentials and given its digests (in DuckDB, one pass each)."""
    con.register("provex_chunk", table)
    try:
        table = _scrubbed(con, table)
        con.unregister("provex_chunk")
        con.register("provex_chunk", table)
        digest = con.sql(f"SELECT {DIGEST} AS d FROM provex_chunk").to_arrow_table()["d"].combine_chunks()
    finally:
        con.unregister("provex_chunk")
    return table.set_column(table.schema.get_field_index("digest"), "digest", digest)


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
