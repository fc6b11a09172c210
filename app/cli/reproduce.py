"""`provex reproduce` and `provex replay`: rebuild a model or data version
from its recipe (optionally run and compared hash by hash), and re-run a
logged prediction through its exact model version. Both are recorded in the
graph (``Reproduction`` / ``Replay`` nodes)."""

from __future__ import annotations

import click

from provex.app import terminal
from provex.app.cli.base import connected
from provex.app.output import emit, emit_json
from provex.app.reproduce import attribution, record, verify
from provex.app.reproduce import recipe as recipe_mod
from provex.app.reproduce import replay as replay_mod
from provex.graph import recipes
from provex.graph.refs import resolve


@click.command()
@click.argument("ref")
@click.option("--verify", "run_it", is_flag=True,
              help="Run it for real (runs the project's code): a temporary git worktree at the commit with the "
                   "project's DVC cache linked, the stages re-run, every hash compared with dvc.lock; a model whose "
                   "hash differs is loaded, locked and rebuilt (pickle/joblib or MLflow: this runs code from them, "
                   "as the stages do) to say whether only its bytes differ. Recorded as a Reproduction node.")
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="With --verify: build here and keep it (default: a temporary folder, removed afterwards).")
@click.option("--project", type=click.Path(file_okay=False, exists=True), default=None,
              help="With --verify: the DVC project checkout to use (default: where it was ingested from).")
@click.option("--format", "fmt", type=click.Choice(("table", "json", "sh")), default="table", show_default=True,
              help="table for people, json for scripts, sh: the recipe as a shell script that runs as it is.")
def reproduce(ref: str, run_it: bool, workdir: str | None, project: str | None, fmt: str) -> None:
    """How to rebuild a model version (or a data version made by a DVC
    stage): check out the commit, install the recorded library versions,
    fetch only the true inputs, run the stages in order, and the hashes and
    metrics to expect. With --verify it is run and compared; the outcome is
    reproduced, reproduced-within-tolerance (same model, different bytes: its
    parameters and predictions match; or the metrics match), differs (which
    outputs, which hashes; the model differs: how) or could-not-run (why)."""
    with connected() as graph:
        found = resolve(graph, ref, labels=("ModelVersion", "DataVersion"))
        target = recipes.target(graph, found["uid"])
        rows = recipes.recipe(graph, target)
        root = project or recipe_mod.project_root(target["run"])
        if not run_it:
            _print_recipe(target, rows, root, fmt)
            return
        if fmt == "sh":
            raise click.UsageError("--format sh prints the recipe; use it without --verify.")
        report = verify.verify(target, rows, project=root, workdir=workdir)
        report["reproduction"] = record.record_reproduction(graph, target, report)
    _print_report(report, fmt)
    if report["outcome"] == "could-not-run":
        raise SystemExit(1)


def _print_recipe(target: dict, rows: list[dict], root: str | None, fmt: str) -> None:
    if fmt == "sh":
        with terminal.exact():  # a script, byte for byte when piped (its values are shell-quoted)
            click.echo(recipe_mod.script(target, rows, root), nl=False)
    elif fmt == "json":
        emit_json(recipe_mod.as_json(target, rows, root))
    else:
        click.echo(f"Recipe for {target['name']} ({target['uid']}), project {root or '(unknown)'}:")
        emit(rows, "table")


def _print_report(report: dict, fmt: str) -> None:
    if fmt == "json":
        emit_json(report)
        return
    click.echo(f"{report['target']}: {report['outcome']} - {report.get('reason', '')}")
    click.echo(f"  commit {report.get('commit')}, {report.get('library_note')}")
    for m in report.get("models") or []:
        if (m.get("detail") or "") not in report.get("reason", ""):  # not said by the reason yet
            click.echo(f"  {m['path']}: {m['verdict']}" + (f": {m['detail']}" if m.get("detail") else ""))
    if report["outputs"]:
        emit([{k: o[k] for k in ("stage", "kind", "path", "expected", "got", "same")} for o in report["outputs"]], "table")
    if report["metrics"]:
        emit(report["metrics"], "table")


@click.command()
@click.argument("prediction")
@click.option("--model", "model_ref", metavar="MODEL_VERSION", default=None,
              help="Replay the same inputs through this model version instead (e.g. model:credit-limit@4).")
@click.option("--against", "against_ref", metavar="PREDICTION", default=None,
              help="Attribute the difference to this other prediction by swapping the model version, "
                   "then each input, one at a time.")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True,
              help="table for people, json for scripts.")
def replay(prediction: str, model_ref: str | None, against_ref: str | None, fmt: str) -> None:
    """Re-run a logged prediction: load the exact model version that made it
    (MLflow pyfunc, from the registry or the logged model's artifacts), feed it
    the logged inputs (chained upstream predictions are replayed first and fed
    in the way the log records them) and compare with the logged output.
    Outcomes: reproduced (after a stated post-processing such as rounding to
    the logged precision), reproduced-within-tolerance, differs, could-not-run.
    This loads and runs the model. Each replay is recorded as a Replay node."""
    with connected() as graph:
        uid = resolve(graph, prediction, labels=("Prediction",))["uid"]
        model = resolve(graph, model_ref, labels=("ModelVersion",))["uid"] if model_ref else None
        models = replay_mod.Models()
        result = replay_mod.replay(graph, uid, model=model, models=models)
        against = None
        if against_ref:
            other = resolve(graph, against_ref, labels=("Prediction",))["uid"]
            against = attribution.attribute(graph, uid, other, models=models)
        result_dict = result.as_dict()
        result_dict["replay"] = record.record_replay(graph, result_dict, against)
    if fmt == "json":
        emit_json({**result_dict, **({"attribution": against} if against else {})})
    else:
        _print_replay(result, against)
    if result.outcome == "could-not-run":
        raise SystemExit(1)


def _print_replay(result: replay_mod.Replay, against: dict | None) -> None:
    click.echo(result.summary())
    for key, fed in result.fed.items():
        click.echo(f"  input {key}: logged {fed['logged']}, fed {fed['fed']} (replayed {fed['from']})"
                   + (f" - {fed['note']}" if fed.get("note") else ""))
    for up in result.upstream:
        click.echo(f"  upstream: {up.summary()}")
    if against:
        click.echo("")
        click.echo(against["headline"])
        emit(against["rows"], "table")
        click.echo(attribution.CAVEAT)
COMMANDS: list[click.Command] = [reproduce, replay]
