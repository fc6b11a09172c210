"""Why a rebuilt model's bytes differ from the locked ones: the same model
written differently, or another model.

Both artifacts are loaded — a pickle/joblib file (a DVC output), or an MLflow
model folder (pyfunc) — which runs code from them, so only what ``provex
reproduce --verify`` (or the app's Verify, with ``--allow-run``) already
trusts is loaded: the project's own outputs, rebuilt by its own stages. Then:

- parameters: the objects' state, walked recursively (an sklearn pipeline's
  steps, coefficients, scalers, ...), numbers compared within
  :data:`REL_TOLERANCE`, the rest for equality; library version stamps
  (``_sklearn_version``) are noted, not counted as a difference;
- predictions on the training inputs (a data dependency of the stage with
  every column the model was fitted on), else on the input example logged
  with the re-run's MLflow model, else on a synthetic sample (stated).

The verdict is ``same model, different bytes`` or ``the model differs``,
with the numbers that say so, or ``not compared`` with why.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from provex.app.reproduce.models import quiet

SAME, DIFFERENT, UNKNOWN = "same model, different bytes", "the model differs", "not compared"
REL_TOLERANCE = 1e-9
ABS_TOLERANCE = 1e-12
SAMPLE_ROWS = 1000
SYNTHETIC_ROWS = 200
MAX_DEPTH = 12
MODEL_SUFFIXES = (".pkl", ".pickle", ".joblib")
DATA_SUFFIXES = (".csv", ".tsv", ".parquet")
VERSION_STAMPS = ("_sklearn_version", "__version__", "_version")


class Unloadable(Exception):
    """The artifact could not be loaded or run; the message says why."""


def is_model(path: Path) -> bool:
    """A pickle/joblib file or an MLflow model folder."""
    return path.suffix.lower() in MODEL_SUFFIXES or (path.is_dir() and (path / "MLmodel").is_file())


def load(path: Path) -> tuple[Any, Any]:
    """(the object to compare, the object to predict with) of a model artifact."""
    try:
        if path.is_dir():
            import mlflow

            model = mlflow.pyfunc.load_model(str(path))
            try:
                return model.get_raw_model(), model
            except Exception:  # noqa: BLE001 - a pyfunc without a raw model: compare predictions only
                return None, model
        import joblib

        obj = joblib.load(path)
        return obj, obj
    except Exception as exc:  # noqa: BLE001 - the artifact's own code failed: say so
        raise Unloadable(f"could not load {path.name}: {type(exc).__name__}: {exc}"[:400]) from None


# ---- parameters -----------------------------------------------------------------------------------


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _array(x: Any) -> Any:
    import numpy as np

    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "to_numpy") and hasattr(x, "shape"):
        return x.to_numpy()
    return None


def _name(x: Any) -> str:
    return f"{getattr(x, '__module__', '') or ''}.{getattr(x, '__qualname__', None) or getattr(x, '__name__', repr(x))}"


def _named(x: Any) -> bool:
    return isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str)


def _state(x: Any) -> dict[str, Any] | None:
    try:
        state = x.__getstate__() if hasattr(x, "__getstate__") else vars(x)
    except TypeError:
        return None
    return state if isinstance(state, dict) else None


def walk(a: Any, b: Any, where: str = "model", depth: int = 0) -> Iterator[tuple[str, str, float]]:
    """Differences between two objects: (where, what, relative size); relative size 0 for
    exact differences of non-numbers, inf for a change of kind or shape."""
    import numpy as np

    if depth > MAX_DEPTH:
        return
    arr_a, arr_b = _array(a), _array(b)
    if arr_a is not None or arr_b is not None:
        yield from _arrays(arr_a, arr_b, where)
    elif _number(a) and _number(b) or isinstance(a, np.generic) and isinstance(b, np.generic):
        yield from _arrays(np.asarray(a), np.asarray(b), where)
    elif isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                yield f"{where}.{key}", "only in one model", math.inf
            elif str(key) in VERSION_STAMPS:
                if a[key] != b[key]:
                    yield f"{where}.{key}", f"version stamp {a[key]} vs {b[key]}", -1.0
            else:
                yield from walk(a[key], b[key], f"{where}.{key}", depth + 1)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            yield where, f"{len(a)} vs {len(b)} items", math.inf
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if _named(x) and _named(y) and x[0] == y[0]:  # an sklearn step: ("ridge", Ridge(...))
                yield from walk(x[1], y[1], f"{where}[{x[0]}]", depth + 1)
            else:
                yield from walk(x, y, f"{where}[{i}]", depth + 1)
    elif type(a) is not type(b):
        yield where, f"{type(a).__name__} vs {type(b).__name__}", math.inf
    elif a is None or isinstance(a, (str, bytes, bool)):
        if a != b:
            yield where, f"{a!r:.40} vs {b!r:.40}", math.inf
    elif callable(a) and _state(a) is None or isinstance(a, type):
        if _name(a) != _name(b):
            yield where, f"{_name(a)} vs {_name(b)}", math.inf
    elif (sa := _state(a)) is not None and (sb := _state(b)) is not None:
        yield from walk(sa, sb, where, depth + 1)
    elif repr(a) != repr(b):
        yield where, f"{repr(a)[:40]} vs {repr(b)[:40]}", math.inf


def _arrays(a: Any, b: Any, where: str) -> Iterator[tuple[str, str, float]]:
    import numpy as np

    if a is None or b is None or a.shape != b.shape:
        yield where, f"shape {getattr(a, 'shape', None)} vs {getattr(b, 'shape', None)}", math.inf
        return
    if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
        if not np.array_equal(a, b):
            yield where, "values differ", math.inf
        return
    x, y = a.astype(float), b.astype(float)
    same = (x == y) | (np.isnan(x) & np.isnan(y))
    if same.all():
        return
    gap = np.abs(x - y)[~same]
    scale = np.maximum(np.abs(x), np.abs(y))[~same]
    rel = float(np.max(np.where(scale > 0, gap / np.where(scale > 0, scale, 1), np.inf)))
    yield where, f"differs by up to {float(np.max(gap)):.3g} ({rel:.3g} relative)", rel


def parameters(a: Any, b: Any) -> dict[str, Any]:
    """How the two models' state compares: identical, close (within the tolerance) or different."""
    found = list(walk(a, b))
    stamps = [f"{w}: {what}" for w, what, rel in found if rel < 0]
    numbers = [(w, what, rel) for w, what, rel in found if rel >= 0]
    beyond = [(w, what) for w, what, rel in numbers if rel > REL_TOLERANCE]
    close = max((rel for _, _, rel in numbers if rel <= REL_TOLERANCE), default=0.0)
    where = next((w for w, _, rel in numbers if rel == close), None) if close else None
    return {"status": "different" if beyond else "close" if close else "identical", "differences": beyond[:8],
            "max_relative": close, "where": where, "version_stamps": stamps}


