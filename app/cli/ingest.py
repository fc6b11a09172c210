"""`provex ingest ...` and `provex watch`: thin builders of
:class:`provex.ingest.source.Source` objects, handed to the graph's pipeline."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tomllib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

import click

from provex.app.cli.base import Group, Seconds, connected
from provex.app.output import emit, emit_json
from provex.app.progress import IngestProgress
from provex.graph import pipeline, status
from provex.graph.connection import Graph
from provex.graph.lock import IngestLock
from provex.graph.writer import DEFAULT_BATCH
from provex.ingest import source as sources
from provex.ingest.predictions.infer import FLAG as INFERRED
from provex.vocab.errors import LockHeld, ProvexError, UsageError


def run_sources(items: list[sources.Source], *, fmt: str, batch_size: int = DEFAULT_BATCH,
                rejects: str | None = None, wait: float = 0.0) -> int:
    """Ingest each source in turn, holding the database's ingest lock; a failing
    source does not stop the rest. The exit code is the worst of them.
    ``rejects``: one file for every source's rejected records (check it with
    :func:`check_rejects` first)."""
    code = 0
    with connected() as graph, held_lock(graph, wait) as lock, IngestProgress() as shown, \
            rejects_file(rejects) as target:
        for src in items:
            if lock.lost:
                raise LockHeld("Another ingest took the lock over while this one held it (its heartbeat was "
                               "late); stopped before the next source. Raise PROVEX_LOCK_STALE if ingests stall.")
            try:
                summary = ingest_one(graph, src, shown, batch_size=batch_size, rejects=target)
            except ProvexError as exc:
                if len(items) == 1:
                    raise
                click.echo(f"error: {src.kind} {src.uri}: {exc}", err=True)
                code = max(code, exc.exit_code)
                continue
            print_summary(summary, fmt)
            code = max(code, summary.exit_code)
    return code


def held_lock(graph: Graph, wait: float, command: str = "") -> IngestLock:
    """The database's ingest lock (waiting up to ``wait`` seconds), telling on stderr
    when it waits or takes a stale lock over."""
    return IngestLock(graph, wait=wait, command=command, notify=lambda line: click.echo(f"note: {line}", err=True))


@contextlib.contextmanager
def rejects_file(path: str | None) -> Iterator[TextIO | None]:
    """The ``--rejects`` file, started afresh once and shared by every source of
    the command (each row names its file and source), so no source's rejects
    replace another's. Checked against the inputs first: :func:`check_rejects`."""
    if path is None:
        yield None
        return
    try:
        handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below, after every source
    except OSError as exc:
        raise UsageError(f"Cannot write rejected records to {path}: {exc.strerror or exc}. "
                         "Give --rejects a file in a writable folder.") from None
    try:
        yield handle
    finally:
        handle.close()


def check_rejects(rejects: str | None, inputs: Iterable[str | None]) -> None:
    """Refuse a rejects file that would overwrite an input (the same file, a link
    to it, or a file inside an input folder, read again next time) or that is
    a folder; and, without --rejects, inputs whose ``<input>.rejected.jsonl``
    is itself one of the inputs."""
    given = [Path(p) for p in inputs if p]
    if rejects is None:
        names = {str(p.resolve()) for p in given}
        for path in given:
            beside = f"{path.resolve()}.rejected.jsonl"
            if beside in names:
                raise UsageError(f"{beside} is one of the inputs, and the rejects of {path} would be written onto it. "
                                 "Ingest it on its own, or give --rejects another file.")
        return
    target = Path(rejects).expanduser()
    if target.is_dir():
        raise UsageError(f"--rejects {rejects} is a folder; give a file to write the rejected records to.")
    if target.exists() and (stat.S_ISFIFO(target.stat().st_mode) or stat.S_ISSOCK(target.stat().st_mode)):
        raise UsageError(f"--rejects {rejects} is a pipe or socket (writing would wait for a reader); give a file.")
    resolved = target.resolve()
    for path in given:
        same = resolved == path.resolve() or (target.exists() and path.exists() and os.path.samefile(target, path))
        inside = path.is_dir() and resolved.is_relative_to(path.resolve())
        if same or inside:
            where = "is the input" if same else "is inside the input folder"
            raise UsageError(f"--rejects {rejects} {where} {path}: writing rejected records there would destroy "
                             "or re-read an input. Give --rejects a file outside the inputs.")


