"""The Cypher the batch writer sends: one builder per statement shape.

Two ways to write a record:

- **MERGE** (:func:`node_query`, :func:`edge_query`): for anything that may
  already be in the graph. Idempotent; stamps ``sources``, ``first_seen`` /
  ``first_ingest`` once and ``last_seen`` / ``last_ingest`` every time.
- **CREATE** (:func:`fresh_node_query`, :func:`fresh_edge_query`): for nodes
  the writer has just seen are absent (one index lookup per batch), and the
  edges that start at them. A node that was not there has no edges, so
  creating them cannot make a duplicate; a node created meanwhile by another
  writer fails the batch on the uniqueness constraint, and the writer then
  writes that batch again the MERGE way. Both ways leave the same
  properties and stamps.
"""

from __future__ import annotations

from provex.vocab.model import BASE_LABEL

STAMP_NEW = "{v}.first_seen = $now, {v}.first_ingest = $run"
STAMP = (
    "{v}.last_seen = $now, {v}.last_ingest = $run, "
    "{v}.sources = CASE WHEN r.source IN coalesce({v}.sources, []) THEN {v}.sources "
    "ELSE coalesce({v}.sources, []) + r.source END"
)
#: What a CREATEd node or edge starts with (``{v}``: its variable, ``{r}``: its row).
STAMP_CREATED = ("{v}.first_seen = $now, {v}.first_ingest = $run, {v}.last_seen = $now, "
                 "{v}.last_ingest = $run, {v}.sources = [{r}.source]")


def node_query(label: str) -> str:
    return (
        f"UNWIND $rows AS r MERGE (n:{BASE_LABEL}:{label} {{uid: r.uid}}) "
        f"ON CREATE SET {STAMP_NEW.format(v='n')} "
        f"SET n += r.props, n.placeholder = false, {STAMP.format(v='n')}"
    )


def _endpoint(var: str, label: str, uid: str) -> str:
    return (
        f"MERGE ({var}:{BASE_LABEL}:{label} {{uid: {uid}}}) "
        f"ON CREATE SET {var}.placeholder = true, {STAMP_NEW.format(v=var)} "
    )


def edge_query(edge_type: str, src_label: str, dst_label: str, key: tuple[str, ...]) -> str:
    ident = ", ".join(f"{k}: r.props.{k}" for k in key)
    pattern = f"[e:{edge_type} {{{ident}}}]" if key else f"[e:{edge_type}]"
    return (
        "UNWIND $rows AS r "
        + _endpoint("a", src_label, "r.src")
        + _endpoint("b", dst_label, "r.dst")
        + f"MERGE (a)-{pattern}->(b) "
        f"ON CREATE SET {STAMP_NEW.format(v='e')} "
        f"SET e += r.props, {STAMP.format(v='e')}"
    )


def placeholders_query(label: str) -> str:
    """The targets of edges about to be created: a placeholder for each one not there yet."""
    return (f"UNWIND $rows AS uid MERGE (b:{BASE_LABEL}:{label} {{uid: uid}}) "
            f"ON CREATE SET b.placeholder = true, {STAMP_NEW.format(v='b')}")


def absent_query(label: str) -> str:
    """Which of ``$uids`` no node of ``label`` has (read-only)."""
    return (f"UNWIND $uids AS uid OPTIONAL MATCH (n:{label} {{uid: uid}}) "
            "WITH uid, n WHERE n IS NULL RETURN collect(uid) AS absent")


def fresh_node_query(label: str, out: list[tuple[str, str]]) -> str:
    """CREATE nodes known to be absent, each with its edges in ``out``
    (``(type, target label)`` pairs; row field ``out<i>`` lists the ``i``-th
    pair's ``{dst, props}``; every target already exists)."""
    parts = [f"UNWIND $rows AS r CREATE (n:{BASE_LABEL}:{label} {{uid: r.uid}}) "
             f"SET n += r.props, n.placeholder = false, {STAMP_CREATED.format(v='n', r='r')}"]
    for i, (edge_type, dst_label) in enumerate(out):
        parts.append(f"WITH n, r CALL {{ WITH n, r UNWIND r.out{i} AS x MATCH (b:{dst_label} {{uid: x.dst}}) "
                     f"CREATE (n)-[e:{edge_type}]->(b) SET e += x.props, {STAMP_CREATED.format(v='e', r='x')} "
                     f"RETURN count(*) AS made{i} }}")
    return " ".join(parts) + " RETURN count(*) AS rows"


def fresh_edge_query(edge_type: str, src_label: str, dst_label: str) -> str:
    """CREATE edges from nodes this batch created to other nodes it created."""
    return (f"UNWIND $rows AS r MATCH (a:{src_label} {{uid: r.src}}) MATCH (b:{dst_label} {{uid: r.dst}}) "
            f"CREATE (a)-[e:{edge_type}]->(b) SET e += r.props, {STAMP_CREATED.format(v='e', r='r')}")


def temporal_edge_query(edge_type: str, src_label: str, dst_label: str, slot: tuple[str, ...]) -> str:
    """A fact with a time range (a slot: same ``src``, type and ``slot`` props),
    one row at a time, each row atomic: the row first write-locks ``src``, so
    two writers racing on the same slot are serialised by Neo4j and each sees
    the other's intervals. Then:

    - if the interval covering ``valid_from`` already points at ``dst`` (the
      fact seen again, unmoved, or this very row written before), nothing new;
    - else that covering interval is closed at ``valid_from`` and a new one
      opened to ``dst``, ending where the next later interval of the slot
      starts (open when there is none).

    Replays and racing writers therefore never add an interval twice."""
    same = " AND ".join(f"{{v}}.{k} = r.props.{k}" for k in slot) or "true"
    return (
        "UNWIND $rows AS r CALL { WITH r "
        + _endpoint("a", src_label, "r.src")
        + _endpoint("b", dst_label, "r.dst")
        + "SET a._provex_lock = true WITH a, b, r "
        f"OPTIONAL MATCH (a)-[prev:{edge_type}]->(px) WHERE {same.format(v='prev')} "
        "AND prev.valid_from <= r.props.valid_from AND (prev.valid_to IS NULL OR prev.valid_to > r.props.valid_from) "
        "WITH a, b, r, prev, px ORDER BY prev.valid_from DESC, (px = b) DESC LIMIT 1 "
        f"OPTIONAL MATCH (a)-[nxt:{edge_type}]->() WHERE {same.format(v='nxt')} AND nxt.valid_from > r.props.valid_from "
        "WITH a, b, r, prev, coalesce(px = b, false) AS covered, min(nxt.valid_from) AS next_from "
        f"FOREACH (_ IN CASE WHEN covered THEN [1] ELSE [] END | SET {STAMP.format(v='prev')}) "
        "FOREACH (_ IN CASE WHEN NOT covered AND prev IS NOT NULL THEN [1] ELSE [] END | "
        "SET prev.valid_to = r.props.valid_from) "
        f"FOREACH (_ IN CASE WHEN covered THEN [] ELSE [1] END | CREATE (a)-[e:{edge_type}]->(b) "
        f"SET e += r.props, e.valid_to = next_from, {STAMP_NEW.format(v='e')}, {STAMP.format(v='e')}) "
        "REMOVE a._provex_lock }"
    )
