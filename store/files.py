"""Writing the store's files: every file written under a temporary name and
renamed into place (on object storage a single PUT), so no reader ever sees
a partial file."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from provex.store.table import COMPRESSION, ROW_GROUP

STAGING = "staging"
#: Encodings by column, where they beat dictionary + zstd (measured in bench/): delta for sorted
#: numbers, prefix-sharing for ids and times written in order; everything else dictionary-encoded.
ENCODINGS = {"line": "DELTA_BINARY_PACKED", "moment": "DELTA_BINARY_PACKED", "row": "DELTA_BINARY_PACKED",
             "uid": "DELTA_BYTE_ARRAY", "prediction_id": "DELTA_BYTE_ARRAY", "timestamp": "DELTA_BYTE_ARRAY",
             "key": "DELTA_BYTE_ARRAY"}


def _encoding(schema: pa.Schema) -> dict[str, Any]:
    names = [f.name for f in schema]
    encoded = {n: e for n, e in ENCODINGS.items() if n in names}
    return {"use_dictionary": [n for n in names if n not in encoded], "column_encoding": encoded or None}


def write_table(location: Any, relative: str, table: pa.Table, row_group: int = ROW_GROUP) -> None:
    """Write a Parquet file under a temporary name and rename it into place."""
    fs, final = location.filesystem, location.path(relative)
    fs.create_dir(final.rsplit("/", 1)[0], recursive=True)
    temp = final + ".tmp" if location.local else final
    pq.write_table(table, temp, filesystem=fs, row_group_size=row_group, compression=COMPRESSION, **_encoding(table.schema))
    if temp != final:
        fs.move(temp, final)


@contextlib.contextmanager
def sorted_writer(location: Any, relative: str, schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
    """A Parquet writer for batches arriving in order; the file appears when it is closed."""
    fs, final = location.filesystem, location.path(relative)
    fs.create_dir(final.rsplit("/", 1)[0], recursive=True)
    temp = final + ".tmp" if location.local else final
    writer = pq.ParquetWriter(temp, schema, filesystem=fs, compression=COMPRESSION, **_encoding(schema))
    try:
        yield writer
    finally:
        writer.close()
    if temp != final:
        fs.move(temp, final)


class OpenFile:
    """A Parquet file written a table at a time (row groups appended), under a
    temporary name until :meth:`close` renames it into place."""

    def __init__(self, location: Any, relative: str, schema: pa.Schema) -> None:
        self.location, self.relative = location, relative
        fs, self.final = location.filesystem, location.path(relative)
        fs.create_dir(self.final.rsplit("/", 1)[0], recursive=True)
        self.temp = self.final + ".tmp" if location.local else self.final
        self.writer = pq.ParquetWriter(self.temp, schema, filesystem=fs, compression=COMPRESSION, **_encoding(schema))
        self.rows = 0

    def write(self, table: pa.Table) -> int:
        """Append the rows; the row number the first of them has in the file."""
        first = self.rows
        self.writer.write_table(table, row_group_size=ROW_GROUP)
        self.rows += table.num_rows
        return first

    def close(self) -> None:
        self.writer.close()
        if self.temp != self.final:
            self.location.filesystem.move(self.temp, self.final)


def time_range(data: pa.Table) -> dict[str, str]:
    """The first and last ``moment`` of a file sorted by it, as ISO text (the manifest's prune keys)."""
    stamps = data["moment"]
    return {"first": iso(stamps[0].as_py()), "last": iso(stamps[-1].as_py())}


def iso(moment: Any) -> str:
    """A UTC time as fixed-width ISO text (microseconds always), so text order is time order."""
    return moment.isoformat(timespec="microseconds")
