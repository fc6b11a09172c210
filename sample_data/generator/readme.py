"""Writes expected.json (ground truth) and README.md (story + answers) from the same dict."""
import json
from collections import Counter
from pathlib import Path

from . import story

TEMPLATE = (Path(__file__).parent / "README.template.md")


def _mv(versions, name, v):
    return f"{name}@{v}"


def expected(steps, locks, versions, history, complaint, impact, scoring, online_limits,
             review_limits, review, after_fix, later) -> dict:
    by_key = {s["key"]: s for s in steps}
    e, f, d = locks["e"], locks["f"], locks["d"]
    raw = f"data/raw/transactions/{story.BAD_MONTH}.csv"
    prep = f"data/prepared/transactions/{story.BAD_MONTH}.csv"

    def data_versions(lock):
        return {
            "raw": {"path": raw, "md5": lock["stages"][f"prepare@{story.BAD_MONTH}"]["deps"][0]["md5"]},
            "prepared": {"path": prep, "md5": lock["stages"][f"prepare@{story.BAD_MONTH}"]["outs"][0]["md5"]},
            "features": {"path": "data/features/purchase_features.csv",
                         "md5": lock["stages"]["purchase_features"]["outs"][0]["md5"]},
            "scoring_model": {"path": "models/scoring.pkl",
                              "md5": lock["stages"]["train_scoring"]["outs"][0]["md5"]},
            "credit_limit_model": {"path": "models/credit_limit.pkl",
                                   "md5": lock["stages"]["train_credit_limit"]["outs"][0]["md5"]},
        }
    assert e["stages"][f"prepare@{story.BAD_MONTH}"]["deps"][0]["path"] == raw
    household, good, bad = complaint
    ver = {f"{n}@{v}": {k: val for k, val in info.items()} for (n, v), info in sorted(
        versions.items(), key=lambda kv: (kv[0][0], int(kv[0][1])))}
    cl_d = {x["path"]: x["md5"] for x in d["stages"]["train_credit_limit"]["deps"]}
    cl_e = {x["path"]: x["md5"] for x in e["stages"]["train_credit_limit"]["deps"]}
    pf_d = d["stages"]["purchase_features"]
    pf_e = e["stages"]["purchase_features"]
    all_limits = online_limits + review_limits
    overrides = [r for r in all_limits if "override" in r]
    affected = impact["affected_ids"]
    return {
        "story": "Credit limits 20x lower than the spouse's: one 2026-02 transactions file was "
                 "delivered in cents; models trained on it were in production 2026-03-10..19.",
        "dvc_repo": {"bundle": "sample_data/credit-dvc.bundle", "branch": "main",
                     "dvc_cache": "sample_data/dvc-cache.tar.gz",
                     "commits": [{k: s[k] for k in ("key", "sha", "time", "author", "message")}
                                 for s in steps]},
        "bad_commit": by_key["e"]["sha"], "fix_commit": by_key["f"]["sha"],
        "bad_data_version": data_versions(e), "fixed_data_version": data_versions(f),
        "bad_model_versions": [k for k, v in ver.items() if v["trained_on_bad_data"]],
        "model_versions": ver,
        "training_runs": {k: v["run_id"] for k, v in ver.items()},
        "mlflow_git_commit_tag": "commit whose dvc.lock locks the run's training data and model",
        "alias_history": history,
        "complaint": {
            "reported_at": story.COMPLAINT_TIME, "household_id": household,
            "low_limit": _pred(bad), "spouse": _pred(good),
            "ratio": round(good["cl"]["output"] / bad["cl"]["output"], 2),
            "low_limit_after_fix": _pred(after_fix),
            "household_predictions": sorted(
                ({"prediction_id": r["prediction_id"], "subject_id": r["subject_id"], "output": r["output"],
                  "timestamp": r["timestamp"]} for r in scoring + all_limits if r["household_id"] == household),
                key=lambda r: (r["timestamp"], r["prediction_id"])),
            "what_changed": _what_changed(bad, history, by_key["e"]["sha"], data_versions(e)),
        },
        "what_changed_credit_limit_4_to_5": {
            "from_commit": by_key["d"]["sha"], "to_commit": by_key["e"]["sha"],
            "changed_training_deps": sorted(p for p in cl_e if cl_d.get(p) != cl_e[p]),
            "purchase_features_params": {"from": pf_d.get("params"), "to": pf_e.get("params")},
            "new_stages": sorted(set(e["stages"]) - set(d["stages"])),
        },
        "affected_predictions": {
            "direct_by_model_version": impact["direct_by_model_version"],
            "via_upstream_by_model_version": impact["via_upstream_by_model_version"],
            "total": len(affected),
            "credit_limit_total": sum(1 for r in all_limits if r["prediction_id"] in affected),
            "customers": len(review),
        },
        "overrides": {"total": len(overrides),
                      "credit_limit.jsonl": sum("override" in r for r in online_limits),
                      "limit_review.csv": sum("override" in r for r in review_limits),
                      "rule": "max-limit-cap", "max_limit": story.MAX_LIMIT},
        "overrides_by_rule": dict(sorted(Counter(r["override"]["rule"] for r in all_limits + later["records"]
                                                 if r.get("override")).items())),  # every log
        "prediction_counts": {"scoring.jsonl": len(scoring),
                              "credit_limit.jsonl": len(online_limits),
                              "limit_review.csv": len(review_limits),
                              later["log"]: len(later["records"])},
        "model_reference_variants": {
            "scoring.jsonl model_id": sum("model_id" in r for r in scoring),
            "credit_limit.jsonl model_uri": sum("model_uri" in r for r in online_limits),
            "credit_limit.jsonl run_id": sum("run_id" in r for r in online_limits)},
        "serving_at": {t: {"credit-scoring": _at(history, "credit-scoring", t),
                           "credit-limit": _at(history, "credit-limit", t)}
                       for t in ("2026-02-10T12:00:00Z", "2026-03-10T09:15:00Z",
                                 story.SPOUSE_BAD_TIME, "2026-04-01T12:00:00Z")},
        "stories": _stories(later, bad, good, by_key, data_versions(e), len(affected)),
    }


