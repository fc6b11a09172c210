"""Online serving simulation: customers ask for an offer; the production versions of
credit-scoring and credit-limit (loaded from the registry with mlflow.pyfunc) score them.
Inputs come from the online feature service: the feature code of the model's commit
applied to the live (correct, dollar) transactions of the last three months."""
import hashlib
import importlib.util
import json
import math
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from . import rawdata, story
from .mlflow_store import iso, ms

SRC = Path(__file__).parent / "pipeline_src"
ALL_MONTHS = story.INITIAL_MONTHS + ["2026-01", story.BAD_MONTH]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"pv_sample_{name}", SRC / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def input_hash(inputs: dict) -> str:
    canon = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canon.encode()).hexdigest()


class Server:
    def __init__(self, uri: str, steps: list, versions: dict):
        """steps: [{key, sha, time, months}], versions: {(name, v): {step, ...}}."""
        mlflow.set_tracking_uri(uri)
        self.cc = _load("credit_common")
        prep = _load("prepare")
        self.fcode = {"v1": _load("features_v1"), "v2": _load("features_v2"), "v3": _load("features_v3")}
        cust = rawdata.customers()
        self.customers = rawdata.public_customers(cust)
        self.household = dict(zip(self.customers["customer_id"], self.customers["household_id"]))
        self.tx = pd.concat(prep.clean(rawdata.transactions(cust, m), m) for m in ALL_MONTHS)
        self.base_rate = rawdata.market_conditions().set_index("month")["base_rate"]
        self.cost_risk = rawdata.cost_risk()
        self.steps = sorted(steps, key=lambda s: s["time"])
        self.versions = versions
        self.code_sha = {"v1": self._step("a")["sha"], "v2": self._step("d")["sha"], "v3": self._step("i")["sha"]}
        self.models, self.frames = {}, {}

    def _step(self, key):
        return next(s for s in self.steps if s["key"] == key)

    def code_of(self, name, version):
        step = self.versions[(name, version)]["step"]
        return "v1" if step in "abc" else "v3" if step >= "i" else "v2"

    def window(self, t: int) -> tuple:
        live = [s for s in self.steps if ms(s["time"]) <= t][-1]
        return tuple(live["months"][-3:])

    @staticmethod
    def production(name: str, t: int) -> str:
        moves = [v for when, n, v in story.ALIAS_MOVES if n == name and ms(when) <= t]
        return moves[-1]

    def model(self, name, version):
        if (name, version) not in self.models:
            self.models[(name, version)] = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
        return self.models[(name, version)]

    def features(self, code: str, window: tuple) -> pd.DataFrame:
        if (code, window) not in self.frames:
            f = self.fcode[code].compute(self.tx, self.customers, list(window))
            self.frames[(code, window)] = f.set_index("customer_id", drop=False)
        return self.frames[(code, window)]

    def serve(self, requests: list) -> list:
        """requests: [{t, customer_id}] -> the same dicts with scoring and limit results."""
        for r in requests:
            r["sc_version"] = self.production("credit-scoring", r["t"])
            r["cl_version"] = self.production("credit-limit", r["t"] + 2000)
        for v in sorted({r["sc_version"] for r in requests}):
            batch = [r for r in requests if r["sc_version"] == v]
            code = self.code_of("credit-scoring", v)
            x = pd.concat([self.features(code, self.window(r["t"])).loc[[r["customer_id"]]]
                           for r in batch])
            x = x[self.cc.feature_columns(x)]
            proba = self.model("credit-scoring", v).predict(x)[:, 1]
            for r, row, p in zip(batch, x.to_dict("records"), proba):
                r.update(sc_inputs=row, score=round(float(p), 4), sc_code=code)
        for v in sorted({r["cl_version"] for r in requests}):
            batch = [r for r in requests if r["cl_version"] == v]
            code = self.code_of("credit-limit", v)
            f = pd.concat([self.features(code, self.window(r["t"])).loc[[r["customer_id"]]]
                           for r in batch]).reset_index(drop=True)
            rates = [float(self.base_rate[iso(r["t"])[:7]]) for r in batch]
            x = self.cc.limit_frame(f, [r["score"] for r in batch], self.cost_risk, rates)
            pred = self.model("credit-limit", v).predict(x)
            for r, row, p in zip(batch, x.to_dict("records"), pred):
                r.update(cl_inputs={k: round(float(val), 4) for k, val in row.items()},
                         raw_limit=round(float(p), -1), cl_code=code)
        return requests


def schedule(seed: int, exclude: set, customers: list) -> list:
    """Online requests: weekdays 08:00-18:00 UTC between SERVING_START and SERVING_END."""
    rng = np.random.default_rng(seed)
    days = [d for d in pd.date_range(story.SERVING_START[:10], story.SERVING_END[:10], tz="UTC")
            if d.weekday() < 5]
    pool = [c for c in customers if c not in exclude]
    out = []
    for _ in range(story.N_REQUESTS):
        day = days[int(rng.integers(len(days)))]
        t = int(day.timestamp() * 1000) + int(rng.integers(8 * 3600, 18 * 3600)) * 1000
        t = max(t, ms(story.SERVING_START) + int(rng.integers(60, 3600)) * 1000)
        out.append({"t": t, "customer_id": str(rng.choice(pool)), "channel": "online"})
    # a few requests in the half hour where scoring@bad was live but credit-limit was not yet
    for minute in (4, 11, 19, 26):
        out.append({"t": ms("2026-03-10T09:00:00Z") + minute * 60_000 + 17_000,
                    "customer_id": str(rng.choice(pool)), "channel": "online"})
    return out


def pick_complaint(server: Server) -> tuple:
    """The household whose spouses' limits differ closest to 20x (one good, one bad)."""
    c = server.customers
    couples = c.groupby("household_id")["customer_id"].agg(list)
    couples = couples[couples.map(len) == 2]
    reqs = []
    for h, (a, b) in couples.items():
        for good, bad in ((a, b), (b, a)):
            reqs.append({"t": ms(story.SPOUSE_GOOD_TIME), "customer_id": good, "pair": (h, good, bad)})
            reqs.append({"t": ms(story.SPOUSE_BAD_TIME), "customer_id": bad, "pair": (h, good, bad)})
    server.serve(reqs)
    best = None
    for g, b in zip(reqs[::2], reqs[1::2]):
        if g["raw_limit"] > story.MAX_LIMIT or b["raw_limit"] <= 0:
            continue
        err = abs(math.log(g["raw_limit"] / b["raw_limit"] / 20.0))
        if best is None or err < best[0]:
            best = (err, g["pair"])
    return best[1]
