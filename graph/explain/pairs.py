"""The model version pairs an explanation compares, and what differs upstream
of each, read from the rows of the catalog's comparison questions.

``compare-predictions`` (against another prediction) and ``what-changed``
(against the last known good version) both list, per model of a chain, the
upstream facts of two model versions that differ (``aspect (model name)``:
data, data added by, code, stage, param, library, data profile). Here they
become one plain dict per model: the two versions and their differences by
kind, code files apart from data (a ``.py`` dependency that changed is a code
change, whatever the pipeline calls it).

Pure functions of rows (no graph): unit-tested without Neo4j.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

#: Suffixes of files that are code, not data (a dependency of a stage or a training run).
CODE_SUFFIXES = frozenset({
    ".py", ".ipynb", ".r", ".sql", ".sh", ".bash", ".scala", ".java", ".kt", ".js", ".ts", ".jl", ".m", ".c", ".cc",
    ".cpp", ".h", ".hpp", ".go", ".rs", ".rb", ".pl", ".lua", ".swift", ".cs", ".fs", ".hs", ".ml", ".clj", ".groovy",
})
#: Aspects of the diff rows, as the questions write them before `` (model name)``.
KINDS = ("data", "data added by", "code", "stage", "param", "library", "data profile")


def is_code(path: str) -> bool:
    """Whether a dependency path is source code (by its suffix)."""
    return PurePosixPath(str(path)).suffix.lower() in CODE_SUFFIXES


def split_aspect(aspect: str) -> tuple[str, str | None]:
    """``data added by (credit-limit)`` -> (``data added by``, ``credit-limit``)."""
    text = str(aspect)
    if text.endswith(")") and " (" in text:
        base, _, name = text.rpartition(" (")
        return base, name[:-1]
    return text, None


def split_key(key: str) -> tuple[str, str | None]:
    """``data/x.csv (md5)`` -> (``data/x.csv``, ``md5``)."""
    text = str(key)
    if text.endswith(")") and " (" in text:
        path, _, kind = text.rpartition(" (")
        return path, kind[:-1]
    return text, None


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and value != ""


def empty() -> dict[str, Any]:
    return {"data_only_a": [], "data_only_b": [], "data_changed": [], "code": [], "added_by": {}, "libraries": [],
            "params": [], "stages": [], "commit": None, "profile": []}


def differences(rows: Iterable[Mapping[str, Any]], name: str, a: str = "a", b: str = "b") -> dict[str, Any]:
    """What differs upstream between the two versions of model ``name``, by kind."""
    out = empty()
    for row in rows:
        base, who = split_aspect(row.get("aspect", ""))
        if who != name or base not in KINDS:
            continue
        va, vb = (row.get(a) if _given(row.get(a)) else None), (row.get(b) if _given(row.get(b)) else None)
        key = str(row.get("key"))
        if base == "data":
            path, kind = split_key(key)
            entry = {"path": path, "hash_kind": kind, "a": va, "b": vb}
            target = "code" if is_code(path) else "data_only_b" if va is None else "data_only_a" if vb is None else "data_changed"
            out[target].append(entry)
        elif base == "data added by":
            out["added_by"][key] = {"a": va, "b": vb}
        elif base == "code":
            out["commit"] = {"a": va, "b": vb}
        elif base == "data profile":
            out["profile"].append({"key": key, "a": va, "b": vb})
        else:
            out[{"library": "libraries", "param": "params", "stage": "stages"}[base]].append({"key": key, "a": va, "b": vb})
    return out


def add_stage_code(diff: dict[str, Any], deps_a: Sequence[Mapping[str, Any]], deps_b: Sequence[Mapping[str, Any]]) -> None:
    """Code files of the training stages themselves (the DVC stage linked to each
    training run: ``src/train.py``), which the data closure of the diffs does not reach."""
    seen = {e["path"] for e in diff["code"]}
    side_a = {d["path"]: d["hash"] for d in deps_a if is_code(d["path"])}
    side_b = {d["path"]: d["hash"] for d in deps_b if is_code(d["path"])}
    for path in sorted((set(side_a) | set(side_b)) - seen):
        if side_a.get(path) != side_b.get(path):
            diff["code"].append({"path": path, "hash_kind": "md5", "a": side_a.get(path), "b": side_b.get(path)})


def substantive(diff: Mapping[str, Any]) -> list[str]:
    """The kinds of difference that can change a model: data, code, library, params, stages."""
    kinds = []
    if diff["data_only_b"] or diff["data_only_a"] or diff["data_changed"]:
        kinds.append("data")
    for kind in ("code", "libraries", "params", "stages"):
        if diff[kind]:
            kinds.append(kind)
    return kinds


def name_of(model_version: str | None) -> str | None:
    """``model:credit-limit@5`` -> ``credit-limit``."""
    if not model_version:
        return None
    return model_version.split(":", 1)[-1].rsplit("@", 1)[0]


def short(uid: object) -> str:
    """A uid without its kind prefix."""
    text = str(uid)
    return text.split(":", 1)[1] if ":" in text else text


def compared_pairs(rows: Sequence[Mapping[str, Any]], chain_b: Sequence[Mapping[str, Any]],
                   chain_a: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """compare-predictions rows (a = the compared prediction, b = the explained one)
    -> one pair per model of the chains, the explained prediction's own model first."""
    own = name_of(chain_b[0]["model_version"]) if chain_b else None
    by_name_b = {name_of(r["model_version"]): r for r in sorted(chain_b, key=lambda r: -r["hop"]) if r["model_version"]}
    by_name_a = {name_of(r["model_version"]): r for r in sorted(chain_a, key=lambda r: -r["hop"]) if r["model_version"]}
    pairs = []
    for row in rows:
        if row.get("aspect") != "model version":
            continue
        name = str(row["key"])
        a, b = row.get("a") if _given(row.get("a")) else None, row.get("b") if _given(row.get("b")) else None
        mine, theirs = by_name_b.get(name), by_name_a.get(name)
        pairs.append({"model": name, "role": "own" if name == own else "upstream",
                      "prediction": mine["uid"] if mine else None, "against": theirs["uid"] if theirs else None,
                      "a": a, "b": b, "basis": "the compared prediction's", "diff": differences(rows, name)})
    pairs.sort(key=lambda p: (p["role"] != "own", p["model"]))
    return pairs


