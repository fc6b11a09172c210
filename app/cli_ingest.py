"""`provex ingest ...` and `provex watch`: adapters plug in here by kind."""

from __future__ import annotations

import sys
import time
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from graph import pipeline
from graph.errors import ProvexError, UsageError
from graph.writer import DEFAULT_BATCH
from ingest.records import Record

from app.cli import Group, connected
from app.output import emit_json

Reader = Callable[[dict[str, Any]], Iterable[Record]]


def _run(kind: str, uri: str, read: Reader, *, fmt: str, batch_size: int, rejects: str | None = None) -> int:
    with connected() as graph:
        summary = pipeline.ingest(graph, kind=kind, uri=uri, read=read, batch_size=batch_size, rejects=rejects)
    _print_summary(summary, fmt)
    return summary.exit_code


def _print_summary(summary: pipeline.Summary, fmt: str) -> None:
    info = summary.as_dict()
    if fmt == "json":
        emit_json(info)
        return
    written = ", ".join(f"{k} {v}" for k, v in info["written"].items()) or "nothing new"
    click.echo(f"ingested {summary.kind} {summary.uri} ({summary.ingest_run}): {written}")
    for kind, count in info["flags"].items():
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
batch_option = click.option("--batch-size", type=int, default=DEFAULT_BATCH, show_default=True,
                            help="Rows per write transaction.")


@click.group(cls=Group, invoke_without_command=True)
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="A provex.toml listing sources ([[source]] tables); ingests each.")
@fmt_option
@click.pass_context
def ingest(ctx: click.Context, config: str | None, fmt: str) -> None:
    """Read a source into the graph: dvc, mlflow, predictions, openlineage, or
    every source in a --config file."""
    if ctx.invoked_subcommand:
        return
    if not config:
        click.echo(ctx.get_help())
        sys.exit(2)
    sys.exit(run_config(Path(config), fmt))


@ingest.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--rev", default=None, help="Git revision range to read (e.g. v1..main); default: all history.")
@fmt_option
@batch_option
def dvc(path: str, rev: str | None, fmt: str, batch_size: int) -> None:
    """A DVC project: a git repository (with its history) or a plain folder."""
    from ingest import dvc as adapter

    uri = str(Path(path).resolve())
    sys.exit(_run("dvc", uri, lambda state: adapter.read(path, rev=rev, state=state), fmt=fmt, batch_size=batch_size))


@ingest.command()
@click.option("--tracking-uri", required=True, help="MLflow tracking URI: http(s)://, sqlite:///..., file:///.../mlruns.")
@click.option("--experiment", "experiments", multiple=True, help="Only this experiment (name); repeatable.")
@fmt_option
@batch_option
def mlflow(tracking_uri: str, experiments: tuple[str, ...], fmt: str, batch_size: int) -> None:
    """An MLflow tracking server or store, with its model registry."""
    from ingest import mlflow as adapter

    read = lambda state: adapter.read(tracking_uri, experiments=experiments, state=state)  # noqa: E731
    sys.exit(_run("mlflow", tracking_uri, read, fmt=fmt, batch_size=batch_size))


@ingest.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TOML file renaming fields of your logs to provex's names.")
@click.option("--model", default=None, metavar="NAME@VERSION", help="Model identity for records that carry none.")
@click.option("--rejects", default=None, help="Where rejected records go (default: <input>.rejected.jsonl).")
@fmt_option
@batch_option
def predictions(files: tuple[str, ...], mapping: str | None, model: str | None, rejects: str | None,
                fmt: str, batch_size: int) -> None:
    """Prediction logs (JSONL or CSV, plain or gzipped)."""
    from ingest import predictions as adapter

    code = 0
    for file in files:
        read = lambda state, f=file: adapter.read(f, mapping=mapping, model=model, state=state)  # noqa: E731
        uri = str(Path(file).resolve())
        code = max(code, _run("predictions", uri, read, fmt=fmt, batch_size=batch_size,
                              rejects=rejects or pipeline.REJECTS_BESIDE))
    sys.exit(code)


@ingest.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--rejects", default=None, help="Where rejected events go (default: <input>.rejected.jsonl).")
@fmt_option
@batch_option
def openlineage(paths: tuple[str, ...], rejects: str | None, fmt: str, batch_size: int) -> None:
    """OpenLineage events: JSON or JSON-lines files, or folders of them."""
    from ingest import openlineage as adapter

    code = 0
    for path in paths:
        read = lambda state, p=path: adapter.read(p, state=state)  # noqa: E731
        code = max(code, _run("openlineage", str(Path(path).resolve()), read, fmt=fmt, batch_size=batch_size,
                              rejects=rejects or pipeline.REJECTS_BESIDE))
    sys.exit(code)


def load_config(path: Path) -> list[dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}. Fix the file and retry.") from None
    sources = data.get("source", [])
    if not isinstance(sources, list) or not sources:
        raise UsageError(f"{path}: no [[source]] tables. Add one per source, e.g. kind = \"dvc\", path = \"...\".")
    for i, src in enumerate(sources, 1):
        if src.get("kind") not in CONFIG_KINDS:
            raise UsageError(f"{path}: source #{i} has kind {src.get('kind')!r}; use one of {', '.join(CONFIG_KINDS)}.")
    return sources


def _config_args(src: dict[str, Any], base: Path) -> list[str]:
    """A [[source]] table as the arguments of its `provex ingest KIND` command."""
    def rel(p: str) -> str:
        return str((base / p).resolve()) if not p.startswith(("sqlite:", "http:", "https:", "file:")) else p

    kind = src["kind"]
    if kind == "dvc":
        return [rel(src["path"])] + (["--rev", src["rev"]] if src.get("rev") else [])
    if kind == "mlflow":
        uri = src["tracking_uri"]
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            uri = "sqlite:///" + rel(uri.removeprefix("sqlite:///"))
        return ["--tracking-uri", uri] + [a for e in src.get("experiments", []) for a in ("--experiment", e)]
    if kind == "predictions":
        extra = (["--mapping", rel(src["mapping"])] if src.get("mapping") else []) + (
            ["--model", src["model"]] if src.get("model") else [])
        return [rel(f) for f in src["files"]] + extra
    return [rel(p) for p in src["paths"]]


CONFIG_KINDS = ("dvc", "mlflow", "predictions", "openlineage")


def run_config(path: Path, fmt: str) -> int:
    """Ingest every source in the file, in order; a failing source does not stop the rest."""
    code = 0
    for src in load_config(path):
        try:
            args = [*_config_args(src, path.parent), "--format", fmt]
        except KeyError as exc:
            raise UsageError(f"{path}: a {src['kind']} source needs {exc.args[0]!r}.") from None
        try:
            ingest.get_command(click.Context(ingest), src["kind"]).main(args, standalone_mode=False)
        except SystemExit as exc:
            code = max(code, int(exc.code or 0))
        except ProvexError as exc:
            click.echo(f"error: {exc}", err=True)
            code = max(code, exc.exit_code)
    return code


@click.command()
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False),
              help="provex.toml listing the sources.")
@click.option("--every", type=float, required=True, help="Seconds between ingests.")
@click.option("--times", type=int, default=0, help="Stop after this many rounds (0: run until interrupted).")
def watch(config: str, every: float, times: int) -> None:
    """Ingest every source in the config, again every SECONDS (a scheduled job)."""
    rounds = 0
    while True:
        code = run_config(Path(config), "table")
        rounds += 1
        click.echo(f"round {rounds} done (exit {code}); next in {every:g}s")
        if times and rounds >= times:
            sys.exit(code)
        time.sleep(every)
