"""Loading the exact model version with MLflow pyfunc, and running it on one
row of logged inputs.

A version is loaded from the registry (``models:/<name>/<version>`` in the
tracking store it was ingested from), else from its logged model's
artifacts; every failure is kept as a reason, so a model that cannot be
loaded gives ``could-not-run`` with why, never a crash.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from provex.vocab.errors import ProvexError


class CannotRun(ProvexError):
    """The model (or a step before it) could not be run; the message says why."""


@dataclass
class Loaded:
    uid: str
    uri: str
    model: Any


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """MLflow's progress bars and warnings stay out of the CLI output."""
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def candidates(mv: Mapping[str, Any], logged_model_location: str | None, run_artifact_uri: str | None) -> list[str]:
    """Where the model of ``mv`` may be loaded from, best first."""
    uris = []
    if mv.get("name") and mv.get("version") is not None:
        uris.append(f"models:/{mv['name']}/{mv['version']}")
    if logged_model_location:
        uris.append(logged_model_location)
    if run_artifact_uri:
        uris.append(f"{run_artifact_uri.rstrip('/')}/model")
    return uris


class Models:
    """Loaded pyfunc models by model-version uid (each loaded once)."""

    def __init__(self) -> None:
        self._loaded: dict[str, Loaded] = {}

    def load(self, facts: Mapping[str, Any]) -> Loaded:
        mv = facts.get("model_version") or {}
        uid = mv.get("uid")
        if not uid or mv.get("placeholder"):
            raise CannotRun(f"the model version {uid or '(none)'} is not in the graph: ingest its MLflow registry first")
        if uid not in self._loaded:
            self._loaded[uid] = _load(mv, candidates(mv, facts.get("logged_model_location"), facts.get("run_artifact_uri")))
        return self._loaded[uid]


def _load(mv: Mapping[str, Any], uris: list[str]) -> Loaded:
    try:
        import mlflow
    except ImportError as exc:  # pragma: no cover - mlflow is a dependency
        raise CannotRun(f"mlflow is not installed: {exc}") from None
    tracking = mv.get("tracking_uri")
    reasons = []
    for uri in uris:
        if uri.startswith("models:/") and not tracking:  # MLflow would open (and create) ./mlflow.db instead
            reasons.append(f"{uri}: no tracking store is recorded for {mv['uid']}")
            continue
        try:
            with quiet(), tracking_store(tracking):
                return Loaded(mv["uid"], uri, mlflow.pyfunc.load_model(uri))
        except Exception as exc:  # noqa: BLE001 - every loader failure is a reason to report
            reasons.append(f"{uri}: {_short(exc)}")
    where = f" (tracking store {tracking})" if tracking else ""
    raise CannotRun(f"could not load {mv['uid']}{where}: " + "; ".join(reasons or ["no location recorded"]))


_URI_VARS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@contextlib.contextmanager
def tracking_store(uri: str | None) -> Iterator[None]:
    """MLflow's tracking and registry URIs set to ``uri`` for the block (nothing
    touched when None), then put back exactly as they were: set or unset, the
    environment variables MLflow writes too. (Setting back the value
    ``get_tracking_uri()`` read would pin MLflow's default and override a later
    MLFLOW_TRACKING_URI.)"""
    if not uri:
        yield
        return
    import mlflow
    from mlflow.tracking._model_registry import utils as registry
    from mlflow.tracking._tracking_service import utils as tracking

    saved = (tracking._tracking_uri, registry._registry_uri, {k: os.environ.get(k) for k in _URI_VARS})
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        tracking._tracking_uri, registry._registry_uri = saved[0], saved[1]
        for key, value in saved[2].items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _short(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + " ..."


def predict(loaded: Loaded, inputs: Mapping[str, Any]) -> tuple[float, str]:
    """One row through the model: (value, how it was read from the output)."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame([dict(inputs)])
    try:
        with quiet():
            raw = loaded.model.predict(frame)
    except Exception as exc:  # noqa: BLE001 - the model's own error is the reason
        raise CannotRun(f"{loaded.uid} ({loaded.uri}) failed on the logged inputs: {_short(exc)}") from None
    out = np.asarray(raw.to_numpy() if hasattr(raw, "to_numpy") else raw, dtype=float)
    if out.ndim == 0 or out.size == 1:
        return float(out.reshape(-1)[0]), "the model's output"
    if out.ndim == 2 and out.shape[0] == 1:
        return float(out[0, -1]), f"column {out.shape[1] - 1} of {out.shape[1]} (the last class's probability)"
    raise CannotRun(f"{loaded.uid} returned an output of shape {out.shape} for one row; cannot compare it with one logged value")
