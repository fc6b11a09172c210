"""Builds the DVC project in a fresh git repo, one commit per step of the story.

Each step: change code/data/params, `dvc add` the raw data, `dvc repro` (the training
stages log MLflow runs), `git add -A`, `git commit` with a fixed author and date.
The MLflow runs created by a step's `dvc repro` belong to that step's commit: the
commit whose dvc.lock locks the data and models they trained on.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from . import creditkit, rawdata, story

SRC = Path(__file__).parent / "pipeline_src"

# Run by every Python process the stages start (on their PYTHONPATH): MLflow's own ids
# (run ids, logged model ids, dataset and input uuids) drawn from a seed per step and
# script instead of the OS, so a regenerated sample has the same ids.
SITECUSTOMIZE = """\
import os, random, sys, uuid
_seed = os.environ.get("PV_SAMPLE_SEED")
_script = os.path.basename(sys.argv[0]) if sys.argv else ""
if _seed and _script.startswith(("train_", "evaluate")):
    _rng = random.Random(_seed + ":" + _script)
    uuid.uuid4 = lambda: uuid.UUID(int=_rng.getrandbits(128), version=4)
"""

DVC_YAML = """\
stages:
  prepare:
    foreach: ${months}
    do:
      cmd: python src/prepare.py ${item}
      deps:
        - src/prepare.py
        - data/raw/transactions/${item}.csv
      outs:
        - data/prepared/transactions/${item}.csv
  purchase_features:
    cmd: python src/features.py
    deps:
      - src/features.py
      - data/prepared/transactions
      - data/raw/customers.csv
    params:
      - months
      - features.window_months
    outs:
      - data/features/purchase_features.csv
  train_scoring:
    cmd: python src/train_scoring.py
    deps:
      - src/train_scoring.py
      - src/credit_common.py
      - data/features/purchase_features.csv
      - data/raw/historic_outcomes.csv
    params:
      - train_scoring
      - evaluate.holdout_fraction
    outs:
      - models/scoring.pkl
  train_credit_limit:
    cmd: python src/train_credit_limit.py
    deps:
      - src/train_credit_limit.py
      - src/credit_common.py
      - data/features/purchase_features.csv
      - data/raw/historic_outcomes.csv
      - data/raw/market_conditions.csv
      - data/raw/cost_risk.csv
      - models/scoring.pkl
    params:
      - credit_limit
      - evaluate.holdout_fraction
    outs:
      - models/credit_limit.pkl
  evaluate:
    cmd: python src/evaluate.py
    deps:
      - src/evaluate.py
      - src/credit_common.py
      - data/features/purchase_features.csv
      - data/raw/historic_outcomes.csv
      - data/raw/market_conditions.csv
      - data/raw/cost_risk.csv
      - models/scoring.pkl
      - models/credit_limit.pkl
    params:
      - evaluate
    metrics:
      - metrics/evaluate.json:
          cache: false
"""

REPO_README = """\
# credit-offer pipeline

Customer data and historic data feed a purchase analysis (purchase_features) and a
scoring model (train_scoring); the cost and risk function and market conditions feed
the credit limit model (train_credit_limit), which makes the offer.

    dvc repro      # needs MLFLOW_TRACKING_URI; training stages log runs and register models
