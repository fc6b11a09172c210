"""The ``explain`` question of the catalog: the ranked causes (no model code
run) as flat rows, handed to its Cypher as ``$causes``. The catalog reaches
this through its registry of composed questions
(:data:`provex.graph.questions.stored.COMPOSED`): explain asks the catalog's
questions itself, so the catalog does not import it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provex.graph.explain import explain
from provex.graph.explain.causes import origin_text


def rows(graph: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    found = explain(graph, values["prediction"], values.get("against"))
    return {"causes": [{"rank": c["rank"], "kind": c["kind"], "cause": c["statement"], "share": c["share"],
                        "basis": c["basis"], "origin": origin_text(c["origin"]),
                        "reach": (c["reach"] or {}).get("predictions"), "action": c["action"]} for c in found["causes"]]}