def _later_pred(r):
    return {"prediction": r["cl_id"], "customer_id": r["customer_id"], "timestamp": r["cl"]["timestamp"],
            "credit_limit_version": f"credit-limit@{r['cl_version']}",
            "credit_scoring_version": f"credit-scoring@{r['sc_version']}", "output": r["cl"]["output"],
            "override": r["cl"].get("override")}


def _stories(later, bad, good, by_key, bad_data, affected) -> dict:
    """Each complaint (the prediction complained about, the one it is compared with) and the
    cause `provex explain` must rank first. Checks that each story holds as told."""
    stories = {"cents": {
        "story": "A limit 20x lower than the spouse's: credit-limit@5 was trained on a transactions file in cents.",
        "prediction": bad["cl_id"], "against": good["cl_id"],
        "first_cause": {"kind": "model version change", "model_version": f"credit-limit@{bad['cl_version']}",
                        "data_version": bad_data["raw"], "commit": by_key["e"]["sha"]},
        "reach": affected}}
    records = later["records"]
    for name, (before, after) in later["stories"].items():
        b, a = _later_pred(before), _later_pred(after)
        stories[name] = {"prediction": a["prediction"], "against": b["prediction"], "complained": a, "compared": b}
    lib, code, over, inp = (later["stories"][k] for k in ("library", "code", "override", "inputs"))
    assert lib[0]["cl_inputs"] == lib[1]["cl_inputs"] and (lib[0]["cl_version"], lib[1]["cl_version"]) == ("7", "8")
    assert not lib[0]["cl"].get("override") and not lib[1]["cl"].get("override")
    stories["library"].update(
        story="The same customer, the same inputs: a lower limit from credit-limit@8, retrained after the "
              "platform image upgraded creditkit 1.4.0 -> 1.5.0 (winsorize's new defaults).",
        first_cause={"kind": "environment/library change", "model_version": "credit-limit@8",
                     "library": "creditkit", "from": story.CREDITKIT["g"], "to": story.CREDITKIT["h"],
                     "commit": by_key["h"]["sha"]},
        reach=sum(1 for r in records if r.get("model_name") == "credit-limit"   # every version trained with 1.5.0
                  and later["versions"][("credit-limit", r["model_version"])]["step"] in
                  [k for k, v in story.CREDITKIT.items() if v == story.CREDITKIT["h"]]))
    assert (code[0]["cl_version"], code[1]["cl_version"]) == ("8", "9")
    stories["code"].update(
        story="A single customer's limit dropped when credit-limit@9 replaced @8: the purchase features "
              "code (v3: totals per household) changed, both models were retrained.",
        first_cause={"kind": "model version change", "model_version": "credit-limit@9", "commit": by_key["i"]["sha"],
                     "path": "src/features.py"},
        reach=sum(1 for r in records  # predictions of every model version trained at that commit
                  if later["versions"][(r["model_name"], r["model_version"])]["step"] == "i"))
    assert over[0]["cl_inputs"] == over[1]["cl_inputs"] and over[0]["cl_version"] == over[1]["cl_version"]
    assert not over[0]["cl"].get("override") and over[1]["cl"]["override"]["rule"] == story.MISFIRE_RULE
    stories["override"].update(
        story=f"The same customer, the same inputs, the same model version: rule {story.MISFIRE_RULE} (meant for "
              f"customers of less than a year) capped the limit at {story.MISFIRE_CAP:.0f}.",
        first_cause={"kind": "override", "rule": story.MISFIRE_RULE, "original": over[1]["cl"]["override"]["original"],
                     "final": story.MISFIRE_CAP},
        reach=sum(1 for r in records if (r.get("override") or {}).get("rule") == story.MISFIRE_RULE))
    assert (inp[0]["cl_version"], inp[0]["sc_version"]) == (inp[1]["cl_version"], inp[1]["sc_version"])
    assert not inp[0]["cl"].get("override") and not inp[1]["cl"].get("override")
    stories["inputs"].update(
        story="Two spouses served minutes apart by the same model versions: nothing upstream differs, "
              "their inputs explain the gap.",
        first_cause={"kind": "input difference",
                     "inputs": sorted(k for k in inp[0]["cl_inputs"] if inp[0]["cl_inputs"][k] != inp[1]["cl_inputs"][k])},
        same_model_versions=[f"credit-limit@{inp[0]['cl_version']}", f"credit-scoring@{inp[0]['sc_version']}"],
        reach=0)
    return stories


