"""The later complaints, after the cents story (2026-04-14 .. 2026-05-22), each with a
different root cause, for `provex explain`:

- library: credit-limit@8 differs from @7 only by its environment (creditkit 1.4.0 ->
  1.5.0 changed winsorize's defaults); the same customer, the same inputs, a lower limit;
- code: a feature code commit (purchase totals per household) retrained both models;
  a single customer's limit dropped from credit-limit@8 to @9;
- override: a new guardrail rule meant for customers of less than a year fired for
  tenures under 12 years; the same customer, the same inputs, before and under the rule;
- inputs: two spouses served minutes apart by the same model versions: nothing upstream
  differs, their inputs explain the gap.

Background requests (a few per weekday) give each cause its reach. The complaints'
customers are picked from trial requests (the biggest effect), deterministically.
"""
import numpy as np
import pandas as pd

from . import story
from .mlflow_store import ms


def background(seed: int, pool: list) -> list:
    """Requests on weekdays 08:00-18:00 UTC between LATER_START and LATER_END."""
    rng = np.random.default_rng(seed)
    days = [d for d in pd.date_range(story.LATER_START[:10], story.LATER_END[:10], tz="UTC")
            if d.weekday() < 5]
    out = []
    for day in days:
        for _ in range(story.LATER_PER_DAY):
            t = int(day.timestamp() * 1000) + int(rng.integers(8 * 3600, 18 * 3600)) * 1000
            t = max(t, ms(story.LATER_START) + int(rng.integers(60, 3600)) * 1000)
            out.append({"t": t, "customer_id": str(rng.choice(pool)), "channel": "later"})
    return out


def _trial(server, pairs: list) -> list:
    """Serve (customer, time) pairs; the served request dicts, in order."""
    reqs = [{"t": ms(t), "customer_id": c} for c, t in pairs]
    server.serve(reqs)
    return reqs


def _drop(server, customers: list, times: tuple) -> str:
    """The customer whose (uncapped) limit drops most between the two times."""
    served = _trial(server, [(c, t) for c in customers for t in times])
    best = None
    for before, after in zip(served[::2], served[1::2]):
        if not 0 < after["raw_limit"] < before["raw_limit"] <= story.MAX_LIMIT:
            continue
        key = (before["raw_limit"] / after["raw_limit"], before["customer_id"])
        best = max(best or key, key)
    return best[1]


def _misfired(server, customers: list) -> str:
    """A long-standing customer (2 to 11 years: the rule was meant for under 1) with the
    highest uncapped limit above the rule's cap."""
    served = _trial(server, [(c, story.OVERRIDE_TIMES[0]) for c in customers])
    fit = [r for r in served if 2 <= r["cl_inputs"]["tenure_years"] < story.MISFIRE_TENURE
           and 2 * story.MISFIRE_CAP < r["raw_limit"] <= story.MAX_LIMIT]
    return max(fit, key=lambda r: (r["raw_limit"], r["customer_id"]))["customer_id"]


def _spouses(server, couples: list) -> tuple:
    """The couple whose limits (same versions, minutes apart) differ most, both uncapped."""
    served = _trial(server, [(c, t) for pair in couples for c, t in zip(pair, story.INPUTS_TIMES)])
    best = None
    for a, b in zip(served[::2], served[1::2]):
        if not (0 < a["raw_limit"] <= story.MAX_LIMIT and 0 < b["raw_limit"] <= story.MAX_LIMIT):
            continue
        low, high = sorted((a, b), key=lambda r: r["raw_limit"])
        key = (high["raw_limit"] / low["raw_limit"], high["customer_id"], low["customer_id"])
        best = max(best or key, key)
    return best[1], best[2]


def requests(server, exclude: set) -> tuple:
    """(every later request, {story: (earlier request, complained-about request)})."""
    cust = server.customers
    cust = cust[~cust["customer_id"].isin(exclude)]
    pool = sorted(cust["customer_id"])
    size = cust.groupby("household_id")["customer_id"].transform("size")
    singles = sorted(cust.loc[size == 1, "customer_id"])
    couples = sorted(tuple(sorted(g)) for _, g in cust[size == 2].groupby("household_id")["customer_id"])
    used = set()
    library = _drop(server, pool, story.LIBRARY_TIMES)
    used.add(library)
    code = _drop(server, [c for c in singles if c not in used], story.CODE_TIMES)
    used.add(code)
    misfire = _misfired(server, [c for c in pool if c not in used])
    used.add(misfire)
    high, low = _spouses(server, [p for p in couples if not set(p) & used])
    picks = {"library": (library, library, story.LIBRARY_TIMES), "code": (code, code, story.CODE_TIMES),
             "override": (misfire, misfire, story.OVERRIDE_TIMES), "inputs": (high, low, story.INPUTS_TIMES)}
    stories = {name: tuple({"t": ms(t), "customer_id": c, "channel": "later", "story": name}
                           for c, t in zip((first, second), times))
               for name, (first, second, times) in picks.items()}
    reqs = background(20260414, [c for c in pool]) + [r for pair in stories.values() for r in pair]
    return reqs, stories