def changed_pair(rows: Sequence[Mapping[str, Any]], prediction: str, role: str) -> dict[str, Any] | None:
    """what-changed rows of ``prediction`` -> its model's pair (last known good, made it)."""
    version = next((r for r in rows if r.get("aspect") == "model version"), None)
    if version is None:
        return None
    basis = next((str(r.get("before")) for r in rows if r.get("aspect") == "basis"), "")
    served = {str(r.get("key")): (r.get("before"), r.get("after")) for r in rows
              if str(r.get("aspect", "")).startswith("serving (")}
    alias = next((split_aspect(r["aspect"])[1] for r in rows if str(r.get("aspect", "")).startswith("serving (")), None)
    name = str(version["key"])
    a = version.get("before") if _given(version.get("before")) else None
    return {"model": name, "role": role, "prediction": prediction, "against": None, "a": a, "b": version.get("after"),
            "basis": basis or None, "alias": alias, "served": served,
            "diff": differences(rows, name, "before", "after")}


def input_deltas(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """compare-predictions' inputs that differ, the biggest relative change first."""
    out = []
    for row in rows:
        if row.get("aspect") != "input" or not row.get("differs"):
            continue
        ratio = row.get("ratio") if _given(row.get("ratio")) else None
        size = abs(math.log(ratio)) if isinstance(ratio, (int, float)) and ratio > 0 else math.inf
        out.append({"input": str(row["key"]), "a": row.get("a"), "b": row.get("b"), "ratio": ratio, "size": size})
    out.sort(key=lambda d: (-d["size"], d["input"]))
    return out
