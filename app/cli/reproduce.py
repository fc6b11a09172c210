"""`provex reproduce` and `provex replay`: rebuild a model or data version
from its recipe (optionally run and compared hash by hash), and re-run a
logged prediction through its exact model version. Both are recorded in the
graph (``Reproduction`` / ``Replay`` nodes)."""

from __future__ import annotations

import click

from provex.app.cli.base import connected
from provex.app.output import emit, emit_json
from provex.app.reproduce import attribution, record
from provex.app.reproduce import replay as replay_mod
from provex.graph.refs import resolve


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
COMMANDS: list[click.Command] = [replay]
