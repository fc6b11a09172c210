"""A generated DVC project with a long git history, for bench/dvc_history.py.

    python -m bench.dvc_repo DEST [--commits 40] [--stages 50]

The files are written as text (no ``dvc repro``): ``dvc.yaml`` (deps, outs,
params, a metrics file every tenth stage), ``dvc.lock`` (schema 2.0, md5
hashes), ``params.yaml``, three ``dvc add``ed raw files and a ``.dvc/config``.
Stage ``s<i>`` depends on the output of ``s<(i-1)//2>`` (a tree, so a change
re-runs a few stages, not the whole pipeline). Every commit after the first
changes something a team would: a parameter (the stage and its children are
re-locked), now and then a stage's command, a new raw data version, or a new
stage. Deterministic: the same arguments give the same commits.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

RAW = ("customers", "transactions", "merchants")


def md5(*parts: object) -> str:
    return hashlib.md5(":".join(map(str, parts)).encode()).hexdigest()


@dataclass
class Project:
    """The pipeline's state: what each commit writes."""

    stages: int
    rng: random.Random
    params: dict[int, dict[str, float | int]] = field(default_factory=dict)
    cmds: dict[int, str] = field(default_factory=dict)
    runs: dict[int, int] = field(default_factory=dict)  # stage -> run count (its outputs' version)
    raw: dict[str, int] = field(default_factory=dict)  # raw file -> version

    def add_stage(self, i: int) -> None:
        self.params[i] = {"lr": round(self.rng.uniform(0.001, 0.1), 4), "epochs": self.rng.randint(5, 50),
                          "seed": i}
        self.cmds[i] = f"python src/s{i:03d}.py --in {self.dep(i)} --out {self.out(i)}"
        self.runs[i] = 1

    @staticmethod
    def out(i: int) -> str:
        return f"data/s{i:03d}/out.csv"

    def dep(self, i: int) -> str:
        return f"data/raw/{RAW[0]}.csv" if i == 0 else self.out((i - 1) // 2)

    def children(self, i: int, depth: int = 2) -> list[int]:
        kids = [k for k in (2 * i + 1, 2 * i + 2) if k in self.params]
        return kids + [g for k in kids for g in (self.children(k, depth - 1) if depth > 1 else [])]

    def rerun(self, i: int) -> None:
        for k in [i, *self.children(i)]:
            self.runs[k] += 1


def dvc_yaml(p: Project) -> str:
    lines = ["stages:"]
    for i in sorted(p.params):
        lines += [f"  s{i:03d}:", f"    cmd: {p.cmds[i]}", "    deps:", f"    - {p.dep(i)}", f"    - src/s{i:03d}.py",
                  "    params:", *(f"    - s{i:03d}.{k}" for k in p.params[i]), "    outs:", f"    - {p.out(i)}"]
        if i % 10 == 0:
            lines += ["    metrics:", f"    - metrics/s{i:03d}.json:", "        cache: false"]
    return "\n".join(lines) + "\n"


def lock_out(path: str, version: object) -> list[str]:
    size = int(md5(path, version)[:5], 16)
    return [f"    - path: {path}", "      hash: md5", f"      md5: {md5(path, version)}", f"      size: {size}"]


def dvc_lock(p: Project) -> str:
    lines = ["schema: '2.0'", "stages:"]
    for i in sorted(p.params):
        parent = (i - 1) // 2
        dep_version = p.raw[RAW[0]] if i == 0 else p.runs[parent]
        lines += [f"  s{i:03d}:", f"    cmd: {p.cmds[i]}", "    deps:", *lock_out(p.dep(i), dep_version),
                  *lock_out(f"src/s{i:03d}.py", p.cmds[i]), "    params:", "      params.yaml:",
                  *(f"        s{i:03d}.{k}: {v}" for k, v in p.params[i].items()), "    outs:",
                  *lock_out(p.out(i), p.runs[i])]
        if i % 10 == 0:
            lines += [*lock_out(f"metrics/s{i:03d}.json", p.runs[i])]
    return "\n".join(lines) + "\n"


def params_yaml(p: Project) -> str:
    lines = []
    for i in sorted(p.params):
        lines += [f"s{i:03d}:", *(f"  {k}: {v}" for k, v in p.params[i].items())]
    return "\n".join(lines) + "\n"


def dvcfile(name: str, version: int) -> str:
    path = f"data/raw/{name}.csv"
    return (f"outs:\n- md5: {md5(path, version)}\n  size: {int(md5(path, version)[:6], 16)}\n  hash: md5\n"
            f"  path: {name}.csv\n")


def write(root: Path, p: Project) -> None:
    files = {"dvc.yaml": dvc_yaml(p), "dvc.lock": dvc_lock(p), "params.yaml": params_yaml(p)}
    for name, version in p.raw.items():
        files[f"data/raw/{name}.csv.dvc"] = dvcfile(name, version)
    for i in sorted(p.params):
        files[f"src/s{i:03d}.py"] = f"# stage s{i:03d}\nprint({p.cmds[i]!r})\n"
        if i % 10 == 0:
            files[f"metrics/s{i:03d}.json"] = f'{{"auc": {0.5 + (p.runs[i] % 50) / 100}, "run": {p.runs[i]}}}\n'
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def change(p: Project, n: int, grow: list[int]) -> str:
    """One commit's change to the project (``n`` counts from 1); its message."""
    if grow and n % 10 == 0:
        i = grow.pop(0)
        p.add_stage(i)
        return f"add stage s{i:03d}"
    if n % 15 == 0:
        name = RAW[0]
        p.raw[name] += 1
        p.rerun(0)
        return f"new {name} data"
    i = p.rng.choice(sorted(p.params))
    if n % 7 == 0:
        p.cmds[i] += " --fast"
        p.rerun(i)
        return f"s{i:03d}: faster command"
    key = p.rng.choice(["lr", "epochs"])
    p.params[i][key] = round(p.params[i][key] * 1.1, 4) if key == "lr" else p.params[i][key] + 1
    p.rerun(i)
    return f"s{i:03d}: tune {key}"


def generate(root: Path, commits: int, stages: int) -> None:
    """The repository at ``root`` (replaced if present)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    p = Project(stages, random.Random(17))
    added = min(commits // 10, max(stages - 1, 0))
    grow = list(range(stages - added, stages))
    for i in range(stages - added):
        p.add_stage(i)
    p.raw = dict.fromkeys(RAW, 1)
    (root / ".dvc").mkdir()
    (root / ".dvc/config").write_text("[core]\n    autostage = true\n")
    (root / ".dvc/.gitignore").write_text("/config.local\n/tmp\n/cache\n")
    (root / ".gitignore").write_text("/data/s*/\n/data/raw/*.csv\n")
    git(root, "init", "-q", "-b", "main")
    message = "pipeline"
    for n in range(commits):
        if n:
            message = change(p, n, grow)
        write(root, p)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", message, when=1_700_000_000 + n * 3600)


def git(root: Path, *args: str, when: int = 1_700_000_000) -> None:
    stamp = f"{when} +0000"
    env = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
           "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    subprocess.run(["git", "-C", str(root), *args], check=True, env=env)


def cached(base: Path, commits: int, stages: int) -> Path:
    """``base/dvc-<commits>x<stages>``, generated once (a ``.complete`` marker says it is whole)."""
    root = base / f"dvc-{commits}x{stages}"
    if not (root / ".complete").exists():
        generate(root, commits, stages)
        (root / ".complete").write_text("")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--commits", type=int, default=40)
    parser.add_argument("--stages", type=int, default=50)
    args = parser.parse_args()
    generate(args.dest, args.commits, args.stages)
    print(args.dest)


if __name__ == "__main__":
    main()
