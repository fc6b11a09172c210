"""One cause of an explanation as plain data: its kind, what it is about
(``subject``, the node the lineage picture draws the bold path to), the
evidence in numbers, where it came from (``origin``: data version, stage,
commit with author and message), how far it reaches (``reach``) and the next
action, with one sentence for people (``statement``). Pure: built from what
:mod:`provex.graph.explain.collect` read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from provex.graph.explain.pairs import short
from provex.vocab import numbers as num


def n(value: Any) -> str:
    return num.number(value, num.BRIEF)


def commit(found: Mapping[str, Any], sha: str | None) -> dict[str, Any] | None:
    """A commit with its message, author and date (as far as the graph knows them)."""
    if not sha:
        return None
    info = found["origins"]["commits"].get(sha) or {}
    return {"sha": sha, "short": sha[:7], "message": info.get("message"), "author": info.get("author"),
            "date": info.get("date")}


def commit_words(c: Mapping[str, Any] | None) -> str:
    """``df526a8 "Add 2026-02 transactions" (Dana Okafor)``."""
    if not c:
        return "an unrecorded commit"
    text = c["short"] + (f' "{c["message"]}"' if c.get("message") else "")
    return text + (f" ({c['author']})" if c.get("author") else "")


def _cause(kind: str, subject: str | None, weight: float, basis: str, share: float | None, **rest: Any) -> dict[str, Any]:
    return {"rank": None, "kind": kind, "subject": subject, "weight": round(weight, 4), "basis": basis, "share": share,
            **rest}


def _reach(found: Mapping[str, Any], key: str, what: str) -> dict[str, Any] | None:
    got = found["reach"].get(key)
    if not got:
        return None
    return {**got, "key": key, "what": what}


def reach_words(reach: Mapping[str, Any] | None) -> str:
    if not reach or reach.get("predictions") is None:
        return ""
    text = f"{'at least ' if reach.get('truncated') else ''}{reach['predictions']:,} prediction{'s' if reach['predictions'] != 1 else ''}"
    if reach.get("model_versions"):
        text += f" by {reach['model_versions']} model version{'s' if reach['model_versions'] != 1 else ''}"
    return text + f" {reach['what']}"


# ---- origins ----------------------------------------------------------------------------------


def root_anomaly(found: Mapping[str, Any], version: str) -> dict[str, Any] | None:
    """The best-ranked root anomaly upstream of ``version`` only (not of the compared side)."""
    mine = [a for a in found["anomalies"] if version in a["in_b"] and not a["in_a"]]
    roots = [a for a in mine if not a["downstream_of"]] or mine
    return min(roots, key=lambda a: a["rank"]) if roots else None


def data_origin(found: Mapping[str, Any], anomaly: Mapping[str, Any]) -> dict[str, Any]:
    where = found["origins"]["data"].get(anomaly["data_version"]) or {}
    return {"kind": "data", "data_version": anomaly["data_version"], "path": anomaly["path"], "hash": anomaly["hash"],
            "stage": where.get("stage"), "commit": commit(found, where.get("commit")),
            "anomaly": {k: anomaly[k] for k in ("column", "kind", "factor", "value", "typical", "compared")}}


def pair_origin(found: Mapping[str, Any], pair: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """Where the difference between a pair's versions came from."""
    diff = pair["diff"]
    trained_at = commit(found, (diff["commit"] or {}).get("b"))
    if kind == "data anomaly":
        return data_origin(found, root_anomaly(found, pair["b"]))
    if kind == "code":
        changed = [e for e in diff["code"] if e["b"]] or diff["code"]
        first = changed[0]
        where = found["origins"]["data"].get(f"data:{first['path']}@{first['b']}") or {}
        return {"kind": "code", "paths": [e["path"] for e in changed], "path": first["path"],
                "commit": commit(found, where.get("commit")) or trained_at}
    if kind == "library":
        return {"kind": "environment", "libraries": [{"name": x["key"], "from": x["a"], "to": x["b"]} for x in diff["libraries"]],
                "commit": trained_at}
    if kind == "params":
        changed = diff["params"] + diff["stages"]
        return {"kind": "params", "params": [{"key": x["key"], "from": x["a"], "to": x["b"]} for x in changed],
                "commit": trained_at}
    if kind == "data":
        new = diff["data_only_b"] or diff["data_changed"]
        added = {k: v["b"] for k, v in diff["added_by"].items() if v.get("b")}
        return {"kind": "data", "paths": sorted({e["path"] for e in new}), "added_by": added, "commit": trained_at}
    return {"kind": "unknown", "commit": trained_at}


