"""A readable, self-contained HTML report of a scan. Never embeds media: only names and digests."""

from __future__ import annotations

from collections import Counter
from typing import Any

from jinja2 import PackageLoader
from markupsafe import Markup, escape

from veilleur import __version__
from veilleur.decide.policy import Finding
from veilleur.safe_html import html_environment
from veilleur.scan import ScanResult
from veilleur.taxonomy import Category, TargetKind

_LABELS = {
    Category.CSAM: "Child sexual abuse material and its trade",
    Category.GROOMING: "Grooming",
    Category.SEXTORTION: "Sextortion",
    Category.NCII: "Non-consensual intimate imagery",
}


def render_html(result: ScanResult) -> str:
    env = html_environment(
        PackageLoader("veilleur.report", "templates"),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    counts = Counter(f.category for f in result.findings)
    sections = [
        {"category": c.value, "label": _LABELS[c],
         "findings": [_row(f, result) for f in result.findings if f.category is c]}
        for c in Category
        if counts[c]
    ]
    return env.get_template("report.html.j2").render(
        version=__version__,
        result=result,
        sections=sections,
        counts={c.value: counts[c] for c in Category},
        problems=list(result.problems),
    )


def _row(f: Finding, result: ScanResult) -> dict[str, Any]:
    ctx = f.context
    guild = result.directory.guild(ctx.get("guild_id"))
    channel = result.directory.channel(ctx.get("channel_id"))
    author = result.directory.user(ctx.get("author_id"))
    return {
        "excerpt": highlight(f.excerpt, f.spans) if f.excerpt else None,
        "author": (author.display_name or author.name) if author else None,
        "finding": f,
        "guild": guild.name if guild else ("Direct messages" if channel else None),
        "channel": channel.name if channel else None,
        "link": _link(f),
    }


def highlight(text: str, spans: tuple[tuple[int, int], ...]) -> Markup:
    """The text, escaped, with the evidence spans in <mark>."""
    out = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos or end > len(text):
            continue  # overlapping or cut off by the excerpt
        out += [escape(text[pos:start]), Markup("<mark>"), escape(text[start:end]),
                Markup("</mark>")]
        pos = end
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def _link(f: Finding) -> str | None:
    """Discord's own link to the message or channel: what Trust & Safety asks reporters for."""
    ctx = f.context
    guild = ctx.get("guild_id") or "@me"
    channel = ctx.get("channel_id")
    message = f.target.id if f.target.kind is TargetKind.MESSAGE else ctx.get("message_id")
    if channel and message:
        return f"https://discord.com/channels/{guild}/{channel}/{message}"
    if channel and f.target.kind is TargetKind.CHANNEL:
        return f"https://discord.com/channels/{guild}/{channel}"
    return None
