"""One MLflow tracking URI: its kind, the client, paging and timestamps."""

from __future__ import annotations

import contextlib
import os
import queue
import sqlite3
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

from provex.ingest.failures import mapped
from provex.vocab.errors import ReadFailed, SourceError, scrubbed, shown_uri

PAGE = 200  # rows per search_* page
RUN_PAGE = 1_000  # runs per search_runs page (MLflow's own default)
AHEAD = 2  # pages read ahead of the writer
PROBE_TIMEOUT = "5"  # seconds for the reachability probe of an http server


class Store:
    """One tracking URI: its kind, the URI handed to MLflow, and a local root
    for file stores (used to find moved artifacts and relative data files).
    ``client_uri`` is what MlflowClient opens: the store itself, or, inside
    :func:`read_only_view`, a view of a file store that takes what MLflow
    creates on opening one."""

    def __init__(self, uri: str) -> None:
        self.given = shown_uri(uri)  # as messages and records show it: no password
        self.kind, self.uri, self.root = _classify(uri)
        self.client_uri = self.uri
        if self.kind == "sqlite" and self.root is not None:  # MLflow may write on opening: read-only, it cannot
            self.client_uri = f"sqlite+pysqlite:///file:{quote(self.uri.removeprefix('sqlite:///'))}?mode=ro&uri=true"

    @property
    def scope(self) -> str:
        """The URI that scopes experiment uids (absolute for local stores; no password)."""
        return shown_uri(self.uri)


def _classify(uri: str) -> tuple[str, str, Path | None]:
    """(kind, uri for MlflowClient, local root) for a tracking URI."""
    text = uri.strip()
    if not text:
        raise SourceError("Empty MLflow tracking URI. Pass --tracking-uri http://host:5000, sqlite:///mlflow.db or a path to mlruns.")
    try:
        parsed = urlparse(text)
    except ValueError as exc:  # e.g. an unclosed "[" in the authority
        raise SourceError(f"Malformed MLflow tracking URI {shown_uri(text)} ({exc}); write it as http(s)://host:port, "
                          "sqlite:///path/mlflow.db or a path to an mlruns folder.") from None
    if parsed.scheme in ("http", "https"):
        return "http", text.rstrip("/"), None
    if parsed.scheme == "sqlite":
        path = Path(unquote(text.removeprefix("sqlite:///"))).expanduser()
        if not path.is_file():
            raise SourceError(f"MLflow database {shown_uri(text)} not found ({path} is not a file). Check the path; "
                              "provex never creates an empty store.")
        _check_sqlite(text, path)
        return "sqlite", f"sqlite:///{path.resolve()}", path.resolve().parent
    if parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and os.name == "nt"):
        path = Path(unquote(parsed.path) if parsed.scheme == "file" else text).expanduser()
        if not path.is_dir():
            raise SourceError(f"MLflow file store {shown_uri(text)} not found ({path} is not a folder). "
                              "Point --tracking-uri at the mlruns folder.")
        _check_file_store(text, path.resolve())
        return "file", path.resolve().as_uri(), path.resolve()
    if parsed.scheme in ("postgresql", "mysql", "mssql") or "+" in parsed.scheme:
        _check_driver(text)
        check_database(text)
        return "sql", text, None
    raise SourceError(f"Unsupported MLflow tracking URI {shown_uri(text)}: use http(s)://..., sqlite:///..., "
                      "a database URI, or a path to an mlruns folder.")


MLFLOW_TABLES = ("experiments", "runs")
DEFAULT_EXPERIMENT = "SELECT 1 FROM experiments WHERE experiment_id = 0"


def _check_sqlite(text: str, path: Path) -> None:
    """Refuse a file that is not an MLflow database *before* MLflow opens it:
    MLflow creates its tables in any database it is given, even an empty file."""
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            default = "experiments" in names and db.execute(DEFAULT_EXPERIMENT).fetchone() is not None
    except sqlite3.DatabaseError as exc:
        raise SourceError(f"{shown_uri(text)} is not an MLflow database ({path}: {exc}). Check the path.") from None
    _refuse(text, str(path), names, default, "an empty file")


