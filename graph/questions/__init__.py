"""The catalog of debugging questions (like datasette canned queries): each a
name, a title, a one-line description, typed parameters, stable result
columns and ONE read-only Cypher statement. The CLI (`provex ask`) and the
app both run questions from here through :func:`ask`.

Individual predictions live in the store beside the graph: a question about
them names its store step (:mod:`provex.graph.questions.stored`), which reads
them before the Cypher (as ``$params``) or after it (filling in the
predictions of the versions the Cypher found).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from provex.graph.connection import Graph
from provex.graph.questions import complaint as why
from provex.graph.questions import data, stored
from provex.graph.questions import headlines as hl
from provex.graph.questions import impact as down
from provex.graph.questions import upstream as up
from provex.graph.refs import normalize_time, resolve
from provex.vocab.errors import UsageError
from provex.vocab.values import INT_MAX, INT_MIN

DEFAULT_LIMIT = 1_000
DEFAULT_TIMEOUT = 30.0
PARAM_TYPES = ("ref", "str", "int", "datetime")
_PARAM_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Param:
    """One question parameter. ``label``: node kind of a ``ref`` param.
    Required unless it has a default or is ``optional`` (then null in Cypher)."""

    name: str
    type: str  # "ref" | "str" | "int" | "datetime"
    description: str
    default: object = None
    label: str | None = None
    optional: bool = False
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is None and not self.optional


Headline = Callable[[Sequence[Mapping[str, Any]], Mapping[str, Any]], str]
Finish = Callable[[Sequence[Mapping[str, Any]], Mapping[str, Any]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Question:
    """One catalog entry. ``headline(rows, params) -> str`` states the answer's
    conclusion in one to three sentences, computed from its rows (see
    :mod:`provex.graph.questions.headlines`); ``next`` names the questions
    that naturally follow (the app links them); ``finish(rows, params)``, when
    given, completes the rows in Python (what one Cypher statement cannot do
    well, e.g. ratios of statistics the statement joined as text)."""

    name: str
    title: str
    description: str
    params: tuple[Param, ...]
    columns: tuple[str, ...]
    cypher: str
    headline: Headline = hl.generic_headline
    next: tuple[str, ...] = ()
    facts: stored.Facts | None = None  # store reads before the Cypher (its $params)
    after: stored.After | None = None  # store reads after it (rows -> rows)
    finish: Finish | None = None  # rows -> rows after the store step (numbers, ratios)


def _ref(name: str, label: str, description: str) -> Param:
    return Param(name, "ref", description, label=label)


_PREDICTION = _ref("prediction", "Prediction", "the prediction, e.g. prediction:cl-000123")
_MODEL_VERSION = _ref("model_version", "ModelVersion", "the model version, e.g. model:credit-limit@5")
_DATA_VERSION = _ref("data_version", "DataVersion", "the data version, e.g. data:data/raw/tx.csv@3f2a (hash prefix)")

_TIME_RANGE = (Param("since", "datetime", "only predictions at or after this time", optional=True),
               Param("until", "datetime", "only predictions before this time", optional=True))

_QUESTIONS = (
    Question("prediction-provenance", "Where did this prediction come from?",
             "The model version(s) behind a prediction (chained predictions and overrides included), its inputs, "
             "and for each model: training run, params, training data with hashes, code commit, libraries; for a "
             "model the log named without a registry version, how it was found (method, evidence, confidence).",
             (_PREDICTION,), ("prediction", "hop", "aspect", "key", "value", "ref"), up.PREDICTION_PROVENANCE,
             facts=stored.Facts(stored.chain, ("chain",))),
    Question("model-training-data", "What data trained this model version?",
             "Data versions (path, content hash) used by the training run, their DVC twins (SAME_AS) and the "
             "upstream data of the stages that produced them, with stage, commit and producing run.",
             (_MODEL_VERSION,),
             ("depth", "path", "hash", "hash_kind", "data_version", "via", "stage", "commit", "producer_run"),
             up.MODEL_TRAINING_DATA),
    Question("reproduce-model", "How do I reproduce this model version?",
             "The recipe as copyable steps: git commit, library versions, DVC data with locked hashes, stage "
             "commands in order, training params, the metrics to expect.",
             (_MODEL_VERSION,), ("step", "kind", "item", "command"), up.REPRODUCE_MODEL),
    Question("data-origin", "How was this data version produced?",
             "Every upstream data version with how it came to be: producing stage and command, commit, author; "
             "raw inputs and imports are marked.",
             (_DATA_VERSION,),
             ("depth", "path", "hash", "data_version", "origin", "stage", "command", "commit", "author", "date"),
             up.DATA_ORIGIN),
    Question("impact-of-data", "What is affected by this data version?",
             "Model versions trained on it (directly, through SAME_AS twins or downstream stages) and their "
             "prediction counts per time window.",
             (_DATA_VERSION, Param("window", "str", "time window for counts: day or hour", default="day",
                                   choices=("day", "hour"))),
             ("model_version", "model", "version", "runs_between", "window", "predictions"), down.IMPACT_OF_DATA),
    Question("impacted-predictions", "Which predictions are affected by this data version?",
             "The predictions of every model version trained on the data version (and predictions that used "
             "them), optionally within a time range.",
             (_DATA_VERSION, *_TIME_RANGE),
             ("prediction", "timestamp", "subject_id", "output", "model_version", "via"), down.IMPACTED_PREDICTIONS,
             after=stored.impacted),
    Question("impact-of-library", "Which models used this library version?",
             "Model versions trained in environments that require the library (any or one version), with their "
             "prediction counts.",
             (Param("library", "str", "library name, e.g. scikit-learn"),
              Param("version", "str", "library version, e.g. 1.5.0 (all versions when omitted)", optional=True)),
             ("library", "version", "model_version", "model", "model_version_number", "predictions"),
             down.IMPACT_OF_LIBRARY),
    Question("impact-of-commit", "What is affected by this code commit?",
             "Runs at the commit, the data versions they produced, and the model versions downstream of either, "
             "with prediction counts.",
             (_ref("commit", "CodeVersion", "the commit, e.g. commit:abc123 (sha prefix)"),),
             ("kind", "ref", "name", "hops", "predictions"), down.IMPACT_OF_COMMIT),
    Question("diff-model-versions", "What changed between two model versions, upstream?",
             "Side by side: training run, code commit, data versions (with upstream), stage commands and "
             "params, training params, metrics, libraries.",
             (_ref("a", "ModelVersion", "the first model version"), _ref("b", "ModelVersion", "the second model version")),
             ("aspect", "key", "a", "b", "differs"), up.DIFF_MODEL_VERSIONS, finish=data.diff_statistics),
    Question("serving-model-at", "Which version was serving at time T?",
             "The version each alias of a model pointed at, at time T, with its predictions while it held the "
             "alias and within ±window_hours of T.",
             (_ref("model", "Model", "the registered model, e.g. model:credit-limit"),
              Param("at", "datetime", "the time, e.g. 2026-03-18T20:12:00Z"),
              Param("alias", "str", "only this alias (all aliases when omitted)", optional=True),
              Param("window_hours", "int", "half-width of the prediction count window, hours", default=24)),
             ("model", "alias", "model_version", "version", "valid_from", "valid_to",
              "predictions_while_serving", "predictions_in_window"), down.SERVING_MODEL_AT, after=stored.serving_counts),
    Question("training-serving-skew", "Do training and serving use the same features?",
             "Features of the training data versus features recorded at serving time (prediction groups and "
             "logged inputs of up to 1,000 predictions).",
             (_MODEL_VERSION,), ("feature", "in_training", "in_serving", "status"), down.TRAINING_SERVING_SKEW,
             facts=stored.Facts(stored.logged, ("logged",))),
    Question("models-in-chain", "Which models were involved in this prediction?",
             "Every model version behind a prediction, including chained upstream predictions, with outputs "
             "and overrides.",
             (_PREDICTION,),
             ("hop", "prediction", "model", "version", "model_version", "unresolved", "output", "override"),
             up.MODELS_IN_CHAIN, facts=stored.Facts(stored.chain, ("chain",))),
    Question("lineage-gaps", "Where is the lineage incomplete?",
             "Counts and examples of: versions with no source run, runs with no data or no commit, predictions "
             "with no resolvable model or an ambiguous one (with its candidates), stages never run, data with no "
             "producer, placeholders.",
             (), ("gap", "count", "examples", "hint"), down.LINEAGE_GAPS,
             facts=stored.Facts(stored.gaps, ("dangling", "ambiguous"))),
    Question("data-profile", "What is inside this data version?",
             "Its content profile: rows, and per column the type, nulls, distinct values, min/max/mean/std/median "
             "for numbers and the top values for text (from a sample for big files, which the note says).",
             (_DATA_VERSION,),
             ("column", "type", "rows", "nulls", "null_rate", "distinct", "min", "max", "mean", "std", "median",
              "top", "note"), data.DATA_PROFILE),
    Question("diff-data-versions", "What changed between two data versions, inside?",
             "Schema changes (columns added, removed, retyped) and per-column shifts of the statistics, with "
             "ratios b/a; a shift is a factor of 2 or more, or a null rate moving by 0.1.",
             (_ref("a", "DataVersion", "the first data version"), _ref("b", "DataVersion", "the second data version")),
             ("column", "change", "stat", "a", "b", "ratio", "shifted"), data.DIFF_DATA_VERSIONS),
    Question("data-anomalies", "Which data versions break from their siblings?",
             "Versions whose column statistics are far from their siblings' (earlier and later versions of the same "
             "path, other files of the same folder and format): a mean 10x off the median, a jump in the null "
             "rate, a column appearing or vanishing; ranked, root causes before the versions downstream of them.",
             (Param("path", "str", "only versions whose path starts with this, e.g. data/raw/", optional=True),),
             ("rank", "data_version", "path", "hash", "column", "kind", "value", "typical", "factor", "compared",
              "downstream_of"), data.DATA_ANOMALIES),
)

_SUBJECT = Param("subject", "str", "a subject or household id, e.g. c-0042 or h-0017")
_COMPLAINT = (
    Question("subject-history", "What did we predict about this customer or household?",
             "Every prediction about a subject or household over time: model version, output, override and "
             "the upstream predictions it used.",
             (_SUBJECT, *_TIME_RANGE),
             ("timestamp", "prediction", "subject_id", "household_id", "model", "model_version", "output",
              "override", "upstream", "upstream_model_version"), why.SUBJECT_HISTORY,
             next=("compare-predictions", "what-changed"), facts=stored.Facts(stored.history, ("history",))),
    Question("compare-predictions", "Why do these two predictions differ?",
             "Two predictions side by side: inputs with their relative change, outputs and their ratio, "
             "overrides, chained upstream predictions, model versions and, where they differ, what differs "
             "upstream of them (data used by one side only first).",
             (_ref("a", "Prediction", "the first prediction"), _ref("b", "Prediction", "the second prediction")),
             ("aspect", "key", "a", "b", "ratio", "change", "differs"), why.COMPARE_PREDICTIONS,
             next=("what-changed", "prediction-provenance"), facts=stored.Facts(stored.pair, ("pa", "pb", "ca", "cb")),
             finish=data.profile_ratios),
    Question("explain", "Why is this prediction what it is?",
             "Its causes, most likely first (or of its difference from another prediction): model version change, "
             "data anomaly upstream, input difference, override, upstream chained model, environment/library change, "
             "serving alias timing; each with its share of the difference where known, its origin (data version, "
             "stage, commit), its reach (predictions sharing it) and the next action. Runs no model code "
             "(`provex explain --allow-run` replays).",
             (_PREDICTION, Param("against", "ref", "another prediction, to explain the difference from it",
                                 label="Prediction", optional=True)),
             ("rank", "kind", "cause", "share", "basis", "origin", "reach", "action"), why.EXPLAIN,
             next=("what-changed", "prediction-provenance"), facts=stored.Facts(stored.composed("explain"), ("causes",))),
    Question("what-changed", "What changed in the model behind this prediction?",
             "The model version that made the prediction against the last known good one (the version that "
             "served before it under the same alias, else the previous version number): what differs upstream, "
             "data used by one side only first, with the commit that added it.",
             (_PREDICTION,), ("aspect", "key", "before", "after"), why.WHAT_CHANGED,
             next=("impact-of-data", "prediction-provenance"), facts=stored.Facts(stored.fact, ("fact",)),
             finish=data.changed_statistics),
)

_NEXT = {"prediction-provenance": ("what-changed", "models-in-chain"),
         "models-in-chain": ("what-changed", "prediction-provenance"),
         "model-training-data": ("data-origin", "impact-of-data"), "data-origin": ("impact-of-data",),
         "impact-of-data": ("impacted-predictions",), "diff-model-versions": ("impact-of-data",),
         "impact-of-commit": ("impacted-predictions",), "serving-model-at": ("diff-model-versions",)}


def _finished(q: Question) -> Question:
    """The question with its headline (``<name>_headline`` in its family's module) and next steps."""
    name = q.name.replace("-", "_") + "_headline"
    headline = getattr(hl, name, None) or getattr(data, name, q.headline)
    return replace(q, headline=headline, next=q.next or _NEXT.get(q.name, ()))


CATALOG: dict[str, Question] = {q.name: _finished(q) for q in _QUESTIONS + _COMPLAINT}


def cypher_params(q: Question) -> set[str]:
    """The ``$names`` used in a question's Cypher."""
    return set(_PARAM_RE.findall(q.cypher))


def derived_params(q: Question) -> set[str]:
    """The ``$names`` its store step gives (beside its declared params)."""
    return set(q.facts.gives) if q.facts else set()


def get(name: str) -> Question:
    """A question by name; UsageError listing the names otherwise."""
    if name not in CATALOG:
        raise UsageError(f"Unknown question {name!r}. Known: {', '.join(CATALOG)} (see `provex ask`).")
    return CATALOG[name]


def usage(q: Question) -> str:
    """``--param`` usage of a question, e.g. ``model_version=REF [window=day]``."""
    parts = [f"{p.name}={p.type.upper()}" if p.required else f"[{p.name}={p.type.upper()}]" for p in q.params]
    return " ".join(parts)


def bind(graph: Graph, q: Question, params: Mapping[str, object]) -> dict[str, Any]:
    """Checked Cypher parameters: names known, required ones given, values of
    the declared type, REFs resolved to uids. UsageError names the problem."""
    known = {p.name for p in q.params}
    unknown = sorted(set(params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "no parameters"
        raise UsageError(f"Question {q.name!r} has no parameter {', '.join(map(repr, unknown))}; it takes: {takes}.")
    values: dict[str, Any] = {}
    for p in q.params:
        raw = params.get(p.name)
        if raw is None or raw == "":
            if p.required:
                raise UsageError(f"Question {q.name!r} needs --param {p.name}=... ({p.type}: {p.description}).")
            values[p.name] = p.default
            continue
        values[p.name] = _convert(graph, q, p, raw)
    return values


def _convert(graph: Graph, q: Question, p: Param, raw: object) -> Any:
    if p.type == "ref":
        return resolve(graph, str(raw), labels=(p.label,) if p.label else ())["uid"]
    if p.type == "int":
        text = str(raw).strip()
        if isinstance(raw, bool) or not re.fullmatch(r"[+-]?[0-9]+", text):
            raise UsageError(f"Parameter {p.name!r} of {q.name!r} must be an integer, got {raw!r}.")
        number = int(text) if len(text.lstrip("+-").lstrip("0")) <= 19 else INT_MAX + 1
        if not INT_MIN <= number <= INT_MAX:
            raise UsageError(f"Parameter {p.name!r} of {q.name!r} is beyond Neo4j's 64-bit integers, got {text[:40]!r}.")
        return number
    if p.type == "datetime":
        return normalize_time(raw, p.name)
    text = str(raw)
    if p.choices and text not in p.choices:
        raise UsageError(f"Parameter {p.name!r} of {q.name!r} must be one of {', '.join(p.choices)}, got {text!r}.")
    return text


def ask(
    graph: Graph,
    name: str,
    params: Mapping[str, object],
    *,
    limit: int = DEFAULT_LIMIT,
    timeout: float = DEFAULT_TIMEOUT,
) -> pd.DataFrame:
    """Run a catalog question read-only; rows with exactly its columns.
    ``df.attrs["truncated"]`` says whether ``limit`` cut rows."""
    q = get(name)
    values = bind(graph, q, params)
    given = {**values, **(q.facts.read(graph, values) if q.facts else {})}
    rows, truncated = graph.read_bounded(q.cypher, given, limit=limit, timeout=timeout)
    if q.after:
        rows, cut = q.after(graph, rows, values, limit)
        truncated = truncated or cut
    rows = q.finish(rows, values) if q.finish else rows
    df = pd.DataFrame(rows, columns=list(q.columns))
    df.attrs["truncated"] = truncated
    df.attrs["question"] = q.name
    df.attrs["params"] = values
    df.attrs["headline"] = headline(q, rows, values, truncated)
    return df


def headline(q: Question, rows: Sequence[Mapping[str, Any]], params: Mapping[str, Any], truncated: bool = False) -> str:
    """The question's headline for these rows (missing values as None); says
    when the row limit cut the answer."""
    clean = [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]
    text = q.headline(clean, params)
    return text + (" (Partial: the row limit cut the answer.)" if truncated else "")
