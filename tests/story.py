"""A small credit-limit complaint story, written to the real Neo4j through
the real ingest pipeline (``graph.pipeline.ingest`` -> ``graph.writer``).

One place for the app tests' data (tests/test_app.py, tests/test_browser.py):
when ``sample_data/`` and its adapters land, swap :func:`load` for an ingest
of the real sample and keep :class:`Story`'s facts in step.

The story: raw transactions v1 (dollars) -> prepare -> features v1 -> train ->
credit-limit@4 (good); raw transactions v2 (a month delivered in cents) ->
prepare -> features v2 -> train -> credit-limit@5 (bad), which made the
complained-about prediction ``cl-000123``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from provex.graph.connection import Graph
from provex.graph.pipeline import ingest
from provex.ingest import predictions
from provex.vocab import model as m
from provex.vocab.records import Edge, Flag, Node, Reject, Watermark

SOURCE = "tests/story"
RAW = "data/raw/transactions.csv"
FEATURES = "data/prepared/features.csv"


@dataclass(frozen=True)
class Story:
    """The facts the tests assert on, by construction (not read back)."""

    good_predictions: int = 12
    bad_predictions: int = 30  # on credit-limit@5, including the complaint
    complaint: str = "prediction:cl-000123"
    good_raw_hash: str = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    bad_raw_hash: str = "badc0ffee0000000000000000000cafe"
    good_commit: str = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    bad_commit: str = "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    sklearn: str = "1.5.0"
    params: dict = field(default_factory=lambda: {"good": {"alpha": 1.0, "max_iter": 200},
                                                   "bad": {"alpha": 0.3, "max_iter": 200}})
    metrics: dict = field(default_factory=lambda: {"good": {"mae": 812.5}, "bad": {"mae": 4410.0}})
    rejected_reason: str = "line 7: amount 'twelve' is not a number; fix the value or drop the line"

    @property
    def good_model(self) -> str:
        return m.model_version("credit-limit", 4).uid

    @property
    def bad_model(self) -> str:
        return m.model_version("credit-limit", 5).uid

    @property
    def bad_raw(self) -> str:
        return m.data_version(RAW, self.bad_raw_hash).uid

    @property
    def good_raw(self) -> str:
        return m.data_version(RAW, self.good_raw_hash).uid

    @property
    def bad_features(self) -> str:
        return m.data_version(FEATURES, f"fbad{self.bad_raw_hash[:6]}").uid

    @property
    def bad_run(self) -> str:
        return m.run("mlrun-bad").uid

    @property
    def library(self) -> str:
        return m.library("scikit-learn", self.sklearn).uid


def node(ref: m.Ref, **props: object) -> Node:
    """A node asserted by the story source."""
    return Node(ref, props, source=SOURCE)


def edge(etype: str, src: m.Ref, dst: m.Ref, **props: object) -> Edge:
    """An edge asserted by the story source."""
    return Edge(etype, src, dst, props, source=SOURCE)


def pipeline_records(s: Story, tag: str, raw_hash: str, commit: str, version: int, hour: str) -> list:
    """raw -> prepare run -> features -> train run -> model version, for one variant."""
    raw, feats = m.data_version(RAW, raw_hash), m.data_version(FEATURES, f"f{tag}{raw_hash[:6]}")
    prep, train = m.run(f"dvc:prepare@{commit[:7]}"), m.run(f"mlrun-{tag}")
    mv, code, env = m.model_version("credit-limit", version), m.code_version(commit), m.environment(f"env-{tag}")
    return [
        node(raw, path=RAW, hash=raw_hash, hash_kind="md5", origin="dvc-add"),
        node(feats, path=FEATURES, hash=feats.uid.rsplit("@", 1)[1], hash_kind="md5"),
        node(code, sha=commit, name=f"commit {commit[:7]}", time=f"2026-0{version - 2}-01T10:00:00Z"),
        node(prep, run_id=prep.uid[4:], name=f"prepare @{commit[:7]}", start_time=f"{hour}:00:00Z",
             stage="prepare", cmd="python src/prepare.py", commit=commit),
        node(train, run_id=f"mlrun-{tag}", name=f"train credit-limit ({tag})", start_time=f"{hour}:30:00Z",
             **{f"param.{k}": v for k, v in s.params[tag].items()},
             **{f"metric.{k}": v for k, v in s.metrics[tag].items()}),
        node(mv, name="credit-limit", version=str(version), run_id=f"mlrun-{tag}", status="READY"),
        node(env, digest=f"env-{tag}", name=f"python 3.11 ({tag})"),
        edge("VERSION_OF", raw, m.dataset(RAW)), edge("VERSION_OF", feats, m.dataset(FEATURES)),
        edge("USED", prep, raw), edge("USED", prep, code), edge("WAS_GENERATED_BY", feats, prep),
        edge("INSTANCE_OF", prep, m.stage("credit", "prepare")),
        edge("USED", train, feats), edge("USED", train, code), edge("USED", train, env),
        edge("WAS_GENERATED_BY", mv, train), edge("VERSION_OF", mv, m.model("credit-limit")),
        edge("REQUIRES", env, m.library("scikit-learn", s.sklearn)), edge("REQUIRES", env, m.library("pandas", "2.2.2")),
        edge("HAS_ALIAS", m.model("credit-limit"), mv, alias="production", valid_from=f"{hour}:45:00Z"),
    ]


def prediction_lines(mv_uid: str, ids: list[str], day: str) -> list[dict]:
    """Predictions of one model version, one per minute from 09:00 on ``day``, as a service logs them."""
    version = mv_uid.rsplit("@", 1)[1]
    return [{"prediction_id": pid, "timestamp": f"{day}T{9 + i // 60:02d}:{i % 60:02d}:00Z", "model_name": "credit-limit",
             "model_version": version, "subject_id": f"c-{i:04d}", "output": 1000.0 + i} for i, pid in enumerate(ids)]


def logged(lines: list[dict]) -> Iterator:
    """The lines through the real prediction-log adapter (its facts, rejects and flags)."""
    folder = Path(tempfile.mkdtemp(prefix="provex-story-"))
    log = folder / "predictions.jsonl"
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    try:
        yield from (r for r in predictions.read(log) if not isinstance(r, Watermark))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def records(s: Story) -> Iterator:
    """Every record of the story, plus one reject and one flag for the ingest page."""
    base = [node(m.model("credit-limit"), name="credit-limit"), node(m.dataset(RAW), path=RAW, name=RAW),
            node(m.dataset(FEATURES), path=FEATURES, name=FEATURES),
            node(m.library("scikit-learn", s.sklearn), name="scikit-learn", version=s.sklearn),
            node(m.library("pandas", "2.2.2"), name="pandas", version="2.2.2"),
            node(m.stage("credit", "prepare"), name="prepare")]
    good = pipeline_records(s, "good", s.good_raw_hash, s.good_commit, 4, "2026-02-03T10")
    bad = pipeline_records(s, "bad", s.bad_raw_hash, s.bad_commit, 5, "2026-03-09T10")
    bad_ids = ["cl-000123"] + [f"cl-bad-{i:03d}" for i in range(s.bad_predictions - 1)]
    good_ids = [f"cl-good-{i:03d}" for i in range(s.good_predictions)]
    yield from base + good + bad
    yield from logged(prediction_lines(s.good_model, good_ids, "2026-03-05") + prediction_lines(s.bad_model, bad_ids, "2026-03-12"))
    yield from [Reject("transactions-2026-02.csv", 7, s.rejected_reason, "c-0007,twelve"),
                Flag("unit-drift", "amounts look like cents", "transactions-2026-02.csv")]


def load(graph: Graph, story: Story | None = None) -> Story:
    """Write the story to ``graph`` (which the test has cleared) through the
    real ingest pipeline (writer, rejects, flags, IngestRun); returns its facts."""
    s = story or Story()
    ingest(graph, kind="story", uri=SOURCE, read=lambda state: records(s))
    return s
