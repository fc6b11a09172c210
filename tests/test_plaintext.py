"""Ingested text in the app is shown, never interpreted: :func:`provex.app.plaintext.md`
and :func:`~provex.app.plaintext.code` render (CommonMark, as Streamlit's parser
does before its GFM extras) to the literal text, with no link, image or HTML;
the pyvis page never takes a tooltip as HTML. The real browser check of every
page is ``test_browser.py::test_markdown_and_html_in_ingested_text_stay_text``."""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt

from provex.app.graphdraw import render
from provex.app.plaintext import ZWSP, code, md

HOSTILE = ('[Click to re-login](http://phish.example/login) ![b](http://beacon.example/b.png) '
           '<img src="http://beacon.example/h.png"> <a href="javascript:alert(1)">js</a> <http://auto.example> '
           'http://autolink.example/x www.autolink.example $x^2$ &amp; `tick` ``two`` **b** _i_ :red[c] '
           '\\[esc\\] # h | t |')
MULTILINE = "# heading\n- item\n> quote\n    code\n![b](http://beacon.example/c.png)\n[x]: http://phish.example/ref\n[x]"


def rendered(text: str) -> str:
    return MarkdownIt("commonmark").render(text)


def test_md_renders_to_the_literal_text_and_nothing_else():
    for text in (HOSTILE, MULTILINE, "model:credit-limit@5", "data:a/b.csv@abc123"):
        out = rendered(md(text))
        assert "<a" not in out and "<img" not in out and "<h1" not in out and "<li" not in out and "<code" not in out
        shown = html.unescape(re.sub(r"</?p>\n?", "", out)).replace(ZWSP, "")  # a zero-width space breaks autolinks
        assert shown == text.replace("\n", "\\n")  # newlines shown as \n


def test_code_spans_hold_any_backticks():
    for text in (HOSTILE, "`", "a``b```c", " lead", "`edge`"):
        out = rendered(f"x {code(text)} y")
        assert out.count("<code>") == 1 and "<a" not in out and "<img" not in out
        inner = html.unescape(out.split("<code>")[1].split("</code>")[0])
        assert inner.strip() == text.strip()


def test_md_removes_credentials_and_controls_and_breaks_autolinks():
    assert md("http://alice:se@cret@host/x\x1b[2J") == f"http{ZWSP}\\:\\/\\/host\\/x\\\\u001b\\[2J"
    assert md("www.a.example b@c.example") == f"www{ZWSP}\\.a\\.example b{ZWSP}\\@c\\.example"
    assert md("model:credit-limit@5") == "model\\:credit\\-limit\\@5"  # refs read as they are


def test_pyvis_tooltips_are_never_html():
    node = {"id": "a", "label": HOSTILE, "title": f'{HOSTILE} <a href="javascript:alert(1)">x</a>'}
    page = render([node], [{"from": "a", "to": "a", "label": HOSTILE, "title": HOSTILE}])
    assert "popup.innerHTML" not in page  # pyvis's HTML tooltip (chosen when a title says "href") is never used
    assert "<img src" not in page.split("nodes = new vis.DataSet", 1)[1].split("</script>", 1)[0]  # data as JSON text
