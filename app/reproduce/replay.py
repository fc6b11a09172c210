"""Replaying a logged prediction: the exact model version (MLflow pyfunc), the
logged inputs, chained upstream predictions replayed first and fed in the way
the log records them, and the result compared with the logged output.

An upstream prediction's output is fed into the input whose logged value
equals that output as logged (e.g. a scoring model's 0.6444 logged as the
credit-limit model's ``score``), rounded the way it was logged. Inputs that
the serving code derived from it (such as a risk band) are fed as logged:
provex does not know that code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from provex.app.reproduce.models import CannotRun, Models, predict
from provex.app.reproduce.outcome import compare, post_process
from provex.graph import replays
from provex.graph.connection import Graph
from provex.vocab import numbers as num
from provex.vocab.errors import UsageError


@dataclass
class Replay:
    prediction: str
    model_version: str | None
    logged_model_version: str | None
    logged_output: float | None
    replayed_output: float | None = None
    replayed_as_logged: float | None = None
    outcome: str = "could-not-run"
    post_processing: str = ""
    tolerance: str = ""
    reason: str = ""
    read_from: str = ""
    loaded_from: str = ""
    override: dict | None = None
    fed: dict[str, dict] = field(default_factory=dict)
    upstream: list[Replay] = field(default_factory=list)
    with_logged_model: dict | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One sentence for people."""
        if self.outcome == "could-not-run":
            return f"{self.prediction}: could not run: {self.reason}"
        line = (f"{self.prediction} with {self.model_version} -> {_num(self.replayed_output)}"
                f" (logged {_num(self.logged_output)}): {self.outcome}")
        if self.post_processing and self.outcome != "differs":
            line += f", after post-processing: {self.post_processing}"
        if self.with_logged_model:
            other = self.with_logged_model
            line += (f". Same inputs: {self.model_version} -> {_num(self.replayed_output)}; "
                     f"the logged model {other['model_version']} -> {_num(other.get('replayed_output'))}")
        return line


def _num(value: float | None) -> str:
    return "?" if value is None else num.number(value, num.BRIEF)


def facts_of(graph: Graph, uid: str) -> dict[str, Any]:
    facts = replays.prediction(graph, uid)
    if facts is None:
        raise UsageError(f"No prediction {uid!r} in the graph. Try `provex search {uid.split(':', 1)[-1]}`.")
    return facts


def compared_output(facts: Mapping[str, Any]) -> float | None:
    """The value the model itself produced as logged: before an override."""
    override = facts.get("override") or {}
    for value in (override.get("original_output"), facts.get("original_output"), facts.get("output")):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def replay(graph: Graph, uid: str, *, model: str | None = None, models: Models | None = None,
           substitute: Mapping[str, Any] | None = None, upstream_models: Mapping[str, str] | None = None,
           depth: int = 0) -> Replay:
    """Replay prediction ``uid`` through its model version (or ``model``).

    ``substitute`` replaces logged inputs (name -> value) after the chain is
    fed; ``upstream_models`` replays an upstream prediction through another
    version (upstream uid -> model version uid)."""
    models = models or Models()
    facts = facts_of(graph, uid)
    logged_mv = (facts.get("model_version") or {}).get("uid")
    result = Replay(uid, model or logged_mv, logged_mv, compared_output(facts), override=facts.get("override"))
    try:
        inputs = _chain(graph, facts, result, models, upstream_models or {}, depth)
        inputs.update(substitute or {})
        mv_facts = _model_facts(graph, facts, model)
        loaded = models.load(mv_facts)
        value, result.read_from = predict(loaded, inputs)
        result.loaded_from = loaded.uri
    except CannotRun as exc:
        result.reason = str(exc)
        return result
    _judge(result, value)
    if model and model != logged_mv and depth == 0:
        result.with_logged_model = _with_logged(graph, uid, models, substitute, upstream_models)
    return result


def _model_facts(graph: Graph, facts: Mapping[str, Any], model: str | None) -> Mapping[str, Any]:
    if not model:
        return facts
    found = replays.model_version(graph, model)
    if found is None:
        raise UsageError(f"No model version {model!r} in the graph (give e.g. model:credit-limit@4).")
    return found


def _judge(result: Replay, value: float) -> None:
    result.replayed_output = value
    logged = result.logged_output
    if logged is None or not math.isfinite(value):
        result.outcome, result.reason = "differs", "no numeric logged output to compare with"
        return
    cmp = compare(value, logged)
    result.outcome, result.post_processing, result.tolerance = cmp.outcome, cmp.post_processing, cmp.tolerance
    result.replayed_as_logged = post_process(value, logged)
    override = result.override
    if override:
        result.post_processing += (f"; then override {override.get('rule')} changed {override.get('original_output')}"
                                   f" to {override.get('final_output')} (compared before the override)")


def _with_logged(graph: Graph, uid: str, models: Models, substitute: Mapping[str, Any] | None,
                 upstream_models: Mapping[str, str] | None) -> dict[str, Any]:
    other = replay(graph, uid, models=models, substitute=substitute, upstream_models=upstream_models, depth=1)
    return {"model_version": other.model_version, "replayed_output": other.replayed_output,
            "outcome": other.outcome, "reason": other.reason}


def _chain(graph: Graph, facts: Mapping[str, Any], result: Replay, models: Models,
           upstream_models: Mapping[str, str], depth: int) -> dict[str, Any]:
    """The logged inputs, with each upstream prediction replayed and fed in."""
    inputs = dict(facts["inputs"])
    if depth >= replays.MAX_CHAIN:
        return inputs
    for up_uid in facts["upstream"]:
        up = replay(graph, up_uid, model=upstream_models.get(up_uid), models=models,
                    upstream_models=upstream_models, depth=depth + 1)
        result.upstream.append(up)
        key = _fed_input(inputs, facts_of(graph, up_uid))
        if key is None:
            continue
        if up.replayed_output is None:  # keep the logged value, say so
            result.fed[key] = {"logged": inputs[key], "fed": inputs[key], "from": up_uid,
                               "note": f"upstream not replayed ({up.reason}); fed as logged"}
            continue
        value = up.replayed_as_logged if up.replayed_as_logged is not None else up.replayed_output
        result.fed[key] = {"logged": inputs[key], "fed": value, "from": up_uid}
        inputs[key] = value
    return inputs


def _fed_input(inputs: Mapping[str, Any], upstream: Mapping[str, Any]) -> str | None:
    """The input that carries the upstream prediction's output as logged."""
    out = upstream.get("output")
    if not isinstance(out, (int, float)):
        return None
    hits = [k for k, v in inputs.items() if isinstance(v, (int, float)) and math.isclose(v, out, rel_tol=1e-12, abs_tol=1e-12)]
    return sorted(hits)[0] if hits else None
