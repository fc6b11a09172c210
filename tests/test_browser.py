"""The app in a real browser: Debian's chromium driven by Playwright walks the
complaint from the household id alone (home box -> the household's history
-> two predictions picked -> compare -> what changed, ending on the page
that names the bad raw data version as the difference), and the complaint
of the real sample story (``sample_data/``, ingested through
``provex ingest --config`` by tests/sample.py) end to end: search the
prediction -> its node page and provenance -> the bad raw data version ->
impact, against `streamlit run` on a free loopback port (as `provex app
--allow-run`), checking the pyvis canvas really drew; on the way, Replay on the
explain page (and the download of the decision record), and the what-changed picture read from vis-network's own data:
a label under every node at a readable size, the cents data flagged, the path
to it bold. Expected values come from ``sample_data/expected.json``.
Screenshots go to tests/artifacts/. Skips when /usr/bin/chromium is absent."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from sample import expected, reingest_predictions

from bench.serving import serving
from provex.graph.server import free_port
from provex.vocab import model as m

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app" / "streamlit_app.py"
ARTIFACTS = ROOT / "tests" / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 60_000
X = expected()
LOW = X["complaint"]["low_limit"]
AFFECTED = X["affected_predictions"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install chromium)")


@pytest.fixture
def app_url(neo4j_settings) -> Iterator[str]:
    """`streamlit run` of the app on a free loopback port, with the test Neo4j."""
    port = free_port()
    env = {**os.environ, "NEO4J_URI": neo4j_settings.uri, "NEO4J_USERNAME": neo4j_settings.username,
           "NEO4J_PASSWORD": neo4j_settings.password, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
           "PROVEX_ALLOW_RUN": "1"}  # as `provex app --allow-run`: the Replay button works
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "failure.png").unlink(missing_ok=True)
    url = f"http://127.0.0.1:{port}"
    with serving([sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", "127.0.0.1",
                  "--server.port", str(port), "--server.headless", "true"],
                 f"{url}/_stcore/health", ARTIFACTS / "streamlit.log", 60, env=env, cwd=ROOT):
        yield url


@pytest.fixture
def page() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1500, "height": 1100})
            tab.set_default_timeout(WAIT_MS)
            yield tab
        finally:
            browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def canvas_width(page) -> int:
    """Width of the vis-network canvas inside the lineage iframe (0 if none)."""
    frame = page.frame_locator("iframe[title='lineage graph']").first
    canvas = frame.locator("canvas").first
    canvas.wait_for(state="attached")
    return int(canvas.evaluate("c => c.width"))


def lineage_html(page, wanted: list[str]) -> str:
    """The lineage iframe's HTML once it holds every wanted uid (the frame
    is replaced after the script run ends), or as it is after WAIT_MS."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        html = page.frame_locator("iframe[title='lineage graph']").first.locator("body").inner_html()
        if all(uid in html for uid in wanted) or time.monotonic() > deadline:
            return html
        page.wait_for_timeout(500)


def vis_data(page) -> dict:
    """What vis-network holds in the lineage iframe: its zoom, and each node's
    label, font size, flags and path mark, each edge's path mark (not pixels)."""
    frame = page.locator("iframe[title='lineage graph']").first.element_handle().content_frame()
    frame.wait_for_function("() => typeof network !== 'undefined' && network !== null && network.body")
    last, still = None, 0
    for _ in range(60):  # the page lays the iframe out: wait until its width holds still three reads running
        page.wait_for_timeout(500)
        width = frame.evaluate("() => document.body.clientWidth")
        still, last = (still + 1 if width == last else 0), width
        if still >= 2:
            break
    frame.evaluate("() => network.fit()")  # fitted to the canvas as it now is (the page's own refit may still be due)
    page.wait_for_timeout(300)
    return frame.evaluate("""() => ({
        scale: network.getScale(),
        nodes: nodes.get().map(n => ({id: n.id, label: n.label || '', path: !!n.path, flags: n.flags || [],
                                      font: network.body.nodes[n.id].options.font.size})),
        edges: edges.get().map(e => ({from: e.from, to: e.to, path: !!e.path}))})""")


def joined(edges: list[dict], a: str, b: str) -> bool:
    """Whether ``edges`` link ``a`` to ``b``."""
    seen, todo = {a}, [a]
    while todo:
        here = todo.pop()
        for e in edges:
            for x, y in ((e["from"], e["to"]), (e["to"], e["from"])):
                if x == here and y not in seen:
                    seen.add(y)
                    todo.append(y)
    return b in seen


def settle(page) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_timeout(300)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden")


def mv_uid(key: str) -> str:
    """``credit-limit@5`` (expected.json's key) as a ModelVersion uid."""
    name, version = key.split("@")
    return m.model_version(name, version).uid