def ingest_one(graph: Graph, src: sources.Source, shown: IngestProgress, *, batch_size: int = DEFAULT_BATCH,
               rejects: str | TextIO | None = None, check: Callable[[], None] | None = None) -> pipeline.Summary:
    """One source through the pipeline, with progress; a failure is recorded on
    its Source node (shown by the ingest status page) and raised. ``check`` is
    called at each progress tick and may raise to stop at a batch boundary."""
    target = rejects or (pipeline.REJECTS_BESIDE if src.file_based else None)
    with shown.source(src.kind, src.uri, src.position) as tick:
        def progress(phase: str, records: int) -> None:
            if check is not None:
                check()
            tick(phase, records)

        try:
            return pipeline.ingest(graph, kind=src.kind, uri=src.uri, read=src.records, batch_size=batch_size,
                                   rejects=target, progress=progress,
                                   prediction_nodes=getattr(src, "prediction_nodes", "auto"))
        except ProvexError as exc:
            with contextlib.suppress(ProvexError):
                status.record_failure(graph, src.kind, src.uri, str(exc))
            raise


def print_summary(summary: pipeline.Summary, fmt: str) -> None:
    info = summary.as_dict()
    if fmt == "json":
        emit_json(info)
        return
    written = ", ".join(f"{k} {v}" for k, v in info["written"].items()) or "nothing new"
    click.echo(f"ingested {summary.kind} {summary.uri} ({summary.ingest_run}): {written}")
    for flag in summary.flags:
        if flag.kind == INFERRED:
            click.echo(f"  inferred: {flag.message}")
    for kind, count in info["flags"].items():
        if kind != INFERRED:
            click.echo(f"  flagged {count} x {kind}")
    for name, count in info["links"].items():
        click.echo(f"  linked {count} x {name}")
    for rej in summary.rejected[:20]:
        click.echo(f"  rejected {rej.location()}: {rej.reason}", err=True)
    if summary.rejected_count > 20:
        click.echo(f"  ... and {summary.rejected_count - 20} more rejected", err=True)
    for path in summary.rejects_files:
        click.echo(f"  rejected records written to {path}", err=True)


fmt_option = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                          show_default=True, help="Summary as text, or JSON for scripts.")
batch_option = click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH, show_default=True,
                            help="Rows per write transaction.")
wait_option = click.option("--wait", type=Seconds(0), default=0.0, show_default=True, metavar="SECONDS",
                           help="If another ingest holds the lock, wait this long for it (else exit 3 at once).")


@click.group(cls=Group, invoke_without_command=True)
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="A provex.toml listing sources ([[source]] tables); ingests each.")
@fmt_option
@wait_option
@click.pass_context
def ingest(ctx: click.Context, config: str | None, fmt: str, wait: float) -> None:
    """Read a source into the graph: dvc, mlflow, predictions, openlineage, or
    every source in a --config file."""
    if ctx.invoked_subcommand:
        return
    if not config:
        click.echo(ctx.get_help())
        sys.exit(2)
    sys.exit(run_sources(load_config(Path(config)), fmt=fmt, wait=wait))


@ingest.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--rev", default=None, help="Git revision range to read (e.g. v1..main); default: all history.")
@fmt_option
@batch_option
@wait_option
def dvc(path: str, rev: str | None, fmt: str, batch_size: int, wait: float) -> None:
    """A DVC project: a git repository (with its history) or a plain folder."""
    sys.exit(run_sources([sources.source_class("dvc")(path, rev)], fmt=fmt, batch_size=batch_size, wait=wait))


@ingest.command()
@click.option("--tracking-uri", required=True, help="MLflow tracking URI: http(s)://, sqlite:///..., file:///.../mlruns.")
@click.option("--experiment", "experiments", multiple=True, help="Only this experiment (name); repeatable.")
@fmt_option
@batch_option
@wait_option
def mlflow(tracking_uri: str, experiments: tuple[str, ...], fmt: str, batch_size: int, wait: float) -> None:
    """An MLflow tracking server or store, with its model registry."""
    sys.exit(run_sources([sources.source_class("mlflow")(tracking_uri, experiments)], fmt=fmt, batch_size=batch_size,
                         wait=wait))


