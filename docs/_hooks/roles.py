"""mkdocs hook: the API reference shows Sphinx cross-reference roles (``:class:`X```) as plain code.

The docstrings use Sphinx roles; mkdocstrings renders them as Markdown, where ``:class:`` would stay as text in
front of the name.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:class|func|meth|attr|mod|exc|data|obj):(?=<code>)")


def on_page_content(html: str, **kwargs: Any) -> str:
    return ROLE.sub("", html)
