"""The app's pages in a real browser on a big graph: `python -m bench.app_pages [--repeat 5]`.

Starts `provex app` on a free loopback port against the bench's Neo4j (NEO4J_URI
when set, else the graph bench/questions.py left; `--app` there runs this on
its largest graph), then in headless Debian chromium (Playwright, as
tests/test_browser.py drives it) times, from navigation start until the
answer's content is on the page: the node page of a generated prediction
(its heading and the drawn lineage canvas), the home page's one box given a
household id (the complaint search: "… is a customer or household with N
predictions"), and a home answer from the URL (prediction-provenance: its
headline). One warm-up, then the median of --repeat. Saves the "app" section.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from bench import question_params
from bench.report import save_section
from bench.run import connected, env_for
from bench.serving import serving
from provex.graph.connection import Graph
from provex.graph.server import free_port

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
LOG = ROOT / ".work/bench-app.log"
GOAL_S = 2.0
WAIT_MS = 120_000


@contextmanager
def served(graph: Graph) -> Iterator[str]:
    """`provex app` on a free loopback port, pointed at ``graph``; its URL."""
    env = {**env_for(graph), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    port = free_port()
    LOG.parent.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    with serving([str(Path(sys.executable).with_name("provex")), "app", "--port", str(port)],
                 f"{url}/_stcore/health", LOG, 90, env=env, cwd=ROOT):
        yield url


def loaded_seconds(page, url: str, ready: Callable[[object], None]) -> float:
    """Navigate to ``url``; seconds from navigation start until ``ready(page)`` returns."""
    page.goto("about:blank")
    page.goto(url, wait_until="commit")
    ready(page)
    return page.evaluate("performance.now()") / 1000


def node_ready(uid: str) -> Callable[[object], None]:
    def ready(page) -> None:
        page.get_by_text(f"Prediction {uid}").first.wait_for()
        canvas = page.frame_locator("iframe[title='lineage graph']").first.locator("canvas").first
        canvas.wait_for(state="attached")
    return ready


def text_ready(pattern: str) -> Callable[[object], None]:
    def ready(page) -> None:
        page.get_by_text(re.compile(pattern)).first.wait_for()
    return ready


def headline_ready(page) -> None:
    page.locator("[data-testid='stAlertContentSuccess']").first.wait_for()


def probes(graph: Graph, url: str) -> dict[str, tuple[str, Callable[[object], None]]]:
    """What to time: name -> (URL, readiness check)."""
    top = question_params.one(graph, question_params.TOP_VERSION)
    pred = question_params.one(graph, question_params.ONE_PREDICTION, mv=top["uid"])
    uid, household = pred["uid"], pred["household"]
    return {
        f"node page of {uid}": (f"{url}/node?ref={quote(uid)}", node_ready(uid)),
        f"home: the box given household {household}": (
            f"{url}/?find={household}", text_ready(rf"{re.escape(household)} is a customer or household with [\d,]+ prediction")),
        f"home: prediction-provenance of {uid} (headline)": (
            f"{url}/?question=prediction-provenance&prediction={quote(uid)}", headline_ready),
    }


def measure(graph: Graph, repeat: int) -> dict[str, dict[str, float]]:
    from playwright.sync_api import sync_playwright

    results = {}
    with served(graph) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.set_default_timeout(WAIT_MS)
            for name, (target, ready) in probes(graph, url).items():
                loaded_seconds(page, target, ready)  # warm-up
                times = [loaded_seconds(page, target, ready) for _ in range(repeat)]
                results[name] = {"median_s": round(statistics.median(times), 2), "max_s": round(max(times), 2),
                                 "runs": [round(t, 2) for t in times]}
                print(json.dumps({"probe": name, **results[name]}), flush=True)
        finally:
            browser.close()
    return results


def run(graph: Graph, repeat: int = 5) -> None:
    """Time the pages on ``graph`` as it is and save the "app" section."""
    predictions = graph.facts.manifest().rows()  # in the prediction store
    results = measure(graph, repeat)
    lines = [f"On a graph of {predictions:,} predictions; seconds from navigation start until the content is "
             f"rendered, headless chromium, median of {repeat} after one warm-up; goal < {GOAL_S:.0f} s.", "",
             "| page | median s | slowest s | goal met |", "|---|---|---|---|"]
    lines += [f"| {name} | {r['median_s']} | {r['max_s']} | {'met' if r['median_s'] < GOAL_S else 'NOT met'} |"
              for name, r in results.items()]
    save_section("app", "The app's pages on the big graph", "\n".join(lines),
                 {"predictions": predictions, "repeat": repeat, "pages": results})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is absent (apt-get install chromium)")
    with connected() as graph:
        run(graph, args.repeat)


if __name__ == "__main__":
    main()
