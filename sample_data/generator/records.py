"""Turns served requests into prediction log records (JSONL, CSV) and counts impact."""
import csv
import json
from pathlib import Path

from . import story
from .mlflow_store import iso, ms
from .serving import input_hash

MAPPING_TOML = """\
# Field mapping for limit_review.csv, whose column names differ from provex's
# canonical prediction schema (docs/prediction-log-schema.md): [fields] maps the
# file's name (left) to provex's name (right). CSV columns input.<feature> and
# override.rule / .original / .final, and ';'-separated upstream ids, are canonical.
[fields]
request_id = "prediction_id"
scored_at = "timestamp"
model = "model_name"
model_ver = "model_version"
limit = "output"
upstream_ids = "upstream"
input_sha256 = "input_hash"
feature_commit = "feature_pipeline"
customer = "subject_id"
household = "household_id"
"""


def build(requests: list, server, refs: dict) -> tuple:
    """Assign ids in time order; return (scoring records, limit records) as dicts."""
    requests.sort(key=lambda r: (r["t"], r["customer_id"]))
    scoring, limits = [], []
    for k, r in enumerate(requests, start=1):
        sc_id, cl_id = f"sc-{2 * k - 1:06d}", f"cl-{2 * k:06d}"
        r.update(sc_id=sc_id, cl_id=cl_id)
        sc = {"prediction_id": sc_id, "timestamp": iso(r["t"]),
              "model_name": "credit-scoring", "model_version": r["sc_version"],
              "inputs": r["sc_inputs"], "input_hash": input_hash(r["sc_inputs"]),
              "output": r["score"], "score": r["score"],
              "feature_pipeline": server.code_sha[r["sc_code"]],
              "subject_id": r["customer_id"], "household_id": server.household[r["customer_id"]]}
        final = min(r["raw_limit"], story.MAX_LIMIT)
        cl = {"prediction_id": cl_id, "timestamp": iso(r["t"] + 2000),
              "model_name": "credit-limit", "model_version": r["cl_version"],
              "inputs": r["cl_inputs"], "input_hash": input_hash(r["cl_inputs"]),
              "output": final, "upstream": [sc_id],
              "feature_pipeline": server.code_sha[r["cl_code"]],
              "subject_id": r["customer_id"], "household_id": server.household[r["customer_id"]]}
        if r["raw_limit"] > story.MAX_LIMIT:
            cl["override"] = {"rule": "max-limit-cap", "original": r["raw_limit"], "final": final}
        if misfires(r):
            cl["output"] = story.MISFIRE_CAP
            cl["override"] = {"rule": story.MISFIRE_RULE, "original": r["raw_limit"], "final": story.MISFIRE_CAP}
        r.update(sc=sc, cl=cl)
        scoring.append(sc)
        limits.append(cl)
    # exercise other ways of naming the model (never on the complaint records)
    online = [r for r in requests if r.get("channel") == "online"]
    for i, r in enumerate(online):
        if i % 97 == 5:
            info = refs[("credit-scoring", r["sc_version"])]
            _replace_ref(r["sc"], {"model_id": info["model_id"]})
        if i % 53 == 7:
            _replace_ref(r["cl"], {"model_uri": f"models:/credit-limit/{r['cl_version']}"})
        elif i % 53 == 33:
            _replace_ref(r["cl"], {"run_id": refs[("credit-limit", r["cl_version"])]["run_id"]})
    return scoring, limits


def misfires(r: dict) -> bool:
    """The later guardrail: meant for customers of less than a year, deployed comparing
    tenure in years with 12 (months)."""
    at = r["t"] + 2000
    return (ms(story.MISFIRE_FROM) <= at < ms(story.MISFIRE_TO) and r["raw_limit"] > story.MISFIRE_CAP
            and r["cl_inputs"]["tenure_years"] < story.MISFIRE_TENURE)


def _replace_ref(rec: dict, ref: dict) -> None:
    name, version = rec.pop("model_name"), rec.pop("model_version")
    rec["_model"] = (name, version)  # kept for the generator's own bookkeeping
    items = list(rec.items())
    rec.clear()
    rec.update(items[:2])
    rec.update(ref)
    rec.update(items[2:])


def model_of(rec: dict) -> tuple:
    return rec.get("_model") or (rec["model_name"], rec["model_version"])


def write_jsonl(path: Path, records: list) -> None:
    with path.open("w") as fh:
        for rec in records:
            fh.write(json.dumps({k: v for k, v in rec.items() if k != "_model"}) + "\n")


def write_review_csv(path: Path, records: list) -> None:
    names = sorted({k for r in records for k in r["inputs"]})
    header = (["request_id", "scored_at", "model", "model_ver"]
              + [f"input.{n}" for n in names]
              + ["limit", "upstream_ids", "override.rule", "override.original", "override.final",
                 "input_sha256", "feature_commit", "customer", "household"])
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in records:
            o = r.get("override", {})
            w.writerow([r["prediction_id"], r["timestamp"], r["model_name"], r["model_version"]]
                       + [r["inputs"].get(n, "") for n in names]
                       + [r["output"], ";".join(r["upstream"]), o.get("rule", ""),
                          o.get("original", ""), o.get("final", ""), r["input_hash"],
                          r["feature_pipeline"], r["subject_id"], r["household_id"]])


def impact(scoring: list, limits: list, bad: set) -> dict:
    """Predictions made by a bad model version, or chained onto one (upstream)."""
    affected, by_version, via = set(), {}, {}
    for rec in scoring + limits:   # scoring first: upstream before downstream
        key = "@".join(model_of(rec))
        if model_of(rec) in bad:
            affected.add(rec["prediction_id"])
            by_version[key] = by_version.get(key, 0) + 1
        elif any(u in affected for u in rec.get("upstream", [])):
            affected.add(rec["prediction_id"])
            via[key] = via.get(key, 0) + 1
    return {"affected_ids": affected, "direct_by_model_version": by_version,
            "via_upstream_by_model_version": via}
