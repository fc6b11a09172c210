"""Payload shapes of serving stacks: input rows of a request, outputs of a response.

MLflow scoring server (``dataframe_split``, ``dataframe_records``,
``instances``, ``inputs``, ``predictions``), the Open Inference Protocol v2
(tensors ``{name, shape, datatype, data}``, nested or flat row-major) and the
Seldon protocol (``data: {names, ndarray | tensor}``, ``jsonData``,
``strData``). Each function returns the rows (or per-row outputs) and the
shape's name, or ``(None, "")`` when the value is not that shape. Used by
:mod:`provex.ingest.predictions.infer`.
"""

from __future__ import annotations

import math
from typing import Any

from provex.ingest.predictions.mapping import RecordError

COLUMNS = "MLflow inputs (columns)"


def request_rows(key: str, value: Any) -> tuple[list[dict[str, Any]] | None, str]:
    """Input rows of one request payload field, and the shape's name; ``None`` if it is not one."""
    if key == "dataframe_split" and isinstance(value, dict) and isinstance(value.get("data"), list):
        columns = value.get("columns") or [str(i) for i in range(len(value["data"][0]) if value["data"] else 0)]
        return [dict(zip(map(str, columns), row)) if isinstance(row, list) else {"value": row} for row in value["data"]], \
            "MLflow dataframe_split"
    if key == "dataframe_records" and isinstance(value, list) and all(isinstance(r, dict) for r in value):
        return [dict(r) for r in value], "MLflow dataframe_records"
    if key == "instances" and isinstance(value, list):
        return [_row_dict(key, r) for r in value], "MLflow / KServe v1 instances"
    if key == "inputs":
        return _inputs_rows(value)
    if key == "data" and isinstance(value, dict) and ("ndarray" in value or "tensor" in value):
        return _seldon_rows(value), "Seldon protocol data"
    if key == "jsonData":
        return [_row_dict(key, value)], "Seldon protocol jsonData"
    if key == "strData" and isinstance(value, str):
        return [{"strData": value}], "Seldon protocol strData"
    return None, ""


def _inputs_rows(value: Any) -> tuple[list[dict[str, Any]] | None, str]:
    if isinstance(value, list) and value and all(_is_tensor(t) for t in value):
        return _tensor_rows(value), "Open Inference Protocol v2 inputs"
    if isinstance(value, list):
        return [_row_dict("inputs", r) for r in value], "MLflow inputs (rows)"
    if isinstance(value, dict) and value and all(isinstance(v, list) for v in value.values()):
        sizes = {len(v) for v in value.values()}
        if len(sizes) == 1:
            n = sizes.pop()
            return [{k: v[i] for k, v in value.items()} for i in range(n)], COLUMNS
    return None, ""


def response_outputs(key: str, value: Any) -> tuple[list[Any] | None, str]:
    """Per-row outputs of one response payload field, and the shape's name."""
    if key == "predictions" and isinstance(value, list):
        return [_single(v) for v in value], "MLflow / KServe v1 predictions"
    if key == "outputs" and isinstance(value, list) and value and all(_is_tensor(t) for t in value):
        if not all("data" in t for t in value):
            return None, ""
        rows = _tensor_rows(value)
        first = str(value[0].get("name", "output"))
        return [r[first] if len(r) == 1 else {"output": r[first], **{k: v for k, v in r.items() if k != first}}
                for r in rows], "Open Inference Protocol v2 outputs"
    if key == "data" and isinstance(value, dict) and ("ndarray" in value or "tensor" in value):
        return [_single(list(r.values())) if len(r) > 1 else next(iter(r.values())) for r in _seldon_rows(value)], \
            "Seldon protocol data"
    if key == "jsonData":
        return [value], "Seldon protocol jsonData"
    if key == "strData" and isinstance(value, str):
        return [value], "Seldon protocol strData"
    return None, ""


def _is_tensor(value: Any) -> bool:
    return isinstance(value, dict) and "name" in value and ("datatype" in value or "shape" in value)


def _tensor_rows(tensors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OIP v2 tensors (flat row-major or nested ``data``) split along the first dimension."""
    columns = {str(t["name"]): _split(t.get("data"), t.get("shape")) for t in tensors}
    sizes = {len(v) for v in columns.values()}
    if len(sizes) != 1:
        raise RecordError(f"tensors {', '.join(columns)} have different batch sizes {sorted(sizes)}: cannot pair their rows")
    n = sizes.pop()
    return [{name: values[i] for name, values in columns.items()} for i in range(n)]


def _split(data: Any, shape: Any) -> list[Any]:
    """Rows along the first dimension: nested data row by row, flat row-major data in chunks."""
    if not isinstance(data, list):
        return [data]
    dims = [d for d in shape if isinstance(d, int)] if isinstance(shape, list) else []
    if len(dims) < 2 or any(isinstance(d, list) for d in data):
        return [_single(d) for d in data]
    size = math.prod(dims[1:])
    return [_single(data[i * size:(i + 1) * size]) for i in range(len(data) // size)] if size else []


def _seldon_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    names = [str(n) for n in data.get("names") or []]
    if "ndarray" in data:
        array = data["ndarray"]
        rows = array if isinstance(array, list) and array and all(isinstance(r, list) for r in array) else [array]
    else:
        tensor = data["tensor"] if isinstance(data["tensor"], dict) else {}
        rows = _split(tensor.get("values"), tensor.get("shape"))
    return [_named_row(names, r) for r in rows]


def _named_row(names: list[str], row: Any) -> dict[str, Any]:
    if names and isinstance(row, list) and len(row) == len(names):
        return dict(zip(names, row))
    if len(names) == 1 and not isinstance(row, list):
        return {names[0]: row}
    return _row_dict("ndarray", row)


def _row_dict(name: str, row: Any) -> dict[str, Any]:
    return dict(row) if isinstance(row, dict) else {name: row}


def _single(value: Any) -> Any:
    """A one-element list as its element (``[0.19]`` -> ``0.19``)."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value