def test_complaint_story_end_to_end(sample, app_url, page):
    try:
        walk(page, app_url)
    except Exception:
        shot(page, "failure")
        raise


def walk(page, app_url: str) -> None:
    """search -> prediction -> its provenance -> the bad raw data version -> impact, checking each page."""
    complaint = m.prediction(LOW["credit_limit_prediction"]).uid
    raw = X["bad_data_version"]["raw"]
    bad_raw = m.data_version(raw["path"], raw["md5"]).uid
    bad_models = sorted(mv_uid(k) for k in X["bad_model_versions"])
    # 1. search the complained-about prediction
    page.goto(f"{app_url}/search?q={LOW['credit_limit_prediction']}")
    link = page.get_by_role("link", name=complaint, exact=True)  # not the Replay nodes recorded for it
    link.wait_for()
    shot(page, "1-search")
    page.wait_for_function("document.title === 'Search · provex'")  # each page its own title
    page.get_by_text(re.compile(r"[\d,]+ nodes · [\d,]+ edges · last ingest ")).first.wait_for()  # the footer
    assert page.get_by_role("button", name="Deploy").count() == 0  # toolbar in viewer mode
    # 2. its node page: properties, provenance and the drawn lineage
    link.click()
    page.get_by_text(f"Prediction {complaint}").first.wait_for()
    assert f"ref={quote(complaint)}" in page.url or f"ref={complaint}" in page.url
    page.get_by_text("Where this came from").first.wait_for(state="attached")
    assert canvas_width(page) > 0
    page.wait_for_timeout(1500)
    shot(page, "2-prediction")
    # 3. deep enough upstream to reach the raw file; move to it without typing its id
    page.goto(f"{app_url}/node?ref={quote(complaint)}&dir=up&depth=10")
    box = page.locator("[data-testid='stSelectbox']").filter(has_text="Node in this graph")
    settle(page)
    assert canvas_width(page) > 0
    shot(page, "3-provenance")
    box.click()
    page.keyboard.type(bad_raw)  # the list is long and virtualised: filter it as a user would
    page.get_by_role("option", name=bad_raw).first.click()
    settle(page)
    page.get_by_role("button", name="Re-centre on it").click()
    page.get_by_text(f"DataVersion {bad_raw}").first.wait_for()
    settle(page)
    assert quote(bad_raw, safe="") in page.url or bad_raw in page.url
    assert canvas_width(page) > 0
    page.wait_for_timeout(1500)
    shot(page, "4-bad-raw-data")
    page.get_by_text("down", exact=True).click()  # its downstream: runs, model versions, predictions
    settle(page)
    assert "dir=down" in page.url and canvas_width(page) > 0
    assert all(uid in lineage_html(page, bad_models) for uid in bad_models)
    page.wait_for_timeout(1500)
    shot(page, "4-bad-raw-data-down")
    # 5. impact of the bad raw data version
    page.get_by_role("link", name="Impact of this node").click()
    for uid in bad_models:
        page.get_by_role("link", name=uid).wait_for()
    settle(page)
    metrics = page.locator("[data-testid='stMetric']").all_inner_texts()
    assert [[part for part in x.split("\n") if part] for x in metrics] == [
        ["Affected model versions", str(len(bad_models))], ["Affected predictions", str(AFFECTED["total"])],
        ["Subjects", str(AFFECTED["customers"])]]
    for good in set(X["model_versions"]) - set(X["bad_model_versions"]):
        assert page.get_by_role("link", name=mv_uid(good), exact=True).count() == 0
    shot(page, "5-impact")
    # 6. question first: the home page answers prediction-provenance with a graph
    page.goto(f"{app_url}/?question=prediction-provenance")
    box = page.get_by_label("the prediction, e.g. prediction:cl-000123 (Prediction)")
    box.fill(LOW["credit_limit_prediction"])
    box.press("Enter")
    settle(page)
    page.get_by_role("button", name="Answer").click()
    page.get_by_role("link", name=f"Explore {complaint} on its node page").wait_for()
    page.get_by_text("Nodes in this answer").first.click()  # many links: a collapsed expander
    page.get_by_role("link", name=mv_uid(LOW["credit_limit_version"]), exact=True).wait_for()
    page.get_by_role("link", name=mv_uid(LOW["credit_scoring_version"]), exact=True).wait_for()
    assert canvas_width(page) > 0
    page.wait_for_timeout(1500)
    shot(page, "6-question")


def test_complaint_from_the_household_id_to_the_root_cause(sample, app_url, page):
    try:
        walk_from_household(page, app_url)
    except Exception:
        shot(page, "failure")
        raise


