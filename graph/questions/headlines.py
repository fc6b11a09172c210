"""Headlines: one to three sentences that state an answer's conclusion,
computed from its rows (never text written for one data set).

Each function is ``<question>_headline(rows, params) -> str``: ``rows`` are
the answer's rows (dicts with the question's columns, missing values None),
``params`` the bound parameters (REFs resolved to uids). The catalog
attaches one to every question (``Question.headline``); a new question
family brings its own functions the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from provex.vocab import numbers as num

Rows = Sequence[Mapping[str, Any]]


def short(uid: object) -> str:
    """A uid without its kind prefix (``model:credit-limit@5`` -> ``credit-limit@5``)."""
    text = str(uid)
    return text.split(":", 1)[1] if ":" in text else text


def data_name(key: object, value: object) -> str:
    """``path (md5)`` + hash as ``path@hash8``."""
    path = str(key).rsplit(" (", 1)[0]
    return f"{path}@{str(value)[:8]}" if value else path


def count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def listing(items: Sequence[object], most: int = 3) -> str:
    """``a, b, c and 2 more`` (duplicates dropped, order kept)."""
    items = list(dict.fromkeys(str(i) for i in items))
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more


def number(value: object) -> str:
    """A number in a sentence: four significant digits, thousands separators (2,960)."""
    return num.number(value, num.BRIEF)


def where(rows: Rows, **match: object) -> list[Mapping[str, Any]]:
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def prediction_provenance_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    top = where(rows, hop=0)
    pid = short(params.get("prediction"))
    output = next((r["value"] for r in where(top, aspect="prediction", key="output")), None)
    models = [r["value"] for r in where(top, aspect="model version")]
    commit = next((str(r["key"])[:10] for r in where(top, aspect="code commit")), None)
    data = {r["ref"] for r in where(top, aspect="training data")}
    upstream = sorted({(r["prediction"], r["value"]) for r in rows if r["hop"] and r["aspect"] == "model version"})
    found = [r["key"] for r in where(top, aspect="model resolved by")]
    text = f"{pid} (output {number(output)}) was made by {listing(models) or 'an unknown model version'}"
    text += f" (the log named no registry version; found by {found[0]})" if found and models else ""
    text += f", trained at commit {commit}" if commit else ""
    text += f" on {count(len(data), 'data version')}." if data else "."
    if upstream:
        text += " It used " + listing([f"{short(p)} by {m}" for p, m in upstream]) + "."
    return text


def model_training_data_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    direct = {r["data_version"] for r in rows if r["depth"] == 0}
    raw = sorted({r["path"] for r in rows if r["depth"] and not r["producer_run"]})
    text = (f"{short(params.get('model_version'))} was trained on {count(len(direct), 'data version')} "
            f"({count(len({r['data_version'] for r in rows}), 'data version')} upstream included).")
    return text + (f" Raw inputs: {listing(raw)}." if raw else "")


def reproduce_model_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    kinds = Counter(r["kind"] for r in rows)
    code = next((str(r["item"])[:10] for r in rows if r["kind"] == "code"), "an unknown commit")
    return (f"Reproduce {short(params.get('model_version'))} in {count(len(rows), 'step')}: check out {code}, "
            f"install {count(kinds['library'], 'library', 'libraries')}, pull {count(kinds['data'], 'data version')}, "
            f"run {count(kinds['stage'] + kinds['train'], 'stage')}.")


def data_origin_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    raw = sorted({r["path"] for r in rows if str(r.get("origin") or "").startswith("raw")})
    stages = sorted({s for r in rows if r.get("stage") for s in str(r["stage"]).split(", ")})
    return (f"{short(params.get('data_version'))} comes from {count(len(rows), 'data version')} through "
            f"{count(len(stages), 'stage')}" + (f"; raw inputs: {listing(raw)}." if raw else "."))


def impact_of_data_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    versions = sorted({short(r["model_version"]) for r in rows})
    total = sum(int(r["predictions"] or 0) for r in rows)
    return (f"{count(len(versions), 'model version')} trained on {short(params.get('data_version'))}"
            + (f" ({listing(versions, 5)})" if versions else "")
            + f", with {count(total, 'prediction')}.")


def impacted_predictions_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    if not rows:
        return f"No predictions depend on {short(params.get('data_version'))}."
    versions = Counter(short(r["model_version"]) for r in rows)
    subjects = {r["subject_id"] for r in rows if r.get("subject_id")}
    times = sorted(str(r["timestamp"]) for r in rows if r.get("timestamp"))
    span = f", {times[0]} to {times[-1]}" if times else ""
    return (f"{count(len(rows), 'prediction')} about {count(len(subjects), 'subject')} depend on "
            f"{short(params.get('data_version'))}{span}; by "
            + listing([f"{v} ({n})" for v, n in versions.most_common()], 5) + ".")


def impact_of_library_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    versions = sorted({short(r["model_version"]) for r in rows})
    lib = params.get("library") + (f"=={params['version']}" if params.get("version") else "")
    total = sum(int(r["predictions"] or 0) for r in rows)
    return f"{count(len(versions), 'model version')} require {lib} ({listing(versions, 5)}), with {count(total, 'prediction')}."


def impact_of_commit_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    kinds = Counter(r["kind"] for r in rows)
    total = sum(int(r["predictions"] or 0) for r in rows if r["kind"] == "ModelVersion")
    return (f"Commit {short(params.get('commit'))[:10]}: {count(kinds['Run'], 'run')}, "
            f"{count(kinds['DataVersion'], 'data version')} and {count(kinds['ModelVersion'], 'model version')} "
            f"downstream, with {count(total, 'prediction')}.")


def differences(rows: Rows, a: str = "a", b: str = "b") -> str:
    """What differs, data first: ``only B used x@1234; code commit c1 -> c2; 2 params``."""
    parts = []
    one_side = [r for r in rows if str(r["aspect"]).startswith("data (") and (r[a] is None or r[b] is None)]
    for side, other in ((b, a), (a, b)):
        only = [data_name(r["key"], r[side]) for r in one_side if r[other] is None and "(md5)" in str(r["key"])]
        only = only or [data_name(r["key"], r[side]) for r in one_side if r[other] is None]
        if only:
            parts.append(f"data only in {side}: {listing(only)}")
    added = [f"{str(r['key'])} added by {r[b]}" for r in rows
             if str(r["aspect"]).startswith("data added by") and r[b] and r[a] is None]
    parts += [listing(added, 2)] if added else []
    for aspect, word in (("code", "code commit"), ("param", "param"), ("stage", "stage setting"),
                         ("library", "library")):
        changed = [r for r in rows if str(r["aspect"]).split(" (")[0] == aspect]
        if aspect == "code" and changed:
            parts.append(f"code commit {str(changed[0][a])[:10]} -> {str(changed[0][b])[:10]}")
        elif changed:
            keys = list(dict.fromkeys(str(r["key"]) for r in changed))
            parts.append(f"{count(len(keys), word)} ({listing(keys, 2)})")
    return "; ".join(parts)


def diff_model_versions_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    changed = [dict(r, aspect=f"{r['aspect']} (x)") for r in rows if r.get("differs")]
    a, b = short(params.get("a")), short(params.get("b"))
    if not changed:
        return f"{a} and {b} have the same recorded upstream."
    return f"{a} vs {b}: {count(len(changed), 'fact')} differ. " + differences(changed).replace(
        "only in a", f"only in {a}").replace("only in b", f"only in {b}") + "."


def serving_model_at_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    if not rows:
        return f"No alias of {short(params.get('model'))} held a version at {params.get('at')}."
    return " ".join(f"At {params.get('at')}, {r['alias']} of {r['model']} was {short(r['model_version'])} "
                    f"(from {r['valid_from']} to {r['valid_to'] or 'now'}; "
                    f"{count(int(r['predictions_while_serving'] or 0), 'prediction')} while serving)."
                    for r in rows[:3])


def training_serving_skew_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    by = {s: [r["feature"] for r in rows if r["status"] == s] for s in ("both", "training only", "serving only")}
    text = f"{short(params.get('model_version'))}: {count(len(by['both']), 'feature')} in training and serving"
    for status in ("training only", "serving only"):
        if by[status]:
            text += f"; {len(by[status])} {status} ({listing(by[status])})"
    return text + "."


def models_in_chain_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    chain = [f"{short(r['model_version'])}" + (" (unresolved)" if r["unresolved"] else "") for r in rows]
    rules = sorted({r["override"] for r in rows if r.get("override")})
    text = f"{short(params.get('prediction'))} involved {count(len(rows), 'model version')}: {' <- '.join(chain)}."
    return text + (f" Overridden by {listing(rules)}." if rules else "")


def lineage_gaps_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    present = [r for r in rows if int(r["count"] or 0)]
    if not present:
        return "No lineage gaps found."
    return f"{len(present)} of {len(rows)} kinds of gap: " + listing([f"{r['gap']} ({number(r['count'])})" for r in present], 7) + "."


def subject_history_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    who = params.get("subject")
    if not rows:
        return f"No predictions about {who}."
    subjects = sorted({r["subject_id"] for r in rows if r.get("subject_id")})
    times = sorted(str(r["timestamp"]) for r in rows if r.get("timestamp"))
    text = (f"{count(len(rows), 'prediction')} about {who} ({count(len(subjects), 'subject')}), "
            f"{times[0]} to {times[-1]}.") if times else f"{count(len(rows), 'prediction')} about {who}."
    for model in sorted({r["model"] for r in rows if r.get("model")})[:2]:
        mine = [r for r in rows if r["model"] == model and isinstance(r["output"], (int, float))]
        if len(mine) > 1:
            low, high = min(mine, key=lambda r: r["output"]), max(mine, key=lambda r: r["output"])
            text += (f" {model}: from {number(low['output'])} ({short(low['prediction'])}, "
                     f"{short(low['model_version'])}) to {number(high['output'])} ({short(high['prediction'])}, "
                     f"{short(high['model_version'])}).")
    return text


def compare_predictions_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    a, b = short(params.get("a")), short(params.get("b"))
    out = next(iter(where(rows, aspect="output")), None)
    text = ""
    if out and out.get("ratio") and num.factor_words(out["a"], out["b"]):
        text = f"{b}'s output {number(out['b'])} is {num.factor_words(out['a'], out['b'])} than {a}'s {number(out['a'])}. "
    elif out:
        text = f"{b}'s output {number(out['b'])} vs {a}'s {number(out['a'])}. "
    versions = [f"{short(r['a'])} vs {short(r['b'])}" for r in where(rows, aspect="model version")]
    if versions:
        text += f"Models: {listing(versions)}. "
    diff = differences([r for r in rows if " (" in str(r["aspect"])]).replace("only in a", f"only in {a}'s model") \
        .replace("only in b", f"only in {b}'s model")
    return (text + (f"Upstream: {diff}." if diff else "Same model versions upstream.")).strip()


def what_changed_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    version = next(iter(where(rows, aspect="model version")), None)
    if version is None:
        return f"{short(params.get('prediction'))} names no known model version."
    if not version["before"]:
        return f"{short(params.get('prediction'))} was made by {short(version['after'])}; no earlier version is known."
    basis = next((str(r["before"]) for r in where(rows, aspect="basis")), "")
    how = basis if basis.startswith("served") else "is the previous version number"
    text = (f"{short(params.get('prediction'))} was made by {short(version['after'])}; the last known good "
            f"{short(version['before'])} {how}. ")
    diff = differences([r for r in rows if " (" in str(r["aspect"]) and not str(r["aspect"]).startswith("serving")],
                       "before", "after").replace("only in after", f"only in {short(version['after'])}") \
        .replace("only in before", f"only in {short(version['before'])}")
    return text + (f"What changed: {diff}." if diff else "No upstream difference recorded.")


def generic_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    """For a question without its own headline: how many rows."""
    return f"{count(len(rows), 'row')}."


def explain_headline(rows: Rows, params: Mapping[str, Any]) -> str:
    who = short(params.get("prediction")) + (f" vs {short(params['against'])}" if params.get("against") else "")
    if not rows:
        return f"{who}: no cause found: nothing recorded differs upstream, in the inputs or the overrides."
    top = rows[0]
    text = f"{who}: first cause ({top['kind']}): {top['cause']}"
    if isinstance(top.get("reach"), int):
        text += f"; {count(top['reach'], 'prediction')} share it"
    return text + f". {count(len(rows), 'cause')} in all."
