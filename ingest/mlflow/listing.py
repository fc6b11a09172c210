"""The runs of an experiment, a ``search_runs`` page at a time with the page's
metric step counts: read ahead in a thread of this process, or in a child
process for big database stores. Used by :mod:`provex.ingest.mlflow.runs`,
which builds the records from the pages either way.

Why a child process: with a database store, ``search_runs`` is SQLAlchemy
building ``Run`` entities, about 1 ms of CPU per run, in the same Python
process as the record building and the Neo4j driver's packing. Under the GIL
a read-ahead thread cannot overlap that work with ours; a second process can
(the bench measured 2.1x ``search_runs`` alone on 10,000 runs in one process).

- The child reads through its own ``MlflowClient`` (as everything in provex
  reads MLflow) and sends each page's ``Run`` entities as they are: pickling
  them measured ~25 ms per 1,000 runs in the child and ~22 ms to unpickle in
  the parent, about 2% of reading them, so no conversion.
- A plain ``python -c`` subprocess with a ``multiprocessing`` Connection on
  each of two pipes, not ``multiprocessing.Process``: the parent already has
  threads when it reads (the Neo4j writer, the driver's, the lock heartbeat),
  and ``fork`` after threads can deadlock on a lock one of them held; ``spawn``
  and ``forkserver`` re-run the caller's ``__main__`` in the child (a script
  calling :func:`provex.ingest.mlflow.read` without a main guard would fail),
  and ``forkserver`` leaves a server process behind. A fresh interpreter pays
  ``import mlflow`` (1 to 4 s), so the child is started as the ingest starts
  and imports while the parent imports MLflow, opens the store and lists the
  experiments; it is then told which experiments to read.
- Only for SQLite files of at least ``MIN_DB_BYTES`` and server databases
  (``store.kind == "sql"``: no size to go by, and usually big and shared):
  under that the start-up is not won back. HTTP stores stay in this process
  (the ``mlflow server`` does the SQL in its own process already), and so do
  file stores (read experiment by experiment, a broken one skipped).
- ``PROVEX_MLFLOW_READER=process`` forces the child for any database store,
  ``=thread`` the thread (tests and benchmarks compare the two).
- The child runs in its own session, so Ctrl-C reaches only the parent,
  which ends the child whenever reading ends, early or not (closing the
  pipes, then SIGTERM, then SIGKILL); a child whose parent has gone fails on
  its next send or wait and exits. Its stdout is discarded (``--format json``
  is on the parent's); its stderr is the parent's.
- An MLflow error in the child comes back as its one-line text and is raised
  in the parent as the same ``ReadFailed("<what>: <error>")`` as in-process; any
  other error is re-raised as itself (its child traceback as a note).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import traceback
import warnings
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from provex.ingest.failures import one_line
from provex.ingest.mlflow import steps
from provex.ingest.mlflow.store import Store, errors, make_client, pages, prefetched, reading
from provex.vocab.errors import ReadFailed, SourceError, UsageError

MODE_ENV = "PROVEX_MLFLOW_READER"  # auto (default) | process | thread
MIN_DB_BYTES = 16 << 20  # SQLite files from this size are read in a child (~1,600 runs of the bench's store)
STOP_WAIT = 5.0  # seconds a child is given after SIGTERM before SIGKILL

Page = tuple[list[Any], dict[str, dict[str, int]]]  # runs, run_id -> step counts


def run_pages(client: Any, kind: str, experiment_id: str, start_ms: int, size: int) -> Iterator[Page]:
    """(runs, their step counts) per ``search_runs`` page of ``size`` runs,
    for the runs started after ``start_ms`` (all when 0)."""
    from mlflow.entities import ViewType

    query = f"attributes.start_time > {start_ms}" if start_ms else ""
    found = pages(client.search_runs, size, experiment_ids=[experiment_id], filter_string=query,
                  run_view_type=ViewType.ALL)
    for page in found:
        yield list(page), steps.bulk(client, kind, list(page))


def here(client: Any, kind: str, experiment_id: str, start_ms: int, size: int, what: str) -> Iterator[Page]:
    """The pages read ahead in a thread of this process; ReadFailed("<what>: ...")
    when a page cannot be read."""
    with contextlib.closing(prefetched(run_pages(client, kind, experiment_id, start_ms, size))) as ahead:
        while True:
            with reading(what):
                item = next(ahead, None)
            if item is None:
                return
            yield item


def wanted(store: Store) -> bool:
    """Whether this store's runs are read in a child process (see the module's docstring)."""
    mode = os.environ.get(MODE_ENV, "auto").strip().lower() or "auto"
    if mode not in ("auto", "process", "thread"):
        raise UsageError(f"{MODE_ENV}={mode!r}: use auto, process or thread.")
    if store.kind not in ("sqlite", "sql") or mode == "thread":
        return False
    if mode == "process" or store.kind == "sql":
        return True
    path = store.uri.removeprefix("sqlite:///")
    return os.path.getsize(path) >= MIN_DB_BYTES


@contextlib.contextmanager
def started(store: Store) -> Iterator[Child | None]:
    """A child reading this store when :func:`wanted` (None when not, or when
    no process can be started: then the runs are read here); the child is
    ended when the block is left, however it is left."""
    child = None
    if wanted(store):
        with contextlib.suppress(OSError):
            child = Child(store)
    try:
        yield child
    finally:
        if child is not None:
            child.close()


class Child:
    """A child process that reads run pages through its own MlflowClient:
    :meth:`plan` tells it the experiments (in the order they will be asked
    for), :meth:`listed` yields one experiment's pages."""

    def __init__(self, store: Store) -> None:
        to_child, from_child = os.pipe(), os.pipe()  # (read end, write end) each
        code = f"from {__name__} import serve_fds; serve_fds({to_child[0]}, {from_child[1]})"
        try:
            self._proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(to_child[0], from_child[1]),
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        finally:
            os.close(to_child[0])
            os.close(from_child[1])
        self._out = Connection(to_child[1], readable=False)
        self._in = Connection(from_child[0], writable=False)
        with contextlib.suppress(OSError):  # a child that has died is reported by listed()
            self._out.send(store)

    def plan(self, jobs: list[tuple[str, int]], size: int) -> None:
        """Read these (experiment id, start_ms) with ``size`` runs per page."""
        with contextlib.suppress(OSError):  # a child that has died is reported by listed()
            self._out.send((jobs, size))

    def listed(self, experiment_id: str, what: str) -> Iterator[Page]:
        """One planned experiment's pages, as :func:`here` yields them."""
        while True:
            kind, exp, payload = self._recv(what)
            if exp != experiment_id:
                raise RuntimeError(f"MLflow reading process sent experiment {exp}, expected {experiment_id}")
            if kind == "page":
                yield payload
            elif kind == "end":
                return
            elif kind == "failed":
                raise ReadFailed(f"{what}: {payload}")
            else:
                raise payload

    def _recv(self, what: str) -> tuple[str, str, Any]:
        try:
            return self._in.recv()
        except (EOFError, OSError):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(1)
            raise ReadFailed(f"{what}: the MLflow reading process ended (exit code {self._proc.returncode})") from None

    def close(self) -> None:
        """End the child: it has finished, or is stopped (SIGTERM, then SIGKILL)."""
        self._out.close()
        self._in.close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