def _what_changed(bad, history, bad_sha, bad_data):
    """The complained-about credit limit's version against the one that held
    production before it (the last known good), from the alias history."""
    name, version = "credit-limit", str(bad["cl_version"])
    held = [h for h in history if h["model"] == name]
    start = next(h["from"] for h in held if h["version"] == version and h["from"] <= bad["cl"]["timestamp"])
    before = [h for h in held if h["from"] < start and h["version"] != version][-1]
    return {"prediction": bad["cl_id"], "model_version": f"{name}@{version}",
            "last_known_good": f"{name}@{before['version']}",
            "data_only_in_new": [bad_data["raw"], bad_data["prepared"]], "added_by_commit": bad_sha}


def _at(history, name, t):
    live = [h for h in history if h["model"] == name and h["from"] <= t]
    return live[-1]["version"] if live else None


def _pred(r):
    return {"customer_id": r["customer_id"], "scoring_prediction": r["sc_id"],
            "credit_limit_prediction": r["cl_id"], "timestamp": r["cl"]["timestamp"],
            "credit_scoring_version": f"credit-scoring@{r['sc_version']}",
            "credit_limit_version": f"credit-limit@{r['cl_version']}",
            "score": r["score"], "credit_limit": r["cl"]["output"]}


def _cause_text(cause: dict) -> str:
    return "; ".join(f"{k} `{v}`" if k != "kind" else f"**{v}**" for k, v in cause.items()
                     if not isinstance(v, dict))


def _stories_text(stories: dict) -> str:
    rows = [f"| {name} | `{s['prediction']}` | `{s['against']}` | {s['story']} | {_cause_text(s['first_cause'])} |"
            for name, s in stories.items()]
    return "| story | prediction | against | what happened | first cause |\n|---|---|---|---|---|\n" + "\n".join(rows)


def write(root: Path, **kw) -> dict:
    exp = expected(**kw)
    (root / "expected.json").write_text(json.dumps(exp, indent=2) + "\n")
    c, a = exp["complaint"], exp["affected_predictions"]
    bad_e = exp["bad_data_version"]
    steps = "\n".join(f"| {s['key']} | `{s['sha'][:12]}` | {s['time'][:10]} | {s['message']} |"
                      for s in exp["dvc_repo"]["commits"])
    versions = "\n".join(
        f"| {k} | {v['step']} `{v['commit'][:12]}` | `{v['run_id']}` | "
        f"{'**yes**' if v['trained_on_bad_data'] else 'no'} |"
        for k, v in exp["model_versions"].items())
    aliases = "\n".join(f"| {h['model']} | {h['version']} | {h['from']} | {h['to'] or '-'} |"
                        for h in exp["alias_history"])
    direct = ", ".join(f"{k}: {n}" for k, n in sorted(a["direct_by_model_version"].items()))
    via = ", ".join(f"{k}: {n}" for k, n in sorted(a["via_upstream_by_model_version"].items()))
    text = TEMPLATE.read_text().format(
        steps=steps, versions=versions, aliases=aliases, direct=direct, via=via or "none",
        c=c, low=c["low_limit"], fixed_low=c["low_limit_after_fix"], spouse=c["spouse"], a=a, o=exp["overrides"],
        n=exp["prediction_counts"], v=exp["model_reference_variants"],
        bad=bad_e, fixed=exp["fixed_data_version"], bad_commit=exp["bad_commit"],
        fix_commit=exp["fix_commit"], diff=exp["what_changed_credit_limit_4_to_5"],
        bad_versions=", ".join(exp["bad_model_versions"]),
        low_recipe=exp["model_versions"][c["low_limit"]["credit_limit_version"]],
        max_limit=int(story.MAX_LIMIT), n_commits=len(exp["dvc_repo"]["commits"]),
        later_log=kw["later"]["log"], stories=_stories_text(exp["stories"]))
    (root / "README.md").write_text(text)
    return exp