"""


class DvcRepo:
    def __init__(self, path: Path, tracking_uri: str):
        self.path = path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "DVC_"))}
        self.env.update({
            "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
            "DVC_NO_ANALYTICS": "1", "MLFLOW_TRACKING_URI": tracking_uri,
            "USER": "ml-pipeline", "LOGNAME": "ml-pipeline", "PYTHONHASHSEED": "0",
            "PYTHONWARNINGS": "ignore", "TQDM_DISABLE": "1", "TZ": "UTC",
            # OpenBLAS picks its kernels by CPU; pin them (AVX2) so the models' floats, hence
            # their pickles' md5s and the commit shas, are the same on every x86-64 machine.
            "OPENBLAS_CORETYPE": "Haswell",
        })
        self.hooks = path.parent / "pyhooks"
        self.hooks.mkdir(parents=True, exist_ok=True)
        (self.hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
        self.customers = rawdata.customers()
        self.params = None

    def run(self, *cmd: str, env: dict | None = None) -> str:
        res = subprocess.run(cmd, cwd=self.path, env={**self.env, **(env or {})},
                             capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}")
        return res.stdout.strip()

    def write(self, rel: str, text: str) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    def copy_src(self, name: str, dest: str) -> None:
        self.write(f"src/{dest}", (SRC / name).read_text())

    def write_csv(self, rel: str, df) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(p, index=False)

    def write_params(self) -> None:
        self.write("params.yaml", yaml.safe_dump(self.params, sort_keys=False))

    def add_month(self, month: str, cents: bool = False) -> str:
        tx = rawdata.transactions(self.customers, month)
        rel = f"data/raw/transactions/{month}.csv"
        self.write_csv(rel, rawdata.in_cents(tx) if cents else tx)
        return rel

    # ---- the steps -------------------------------------------------------------------
    def init(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.run("git", "init", "-q", "-b", "main")
        self.run("git", "config", "user.name", story.GIT_NAME)
        self.run("git", "config", "user.email", story.GIT_EMAIL)
        self.run("dvc", "init", "-q")
        self.run("dvc", "config", "core.analytics", "false")

    def apply(self, key: str) -> list[str]:
        """Make the change of step `key`; return the raw files to `dvc add`."""
        if key == "a":
            for name, dest in [("prepare.py", "prepare.py"), ("features_v1.py", "features.py"),
                               ("credit_common.py", "credit_common.py"),
                               ("train_scoring.py", "train_scoring.py"),
                               ("train_credit_limit.py", "train_credit_limit.py"),
                               ("evaluate.py", "evaluate.py")]:
                self.copy_src(name, dest)
            self.write("dvc.yaml", DVC_YAML)
            self.write("README.md", REPO_README)
            self.params = {
                "months": list(story.INITIAL_MONTHS),
                "features": {"window_months": 3},
                "train_scoring": {"C": 0.5, "seed": 7},
                "credit_limit": {"alpha": 1.0},
                "evaluate": {"holdout_fraction": 0.2},
            }
            raw = {"data/raw/customers.csv": rawdata.public_customers(self.customers),
                   "data/raw/historic_outcomes.csv": rawdata.historic_outcomes(self.customers),
                   "data/raw/market_conditions.csv": rawdata.market_conditions(),
                   "data/raw/cost_risk.csv": rawdata.cost_risk()}
            for rel, df in raw.items():
                self.write_csv(rel, df)
            added = list(raw) + [self.add_month(m) for m in story.INITIAL_MONTHS]
        elif key == "b":
            self.params["months"].append("2026-01")
            added = [self.add_month("2026-01")]
        elif key == "c":
            self.params["credit_limit"]["alpha"] = 0.3
            added = []
        elif key == "d":
            self.copy_src("features_v2.py", "features.py")
            added = []
        elif key == "e":
            self.params["months"].append(story.BAD_MONTH)
            added = [self.add_month(story.BAD_MONTH, cents=True)]
        elif key == "f":
            self.copy_src("prepare_guarded.py", "prepare.py")
            added = [self.add_month(story.BAD_MONTH)]
        elif key == "g":
            self.copy_src("train_credit_limit_winsorized.py", "train_credit_limit.py")
            self.write("requirements.txt", "creditkit==1.4.0\n")
            added = []
        elif key == "h":
            self.write("requirements.txt", "creditkit==1.5.0\n")
            added = []
        elif key == "i":
            self.copy_src("features_v3.py", "features.py")
            added = []
        else:
            raise ValueError(key)
        self.write_params()
        return added

    def stage_env(self, key: str) -> dict:
        """The training environment of step ``key``: uuid seeds, and creditkit from step g."""
        paths = [str(self.hooks)]
        if key in story.CREDITKIT:
            paths.append(str(creditkit.install(self.path.parent / "libs", story.CREDITKIT[key])))
        return {"PV_SAMPLE_SEED": f"provex-sample-{key}", "PYTHONPATH": os.pathsep.join(paths)}

    def step(self, key: str, date: str, author: str, message: str) -> str:
        added = self.apply(key)
        if added:
            self.run("dvc", "add", "-q", *added)
        env = self.stage_env(key)
        if key in story.FORCED:  # only the environment changed: re-run the stage by hand
            self.run("dvc", "repro", "-q", "-f", "-s", story.FORCED[key], env=env)
        self.run("dvc", "repro", "-q", env=env)
        self.run("git", "add", "-A")
        email = story.EMAILS[author]
        self.run("git", "commit", "-q", "-m", message, env={
            "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": date})
        return self.run("git", "rev-parse", "HEAD")

    def lock(self) -> dict:
        return yaml.safe_load((self.path / "dvc.lock").read_text())

    def bundle(self, dest: Path) -> None:
        self.run("git", "bundle", "create", str(dest), "--all")

    def cache_tarball(self, dest: Path) -> None:
        shutil.make_archive(str(dest).removesuffix(".tar.gz"), "gztar",
                            root_dir=self.path / ".dvc", base_dir="cache")
