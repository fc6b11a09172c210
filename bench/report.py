"""docs/benchmarks.md from the sections the bench modules saved.

Each bench module measures one area and saves its section with
:func:`save_section` (``bench/out/<name>.json``: a title, Markdown text that
puts every figure beside its baseline, and the raw figures). ``python -m
bench.report`` (the last step of ``make bench`` / ``make bench-full``)
writes docs/benchmarks.md: the machine, the versions and the date, then the
sections. A section the run did not measure is kept from the doc as it was
(its own "Measured" date says when), so a partial run (one module, or
`make bench` after `make bench-full`) updates what it measured and nothing else.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench/out"
DOC = ROOT / "docs/benchmarks.md"
ORDER = ("predictions", "predictions-10000000", "mlflow", "dvc", "questions", "app", "cli")
FINDINGS = ROOT / "bench/findings.md"  # written by hand from the profiles: what the numbers mean
FINDINGS_TITLE = "## Findings"  # its first line: where the measured sections of a report end
PACKAGES = ("neo4j", "neo4j-rust-ext", "mlflow", "dvc", "streamlit", "pandas")


def save_section(name: str, title: str, markdown: str, figures: Any) -> Path:
    """Save one area's results for the report (and print the Markdown)."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    doc = {"name": name, "title": title, "markdown": markdown.strip() + "\n", "figures": figures,
           "measured": datetime.now(UTC).isoformat(timespec="seconds"), "load_average": os.getloadavg()}
    path.write_text(json.dumps(doc, indent=2, default=str))
    print(f"\n## {title}\n\n{markdown}", flush=True)
    return path


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = next((line.split()[1] for line in _lines("/proc/meminfo") if line.startswith("MemTotal")), "0")
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory": f"{int(mem) / 1024 / 1024:.0f} GB",
            "os": platform.platform(), "python": platform.python_version(), "java": _java(),
            "neo4j": _neo4j_version()}


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def _java() -> str:
    try:
        done = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return "?"
    return (done.stderr.splitlines() or ["?"])[0]


def _neo4j_version() -> str:
    from provex.graph.server import NEO4J_VERSION

    return f"Neo4j Community {NEO4J_VERSION} (managed, same jars as neo4j-admin)"


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def kept_sections(doc: str) -> list[tuple[str, str]]:
    """``(title, text)`` of each measured section of an existing report, in its order (the findings excluded)."""
    body = doc.split(f"\n{FINDINGS_TITLE}", 1)[0]
    parts = body.split("\n## ")[1:]
    return [(part.split("\n", 1)[0], "## " + part.rstrip("\n") + "\n") for part in parts]


def merged(new: list[dict[str, Any]], old: list[tuple[str, str]]) -> list[str]:
    """The report's sections: the old ones in their order, each replaced by the new
    section of the same title; new sections without one follow their ORDER neighbour."""
    by_title = {section["title"]: section for section in new}
    out: list[tuple[str | None, str]] = [(by_title[t]["name"], _text(by_title.pop(t))) if t in by_title else (None, text)
                                         for t, text in old]
    for section in sorted(by_title.values(), key=lambda s: _rank(s["name"])):
        at = max((i + 1 for i, (name, _) in enumerate(out) if name and _rank(name) <= _rank(section["name"])),
                 default=len(out))
        out.insert(at, (section["name"], _text(section)))
    return [text for _, text in out]


def _rank(name: str) -> int:
    return ORDER.index(name) if name in ORDER else len(ORDER)


def _text(section: dict[str, Any]) -> str:
    load = ", ".join(f"{x:.1f}" for x in section.get("load_average", ()))
    return "\n".join([f"## {section['title']}", "", f"_Measured {section['measured']} (load average {load})._", "",
                      section["markdown"]])


def render(sections: list[str]) -> str:
    info, libs = machine(), versions()
    head = ["# Benchmarks", "",
            f"Written by `python -m bench.report` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the sections in "
            "bench/out/ (`make bench`: the quick scale; `make bench-full`: the 1M scale). Each figure is the median "
            "of the runs its section states and stands beside its baseline, measured in the same run on the same "
            "machine; a section this run did not measure is kept from the run its date names. Nothing here is "
            "asserted by a test.", "",
            "| machine | |", "|---|---|", *(f"| {k} | {v} |" for k, v in info.items()),
            f"| libraries | {', '.join(f'{k} {v}' for k, v in libs.items())} |", ""]
    body = list(sections)
    notes = [FINDINGS.read_text()] if FINDINGS.exists() else []
    return "\n".join(head + body + notes)


def main() -> None:
    found = {p.stem: json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))}
    sections = [found[name] for name in ORDER if name in found]
    if not sections:
        sys.exit("No bench sections in bench/out/: run `make bench` (or a bench module) first.")
    old = kept_sections(DOC.read_text()) if DOC.exists() else []
    DOC.write_text(render(merged(sections, old)))
    print(f"wrote {DOC.relative_to(ROOT)} ({len(sections)} sections measured: {', '.join(s['name'] for s in sections)}; "
          f"{len(old)} in the doc before)")


if __name__ == "__main__":
    main()