# ---- predictions ----------------------------------------------------------------------------------


def sample(model: Any, tree: Path, deps: Sequence[str]) -> tuple[Any, str] | None:
    """Inputs to compare predictions on, and what they are; None when nothing fits."""
    names = [str(n) for n in getattr(model, "feature_names_in_", [])]
    if names:
        for dep in deps:
            found = _data_with(tree / dep, names)
            if found is not None:
                return found[names], f"the training input {dep} ({len(found):,} rows)"
        for folder in sorted((tree / "mlruns").rglob("MLmodel")) if (tree / "mlruns").is_dir() else []:
            example = _example(folder.parent)
            if example is not None and set(names) <= set(example.columns):
                return example[names], f"the input example logged with the re-run's MLflow model ({len(example)} rows)"
    width = int(getattr(model, "n_features_in_", 0) or 0)
    if width:
        import numpy as np
        import pandas as pd

        values = np.random.default_rng(0).lognormal(size=(SYNTHETIC_ROWS, width))
        data = pd.DataFrame(values, columns=names) if len(names) == width else values
        return data, f"a synthetic sample ({SYNTHETIC_ROWS} rows, seed 0, positive values): no training input found"
    return None


def _data_with(path: Path, names: Sequence[str]) -> Any:
    import pandas as pd

    if not path.is_file() or path.suffix.lower() not in DATA_SUFFIXES:
        return None
    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", nrows=SAMPLE_ROWS)
    except (OSError, ValueError, ImportError):
        return None
    return frame.head(SAMPLE_ROWS) if set(names) <= set(map(str, frame.columns)) else None


def _example(folder: Path) -> Any:
    try:
        from mlflow.models import Model

        example = Model.load(str(folder)).load_input_example(str(folder))
    except Exception:  # noqa: BLE001 - an MLflow folder without a usable example
        return None
    return example if hasattr(example, "columns") else None


def predict(model: Any, inputs: Any) -> Any:
    """Class probabilities when the model has them (more telling than labels), else its predictions."""
    import numpy as np

    try:
        raw = model.predict_proba(inputs) if hasattr(model, "predict_proba") else model.predict(inputs)
    except Exception as exc:  # noqa: BLE001 - the model's own error
        raise Unloadable(f"could not predict: {type(exc).__name__}: {exc}"[:300]) from None
    out = _array(raw)
    return np.asarray(raw if out is None else out, dtype=float)


def predictions(a: Any, b: Any, inputs: Any) -> dict[str, Any]:
    """How far apart the two models' predictions on ``inputs`` are."""
    import numpy as np

    pa, pb = predict(a, inputs), predict(b, inputs)
    if pa.shape != pb.shape:
        return {"status": "different", "max_abs": math.inf, "max_relative": math.inf, "rows": len(pa)}
    found = list(_arrays(pa, pb, "predictions"))
    rel = found[0][2] if found else 0.0
    gap = float(np.nanmax(np.abs(pa - pb))) if pa.size else 0.0
    status = "identical" if not found else "close" if rel <= REL_TOLERANCE or gap <= ABS_TOLERANCE else "different"
    return {"status": status, "max_abs": gap, "max_relative": rel, "rows": int(pa.shape[0]) if pa.ndim else 1}