def origin_words(origin: Mapping[str, Any], version: str) -> str:
    v = short(version)
    if origin["kind"] == "data" and origin.get("anomaly"):
        a = origin["anomaly"]
        what = (f"whose {a['column']} is {num.ratio(a['factor'])} its siblings' median ({n(a['value'])} vs {n(a['typical'])})"
                if a["kind"] == "scale" else f"whose {a['column']}: {a['kind']}")
        return (f"{v} was trained on {origin['path']}@{str(origin['hash'])[:8]}, {what}, "
                + ("made by stage " + origin["stage"] + " at " if origin.get("stage") else "added by ")
                + commit_words(origin["commit"]))
    if origin["kind"] == "code":
        return f"{v} was retrained after {commit_words(origin['commit'])} changed {', '.join(origin['paths'][:3])}"
    if origin["kind"] == "environment":
        libs = ", ".join(f"{x['name']} {x['from'] or '(none)'} -> {x['to'] or '(none)'}" for x in origin["libraries"])
        return f"{v} differs from the other version only in its environment: {libs} (same data, code and params)"
    if origin["kind"] == "params":
        keys = ", ".join(f"{x['key']} {x['from']} -> {x['to']}" for x in origin["params"][:3])
        return f"{v} was trained with other params: {keys}"
    if origin["kind"] == "data":
        return f"{v} was trained on other data: {', '.join(origin['paths'][:3]) or 'changed versions'}"
    return f"nothing recorded upstream of {v} differs (trained at {commit_words(origin['commit'])})"


def origin_action(origin: Mapping[str, Any]) -> str:
    if origin["kind"] == "data" and origin.get("anomaly"):
        return (f"fix or re-deliver {origin['path']}@{str(origin['hash'])[:8]}, re-run the stages downstream of it "
                "(`dvc repro`) and retrain")
    if origin["kind"] == "code":
        return f"review {commit_words(origin['commit'])}, fix or revert its change to {origin['path']} and retrain"
    if origin["kind"] == "environment":
        first = origin["libraries"][0]
        return f"pin {first['name']}=={first['from']} in the training environment (or adapt to {first['to']}) and retrain"
    if origin["kind"] == "params":
        return "check the changed params and retrain"
    if origin["kind"] == "data":
        return "check the new data versions it was trained on"
    return "compare the two versions (`provex ask diff-model-versions`)"


def origin_text(origin: Mapping[str, Any] | None) -> str | None:
    """An origin in one line: its kind, data version or path, stage, libraries, commit with message, author, date."""
    origin = origin or {}
    parts = [origin.get("kind")]
    for key in ("path", "data_version", "stage", "rule"):
        if origin.get(key):
            parts.append(f"{key} {origin[key]}")
    if origin.get("libraries"):
        parts.append(", ".join(f"{x['name']} {x['from']} -> {x['to']}" for x in origin["libraries"]))
    if origin.get("params"):
        parts.append(", ".join(f"{x['key']} {x['from']} -> {x['to']}" for x in origin["params"][:5]))
    c = origin.get("commit") or {}
    if c:
        parts.append(f"commit {c.get('sha')} \"{c.get('message') or ''}\" by {c.get('author') or '?'} ({c.get('date') or '?'})")
    return "; ".join(str(p) for p in parts if p) or None


# ---- the causes -------------------------------------------------------------------------------


def _reach_of_origin(found: Mapping[str, Any], pair: Mapping[str, Any], origin: Mapping[str, Any]) -> dict[str, Any] | None:
    if origin["kind"] == "data" and origin.get("data_version"):
        return _reach(found, f"data:{origin['data_version']}", "share this cause (depend on that data version)")
    if origin["kind"] == "code" and origin.get("commit"):
        got = _reach(found, f"commit:{origin['commit']['sha']}", "share this cause (downstream of that commit)")
        if got:
            return got
    if origin["kind"] == "environment":
        lib = origin["libraries"][0]
        got = _reach(found, f"library:{lib['name']}=={lib['to']}", f"share this cause (require {lib['name']}=={lib['to']})")
        if got:
            return got
    return _reach(found, f"model:{pair['b']}", f"were made by {short(pair['b'])}")


