"""MLflow adapter: any tracking store or server, read through ``MlflowClient``.

``read(tracking_uri, experiments=..., state=...)`` yields the experiments,
runs (params, metrics, tags, dataset inputs, git commit, user), MLflow 3
logged models, the model registry (versions, aliases, old-style stages) and
the models' library environments. Tracking URIs: ``http(s)://`` servers,
``sqlite:///...`` databases and file stores (``file:///.../mlruns`` or a plain
path). Only what changed since the last ingest of the same URI is read (see
the ``Watermark`` records). Runs are in :mod:`provex.ingest.mlflow.runs`, the
registry in :mod:`provex.ingest.mlflow.registry`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provex.ingest.mlflow import registry, runs
from provex.ingest.mlflow.store import Store, default_tracking_uri, environment, iso, make_client, read_only_view, store_env
from provex.ingest.source import Source, local, strings
from provex.vocab.errors import shown_uri
from provex.vocab.records import Flag, Record, Watermark

__all__ = ["Store", "iso", "read"]

def read(
    tracking_uri: str,
    *,
    experiments: tuple[str, ...] | list[str] = (),
    state: dict[str, Any] | None = None,
    data_root: str | None = None,
) -> Iterator[Record]:
    """Yield records for one tracking store (``experiments``: names to limit
    the runs to; ``data_root``: folder that relative dataset paths are
    resolved against to recompute their md5, default the file store's parent)."""
    store = Store(tracking_uri)
    state = dict(state or {})
    with read_only_view(store), environment(store_env(store)), default_tracking_uri(store.client_uri), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = make_client(store)
        if store.kind == "file":
            yield Flag("file-store-opt-in", f"MLflow 3 opens file stores only with MLFLOW_ALLOW_FILE_STORE=true; "
                       f"provex set it while reading {store.given} and restored it afterwards.", store.given)
        root = Path(data_root) if data_root else (store.root.parent if store.kind == "file" and store.root else None)
        ctx = runs.Context(client, store, root, state)
        exps = yield from runs.experiments(ctx, experiments)
        yield from runs.runs(ctx, exps)
        yield from registry.logged_models(ctx, [e.experiment_id for e in exps])
        yield from registry.registry(ctx)
        for name, value in ctx.watermarks.items():
            yield Watermark(name, value)


class MlflowSource(Source):
    """``kind = "mlflow"``: ``tracking_uri`` (a relative ``sqlite:///`` path is
    taken from the config's folder), optional ``experiments``."""

    kind = "mlflow"

    def __init__(self, tracking_uri: str, experiments: tuple[str, ...] | list[str] = ()) -> None:
        super().__init__(shown_uri(tracking_uri))  # the Source node and IngestRun never hold a password
        self.tracking_uri = tracking_uri
        self.experiments = tuple(experiments)

    @classmethod
    def from_config(cls, table: dict[str, Any], base: Path) -> list[Source]:
        uri = table["tracking_uri"]
        if not isinstance(uri, str):
            raise ValueError(f"tracking_uri must be text, got {uri!r}")
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            uri = "sqlite:///" + local(base, uri.removeprefix("sqlite:///"))
        elif "://" not in uri:
            uri = local(base, uri)
        return [cls(uri, strings(table, "experiments"))]

    def read(self, state: dict[str, Any]) -> Iterator[Record]:
        return read(self.tracking_uri, experiments=self.experiments, state=state)
