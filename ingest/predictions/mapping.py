"""The prediction-log record schema: field mapping, validation, model identity.

A raw record (a JSON object, or a CSV row as a dict of strings) is renamed by
the mapping, nested (``input.<name>`` -> ``inputs``, ``override.<x>`` ->
``override``), checked and turned into a :class:`PredictionRecord`. Anything
wrong raises :class:`RecordError` whose message names the field and says how
to fix it. The schema is documented in docs/prediction-log-schema.md.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provex.ingest import isotime
from provex.vocab.errors import UsageError

KNOWN = (
    "prediction_id", "timestamp", "model_name", "model_version", "model_uri", "run_id", "model_id",
    "inputs", "input_hash", "output", "score", "upstream", "feature_pipeline", "override",
    "subject_id", "household_id",
)
#: Fields kept as text even in CSV (ids must not lose leading zeros).
TEXT_FIELDS = ("prediction_id", "model_name", "model_version", "model_uri", "run_id", "model_id",
               "input_hash", "feature_pipeline", "subject_id", "household_id", "timestamp")
ID_FIELDS = ("input_hash", "feature_pipeline", "subject_id", "household_id")
OVERRIDE_KEYS = ("rule", "original", "final")
TEMPLATE_TOKENS = ("{line}", "{stem}", "{file}", "{parent}")
_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
_LOGGED_MODEL_ID = re.compile(r"^m-[0-9a-f]{8,}$")


class RecordError(ValueError):
    """A record that cannot be ingested; the message is the reject reason."""


@dataclass(frozen=True)
class Mapping:
    """How to read one log: renames, defaults, and the ``--model`` identity."""

    fields: dict[str, str] = field(default_factory=dict)  # log name -> provex name
    defaults: dict[str, Any] = field(default_factory=dict)  # provex name -> value for records lacking it
    model: tuple[str, str] | None = None  # (name, version) from --model


@dataclass(frozen=True)
class ModelIdentity:
    """What the record says about its model, and whether that names a registry version."""

    ref: str = ""  # what the record said, as text
    name: str | None = None
    version: str | None = None
    run_id: str | None = None
    model_id: str | None = None
    alias: str | None = None

    @property
    def resolved(self) -> bool:
        return bool(self.name and self.version)


@dataclass(frozen=True)
class PredictionRecord:
    prediction_id: str
    timestamp: str
    hour: str
    output: Any
    model: ModelIdentity
    score: float | int | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    upstream: tuple[str, ...] = ()
    override: dict[str, Any] | None = None
    props: dict[str, Any] = field(default_factory=dict)  # ids, hashes, extras
    zoned: bool = True


def parse_model_option(model: str | None) -> tuple[str, str] | None:
    """``--model NAME@VERSION``; raises UsageError when malformed."""
    if not model:
        return None
    name, sep, version = model.rpartition("@")
    if not sep or not name or not version:
        raise UsageError(f"--model {model!r}: give NAME@VERSION, e.g. --model credit-limit@3.")
    return name, version


def load_mapping(path: str | Path | None, model: str | None = None) -> Mapping:
    """Read a mapping TOML (``[fields]``, ``[defaults]``); raises UsageError."""
    option = parse_model_option(model)
    if path is None:
        return Mapping(model=option)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"Cannot read mapping file {path}: {exc.strerror}.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: invalid TOML ({exc}). Fix the mapping file and retry.") from None
    fields, defaults = data.get("fields", {}), data.get("defaults", {})
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise UsageError(f"{path}: [fields] must map your field names to provex names, e.g. request_id = \"prediction_id\".")
    if not isinstance(defaults, dict):
        raise UsageError(f"{path}: [defaults] must be a table of provex field = value.")
    for target in (*fields.values(), *defaults):
        if target not in KNOWN and not target.startswith(("input.", "override.", "extra.")):
            raise UsageError(f"{path}: {target!r} is not a provex field; use one of {', '.join(KNOWN)}, "
                             "input.<name>, override.rule|original|final or extra.<name>.")
    return Mapping(fields=dict(fields), defaults=dict(defaults), model=option)


def looks_numeric(text: str) -> bool:
    return bool(_NUMBER.match(text))


def csv_value(name: str, text: str) -> Any:
    """A CSV cell: empty -> None, numbers as numbers except for id/text fields."""
    text = text.strip()
    if text == "":
        return None
    if name in TEXT_FIELDS or name == "upstream" or name == "override.rule":
        return text
    if looks_numeric(text):
        number = float(text)
        return int(text) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    lowered = text.lower()
    return {"true": True, "false": False}.get(lowered, text)


def canonical(raw: dict[str, Any], mapping: Mapping, *, line: int, path: Path, from_csv: bool) -> dict[str, Any]:
    """Renamed, defaulted and nested: ``inputs`` and ``override`` as dicts."""
    doc: dict[str, Any] = {}
    inputs: dict[str, Any] = {}
    override: dict[str, Any] = {}
    for key, value in raw.items():
        name = mapping.fields.get(key, key)
        if from_csv and isinstance(value, str):
            value = csv_value(name, value)
        if value is None:
            continue
        if name.startswith("input."):
            inputs[name[len("input."):]] = value
        elif name.startswith("override."):
            override[name[len("override."):]] = value
        else:
            doc[name] = value
    for name, value in mapping.defaults.items():
        if doc.get(name) is None and not (name.startswith(("input.", "override."))):
            doc[name] = _template(value, line, path)
    if inputs:
        doc["inputs"] = {**doc.get("inputs", {}), **inputs} if isinstance(doc.get("inputs"), dict) else inputs
    if override:
        doc["override"] = override
    return doc


def _template(value: Any, line: int, path: Path) -> Any:
    if not isinstance(value, str) or not any(t in value for t in TEMPLATE_TOKENS):
        return value
    values = {"{line}": str(line), "{stem}": path.name.split(".")[0], "{file}": path.name,
              "{parent}": path.parent.name}
    for token, text in values.items():
        value = value.replace(token, text)
    return value


def parse_record(doc: dict[str, Any], mapping: Mapping) -> PredictionRecord:
    """Validate one canonical record; raises RecordError naming the field."""
    pid = _text(doc, "prediction_id", required=True)
    if "timestamp" not in doc:
        raise RecordError("missing required field 'timestamp': add an ISO 8601 time, e.g. \"2026-04-02T10:15:00Z\" "
                          "(or map your time field to it, or set [defaults] timestamp in the mapping)")
    try:
        moment, zoned = isotime.parse(doc["timestamp"])
    except isotime.TimeParseError as exc:
        raise RecordError(f"field 'timestamp': {exc}") from None
    output = _output(doc)
    override = _override(doc.get("override"))
    props = {name: _text(doc, name) for name in ID_FIELDS if doc.get(name) is not None}
    props.update({f"extra.{k}": v for k, v in doc.items() if k not in KNOWN and v is not None})
    return PredictionRecord(
        prediction_id=pid,
        timestamp=isotime.to_text(moment),
        hour=moment.strftime("%Y-%m-%dT%H"),
        output=override["final"] if override and override.get("final") is not None else output,
        model=model_identity(doc, mapping),
        score=_number(doc, "score"),
        inputs=_inputs(doc.get("inputs")),
        upstream=_upstream(doc.get("upstream")),
        override=override and {**override, "original": output if override["original"] is None else override["original"]},
        props=props,
        zoned=zoned,
    )


def _text(doc: dict[str, Any], name: str, required: bool = False) -> str:
    value = doc.get(name)
    if value is None or value == "":
        if required:
            raise RecordError(f"missing required field {name!r}: every record needs one "
                              "(map your field to it with [fields] in a mapping file)")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RecordError(f"field {name!r} must be a string, got {type(value).__name__}: write it as text")
    return str(value)


def _output(doc: dict[str, Any]) -> Any:
    value = doc.get("output")
    if value is None and not (isinstance(doc.get("override"), dict) and doc["override"].get("final") is not None):
        raise RecordError("missing required field 'output': add the model's output (number, text or list)")
    if isinstance(value, dict):
        raise RecordError("field 'output' must be a number, string, boolean or list, got an object: "
                          "put extra outputs under other field names")
    return value


def _number(doc: dict[str, Any], name: str) -> float | int | None:
    value = doc.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(f"field {name!r} must be a number, got {value!r}: write it as e.g. 0.83")
    return value


def _inputs(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError(f"field 'inputs' must be an object of feature name -> value, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _upstream(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(";") if v.strip())
    if isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        return tuple(str(v) for v in value)
    raise RecordError("field 'upstream' must be a list of prediction ids (or ';'-separated text in CSV)")


def _override(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RecordError("field 'override' must be an object {rule, original, final}")
    if not isinstance(value.get("rule"), str) or not value["rule"]:
        raise RecordError("field 'override.rule' is missing: name the rule that changed the output")
    for key in ("original", "final"):
        if isinstance(value.get(key), (dict, list)):
            raise RecordError(f"field 'override.{key}' must be a single value (number or text)")
    return {k: value.get(k) for k in OVERRIDE_KEYS}


def model_identity(doc: dict[str, Any], mapping: Mapping) -> ModelIdentity:
    """The model named by the record (or by --model when the record names none)."""
    name, version = _text(doc, "model_name"), _text(doc, "model_version")
    uri, run_id, model_id = _text(doc, "model_uri"), _text(doc, "run_id"), _text(doc, "model_id")
    if name and version:
        return ModelIdentity(f"{name}@{version}", name=name, version=version, run_id=run_id or None,
                             model_id=model_id or None)
    if uri:
        return parse_model_uri(uri)
    if run_id or model_id:
        return ModelIdentity(f"run:{run_id}" if run_id else f"model_id:{model_id}",
                             run_id=run_id or None, model_id=model_id or None, name=name or None)
    if mapping.model and (not name or name == mapping.model[0]):
        return ModelIdentity(f"{mapping.model[0]}@{mapping.model[1]}", *mapping.model)
    if version:  # a version without a name (a timestamp, a git sha, a run name): resolved by evidence
        return ModelIdentity(version, version=version)
    return ModelIdentity(name or "", name=name or None)


def parse_model_uri(uri: str) -> ModelIdentity:
    """``models:/name/3``, ``models:/name@alias``, ``models:/m-<id>``, ``runs:/<run_id>/path``."""
    if uri.startswith("runs:/"):
        run_id = uri[len("runs:/"):].strip("/").split("/")[0]
        return ModelIdentity(uri, run_id=run_id or None)
    if not uri.startswith("models:/"):
        return ModelIdentity(uri)
    rest = uri[len("models:/"):].strip("/")
    if "@" in rest and "/" not in rest.split("@", 1)[1]:
        name, alias = rest.rsplit("@", 1)
        return ModelIdentity(uri, name=name, alias=alias)
    name, _, version = rest.rpartition("/")
    if name and version.isdigit():
        return ModelIdentity(uri, name=name, version=version)
    if _LOGGED_MODEL_ID.match(rest):
        return ModelIdentity(uri, model_id=rest)
    return ModelIdentity(uri, name=name or rest)