def model_change(found: Mapping[str, Any], pair: Mapping[str, Any], kind: str, origin_kind: str, *, weight: float,
                 measured: Mapping[str, Any] | None) -> dict[str, Any]:
    origin = pair_origin(found, pair, origin_kind)
    a, b = short(pair["a"]), short(pair["b"])
    evidence: dict[str, Any] = {"model": pair["model"], "model_version": pair["b"], "instead_of": pair["a"],
                                "compared_with": pair["basis"], "prediction": pair["prediction"],
                                "differs": {k: len(v) if isinstance(v, (list, dict)) else None for k, v in pair["diff"].items()
                                            if v and k != "commit"}}
    basis, share = "lineage", None
    if measured:
        basis, share = measured["basis"], measured.get("share")
        evidence.update({k: measured[k] for k in ("replayed_output", "through", "effect", "factor") if k in measured})
        evidence["share_of_difference"] = share
    if pair["role"] == "own":
        said = f"{b} made it, not {a}"
    else:
        said = f"its upstream {pair['model']} prediction {short(pair['prediction'])} came from {b}, not {a}"
    if measured and measured.get("replayed_output") is not None:
        said += f" (replayed through {a}: {n(measured['replayed_output'])}"
        said += f", {num.percent(share, 2)} of the gap)" if share is not None else ")"
    subject = origin.get("data_version") or pair["b"]
    alias = pair.get("alias")
    if pair["role"] == "own":
        action = (f"Roll the {alias} alias of {pair['model']} back to {a} (the last known good), then "
                  if alias and pair["basis"] and str(pair["basis"]).startswith("served") else f"Serve {a} again if it was right, then ")
    else:
        action = f"Explain the upstream prediction (`provex explain {short(pair['prediction'])}`); "
    return _cause(kind, subject, weight, basis, share, model_version=pair["b"], statement=said + "; " + origin_words(origin, pair["b"]),
                  evidence=evidence, origin=origin, reach=_reach_of_origin(found, pair, origin),
                  action=action + origin_action(origin) + ".")


def library_change(found: Mapping[str, Any], pair: Mapping[str, Any], *, weight: float) -> dict[str, Any]:
    origin = pair_origin(found, pair, "library")
    libs = ", ".join(f"{x['name']} {x['from'] or '(none)'} -> {x['to'] or '(none)'}" for x in origin["libraries"])
    lib = origin["libraries"][0]
    return _cause("environment/library change", pair["b"], weight, "lineage", None, model_version=pair["b"],
                  statement=f"{short(pair['b'])} was also trained in another environment than {short(pair['a'])}: {libs}",
                  evidence={"model_version": pair["b"], "instead_of": pair["a"], "libraries": origin["libraries"]},
                  origin=origin, reach=_reach(found, f"library:{lib['name']}=={lib['to']}", f"require {lib['name']}=={lib['to']}"),
                  action=f"Check whether {lib['name']} {lib['to']} changes the model: retrain {short(pair['b'])} with "
                         f"{lib['name']}=={lib['from']} and compare.")


def anomaly(found: Mapping[str, Any], found_anomaly: Mapping[str, Any], *, weight: float) -> dict[str, Any]:
    origin = data_origin(found, found_anomaly)
    a = origin["anomaly"]
    what = (f"{a['column']} is {num.ratio(a['factor'])} its siblings' median ({n(a['value'])} vs {n(a['typical'])}, "
            f"{a['compared']} compared)" if a["kind"] == "scale" else f"{a['column']}: {a['kind']}")
    where = ("made by stage " + origin["stage"] + " at " if origin.get("stage") else "added by ") + commit_words(origin["commit"])
    models = ", ".join(short(v) for v in found_anomaly["in_b"])
    return _cause("data anomaly upstream", found_anomaly["data_version"], weight, "lineage", None,
                  statement=f"{found_anomaly['path']}@{str(found_anomaly['hash'])[:8]} upstream of {models} breaks from its "
                            f"siblings: {what}; {where}",
                  evidence={"data_version": found_anomaly["data_version"], "upstream_of": found_anomaly["in_b"], **a},
                  origin=origin,
                  reach=_reach(found, f"data:{found_anomaly['data_version']}", "depend on it"),
                  action=f"Fix or re-deliver {found_anomaly['path']}@{str(found_anomaly['hash'])[:8]}, re-run the stages "
                         f"downstream of it (`dvc repro`), retrain the model versions trained on it and re-score "
                         f"their predictions (`provex ask impacted-predictions --param data_version={found_anomaly['data_version']}`).")