# --------------------------------------------------------------------------- in the child


def serve_fds(read_fd: int, write_fd: int) -> None:
    """The child's entry point: the pipes from and to the parent."""
    with Connection(read_fd, writable=False) as orders, Connection(write_fd, readable=False) as out:
        serve(orders, out)


def serve(orders: Any, out: Any) -> None:
    """The child: import MLflow, wait for the store and the plan, send each
    experiment's pages, then ("end", id, None); an MLflow error as ("failed",
    id, text), then on to the next experiment; any other error as ("error",
    id, exc), and stop. A parent that has gone ends it quietly."""
    warnings.simplefilter("ignore")
    with contextlib.suppress(BrokenPipeError, EOFError, ConnectionResetError):
        import mlflow.tracking  # noqa: F401  (while the parent starts up)

        store = orders.recv()
        jobs, size = orders.recv()
        client = None
        for experiment_id, start_ms in jobs:
            try:
                client = client or make_client(store)
                _send_pages(out, client, store.kind, experiment_id, start_ms, size)
            except SourceError as exc:  # the store cannot be opened here: as an MLflow error
                out.send(("failed", experiment_id, str(exc)))
            except Exception as exc:
                out.send(("error", experiment_id, _portable(exc)))
                return


def _send_pages(conn: Any, client: Any, kind: str, experiment_id: str, start_ms: int, size: int) -> None:
    found = run_pages(client, kind, experiment_id, start_ms, size)
    while True:
        try:
            item = next(found, None)
        except errors() as exc:
            conn.send(("failed", experiment_id, one_line(exc)))
            return
        if item is None:
            conn.send(("end", experiment_id, None))
            return
        conn.send(("page", experiment_id, item))


def _portable(exc: Exception) -> Exception:
    """The error itself, with the child's traceback as a note, when it pickles; else a RuntimeError with the traceback."""
    import pickle

    text = "".join(traceback.format_exception(exc))
    try:
        exc.add_note(f"In the MLflow reading process:\n{text}")
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"The MLflow reading process failed:\n{text}")