@pytest.mark.slow
def test_the_same_walk_without_prediction_nodes(sample, session_graph, app_url, page):
    """The same walk with the sample's logs ingested ``prediction_nodes = "none"``:
    every prediction the pages show comes from the store (make test-long)."""
    result = reingest_predictions(session_graph, sample["config"], "none")
    assert result["exit_code"] == 0, result["stderr"]
    assert session_graph.read("MATCH (p:Prediction) RETURN count(p) AS n")[0]["n"] == 0
    try:
        walk_from_household(page, app_url)
    except Exception:
        shot(page, "failure")
        raise


def walk_from_household(page, app_url: str) -> None:
    """Types only the household id; every other step is a click."""
    c = X["complaint"]
    spouse, low = c["spouse"]["credit_limit_prediction"], c["low_limit"]["credit_limit_prediction"]
    raw = X["bad_data_version"]["raw"]
    named = f"{raw['path']}@{raw['md5'][:8]}"
    household = c["household_id"]
    # 1. the home page's one box
    page.goto(app_url)
    box = page.get_by_label("Customer, household, prediction, model or data")
    box.fill(household)
    box.press("Enter")
    page.get_by_text(f"{household} is a customer or household with {len(c['household_predictions'])} predictions"
                     ).wait_for()
    shot(page, "h1-home")
    # 2. the household's history: headline, a timeline per model, the predictions
    page.get_by_role("link", name=f"History of {household}").click()
    page.get_by_text(f"{len(c['household_predictions'])} predictions about {household} (2 subjects)").wait_for()
    assert f"subject={household}" in page.url
    settle(page)
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for()  # the timeline drew
    shot(page, "h2-history")
    # 3. pick the spouse's and the complained-about credit limits (clicks, no typing)
    for pid in (spouse, low):
        page.locator("[data-testid='stMultiSelect']").first.click()
        page.get_by_role("option", name=re.compile(re.escape(pid))).first.click()
        settle(page)
    page.keyboard.press("Escape")
    compare = page.get_by_role("link", name=f"Compare {m.prediction(spouse).uid} with {m.prediction(low).uid}")
    compare.wait_for()
    shot(page, "h3-picked")
    # 4. compare: the ratio and the data only the low limit's model used
    compare.click()
    page.get_by_text(f"{c['ratio']:.3g}x lower", exact=False).first.wait_for()
    settle(page)
    headline = page.locator("[data-testid='stAlertContentSuccess']").first.inner_text()
    assert named in headline and c["low_limit"]["credit_limit_version"] in headline
    assert "a=" in page.url and "b=" in page.url
    page.get_by_role("link", name=m.data_version(raw["path"], raw["md5"]).uid).wait_for()
    shot(page, "h4-compare")
    # 4b. explain it against the spouse: the model change first, its origin the cents data version
    page.get_by_role("link", name=f"Explain {m.prediction(low).uid} against {m.prediction(spouse).uid}").click()
    page.get_by_text(f"because {c['low_limit']['credit_limit_version']} made it", exact=False).first.wait_for()
    settle(page)
    headline = page.locator("[data-testid='stAlertContentSuccess']").first.inner_text()
    assert named in headline and X["bad_commit"][:7] in headline and "of the gap" not in headline
    shot(page, "h4b-explain")
    # 4c. Replay (the app runs with --allow-run): the model swap's share of the gap re-ranks the causes
    page.get_by_role("button", name="Replay", exact=True).click()
    page.get_by_text("of the gap", exact=False).first.wait_for()
    settle(page)
    page.get_by_text("Recorded as replay:", exact=False).first.wait_for()
    shot(page, "h4c-replayed")
    # 4d. the decision record: one self-contained HTML file
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the decision record (HTML)").click()
    record = Path(download.value.path()).read_text()
    assert record.startswith("<!DOCTYPE html>") and "<svg" in record and named in record and "of the gap" in record
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", record)
    # 5. what changed behind the complained-about prediction: ends on the root cause
    page.get_by_role("link", name=f"What changed for {m.prediction(low).uid}").click()
    page.get_by_text("the last known good", exact=False).first.wait_for()
    settle(page)
    headline = page.locator("[data-testid='stAlertContentSuccess']").first.inner_text()
    want = c["what_changed"]
    assert headline.startswith(f"{low} was made by {want['model_version']}; the last known good "
                               f"{want['last_known_good']}")
    assert f"data only in {want['model_version']}: " in headline and named in headline
    assert want["added_by_commit"][:10] in headline
    assert f"prediction={quote(m.prediction(low).uid)}" in page.url or f"prediction={m.prediction(low).uid}" in page.url
    shot(page, "h5-what-changed")
    # 6. its upstream picture: a label under every node, readable; the cents data flagged; the path to it bold
    drawn = vis_data(page)
    bad_raw, complaint = m.data_version(raw["path"], raw["md5"]).uid, m.prediction(low).uid
    assert drawn["nodes"] and all(n["label"].strip() for n in drawn["nodes"])
    # on-screen pixels: drawn, and readable (the sample's 53-node picture fits at ~9 px; screenshot h6 looked at)
    assert min(n["font"] for n in drawn["nodes"]) * drawn["scale"] >= 8.5
    by_id = {n["id"]: n for n in drawn["nodes"]}
    assert by_id[bad_raw]["flags"] and by_id[bad_raw]["label"].startswith("\u26a0")
    bold = [e for e in drawn["edges"] if e["path"]]
    assert by_id[complaint]["path"] and by_id[bad_raw]["path"] and joined(bold, complaint, bad_raw)
    page.locator("iframe[title='lineage graph']").first.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    shot(page, "h6-lineage")


