"""Terminal controls in ingested text never reach the user's terminal: ids with
CSI (clear screen, colours), OSC (window title, hyperlink), DCS, C1 CSI, BEL,
CR and a bidi override are printed as visible escapes by every format meant
for people (table, summary, progress, errors), piped and on a TTY (a pty);
``--format json`` escapes them as JSON does and gives the id back exactly."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys

from click.testing import CliRunner

from provex.app import terminal
from provex.app.cli import cli
from provex.app.output import emit
from provex.app.progress import IngestProgress

PROVEX = [sys.executable, "-c", "from provex.app.cli import main; main()"]
HOSTILE = ("evil\x1b[2J\x1b[31m\x1b]0;pwned-title\x07\x1b]8;;http://phish.example/\x1b\\click\x1b]8;;\x1b\\"
           "\x1bPdcs\x1b\\\x9b2J\x90x\x9c\x07\r\x01\x7f\u202eevil")
#: Any control left raw (newline and tab are text).
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: On a TTY rich draws with its own CSI codes (styles, cursor moves, CR): then what must never
#: appear is any other control, or the data's own sequences (OSC, DCS, clear screen, red).
TTY_FORBIDDEN = re.compile(r"\x1b[\]PX^_\\]|\x1b\[2J|\x1b\[31m|[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f\u202a-\u202e]")


def assert_no_raw_control(text: str, tty: bool = False) -> None:
    found = (TTY_FORBIDDEN if tty else RAW_CONTROL).search(text)
    assert found is None, repr(text[max(0, found.start() - 60):found.start() + 60])


def test_visible_escapes_every_control_class():
    shown = terminal.visible(HOSTILE + "\n\t")
    assert_no_raw_control(shown)
    assert "\n" not in shown and "\\u001b[2J" in shown and "\\u009b" in shown and "\\u202e" in shown
    as_json = json.dumps(HOSTILE, ensure_ascii=False)  # C1 and bidi controls left raw by JSON
    assert json.loads(terminal.visible(as_json, lines=True)) == HOSTILE  # the guard's escapes are JSON's own
    assert terminal.visible("a\nb\tc\x1b", lines=True) == "a\nb\tc\\u001b"


def test_summary_and_table_cells_are_one_visible_line(capsys):
    emit([{"id": HOSTILE}], "summary", headline=f"{HOSTILE} was made by {HOSTILE}")
    emit([{HOSTILE: HOSTILE}], "table", headline=HOSTILE)
    out = capsys.readouterr().out
    assert_no_raw_control(out)
    assert "\\u001b]0;pwned-title\\u0007" in out


def on_a_tty(args: list[str], env: dict[str, str]) -> str:
    """What ``provex ARGS`` prints on a terminal (a pty; its CR LF line ends read as LF)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*PROVEX, *args], env={**env, "COLUMNS": "200"}, stdout=follower, stderr=follower,
                            stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the pty
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=300)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def test_live_progress_shows_the_source_visibly():
    import io

    stream = io.StringIO()
    with IngestProgress(stream=stream, live=True) as shown, shown.source("openlineage", f"/logs/{HOSTILE}") as tick:
        tick("read", 10)
    assert "\\u001b" in stream.getvalue()
    assert_no_raw_control(stream.getvalue(), tty=True)


def test_ingested_controls_reach_no_terminal(graph, neo4j_settings, tmp_path):
    log = tmp_path / "events\x1b]0;file-title\x07.jsonl"  # the file name is shown by the progress and summary
    events = [{"eventType": "COMPLETE", "eventTime": "2026-04-02T10:15:00Z", "producer": "https://example.com/t",
               "run": {"runId": f"{HOSTILE}-{i}"}, "job": {"namespace": "ns", "name": f"job {HOSTILE}"}} for i in (1, 2)]
    log.write_text("\n".join(json.dumps(e) for e in events) + "\n" + json.dumps({**events[0], "eventTime": HOSTILE}) + "\n")
    runner = CliRunner()
    outputs = {}
    for name, args in {"ingest": ["ingest", "openlineage", str(log)], "search": ["search", "evil"],
                       "ambiguous REF error": ["lineage", "run:evil"]}.items():
        done = runner.invoke(cli, args)
        outputs[f"{name}, piped"] = done.stdout + done.stderr
    env = {**os.environ, "NEO4J_URI": neo4j_settings.uri, "NEO4J_USERNAME": neo4j_settings.username,
           "NEO4J_PASSWORD": neo4j_settings.password}
    env.pop("NO_COLOR", None)
    outputs["search, tty"] = on_a_tty(["search", "evil"], env)
    for name, text in outputs.items():
        assert "\\u001b" in text, name  # the data was printed, its controls visible
        assert_no_raw_control(text, tty=name.endswith("tty"))
    assert "is ambiguous" in outputs["ambiguous REF error, piped"]
    raw = runner.invoke(cli, ["search", "evil", "--format", "json"]).stdout
    assert_no_raw_control(raw)
    found = json.loads(raw)
    assert {f"run:{HOSTILE}-1", f"run:{HOSTILE}-2"} <= {hit["ref"] for hit in found}  # JSON gives the id back exactly
