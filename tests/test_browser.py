"""The app in a real browser: Debian's chromium driven by Playwright walks the
complaint story end to end (search the prediction -> its node page and
provenance -> the data version -> impact) against `streamlit run` on a free
loopback port, and checks the pyvis canvas really drew. Screenshots go to
tests/artifacts/. Skips when /usr/bin/chromium is absent."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

import story
from graph.server import free_port

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app" / "streamlit_app.py"
ARTIFACTS = ROOT / "tests" / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 60_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install chromium)")


@pytest.fixture
def app_url(graph, neo4j_settings) -> Iterator[str]:
    """`streamlit run` of the app on a free loopback port, with the test Neo4j."""
    port = free_port()
    env = {**os.environ, "NEO4J_URI": neo4j_settings.uri, "NEO4J_USERNAME": neo4j_settings.username,
           "NEO4J_PASSWORD": neo4j_settings.password, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "failure.png").unlink(missing_ok=True)
    log = (ARTIFACTS / "streamlit.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", "127.0.0.1",
                             "--server.port", str(port), "--server.headless", "true"],
                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited with {proc.returncode}; see {ARTIFACTS / 'streamlit.log'}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"streamlit did not answer on {url} within {timeout}s")


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


def settle(page) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_timeout(300)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden")


def test_complaint_story_end_to_end(graph, app_url, page):
    told = story.load(graph)
    try:
        walk(page, app_url, told)
    except Exception:
        shot(page, "failure")
        raise


def walk(page, app_url: str, told: story.Story) -> None:
    """search -> prediction -> data version -> impact, checking each page."""
    # 1. search the complained-about prediction
    page.goto(f"{app_url}/search?q=cl-000123")
    link = page.get_by_role("link", name=told.complaint)
    link.wait_for()
    shot(page, "1-search")
    # 2. its node page: provenance and the drawn lineage
    link.click()
    page.get_by_text(f"Prediction {told.complaint}").first.wait_for()
    assert "ref=prediction%3Acl-000123" in page.url or f"ref={told.complaint}" in page.url
    page.get_by_text("Where this came from").first.wait_for(state="attached")
    assert canvas_width(page) > 0
    page.wait_for_timeout(1500)
    shot(page, "2-prediction")
    # 3. move to the data version without typing its id
    page.goto(f"{app_url}/node?ref={quote(told.complaint)}&dir=up&depth=5")
    box = page.locator("[data-testid='stSelectbox']").filter(has_text="Node in this graph")
    settle(page)
    box.click()
    page.get_by_role("option", name=told.bad_raw).first.click()
    settle(page)
    page.get_by_role("button", name="Re-centre on it").click()
    page.get_by_text(f"DataVersion {told.bad_raw}").first.wait_for()
    assert canvas_width(page) > 0
    page.wait_for_timeout(1500)
    shot(page, "3-data-version")
    page.get_by_text("down", exact=True).click()  # its downstream: the runs, models and predictions
    settle(page)
    page.get_by_text(f"{told.bad_predictions} predictions shown as one group node").first.wait_for()
    assert "dir=down" in page.url and canvas_width(page) > 0
    page.wait_for_timeout(1500)
    shot(page, "3-data-version-down")
    # 4. impact of the bad data version
    page.get_by_role("link", name="Impact of this node").click()
    page.get_by_role("link", name=told.bad_model).wait_for()
    settle(page)
    metrics = page.locator("[data-testid='stMetric']").all_inner_texts()
    assert [[part for part in m.split("\n") if part] for m in metrics] == [["Affected model versions", "1"],
                                                 ["Affected predictions", str(told.bad_predictions)],
                                                 ["Subjects", str(told.bad_predictions)]]
    assert page.get_by_role("link", name=told.good_model).count() == 0
    shot(page, "4-impact")
    # 5. question first: the home page answers prediction-provenance with a graph
    page.goto(f"{app_url}/?question=prediction-provenance")
    box = page.get_by_label("the prediction, e.g. prediction:cl-000123 (Prediction)")
    box.fill(told.complaint)
    box.press("Enter")
    settle(page)
    page.get_by_role("button", name="Answer").click()
    page.get_by_role("link", name=f"Explore {told.complaint} on its node page").wait_for()
    assert canvas_width(page) > 0
    page.wait_for_timeout(1500)
    shot(page, "5-question")