def check_database(text: str) -> None:
    """A database server's store, checked the same way before MLflow opens it
    (through SQLAlchemy, read only): MLflow creates its tables in an empty
    database and a Default experiment in one without it."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(text)
    try:
        with engine.connect() as conn:
            names = set(sqlalchemy.inspect(conn).get_table_names())
            default = "experiments" in names and conn.execute(sqlalchemy.text(DEFAULT_EXPERIMENT)).first() is not None
    except sqlalchemy.exc.SQLAlchemyError as exc:
        first = scrubbed(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceError(f"Cannot read MLflow tracking URI {shown_uri(text)}: {first}. Check that the database is "
                          "running and the URI (host, database, user) is right.") from None
    finally:
        engine.dispose()
    _refuse(shown_uri(text), "the database", names, default, "an empty database")


def _refuse(text: str, where: str, names: set[str], default: bool, empty: str) -> None:
    missing = [t for t in MLFLOW_TABLES if t not in names]
    if missing:
        what = empty if not names else f"a database without the table(s) {', '.join(missing)}"
        raise SourceError(f"{text} is not an MLflow tracking database ({where} is {what}). Check the path; "
                          "provex only reads stores and never writes MLflow's tables into a file.")
    if not default:
        raise SourceError(f"{text} has no Default experiment (id 0): MLflow adds one to any store it opens, and "
                          "provex never writes into a store it reads. Read a copy of the store, or restore "
                          "experiment 0.")


#: What MLflow itself creates in a file store it opens, when missing: the trash and the registry's folder.
CREATED_ON_OPEN = (".trash", "models")


def _check_file_store(text: str, path: Path) -> None:
    """Refuse a folder that is not an MLflow file store *before* MLflow opens it
    (it would create ``.trash/`` and ``models/`` in any folder): a store has an
    experiment folder (``<id>/meta.yaml``), a trash or a registered model."""
    try:
        entries = [p for p in path.iterdir() if p.is_dir()]
        if any((p / "meta.yaml").is_file() for p in entries if p.name not in CREATED_ON_OPEN):
            return
        if (path / ".trash").is_dir() or any((p / "meta.yaml").is_file() for p in _subdirs(path / "models")):
            return
    except OSError as exc:
        raise SourceError(f"MLflow file store {text} cannot be read ({exc.strerror or exc}).") from None
    hint = "Point --tracking-uri at the mlruns folder MLflow wrote."
    if (path / "mlruns").is_dir():
        hint = f"Did you mean {path / 'mlruns'}?"
    elif (path / "dvc.yaml").is_file() or (path / ".dvc").is_dir():
        hint = "It is a DVC project: read it with `provex ingest dvc`."
    raise SourceError(f"{text} is not an MLflow file store ({path} has no experiment folder with a meta.yaml, "
                      f"no .trash and no registered model). {hint} provex never writes into a folder it reads.")


def _subdirs(path: Path) -> list[Path]:
    return [p for p in path.iterdir() if p.is_dir()] if path.is_dir() else []


#: Python packages of the database drivers SQLAlchemy loads, by module name (pip's name when it differs).
DRIVER_PACKAGES = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "MySQLdb": "mysqlclient",
                   "pymysql": "PyMySQL", "mysql": "mysql-connector-python", "pyodbc": "pyodbc", "pymssql": "pymssql",
                   "pg8000": "pg8000", "asyncpg": "asyncpg", "oracledb": "oracledb", "cx_Oracle": "cx_Oracle"}


def _check_driver(text: str) -> None:
    """A database URI whose Python driver is missing: say which package to install
    (MLflow would fail deep inside SQLAlchemy with a ModuleNotFoundError)."""
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    shown = shown_uri(text)
    try:
        dialect = make_url(text).get_dialect()
        dialect.import_dbapi()
    except ImportError as exc:
        module = (exc.name or str(exc)).split(".")[0]
        package = DRIVER_PACKAGES.get(module, module)
        raise SourceError(f"MLflow tracking URI {shown} needs the database driver {module!r}, which is not installed. "
                          f"Install it where provex runs: pip install '{package}' (or name another installed driver "
                          f"in the URI: {dialect_name(text)}+DRIVER://...).") from None
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ValueError) as exc:
        raise SourceError(f"MLflow tracking URI {shown} is not a database URI SQLAlchemy knows ({scrubbed(str(exc))}). "
                          "Use postgresql://, mysql://, mssql:// or sqlite:///.") from None


def dialect_name(text: str) -> str:
    return text.split(":", 1)[0].split("+", 1)[0]


@contextlib.contextmanager
def read_only_view(store: Store) -> Iterator[None]:
    """MLflow creates ``.trash/`` and ``models/`` in a file store that lacks them,
    even to read it. For such a store, MLflow opens a view instead: a temporary
    folder holding a link to each entry of the store, where what it creates
    lands (and is removed afterwards); everything it reads is the store's own.
    Other stores (and file stores that have both) are opened as they are."""
    if store.kind != "file" or store.root is None or all((store.root / name).is_dir() for name in CREATED_ON_OPEN):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="provex-mlflow-view-") as tmp:
        view = Path(tmp) / store.root.name
        view.mkdir()
        for entry in store.root.iterdir():
            (view / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
        store.client_uri = view.as_uri()
        try:
            yield
        finally:
            store.client_uri = store.uri


def errors() -> tuple[type[BaseException], ...]:
    """What MLflow raises for a bad or unreachable store: its own errors, and
    those of the parts it reads through (HTTP, SQL, the file store's YAML, the OS)."""
    import requests
    import sqlalchemy.exc
    import yaml
    from mlflow.exceptions import MlflowException

    return (MlflowException, requests.RequestException, sqlalchemy.exc.SQLAlchemyError, yaml.YAMLError, OSError,
            ImportError)  # an optional module MLflow needs for this store (a database driver) is missing


def reading(what: str) -> contextlib.AbstractContextManager[None]:
    """Wrap one MLflow call: its errors become ReadFailed("<what>: ...")."""
    return mapped(errors(), what)


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextlib.contextmanager
def default_tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's file registry opens ``MlflowClient()`` with the *default* URI
    (which would create ./mlflow.db); point the default at this store."""
    from mlflow.tracking._tracking_service import utils as tracking_utils

    saved = getattr(tracking_utils, "_tracking_uri", None)
    if saved is not None:
        tracking_utils._tracking_uri = uri
    try:
        yield
    finally:
        if saved is not None:
            tracking_utils._tracking_uri = saved


def store_env(store: Store) -> dict[str, str]:
    """Environment needed to read ``store`` (file stores need an explicit opt-in)."""
    env = {"MLFLOW_TRACKING_URI": store.client_uri, "MLFLOW_REGISTRY_URI": store.client_uri}
    if store.kind == "file":
        env["MLFLOW_ALLOW_FILE_STORE"] = "true"
    return env


def make_client(store: Store) -> Any:
    """An MlflowClient for the store; SourceError when it cannot be reached."""
    from mlflow.tracking import MlflowClient

    probe_env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": PROBE_TIMEOUT}
    try:
        with environment(probe_env), warnings.catch_warnings(), reading(f"Cannot read MLflow tracking URI {store.given}"):
            warnings.simplefilter("ignore")
            client = MlflowClient(tracking_uri=store.client_uri, registry_uri=store.client_uri)
            if store.kind != "file":  # a file store is read experiment by experiment (one may be broken)
                client.search_experiments(max_results=1)
    except ReadFailed as exc:
        raise SourceError(f"{exc}. Check that the server is running / the path is right"
                          " (an old sqlite store may need `mlflow db upgrade` on a copy).") from None
    return client


def iso(ms: int | float | None) -> str | None:
    """Epoch milliseconds as an ISO-8601 UTC string (millisecond precision)."""
    if ms is None or ms == "" or int(ms) <= 0:
        return None
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).isoformat(timespec="milliseconds")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def paged(search: Callable[..., Any], **kwargs: Any) -> Iterator[Any]:
    """Every item of an MLflow ``search_*`` call, page by page."""
    for page in pages(search, PAGE, **kwargs):
        yield from page


def pages(search: Callable[..., Any], size: int, **kwargs: Any) -> Iterator[Any]:
    """Each page of an MLflow ``search_*`` call (``size`` items per page)."""
    token = None
    while True:
        page = search(max_results=size, page_token=token, **kwargs)
        yield page
        token = getattr(page, "token", None)
        if not token:
            return


_END = object()


def prefetched(items: Iterable[Any], ahead: int = AHEAD) -> Iterator[Any]:
    """The items of ``items``, produced by a background thread up to ``ahead``
    items before they are asked for: the next MLflow page is read while the
    previous one is written to Neo4j. An error is raised here, where the item
    it replaced would have come; leaving early stops the thread."""
    box: queue.Queue = queue.Queue(ahead)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _offer(box, (item, None), stop):
                    return
            _offer(box, (_END, None), stop)
        except BaseException as exc:  # handed over to the consumer, raised there
            _offer(box, (_END, exc), stop)

    threading.Thread(target=produce, name="provex-mlflow-read-ahead", daemon=True).start()
    try:
        while True:
            item, exc = box.get()
            if exc is not None:
                raise exc
            if item is _END:
                return
            yield item
    finally:
        stop.set()


def _offer(box: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Put ``item`` when there is room; False when the consumer has gone."""
    while not stop.is_set():
        try:
            box.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
