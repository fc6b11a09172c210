"""One ingest's append to the store: facts in, files out, one commit.

While the adapter reads, facts are buffered and written every CHUNK rows as
data files (one per partition and month, sorted by time) and as a staging
file of their keys. :meth:`Append.finish` then applies the identity rule
against the committed store and within the ingest (a prediction id has one
record, the first ingested: an exact repeat is dropped silently, other
content is a :class:`Conflict`), and writes the id, key and link indexes.
:meth:`Append.commit` makes it all live in one manifest write. Until then
nothing is visible, so an interrupted ingest leaves no partial file in the
store (its files are swept by the next commit).

A chunk is written by one worker thread while the adapter reads the next
(the scrub, the digests, the sort and Parquet's encoding release the GIL):
at most one chunk in flight, so memory stays bounded, and its error is
raised in the reading thread at the next chunk or at :meth:`finish`.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from provex.store import compact, dangling
from provex.store.files import STAGING, OpenFile, time_range, write_table
from provex.store.identity import Outcome, settle
from provex.store.location import partition_dir
from provex.store.table import ROW_GROUP, settled, split, to_table
from provex.vocab.facts import Facts

CHUNK = 50_000  # facts buffered before they are written (each chunk a row group or more of its files)


class Append:
    def __init__(self, store: Any, ingest: str) -> None:
        self.store, self.ingest = store, ingest
        self.location = store.location
        self._pending: list[pa.Table] = []
        self._buffered = 0
        self._order = 0
        self._seq = 0
        self.files: dict[str, dict[str, Any]] = {}
        self.staged: list[str] = []
        self._open: dict[tuple[str, str], OpenFile] = {}  # one data file per partition and month, open while reading
        self.outcome: Outcome | None = None
        self._con = store.duck()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="provex-store")
        self._inflight: Future | None = None

    @property
    def rows(self) -> int:
        return self._order

    def add(self, facts: Facts) -> None:
        if not len(facts):
            return
        table = to_table(facts, self.ingest)
        table = table.append_column("ord", pa.array(range(self._order, self._order + len(facts)), pa.int64()))
        self._order += len(facts)
        self._pending.append(table)
        self._buffered += len(facts)
        if self._buffered >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        self._pending, self._buffered = [], 0
        self._wait()
        self._inflight = self._worker.submit(self._write, table)

    def _wait(self) -> None:
        """Wait for the chunk in flight (raising its error here)."""
        future, self._inflight = self._inflight, None
        if future is not None:
            future.result()

    def _write(self, table: pa.Table) -> None:
        """One chunk into its data files and a staging file of its keys (in the worker)."""
        table = settled(table.combine_chunks(), self._con)
        keys = []
        for part, month, rows in split(table):
            data = rows.drop_columns(["ord", "digest"])  # the digest is recomputed from the content when needed
            file = self._file(part, month, data.schema)
            first = file.write(data)
            meta = self.files[file.relative]
            span = time_range(data)
            meta.update(rows=file.rows, first=min(meta.get("first") or span["first"], span["first"]),
                        last=max(meta.get("last") or span["last"], span["last"]))
            keys.append(_keys(rows, file.relative, part, first))
        staged = f"{STAGING}/{self.ingest}/keys-{len(self.staged):05d}.parquet"
        write_table(self.location, staged, pa.concat_tables(keys), row_group=ROW_GROUP * 4)
        self.staged.append(staged)

    def _file(self, part: str, month: str, schema: pa.Schema) -> OpenFile:
        file = self._open.get((part, month))
        if file is None:
            relative = f"{partition_dir(part, month)}/{self.ingest}-{self._seq:05d}.parquet"
            self._seq += 1
            file = self._open[(part, month)] = OpenFile(self.location, relative, schema)
            self.files[relative] = {"kind": "data", "partition": part, "month": month, "rows": 0, "ingest": self.ingest}
        return file

    def finish(self) -> Outcome:
        """Apply the identity rule and write the indexes (not yet live)."""
        self._flush()
        try:
            self._wait()
        finally:
            self._worker.shutdown()
        for file in self._open.values():
            file.close()
        self._open.clear()
        self.outcome = settle(self)
        return self.outcome

    def commit(self) -> None:
        """Make this ingest's files live: one manifest write. Sweeps what
        interrupted ingests left behind."""
        manifests = self.store.manifests
        manifest = manifests.load()
        manifest.files.update(self.files)
        manifest.retired.update(dict.fromkeys(dangling.retire(manifest, self.files), time.time()))
        manifests.save(manifest)
        self.store.sweep(manifest)
        if compact.due(self.store):
            compact.compact(self.store, f"{self.ingest}-c")

    def abort(self) -> None:
        """Remove what this ingest wrote; nothing of it was live."""
        self._worker.shutdown(cancel_futures=True)
        self._inflight = None
        self.store.sweep(self.store.manifests.load())


def _keys(rows: pa.Table, relative: str, part: str, first: int) -> pa.Table:
    """The staging row of each fact (its row number in the file starting at ``first``):
    what identity, the indexes and the graph need of it."""
    n = rows.num_rows
    return pa.table({
        "uid": rows["uid"], "digest": rows["digest"], "ord": rows["ord"],
        "file": pa.array([relative] * n, pa.string()), "row": pa.array(range(first, first + n), pa.int64()),
        "part": pa.array([part] * n, pa.string()), "hour": rows["hour"], "timestamp": rows["timestamp"], "moment": rows["moment"],
        "prediction_id": rows["prediction_id"], "subject_id": rows["subject_id"], "household_id": rows["household_id"],
        "upstream": rows["upstream"], "override_rule": rows["override_rule"], "inputs": rows["inputs"],
        "model_ref": rows["model_ref"], "model_name": rows["model_name"], "model_alias": rows["model_alias"],
        "model_run_id": rows["model_run_id"], "model_id": rows["model_id"], "source": rows["source"],
        "line": rows["line"],
    })
