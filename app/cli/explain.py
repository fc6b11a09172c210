"""`provex explain`: why a prediction is what it is, in one answer."""

from __future__ import annotations

from pathlib import Path

import click

from provex.app.cli.base import connected
from provex.app.output import emit, emit_json
from provex.graph.refs import resolve


@click.command()
@click.argument("prediction")
@click.option("--against", "against_ref", metavar="PREDICTION", default=None,
              help="Explain the difference from this other prediction (e.g. the spouse's, or the same customer's "
                   "earlier one). Without it, each model of the chain is compared with its last known good version.")
@click.option("--allow-run", is_flag=True,
              help="Replay the prediction with its models (loads and runs model code, MLflow pyfunc): the share of the "
                   "difference each swap explains. Recorded as a Replay node.")
@click.option("--format", "fmt", type=click.Choice(("table", "json", "html")), default="table", show_default=True,
              help="table for people (headline first), json for scripts (causes[] with rank, kind, evidence, origin, "
                   "reach, action), html: the decision record, one self-contained file (see --output).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="With --format html: write the record here (default: decision-<prediction id>.html in the current folder).")
def explain(prediction: str, against_ref: str | None, allow_run: bool, fmt: str, output: str | None) -> None:
    """Why PREDICTION is what it is: a ranked list of causes, each with its
    kind (model version change, data anomaly upstream, input difference,
    override, upstream chained model, environment/library change, serving
    alias timing), the evidence in numbers, where it came from (data version,
    stage, commit with author and message), its reach (how many other
    predictions share it) and the next action; led by one headline, followed
    by what limits the answer (lineage gaps). It combines what-changed or
    compare-predictions, data-anomalies in the prediction's upstream, the
    impact questions and, with --allow-run, the replay's attribution."""
    from provex.app import explain as explain_app

    if output and fmt != "html":
        raise click.UsageError("--output writes the decision record: use it with --format html.")
    with connected() as graph:
        uid = resolve(graph, prediction, labels=("Prediction",))["uid"]
        other = resolve(graph, against_ref, labels=("Prediction",))["uid"] if against_ref else None
        found = explain_app.explain(graph, uid, other, allow_run=allow_run)
        if fmt == "html":
            from provex.app.explain import decision

            text = decision.render(found, decision.gather(graph, found))
    if fmt == "json":
        emit_json(found)
        return
    if fmt == "html":
        target = Path(output or f"decision-{found['prediction']['id'].replace('/', '_')}.html")
        target.write_text(text, encoding="utf-8")
        click.echo(f"wrote {target} ({len(text):,} bytes): {found['headline']}")
        return
    emit(explain_app.causes_table(found), "table", headline=found["headline"])
    for note in found["limits"] + found["context"]:
        click.echo(f"  limit: {note}", err=True)


COMMANDS: list[click.Command] = [explain]
