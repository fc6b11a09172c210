"""Zero-config prediction logs: the field names and payload shapes serving stacks write.

One :class:`Inference` per file turns a raw record into the flat records
:func:`provex.ingest.predictions.mapping.canonical` reads:

- **Field names**: ``request_id`` -> ``prediction_id``, ``ts`` -> ``timestamp``,
  ``prediction`` -> ``output``, ``confidence`` -> ``score``, ``model`` ->
  ``model_name`` / ``model_version`` / ``model_uri``, ``features`` -> ``inputs``
  (see :data:`ALIASES`). A provex name present in the record wins; two
  candidates for one field reject the record, naming both.
- **Payloads**: MLflow scoring-server requests and responses
  (``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``,
  ``predictions``), KServe / Open Inference Protocol v2 tensors
  (``inputs``/``outputs: [{name, shape, datatype, data}]``), Seldon protocol
  messages (``data: {names, ndarray|tensor}``), a record holding a ``request``
  and a ``response``, the Seldon request logger's documents (``_id``,
  ``_source``), and CloudEvents as KServe's and Seldon's loggers send them
  (``ce-id``/``id``, ``ce-type``/``type``, ``data``): a request event and its
  response event are joined by id. A batch of N rows becomes N predictions
  ``<id>#0`` ... ``<id>#N-1``.

A mapping file overrides all of it: its fields are never inferred. What was
inferred is counted and reported once per file (a ``Flag`` of kind
``inferred-mapping``, kept on the IngestRun).
"""

from __future__ import annotations

import base64
import json
from collections import Counter, OrderedDict
from collections.abc import Iterator
from typing import Any

from provex.ingest.predictions.mapping import Mapping, RecordError, looks_numeric
from provex.ingest.predictions.payloads import COLUMNS, request_rows, response_outputs
from provex.vocab.records import Flag, Reject

#: Bump when inference changes what a line yields: logs are then read again from the top.
VERSION = "1"
ALIASES: dict[str, tuple[str, ...]] = {
    "prediction_id": ("request_id", "id", "uuid", "event_id"),
    "timestamp": ("ts", "time", "created_at", "@timestamp"),
    "output": ("prediction", "predictions", "y_pred", "label", "outputs"),
    "score": ("confidence", "probability", "proba"),
    "inputs": ("features",),
}
ESSENTIAL = ("prediction_id", "timestamp", "output")
MODEL_FIELDS = ("model_name", "model_version", "model_uri")
FLAT_REQUEST = ("dataframe_split", "dataframe_records", "instances", "inputs")
FLAT_RESPONSE = ("predictions", "outputs")
SELDON = ("data", "jsonData", "strData")
CE_ATTRS = ("id", "type", "source", "time", "specversion", "datacontenttype", "requestid")
FLAG = "inferred-mapping"  # the one report per file of what was recognised
MAX_PENDING = 10_000  # CloudEvents waiting for their other half (oldest dropped, flagged)
RAW_KEEP = 2000


