"""Piece-by-piece YAML loading (ingest/dvc/chunks.py) gives exactly what
parsing the whole file gives: the same value, or the same error. No Neo4j."""

from __future__ import annotations

import random

import pytest

from provex.ingest.dvc import yamlfile
from provex.ingest.dvc.chunks import split

LOCK = """\
schema: '2.0'
stages:
  prepare:
    cmd: python src/prepare.py && echo 'done' > log.txt
    deps:
    - path: data/raw.csv
      hash: md5
      md5: 0a1b2c3d4e5f60718293a4b5c6d7e8f9
      size: 1024
    params:
      params.yaml:
        prepare.split: 0.2
        prepare.cols: [a, b]
    outs:
    - path: data/prepared
      hash: md5
      md5: 1a1b2c3d4e5f60718293a4b5c6d7e8f9.dir
      nfiles: 2
  # a comment between stages
  train@small:
    cmd: |
      python src/train.py
      --size small
    outs:
    - path: "model small.pkl"
      md5: 2a1b2c3d4e5f60718293a4b5c6d7e8f9
"""

TRICKY = [
    LOCK,
    LOCK.replace("  train@small:", "  prepare:"),  # a key twice, in two pieces
    LOCK.replace("md5: 2a1b", "md5: &h 2a1b") + "  more:\n    md5: *h\n",  # anchor and alias
    LOCK.replace('"model small.pkl"', '"model\n  small.pkl"'),  # a quoted value over two lines
    LOCK.replace("[a, b]", "[a,\n  b]"),  # a flow list over two lines
    LOCK.replace("    cmd: python src/prepare.py", "\tcmd: python src/prepare.py"),
    LOCK + "---\nother: 1\n",
    LOCK.replace("  train@small:", " train@small:"),
    "a: 1\nb:\n  c: 2\n  d: 3\n",
    "# only comments\n",
    "- a\n- b\n",
    "",
]


@pytest.mark.parametrize("text", TRICKY)
def test_pieces_give_what_the_whole_file_gives(text: str) -> None:
    assert outcome(yamlfile.chunk_loader().load, text) == outcome(yamlfile.safe_load, text)


def test_a_lock_file_is_cut_into_its_stages() -> None:
    pieces = split(LOCK)
    assert pieces is not None and [len(entries) for _, entries in pieces] == [1, 2]


def test_mutated_lock_files_give_the_same_value_or_error() -> None:
    rng, loader = random.Random(7), yamlfile.chunk_loader()
    snippets = ['"', "'", "&a ", "*a", "[", "{", "|\n", "\n", "\n  ", ": ", "- ", "\t", "? ", "!!str ", "\\", "x:"]
    loader.load(LOCK)
    for _ in range(400):
        text = LOCK
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(snippets) + text[at + rng.randint(0, 3):]
        assert outcome(loader.load, text) == outcome(yamlfile.safe_load, text), text


def test_a_failed_load_leaves_nothing_behind_for_the_next() -> None:
    """ruamel left this document's second duplicate key pending, and reported it
    for the next file it loaded."""
    first = outcome(yamlfile.safe_load, "s:\n  p:\n    cmd: a\n    cmd: y\n  p: 1\n")
    assert first[0] == "error"
    assert yamlfile.safe_load(LOCK)["stages"]["prepare"]["cmd"].startswith("python src/prepare.py")


def outcome(load, text: str) -> tuple:
    try:
        return ("value", repr(load(text)))
    except Exception as exc:  # noqa: BLE001 - the error is the outcome
        return ("error", type(exc).__name__, str(exc))
