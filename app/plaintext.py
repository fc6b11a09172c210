"""Ingested text on a Streamlit page: shown as it is, never interpreted.

Streamlit renders Markdown in alerts, captions, subheaders, widget labels and
page-link labels: an id holding ``![b](http://host/beacon.png)`` would fetch
the image, ``[Click to re-login](http://phish)`` would be a live link, a bare
``http://...`` or ``www.`` would be autolinked, ``$...$`` typeset. Every piece
of text that came from the graph, a URL or an error goes into such an element
through :func:`md` (every ASCII punctuation character backslash-escaped, as
CommonMark allows for each of them, so no Markdown or HTML construct or link
can form; a zero-width space inside what GFM would autolink; controls made
visible; URI credentials removed) or
:func:`code` (an inline code span whose fence no backtick inside can close).
Tables (``st.dataframe``), ``st.code`` and ``st.text`` do not interpret text
and take it as it is.
"""

from __future__ import annotations

import re
import string
from typing import Any

from provex.app.terminal import visible
from provex.vocab.secrets import scrubbed

_ESCAPE = {ord(c): "\\" + c for c in string.punctuation}
_TICKS = re.compile(r"`+")
#: What GitHub-flavoured Markdown turns into a link by itself, backslash escapes or not (found by the
#: browser test): ``scheme://``, ``mailto:``/``xmpp:``, ``www.``, an e-mail address. A zero-width space
#: is put inside each, so the text reads the same and no autolink can form.
_AUTOLINKS = re.compile(r"(?i)(?<=[a-z0-9+.\-])(?=://)|(?<=\bmailto)(?=:)|(?<=\bxmpp)(?=:)|(?<=\bwww)(?=\.)"
                        r"|(?<=[a-z0-9._+\-])(?=@[a-z0-9_\-]+(?:\.[a-z0-9_\-]+)+)")
ZWSP = "\u200b"


def md(text: Any) -> str:
    """``text`` for any element that renders Markdown: shown literally."""
    return _AUTOLINKS.sub(ZWSP, visible(scrubbed(str(text)))).translate(_ESCAPE)


def code(text: Any) -> str:
    """``text`` as an inline code span (literal inside), whatever backticks it holds."""
    shown = visible(scrubbed(str(text)))
    fence = "`" * (max((len(run) for run in _TICKS.findall(shown)), default=0) + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") or not shown.strip() else ""
    return f"{fence}{pad}{shown}{pad}{fence}"