def override(found: Mapping[str, Any], *, weight: float, share: float | None, basis: str, effect: float) -> dict[str, Any]:
    p, q = found["prediction"], found.get("against") or {}
    over = p.get("override") or q.get("override")
    whose = p if p.get("override") else q
    rule = over["rule"]
    said = f"rule {rule} changed {short(whose['uid'])}'s output from {n(over['original'])} to {n(over['final'])}"
    if share is not None:
        said += f" ({num.percent(share, 2)} of the gap)"
    reach = _reach(found, f"rule:{rule}", f"were overridden by {rule}")
    return _cause("override", f"override:{whose['id']}#{rule}", weight, basis, share, statement=said,
                  evidence={"rule": rule, "prediction": whose["uid"], "original": over["original"], "final": over["final"],
                            "effect": effect, "share_of_difference": share},
                  origin={"kind": "override", "rule": rule}, reach=reach,
                  action=f"Check rule {rule}: did it mean to fire here? It changed {n(over['original'])} to "
                         f"{n(over['final'])}" + (f"; {reach_words(reach)}." if reach else "."))


def inputs(found: Mapping[str, Any], deltas: Sequence[Mapping[str, Any]], chained: set[str], models_same: bool,
           measured: Mapping[str, Any]) -> dict[str, Any]:
    top = [d for d in deltas if d["input"] not in chained] or list(deltas)
    words = "; ".join(f"{d['input']} {n(d['b'])} vs {n(d['a'])}" + (f" ({num.ratio(d['ratio'])})" if d.get("ratio") else "")
                      for d in top[:3])
    q = found["against"]
    if models_same:
        versions = sorted({short(p["b"]) for p in found["pairs"] if p["b"]})
        said = (f"nothing upstream differs ({', '.join(versions) or 'the same model versions'} on both sides): "
                f"the inputs explain the difference: {words}")
        action = ("No model, data or code change is involved: check the inputs at their source; if they are right, "
                  "the difference is what the model does with them.")
    else:
        said = f"the inputs differ from {short(q['uid'])}'s: {words}"
        action = "Check the inputs that differ at their source (and the upstream predictions that fed them)."
    share = measured.get("share")
    if share is not None:
        said += f" ({num.percent(share, 2)} of the gap)"
    return _cause("input difference", found["prediction"]["uid"], measured["weight"], measured["basis"], share,
                  statement=said,
                  evidence={"differing": [{k: d[k] for k in ("input", "a", "b", "ratio")} for d in deltas],
                            "chained": sorted(chained), "same_model_versions": models_same, "effect": measured.get("effect"),
                            "share_of_difference": share},
                  origin={"kind": "inputs", "feature_pipeline": [found["prediction"].get("feature_pipeline"),
                                                                 q.get("feature_pipeline")]},
                  reach=None, action=action)


def timing(found: Mapping[str, Any], f: Mapping[str, Any], *, weight: float) -> dict[str, Any]:
    if f["kind"] == "stale":
        windows = "; ".join(f"{w[0]} {w[1]} to {w[2] or 'now'}" for w in f["windows"])
        said = f"{short(f['model_version'])} did not hold an alias when it made the prediction (it held: {windows})"
        action = f"Find the replica still serving {short(f['model_version'])} and retire it."
        reach = _reach(found, f"model:{f['model_version']}", f"were made by {short(f['model_version'])}")
    else:
        said = (f"made in the {f['minutes']} minutes between the {f['alias']} alias moves of {f['upstream_model']} and "
                f"{f['model']} ({f['from']} to {f['until']}): {short(f['upstream_version'])} fed {short(f['model_version'])}, "
                f"not the version released with it ({short(f['next_version'])})")
        action = (f"Move the aliases of a chain together; re-score the {f.get('predictions', 0):,} predictions "
                  f"{short(f['model_version'])} made in that window.")
        reach = {"predictions": f.get("predictions"), "model_versions": 1, "truncated": False, "key": "window",
                 "what": f"were made by {short(f['model_version'])} in that window"}
    return _cause("serving alias timing", f["model_version"], weight, "lineage", None, statement=said,
                  evidence=dict(f), origin={"kind": "serving", "alias": f.get("alias")}, reach=reach, action=action)
