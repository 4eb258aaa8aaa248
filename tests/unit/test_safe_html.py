"""HTML is escaped whatever a template is called; ids in URLs stay one segment; record ids
cannot be guessed (issue 15)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from jinja2 import DictLoader

from veilleur.cases.casework import Casework
from veilleur.cases.ids import CountedTails
from veilleur.compliance import transparency as tr
from veilleur.compliance.config import load_compliance_policy
from veilleur.engine import Engine
from veilleur.safe_html import html_environment, url_part

HOSTILE = '<img src=x onerror=alert(1)>"><i hx-post="/console/cases/c/decide" hx-trigger="load">'


@pytest.mark.parametrize("name", ["page.html.j2", "page.j2", "page.html", "page.txt", "page"])
def test_an_html_environment_escapes_every_template(name: str) -> None:
    env = html_environment(DictLoader({name: "<p title='{{ v }}'>{{ v }}</p>"}))
    out = env.get_template(name).render(v=HOSTILE)
    assert "<img" not in out and "<i " not in out and "&lt;img" in out and "&#34;&gt;" in out
    with pytest.raises(TypeError):
        html_environment(DictLoader({}), autoescape=False)


def test_a_url_part_cannot_climb_to_another_endpoint() -> None:
    for hostile in ("../../decide", "..", ".", "a/b?c#d", 'x" hx-post="y', "é %2F"):
        part = url_part(hostile)
        assert re.fullmatch(r"[A-Za-z0-9_~%-]+", part), part
    assert url_part("pic1") == "pic1" and url_part("abc-case-12") == "abc-case-12"


def test_the_transparency_page_escapes_the_provider_and_its_charts() -> None:
    policy = replace(load_compliance_policy(), service=HOSTILE, provider_name=HOSTILE)
    period = tr.Period.year(2026)
    tables = tr.report(tr.Records([], [], []), period, policy)
    page = tr.html(tables, period, policy)
    assert "<img" not in page and "<i " not in page and "&lt;img src=x" in page
    chart = tr.bar_chart([(HOSTILE, 3.0)])
    assert chart.count("<svg") == 1 and "<img" not in chart and "&lt;img" in chart


def test_record_ids_are_random_unless_a_simulation_counts_them() -> None:
    live = Casework(Engine.build())
    ids = {live._new_id("case") for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"case-[0-9a-f]{20}", i) for i in ids), ids  # 80 random bits
    counted = Casework(Engine.build(), id_prefix="run-", id_tail=CountedTails())
    assert [counted._new_id("case"), counted._new_id("case"), counted._new_id("decision")
            ] == ["run-case-1", "run-case-2", "run-decision-1"]
