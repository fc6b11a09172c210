"""The record vocabulary every adapter yields: ``read(source) -> Iterator[Record]``.

Records are small, frozen and carry a stable identity (a :class:`provex.vocab.model.Ref`),
so writing the same record twice is harmless. An adapter may group the records
of one input record in an :class:`Entry` with the :class:`Claim` s they stand
on, or hand a :class:`Conflict` it found itself: the first record of an id
stands, a later one with other content is set aside, never merged. Source-specific extras go into
``props`` (flat: str, int, float, bool, None or lists of those; anything else is
stored as JSON text by the writer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from provex.vocab.facts import Facts
from provex.vocab.model import Ref


@dataclass(frozen=True)
class Node:
    """A node asserted by a source. ``source`` says where (file, URI, commit)."""

    ref: Ref
    props: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class Edge:
    """An edge ``src -[type]-> dst``.

    ``key`` names the props that are part of the edge's identity (for example
    ``("alias", "valid_from")`` for a time-ranged alias), so two edges of the
    same type between the same nodes can coexist.

    ``supersedes`` names props that make a *slot*: when this edge is written,
    any other open (``valid_to IS NULL``) edge of the same type from the same
    ``src`` with the same values of those props but a different ``dst`` is
    closed (``valid_to`` = this edge's ``valid_from``), never deleted. Used for
    facts that move over time, such as a registry alias.
    """

    type: str
    src: Ref
    dst: Ref
    props: Mapping[str, Any] = field(default_factory=dict)
    key: tuple[str, ...] = ()
    supersedes: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Reject:
    """An input record set aside: where it was, why, and the raw text."""

    file: str
    line: int | None
    reason: str
    raw: str = ""

    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass(frozen=True)
class Flag:
    """Something odd but ingestible (drift, gaps): counted in the summary."""

    kind: str  # short slug, e.g. "lock-without-stage"
    message: str
    file: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Watermark:
    """A value the adapter wants back on the next ingest of the same source
    (passed to ``read`` as ``state[name]``), e.g. the last update time seen."""

    name: str
    value: Any


@dataclass(frozen=True)
class Claim:
    """``src`` has one ``type`` edge, to ``dst`` (a run is an instance of one
    job). The first input record that claims it stands; a later one that names
    another ``dst`` is a :class:`Conflict` of this ``kind``."""

    kind: str  # short slug naming what collides, e.g. "openlineage-run-job"
    type: str
    src: Ref
    dst: Ref


@dataclass(frozen=True)
class Entry:
    """One input record (an event, a log line) as the records it makes: written
    all together, or, when one of its ``claims`` contradicts a claim made
    before (earlier in the ingest, or in the graph), set aside whole as a
    :class:`Conflict`. Its records are Nodes, Edges and Flags."""

    records: tuple[Node | Edge | Flag, ...]
    claims: tuple[Claim, ...]
    file: str
    line: int | None = None
    raw: str = ""


@dataclass(frozen=True)
class Conflict:
    """An input record whose id was seen before with other content. The first
    record stands; this one is set aside (a Reject with both values), flagged
    (``conflicting-record``), and recorded in the graph as a ``Conflict`` node
    of its ``kind``, which the lineage-gaps question lists."""

    kind: str  # what collided, e.g. "openlineage-run-job", "prediction-id"
    key: str  # the contested id (a node uid where there is one)
    first: str  # the value that stands
    later: str  # this record's value, set aside
    file: str
    line: int | None = None
    raw: str = ""


Record = Node | Edge | Reject | Flag | Watermark | Entry | Conflict | Facts
