"""Prometheus metrics, in a registry of the app's own (no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from veilleur.service.runtime import Runtime


class _Live(Collector):
    """Read at scrape time from the runtime: nothing to keep in step."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self):  # type: ignore[no-untyped-def]
        rt = self.rt
        yield GaugeMetricFamily("veilleur_inbox_backlog",
                                "Accepted events not yet taken in and durable",
                                value=rt.backlog)
        yield GaugeMetricFamily("veilleur_engine_alive", "1 while the engine thread runs",
                                value=1.0 if rt.alive else 0.0)
        for name, value in rt.stats.items():
            yield GaugeMetricFamily(f"veilleur_engine_{name}", f"Engine {name} since start",
                                    value=value)
        cw = rt.casework
        queue = GaugeMetricFamily("veilleur_cases", "Cases by status", labels=["status"])
        counts: dict[str, int] = {}
        for case in list(cw.cases.values()):
            if case.merged_into is None:
                counts[case.status] = counts.get(case.status, 0) + 1
        for status, n in sorted(counts.items()):
            queue.add_metric([status], n)
        yield queue
        clocks = GaugeMetricFamily("veilleur_clocks", "Open cases whose clock is at risk or "
                                   "breached", labels=["state"])
        report = cw.clock_report(rt.clock())
        for state in ("breached", "at_risk"):
            clocks.add_metric([state], len(report[state]))
        yield clocks


class Metrics:
    def __init__(self, rt: Runtime) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("veilleur_http_requests", "HTTP requests",
                                ["route", "status"], registry=r)
        self.accepted = Counter("veilleur_events_accepted", "Events accepted (journaled)",
                                registry=r)
        self.duplicates = Counter("veilleur_events_duplicate", "Events sent again (same key)",
                                  registry=r)
        self.rejected = Counter("veilleur_events_rejected", "Events refused as malformed",
                                registry=r)
        self.busy = Counter("veilleur_busy_refusals", "Batches refused with 429 (backlog full)",
                            registry=r)
        self.verdicts = Counter("veilleur_verdicts", "Synchronous verdicts", ["verdict"],
                                registry=r)
        self.verdict_seconds = Histogram(
            "veilleur_verdict_seconds", "Time to answer a verdict", registry=r,
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0))
        self.notices = Counter("veilleur_notices", "Notices received", ["source"], registry=r)
        r.register(_Live(rt))

    def render(self) -> bytes:
        return generate_latest(self.registry)