# ---- ingested Markdown and HTML stay text ----------------------------------------------------------

HOSTS = ("phish.example", "beacon.example", "autolink.example")
LINK = "[Click to re-login](http://phish.example/login)"
MARKUP = (f"{LINK} ![b](http://beacon.example/b.png) <img src=\"http://beacon.example/h.png\"> "
          "<a href=\"javascript:alert(1)\">js</a> http://autolink.example/x www.autolink.example $x^2$")
SECRET = "se@cret-Z9"


def hostile_sources(graph, tmp_path: Path) -> str:
    """A DVC project whose stage, paths and folder name hold Markdown, HTML, a javascript:
    link and image links, ingested for real; and an MLflow source failing with a password
    in its URI (the ingest status page shows its error). Returns the output's uid."""
    import json as jsonlib

    from click.testing import CliRunner

    from provex.app.cli import cli
    from provex.graph import status

    root = tmp_path / "proj [Click](javascript:alert(1)) www.autolink.example"
    root.mkdir()
    raw, out = f"raw {MARKUP}.csv", f"out {MARKUP}.csv"
    (root / "dvc.lock").write_text(jsonlib.dumps({"schema": "2.0", "stages": {f"stage {MARKUP}": {
        "cmd": f"echo {MARKUP}", "deps": [{"path": raw, "md5": "1" * 32}], "outs": [{"path": out, "md5": "2" * 32}]}}}))
    assert CliRunner().invoke(cli, ["ingest", "dvc", str(root)]).exit_code == 0
    uri = f"http://alice:{SECRET}@127.0.0.1:9/{MARKUP}"
    status.record_failure(graph, "mlflow", uri, f"Cannot read MLflow tracking URI {uri}: {MARKUP}")  # as the CLI does
    return m.data_version(out, "2" * 32).uid


def inert(page, requests: list[str]) -> None:
    """No request left for the hosts in the data; no link or image to them, nor a javascript: link,
    in the page or in the lineage iframe; the password shown nowhere."""
    assert not [url for url in requests if urlsplit(url).hostname and urlsplit(url).hostname.endswith(HOSTS)]
    for frame in page.frames:  # the page and the lineage iframe
        targets = frame.evaluate("() => [...document.querySelectorAll('a[href], img[src], link[href], iframe[src]')]"
                                 ".map(e => e.href || e.src)")
        bad = [t for t in targets if t.lower().startswith("javascript:")
               or (urlsplit(t).hostname or "").endswith(HOSTS)]
        assert not bad, bad
    assert SECRET not in page.content()


def test_markdown_and_html_in_ingested_text_stay_text(graph, app_url, page, tmp_path):
    uid = hostile_sources(graph, tmp_path)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        visits = {f"/?find={quote('Click to re-login')}": "stAlertContentSuccess", f"/search?q={quote('Click to re-login')}":
                  "Open a node page", f"/node?ref={quote(uid)}&dir=both": "Where this came from",
                  f"/impact?ref={quote(uid)}": "Affected model versions",
                  f"/?question=data-origin&data_version={quote(uid)}": "Nodes in this answer", "/ingest_status": "failing since"}
        for visit, shown in visits.items():  # every page that shows the data, each once it has drawn it
            page.goto(app_url + visit)
            if shown.startswith("st"):  # the top hit's headline: the Markdown as its literal text
                page.locator(f"[data-testid='{shown}']").first.wait_for()
                assert LINK in page.locator(f"[data-testid='{shown}']").first.inner_text().replace("\u200b", "")
            else:
                page.get_by_text(shown).first.wait_for(state="attached")
            settle(page)
            page.wait_for_timeout(300)
            inert(page, requests)
        shot(page, "hostile-ingest-status")
    except Exception:
        shot(page, "failure")
        raise