# ---- one artifact, and the differing outputs of a verification ----------------------------------


def compare(locked: Path, rebuilt: Path, tree: Path, deps: Sequence[str] = ()) -> dict[str, Any]:
    """Load both models and say whether only their bytes differ: verdict, detail, and the numbers."""
    out: dict[str, Any] = {"verdict": UNKNOWN, "detail": "", "parameters": None, "predictions": None, "sample": None}
    try:
        with quiet():  # MLflow's progress bars and warnings stay out of the report
            raw_a, run_a = load(locked)
            raw_b, run_b = load(rebuilt)
            if raw_a is not None and raw_b is not None:
                out["parameters"] = parameters(raw_a, raw_b)
            picked = sample(raw_b if raw_b is not None else run_b, tree, deps)
            if picked is not None:
                out["sample"] = picked[1]
                out["predictions"] = predictions(run_a, run_b, picked[0])
    except Unloadable as exc:
        out["detail"] = str(exc)
        return out
    out["verdict"], out["detail"] = verdict(out["parameters"], out["predictions"], out["sample"])
    return out


def verdict(params: Mapping[str, Any] | None, preds: Mapping[str, Any] | None, sampled: str | None) -> tuple[str, str]:
    """The verdict and the numbers behind it, in words."""
    if params is None and preds is None:
        return UNKNOWN, "no parameters could be read and no input sample was found to compare predictions on"
    parts, different = [], False
    if params is not None and params["status"] == "different":
        different = True
        shown = [f"{where} {what}" for where, what in params["differences"][:3]]
        parts.append("parameters: " + "; ".join(shown) + (" and more" if len(params["differences"]) > 3 else ""))
    elif params is not None and params["status"] == "close":
        parts.append(f"learned parameters differ only in the last digits (largest relative difference "
                     f"{params['max_relative']:.2g}, in {params['where']}): floating-point noise of the re-fit")
    elif params is not None:
        parts.append("every parameter identical")
    if preds is not None:
        if preds["status"] == "different":
            different = True
            parts.append(f"predictions on {sampled} differ by up to {preds['max_abs']:.4g} "
                         f"({preds['max_relative']:.2g} relative)")
        elif preds["status"] == "close":
            parts.append(f"predictions on {sampled} equal within {REL_TOLERANCE:g} relative "
                         f"(largest difference {preds['max_relative']:.2g})")
        else:
            parts.append(f"identical predictions on {sampled}")
    else:
        parts.append("predictions not compared: no input sample found")
    if params is not None and params["version_stamps"]:
        parts.append("written by other library versions (" + "; ".join(params["version_stamps"][:3]) + ")")
    elif params is not None and params["status"] == "identical" and not different:
        parts.append("the serialization differs (pickle protocol, memo order or compression)")
    return (DIFFERENT if different else SAME), "; ".join(parts)


def locked_copy(cache: Path, md5: str, scratch: Path) -> Path | None:
    """The locked artifact from the DVC cache: the object of a file, or a folder (``.dir``)
    rebuilt in ``scratch`` from its manifest; None when the cache lacks it."""
    import json
    import shutil

    obj = cache / "files" / "md5" / md5[:2] / md5[2:]
    if not obj.is_file():
        return None
    if not md5.endswith(".dir"):
        return obj
    folder = scratch / md5
    for entry in json.loads(obj.read_text()):
        member = cache / "files" / "md5" / entry["md5"][:2] / entry["md5"][2:]
        if not member.is_file():
            return None
        (folder / entry["relpath"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(member, folder / entry["relpath"])
    return folder


def explain_outputs(outputs: Sequence[Mapping[str, Any]], locked_lock: Mapping[str, Any], tree: Path, cache: Path,
                    scratch: Path) -> list[dict[str, Any]]:
    """For every output whose hash differs and that is a model: why (see :func:`compare`)."""
    found = []
    for o in outputs:
        rebuilt = tree / str(o["path"])
        if o["same"] or o["kind"] != "output" or not o.get("expected") or not is_model(rebuilt):
            continue
        entry = {"path": o["path"], "stage": o["stage"]}
        locked = locked_copy(cache, str(o["expected"]), scratch)
        if locked is None:
            found.append({**entry, "verdict": UNKNOWN, "detail": f"the locked {o['path']} is not in the DVC cache"})
            continue
        stage = (locked_lock.get("stages") or {}).get(o["stage"]) or {}
        deps = [str(d["path"]) for d in stage.get("deps") or [] if d.get("path")]
        found.append({**entry, **compare(locked, rebuilt, tree, deps)})
    return found
