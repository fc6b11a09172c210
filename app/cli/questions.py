"""`provex ask`, `provex lineage`, `provex path`, `provex export`: the question
catalog and the lineage engine on the command line (issue 7).
"""

from __future__ import annotations

import math
import sys
import textwrap
from typing import Any

import click

from provex.app.cli.base import MIN_TIMEOUT, Seconds, connected, parse_params
from provex.app.output import ANSWER_FORMATS, emit, emit_json
from provex.graph import export as export_mod
from provex.graph import lineage as lineage_mod
from provex.graph import questions as questions_mod
from provex.vocab.model import KINDS

GRAPH_FORMATS = ("table", "json", "mermaid", "dot")


def _direction_options(func: Any) -> Any:
    """--up / --down / --both, --depth, --node-cap (shared by lineage and export)."""
    options = [
        click.option("--up", "direction", flag_value="up", default=True,
                     help="Upstream: what REF depends on (data, runs, code). The default."),
        click.option("--down", "direction", flag_value="down",
                     help="Downstream: what depends on REF (models, predictions)."),
        click.option("--both", "direction", flag_value="both", help="Upstream and downstream."),
        click.option("--depth", type=click.IntRange(1, lineage_mod.MAX_DEPTH), default=lineage_mod.DEFAULT_DEPTH,
                     show_default=True, help=f"Hops to follow (1 to {lineage_mod.MAX_DEPTH})."),
        click.option("--node-cap", type=click.IntRange(min=1), default=lineage_mod.DEFAULT_NODE_CAP,
                     show_default=True, help="At most this many nodes; the rest is counted in the notes."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _plain(value: Any) -> Any:
    """Missing values (None, NaN) as None: ``—`` in tables, null in JSON, empty in CSV."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return None if missing else value


def _notes(sub: lineage_mod.Subgraph) -> None:
    if sub.truncated:
        click.echo("partial result:", err=True)
    for note in sub.notes:
        click.echo(f"  {note}", err=True)


def _emit_subgraph(sub: lineage_mod.Subgraph, fmt: str) -> None:
    if fmt == "json":
        emit_json({"root": sub.root, "truncated": sub.truncated, "notes": sub.notes,
                   "nodes": sub.nodes, "edges": sub.edges})
        return
    if fmt == "mermaid":
        click.echo(lineage_mod.to_mermaid(sub), nl=False)
    elif fmt == "dot":
        click.echo(lineage_mod.to_dot(sub), nl=False)
    else:
        emit([{"uid": n["uid"], "label": n["label"], "name": n["name"]} for n in sub.nodes], "table")
        if sub.edges:
            click.echo("")
            emit([{"src": e["src"], "type": e["type"], "dst": e["dst"]} for e in sub.edges], "table")
    _notes(sub)


def _list_questions(fmt: str) -> None:
    rows = [{"question": q.name, "params": questions_mod.usage(q), "title": q.title, "description": q.description}
            for q in questions_mod.CATALOG.values()]
    if fmt != "table":
        emit(rows, fmt)
        return
    for row in rows:
        click.echo(f"{row['question']}  {row['params']}".rstrip())
        click.echo(textwrap.fill(f"{row['title']} {row['description']}", width=100,
                                 initial_indent="    ", subsequent_indent="    "))
    click.echo("\nRun one: provex ask QUESTION --param NAME=VALUE ...  (provex ask QUESTION --help: its parameters)")


def _question_help(name: str) -> None:
    """``provex ask Q --help``: the question's title, description and parameters."""
    q = questions_mod.get(name)
    click.echo(f"provex ask {q.name} {questions_mod.usage(q)}".rstrip() + "\n")
    click.echo(textwrap.fill(f"{q.title} {q.description}", width=100))
    click.echo("\nParameters (--param NAME=VALUE):" if q.params else "\nNo parameters.")
    for p in q.params:
        extra = f" (default {p.default})" if p.default is not None else "" if p.required else " (optional)"
        kind = f"REF to a {p.label}" if p.type == "ref" and p.label else p.type
        click.echo(f"  {p.name:<14} {kind}: {p.description}{extra}")
    click.echo(f"\nColumns: {', '.join(q.columns)}")
    if q.next:
        click.echo(f"Next questions: {', '.join(q.next)}")
    click.echo("Formats: --format table (headline first) | summary (headline only) | json | csv")


@click.command(add_help_option=False)
@click.argument("question", required=False)
@click.option("--param", "params", multiple=True, metavar="K=V",
              help="A question parameter, e.g. --param model_version=model:credit-limit@5 (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), default=questions_mod.DEFAULT_LIMIT, show_default=True,
              help="At most this many rows.")
@click.option("--timeout", type=Seconds(MIN_TIMEOUT), default=questions_mod.DEFAULT_TIMEOUT, show_default=True,
              help="Time limit, seconds (at least 0.001).")
@click.option("--show-cypher", is_flag=True, help="Print the question's Cypher instead of running it.")
@click.option("--format", "fmt", type=click.Choice(ANSWER_FORMATS), default="table", show_default=True,
              help="table for people (headline first), summary (the headline only), json or csv for scripts.")
@click.option("--help", "-h", "show_help", is_flag=True,
              help="Show this message; with QUESTION, that question's parameters and description.")
@click.pass_context
def ask(ctx: click.Context, question: str | None, params: tuple[str, ...], limit: int, timeout: float,
        show_cypher: bool, fmt: str, show_help: bool) -> None:
    """Answer a debugging question from the catalog. Without QUESTION, list
    the questions, their parameters and what they answer. Every answer
    leads with a headline computed from its rows."""

    if show_help:
        if question is None:
            click.echo(ctx.get_help())
        else:
            _question_help(question)
        return
    if question is None:
        _list_questions(fmt)
        return
    q = questions_mod.get(question)
    if show_cypher:
        click.echo(q.cypher.strip())
        return
    values = parse_params(params, typed=False)
    with connected() as graph:
        df = questions_mod.ask(graph, q.name, values, limit=limit, timeout=timeout)
    rows = [{k: _plain(v) for k, v in row.items()} for row in df.astype(object).to_dict("records")]
    note = f"(stopped at {limit} rows: partial result)" if df.attrs.get("truncated") else ""
    if fmt == "csv" and not rows:
        click.echo(",".join(q.columns))
        return
    emit(rows, fmt, note=note, headline=df.attrs.get("headline", ""))


@click.command()
@click.argument("ref")
@_direction_options
@click.option("--kind", "kinds", multiple=True, type=click.Choice(list(KINDS)),
              help="Show only these node kinds (repeatable); hidden stretches become LINEAGE_PATH edges.")
@click.option("--as-of", default=None, metavar="TIME",
              help="Point in time (ISO 8601): hide facts not yet or no longer true then (aliases, later runs).")
@click.option("--time-limit", type=Seconds(MIN_TIMEOUT), default=10.0, show_default=True,
              help="Time limit, seconds (at least 0.001).")
@click.option("--format", "fmt", type=click.Choice(GRAPH_FORMATS), default="table", show_default=True,
              help="table, json, or a diagram: mermaid or dot (Graphviz).")
def lineage(ref: str, direction: str, depth: int, node_cap: int, kinds: tuple[str, ...], as_of: str | None,
            time_limit: float, fmt: str) -> None:
    """Lineage of REF: upstream (what it depends on) or downstream (what depends
    on it), bounded in depth, nodes and time. Cut results say what was left out."""

    with connected() as graph:
        sub = lineage_mod.traverse(graph, ref, direction=direction, depth=depth, node_cap=node_cap,
                                   kinds=kinds, as_of=as_of, time_limit=time_limit)
    _emit_subgraph(sub, fmt)


@click.command()
@click.argument("ref_a")
@click.argument("ref_b")
@click.option("--max-depth", type=click.IntRange(1, lineage_mod.MAX_DEPTH), default=lineage_mod.MAX_DEPTH,
              show_default=True, help="Longest path to look for, in hops.")
@click.option("--format", "fmt", type=click.Choice(GRAPH_FORMATS), default="table", show_default=True,
              help="table, json, or a diagram: mermaid or dot (Graphviz).")
def path(ref_a: str, ref_b: str, max_depth: int, fmt: str) -> None:
    """The shortest lineage path between two REFs, whichever way the
    dependencies point."""

    with connected() as graph:
        sub = lineage_mod.path_between(graph, ref_a, ref_b, max_depth=max_depth)
    _emit_subgraph(sub, fmt)
    if not sub.nodes:
        sys.exit(1)


@click.command()
@click.argument("ref")
@click.option("--format", "fmt", type=click.Choice(export_mod.FORMATS), default="prov-json", show_default=True,
              help="W3C PROV as PROV-JSON, PROV-JSON-LD, PROV-N, PROV-XML or PROV-O RDF (prov-o: Turtle, "
                   "prov-o-nt: N-Triples, prov-o-xml: RDF/XML); or GraphML (Gephi, yEd, NetworkX).")
@_direction_options
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
def export(ref: str, fmt: str, direction: str, depth: int, node_cap: int, output: str | None) -> None:
    """Export the lineage of REF as W3C PROV (PROV-JSON, PROV-N, PROV-XML, PROV-O
    RDF) or GraphML."""

    with connected() as graph:
        sub = lineage_mod.traverse(graph, ref, direction=direction, depth=depth, node_cap=node_cap)
    text = export_mod.serialize(sub, fmt)
    if output:
        with open(output, "w", encoding="utf-8") as out:
            out.write(text)
        click.echo(f"wrote {output} ({len(sub.nodes)} nodes, {len(sub.edges)} edges)", err=True)
    else:
        click.echo(text, nl=False)
    _notes(sub)


COMMANDS: list[click.Command] = [ask, lineage, path, export]
