"""The short readable label drawn under each node of a lineage picture:
``2026-02.csv`` / ``@04fc6d27`` (a data version: file name, short hash),
``prepare`` / ``@2026-02`` (a stage run), ``credit-limit@5``, ``df526a8`` (a
commit short sha); on narrow lines (:data:`LINE_CHARS`), so that many nodes
side by side still fit, and with one more line where two nodes would read
alike (the folder that tells two ``2026-02.csv`` apart, the commit of a stage
run)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

LABEL_CHARS = 24
LINE_CHARS = 14  # narrow label lines: many nodes side by side still fit


def short_label(node: Mapping[str, Any]) -> str:
    """A few characters that identify a node on the canvas, wrapped to narrow
    lines: ``2026-02.csv`` / ``@04fc6d27``, ``prepare`` / ``@2026-02`` (a stage
    run), ``credit-limit@5``, ``df526a8`` (a commit)."""
    label, uid = node.get("label", ""), str(node.get("uid", ""))
    key = uid.split(":", 1)[1] if ":" in uid else uid
    if label == "DataVersion":
        path, _, digest = key.rpartition("@")
        path, digest = str(node.get("path") or path), str(node.get("hash") or digest).rsplit(":", 1)[-1]
        return wrap(path.rsplit("/", 1)[-1]) + f"\n@{digest[:8]}" if path else wrap(key)
    if label == "CodeVersion":
        return str(node.get("sha") or key)[:7]
    if label == "Run":
        return wrap(str(node.get("stage") or node.get("name") or node.get("run_id") or key))
    if label == "Environment":  # "4 requirements, python 3.11.7": the python version first
        return wrap(", ".join(reversed(str(node.get("name") or key).split(", "))))
    if label == "LoggedModel":
        return "model\n" + str(node.get("model_id") or key)[:10]
    if label == "Dataset":
        return wrap(str(node.get("path") or node.get("name") or key).rstrip("/").rsplit("/", 1)[-1])
    if label in ("ModelVersion", "Library", "Prediction", "Feature", "Model"):
        return wrap(key)
    return wrap(str(node.get("name") or key))


def _cut(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


_STRONG = re.compile(r"(?=@)|(?===)|(?<=, )")  # model@version, name==version, a list
_SOFT = re.compile(r"(?<=[_/\-. ])")


def wrap(text: str, width: int = LINE_CHARS, lines: int = 2) -> str:
    """``text`` on at most ``lines`` lines of ``width`` characters: broken before
    ``@`` and ``==`` or after ``, `` first, then after ``_ - / .``, cut with an
    ellipsis when it does not fit."""
    out = [""]

    def put(token: str) -> None:
        if out[-1] and len(out[-1]) + len(token.rstrip()) > width:
            out.append("")
        out[-1] += token

    for piece in (p for p in _STRONG.split(text.strip()) if p):
        if len(piece.rstrip()) <= width:
            put(piece)
            continue
        for token in (t for t in _SOFT.split(piece) if t):
            while len(token) > width:  # a token wider than a line is cut where it must
                put(token[:width])
                token = token[width:]
            put(token)
    out = [line.strip() for line in out if line.strip()]
    if len(out) > lines:
        out = out[: lines - 1] + [_cut(" ".join(out[lines - 1:]), width)]
    return "\n".join(out)


def detail(node: Mapping[str, Any]) -> str:
    """A second label line that tells apart nodes with the same short label:
    the folder of a data version, the commit of a run, else the end of the uid."""
    label, uid = node.get("label"), str(node.get("uid", ""))
    if label in ("DataVersion", "Dataset") and "/" in str(node.get("path") or ""):
        folder = str(node["path"]).rsplit("/", 1)[0]
        return _cut(folder.split("/", 1)[-1] if "/" in folder else folder, LINE_CHARS)
    commit = node.get("commit") or node.get("git_commit")
    if label == "Run" and commit:
        return f"at {str(commit)[:7]}"
    return "\u2026" + uid[-(LINE_CHARS - 1):] if len(uid) > LINE_CHARS else uid


def labels(nodes: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """uid -> the label drawn under it: :func:`short_label`, plus :func:`detail`
    on a last line where two nodes would otherwise read alike (the same file
    name in two folders, one stage run at two commits)."""
    out = {str(n["uid"]): short_label(n) for n in nodes}
    alike: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for n in nodes:
        path = str(n.get("path") or "")
        name = path.rsplit("/", 1)[-1] if n.get("label") == "DataVersion" and path else out[str(n["uid"])]
        alike[f"{n.get('label')}:{name}"].append(n)
    for group in alike.values():
        folders = {str(n["uid"]): str(n.get("path") or "").split("/")[:-1] for n in group}
        if len({str(n.get("path") or n["uid"]) for n in group}) < 2:
            continue
        apart = [i for i in range(max(map(len, folders.values()))) if len({tuple(f[i:i + 1]) for f in folders.values()}) > 1]
        for n in group:
            parts = [folders[str(n["uid"])][i] for i in apart if i < len(folders[str(n["uid"])])]
            extra = _cut("/".join(parts), LINE_CHARS) if n.get("label") == "DataVersion" and parts else detail(n)
            out[str(n["uid"])] += f"\n{extra}"
    return out
