"""/metrics in Prometheus' text format, read from the database when scraped.

Every figure comes from the runs table, so it covers runs of every process (local
pool or Celery workers) and survives restarts:

- synchub_runs_total{job,state}: runs by job and outcome (state)
- synchub_bytes_transferred_total{job}: bytes moved by each job's runs
- synchub_run_duration_seconds: ended runs, from start to end (histogram)
- synchub_fire_lateness_seconds: scheduled runs, from fire time to start (histogram)
- synchub_queue_depth{queue}: runs waiting (pending or queued)
- synchub_job_last_success_timestamp_seconds{job}: the figure to alert on
- synchub_alerts_sent_total{result}: alert deliveries, `delivered` or `failed` attempts
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from synchub.services import Services

DURATION_BUCKETS: tuple[float, ...] = (
    1,
    5,
    15,
    60,
    300,
    900,
    1800,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86400,
)
LATENESS_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

#: (metric, help, bucket bounds) of RunFigures' duration and lateness, in order
HISTOGRAMS = (
    ("synchub_run_duration_seconds", "Ended runs, start to end", DURATION_BUCKETS),
    ("synchub_fire_lateness_seconds", "Scheduled runs, from fire time to start", LATENESS_BUCKETS),
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _buckets(bounds: tuple[float, ...], counts: list[int], count: int) -> list[tuple[str, float]]:
    return [(str(float(le)), float(n)) for le, n in zip(bounds, counts, strict=True)] + [
        ("+Inf", float(count))
    ]


class RunCollector(Collector):
    """Collects synchub's figures through the services, once per scrape."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterator[Metric]:
        figures = self.svc.runs.figures(
            duration_buckets=DURATION_BUCKETS, lateness_buckets=LATENESS_BUCKETS
        )
        runs = CounterMetricFamily("synchub_runs", "Runs by job and state", labels=["job", "state"])
        moved: dict[str, int] = {}
        for job, state, count, transferred in figures.totals:
            runs.add_metric([job, state], count)
            moved[job] = moved.get(job, 0) + transferred
        yield runs
        bytes_total = CounterMetricFamily(
            "synchub_bytes_transferred", "Bytes transferred by each job's runs", labels=["job"]
        )
        for job, transferred in moved.items():
            bytes_total.add_metric([job], transferred)
        yield bytes_total
        for (name, doc, bounds), hist in zip(
            HISTOGRAMS, (figures.duration, figures.lateness), strict=True
        ):
            yield HistogramMetricFamily(
                name, doc, buckets=_buckets(bounds, hist.counts, hist.count), sum_value=hist.total
            )
        depth = GaugeMetricFamily("synchub_queue_depth", "Runs waiting", labels=["queue"])
        for queue, waiting in figures.queues:
            depth.add_metric([queue], waiting)
        yield depth
        last = GaugeMetricFamily(
            "synchub_job_last_success_timestamp_seconds",
            "When each job's last successful run ended (Unix time)",
            labels=["job"],
        )
        for job, at in figures.last_success:
            last.add_metric([job], at.timestamp())
        yield last
        alerts = CounterMetricFamily(
            "synchub_alerts_sent", "Alert delivery attempts by result", labels=["result"]
        )
        counts = self.svc.alerts.delivery_counts()
        alerts.add_metric(["delivered"], counts.delivered)
        alerts.add_metric(["failed"], counts.failed)
        yield alerts


def render(svc: Services) -> bytes:
    """The exposition text; a registry of our own, never the process-global one."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunCollector(svc))
    return generate_latest(registry)