class Inference:
    """Per-file state: the mapping's claims, counted notes, CloudEvents waiting for their pair."""

    def __init__(self, mapping: Mapping) -> None:
        self.mapped = set(mapping.fields)
        self.taken = set(mapping.fields.values()) | set(mapping.defaults)
        self.notes: Counter[str] = Counter()
        self.pending: OrderedDict[str, tuple[str, int, dict[str, Any]]] = OrderedDict()
        self.dropped = 0

    # --- one record --------------------------------------------------------------------------

    def expand(self, raw: dict[str, Any], line: int, *, from_csv: bool = False) -> list[dict[str, Any]]:
        """The flat records in one raw record (none while a CloudEvent waits for its pair)."""
        if from_csv:
            return [self._checked(self._names(dict(raw), from_csv=True))]
        event = _cloud_event(raw) if not (self.mapped & set(raw)) else None
        if event is not None:
            joined = self._join(event, line)
            if joined is None:
                return []
            return [self._checked(doc) for doc in self._payload(joined, joined=True)]
        return [self._checked(doc) for doc in self._payload(_unwrap_search_hit(raw))]

    def _payload(self, raw: dict[str, Any], *, joined: bool = False) -> list[dict[str, Any]]:
        request, response = raw.get("request"), raw.get("response")
        if isinstance(request, dict) or isinstance(response, dict):
            if not joined:
                self.notes["envelope: request and response in one record"] += 1
            doc = self._envelope(raw)
            keys_in, keys_out = (*FLAT_REQUEST, *SELDON), (*FLAT_RESPONSE, *SELDON)
            request, response = _body(request), _body(response)
        else:
            doc, request, response = dict(raw), raw, raw
            keys_in, keys_out = FLAT_REQUEST, FLAT_RESPONSE
        rows, shape_in, key_in = self._pick(request, keys_in, request_rows)
        outs, shape_out, key_out = (None, "", "") if "output" in doc or "output" in self.taken else \
            self._pick(response, keys_out, response_outputs)
        if shape_in == COLUMNS and (outs is None or len(outs) != len(rows or ())):
            rows, shape_in, key_in = None, "", ""  # a dict of lists that is not a batch: feature -> list values
        for key, shape in ((key_in, shape_in), (key_out, shape_out)):
            if shape:
                self.notes[f"payload: {shape}"] += 1
                if request is raw:
                    doc.pop(key, None)
        return self._rows(self._names(doc), rows, shape_in, outs, shape_out)

    def _rows(self, doc: dict[str, Any], rows: list[dict[str, Any]] | None, shape_in: str, outs: list[Any] | None,
              shape_out: str) -> list[dict[str, Any]]:
        if rows == [] or outs == []:
            raise RecordError(f"the {'request' if rows == [] else 'response'} holds no rows: nothing to store")
        if outs is None:
            if rows is not None and len(rows) > 1:
                lead = "field 'inputs' must be an object of feature name -> value, or a batch with one prediction " \
                    "per row: " if shape_in.startswith("MLflow inputs") else ""
                raise RecordError(f"{lead}the request has {len(rows)} rows ({shape_in}) but the record has no list of "
                                  "predictions to pair them with; log the response's predictions with it")
            return [{**doc, "inputs": rows[0]} if rows else doc]
        if rows is not None and len(rows) != len(outs):
            raise RecordError(f"the request has {len(rows)} rows ({shape_in}) but the response {len(outs)} "
                              f"predictions ({shape_out}); each row needs one prediction")
        if len(outs) > 1:
            self.notes["batches: one prediction per row, ids <id>#<row>"] += 1
        return [_row(doc, i, len(outs), rows[i] if rows else None, out) for i, out in enumerate(outs)]

    def _pick(self, payload: dict[str, Any], keys: tuple[str, ...], shape_of: Any) -> tuple[Any, str, str]:
        """The first payload field that has a known shape: (rows or outputs, shape name, field)."""
        for key in keys:
            if key in payload and key not in self.mapped:
                found, shape = shape_of(key, payload[key])
                if found is not None:
                    return found, shape, key
        return None, "", ""

    def _envelope(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The record's own fields, completed from its request / response parts."""
        doc = {k: v for k, v in raw.items() if k not in ("request", "response")}
        if "Model-Id" in doc and "model" not in doc:  # Seldon request logger
            doc["model"] = doc.pop("Model-Id")
        parts = [p for p in (raw.get("request"), raw.get("response")) if isinstance(p, dict)]
        for part in parts:
            body = _body(part)
            found = {"id": body.get("id"), "time": part.get("ce-time"),
                     "model_name": body.get("model_name"), "model_version": body.get("model_version")}
            for key, value in found.items():
                if value is not None and not isinstance(value, (dict, list)) and not self._has(doc, key):
                    doc[key] = value
        return doc

    def _has(self, doc: dict[str, Any], key: str) -> bool:
        target = {"id": "prediction_id", "time": "timestamp"}.get(key, key)
        return any(n in doc for n in (target, *ALIASES.get(target, ()))) or target in self.taken or \
            (target.startswith("model") and "model" in doc)

    def _names(self, doc: dict[str, Any], *, from_csv: bool = False) -> dict[str, Any]:
        """Rename first-level fields to provex names where exactly one candidate fits."""
        for target, names in ALIASES.items():
            if target in self.taken or target in doc:
                continue
            found = [n for n in names if n in doc and n not in self.mapped and _fits(target, doc[n], from_csv)]
            if len(found) > 1:
                raise RecordError(f"ambiguous field {target!r}: the record has {', '.join(map(repr, found))}; "
                                  f"say which one with [fields] in a mapping file, e.g. {found[0]} = \"{target}\"")
            if found:
                doc[target] = doc.pop(found[0])
                self.notes[f"{target} <- {found[0]}"] += 1
        self._model(doc)
        return doc

    def _model(self, doc: dict[str, Any]) -> None:
        value = doc.get("model")
        if "model" in self.mapped or value is None:
            return
        present = [f for f in MODEL_FIELDS if f in doc or f in self.taken]
        if present == ["model_version"] and isinstance(value, str) and model_fields(value) == {"model_name": value}:
            doc["model_name"] = doc.pop("model")  # {"model": "fraud", "model_version": "3f2a9c1"}
            self.notes["model_name <- model"] += 1
            return
        if present:
            return
        named = model_fields(value)
        if named:
            doc.pop("model")
            doc.update(named)
            self.notes[f"{' + '.join(named)} <- model"] += 1

    def _checked(self, doc: dict[str, Any]) -> dict[str, Any]:
        for target in ESSENTIAL:
            if doc.get(target) is not None or target in self.taken or (target == "output" and _override_final(doc)):
                continue
            have = ", ".join(sorted(doc)) or "(none)"
            raise RecordError(f"missing required field {target!r}: none of {', '.join((target, *ALIASES[target]))} "
                              f"is in the record (it has {have}); map one of its fields to it with [fields] in a mapping file")
        return doc

    # --- CloudEvents: request + response joined by id -----------------------------------------

    def _join(self, event: dict[str, Any], line: int) -> dict[str, Any] | None:
        kind = _event_kind(event)
        if kind is None:
            self.notes["envelope: CloudEvent, its data is the record"] += 1
            data = event["data"] if isinstance(event["data"], dict) else {"output": event["data"]}
            return {**_event_fields(event), "id": event.get("id"), "time": event.get("time"), **data}
        key = str(event.get("requestid") or event.get("id") or "")
        other = self.pending.pop(key, None)
        if other is None or other[0] == kind:
            self.pending[key] = (kind, line, event)
            if len(self.pending) > MAX_PENDING:
                self.pending.popitem(last=False)
                self.dropped += 1
            return None
        self.notes["envelope: CloudEvents, request and response joined by id"] += 1
        request, response = (other[2], event) if kind == "response" else (event, other[2])
        return _joined(key, request, response)

    def leftovers(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Response events whose request never came: predictions without inputs."""
        for key, (kind, line, event) in list(self.pending.items()):
            if kind == "response":
                del self.pending[key]
                self.notes["envelope: CloudEvent response without its request (no inputs)"] += 1
                yield line, _joined(key, None, event)

    def finish(self, source: str) -> Iterator[Reject | Flag]:
        """Requests still waiting for a response, and the one report of what was inferred."""
        for key, (_kind, line, event) in self.pending.items():
            yield Reject(source, line, f"CloudEvent request {key!r} has no response event in this file; "
                         "its prediction cannot be stored without the model's output",
                         json.dumps(event, default=str)[:RAW_KEEP])
        self.pending.clear()
        if self.dropped:
            yield Flag("unpaired-events", f"{self.dropped} CloudEvents dropped: more than {MAX_PENDING} waited "
                       "for their other half", source)
        if self.notes:
            yield Flag(FLAG, self.describe(), source)

    def describe(self) -> str:
        """What was inferred, e.g. ``prediction_id <- request_id (12 records); ...``."""
        return "; ".join(f"{note} ({count} record{'s' if count != 1 else ''})" for note, count in self.notes.items())


def _row(doc: dict[str, Any], i: int, n: int, inputs: dict[str, Any] | None, out: Any) -> dict[str, Any]:
    """One prediction of a batch: ``<id>#<i>``, its input row, its output (and score)."""
    row = dict(doc)
    if n > 1 and row.get("prediction_id") is not None:
        row["prediction_id"] = f"{row['prediction_id']}#{i}"
    if inputs is not None:
        row["inputs"] = inputs
    if not isinstance(out, dict):
        row["output"] = out
        return row
    if "output" in out:
        row.update(out)
        return row
    named = {t: [n for n in (t, *ALIASES[t]) if n in out] for t in ("output", "score")}
    row["output"] = out[named["output"][0]] if named["output"] else json.dumps(out, sort_keys=True, default=str)
    if named["score"] and isinstance(out[named["score"][0]], (int, float)):
        row["score"] = out[named["score"][0]]
    return row


def _override_final(doc: dict[str, Any]) -> bool:
    override = doc.get("override")
    return doc.get("override.final") is not None or (isinstance(override, dict) and override.get("final") is not None)


# --- field names ---------------------------------------------------------------------------------


def _fits(target: str, value: Any, from_csv: bool) -> bool:
    if value is None or (from_csv and value == ""):
        return False
    if target == "prediction_id":
        return isinstance(value, (str, int)) and not isinstance(value, bool)
    if target == "timestamp":
        return isinstance(value, (str, int, float)) and not isinstance(value, bool)
    if target == "score":
        return looks_numeric(value.strip()) if isinstance(value, str) and from_csv else \
            isinstance(value, (int, float)) and not isinstance(value, bool)
    if target == "inputs":
        return isinstance(value, dict) and all(not isinstance(v, dict) for v in value.values())
    return not isinstance(value, dict)  # output


def model_fields(value: Any) -> dict[str, str]:
    """``model`` as the logs write it: a URI, ``name@version``, a name, or ``{name, version}``."""
    if isinstance(value, dict):
        name, version = value.get("name") or value.get("model_name"), value.get("version") or value.get("model_version")
        return {k: str(v) for k, v in (("model_name", name), ("model_version", version)) if v is not None}
    if not isinstance(value, str) or not value:
        return {}
    if value.startswith(("models:/", "runs:/")):
        return {"model_uri": value}
    name, sep, version = value.rpartition("@")
    if sep and name and version.isdigit():
        return {"model_name": name, "model_version": version}
    if sep and name and version:
        return {"model_uri": f"models:/{value}"}
    return {"model_name": value}


# --- envelopes -----------------------------------------------------------------------------------


def _unwrap_search_hit(raw: dict[str, Any]) -> dict[str, Any]:
    """A search-engine document (``_id`` + ``_source``, as the Seldon request logger stores them)."""
    if isinstance(raw.get("_source"), dict):
        return {**({"id": raw["_id"]} if raw.get("_id") is not None else {}), **raw["_source"]}
    return raw


def _body(part: Any) -> dict[str, Any]:
    if not isinstance(part, dict):
        return {}
    return part["payload"] if isinstance(part.get("payload"), dict) else part


def _envelope_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """What a request / response payload says about the record (OIP v2 ``id``, model name and version)."""
    fields = {k: payload[k] for k in ("model_name", "model_version") if payload.get(k) is not None}
    if isinstance(payload.get("id"), (str, int)):
        fields["id"] = payload["id"]
    return fields


def _cloud_event(raw: dict[str, Any]) -> dict[str, Any] | None:
    """CloudEvent attributes (``ce-`` prefixes removed, lower case) with ``data`` decoded, or None."""
    attrs = {k.lower().removeprefix("ce-").removeprefix("ce_"): v for k, v in raw.items() if k not in ("data", "data_base64")}
    prefixed = any(k.lower().startswith(("ce-", "ce_")) for k in raw)
    if "type" not in attrs or "id" not in attrs or not (prefixed or "specversion" in attrs):
        return None
    data = raw.get("data")
    if data is None and isinstance(raw.get("data_base64"), str):
        data = base64.b64decode(raw["data_base64"]).decode("utf-8", errors="replace")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError:
            pass
    return {**attrs, "data": data}


def _event_kind(event: dict[str, Any]) -> str | None:
    kind = str(event.get("type", "")).lower()
    return "request" if kind.endswith("request") else "response" if kind.endswith("response") else None


def _event_fields(event: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in event.items() if k not in (*CE_ATTRS, "data", "requestid") and v is not None}
    model = fields.pop("inferenceservicename", None) or fields.pop("modelid", None)
    if model is not None:
        fields["model"] = model
    return {f"ce.{k}" if k != "model" else k: v for k, v in fields.items()}


def _joined(key: str, request: dict[str, Any] | None, response: dict[str, Any]) -> dict[str, Any]:
    first = request or response
    doc = {**_event_fields(response), **_event_fields(first), "id": key, "time": first.get("time")}
    doc["request"] = request["data"] if request and isinstance(request.get("data"), dict) else {}
    doc["response"] = response["data"] if isinstance(response.get("data"), dict) else {"predictions": [response.get("data")]}
    return doc