@ingest.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TOML file renaming fields of your logs to provex's names.")
@click.option("--model", default=None, metavar="NAME@VERSION", help="Model identity for records that carry none.")
@click.option("--rejects", default=None,
              help="One file for the rejected records of every input (never an input itself); "
                   "default: <input>.rejected.jsonl beside each input.")
@click.option("--dry-run", is_flag=True,
              help="Only show what would be stored: the inferred field mapping and the first records (nothing is written).")
@click.option("--limit", type=click.IntRange(min=1), default=5, show_default=True,
              help="With --dry-run: how many records (and rejects) to show per file.")
@click.option("--prediction-nodes", "nodes", type=click.Choice(["auto", "all", "none"]), default="auto", show_default=True,
              help="Every prediction goes to the prediction store; also give each a graph node: auto (below "
                   "PROVEX_PREDICTION_NODE_RATE per model version and hour), all, or none.")
@fmt_option
@batch_option
@wait_option
def predictions(files: tuple[str, ...], mapping: str | None, model: str | None, rejects: str | None,
                dry_run: bool, limit: int, nodes: str, fmt: str, batch_size: int, wait: float) -> None:
    """Prediction logs (JSONL or CSV, plain or gzipped). Field names and payloads
    of common servers (MLflow, KServe / Open Inference Protocol v2, Seldon,
    CloudEvents) are recognised without a mapping; --dry-run previews them."""
    if dry_run:
        _preview(files, mapping, model, limit, fmt)
        return
    check_rejects(rejects, [*files, mapping])
    cls = sources.source_class("predictions")
    sys.exit(run_sources([cls(f, mapping, model, nodes) for f in files], fmt=fmt, batch_size=batch_size,
                         rejects=rejects, wait=wait))


def _preview(files: tuple[str, ...], mapping: str | None, model: str | None, limit: int, fmt: str) -> None:
    from provex.ingest.predictions import preview

    shown = [preview(f, mapping=mapping, model=model, limit=limit) for f in files]
    if fmt == "json":
        emit_json(shown)
        return
    for item in shown:
        click.echo(f"{item['file']} (dry run, first {item['lines_read']} lines read, nothing written)")
        click.echo(f"  inferred: {item['inferred'] or 'nothing (the log uses provex names, or the mapping file)'}")
        rows = [{k: v for k, v in p.items() if v is not None} for p in item["predictions"]]
        emit([{"field": k, **{f"record {i + 1}": r.get(k) for i, r in enumerate(rows)}}
              for k in dict.fromkeys(k for r in rows for k in r)], "table")
        for rej in item["rejects"][:limit]:
            click.echo(f"  would reject {rej['where']}: {rej['reason']}", err=True)
        if len(item["rejects"]) > limit:
            click.echo(f"  ... and {len(item['rejects']) - limit} more would be rejected (--format json lists all)",
                       err=True)


@ingest.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--rejects", default=None,
              help="One file for the rejected events of every input (never an input, nor inside an input folder); "
                   "default: <input>.rejected.jsonl beside each input file.")
@fmt_option
@batch_option
@wait_option
def openlineage(paths: tuple[str, ...], rejects: str | None, fmt: str, batch_size: int, wait: float) -> None:
    """OpenLineage events: JSON or JSON-lines files, or folders of them."""
    check_rejects(rejects, paths)
    cls = sources.source_class("openlineage")
    sys.exit(run_sources([cls(p) for p in paths], fmt=fmt, batch_size=batch_size, rejects=rejects, wait=wait))


def load_config(path: Path) -> list[sources.Source]:
    """Every source a provex.toml lists (``[[source]]`` tables), in order."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}. Fix the file and retry.") from None
    tables = data.get("source", [])
    if not isinstance(tables, list) or not tables:
        raise UsageError(f"{path}: no [[source]] tables. Add one per source, e.g. kind = \"dvc\", path = \"...\".")
    return [src for i, table in enumerate(tables, 1)
            for src in sources.from_config(table, path.parent, f"{path}: source #{i}")]


COMMANDS: list[click.Command] = [ingest]
