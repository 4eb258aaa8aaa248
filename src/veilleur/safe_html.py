"""Jinja environments that write HTML: every value escaped, whatever the template is called.

`select_autoescape()` (and Starlette's `Jinja2Templates`) decide by file extension, and
`.html.j2` is on neither list, so pages named that way printed platform text raw. Every
environment that produces HTML is built here, so none can be made without escaping.
Plain-text letters (`compliance/letters.py`) are text, not HTML, and are not built here."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from jinja2 import BaseLoader, Environment


def url_part(value: object) -> str:
    """One URL path segment. Everything but letters, digits, '-', '_' and '~' is
    percent-encoded, dots included: an id from a platform such as `x/../../decide` or `..`
    stays one segment and cannot make a link or an htmx request climb to another endpoint."""
    return quote(str(value), safe="").replace(".", "%2E")


def html_environment(loader: BaseLoader, **options: Any) -> Environment:
    """An environment for HTML templates: autoescape always on (not chosen by file name)."""
    if "autoescape" in options:
        raise TypeError("an HTML environment always escapes: do not pass autoescape")
    env = Environment(loader=loader, autoescape=True, **options)
    env.filters["url_part"] = url_part
    return env
